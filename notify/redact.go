package notify

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// Redacted is what a secret prints as.
const Redacted = "<redacted>"

// redactor replaces the secrets of one channel (passwords, webhook secrets,
// Slack hook paths, whole URLs) by Redacted.
type redactor struct {
	secrets []string // longest first
	display string   // the channel's URL with its secrets redacted
}

func newRedactor(display string, secrets ...string) redactor {
	var all []string
	for _, s := range secrets {
		if len(s) < 3 {
			continue
		}
		all = append(all, s, url.QueryEscape(s), url.PathEscape(s))
	}
	slices.SortFunc(all, func(a, b string) int { return len(b) - len(a) })
	return redactor{secrets: slices.Compact(all), display: display}
}

// String redacts s.
func (r redactor) String(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	return s
}

// Error returns err with its secrets redacted: a *url.Error gets the
// channel's redacted URL, and any other error whose text still holds a
// secret is replaced by its redacted text.
func (r redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = &url.Error{Op: ue.Op, URL: r.display, Err: ue.Err}
	}
	if msg := err.Error(); r.String(msg) != msg {
		return errors.New(r.String(msg))
	}
	return err
}

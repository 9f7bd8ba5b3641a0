package notify

import (
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"
	"unicode"

	"github.com/ip2adb/ip2adb"
)

// The defaults of [Wording]: the words ip2adb's own notifications use.
const (
	DefaultProduct      = "ip2adb"
	DefaultCheckCommand = "ip2adb integrity"
	DefaultSubject      = "[{{.Product}} {{.Priority}}] {{.Title}}"
)

// Wording is the product name and the words of notifications that name
// the product or the way to see every issue, so that a system embedding
// this package speaks its own name. A zero field takes its default (the
// Default* constants). Validate it (ParseChannels and Manager.Alert do)
// before use.
type Wording struct {
	// Product names the software: in the email subject (through
	// Subject), the test notification, and the User-Agent of webhook and
	// Slack posts (Product + "-notify"). One line, at most 64 characters.
	// Default "ip2adb".
	Product string
	// CheckCommand is what a person runs (or opens) to see every issue,
	// quoted in the recommended actions and in Slack's "…and N more"
	// line. One line, at most 200 characters. Default "ip2adb integrity".
	CheckCommand string
	// Subject is the email subject as a text/template over [SubjectData]
	// (default "[{{.Product}} {{.Priority}}] {{.Title}}"). It must
	// render one line.
	Subject string
}

// SubjectData is what a [Wording.Subject] template sees.
type SubjectData struct {
	Product    string // the Wording's Product
	Priority   string // the notification's priority, upper-case (CRITICAL)
	Title      string // the notification's title
	ID         string // the notification's id
	IssueCount int    // the number of issues it is about
}

// DefaultWording returns the words of ip2adb's own notifications.
func DefaultWording() Wording {
	return Wording{Product: DefaultProduct, CheckCommand: DefaultCheckCommand, Subject: DefaultSubject}
}

func (w Wording) withDefaults() Wording {
	d := DefaultWording()
	if w.Product == "" {
		w.Product = d.Product
	}
	if w.CheckCommand == "" {
		w.CheckCommand = d.CheckCommand
	}
	if w.Subject == "" {
		w.Subject = d.Subject
	}
	return w
}

// Validate reports the first problem of w (after defaults): a product name
// or check command that is not one line of printable text or is too long,
// or a subject template that does not parse, fails on a sample
// notification or renders more than one line.
func (w Wording) Validate() error {
	w = w.withDefaults()
	if err := oneLineText(w.Product, 64); err != nil {
		return fmt.Errorf("notification wording: product name %w", err)
	}
	if err := oneLineText(w.CheckCommand, 200); err != nil {
		return fmt.Errorf("notification wording: check command %w", err)
	}
	t, err := template.New("subject").Option("missingkey=error").Parse(w.Subject)
	if err != nil {
		return fmt.Errorf("notification wording: subject template: %w", err)
	}
	var b strings.Builder
	sample := SubjectData{Product: w.Product, Priority: "CRITICAL", Title: "Sample", ID: "DBADM-0-00000000", IssueCount: 1}
	if err := t.Execute(&b, sample); err != nil {
		return fmt.Errorf("notification wording: subject template: %w", err)
	}
	if err := oneLineText(b.String(), 998); err != nil {
		return fmt.Errorf("notification wording: subject template renders a subject that %w", err)
	}
	return nil
}

// oneLineText says what keeps s from being a non-empty line of printable
// text of at most max characters ("is empty", …); nil when nothing does.
func oneLineText(s string, max int) error {
	switch {
	case strings.TrimSpace(s) == "":
		return errors.New("is empty")
	case len([]rune(s)) > max:
		return fmt.Errorf("is longer than %d characters", max)
	case strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return errors.New("holds a line break or another control character")
	}
	return nil
}

// EmailSubject is the subject line of the mail of n in this wording.
func (w Wording) EmailSubject(n Notification) (string, error) {
	w = w.withDefaults()
	t, err := template.New("subject").Option("missingkey=error").Parse(w.Subject)
	if err != nil {
		return "", fmt.Errorf("notification wording: subject template: %w", err)
	}
	var b strings.Builder
	err = t.Execute(&b, SubjectData{Product: w.Product, Priority: strings.ToUpper(string(n.Priority)),
		Title: n.Title, ID: n.ID, IssueCount: n.IssueCount})
	if err != nil {
		return "", fmt.Errorf("notification wording: subject template: %w", err)
	}
	return b.String(), nil
}

// userAgent is the User-Agent of webhook and Slack posts.
func (w Wording) userAgent() string { return w.withDefaults().Product + "-notify" }

// TestNotification is the notification a channel test sends in this
// wording: low priority, no issues, saying that it is a test.
func (w Wording) TestNotification(now time.Time) Notification {
	w = w.withDefaults()
	fp := Fingerprint(nil)
	return Notification{
		ID:                fmt.Sprintf("DBADM-%d-test", now.Unix()),
		Title:             w.Product + " test notification",
		Message:           "This is a test notification from " + w.Product + ". If you can read it, the channel works; nothing needs to be done.",
		Priority:          Low,
		Timestamp:         now.UTC(),
		Fingerprint:       fp,
		IssueCount:        0,
		Issues:            []ip2adb.Issue{},
		RecommendedAction: numbered("No action needed: this is a test."),
	}
}

package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// Delivery defaults of [ChannelOptions].
const (
	DefaultTimeout       = 15 * time.Second
	DefaultAttempts      = 4
	DefaultBaseDelay     = time.Second
	DefaultMaxDelay      = 30 * time.Second
	DefaultMaxRetryAfter = 2 * time.Minute
	DefaultSlackInterval = time.Second
)

// ChannelOptions configure the channels built by [ParseChannels]. A zero
// field takes the documented default.
type ChannelOptions struct {
	// LogDir holds the notification log (required).
	LogDir string
	// Timeout bounds each delivery attempt (default 15 s; never zero).
	Timeout time.Duration
	// HTTPClient posts webhooks and Slack messages (default: a client that
	// does not follow redirects; the per-attempt timeout comes from the
	// context).
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives delivery diagnostics; its zero value discards.
	Log logr.Logger

	// Attempts is how many times a delivery is tried (default 4).
	Attempts int
	// BaseDelay is the wait after the first failed attempt; it doubles
	// after each further one, up to MaxDelay, with jitter (defaults 1 s and
	// 30 s).
	BaseDelay, MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After honoured; a longer one ends
	// the delivery (default 2 min).
	MaxRetryAfter time.Duration
	// Sleep waits between attempts (default: a timer honouring the context).
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter randomises a backoff delay d (default: uniform in [d/2, d]).
	Jitter func(d time.Duration) time.Duration
	// SlackInterval is the least time between two messages to one Slack
	// channel (default 1 s).
	SlackInterval time.Duration
	// TLSConfig is the base TLS configuration for SMTP (default: system
	// roots, TLS 1.2 or later); its ServerName is set per server.
	TLSConfig *tls.Config
	// DialContext dials SMTP servers (default net.Dialer).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Wording names the product in email subjects and User-Agents and the
	// command that lists every issue in Slack messages (zero value:
	// ip2adb's own words; validated by ParseChannels).
	Wording Wording
}

func (o ChannelOptions) withDefaults() ChannelOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = DefaultBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	if o.Jitter == nil {
		o.Jitter = equalJitter
	}
	if o.SlackInterval <= 0 {
		o.SlackInterval = DefaultSlackInterval
	}
	return o
}

// ParseChannels turns channel URLs into channels:
//
//   - log: — the notification log under opt.LogDir; always on, added first
//     when absent.
//   - smtp://[user:pass@]host[:port]/?from=ADDR&to=ADDR[,ADDR] — email
//     (port 587 by default): STARTTLS, required unless the host is
//     loopback; smtps:// or tls=implicit for TLS from the first byte (port
//     465); tls=starttls to require STARTTLS even on loopback; ca=FILE adds
//     the PEM CA certificates of FILE to the trusted roots (a relay with a
//     private or self-signed certificate); insecure_skip_verify=true turns
//     certificate verification off (the mail and the password can then be
//     read by anyone on the path: never use it across a network you do not
//     control).
//   - slack:https://hooks.slack.com/services/… — a Slack incoming webhook.
//   - http://… or https://… — a JSON POST, signed per Standard Webhooks
//     with ?secret=whsec_<base64>.
//
// A malformed URL is an error that names the problem and the URL's position
// but never its secrets. Channel names never contain a URL path, password or
// secret; a repeated name gets a "#2", "#3" suffix. Every error is a
// *[ConfigError].
func ParseChannels(urls []string, opt ChannelOptions) (_ []Notifier, err error) {
	defer func() {
		if err != nil {
			err = &ConfigError{Err: err}
		}
	}()
	if opt.LogDir == "" {
		return nil, errors.New("notification log dir is not set")
	}
	if err := opt.Wording.Validate(); err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	j := NewJournal(opt.LogDir, opt.Now)
	chans := []Notifier{NewLogChannel(j)}
	seen := map[string]int{"log": 1}
	unique := func(name string) string {
		seen[name]++
		if k := seen[name]; k > 1 {
			return fmt.Sprintf("%s#%d", name, k)
		}
		return name
	}
	for i, raw := range urls {
		ch, err := parseChannel(strings.TrimSpace(raw), opt, j, unique)
		if err != nil {
			return nil, fmt.Errorf("notify URL #%d: %w", i+1, err)
		}
		if ch != nil { // nil for log:, which is already there
			chans = append(chans, ch)
		}
	}
	return chans, nil
}

// parseChannel parses one channel URL; unique makes its name unique.
func parseChannel(raw string, opt ChannelOptions, j *Journal, unique func(string) string) (Notifier, error) {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || scheme == "" {
		return nil, errors.New("not a channel URL (want log:, smtp://…, slack:https://… or http(s)://…)")
	}
	switch strings.ToLower(scheme) {
	case "log":
		if rest != "" {
			return nil, errors.New("log: takes nothing after the colon (the log channel writes under the log dir)")
		}
		return nil, nil
	case "smtp", "smtps":
		return parseSMTP(raw, opt, j, unique)
	case "slack":
		return parseSlack(rest, opt, j, unique)
	case "http", "https":
		return parseWebhook(raw, opt, j, unique)
	}
	return nil, fmt.Errorf("unsupported channel scheme %q (want log:, smtp://…, slack:https://… or http(s)://…)", safeScheme(scheme))
}

// safeScheme keeps an unknown scheme printable without echoing a long
// string that might be a secret.
func safeScheme(s string) string {
	if len(s) > 10 || strings.ContainsAny(s, "/@?#") {
		return s[:min(len(s), 3)] + "…"
	}
	return s
}

// parseURL parses u without echoing any of it in the error: where the
// parser gave up (a bad port, a bad escape) is often inside a password
// holding '/', '?', '#' or '@'. A URL whose user info the parser may have
// split wrongly — no "//" after the scheme, or an '@' left in the path,
// the fragment or a query key — is refused the same way, as is a port
// outside 1–65535.
func parseURL(u string) (*url.URL, error) {
	const msg = "malformed URL (not shown; percent-encode special characters in the password, e.g. %2F for /, %40 for @)"
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Opaque != "" || !strings.HasPrefix(u[len(p.Scheme):], "://") {
		return nil, errors.New(msg)
	}
	if strings.Contains(p.Path, "@") || strings.Contains(p.Fragment, "@") {
		return nil, errors.New(msg)
	}
	for _, kv := range strings.Split(p.RawQuery, "&") {
		if at := strings.IndexByte(kv, '@'); at >= 0 && !strings.Contains(kv[:at], "=") {
			return nil, errors.New(msg)
		}
	}
	if port := p.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, errors.New("bad port (want 1-65535)")
		}
	}
	return p, nil
}

// parseQuery parses a channel URL's query like url.ParseQuery, except that
// a literal "+" stays a "+": webhook secrets are base64 and addresses such
// as ops+alerts@example.com use it, while "%2B" decodes to "+" as before
// (and "%20" is a space). Its errors never echo the query.
func parseQuery(raw string) (url.Values, error) {
	q := url.Values{}
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err1 := url.PathUnescape(k)
		val, err2 := url.PathUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, errors.New("malformed URL: bad %-escape in the query")
		}
		q[key] = append(q[key], val)
	}
	return q, nil
}

// withoutParam returns the raw query without the parameters named name,
// leaving the others byte for byte as they were.
func withoutParam(raw, name string) string {
	var keep []string
	for part := range strings.SplitSeq(raw, "&") {
		k, _, _ := strings.Cut(part, "=")
		if key, err := url.PathUnescape(k); part == "" || (err == nil && key == name) {
			continue
		}
		keep = append(keep, part)
	}
	return strings.Join(keep, "&")
}

// isLoopback reports whether host names this machine's loopback interface.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func parseWebhook(raw string, opt ChannelOptions, j *Journal, unique func(string) string) (Notifier, error) {
	u, err := parseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("webhook: URL has no host")
	}
	if u.Fragment != "" {
		return nil, errors.New("webhook: URL has a #fragment")
	}
	q, err := parseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	secret := q.Get("secret")
	var key []byte
	if q.Has("secret") {
		if key, err = ParseWebhookSecret(secret); err != nil {
			return nil, fmt.Errorf("webhook: %w", err)
		}
		u.RawQuery = withoutParam(u.RawQuery, "secret")
	}
	pass, _ := u.User.Password()
	name := unique("webhook:" + u.Host)
	display := u.Scheme + "://" + u.Host + "/"
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		display += Redacted
	}
	// The path and query are not secret as such, but long segments look like
	// tokens (as in Discord or Teams hooks); errors never show those.
	secrets := []string{raw, u.String(), secret, pass}
	for _, seg := range strings.FieldsFunc(u.Path+"?"+u.RawQuery, func(r rune) bool { return strings.ContainsRune("/?&=", r) }) {
		if len(seg) >= 16 {
			secrets = append(secrets, seg)
		}
	}
	red := newRedactor(display, secrets...)
	return &webhook{
		name: name, target: u.String(), key: key, client: opt.HTTPClient, now: opt.Now, words: opt.Wording,
		s: newSender(name, opt, j, red),
	}, nil
}

func parseSlack(rest string, opt ChannelOptions, j *Journal, unique func(string) string) (Notifier, error) {
	if rest == "" {
		return nil, errors.New("slack: missing the incoming webhook URL (slack:https://hooks.slack.com/services/…)")
	}
	u, err := parseURL(rest)
	if err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, errors.New("slack: the webhook URL must start with https://")
	case u.Hostname() == "":
		return nil, errors.New("slack: the webhook URL has no host")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return nil, errors.New("slack: the webhook URL must use https:// (http only to loopback)")
	case strings.Trim(u.Path, "/") == "":
		return nil, errors.New("slack: the webhook URL has no path (…/services/T…/B…/…)")
	}
	pass, _ := u.User.Password()
	display := u.Scheme + "://" + u.Host + "/" + Redacted
	red := newRedactor(display, rest, u.String(), strings.Trim(u.Path, "/"), u.EscapedPath(), u.RawQuery, pass)
	name := unique("slack")
	s := newSender(name, opt, j, red)
	return &slack{
		name: name, target: u.String(), client: opt.HTTPClient, now: opt.Now, s: s, words: opt.Wording,
		limit: &limiter{every: opt.SlackInterval, now: opt.Now, sleep: opt.Sleep},
	}, nil
}

// SMTP TLS modes of the tls= parameter.
const (
	smtpTLSAuto     = ""         // smtp://: STARTTLS, required unless the host is loopback; smtps://: implicit
	smtpTLSStartTLS = "starttls" // STARTTLS, required even on loopback
	smtpTLSImplicit = "implicit" // TLS from the first byte (as smtps://)
)

func parseSMTP(raw string, opt ChannelOptions, j *Journal, unique func(string) string) (Notifier, error) {
	u, err := parseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("smtp: URL has no host")
	}
	if strings.Trim(u.Path, "/") != "" {
		return nil, errors.New("smtp: URL has a path (want smtp://host:port/?from=…&to=…)")
	}
	q, err := parseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	for k := range q {
		switch k {
		case "from", "to", "tls", "ca", "insecure_skip_verify":
		default:
			return nil, fmt.Errorf("smtp: unknown parameter %q (want from, to, tls, ca or insecure_skip_verify)", safeScheme(k))
		}
	}
	mode := strings.ToLower(q.Get("tls"))
	ssl := strings.EqualFold(u.Scheme, "smtps")
	switch {
	case mode != smtpTLSAuto && mode != smtpTLSStartTLS && mode != smtpTLSImplicit:
		return nil, fmt.Errorf("smtp: tls=%s is not starttls or implicit", safeScheme(mode))
	case ssl && mode == smtpTLSStartTLS:
		return nil, errors.New("smtp: smtps:// is implicit TLS; tls=starttls wants smtp://")
	case mode == smtpTLSImplicit:
		ssl = true
	}
	port := 587
	if ssl {
		port = 465
	}
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return nil, errors.New("smtp: bad port")
		}
	}
	tlsCfg, err := smtpTLSConfig(q, opt.TLSConfig, host)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	from := q.Get("from")
	if from == "" {
		return nil, errors.New("smtp: missing ?from=ADDRESS")
	}
	if _, err := mail.ParseAddress(from); err != nil {
		return nil, errors.New("smtp: bad from address")
	}
	var to []string
	for _, v := range q["to"] {
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a == "" {
				continue
			}
			if _, err := mail.ParseAddress(a); err != nil {
				return nil, fmt.Errorf("smtp: bad to address #%d", len(to)+1)
			}
			to = append(to, a)
		}
	}
	if len(to) == 0 {
		return nil, errors.New("smtp: missing &to=ADDRESS[,ADDRESS]")
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	if user == "" && pass != "" {
		return nil, errors.New("smtp: password without a user name")
	}
	name := unique("smtp:" + net.JoinHostPort(host, strconv.Itoa(port)))
	if tlsCfg.InsecureSkipVerify {
		opt.Log.Info("WARNING: TLS certificate verification is off for this SMTP channel (insecure_skip_verify=true): anyone on the path can read the mail and the password",
			"channel", name)
	}
	display := fmt.Sprintf("%s://%s/", strings.ToLower(u.Scheme), net.JoinHostPort(host, strconv.Itoa(port)))
	red := newRedactor(display, raw, pass)
	return &email{
		name: name, host: host, port: port, ssl: ssl,
		plainOK: isLoopback(host) && mode == smtpTLSAuto,
		user:    user, pass: pass, from: from, to: to, tls: tlsCfg, dial: opt.DialContext,
		timeout: opt.Timeout, now: opt.Now, wording: opt.Wording, s: newSender(name, opt, j, red),
	}, nil
}

// InsecureChannels returns the names of the channels among chans that do
// not verify their server's TLS certificate (insecure_skip_verify=true), so
// that a command can warn about them.
func InsecureChannels(chans []Notifier) []string {
	var out []string
	for _, c := range chans {
		if e, ok := c.(*email); ok && e.tls.InsecureSkipVerify {
			out = append(out, e.name)
		}
	}
	return out
}

// smtpTLSConfig is the TLS configuration of an SMTP channel: base (or
// system roots, TLS 1.2 or later) for host, plus the CA certificates of
// ca=FILE (PEM, added to the roots) and, with insecure_skip_verify=true, no
// certificate verification at all.
func smtpTLSConfig(q url.Values, base *tls.Config, host string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		cfg = base.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if q.Has("ca") {
		file := q.Get("ca")
		if file == "" {
			return nil, errors.New("ca= wants a PEM file of CA certificates")
		}
		pem, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("ca=: %w", err)
		}
		pool := cfg.RootCAs
		if pool == nil {
			if pool, err = x509.SystemCertPool(); err != nil {
				pool = x509.NewCertPool()
			}
		} else {
			pool = pool.Clone()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca=%s holds no PEM certificate", file)
		}
		cfg.RootCAs = pool
	}
	if q.Has("insecure_skip_verify") {
		switch v := strings.ToLower(q.Get("insecure_skip_verify")); v {
		case "true", "1":
			cfg.InsecureSkipVerify = true
		case "false", "0":
		default:
			return nil, fmt.Errorf("insecure_skip_verify=%s is not true or false", safeScheme(v))
		}
	}
	return cfg, nil
}

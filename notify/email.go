package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/wneessen/go-mail"
)

// email is the smtp:// channel.
type email struct {
	name    string
	host    string
	port    int
	ssl     bool // smtps:// or tls=implicit: TLS from the first byte
	plainOK bool // plain SMTP allowed: a loopback host without tls=
	user    string
	pass    string
	from    string
	to      []string
	tls     *tls.Config // ServerName set, verified unless insecure_skip_verify
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	timeout time.Duration
	now     func() time.Time
	wording Wording
	s       *sender
}

func (e *email) Name() string { return e.name }

// Notify mails n to the recipients. With implicit TLS the connection is TLS
// from the first byte; otherwise STARTTLS is used when the server offers it
// and required unless the server is on a loopback address and tls= is not
// set. The credentials of the URL are sent only over TLS or to loopback.
func (e *email) Notify(ctx context.Context, n Notification) error {
	msg, err := e.message(n)
	if err != nil {
		return err
	}
	return e.s.deliver(ctx, n, func(ctx context.Context) outcome {
		client, err := e.client(ctx)
		if err != nil {
			return outcome{err: err}
		}
		err = client.DialAndSendWithContext(ctx, msg)
		if err == nil {
			return outcome{status: 250}
		}
		o := classifySMTP(err)
		if cerr := ctx.Err(); cerr != nil && !errors.Is(o.err, cerr) {
			// The connection was closed because ctx ended (see closeOnDone).
			o.err = fmt.Errorf("%w: %v", cerr, o.err)
		}
		return o
	})
}

// client returns a client for one delivery: its connections close when ctx
// ends.
func (e *email) client(ctx context.Context) (*mail.Client, error) {
	policy := mail.TLSMandatory
	if e.plainOK {
		policy = mail.TLSOpportunistic
	}
	opts := []mail.Option{
		mail.WithPort(e.port),
		mail.WithTimeout(e.timeout),
		mail.WithTLSPolicy(policy),
		mail.WithTLSConfig(e.tls.Clone()),
	}
	if e.ssl {
		opts = append(opts, mail.WithSSL())
	}
	dial := e.dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	// go-mail bounds each command by its own timeout but not by the
	// context once connected: a server that never answers would hold a
	// delivery past its deadline.
	dial = closeOnDone(ctx, dial)
	if e.ssl {
		// go-mail wraps only its own dialer in TLS: a custom one would
		// speak plain text where implicit TLS was asked for.
		dial = tlsDial(dial, e.tls)
	}
	opts = append(opts, mail.WithDialContextFunc(dial))
	if e.user != "" {
		opts = append(opts, mail.WithUsername(e.user), mail.WithPassword(e.pass),
			mail.WithOpportunisticSMTPAuth(mail.SMTPAuthSCRAMSHA256, mail.SMTPAuthPlain, mail.SMTPAuthLogin))
	}
	return mail.NewClient(e.host, opts...)
}

// closeOnDone returns a dialer that dials through dial and closes the
// connection when life ends (not the dial's own context, which go-mail
// ends once connected), so that no read or write outlives the delivery.
func closeOnDone(life context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		context.AfterFunc(life, func() { c.Close() })
		return c, nil
	}
}

// tlsDial returns a dialer that dials through dial and completes a TLS
// handshake with cfg before returning the connection.
func tlsDial(dial func(ctx context.Context, network, addr string) (net.Conn, error), cfg *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := tls.Client(raw, cfg.Clone())
		if err := c.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return c, nil
	}
}

// message builds the mail of n.
func (e *email) message(n Notification) (*mail.Msg, error) {
	m := mail.NewMsg()
	if err := m.From(e.from); err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	if err := m.To(e.to...); err != nil {
		return nil, fmt.Errorf("to address: %w", err)
	}
	subject, err := e.wording.EmailSubject(n)
	if err != nil {
		return nil, err
	}
	m.Subject(subject)
	m.SetDateWithValue(e.now())
	m.SetMessageIDWithValue(messageID(n, messageIDHost(e.from, os.Hostname)))
	// RFC 2156: Importance is low, normal or high; Priority is
	// non-urgent, normal or urgent. X-Priority 1 is the highest.
	switch n.Priority {
	case Critical:
		m.SetGenHeader(mail.HeaderImportance, "high")
		m.SetGenHeader(mail.HeaderPriority, "urgent")
		m.SetGenHeader(mail.HeaderXPriority, "1")
	case High:
		m.SetGenHeader(mail.HeaderImportance, "high")
		m.SetGenHeader(mail.HeaderXPriority, "2")
	}
	m.SetGenHeader("X-Ip2adb-Notification-Id", n.ID)
	m.SetGenHeader("X-Ip2adb-Fingerprint", n.Fingerprint)
	m.SetBodyString(mail.TypeTextPlain, EmailBody(n))
	return m, nil
}

// messageID is the id part of a Message-ID (RFC 5322 msg-id without the
// angle brackets): the notification's id and 96 random bits, "@" and host.
func messageID(n Notification, host string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	left := hex.EncodeToString(b[:])
	if id := strings.Map(func(r rune) rune {
		if r < 128 && (r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return -1
	}, n.ID); id != "" {
		left = id + "." + left
	}
	return left + "@" + host
}

// messageIDHost is the right-hand side of the Message-IDs of mail sent
// from the address from: a fully qualified domain name — the sender's
// domain when it is one, else this machine's host name (from hostname)
// when that is one, else "ip2adb.invalid".
func messageIDHost(from string, hostname func() (string, error)) string {
	if a, err := netmail.ParseAddress(from); err == nil {
		if _, domain, ok := strings.Cut(a.Address, "@"); ok && isFQDN(domain) {
			return strings.ToLower(domain)
		}
	}
	if h, err := hostname(); err == nil && isFQDN(h) {
		return strings.ToLower(h)
	}
	return "ip2adb.invalid"
}

// isFQDN reports whether s is a fully qualified domain name: two or more
// labels of letters, digits and inner hyphens, no empty label, no leading
// or trailing dot.
func isFQDN(s string) bool {
	labels := strings.Split(s, ".")
	if len(labels) < 2 || len(s) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if r >= 128 || !(r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
				return false
			}
		}
	}
	// The top-level label is not all digits (that would be an IP address).
	return strings.TrimLeft(labels[len(labels)-1], "0123456789") != ""
}

// EmailSubject is the subject line of the mail of n in [DefaultWording]
// (see [Wording.EmailSubject]).
func EmailSubject(n Notification) string {
	return fmt.Sprintf("[%s %s] %s", DefaultProduct, strings.ToUpper(string(n.Priority)), n.Title)
}

// EmailBody is the plain text of the mail of n: the message, every attached
// issue, the numbered recommended actions and the notification's id.
func EmailBody(n Notification) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n\n%s\n", strings.ToUpper(string(n.Priority)), n.Title, n.Message)
	if len(n.Issues) > 0 {
		fmt.Fprintf(&b, "\nIssues (%d of %d):\n", len(n.Issues), n.IssueCount)
		for i, is := range n.Issues {
			fmt.Fprintf(&b, "%4d. %s\n", i+1, describeIssue(is))
			if is.Recommendation != "" {
				fmt.Fprintf(&b, "      Recommendation: %s\n", is.Recommendation)
			}
		}
	}
	if len(n.RecommendedAction) > 0 {
		b.WriteString("\nRecommended actions:\n")
		for _, a := range n.RecommendedAction {
			b.WriteString(a + "\n")
		}
	}
	fmt.Fprintf(&b, "\nNotification %s · %s · fingerprint %s\n",
		n.ID, n.Timestamp.UTC().Format(time.RFC3339), n.Fingerprint)
	return b.String()
}

// classifySMTP decides whether an SMTP failure is worth another attempt:
// network errors and 4xx replies are; 5xx replies, TLS and auth failures
// are not.
func classifySMTP(err error) outcome {
	o := outcome{err: err}
	var se *mail.SendError
	if errors.As(err, &se) {
		o.status = se.ErrorCode()
		o.retry = se.IsTemp()
		if o.status == 0 {
			var ne net.Error
			o.retry = o.retry || errors.As(err, &ne)
		}
		return o
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		o.status = te.Code
		o.retry = te.Code >= 400 && te.Code < 500
		return o
	}
	var ne net.Error
	var ope *net.OpError
	var tlsErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &tlsErr):
	case errors.As(err, &ne), errors.As(err, &ope), errors.Is(err, context.DeadlineExceeded):
		o.retry = true
	}
	return o
}

package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
)

// received is one mail an in-process SMTP server accepted.
type received struct {
	From string
	To   []string
	User string // authenticated user, "" when none
	TLS  bool
	Data []byte
}

// smtpBackend is an in-process SMTP server's backend.
type smtpBackend struct {
	user, pass string // AUTH PLAIN credentials; "" disables AUTH
	tempFails  int    // answer RCPT with 451 this many times first

	mu   sync.Mutex
	msgs []received
}

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{be: b, conn: c}, nil
}

func (b *smtpBackend) messages() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

type smtpSession struct {
	be   *smtpBackend
	conn *smtp.Conn
	msg  received
}

func (s *smtpSession) AuthMechanisms() []string {
	if s.be.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.be.user || pass != s.be.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.msg.User = user
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.be.user != "" && s.msg.User == "" {
		return smtp.ErrAuthRequired
	}
	s.msg.From = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	if s.be.tempFails > 0 {
		s.be.tempFails--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, s.msg.TLS = s.conn.TLSConnectionState()
	s.msg.Data = b
	s.be.mu.Lock()
	s.be.msgs = append(s.be.msgs, s.msg)
	s.be.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.msg = received{User: s.msg.User} }
func (s *smtpSession) Logout() error { return nil }

// startSMTP runs an SMTP server on 127.0.0.1; with a certificate it offers
// STARTTLS. It returns the address.
func startSMTP(t *testing.T, be *smtpBackend, cert *tls.Certificate) string {
	t.Helper()
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	if cert != nil {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().String()
}

// selfSigned makes a certificate for 127.0.0.1, localhost and
// mail.example.test, and a pool that trusts it.
func selfSigned(t *testing.T) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ip2adb test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost", "mail.example.test"},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// mailParts decodes a received mail into from, to, subject and body.
func mailParts(t *testing.T, data []byte) (from, to, subject, body string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("read mail: %v", err)
	}
	addr := func(h string) string {
		list, err := mail.ParseAddressList(m.Header.Get(h))
		if err != nil {
			t.Fatalf("%s header %q: %v", h, m.Header.Get(h), err)
		}
		var out []string
		for _, a := range list {
			out = append(out, a.Address)
		}
		return strings.Join(out, ",")
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return addr("From"), addr("To"), subject, strings.ReplaceAll(string(b), "\r\n", "\n")
}

func TestEmailDelivery(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, tc := range []struct {
		name     string
		starttls bool
		user     string // credentials in the URL "user:pass"
		server   string // credentials the server wants "user:pass"
		trust    bool
		wantUser string
	}{
		{name: "plain to loopback"},
		{name: "starttls", starttls: true, trust: true},
		{name: "starttls and auth plain", starttls: true, trust: true, user: "ops:pa55word", server: "ops:pa55word", wantUser: "ops"},
		{name: "auth plain on loopback without tls", user: "ops:pa55word", server: "ops:pa55word", wantUser: "ops"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := &smtpBackend{}
			if tc.server != "" {
				be.user, be.pass, _ = strings.Cut(tc.server, ":")
			}
			var c *tls.Certificate
			if tc.starttls {
				c = cert
			}
			addr := startSMTP(t, be, c)
			clock := newClock()
			opt := testOptions(t, clock)
			if tc.trust {
				opt.TLSConfig = &tls.Config{RootCAs: pool}
			}
			userinfo := ""
			if tc.user != "" {
				userinfo = tc.user + "@"
			}
			ch := parseOne(t, "smtp://"+userinfo+addr+"/?from=ip2adb@example.com&to=admin@example.com,dba@example.com", opt)
			if want := "smtp:" + addr; ch.Name() != want {
				t.Errorf("Name() = %q, want %q", ch.Name(), want)
			}
			n := sampleNotification()
			if err := ch.Notify(context.Background(), n); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			msgs := be.messages()
			if len(msgs) != 1 {
				t.Fatalf("server received %d mails, want 1", len(msgs))
			}
			got := msgs[0]
			from, to, subject, body := mailParts(t, got.Data)
			type env struct {
				From, To       string
				User           string
				TLS            bool
				HdrFrom, HdrTo string
				Subject        string
			}
			want := env{"ip2adb@example.com", "admin@example.com,dba@example.com", tc.wantUser, tc.starttls,
				"ip2adb@example.com", "admin@example.com,dba@example.com",
				"[ip2adb CRITICAL] Critical database issues need immediate attention"}
			gotEnv := env{got.From, strings.Join(got.To, ","), got.User, got.TLS, from, to, subject}
			if diff := cmp.Diff(want, gotEnv); diff != "" {
				t.Errorf("mail (-want +got):\n%s", diff)
			}
			if body != EmailBody(n) {
				t.Errorf("body:\n%s\nwant:\n%s", body, EmailBody(n))
			}
			for _, s := range []string{"member.missing_name · members #7", "employment.end_before_start · member_employments #42", "1. Review the critical issues", n.ID} {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q", s)
				}
			}
			if diff := cmp.Diff([]attemptKey{{ch.Name(), 1, OutcomeDelivered, 250}}, attemptsOf(t, opt.LogDir)); diff != "" {
				t.Errorf("attempts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEmailFailures(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, tc := range []struct {
		name      string
		be        *smtpBackend
		starttls  bool
		trust     bool
		userinfo  string
		host      string // dialled through DialContext to the server
		wantErr   string
		attempts  int
		delivered bool
	}{
		{name: "wrong password is permanent", be: &smtpBackend{user: "ops", pass: "right"}, userinfo: "ops:wrong@",
			wantErr: `SMTP AUTH failed: 535 "5.7.8 bad credentials" (1 attempt, permanent)`, attempts: 1},
		{name: "untrusted certificate is permanent", be: &smtpBackend{}, starttls: true,
			wantErr: "certificate signed by unknown authority (1 attempt, permanent)", attempts: 1},
		{name: "451 is retried", be: &smtpBackend{tempFails: 1}, attempts: 2, delivered: true},
		{name: "non-loopback server without STARTTLS is refused", be: &smtpBackend{}, host: "mail.example.test",
			wantErr: "does not support STARTTLS (1 attempt, permanent)", attempts: 1},
		{name: "non-loopback server with STARTTLS", be: &smtpBackend{}, host: "mail.example.test", starttls: true, trust: true,
			attempts: 1, delivered: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *tls.Certificate
			if tc.starttls {
				c = cert
			}
			addr := startSMTP(t, tc.be, c)
			opt := testOptions(t, newClock())
			if tc.trust {
				opt.TLSConfig = &tls.Config{RootCAs: pool}
			}
			target := addr
			if tc.host != "" {
				_, port, _ := net.SplitHostPort(addr)
				target = net.JoinHostPort(tc.host, port)
				opt.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, addr)
				}
			}
			ch := parseOne(t, "smtp://"+tc.userinfo+target+"/?from=a@example.com&to=b@example.com", opt)
			err := ch.Notify(context.Background(), sampleNotification())
			switch {
			case tc.delivered && err != nil:
				t.Fatalf("Notify: %v", err)
			case !tc.delivered && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Notify error = %v, want it to contain %q", err, tc.wantErr)
			}
			if got := len(attemptsOf(t, opt.LogDir)); got != tc.attempts {
				t.Errorf("%d attempts, want %d", got, tc.attempts)
			}
			if want := len(tc.be.messages()); tc.delivered != (want == 1) {
				t.Errorf("server received %d mails", want)
			}
			var de *DeliveryError
			if err != nil && !errors.As(err, &de) {
				t.Errorf("error %T is not a DeliveryError", err)
			}
		})
	}
}

func TestEmailTimeout(t *testing.T) {
	// A server that accepts connections and never greets.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	clock := newClock()
	opt := testOptions(t, clock)
	opt.Timeout, opt.Attempts = 100*time.Millisecond, 2
	ch := parseOne(t, "smtp://"+l.Addr().String()+"/?from=a@example.com&to=b@example.com", opt)
	err = ch.Notify(context.Background(), sampleNotification())
	if err == nil || !strings.Contains(err.Error(), "(2 attempts, gave up)") {
		t.Fatalf("Notify error = %v, want a timeout after 2 attempts", err)
	}
	want := []attemptKey{{ch.Name(), 1, OutcomeRetry, 0}, {ch.Name(), 2, OutcomeFailed, 0}}
	if diff := cmp.Diff(want, attemptsOf(t, opt.LogDir)); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{time.Second}, clock.Sleeps()); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
}

func TestEmailImplicitTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	be := &smtpBackend{user: "ops", pass: "pa55word"}
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*cert}})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	opt := testOptions(t, newClock())
	opt.TLSConfig = &tls.Config{RootCAs: pool}
	ch := parseOne(t, "smtps://ops:pa55word@"+l.Addr().String()+"/?from=a@example.com&to=b@example.com", opt)
	if err := ch.Notify(context.Background(), sampleNotification()); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	msgs := be.messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != "ops" {
		t.Errorf("received %+v", msgs)
	}
}

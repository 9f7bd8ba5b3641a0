package notify

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
)

// startSMTPS runs an SMTP server on 127.0.0.1 that speaks TLS from the
// first byte (implicit TLS, as on port 465). It returns the address.
func startSMTPS(t *testing.T, be *smtpBackend, cert *tls.Certificate) string {
	t.Helper()
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*cert}})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().String()
}

// writeCA writes cert's certificate as a PEM file and returns its path.
func writeCA(t *testing.T, cert *tls.Certificate) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "relay-ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSMTPTLSOptions runs tls=starttls|implicit, ca=FILE and
// insecure_skip_verify=true against real in-process SMTP servers with a
// self-signed certificate, trusted only through the URL (no
// ChannelOptions.TLSConfig, no SSL_CERT_FILE).
func TestSMTPTLSOptions(t *testing.T) {
	cert, _ := selfSigned(t)
	other, _ := selfSigned(t)
	ca, otherCA := writeCA(t, cert), writeCA(t, other)
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		server  string // plain, starttls or implicit
		scheme  string // smtp (default) or smtps
		host    string // a non-loopback name dialled to the server
		params  string
		auth    bool   // the server wants AUTH PLAIN, the URL has the credentials
		wantErr string // "" for delivered over TLS; "plain" for delivered without TLS
	}{
		{name: "non-loopback implicit with ca and auth", server: "implicit", host: "mail.example.test", params: "&tls=implicit&ca=" + ca, auth: true},
		{name: "non-loopback starttls with ca and auth", server: "starttls", host: "mail.example.test", params: "&ca=" + ca, auth: true},
		{name: "starttls with ca", server: "starttls", params: "&tls=starttls&ca=" + ca},
		{name: "implicit with ca", server: "implicit", params: "&tls=implicit&ca=" + ca},
		{name: "smtps with ca", server: "implicit", scheme: "smtps", params: "&ca=" + ca},
		{name: "starttls offered, no tls=, ca", server: "starttls", params: "&ca=" + ca},
		{name: "starttls insecure_skip_verify", server: "starttls", params: "&tls=starttls&insecure_skip_verify=true"},
		{name: "implicit insecure_skip_verify", server: "implicit", params: "&tls=implicit&insecure_skip_verify=true"},
		{name: "non-loopback relay with ca", server: "starttls", host: "mail.example.test", params: "&ca=" + ca},
		{name: "non-loopback implicit with ca", server: "implicit", host: "mail.example.test", params: "&tls=implicit&ca=" + ca},
		{name: "non-loopback implicit without ca", server: "implicit", host: "mail.example.test", params: "&tls=implicit",
			wantErr: "certificate signed by unknown authority (1 attempt, permanent)"},
		{name: "self-signed without ca", server: "starttls", params: "&tls=starttls",
			wantErr: "certificate signed by unknown authority (1 attempt, permanent)"},
		{name: "implicit without ca", server: "implicit", params: "&tls=implicit",
			wantErr: "certificate signed by unknown authority (1 attempt, permanent)"},
		{name: "another ca", server: "starttls", params: "&ca=" + otherCA,
			wantErr: "certificate signed by unknown authority"},
		{name: "insecure_skip_verify=false verifies", server: "starttls", params: "&insecure_skip_verify=false",
			wantErr: "certificate signed by unknown authority (1 attempt, permanent)"},
		{name: "tls=starttls refuses plain even on loopback", server: "plain", params: "&tls=starttls",
			wantErr: "does not support STARTTLS (1 attempt, permanent)"},
		{name: "plain on loopback without tls=", server: "plain", wantErr: "plain"},
		{name: "plain to a non-loopback host is refused", server: "plain", host: "mail.example.test", params: "&ca=" + ca,
			wantErr: "does not support STARTTLS (1 attempt, permanent)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := &smtpBackend{}
			userinfo := ""
			if tc.auth {
				be.user, be.pass, userinfo = "ops", "pa55word", "ops:pa55word@"
			}
			var addr string
			switch tc.server {
			case "plain":
				addr = startSMTP(t, be, nil)
			case "starttls":
				addr = startSMTP(t, be, cert)
			case "implicit":
				addr = startSMTPS(t, be, cert)
			}
			opt := testOptions(t, newClock())
			target := addr
			if tc.host != "" {
				_, port, _ := net.SplitHostPort(addr)
				target = net.JoinHostPort(tc.host, port)
				opt.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, addr)
				}
			}
			scheme := "smtp"
			if tc.scheme != "" {
				scheme = tc.scheme
			}
			ch := parseOne(t, scheme+"://"+userinfo+target+"/?from=a@example.com&to=b@example.com"+tc.params, opt)
			err := ch.Notify(context.Background(), sampleNotification())
			msgs := be.messages()
			switch tc.wantErr {
			case "", "plain":
				if err != nil {
					t.Fatalf("Notify: %v", err)
				}
				if len(msgs) != 1 || msgs[0].TLS != (tc.wantErr == "") || (msgs[0].User == "ops") != tc.auth {
					t.Fatalf("server received %+v, want one mail, TLS %v, authenticated %v", msgs, tc.wantErr == "", tc.auth)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Notify error = %v, want it to contain %q", err, tc.wantErr)
				}
				if len(msgs) != 0 {
					t.Errorf("server received %d mails", len(msgs))
				}
			}
		})
	}
	t.Run("a ca file without certificates", func(t *testing.T) {
		_, err := ParseChannels([]string{"smtp://mail.example.com/?from=a@example.com&to=b@example.com&ca=" + empty}, ChannelOptions{LogDir: t.TempDir()})
		if want := "notify URL #1: smtp: ca=" + empty + " holds no PEM certificate"; err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
	})
	t.Run("insecure channels are named", func(t *testing.T) {
		chans, err := ParseChannels([]string{
			"smtp://a.example.com/?from=a@example.com&to=b@example.com&insecure_skip_verify=true",
			"smtp://b.example.com/?from=a@example.com&to=b@example.com&insecure_skip_verify=false",
			"smtp://c.example.com/?from=a@example.com&to=b@example.com&ca=" + ca,
		}, ChannelOptions{LogDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"smtp:a.example.com:587"}, InsecureChannels(chans)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("implicit TLS takes port 465", func(t *testing.T) {
		chans, err := ParseChannels([]string{
			"smtp://mail.example.com/?from=a@example.com&to=b@example.com&tls=implicit",
			"smtp://mail.example.com/?from=a@example.com&to=b@example.com&tls=starttls",
		}, ChannelOptions{LogDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range chans[1:] {
			names = append(names, c.Name())
		}
		if diff := cmp.Diff([]string{"smtp:mail.example.com:465", "smtp:mail.example.com:587"}, names); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
	})
}

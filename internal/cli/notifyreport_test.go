package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/notify"
)

// switchHook is a loopback webhook receiver whose answer can be changed
// between runs; it counts the requests.
type switchHook struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	n      int
}

func newSwitchHook(t *testing.T, status int) *switchHook {
	t.Helper()
	h := &switchHook{status: status}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h.mu.Lock()
		h.n++
		st := h.status
		h.mu.Unlock()
		w.WriteHeader(st)
		if st >= 300 {
			io.WriteString(w, "nope")
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *switchHook) set(status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.status = status
}

func (h *switchHook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// TestAutoHealNotificationFailure: a run whose only remaining issue is a
// warning (a missing file) but whose webhook fails reports the failure per
// channel, is not recorded as a success and exits 1; the next run retries
// the webhook only, the log channel having been told already.
func TestAutoHealNotificationFailure(t *testing.T) {
	url := testdb.SQLiteURL(t, testdb.WithSchema())
	integrityDB(t, url,
		`INSERT INTO members (id, member_number, first_name, last_name, status, classification, created_at, updated_at) VALUES (1, '7000001', 'Ann', 'Lee', 'active', 'journeyman', '2024-01-01 00:00:00', '2024-01-01 00:00:00')`,
		`INSERT INTO file_attachments (id, record_type, record_id, file_name, file_path, file_size, created_at, updated_at) VALUES (1, 'member', 1, 'x.pdf', 'uploads/x.pdf', 2048, '2024-01-01 00:00:00', '2024-01-01 00:00:00')`)
	hook := newSwitchHook(t, http.StatusBadRequest)
	hookName := "webhook:" + strings.TrimPrefix(hook.URL, "http://")
	logDir := t.TempDir()
	args := []string{"auto-heal", "--db", url, "--log-dir", logDir, "--files-root", t.TempDir(), "--notify", hook.URL + "/hook"}

	r := runCLI(t, runOpts{}, append(args, "--format", "json")...)
	if r.Code != ExitCritical || !strings.HasSuffix(r.Stderr, "\nip2adb: a notification could not be delivered; the next run retries it\n") {
		t.Fatalf("run 1: %+v", r)
	}
	got := decodeJSON(t, r.Stdout)
	if s := got["summary"].(map[string]any); s["critical"] != 0.0 || s["warning"] != 1.0 {
		t.Errorf("run 1 summary %v, want only the missing file's warning", s)
	}
	want := []any{
		map[string]any{"channel": "log", "outcome": "sent", "error": ""},
		map[string]any{"channel": hookName, "outcome": "failed", "error": "HTTP 400 Bad Request: nope (1 attempt, permanent)"},
	}
	if diff := cmp.Diff(want, got["notifications"]); diff != "" {
		t.Errorf("run 1 notifications (-want +got):\n%s", diff)
	}
	recs, err := heal.Records(logDir, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	if err != nil || len(recs) != 1 || recs[0].Success || recs[0].NotificationsSent != 1 || recs[0].ErrorMessage == nil ||
		!strings.Contains(*recs[0].ErrorMessage, "HTTP 400 Bad Request") {
		t.Errorf("run 1 history %+v, %v", recs, err)
	}

	hook.set(http.StatusOK)
	r = runCLI(t, runOpts{now: time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)}, args...)
	if r.Code != ExitOK || strings.Contains(r.Stderr, "ERROR") {
		t.Fatalf("run 2: %+v", r)
	}
	if want := "Notifications sent: 1\n  suppressed  log\n  sent        " + hookName + "\n"; !strings.Contains(r.Stdout, want) {
		t.Errorf("run 2 report lacks %q:\n%s", want, r.Stdout)
	}
	if hook.count() != 2 {
		t.Errorf("webhook got %d requests, want 2", hook.count())
	}
	recs, _ = heal.Records(logDir, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	if len(recs) != 2 || !recs[1].Success || recs[1].NotificationsSent != 1 {
		t.Errorf("run 2 history %+v", recs)
	}
}

// TestAutoHealNotifyMaxIssues: --notify-max-issues caps the issues attached
// to the webhook body and the notification-log line; issue_count stays the
// full count and issues_truncated says how many were left out; 0 attaches
// none; a negative cap is bad input (exit 2, nothing changed).
func TestAutoHealNotifyMaxIssues(t *testing.T) {
	for _, tc := range []struct {
		name     string
		flag     []string
		attached int
	}{
		{"default", nil, 3},
		{"two", []string{"--notify-max-issues", "2"}, 2},
		{"none", []string{"--notify-max-issues", "0"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := testdb.SQLiteURL(t, testdb.WithSchema())
			var stmts []string
			for id := 1; id <= 3; id++ {
				stmts = append(stmts, fmt.Sprintf(`INSERT INTO members (id, member_number, first_name, last_name, status, classification) VALUES (%d, NULL, 'No', 'Number', 'active', 'journeyman')`, id))
			}
			integrityDB(t, url, stmts...)
			hook := newHookServer(t, 200, "")
			logDir := t.TempDir()
			args := append([]string{"auto-heal", "--db", url, "--log-dir", logDir, "--no-files", "--notify", hook.URL}, tc.flag...)
			if r := runCLI(t, runOpts{}, args...); r.Code != ExitCritical {
				t.Fatalf("%+v", r)
			}
			type body struct {
				IssueCount      int              `json:"issue_count"`
				Issues          []map[string]any `json:"issues"`
				IssuesTruncated int              `json:"issues_truncated"`
			}
			want := body{IssueCount: 3, IssuesTruncated: 3 - tc.attached}
			check := func(what string, b []byte) {
				t.Helper()
				var got body
				if err := json.Unmarshal(b, &got); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if got.Issues == nil {
					t.Errorf("%s: issues is null or missing: %s", what, b)
				}
				if len(got.Issues) != tc.attached {
					t.Errorf("%s: %d issues attached, want %d", what, len(got.Issues), tc.attached)
				}
				got.Issues = nil
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", what, diff)
				}
			}
			if hook.count() != 1 {
				t.Fatalf("webhook got %d requests", hook.count())
			}
			hook.mu.Lock()
			check("webhook body", hook.body[0])
			hook.mu.Unlock()
			raw, err := os.ReadFile(notify.LogPath(logDir, time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)))
			if err != nil {
				t.Fatal(err)
			}
			var line string
			for l := range strings.Lines(string(raw)) {
				if strings.HasPrefix(l, `{"type":"notification"`) {
					line = l
				}
			}
			check("notification log line", []byte(line))
		})
	}
	t.Run("negative", func(t *testing.T) {
		logDir := t.TempDir()
		r := runCLI(t, runOpts{}, "auto-heal", "--db", testdb.SQLiteURL(t, testdb.WithSchema()), "--log-dir", logDir, "--no-files", "--notify-max-issues", "-1")
		if r.Code != ExitUsage || r.Stderr != "ip2adb: --notify-max-issues must be 0 or more, not -1\n" || r.Stdout != "" {
			t.Errorf("%+v", r)
		}
		if entries, _ := os.ReadDir(logDir); len(entries) != 0 {
			t.Errorf("log dir written: %v", entries)
		}
	})
}

// TestNotifyTestTLSOptions: notify-test reaches a STARTTLS relay with a
// self-signed certificate through ca=FILE, and warns loudly on stderr about
// a channel with insecure_skip_verify=true.
func TestNotifyTestTLSOptions(t *testing.T) {
	cert, certPEM := testCert(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	sink := &mailSink{}
	s := smtp.NewServer(sink)
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	base := "smtp://" + l.Addr().String() + "/?from=ip2adb@example.com&to=ops+alerts@example.com&tls=starttls"
	name := "smtp:" + l.Addr().String()
	for _, tc := range []struct {
		name, params, stdout, warning string
		code                          int
	}{
		{"without ca", "", "FAIL " + name + ": ", "", ExitCritical},
		{"ca", "&ca=" + ca, "OK " + name + "\n", "", ExitOK},
		{"insecure", "&insecure_skip_verify=true", "OK " + name + "\n",
			"ip2adb: warning: " + name + ": TLS certificate verification is OFF (insecure_skip_verify=true): the mail and the SMTP password can be read and changed on the way\n", ExitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, runOpts{}, "notify-test", "--log-dir", t.TempDir(), "--notify", base+tc.params)
			if r.Code != tc.code || !strings.Contains(r.Stdout, tc.stdout) || strings.Contains(r.Stderr, "verification is OFF") != (tc.warning != "") ||
				!strings.Contains(r.Stderr, tc.warning) {
				t.Errorf("%+v", r)
			}
		})
	}
	if got := sink.count(); got != 2 {
		t.Errorf("relay received %d mails, want 2", got)
	}
}

// testCert is a self-signed certificate for 127.0.0.1 and its PEM.
func testCert(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

package cli

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/notify"
)

// hookServer is a loopback HTTP receiver answering every request with one
// status and body, recording the requests.
type hookServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func newHookServer(t *testing.T, status int, answer string) *hookServer {
	t.Helper()
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, r)
		h.body = append(h.body, b)
		h.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.reqs)
}

func (h *hookServer) hostPort() string { return strings.TrimPrefix(h.URL, "http://") }

func TestNotifyTestLogOnly(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, runOpts{}, "notify-test", "--log-dir", dir)
	if r.Code != ExitOK || r.Stdout != "OK log\n" {
		t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	now := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	b, err := os.ReadFile(notify.LogPath(dir, now))
	if err != nil {
		t.Fatal(err)
	}
	var rec notify.LogRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	want := notify.LogRecord{Type: notify.RecordNotification, Notification: notify.TestNotification(now)}
	if diff := cmp.Diff(want, rec); diff != "" {
		t.Errorf("logged notification (-want +got):\n%s", diff)
	}
}

func TestNotifyTestChannels(t *testing.T) {
	ok1 := newHookServer(t, 200, "")
	ok2 := newHookServer(t, 204, "")
	slackOK := newHookServer(t, 200, "ok")
	bad := newHookServer(t, 400, "no such hook")
	slackBad := newHookServer(t, 403, "invalid_token")
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

	for _, tc := range []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stdout string
		stderr string
	}{
		{
			name: "all delivered",
			args: []string{"--notify", ok1.URL + "/a?secret=" + secret, "--notify", "slack:" + slackOK.URL + "/services/T0/B0/TOKEN"},
			code: ExitOK,
			stdout: "OK log\n" +
				"OK webhook:" + ok1.hostPort() + "\n" +
				"OK slack\n",
		},
		{
			name: "from the environment",
			env:  map[string]string{"IP2ADB_NOTIFY": ok1.URL + "/x, " + ok2.URL + "/y"},
			code: ExitOK,
			stdout: "OK log\n" +
				"OK webhook:" + ok1.hostPort() + "\n" +
				"OK webhook:" + ok2.hostPort() + "\n",
		},
		{
			name: "failures",
			args: []string{"--notify", ok1.URL, "--notify", bad.URL + "/hook", "--notify", "slack:" + slackBad.URL + "/services/T0/B0/TOKEN"},
			code: ExitCritical,
			stdout: "OK log\n" +
				"OK webhook:" + ok1.hostPort() + "\n" +
				"FAIL webhook:" + bad.hostPort() + ": HTTP 400 Bad Request: no such hook (1 attempt, permanent)\n" +
				"FAIL slack: HTTP 403 Forbidden: invalid_token (1 attempt, permanent)\n",
			stderr: "ip2adb: 2 of 4 notification channels failed\n",
		},
		{
			name:   "malformed URL",
			args:   []string{"--notify", ok1.URL, "--notify", "smtp://ops:TOPSECRET@mail.example.com/?to=a@example.com"},
			code:   ExitUsage,
			stderr: "ip2adb: notify URL #2: smtp: missing ?from=ADDRESS\n",
		},
		{
			name:   "bad webhook secret",
			args:   []string{"--notify", ok1.URL + "?secret=whsec_TOPSECRET!"},
			code:   ExitUsage,
			stderr: "ip2adb: notify URL #1: webhook: webhook secret is not valid base64 after whsec_\n",
		},
		{
			name:   "unknown scheme",
			args:   []string{"--notify", "teams://TOPSECRET"},
			code:   ExitUsage,
			stderr: `ip2adb: notify URL #1: unsupported channel scheme "teams" (want log:, smtp://…, slack:https://… or http(s)://…)` + "\n",
		},
		{
			name:   "arguments",
			args:   []string{"extra"},
			code:   ExitUsage,
			stderr: `ip2adb: notify-test takes no arguments, got "extra"` + "\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"notify-test", "--log-dir", t.TempDir()}, tc.args...)
			r := runCLI(t, runOpts{env: tc.env}, args...)
			stderr := r.Stderr
			if i := strings.Index(stderr, "\n"); tc.code != ExitUsage && i >= 0 && strings.HasPrefix(stderr, "ip2adb notify-test") {
				stderr = stderr[i+1:] // the header
			}
			got := result{r.Code, r.Stdout, stderr}
			if diff := cmp.Diff(result{tc.code, tc.stdout, tc.stderr}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			for _, s := range []string{"TOPSECRET", "TOKEN", secret} {
				if strings.Contains(r.Stdout+r.Stderr, s) {
					t.Errorf("output shows a secret %q", s)
				}
			}
		})
	}
	// The signed webhook's secret never went over the wire.
	ok1.mu.Lock()
	defer ok1.mu.Unlock()
	for _, r := range ok1.reqs {
		if strings.Contains(r.URL.RawQuery, "secret") {
			t.Errorf("secret sent in %q", r.URL.RawQuery)
		}
	}
	if ok1.reqs[0].Header.Get("webhook-signature") == "" {
		t.Error("the signed webhook has no signature")
	}
}

func TestNotifyTestJSON(t *testing.T) {
	ok := newHookServer(t, 200, "")
	bad := newHookServer(t, 401, "")
	r := runCLI(t, runOpts{}, "notify-test", "--log-dir", t.TempDir(), "--format", "json", "--notify", ok.URL, "--notify", bad.URL)
	if r.Code != ExitCritical || r.Stderr != "ip2adb: 1 of 3 notification channels failed\n" {
		t.Fatalf("code %d stderr %q", r.Code, r.Stderr)
	}
	type row struct {
		Channel string `json:"channel"`
		OK      bool   `json:"ok"`
		Outcome string `json:"outcome"`
		Error   string `json:"error"`
	}
	var got struct {
		NotificationID string `json:"notification_id"`
		OK             bool   `json:"ok"`
		Channels       []row  `json:"channels"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatalf("stdout %q: %v", r.Stdout, err)
	}
	want := got
	want.NotificationID = "DBADM-1795831200-test"
	want.OK = false
	want.Channels = []row{
		{"log", true, "sent", ""},
		{"webhook:" + ok.hostPort(), true, "sent", ""},
		{"webhook:" + bad.hostPort(), false, "failed", "HTTP 401 Unauthorized (1 attempt, permanent)"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("json (-want +got):\n%s", diff)
	}
}

func TestNotifyManagerHelper(t *testing.T) {
	hook := newHookServer(t, 200, "")
	dir := t.TempDir()
	a := &app{env: Env{Now: func() time.Time { return time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC) }, Stderr: io.Discard}}
	m, err := a.notifyManager(nil, Globals{LogDir: dir, Notify: []string{hook.URL}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range m.Channels {
		names = append(names, c.Name())
	}
	got := []any{names, m.StateDir, m.RepeatInterval, m.Policy}
	want := []any{[]string{"log", "webhook:" + hook.hostPort()}, dir, 24 * time.Hour, notify.DefaultPolicy()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("manager (-want +got):\n%s", diff)
	}
	_, err = a.notifyManager(nil, Globals{LogDir: dir, Notify: []string{"slack:"}}, time.Hour)
	if code := a.report(err); code != ExitUsage {
		t.Errorf("bad URL: exit %d, want 2", code)
	}
}

// mailSink is an in-process SMTP server on 127.0.0.1 (plain, no AUTH) that
// keeps the raw messages it receives.
type mailSink struct {
	mu   sync.Mutex
	msgs []string
}

func (m *mailSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{m: m}, nil }

type sinkSession struct{ m *mailSink }

func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *sinkSession) Reset()                               {}
func (s *sinkSession) Logout() error                        { return nil }
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.m.mu.Lock()
	s.m.msgs = append(s.m.msgs, string(b))
	s.m.mu.Unlock()
	return err
}

func (m *mailSink) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.msgs)
}

func startMailSink(t *testing.T) (*mailSink, string) {
	t.Helper()
	sink := &mailSink{}
	s := smtp.NewServer(sink)
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return sink, l.Addr().String()
}

// TestNotifyAutoHealEveryChannelKind: an auto-heal run that leaves a critical
// issue notifies through the log, email, Slack and a signed webhook on
// loopback servers; a second run within the repeat interval sends nothing;
// after the interval it sends again.
func TestNotifyAutoHealEveryChannelKind(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	url := testdb.SQLiteURL(t, testdb.WithSchema())
	db, err := dbx.Open(context.Background(), url, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	testdb.MustExec(t, db, `INSERT INTO members (id, member_number, first_name, last_name, status, classification) VALUES (9, NULL, 'No', 'Number', 'active', 'journeyman')`)

	sink, smtpAddr := startMailSink(t)
	hook := newHookServer(t, 200, "")
	slackSrv := newHookServer(t, 200, "ok")
	logDir := t.TempDir()
	args := []string{"auto-heal", "--db", url, "--log-dir", logDir, "--no-files",
		"--notify", "smtp://" + smtpAddr + "/?from=ip2adb@example.com&to=admin@example.com",
		"--notify", "slack:" + slackSrv.URL + "/services/T0/B0/XYZ",
		"--notify", hook.URL + "/ip2adb?secret=" + secret}
	first := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	for _, run := range []struct {
		now  time.Time
		want int // deliveries per non-log channel so far
	}{
		{first, 1},
		{first.Add(time.Hour), 1},
		{first.Add(25 * time.Hour), 2},
	} {
		r := runCLI(t, runOpts{now: run.now}, args...)
		if r.Code != ExitCritical {
			t.Fatalf("auto-heal at %s: %+v", run.now, r)
		}
		if got := []int{sink.count(), slackSrv.count(), hook.count()}; !cmp.Equal(got, []int{run.want, run.want, run.want}) {
			t.Fatalf("after the run at %s: email, slack, webhook deliveries %v, want %d each", run.now, got, run.want)
		}
	}
	// The webhook's notification verifies and names the critical issue.
	hook.mu.Lock()
	r0, body := hook.reqs[0], hook.body[0]
	hook.mu.Unlock()
	ts := r0.Header.Get("webhook-timestamp")
	sig, _ := notify.Sign(secret, r0.Header.Get("webhook-id"), mustAtoi(t, ts), body)
	if r0.Header.Get("webhook-signature") != sig || ts != "1795831200" {
		t.Errorf("signature %q at %s, want %q", r0.Header.Get("webhook-signature"), ts, sig)
	}
	var n notify.Notification
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatal(err)
	}
	if n.Priority != notify.Critical || len(n.Issues) == 0 || n.Issues[0].Check != "member.missing_required" || *n.Issues[0].RecordID != 9 {
		t.Errorf("notification %+v", n)
	}
	sink.mu.Lock()
	mail := sink.msgs[0]
	sink.mu.Unlock()
	msg, err := netmail.ReadMessage(strings.NewReader(mail))
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Subject") != "[ip2adb CRITICAL] Critical database issues need immediate attention" ||
		!strings.Contains(string(text), "[critical] member.missing_required · members #9") {
		t.Errorf("mail:\n%s", mail)
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

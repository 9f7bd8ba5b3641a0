package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
			stderr: `ip2adb: notify-test takes no arguments (got "extra")` + "\n",
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
		{"log", true, ""},
		{"webhook:" + ok.hostPort(), true, ""},
		{"webhook:" + bad.hostPort(), false, "HTTP 401 Unauthorized (1 attempt, permanent)"},
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

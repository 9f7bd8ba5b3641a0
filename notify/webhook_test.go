package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ip2adb/ip2adb"
)

func TestSignStandardWebhooksVector(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestParseWebhookSecretErrors(t *testing.T) {
	for _, tc := range []struct{ secret, want string }{
		{"whsec_", "webhook secret is empty (want whsec_<base64>)"},
		{"whsec_not*base64!!", "webhook secret is not valid base64 after whsec_"},
		{"whsec_c2hvcnQ=", "webhook secret is too short (5 bytes; want at least 16)"},
	} {
		_, err := ParseWebhookSecret(tc.secret)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseWebhookSecret(%q) = %v, want %q", tc.secret, err, tc.want)
		}
	}
}

// reply is one scripted answer of a test server; block makes the handler
// wait until the client gives up.
type reply struct {
	status     int
	location   string
	retryAfter string
	body       string
	block      bool
}

// request is what a test server received.
type request struct {
	Header http.Header
	Query  string
	Path   string
	Body   []byte
}

// scriptServer answers requests with the replies in order (the last one
// repeats) and records them.
type scriptServer struct {
	*httptest.Server
	mu      sync.Mutex
	replies []reply
	got     []request
}

func newScriptServer(t *testing.T, replies ...reply) *scriptServer {
	t.Helper()
	s := &scriptServer{replies: replies}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got = append(s.got, request{r.Header.Clone(), r.URL.RawQuery, r.URL.Path, body})
		rp := s.replies[0]
		if len(s.replies) > 1 {
			s.replies = s.replies[1:]
		}
		s.mu.Unlock()
		if rp.block {
			<-r.Context().Done()
			return
		}
		if rp.retryAfter != "" {
			w.Header().Set("Retry-After", rp.retryAfter)
		}
		if rp.location != "" {
			w.Header().Set("Location", rp.location)
		}
		w.WriteHeader(rp.status)
		io.WriteString(w, rp.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *scriptServer) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.got...)
}

// TestHTTPDelivery runs the delivery discipline against the webhook and the
// Slack channel alike.
func TestHTTPDelivery(t *testing.T) {
	for _, kind := range []string{"webhook", "slack"} {
		for _, tc := range []struct {
			name     string
			replies  []reply
			timeout  time.Duration
			wantErr  string // "" for delivered
			attempts []attemptKey
			sleeps   []time.Duration
		}{
			{
				name:     "200",
				replies:  []reply{{status: 200, body: "ok"}},
				attempts: []attemptKey{{"", 1, OutcomeDelivered, 200}},
			},
			{
				name:     "500 then 200",
				replies:  []reply{{status: 500, body: "boom"}, {status: 200}},
				attempts: []attemptKey{{"", 1, OutcomeRetry, 500}, {"", 2, OutcomeDelivered, 200}},
				sleeps:   []time.Duration{time.Second},
			},
			{
				name:     "429 honours Retry-After",
				replies:  []reply{{status: 429, retryAfter: "7"}, {status: 200}},
				attempts: []attemptKey{{"", 1, OutcomeRetry, 429}, {"", 2, OutcomeDelivered, 200}},
				sleeps:   []time.Duration{7 * time.Second},
			},
			{
				name:     "429 with a Retry-After too long",
				replies:  []reply{{status: 429, retryAfter: "3600"}, {status: 200}},
				wantErr:  "HTTP 429 Too Many Requests; server asked to retry after 1h0m0s (more than 2m0s) (1 attempt, gave up)",
				attempts: []attemptKey{{"", 1, OutcomeFailed, 429}},
			},
			{
				name:     "400 is permanent",
				replies:  []reply{{status: 400, body: "invalid_payload"}, {status: 200}},
				wantErr:  "HTTP 400 Bad Request: invalid_payload (1 attempt, permanent)",
				attempts: []attemptKey{{"", 1, OutcomeFailed, 400}},
			},
			{
				name:     "301 names its Location",
				replies:  []reply{{status: 301, location: "https://new.example.com/hooks/moved"}, {status: 200}},
				wantErr:  "HTTP 301 Moved Permanently to https://new.example.com/hooks/moved (1 attempt, permanent)",
				attempts: []attemptKey{{"", 1, OutcomeFailed, 301}},
			},
			{
				name:     "308 without a Location",
				replies:  []reply{{status: 308}, {status: 200}},
				wantErr:  "HTTP 308 Permanent Redirect without a Location (1 attempt, permanent)",
				attempts: []attemptKey{{"", 1, OutcomeFailed, 308}},
			},
			{
				name:     "503 until the attempts are used up",
				replies:  []reply{{status: 503}},
				wantErr:  "HTTP 503 Service Unavailable (4 attempts, gave up)",
				attempts: []attemptKey{{"", 1, OutcomeRetry, 503}, {"", 2, OutcomeRetry, 503}, {"", 3, OutcomeRetry, 503}, {"", 4, OutcomeFailed, 503}},
				sleeps:   []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
			},
			{
				name:     "timeout then 200",
				replies:  []reply{{block: true}, {status: 200}},
				timeout:  100 * time.Millisecond,
				attempts: []attemptKey{{"", 1, OutcomeRetry, 0}, {"", 2, OutcomeDelivered, 200}},
				sleeps:   []time.Duration{time.Second},
			},
			{
				name:     "timeout every time",
				replies:  []reply{{block: true}},
				timeout:  50 * time.Millisecond,
				wantErr:  "timed out after 50ms",
				attempts: []attemptKey{{"", 1, OutcomeRetry, 0}, {"", 2, OutcomeRetry, 0}, {"", 3, OutcomeRetry, 0}, {"", 4, OutcomeFailed, 0}},
				sleeps:   []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
			},
		} {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				clock := newClock()
				opt := testOptions(t, clock)
				if tc.timeout > 0 {
					opt.Timeout = tc.timeout
				}
				srv := newScriptServer(t, tc.replies...)
				u := srv.URL + "/hooks/abc"
				name := "webhook:" + strings.TrimPrefix(srv.URL, "http://")
				if kind == "slack" {
					u, name = "slack:"+u, "slack"
				}
				ch := parseOne(t, u, opt)
				if ch.Name() != name {
					t.Errorf("Name() = %q, want %q", ch.Name(), name)
				}
				err := ch.Notify(context.Background(), sampleNotification())
				switch {
				case tc.wantErr == "" && err != nil:
					t.Fatalf("Notify: %v", err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Fatalf("Notify error = %v, want it to contain %q", err, tc.wantErr)
				}
				for i := range tc.attempts {
					tc.attempts[i].Channel = name
				}
				if diff := cmp.Diff(tc.attempts, attemptsOf(t, opt.LogDir)); diff != "" {
					t.Errorf("attempt records (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tc.sleeps, clock.Sleeps()); diff != "" {
					t.Errorf("sleeps (-want +got):\n%s", diff)
				}
				if got := len(srv.requests()); got != len(tc.attempts) {
					t.Errorf("server saw %d requests, want %d", got, len(tc.attempts))
				}
			})
		}
	}
}

// verifyStandardWebhook checks a request's signature the way a receiver
// would, independently of Sign.
func verifyStandardWebhook(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	if id == "" || ts == "" {
		return errors.New("missing webhook-id or webhook-timestamp")
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		return errors.New("bad timestamp")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if v, s, ok := strings.Cut(sig, ","); ok && v == "v1" && hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("no valid signature")
}

func TestSignedWebhookVerifies(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	clock := newClock()
	opt := testOptions(t, clock)
	srv := newScriptServer(t, reply{status: 502}, reply{status: 204})
	ch := parseOne(t, srv.URL+"/in?team=ops&secret="+secret, opt)
	n := sampleNotification()
	if err := ch.Notify(context.Background(), n); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		if err := verifyStandardWebhook(secret, r.Header, r.Body); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
		if r.Query != "team=ops" || r.Path != "/in" {
			t.Errorf("request %d went to %s?%s; want /in?team=ops (the secret is not sent)", i, r.Path, r.Query)
		}
		var got Notification
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(n, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("request %d body (-want +got):\n%s", i, diff)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	}
	got := [][2]string{
		{reqs[0].Header.Get("webhook-id"), reqs[0].Header.Get("webhook-timestamp")},
		{reqs[1].Header.Get("webhook-id"), reqs[1].Header.Get("webhook-timestamp")},
	}
	want := [][2]string{
		{"msg_" + n.ID, strconv.FormatInt(t0.Unix(), 10)},
		{"msg_" + n.ID, strconv.FormatInt(t0.Unix()+1, 10)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("webhook-id and timestamp per attempt (-want +got):\n%s", diff)
	}
	// The JSON body has every field of the contract.
	var fields map[string]any
	json.Unmarshal(reqs[1].Body, &fields)
	for _, f := range []string{"id", "title", "message", "priority", "timestamp", "fingerprint", "issue_count", "issues", "recommended_action"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("body has no %q", f)
		}
	}
}

func TestUnsignedWebhookHasNoSignatureHeaders(t *testing.T) {
	opt := testOptions(t, newClock())
	srv := newScriptServer(t, reply{status: 200})
	if err := parseOne(t, srv.URL, opt).Notify(context.Background(), sampleNotification()); err != nil {
		t.Fatal(err)
	}
	h := srv.requests()[0].Header
	for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		if v := h.Get(k); v != "" {
			t.Errorf("%s = %q on an unsigned webhook", k, v)
		}
	}
}

func TestSlackMessage(t *testing.T) {
	opt := testOptions(t, newClock())
	srv := newScriptServer(t, reply{status: 200, body: "ok"})
	n := sampleNotification()
	if err := parseOne(t, "slack:"+srv.URL+"/services/T0/B0/XYZ", opt).Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	var got SlackMessage
	if err := json.Unmarshal(srv.requests()[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	want := SlackMessage{
		Text: "[CRITICAL] Critical database issues need immediate attention: 2 critical issues could not be fixed automatically and need manual repair now.",
		Blocks: []SlackBlock{
			{Type: "header", Text: &SlackText{Type: "plain_text", Text: "CRITICAL: Critical database issues need immediate attention"}},
			{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: "2 critical issues could not be fixed automatically and need manual repair now."}},
			{Type: "section", Fields: []SlackText{{Type: "mrkdwn", Text: "*Priority*\nCRITICAL"}, {Type: "mrkdwn", Text: "*Issues*\n2"}}},
			{Type: "divider"},
			{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: "• [critical] member.missing_name · members #7: member.missing_name on members\n" +
				"• [critical] employment.end_before_start · member_employments #42: employment.end_before_start on member_employments"}},
			{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: "*Recommended actions*\n" + strings.Join(n.RecommendedAction, "\n")}},
			{Type: "context", Elements: []SlackText{{Type: "mrkdwn", Text: n.ID + " · 2026-11-28T02:00:00Z · fingerprint " + n.Fingerprint}}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("slack message (-want +got):\n%s", diff)
	}
}

func TestSlackMessageWithinLimits(t *testing.T) {
	many := issues(500, ip2adb.Critical, "very.long.check")
	for i := range many {
		many[i].Description = strings.Repeat("<&> long description ", 60)
	}
	n, _ := Decide(many, Policy{}, t0)
	n.Title = strings.Repeat("T", 400)
	n.Message = strings.Repeat("M", 5000)
	m := slackPayload(n)
	if len([]rune(m.Text)) > slackMaxText {
		t.Errorf("text has %d characters", len([]rune(m.Text)))
	}
	if len(m.Blocks) > slackMaxBlocks {
		t.Errorf("%d blocks", len(m.Blocks))
	}
	lines := 0
	for i, b := range m.Blocks {
		if b.Type == "header" && len([]rune(b.Text.Text)) > slackMaxHeader {
			t.Errorf("header has %d characters", len([]rune(b.Text.Text)))
		}
		if b.Text != nil && len([]rune(b.Text.Text)) > slackMaxSectionText {
			t.Errorf("block %d has %d characters", i, len([]rune(b.Text.Text)))
		}
		if b.Type == "section" && b.Text != nil && strings.HasPrefix(b.Text.Text, "• ") {
			lines += strings.Count(b.Text.Text, "\n• ") + 1
			if strings.Contains(b.Text.Text, "<&>") {
				t.Errorf("block %d is not escaped", i)
			}
		}
	}
	if lines != slackMaxIssues {
		t.Errorf("%d issues listed, want %d", lines, slackMaxIssues)
	}
	body, _ := json.Marshal(m)
	if !strings.Contains(string(body), "and 480 more") {
		t.Error("no line saying how many issues are not listed")
	}
}

func TestSlackRateLimit(t *testing.T) {
	clock := newClock()
	opt := testOptions(t, clock)
	srv := newScriptServer(t, reply{status: 200})
	ch := parseOne(t, "slack:"+srv.URL+"/services/x", opt)
	for range 3 {
		if err := ch.Notify(context.Background(), sampleNotification()); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]time.Duration{time.Second, time.Second}, clock.Sleeps()); diff != "" {
		t.Errorf("waits between messages (-want +got):\n%s", diff)
	}
	// A second channel has its own limiter.
	other := parseOne(t, "slack:"+srv.URL+"/services/y", opt)
	if err := other.Notify(context.Background(), sampleNotification()); err != nil {
		t.Fatal(err)
	}
	if got := len(clock.Sleeps()); got != 2 {
		t.Errorf("another channel waited: sleeps %v", clock.Sleeps())
	}
}

// deadURL returns an http URL of a loopback port nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestSecretsRedacted(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	addr := deadAddr(t)
	for _, tc := range []struct {
		name, url string
		secrets   []string
	}{
		{"slack path", "slack:http://" + addr + "/services/T0AAA/B0BBB/SeCrEtToKeN", []string{"SeCrEtToKeN", "T0AAA/B0BBB", "services/"}},
		{"webhook secret", "http://" + addr + "/hook/PaThToKeN0123456789?secret=" + secret, []string{secret, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "PaThToKeN"}},
		{"webhook password", "http://user:hunter2pass@" + addr + "/x", []string{"hunter2pass"}},
		{"smtp password", "smtp://user:s3cr3t-pw@" + addr + "/?from=a@example.com&to=b@example.com", []string{"s3cr3t-pw"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			opt := testOptions(t, clock)
			opt.Attempts = 2
			ch := parseOne(t, tc.url, opt)
			err := ch.Notify(context.Background(), sampleNotification())
			if err == nil {
				t.Fatal("delivered to a dead address")
			}
			t.Logf("error: %v", err)
			logText, _ := os.ReadFile(LogPath(opt.LogDir, t0))
			for _, s := range tc.secrets {
				for where, text := range map[string]string{"name": ch.Name(), "error": err.Error(), "log": string(logText)} {
					if strings.Contains(text, s) {
						t.Errorf("%s shows the secret %q: %s", where, s, text)
					}
				}
			}
			if strings.HasPrefix(tc.url, "smtp") {
				return
			}
			if !strings.Contains(err.Error(), Redacted) {
				t.Errorf("error %q does not show %s where the URL was", err, Redacted)
			}
			var de *DeliveryError
			if !errors.As(err, &de) || de.Attempts != 2 {
				t.Errorf("error %#v is not a DeliveryError after 2 attempts", err)
			}
		})
	}
}

func TestErrorBodyEchoingTheURLIsRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "no hook at "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	for _, u := range []string{srv.URL + "/hooks/TokenTokenToken12345", "slack:" + srv.URL + "/services/T0/B0/abc"} {
		opt := testOptions(t, newClock())
		err := parseOne(t, u, opt).Notify(context.Background(), sampleNotification())
		want := "HTTP 404 Not Found: no hook at /hooks/<redacted> (1 attempt, permanent)"
		if strings.HasPrefix(u, "slack:") {
			want = "HTTP 404 Not Found: no hook at <redacted> (1 attempt, permanent)"
		}
		if err == nil || err.Error() != want {
			t.Errorf("%s: error = %v, want %q", u, err, want)
		}
	}
}

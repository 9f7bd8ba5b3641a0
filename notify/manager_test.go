package notify

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ip2adb/ip2adb"
)

// recorder is a channel that records what it was sent and fails while
// failing is set.
type recorder struct {
	name    string
	mu      sync.Mutex
	got     []Notification
	failing bool
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Notify(_ context.Context, n Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return errors.New("connection refused")
	}
	r.got = append(r.got, n)
	return nil
}

func (r *recorder) setFailing(f bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failing = f
}

func (r *recorder) priorities() []Priority {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Priority
	for _, n := range r.got {
		out = append(out, n.Priority)
	}
	return out
}

func TestManagerDedup(t *testing.T) {
	clock := newClock()
	dir := t.TempDir()
	rec := &recorder{name: "rec"}
	m := &Manager{
		Channels: []Notifier{NewLogChannel(NewJournal(dir, clock.Now)), rec},
		StateDir: dir, RepeatInterval: 24 * time.Hour, Now: clock.Now,
	}
	warn := issues(3, ip2adb.Warning, "w")
	moreWarn := issues(4, ip2adb.Warning, "w")
	crit := append(slices.Clone(moreWarn), issue("c", "members", 99, ip2adb.Critical))
	reworded := slices.Clone(warn)
	reworded[0].Description = "reworded"

	const S, F, Q = Sent, Failed, Suppressed
	steps := []struct {
		name     string
		advance  time.Duration
		issues   []ip2adb.Issue
		failing  bool
		outcomes []Outcome // log, rec
		wantErr  bool
	}{
		{name: "first", issues: warn, outcomes: []Outcome{S, S}},
		{name: "same set within the interval", advance: time.Hour, issues: warn, outcomes: []Outcome{Q, Q}},
		{name: "reworded is the same", advance: time.Hour, issues: reworded, outcomes: []Outcome{Q, Q}},
		{name: "fewer issues stay quiet", advance: time.Hour, issues: warn[:2], outcomes: []Outcome{Q, Q}},
		{name: "new fingerprint", advance: time.Hour, issues: moreWarn, outcomes: []Outcome{S, S}},
		{name: "same again", advance: time.Hour, issues: moreWarn, outcomes: []Outcome{Q, Q}},
		{name: "priority rise with a failing channel", advance: time.Hour, issues: crit, failing: true, outcomes: []Outcome{S, F}, wantErr: true},
		{name: "the failed channel is retried, the other stays quiet", advance: time.Minute, issues: crit, outcomes: []Outcome{Q, S}},
		{name: "then quiet", advance: time.Hour, issues: crit, outcomes: []Outcome{Q, Q}},
		{name: "back down to warnings is quiet", advance: time.Hour, issues: moreWarn, outcomes: []Outcome{Q, Q}},
		{name: "the log's interval passes a minute before rec's", advance: 24*time.Hour - 2*time.Hour - time.Second, issues: crit, outcomes: []Outcome{S, Q}},
		{name: "rec's interval passes", advance: time.Second, issues: crit, outcomes: []Outcome{Q, S}},
		{name: "nothing to say", advance: time.Hour, issues: nil, outcomes: []Outcome{}},
	}
	var wantPrios []Priority
	for _, st := range steps {
		clock.Advance(st.advance)
		rec.setFailing(st.failing)
		rep, err := m.Alert(context.Background(), st.issues)
		if (err != nil) != st.wantErr {
			t.Fatalf("%s: Alert error %v, want error %v", st.name, err, st.wantErr)
		}
		want := Report{Deliveries: []Delivery{}}
		if len(st.outcomes) > 0 {
			n, _ := Decide(st.issues, Policy{}, clock.Now())
			want.NotificationID = n.ID
			for i, o := range st.outcomes {
				d := Delivery{Channel: m.Channels[i].Name(), Outcome: o}
				if o == Failed {
					d.Error = "connection refused"
				}
				if o == Sent {
					want.Sent = 1
				}
				want.Deliveries = append(want.Deliveries, d)
			}
			if st.outcomes[1] == Sent {
				wantPrios = append(wantPrios, n.Priority)
			}
		}
		if diff := cmp.Diff(want, rep); diff != "" {
			t.Fatalf("%s: report (-want +got):\n%s", st.name, diff)
		}
	}
	if diff := cmp.Diff(wantPrios, rec.priorities()); diff != "" {
		t.Errorf("delivered priorities (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(StatePath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v", fi.Mode().Perm())
	}
	state, _ := os.ReadFile(StatePath(dir))
	if strings.Contains(string(state), "members") {
		t.Errorf("state holds issue text: %s", state)
	}
}

func TestManagerLogOnlySavesState(t *testing.T) {
	clock := newClock()
	dir := t.TempDir()
	chans, err := ParseChannels(nil, ChannelOptions{LogDir: dir, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{Channels: chans, StateDir: dir, Now: clock.Now}
	is := issues(2, ip2adb.Critical, "c")
	for i, want := range []Outcome{Sent, Suppressed} {
		rep, err := m.Alert(context.Background(), is)
		if err != nil || len(rep.Deliveries) != 1 || rep.Deliveries[0].Outcome != want {
			t.Fatalf("run %d: Alert = %+v, %v; want the log %s", i+1, rep, err, want)
		}
	}
	var notes []string
	for _, r := range readLog(t, dir, t0) {
		notes = append(notes, r["type"].(string)+" "+r["priority"].(string))
	}
	if diff := cmp.Diff([]string{"notification critical"}, notes); diff != "" {
		t.Errorf("log records (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(LogPath(dir, t0))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("notification log: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
}

// TestManagerDedupPerChannel: after a run where one channel delivered and
// another failed, the next run retries the failed one only; a channel added
// later is told at once; state of the earlier shared format keeps working.
func TestManagerDedupPerChannel(t *testing.T) {
	clock := newClock()
	dir := t.TempDir()
	a := &recorder{name: "a"}
	b := &recorder{name: "b", failing: true}
	m := &Manager{Channels: []Notifier{a, b}, StateDir: dir, Now: clock.Now}
	is := issues(2, ip2adb.Critical, "c")
	outcomes := func(rep Report) []string {
		var out []string
		for _, d := range rep.Deliveries {
			out = append(out, d.Channel+" "+string(d.Outcome))
		}
		return out
	}
	rep, err := m.Alert(context.Background(), is)
	if err == nil || err.Error() != "b: connection refused" {
		t.Fatalf("run 1: error %v", err)
	}
	if diff := cmp.Diff([]string{"a sent", "b failed"}, outcomes(rep)); diff != "" {
		t.Errorf("run 1 (-want +got):\n%s", diff)
	}
	clock.Advance(time.Hour)
	b.setFailing(false)
	rep, err = m.Alert(context.Background(), is)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a suppressed", "b sent"}, outcomes(rep)); diff != "" {
		t.Errorf("run 2 (-want +got):\n%s", diff)
	}
	clock.Advance(time.Hour)
	c := &recorder{name: "c"}
	m.Channels = append(m.Channels, c)
	rep, err = m.Alert(context.Background(), is)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a suppressed", "b suppressed", "c sent"}, outcomes(rep)); diff != "" {
		t.Errorf("run 3, channel c added (-want +got):\n%s", diff)
	}
	if got := []int{len(a.got), len(b.got), len(c.got)}; !cmp.Equal(got, []int{1, 1, 1}) {
		t.Errorf("deliveries a, b, c = %v, want one each", got)
	}
}

// TestManagerReadsSharedState: the state file of the earlier format (one
// state for all channels) applies to every channel, and is rewritten per
// channel at the next send.
func TestManagerReadsSharedState(t *testing.T) {
	clock := newClock()
	dir := t.TempDir()
	is := issues(2, ip2adb.Critical, "c")
	n, fps, _ := decide(is, Policy{}, clock.Now())
	old, err := json.Marshal(DedupState{Fingerprint: n.Fingerprint, Priority: n.Priority, SentAt: clock.Now(),
		NotificationID: n.ID, Issues: hashFingerprints(fps)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(StatePath(dir)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(StatePath(dir), old, 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := &recorder{name: "a"}, &recorder{name: "b"}
	m := &Manager{Channels: []Notifier{a, b}, StateDir: dir, Now: clock.Now}
	clock.Advance(time.Hour)
	rep, err := m.Alert(context.Background(), is)
	if err != nil || rep.Sent != 0 || len(a.got)+len(b.got) != 0 {
		t.Fatalf("within the interval of the shared state: %+v, %v", rep, err)
	}
	// A new issue goes to both; the file now holds one state per channel.
	clock.Advance(time.Hour)
	more := issues(3, ip2adb.Critical, "c")
	b.setFailing(true)
	if rep, _ = m.Alert(context.Background(), more); rep.Sent != 1 {
		t.Fatalf("new issue: %+v", rep)
	}
	var st stateFile
	raw, _ := os.ReadFile(StatePath(dir))
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	sentAt := map[string]time.Time{}
	for name, cs := range st.Channels {
		sentAt[name] = cs.SentAt
	}
	want := map[string]time.Time{"a": t0.Add(2 * time.Hour), "b": t0}
	if diff := cmp.Diff(want, sentAt); st.Version != 2 || diff != "" {
		t.Errorf("state version %d, sent_at (-want +got):\n%s", st.Version, diff)
	}
	// b, which failed, gets it on the next run; a does not.
	b.setFailing(false)
	clock.Advance(time.Minute)
	if rep, err = m.Alert(context.Background(), more); err != nil || len(a.got) != 1 || len(b.got) != 1 {
		t.Errorf("retry: %+v, %v; a got %d, b got %d", rep, err, len(a.got), len(b.got))
	}
}

func TestDeadChannelBesideLiveOnes(t *testing.T) {
	clock := newClock()
	opt := testOptions(t, clock)
	opt.Attempts = 2
	live := newScriptServer(t, reply{status: 200})
	slackSrv := newScriptServer(t, reply{status: 200})
	dead := "http://" + deadAddr(t) + "/hook"
	chans, err := ParseChannels([]string{live.URL + "/a", dead, "slack:" + slackSrv.URL + "/services/x"}, opt)
	if err != nil {
		t.Fatal(err)
	}
	panicky := Named("panicky", Func(func(context.Context, Notification) error { panic("boom") }))
	chans = append(chans, panicky, Nop{})
	m := &Manager{Channels: chans, StateDir: opt.LogDir, Now: clock.Now}
	rep, err := m.Alert(context.Background(), issues(1, ip2adb.Critical, "c"))
	var outcomes []Outcome
	for _, d := range rep.Deliveries {
		outcomes = append(outcomes, d.Outcome)
	}
	if diff := cmp.Diff([]Outcome{Sent, Sent, Failed, Sent, Failed, Sent}, outcomes); rep.Sent != 1 || diff != "" {
		t.Errorf("sent = %d, outcomes (log, live webhook, dead, slack, panicky, nop) (-want +got):\n%s", rep.Sent, diff)
	}
	if err == nil {
		t.Fatal("no error for the dead channels")
	}
	lines := strings.Split(err.Error(), "\n")
	deadName := "webhook:" + strings.TrimSuffix(strings.TrimPrefix(dead, "http://"), "/hook")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], deadName+": ") ||
		!strings.Contains(lines[0], "connection refused (2 attempts, gave up)") || lines[1] != "panicky: channel panicked: boom" {
		t.Errorf("error = %q", err)
	}
	if len(live.requests()) != 1 || len(slackSrv.requests()) != 1 {
		t.Errorf("live channels got %d and %d requests", len(live.requests()), len(slackSrv.requests()))
	}
	if _, err := os.Stat(StatePath(opt.LogDir)); err != nil {
		t.Errorf("state not saved after live channels delivered: %v", err)
	}
}

func TestMultiResults(t *testing.T) {
	m := Multi{
		Nop{},
		Named("bad", Func(func(context.Context, Notification) error { return errors.New("nope") })),
		Func(func(ctx context.Context, n Notification) error { return ctx.Err() }),
	}
	if m.Name() != "multi(nop,bad,func)" {
		t.Errorf("Name() = %q", m.Name())
	}
	res := m.NotifyAll(context.Background(), sampleNotification())
	type row struct {
		Channel string
		Err     string
	}
	var got []row
	for _, r := range res {
		e := ""
		if r.Err != nil {
			e = r.Err.Error()
		}
		got = append(got, row{r.Channel, e})
	}
	if diff := cmp.Diff([]row{{"nop", ""}, {"bad", "nope"}, {"func", ""}}, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if err := m.Notify(context.Background(), sampleNotification()); err == nil || err.Error() != "bad: nope" {
		t.Errorf("Notify = %v", err)
	}
}

// TestManagerEveryChannelKind is the end-to-end check: unfixable critical
// issues go out through the log, email, Slack and a signed webhook on
// loopback servers, verifiably; a second run within the repeat interval sends
// nothing.
func TestManagerEveryChannelKind(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	cert, pool := selfSigned(t)
	be := &smtpBackend{user: "ops", pass: "pa55word"}
	smtpAddr := startSMTP(t, be, cert)
	hook := newScriptServer(t, reply{status: 200})
	slackSrv := newScriptServer(t, reply{status: 200, body: "ok"})
	clock := newClock()
	opt := testOptions(t, clock)
	opt.TLSConfig = &tls.Config{RootCAs: pool}
	chans, err := ParseChannels([]string{
		"smtp://ops:pa55word@" + smtpAddr + "/?from=ip2adb@example.com&to=admin@example.com",
		"slack:" + slackSrv.URL + "/services/T0/B0/XYZ",
		hook.URL + "/ip2adb?secret=" + secret,
	}, opt)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{Channels: chans, StateDir: opt.LogDir, Now: clock.Now}
	found := []ip2adb.Issue{
		issue("member.missing_name", "members", 7, ip2adb.Critical),
		issue("member.bad_phone", "members", 8, ip2adb.Warning),
	}
	for run, want := range []int{1, 0} {
		clock.Advance(time.Hour)
		rep, err := m.Alert(context.Background(), found)
		if rep.Sent != want || err != nil {
			t.Fatalf("run %d: Alert = %+v, %v; want %d sent, nil", run+1, rep, err, want)
		}
	}
	n, _ := Decide(found, Policy{}, t0.Add(time.Hour))

	// Log: the notification itself, then one delivered attempt per channel.
	var logged []string
	for _, r := range readLog(t, opt.LogDir, t0) {
		switch r["type"] {
		case RecordNotification:
			logged = append(logged, "notification "+r["id"].(string)+" "+r["priority"].(string))
		case RecordAttempt:
			logged = append(logged, r["channel"].(string)+" "+r["outcome"].(string))
		}
	}
	slices.Sort(logged)
	wantLogged := []string{"notification " + n.ID + " critical", "slack delivered", "smtp:" + smtpAddr + " delivered",
		"webhook:" + strings.TrimPrefix(hook.URL, "http://") + " delivered"}
	slices.Sort(wantLogged)
	if diff := cmp.Diff(wantLogged, logged); diff != "" {
		t.Errorf("notification log (-want +got):\n%s", diff)
	}
	// Email: over STARTTLS, authenticated, the critical issue in the body.
	msgs := be.messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != "ops" {
		t.Fatalf("mails %+v", msgs)
	}
	_, _, subject, body := mailParts(t, msgs[0].Data)
	if subject != "[ip2adb CRITICAL] Critical database issues need immediate attention" || body != EmailBody(n) {
		t.Errorf("mail subject %q body:\n%s", subject, body)
	}
	// Slack: one message naming the issue.
	if reqs := slackSrv.requests(); len(reqs) != 1 || !strings.Contains(string(reqs[0].Body), "member.missing_name · members #7") {
		t.Errorf("slack got %d requests", len(reqs))
	}
	// Webhook: signed, verifiable, the notification as its body.
	reqs := hook.requests()
	if len(reqs) != 1 {
		t.Fatalf("webhook got %d requests", len(reqs))
	}
	if err := verifyStandardWebhook(secret, reqs[0].Header, reqs[0].Body); err != nil {
		t.Error(err)
	}
	var got Notification
	if err := json.Unmarshal(reqs[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(n, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("webhook body (-want +got):\n%s", diff)
	}
}

// TestNotificationCapped: 5,000 critical issues make a webhook body and a
// notification-log line of 100 issues, with issue_count 5000 and
// issues_truncated 4900 — not a 2 MB body that receivers refuse with 413.
func TestNotificationCapped(t *testing.T) {
	clock := newClock()
	opt := testOptions(t, clock)
	hook := newScriptServer(t, reply{status: 204})
	chans, err := ParseChannels([]string{hook.URL + "/hook"}, opt)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{Channels: chans, StateDir: opt.LogDir, Now: clock.Now}
	if rep, err := m.Alert(context.Background(), issues(5000, ip2adb.Critical, "c")); err != nil || rep.Sent != 1 {
		t.Fatalf("Alert = %+v, %v", rep, err)
	}
	type shape struct {
		Count, Attached, Truncated int
		FirstID, LastID            int64
		Small                      bool
	}
	want := shape{5000, 100, 4900, 1, 100, true}
	decode := func(what string, b []byte) {
		t.Helper()
		var n Notification
		if err := json.Unmarshal(b, &n); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(n.Issues) == 0 {
			t.Fatalf("%s: no issues attached", what)
		}
		got := shape{n.IssueCount, len(n.Issues), n.IssuesTruncated, *n.Issues[0].RecordID, *n.Issues[len(n.Issues)-1].RecordID, len(b) < 64<<10}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (%d bytes) (-want +got):\n%s", what, len(b), diff)
		}
	}
	reqs := hook.requests()
	if len(reqs) != 1 {
		t.Fatalf("webhook got %d requests", len(reqs))
	}
	decode("webhook body", reqs[0].Body)
	raw, err := os.ReadFile(LogPath(opt.LogDir, t0))
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for l := range strings.Lines(string(raw)) {
		if strings.HasPrefix(l, `{"type":"notification"`) {
			line = l
		}
	}
	decode("notification log line", []byte(line))
	if !strings.Contains(line, `"issues_truncated":4900`) || !strings.Contains(string(reqs[0].Body), `"issues_truncated":4900`) {
		t.Errorf("issues_truncated is not in the JSON")
	}
}

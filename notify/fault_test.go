package notify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
)

func TestCancelledWhileWaitingToRetry(t *testing.T) {
	opt := testOptions(t, newClock())
	opt.Sleep = nil // the real timer
	opt.BaseDelay = time.Hour
	srv := newScriptServer(t, reply{status: 503})
	ch := parseOne(t, srv.URL, opt)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := ch.Notify(ctx, sampleNotification())
	if err == nil || err.Error() != "HTTP 503 Service Unavailable; context deadline exceeded (1 attempt, gave up)" {
		t.Errorf("Notify = %v", err)
	}
}

func TestUnwritableLogDir(t *testing.T) {
	clock := newClock()
	opt := testOptions(t, clock)
	blocker := filepath.Join(opt.LogDir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	opt.LogDir = blocker // a file where a directory should be
	srv := newScriptServer(t, reply{status: 200})
	chans, err := ParseChannels([]string{srv.URL}, opt)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{Channels: chans, StateDir: blocker, Now: clock.Now}
	rep, err := m.Alert(context.Background(), issues(1, ip2adb.Critical, "c"))
	if rep.Sent != 1 || err == nil {
		t.Fatalf("Alert = %+v, %v; want the webhook delivered and the log and state errors", rep, err)
	}
	for _, want := range []string{"log: notification log: mkdir", "save dedup state: mkdir"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if len(srv.requests()) != 1 {
		t.Errorf("webhook got %d requests", len(srv.requests()))
	}
}

func TestCorruptStateIsReplaced(t *testing.T) {
	clock := newClock()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Dir(StatePath(dir)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(StatePath(dir), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{name: "rec"}
	m := &Manager{Channels: []Notifier{rec}, StateDir: dir, Now: clock.Now}
	is := issues(2, ip2adb.Warning, "w")
	for run, want := range []int{1, 0} {
		if rep, err := m.Alert(context.Background(), is); rep.Sent != want || err != nil {
			t.Fatalf("run %d: Alert = %+v, %v; want %d sent, nil", run+1, rep, err, want)
		}
	}
}

func TestDescribeIssue(t *testing.T) {
	for _, tc := range []struct {
		is   ip2adb.Issue
		want string
	}{
		{issue("c", "members", 3, ip2adb.Warning), "[warning] c · members #3: c on members"},
		{ip2adb.Issue{Check: "dup", Table: "members", Severity: ip2adb.Info, Key: map[string]any{"member_number": "7000001", "a": 1}},
			"[info] dup · members (a=1, member_number=7000001)"},
	} {
		if got := describeIssue(tc.is); got != tc.want {
			t.Errorf("describeIssue = %q, want %q", got, tc.want)
		}
	}
}

func TestPriorityRank(t *testing.T) {
	var got []int
	for _, p := range []Priority{"", Low, Medium, High, Critical, "bogus"} {
		got = append(got, p.Rank())
	}
	if diff := cmp.Diff([]int{0, 1, 2, 3, 4, 0}, got); diff != "" {
		t.Errorf("ranks (-want +got):\n%s", diff)
	}
}

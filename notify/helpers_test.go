package notify

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ip2adb/ip2adb"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)

// fakeClock is a clock whose Sleep records the wait and advances time.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	return ctx.Err()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// testOptions are channel options for tests: fake clock, no jitter, short
// per-attempt timeout, log under a temporary directory.
func testOptions(t *testing.T, c *fakeClock) ChannelOptions {
	t.Helper()
	return ChannelOptions{
		LogDir:  t.TempDir(),
		Timeout: 2 * time.Second,
		Now:     c.Now,
		Sleep:   c.Sleep,
		Jitter:  func(d time.Duration) time.Duration { return d },
	}
}

// parseOne parses the single channel u (after the log channel).
func parseOne(t *testing.T, u string, opt ChannelOptions) Notifier {
	t.Helper()
	chans, err := ParseChannels([]string{u}, opt)
	if err != nil {
		t.Fatalf("ParseChannels(%q): %v", u, err)
	}
	if len(chans) != 2 {
		t.Fatalf("ParseChannels(%q): %d channels, want 2", u, len(chans))
	}
	return chans[1]
}

// readLog returns the records of the day's notification log as generic maps.
func readLog(t *testing.T, logDir string, day time.Time) []map[string]any {
	t.Helper()
	f, err := os.Open(LogPath(logDir, day))
	if err != nil {
		t.Fatalf("open notification log: %v", err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("notification log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// attempts returns the attempt records of the log as (channel, attempt,
// outcome, status) tuples, without durations and errors.
type attemptKey struct {
	Channel string
	Attempt int
	Outcome string
	Status  int
}

func attemptsOf(t *testing.T, logDir string) []attemptKey {
	t.Helper()
	var out []attemptKey
	for _, r := range readLog(t, logDir, t0) {
		if r["type"] != RecordAttempt {
			continue
		}
		st, _ := r["status"].(float64)
		out = append(out, attemptKey{r["channel"].(string), int(r["attempt"].(float64)), r["outcome"].(string), int(st)})
	}
	return out
}

// sampleNotification is a small critical notification.
func sampleNotification() Notification {
	n, _ := Decide([]ip2adb.Issue{
		issue("member.missing_name", "members", 7, ip2adb.Critical),
		issue("employment.end_before_start", "member_employments", 42, ip2adb.Critical),
	}, Policy{}, t0)
	return n
}

// issue is a row issue.
func issue(check, table string, id int64, sev ip2adb.Severity) ip2adb.Issue {
	return ip2adb.Issue{
		Check: check, Category: ip2adb.CategoryDataAnomaly, Severity: sev, Table: table,
		RecordID: ip2adb.Ptr(id), Description: check + " on " + table,
	}
}

// issues returns n issues of one severity, distinct by record id.
func issues(n int, sev ip2adb.Severity, check string) []ip2adb.Issue {
	out := make([]ip2adb.Issue, n)
	for i := range out {
		out[i] = issue(check, "members", int64(i+1), sev)
	}
	return out
}

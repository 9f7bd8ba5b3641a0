package heal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/dbx"
)

func rec(id string, at time.Time, found, fixed, attention int, ok bool) heal.Record {
	return heal.Record{RunID: id, Timestamp: at, IssuesFound: found, IssuesFixed: fixed,
		IssuesRequiringAttention: attention, Success: ok}
}

func TestSummaryStatusThresholdsAndRate(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		name string
		recs []heal.Record
		want heal.HealthSummary
	}{
		{"no runs", nil, heal.HealthSummary{PeriodDays: 7, Status: "unknown"}},
		{"healthy", []heal.Record{rec("a", clock.Add(-day), 3, 2, 1, true), rec("b", clock.Add(-time.Hour), 0, 0, 0, true)},
			heal.HealthSummary{PeriodDays: 7, TotalRuns: 2, SuccessfulRuns: 2, IssuesFound: 3, IssuesFixed: 2,
				IssuesRequiringAttention: 1, AutoFixRate: 66.7, Status: "healthy"}},
		{"fair above 100 found", []heal.Record{rec("a", clock.Add(-day), 101, 100, 1, true)},
			heal.HealthSummary{PeriodDays: 7, TotalRuns: 1, SuccessfulRuns: 1, IssuesFound: 101, IssuesFixed: 100,
				IssuesRequiringAttention: 1, AutoFixRate: 99, Status: "fair"}},
		{"warning above 10 attention", []heal.Record{rec("a", clock.Add(-day), 11, 0, 11, false)},
			heal.HealthSummary{PeriodDays: 7, TotalRuns: 1, IssuesFound: 11, IssuesRequiringAttention: 11, Status: "warning"}},
		{"exactly 10 is not a warning", []heal.Record{rec("a", clock.Add(-day), 10, 0, 10, true)},
			heal.HealthSummary{PeriodDays: 7, TotalRuns: 1, SuccessfulRuns: 1, IssuesFound: 10, IssuesRequiringAttention: 10, Status: "healthy"}},
		{"critical above 50 attention", []heal.Record{rec("a", clock.Add(-2*day), 30, 0, 30, true), rec("b", clock.Add(-day), 21, 0, 21, true)},
			heal.HealthSummary{PeriodDays: 7, TotalRuns: 2, SuccessfulRuns: 2, IssuesFound: 51, IssuesRequiringAttention: 51, Status: "critical"}},
		{"older runs and dry runs left out", []heal.Record{rec("old", clock.Add(-8*day), 500, 0, 500, true),
			{RunID: "dry", Timestamp: clock.Add(-time.Hour), IssuesFound: 90, IssuesFixed: 90, DryRun: true, Success: true}},
			heal.HealthSummary{PeriodDays: 7, Status: "unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, r := range tc.recs {
				if err := heal.AppendRecord(dir, r); err != nil {
					t.Fatal(err)
				}
			}
			got, err := heal.Summary(dir, 7, clock)
			if err != nil {
				t.Fatal(err)
			}
			var last *heal.Record
			for i, r := range tc.recs {
				if !r.DryRun && clock.Sub(r.Timestamp) <= 7*day {
					last = &tc.recs[i]
				}
			}
			tc.want.MostRecentRun = last
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestHistoryLayoutAndDue(t *testing.T) {
	dir := t.TempDir()
	due, last, err := heal.Due(dir, 24*time.Hour, clock)
	if err != nil || !due || !last.IsZero() {
		t.Fatalf("no history: due %v last %v err %v", due, last, err)
	}
	msg := "boom"
	if err := heal.AppendRecord(dir, heal.Record{RunID: "AH-1", Timestamp: clock, ErrorMessage: &msg}); err != nil {
		t.Fatal(err)
	}
	if due, _, _ := heal.Due(dir, 24*time.Hour, clock); !due {
		t.Error("a failed run made the next one not due")
	}
	if err := heal.AppendRecord(dir, heal.Record{RunID: "AH-2", Timestamp: clock, Success: true, DurationMS: 5}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "auto_heal", "2026-11-28_auto_heal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"run_id":"AH-1","timestamp":"2026-11-28T02:00:00Z","issues_found":0,"issues_fixed":0,"issues_requiring_attention":0,"notifications_sent":0,"success":false,"error_message":"boom","dry_run":false,"duration_ms":0}
{"run_id":"AH-2","timestamp":"2026-11-28T02:00:00Z","issues_found":0,"issues_fixed":0,"issues_requiring_attention":0,"notifications_sent":0,"success":true,"error_message":null,"dry_run":false,"duration_ms":5}
`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("history file (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{{clock.Add(23 * time.Hour), false}, {clock.Add(24 * time.Hour), true}} {
		due, last, err := heal.Due(dir, 24*time.Hour, tc.at)
		if err != nil || due != tc.want || !last.Equal(clock) {
			t.Errorf("Due at %v = %v, %v, %v; want %v", tc.at, due, last, err, tc.want)
		}
	}
	if err := heal.AppendRecord(dir, heal.Record{RunID: "AH-3", Timestamp: clock, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	// History files are private (they name what was repaired), and no
	// temporary file stays behind.
	entries, err := os.ReadDir(filepath.Join(dir, "auto_heal"))
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]os.FileMode{}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		modes[e.Name()] = info.Mode().Perm()
	}
	if diff := cmp.Diff(map[string]os.FileMode{".last_run": 0o600, "2026-11-28_auto_heal.jsonl": 0o600}, modes); diff != "" {
		t.Errorf("auto_heal/ (-want +got):\n%s", diff)
	}
	if st, err := os.Stat(filepath.Join(dir, "auto_heal")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("auto_heal dir: %v %v, want mode 0700", st.Mode(), err)
	}
}

// TestDueWithABadLastRun: a corrupt .last_run, or one in the future, would
// stop --if-due runs forever (exit 2, or "not due" for ever): it is due,
// with a warning.
func TestDueWithABadLastRun(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          heal.DueStatus
	}{
		{"corrupt", "yesterday\n", heal.DueStatus{Due: true, Warning: "%s does not hold a time; the run is treated as due"}},
		{"empty", "", heal.DueStatus{Due: true, Warning: "%s does not hold a time; the run is treated as due"}},
		{"future", "2027-01-01T00:00:00Z\n", heal.DueStatus{Due: true, Warning: "%s holds 2027-01-01T00:00:00Z, which is in the future (clock moved back?); the run is treated as due"}},
		{"recent", clock.Add(-time.Hour).Format(time.RFC3339) + "\n", heal.DueStatus{Due: false, LastRun: clock.Add(-time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "auto_heal", ".last_run")
			if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := heal.CheckDue(dir, 24*time.Hour, clock)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want.Warning != "" {
				want.Warning = fmt.Sprintf(want.Warning, name)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("CheckDue (-want +got):\n%s", diff)
			}
			if due, _, err := heal.Due(dir, 24*time.Hour, clock); err != nil || due != want.Due {
				t.Errorf("Due = %v, %v; want %v", due, err, want.Due)
			}
		})
	}
}

// TestHistorySkipsBadLines: one bad line (a write cut short by a full
// disk, a hand edit) is skipped with a warning naming file and line; the
// other records still count. A record appended after a line cut short
// starts on a line of its own.
func TestHistorySkipsBadLines(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "auto_heal", "2026-11-27_auto_heal.jsonl")
	if err := heal.AppendRecord(dir, rec("AH-1", clock.Add(-24*time.Hour), 4, 4, 0, true)); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{nope\n{}\n\n{\"run_id\":\"AH-cut")
	f.Close()
	if err := heal.AppendRecord(dir, rec("AH-2", clock.Add(-23*time.Hour), 2, 1, 1, true)); err != nil {
		t.Fatal(err)
	}
	recs, warnings, err := heal.ReadHistory(dir, clock.Add(-7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.RunID)
	}
	if diff := cmp.Diff([]string{"AH-1", "AH-2"}, ids); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	wantWarnings := []string{
		"history " + name + " line 2 is not a run record; skipped",
		"history " + name + " line 3 is not a run record; skipped",
		"history " + name + " line 5 is not a run record; skipped",
	}
	if diff := cmp.Diff(wantWarnings, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	s, err := heal.Summary(dir, 7, clock)
	if err != nil {
		t.Fatal(err)
	}
	if s.TotalRuns != 2 || s.IssuesFound != 6 {
		t.Errorf("summary counts %d runs, %d found; want 2, 6", s.TotalRuns, s.IssuesFound)
	}
	if diff := cmp.Diff(wantWarnings, s.Warnings); diff != "" {
		t.Errorf("summary warnings (-want +got):\n%s", diff)
	}
}

func TestInMemorySQLiteLock(t *testing.T) {
	db, err := dbx.Open(context.Background(), "sqlite::memory:", dbx.OpenOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := heal.AcquireLock(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := heal.AcquireLock(context.Background(), db); !errors.Is(err, heal.ErrLocked) {
		t.Errorf("second lock: %v", err)
	}
	l.Release()
	l, err = heal.AcquireLock(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
}

package heal_test

import (
	"context"
	"errors"
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
	// A malformed .last_run or history line is an error, not "due".
	os.WriteFile(filepath.Join(dir, "auto_heal", ".last_run"), []byte("yesterday"), 0o644)
	if _, _, err := heal.Due(dir, time.Hour, clock); err == nil {
		t.Error("malformed .last_run accepted")
	}
	os.WriteFile(filepath.Join(dir, "auto_heal", "2026-11-27_auto_heal.jsonl"), []byte("{nope\n"), 0o644)
	if _, err := heal.Summary(dir, 7, clock); err == nil {
		t.Error("malformed history accepted")
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

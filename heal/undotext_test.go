package heal_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/heal"
)

func TestWriteUndoText(t *testing.T) {
	ids := make([]int64, 23)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	steps := []heal.UndoStep{{Check: "employment.orphaned_member", Table: "member_employments", Action: "soft_delete", Rows: 2}}
	for _, tc := range []struct {
		name string
		opt  heal.TextOptions
		res  heal.UndoResult
		want string
	}{
		{"undone, escaped", heal.TextOptions{}, heal.UndoResult{RunID: "UN-1", Undoes: "AH-\x1b[2J", Rows: 2, Steps: []heal.UndoStep{
			{Check: "evil\x1b[31m\ncheck", Table: "members\u202e", Action: "delete", Rows: 2}}},
			`Undid AH-\x1b[2J as run UN-1: 2 rows restored` + "\n" +
				`  delete       members\u202e                2  evil\x1b[31m check` + "\n" +
				"Redo with: ip2adb undo UN-1\n"},
		{"dry run", heal.TextOptions{}, heal.UndoResult{RunID: "UN-2", Undoes: "AH-1", DryRun: true, Rows: 2, Steps: steps},
			"Dry run: undoing AH-1 would restore 2 rows (nothing was changed)\n" +
				"  soft_delete  member_employments           2  employment.orphaned_member\n"},
		{"partly blocked, own command", heal.TextOptions{UndoCommand: "hallctl undo"}, heal.UndoResult{RunID: "UN-3", Undoes: "AH-1", Rows: 2, Steps: steps,
			Blocked: []heal.BlockedRows{{Table: "member_employments", Constraint: "fk_org", Rows: 23, RecordIDs: ids}}},
			"Undid AH-1 as run UN-3: 2 rows restored\n" +
				"  soft_delete  member_employments           2  employment.orphaned_member\n" +
				"Blocked, left as they are (restore the parents first, then run hallctl undo AH-1 again):\n" +
				"  member_employments          23  fk_org (ids 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 … and 3 more)\n" +
				"Redo with: hallctl undo UN-3\n"},
		{"blocked by keys", heal.TextOptions{}, heal.UndoResult{RunID: "UN-6", Undoes: "AH-7", Rows: 1, Steps: steps,
			Blocked: []heal.BlockedRows{{Table: "contracts", Constraint: "fk_hall", Rows: 2, Keys: []string{`{"code":"C-17"}`, `{"code":"C-\u001b18"}`}}}},
			"Undid AH-7 as run UN-6: 1 rows restored\n" +
				"  soft_delete  member_employments           2  employment.orphaned_member\n" +
				"Blocked, left as they are (restore the parents first, then run ip2adb undo AH-7 again):\n" +
				`  contracts                    2  fk_hall (keys {"code":"C-17"}, {"code":"C-\u001b18"})` + "\n" +
				"Redo with: ip2adb undo UN-6\n"},
		{"nothing restored", heal.TextOptions{}, heal.UndoResult{RunID: "UN-4", Undoes: "AH-1",
			Blocked: []heal.BlockedRows{{Table: "members", Constraint: "uq_number", Rows: 1, RecordIDs: []int64{9}}}},
			"Nothing of AH-1 could be restored (nothing was changed)\n" +
				"Blocked, left as they are (restore the parents first, then run ip2adb undo AH-1 again):\n" +
				"  members                      1  uq_number (ids 9)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := tc.opt.WriteUndoText(&b, tc.res); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	var b strings.Builder
	if err := heal.WriteUndoText(&b, heal.UndoResult{RunID: "UN-5", Undoes: "AH-2", Rows: 1}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("Undid AH-2 as run UN-5: 1 rows restored\nRedo with: ip2adb undo UN-5\n", b.String()); diff != "" {
		t.Errorf("WriteUndoText (-want +got):\n%s", diff)
	}
}

func TestWriteHistoryText(t *testing.T) {
	at := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	msg := "lock held\nby another run"
	recs := []heal.Record{
		{RunID: "AH-1", Timestamp: at, IssuesFound: 12, IssuesFixed: 10, IssuesRequiringAttention: 2, NotificationsSent: 1, Success: true, DurationMS: 340},
		{RunID: "AH-2\x1b[2J", Timestamp: at.Add(time.Hour), Success: false, DryRun: true, ErrorMessage: &msg, DurationMS: 5},
	}
	var b strings.Builder
	if err := heal.WriteRecordsText(&b, recs); err != nil {
		t.Fatal(err)
	}
	want := "  2026-11-28 02:00:00  AH-1                       found 12 · fixed 10 · attention 2 · notified 1 · 340ms  ok\n" +
		`  2026-11-28 03:00:00  AH-2\x1b[2J                found 0 · fixed 0 · attention 0 · notified 0 · 5ms  FAILED · dry run · lock held by another run` + "\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteRecordsText (-want +got):\n%s", diff)
	}
	b.Reset()
	if err := heal.WriteRecordsText(&b, nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("  none\n", b.String()); diff != "" {
		t.Errorf("WriteRecordsText of none (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		s    heal.HealthSummary
		want string
	}{
		{heal.HealthSummary{PeriodDays: 7, TotalRuns: 3, SuccessfulRuns: 2, IssuesFound: 40, IssuesFixed: 30, IssuesRequiringAttention: 10,
			AutoFixRate: 75, Status: heal.StatusHealthy, MostRecentRun: &recs[0]},
			"Health summary, last 7 days: HEALTHY\n  runs 3 (2 successful)\n  issues found 40 · fixed 30 · requiring attention 10\n" +
				"  auto-fix rate 75.0 %\n  most recent run AH-1 at 2026-11-28 02:00:00 UTC\n"},
		{heal.HealthSummary{PeriodDays: 30, Status: heal.StatusUnknown},
			"Health summary, last 30 days: UNKNOWN\n  runs 0 (0 successful)\n  issues found 0 · fixed 0 · requiring attention 0\n  auto-fix rate 0.0 %\n"},
	} {
		b.Reset()
		if err := heal.WriteSummaryText(&b, tc.s); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, b.String()); diff != "" {
			t.Errorf("WriteSummaryText (-want +got):\n%s", diff)
		}
	}
}

package heal_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/jmoiron/sqlx"
)

func TestPlan(t *testing.T) {
	fixes := []ip2adb.Fix{{Action: ip2adb.ActionDelete, Table: "t", Where: "id IN (?)", Args: []any{1}},
		{Action: ip2adb.ActionSetNull, Table: "u", Column: "c", Where: "id IN (?)", Args: []any{2}}}
	want := []heal.Planned{{Check: "x.y", Fix: fixes[0]}, {Check: "x.y", Fix: fixes[1]}}
	if diff := cmp.Diff(want, heal.Plan("x.y", fixes...)); diff != "" {
		t.Errorf("Plan (-want +got):\n%s", diff)
	}
	if got := heal.Plan("x.y"); got != nil {
		t.Errorf("Plan of no fixes = %v, want nil", got)
	}
}

// TestChosenRecordFixesAreJournaled: the records a Choose function picks,
// planned with Plan and integrity.RecordFixes over the live schema, are
// repaired in the run's transaction (soft-deleted: file_attachments has
// is_deleted) and undone with it.
func TestChosenRecordFixesAreJournaled(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		model, err := catalog.Read(ctx(t), db, catalog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		live := func() int {
			t.Helper()
			return testdb.Count(t, db, "file_attachments", "id IN (1, 6) AND NOT is_deleted")
		}
		cy := cycle(db, t.TempDir())
		cy.Model = model
		cy.Choose = func(context.Context, integrity.Report) ([]heal.Planned, error) {
			chosen := []ip2adb.Issue{
				{Table: "file_attachments", RecordID: ip2adb.Ptr(int64(1))},
				{Table: "file_attachments", RecordID: ip2adb.Ptr(int64(6))},
			}
			return heal.Plan(ip2a.AttachmentFileMissing, integrity.RecordFixes(model, ip2adb.ActionDelete, chosen)...), nil
		}
		res, err := cy.Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		var got []heal.RepairResult
		for _, r := range res.Repairs {
			if r.Check == ip2a.AttachmentFileMissing {
				got = append(got, r)
			}
		}
		want := []heal.RepairResult{{Check: ip2a.AttachmentFileMissing, Action: ip2adb.ActionSoftDelete, Table: "file_attachments", Rows: 2}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("chosen repairs (-want +got):\n%s", diff)
		}
		if n := live(); n != 0 {
			t.Errorf("%d chosen attachments still live after the run", n)
		}
		if _, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow}); err != nil {
			t.Fatal(err)
		}
		if n := live(); n != 2 {
			t.Errorf("%d of the 2 chosen attachments live after the undo", n)
		}
	}, testdb.WithSchema())
}

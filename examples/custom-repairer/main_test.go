package main

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/dbtest"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity/integritytest"
	"github.com/jmoiron/sqlx"
)

// names returns the members' names as stored, by id.
func names(t *testing.T, db *sqlx.DB) []string {
	t.Helper()
	var out []string
	if err := db.Select(&out, `SELECT '[' || first_name || '|' || last_name || ']' FROM members ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCustomRepairerAndUndo runs the cycle with the custom check and
// repairer beside the IP2A rules, then undoes it from Go: the names are
// trimmed and the backward employment repaired in one journaled run, and
// the undo restores both byte for byte.
func TestCustomRepairerAndUndo(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		if err := sample(ctx, db); err != nil {
			t.Fatal(err)
		}
		integritytest.Run(t, db, UntrimmedNames())
		before := names(t, db)

		c := Cycle(db, t.TempDir())
		if err := c.Validate(ctx); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		res, err := c.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		type repair struct {
			Check  string
			Action ip2adb.Action
			Rows   int64
		}
		var got []repair
		for _, r := range res.Repairs {
			got = append(got, repair{r.Check, r.Action, r.Rows})
		}
		want := []repair{
			{"employment.end_before_start", ip2adb.ActionSetNull, 1},
			{"local.member_untrimmed_name", ActionTrim, 2},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("repairs (-want +got):\n%s", d)
		}
		if res.Summary.Remaining != 0 {
			t.Errorf("remaining = %d, want 0", res.Summary.Remaining)
		}
		if d := cmp.Diff([]string{"[Ann|Lee]", "[Bo|Diaz]", "[Cy|Ng]"}, names(t, db)); d != "" {
			t.Errorf("names after the run (-want +got):\n%s", d)
		}

		u, err := heal.Undo(ctx, db, res.RunID, heal.UndoOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if u.Rows != 3 {
			t.Errorf("undo restored %d rows, want 3", u.Rows)
		}
		if d := cmp.Diff(before, names(t, db)); d != "" {
			t.Errorf("names after the undo (-want +got):\n%s", d)
		}
		if n := dbtest.Count(t, db, "member_employments", "end_date IS NOT NULL"); n != 1 {
			t.Errorf("after the undo %d employments have an end date, want 1 (restored)", n)
		}
	})
}

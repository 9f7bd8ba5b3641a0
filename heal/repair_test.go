package heal_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// repairOnce runs one SQLRepairer step in its own committed run.
func repairOnce(t *testing.T, db *sqlx.DB, runID string, fix ip2adb.Fix) (int64, error) {
	t.Helper()
	c := context.Background()
	tx, err := db.BeginTxx(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := heal.EnsureJournal(c, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(tx.Rebind(`INSERT INTO `+ownstate.Name(dbx.DialectOf(db), ownstate.Runs)+` (run_id, kind, stamp, started_at) VALUES (?, 'repair', ?, ?)`), runID, clock, clock); err != nil {
		t.Fatal(err)
	}
	n, err := heal.SQLRepairer{}.Repair(c, tx, heal.Step{RunID: runID, Seq: 1, Check: "test.check", Stamp: clock}, fix)
	if err != nil {
		return n, err
	}
	return n, tx.Commit()
}

func TestSQLRepairerRefusesBadFixes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		before := testdb.Digests(t, db)
		for _, tc := range []struct {
			name string
			fix  ip2adb.Fix
			want string
		}{
			{"no predicate", ip2adb.Fix{Action: ip2adb.ActionDelete, Table: "members"}, "fix has no predicate"},
			{"injected table name", ip2adb.Fix{Action: ip2adb.ActionDelete, Table: "members; DROP TABLE members", Where: "id = 1"}, "invalid table name"},
			{"missing table", ip2adb.Fix{Action: ip2adb.ActionDelete, Table: "nope", Where: "id = 1"}, "table nope does not exist"},
			{"unknown column", ip2adb.Fix{Action: ip2adb.ActionSetValue, Table: "members", Column: "status\" = 'x", Value: "x", Where: "id = 1"}, `has no column "status\" = 'x"`},
			{"id column", ip2adb.Fix{Action: ip2adb.ActionSetNull, Table: "members", Column: "id", Where: "id = 1"}, `column "id" is part of the primary key`},
			{"soft delete without soft-delete columns", ip2adb.Fix{Action: ip2adb.ActionSoftDelete, Table: "member_employments", Where: "id = 1"}, "table member_employments has no soft-delete column"},
			{"unknown action", ip2adb.Fix{Action: "truncate", Table: "members", Where: "id = 1"}, `unknown action "truncate"`},
			{"bad SQL", ip2adb.Fix{Action: ip2adb.ActionDelete, Table: "members", Where: "no_such_column = 1"}, "repair test.check: journal:"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := repairOnce(t, db, "T-"+strings.ReplaceAll(tc.name, " ", "-"), tc.fix)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want %q", err, tc.want)
				}
			})
		}
		if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
			t.Errorf("refused fixes changed the database (-want +got):\n%s", diff)
		}
	}, testdb.WithSchema())
}

// A table without updated_at: undo recognises "unchanged since the run"
// by the after-image the repairer journals.
func TestRepairAndUndoOnATableWithoutUpdatedAt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		testdb.MustExec(t, db, `CREATE TABLE widgets (id integer PRIMARY KEY, name varchar(20), price numeric(10,2), made date, active boolean NOT NULL)`)
		testdb.MustExec(t, db, `INSERT INTO widgets VALUES (1, 'a', 1.50, '2024-01-02', TRUE), (2, 'b', NULL, NULL, TRUE), (3, 'c', 3.25, '2023-12-31', FALSE)`)
		widgets := func() []string {
			return states(t, db, `SELECT id, name, price, made, CASE WHEN active THEN 1 ELSE 0 END FROM widgets ORDER BY id`)
		}
		before := widgets()
		n, err := repairOnce(t, db, "W-1", ip2adb.Fix{Action: ip2adb.ActionSetValue, Table: "widgets", Column: "active", Value: false, Where: "active AND id <= ?", Args: []any{2}})
		if err != nil || n != 2 {
			t.Fatalf("repair: %d, %v", n, err)
		}
		healed := widgets()
		if diff := cmp.Diff([]string{"1|a|1.50|2024-01-02|0", "2|b|NULL|NULL|0", "3|c|3.25|2023-12-31|0"}, normalizeNumeric(healed)); diff != "" {
			t.Errorf("repaired (-want +got):\n%s", diff)
		}
		// Changed after the run: refused.
		testdb.MustExec(t, db, `UPDATE widgets SET name = 'bb' WHERE id = 2`)
		_, err = heal.Undo(ctx(t), db, "W-1", heal.UndoOptions{Now: fixedNow})
		var ce *heal.ConflictError
		if !errors.As(err, &ce) || cmp.Diff([]string{"widgets#2"}, ce.Examples) != "" {
			t.Fatalf("undo: %v", err)
		}
		testdb.MustExec(t, db, `UPDATE widgets SET name = 'b' WHERE id = 2`)
		if _, err := heal.Undo(ctx(t), db, "W-1", heal.UndoOptions{Now: fixedNow}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, widgets()); diff != "" {
			t.Errorf("after undo (-want +got):\n%s", diff)
		}
	})
}

// normalizeNumeric renders SQLite's 1.5 like PostgreSQL's 1.50.
func normalizeNumeric(rows []string) []string {
	r := strings.NewReplacer("|1.5|", "|1.50|")
	out := make([]string, len(rows))
	for i, s := range rows {
		out[i] = r.Replace(s)
	}
	return out
}

// TestUpdateAfterImages: on PostgreSQL the after-image of a row a repair
// updated holds the columns the repair set, on SQLite the whole row; undo
// reads either (TestUndoRefusesWhenRowsChangedUnlessForced edits the other
// columns).
func TestUpdateAfterImages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		if _, err := cycle(db, "").Run(ctx(t)); err != nil {
			t.Fatal(err)
		}
		d := dbx.DialectOf(db)
		var rows []struct {
			Table  string `db:"table_name"`
			Key    string `db:"record_key"`
			Before string `db:"before_image"`
			After  string `db:"after_image"`
		}
		if err := db.Select(&rows, `SELECT table_name, record_key, before_image, after_image FROM `+ownstate.Name(d, ownstate.Journal)+
			` WHERE after_image IS NOT NULL ORDER BY table_name, record_id`); err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, r := range rows {
			var before, after map[string]any
			if err := json.Unmarshal([]byte(r.Before), &before); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(r.After), &after); err != nil {
				t.Fatal(err)
			}
			var cols []string
			for c := range after {
				cols = append(cols, c)
			}
			slices.Sort(cols)
			if len(after) == len(before) {
				cols = []string{"(whole row)"}
			}
			got[r.Table+"#"+r.Key] = cols
		}
		want := map[string][]string{
			`file_attachments#{"id" : 2}`:      {"deleted_at", "is_deleted", "updated_at"},
			`file_attachments#{"id" : 3}`:      {"deleted_at", "is_deleted", "updated_at"},
			`file_attachments#{"id" : 4}`:      {"deleted_at", "is_deleted", "updated_at"},
			`file_attachments#{"id" : 5}`:      {"deleted_at", "is_deleted", "updated_at"},
			`member_employments#{"id" : 4}`:    {"end_date", "updated_at"},
			`member_employments#{"id" : 5}`:    {"is_current", "updated_at"},
			`members#{"id" : 2}`:               {"status", "updated_at"},
			`organization_contacts#{"id" : 1}`: {"is_primary", "updated_at"},
			`organization_contacts#{"id" : 5}`: {"deleted_at", "is_deleted", "updated_at"},
		}
		if !d.ModifyingCTEs() {
			whole := map[string][]string{}
			for k := range want {
				whole[strings.ReplaceAll(k, `{"id" : `, `{"id":`)] = []string{"(whole row)"}
			}
			want = whole
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after-images' columns (-want +got):\n%s", diff)
		}
	}, testdb.WithSchema())
}

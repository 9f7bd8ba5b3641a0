package heal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// hallSchema is a schema that is not IP2A's: contractors keyed by a text
// code, soft-deleted by deleted_at alone and stamped in modified_at;
// shifts keyed by (hall, seq), soft-deleted by a flag; dispatches keyed by
// a text ref, without soft delete.
var hallSchema = []string{
	`CREATE TABLE contractors (code varchar(20) PRIMARY KEY, name varchar(100) NOT NULL, status varchar(20),
  deleted_at timestamp, modified_at timestamp)`,
	`CREATE TABLE shifts (hall varchar(20) NOT NULL, seq integer NOT NULL, note varchar(100), rate numeric(8,2),
  is_deleted boolean NOT NULL DEFAULT FALSE, modified_at timestamp, PRIMARY KEY (hall, seq))`,
	`CREATE TABLE dispatches (ref varchar(20) PRIMARY KEY, contractor_code varchar(20), shift_note varchar(100))`,
	`INSERT INTO contractors VALUES ('C1', 'Ann', 'active', NULL, '2024-01-01 10:00:00.123456')`,
	`INSERT INTO contractors VALUES ('C2', 'Bo', 'bogus', NULL, '2024-01-02 10:00:00')`,
	`INSERT INTO contractors VALUES ('C3', 'Cy', 'lapsed', NULL, NULL)`,
	`INSERT INTO contractors VALUES ('C4', 'Di', 'bogus', '2023-05-05 00:00:00', '2023-05-05 00:00:00')`,
	`INSERT INTO shifts VALUES ('north', 1, 'day', 40.50, FALSE, '2024-02-01 08:00:00')`,
	`INSERT INTO shifts VALUES ('north', 2, NULL, 41.00, FALSE, '2024-02-01 08:00:00')`,
	`INSERT INTO shifts VALUES ('south', 1, 'night', -3.25, FALSE, NULL)`,
	`INSERT INTO shifts VALUES ('south', 2, NULL, 12.00, TRUE, NULL)`,
	`INSERT INTO dispatches VALUES ('D-1', 'C1', 'day')`,
	`INSERT INTO dispatches VALUES ('D-2', 'X9', 'night')`,
	`INSERT INTO dispatches VALUES ('D-3', 'X9', NULL)`,
}

// hallConventions name the hall's columns.
var hallConventions = catalog.Conventions{DeletedFlag: []string{"is_deleted"}, DeletedAt: []string{"deleted_at"}, UpdatedAt: []string{"modified_at"}}

// dumpTables renders every row of the hall's tables exactly (types,
// timestamps to the nanosecond), ordered by key.
func dumpTables(t *testing.T, db *sqlx.DB) map[string][]string {
	t.Helper()
	exact := func(v any) string {
		switch x := v.(type) {
		case []byte:
			return fmt.Sprintf("bytes:%q", x)
		case time.Time:
			return "time:" + x.UTC().Format(time.RFC3339Nano)
		}
		return fmt.Sprintf("%T:%v", v, v)
	}
	out := map[string][]string{}
	for table, order := range map[string]string{"contractors": "code", "shifts": "hall, seq", "dispatches": "ref"} {
		out[table] = renderRows(t, db, exact, "SELECT * FROM "+table+" ORDER BY "+order)
	}
	return out
}

// hallPlan are the repairs of the hall test, chosen rather than found by
// checks.
func hallPlan(context.Context, integrity.Report) ([]heal.Planned, error) {
	return []heal.Planned{
		{Check: "contractor.bogus", Fix: ip2adb.Fix{Action: ip2adb.ActionDelete, Table: "contractors", Where: "status = 'bogus' AND deleted_at IS NULL"}},
		{Check: "contractor.lapsed", Fix: ip2adb.Fix{Action: ip2adb.ActionSetValue, Table: "contractors", Column: "status", Value: "active", Where: "status = 'lapsed'"}},
		{Check: "shift.no_note", Fix: ip2adb.Fix{Action: ip2adb.ActionDelete, Table: "shifts", Where: "note IS NULL AND NOT is_deleted"}},
		{Check: "shift.negative_rate", Fix: ip2adb.Fix{Action: ip2adb.ActionSetNull, Table: "shifts", Column: "rate", Where: "rate < 0"}},
		{Check: "dispatch.orphan", Fix: ip2adb.Fix{Action: ip2adb.ActionDelete, Table: "dispatches", Where: "contractor_code = ?", Args: []any{"X9"}}},
	}, nil
}

// TestRepairAndUndoByGeneralKeys repairs tables keyed by text and by a
// composite key, soft-deleting by deleted_at alone and by a flag and
// stamping modified_at, journaled in tables of their own; undo restores
// every row byte for byte.
func TestRepairAndUndoByGeneralKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		for _, s := range hallSchema {
			testdb.MustExec(t, db, s)
		}
		d := dbx.DialectOf(db)
		planted := dumpTables(t, db)
		jt := heal.JournalTables{Schema: "hall_state", Prefix: "hall_"}
		c := &heal.Cycle{DB: db, Choose: hallPlan, Now: fixedNow, JournalTables: jt,
			Catalog: catalog.Options{Conventions: hallConventions}}
		res, err := c.Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		wantRepairs := []heal.RepairResult{
			{Check: "contractor.bogus", Action: ip2adb.ActionSoftDelete, Table: "contractors", Rows: 1},
			{Check: "contractor.lapsed", Action: ip2adb.ActionSetValue, Table: "contractors", Rows: 1},
			{Check: "shift.no_note", Action: ip2adb.ActionSoftDelete, Table: "shifts", Rows: 1},
			{Check: "shift.negative_rate", Action: ip2adb.ActionSetNull, Table: "shifts", Rows: 1},
			{Check: "dispatch.orphan", Action: ip2adb.ActionDelete, Table: "dispatches", Rows: 2},
		}
		if diff := cmp.Diff(wantRepairs, res.Repairs); diff != "" {
			t.Errorf("repairs (-want +got):\n%s", diff)
		}
		stamp := "time:" + clock.Format(time.RFC3339Nano)
		repaired := map[string][]string{
			"contractors": {
				planted["contractors"][0],
				"string:C2|string:Bo|string:bogus|" + stamp + "|" + stamp, // soft-deleted by deleted_at, stamped
				"string:C3|string:Cy|string:active|<nil>:<nil>|" + stamp,
				planted["contractors"][3],
			},
			"shifts": {
				planted["shifts"][0],
				strings.Replace(planted["shifts"][1], "bool:false|time:2024-02-01T08:00:00Z", "bool:true|"+stamp, 1),
				"",
				planted["shifts"][3],
			},
			"dispatches": {planted["dispatches"][0]},
		}
		if d == dbx.SQLite {
			repaired["shifts"][1] = strings.Replace(planted["shifts"][1], "int64:0|time:2024-02-01T08:00:00Z", "int64:1|"+stamp, 1)
		}
		repaired["shifts"][2] = strings.TrimSuffix(planted["shifts"][2], "<nil>:<nil>") + stamp
		for _, rate := range []string{"|float64:-3.25|", `|bytes:"-3.25"|`} {
			repaired["shifts"][2] = strings.Replace(repaired["shifts"][2], rate, "|<nil>:<nil>|", 1)
		}
		if diff := cmp.Diff(repaired, dumpTables(t, db)); diff != "" {
			t.Errorf("after the run (-want +got):\n%s", diff)
		}

		// The journal keys each row by its primary key, as JSON; record_id
		// is NULL for keys other than one integer column.
		var keys []struct {
			Table string `db:"table_name"`
			ID    *int64 `db:"record_id"`
			Key   string `db:"record_key"`
		}
		journal := ownstate.Names{Schema: jt.Schema, Prefix: jt.Prefix}.Name(d, ownstate.Journal)
		if err := db.Select(&keys, db.Rebind(`SELECT table_name, record_id, record_key FROM `+journal+` WHERE run_id = ? ORDER BY step, record_key`), res.RunID); err != nil {
			t.Fatal(err)
		}
		var gotKeys []string
		for _, k := range keys {
			var m map[string]any
			if err := json.Unmarshal([]byte(k.Key), &m); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(m)
			gotKeys = append(gotKeys, fmt.Sprintf("%s %v %s", k.Table, k.ID, b))
		}
		wantKeys := []string{
			`contractors <nil> {"code":"C2"}`,
			`contractors <nil> {"code":"C3"}`,
			`shifts <nil> {"hall":"north","seq":2}`,
			`shifts <nil> {"hall":"south","seq":1}`,
			`dispatches <nil> {"ref":"D-2"}`,
			`dispatches <nil> {"ref":"D-3"}`,
		}
		if diff := cmp.Diff(wantKeys, gotKeys); diff != "" {
			t.Errorf("journal keys (-want +got):\n%s", diff)
		}

		u, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow, JournalTables: jt})
		if err != nil {
			t.Fatal(err)
		}
		if u.Rows != 6 || u.Status != heal.StatusUndone {
			t.Errorf("undo restored %d rows, status %s; want 6, undone", u.Rows, u.Status)
		}
		if diff := cmp.Diff(planted, dumpTables(t, db)); diff != "" {
			t.Errorf("after undo (-want +got):\n%s", diff)
		}

		// Undoing the undo brings the repairs back; undoing that restores
		// the planted rows again.
		u2, err := heal.Undo(ctx(t), db, u.RunID, heal.UndoOptions{Now: fixedNow, JournalTables: jt})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(repaired, dumpTables(t, db)); diff != "" {
			t.Errorf("after undoing the undo (-want +got):\n%s", diff)
		}
		if _, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow, JournalTables: jt}); err != nil {
			t.Fatalf("undo again after %s: %v", u2.RunID, err)
		}
		if diff := cmp.Diff(planted, dumpTables(t, db)); diff != "" {
			t.Errorf("after the second undo (-want +got):\n%s", diff)
		}

		// Nothing of ip2adb's own place was created.
		st, err := ownstate.Locate(ctx(t), db)
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range ownstate.Objects() {
			if st.Has(obj) {
				t.Errorf("%s exists; the run journals in %+v", st.Name(obj), jt)
			}
		}
	})
}

// TestUndoConflictNamesTextKeys: a row changed after the run is named by
// its key in the conflict.
func TestUndoConflictNamesTextKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		for _, s := range hallSchema {
			testdb.MustExec(t, db, s)
		}
		c := &heal.Cycle{DB: db, Choose: hallPlan, Now: fixedNow, Catalog: catalog.Options{Conventions: hallConventions}}
		res, err := c.Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		testdb.MustExec(t, db, `UPDATE shifts SET note = 'late' WHERE hall = 'south' AND seq = 1`)
		_, err = heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow})
		ce, ok := err.(*heal.ConflictError)
		if !ok {
			t.Fatalf("err = %v, want a *heal.ConflictError", err)
		}
		var got map[string]any
		if !strings.HasPrefix(ce.Examples[0], "shifts#") || json.Unmarshal([]byte(strings.TrimPrefix(ce.Examples[0], "shifts#")), &got) != nil {
			t.Fatalf("examples = %q, want shifts#{key}", ce.Examples)
		}
		if diff := cmp.Diff(map[string]any{"hall": "south", "seq": float64(1)}, got); diff != "" || ce.Rows != 1 {
			t.Errorf("conflict %d rows, key (-want +got):\n%s", ce.Rows, diff)
		}
	})
}

// TestSoftDeleteNeedsASoftDeleteColumn: soft_delete on a table with
// neither a flag nor a deleted-at column fails naming the table, and
// changes nothing.
func TestSoftDeleteNeedsASoftDeleteColumn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		for _, s := range hallSchema {
			testdb.MustExec(t, db, s)
		}
		planted := dumpTables(t, db)
		c := &heal.Cycle{DB: db, Now: fixedNow, Catalog: catalog.Options{Conventions: hallConventions},
			Choose: func(context.Context, integrity.Report) ([]heal.Planned, error) {
				return []heal.Planned{{Check: "dispatch.soft", Fix: ip2adb.Fix{Action: ip2adb.ActionSoftDelete, Table: "dispatches", Where: "ref = 'D-2'"}}}, nil
			}}
		_, err := c.Run(ctx(t))
		if err == nil || !strings.Contains(err.Error(), "table dispatches has no soft-delete column") {
			t.Fatalf("err = %v, want one naming table dispatches", err)
		}
		if diff := cmp.Diff(planted, dumpTables(t, db)); diff != "" {
			t.Errorf("changed (-want +got):\n%s", diff)
		}
	})
}

// oldJournalDDL is the journal as versions before record_key created it:
// record_id NOT NULL, no record_key.
func oldJournalDDL(d dbx.Dialect) []string {
	n, id, ix := "ip2adb.journal", "bigserial PRIMARY KEY", "ix_journal_run"
	if d == dbx.SQLite {
		n, id, ix = "ip2adb_journal", "INTEGER PRIMARY KEY", "ix_ip2adb_journal_run"
	}
	return []string{`CREATE TABLE ` + n + ` (
    id            ` + id + `,
    run_id        varchar(64) NOT NULL,
    step          integer NOT NULL,
    check_name    varchar(200) NOT NULL,
    table_name    varchar(200) NOT NULL,
    record_id     bigint NOT NULL,
    action        varchar(20) NOT NULL,
    before_image  text,
    after_image   text,
    created_at    timestamp NOT NULL,
    undone_by     varchar(64)
)`, `CREATE INDEX ` + ix + ` ON ` + n + ` (run_id, step, record_id)`}
}

// TestUndoOfAnOldFormatJournal: a run journaled before record_key existed
// (record_id only, in the old table layout) is still undone; the undo
// migrates the journal first.
func TestUndoOfAnOldFormatJournal(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		planted := testdb.Digests(t, db)
		d := dbx.DialectOf(db)

		// The run, journaled in tables of its own …
		jt := heal.JournalTables{Schema: "scratch", Prefix: "scratch_"}
		c := cycle(db, "")
		c.JournalTables = jt
		res, err := c.Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if res.Summary.Fixed == 0 {
			t.Fatal("the run repaired nothing")
		}
		// … copied into ip2adb's own tables as an older version wrote them.
		scratch := ownstate.Names{Schema: jt.Schema, Prefix: jt.Prefix}
		if d == dbx.Postgres {
			testdb.MustExec(t, db, `CREATE SCHEMA ip2adb`)
		}
		for _, obj := range []ownstate.Object{ownstate.Runs, ownstate.Steps} {
			for _, s := range (ownstate.Names{}).DDL(d, obj) {
				testdb.MustExec(t, db, s)
			}
			testdb.MustExec(t, db, `INSERT INTO `+ownstate.Name(d, obj)+` SELECT * FROM `+scratch.Name(d, obj))
		}
		for _, s := range oldJournalDDL(d) {
			testdb.MustExec(t, db, s)
		}
		cols := "run_id, step, check_name, table_name, record_id, action, before_image, after_image, created_at, undone_by"
		testdb.MustExec(t, db, `INSERT INTO `+ownstate.Name(d, ownstate.Journal)+` (`+cols+`) SELECT `+cols+` FROM `+scratch.Name(d, ownstate.Journal))
		journaled := testdb.Count(t, db, ownstate.Name(d, ownstate.Journal), "")

		u, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		if u.Rows != int64(journaled) {
			t.Errorf("undo restored %d rows, want %d", u.Rows, journaled)
		}
		if diff := cmp.Diff(planted, testdb.Digests(t, db)); diff != "" {
			t.Errorf("after undo (-want +got):\n%s", diff)
		}
		// The journal gained record_key and a nullable record_id; the old
		// rows are kept, marked undone.
		if n := testdb.Count(t, db, ownstate.Name(d, ownstate.Journal), "run_id = ? AND undone_by = ? AND record_key IS NULL", res.RunID, u.RunID); n != journaled {
			t.Errorf("%d old journal rows marked undone, want %d", n, journaled)
		}
		// record_id now takes NULL (a row keyed otherwise than by an integer).
		testdb.MustExec(t, db, `INSERT INTO `+ownstate.Name(d, ownstate.Journal)+
			` (run_id, step, check_name, table_name, record_id, record_key, action, created_at) VALUES ('X', 1, 'x', 'x', NULL, '{"code":"A"}', 'x', '2026-01-01')`)
	}, testdb.WithSchema())
}

// TestStepRecordJournalsACustomChange: a custom Repairer's change through
// Step.Record is journaled row by row — updated rows with their
// after-images, deleted rows as deleted, rows it left as they were not at
// all — and undone byte for byte.
func TestStepRecordJournalsACustomChange(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		for _, s := range hallSchema {
			testdb.MustExec(t, db, s)
		}
		planted := dumpTables(t, db)
		move := heal.RepairerFunc(func(ctx context.Context, tx *sqlx.Tx, step heal.Step, fix ip2adb.Fix) (int64, error) {
			return step.Record(ctx, tx, heal.Change{Table: "shifts", Action: "move", Where: fix.Where, Args: fix.Args},
				func(ctx context.Context, tx *sqlx.Tx) error {
					if _, err := tx.ExecContext(ctx, `UPDATE shifts SET note = 'moved' WHERE hall = 'south' AND seq = 1`); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `DELETE FROM shifts WHERE hall = 'south' AND seq = 2`)
					return err
				})
		})
		c := &heal.Cycle{DB: db, Now: fixedNow, Repairer: move, Catalog: catalog.Options{Conventions: hallConventions},
			Choose: func(context.Context, integrity.Report) ([]heal.Planned, error) {
				return []heal.Planned{{Check: "shift.move", Fix: ip2adb.Fix{Table: "shifts", Where: "seq > ?", Args: []any{0}}}}, nil
			}}
		res, err := c.Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]heal.RepairResult{{Check: "shift.move", Table: "shifts", Rows: 2}}, res.Repairs); diff != "" {
			t.Errorf("repairs (-want +got):\n%s", diff)
		}
		var rows []struct {
			Key    string `db:"record_key"`
			Action string `db:"action"`
			After  bool   `db:"after"`
		}
		d := dbx.DialectOf(db)
		if err := db.Select(&rows, db.Rebind(`SELECT record_key, action, after_image IS NOT NULL AS after FROM `+
			ownstate.Name(d, ownstate.Journal)+` WHERE run_id = ? ORDER BY action`), res.RunID); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			var m map[string]any
			if err := json.Unmarshal([]byte(r.Key), &m); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s seq=%v %s after=%v", m["hall"], m["seq"], r.Action, r.After))
		}
		if diff := cmp.Diff([]string{"south seq=2 delete after=false", "south seq=1 move after=true"}, got); diff != "" {
			t.Errorf("journal (-want +got):\n%s", diff)
		}
		if _, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(planted, dumpTables(t, db)); diff != "" {
			t.Errorf("after undo (-want +got):\n%s", diff)
		}
	})
}

// TestUndoBlockedRowsNamedByTheirKeys: rows keyed by a composite text key
// whose restore a foreign key blocks are named by their keys; once the
// parent is back, undo restores them byte for byte.
func TestUndoBlockedRowsNamedByTheirKeys(t *testing.T) {
	sqlite := func(t *testing.T) *sqlx.DB {
		db, err := sqlx.Open("sqlite", "file:"+t.TempDir()+"/fk.db?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	for name, open := range map[string]func(*testing.T) *sqlx.DB{
		"postgres": func(t *testing.T) *sqlx.DB { return testdb.Postgres(t) }, "sqlite": sqlite} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			for _, s := range []string{
				`CREATE TABLE halls (code varchar(10) PRIMARY KEY, name varchar(40))`,
				`CREATE TABLE shifts (hall varchar(10) NOT NULL REFERENCES halls (code), seq integer NOT NULL, note varchar(40), PRIMARY KEY (hall, seq))`,
				`INSERT INTO halls VALUES ('N', 'North'), ('S', 'South')`,
				`INSERT INTO shifts VALUES ('N', 1, 'day'), ('S', 1, 'day'), ('S', 2, NULL)`,
			} {
				testdb.MustExec(t, db, s)
			}
			dump := func() []string { return states(t, db, `SELECT hall, seq, note FROM shifts ORDER BY hall, seq`) }
			before := dump()
			c := &heal.Cycle{DB: db, Now: fixedNow, Choose: func(context.Context, integrity.Report) ([]heal.Planned, error) {
				return []heal.Planned{{Check: "shift.south", Fix: ip2adb.Fix{Action: ip2adb.ActionDelete, Table: "shifts", Where: "hall = 'S'"}}}, nil
			}}
			res, err := c.Run(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			testdb.MustExec(t, db, `DELETE FROM halls WHERE code = 'S'`)
			_, err = heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow})
			be, ok := err.(*heal.BlockedError)
			if !ok {
				t.Fatalf("undo: %v, want a *heal.BlockedError", err)
			}
			constraint := "shifts_hall_fkey"
			if name == "sqlite" {
				constraint = "shifts(hall) → halls(code)"
			}
			want := []heal.BlockedRows{{Table: "shifts", Constraint: constraint, Rows: 2,
				Keys: []string{`{"hall":"S","seq":1}`, `{"hall":"S","seq":2}`}}}
			if diff := cmp.Diff(want, be.Blocked); diff != "" {
				t.Errorf("blocked (-want +got):\n%s", diff)
			}
			testdb.MustExec(t, db, `INSERT INTO halls VALUES ('S', 'South')`)
			if _, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, dump()); diff != "" {
				t.Errorf("after undo (-want +got):\n%s", diff)
			}
		})
	}
}

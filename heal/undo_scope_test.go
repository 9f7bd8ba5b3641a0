package heal_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// TestUndoIgnoresAHandInsertedJournalRow: a journal row naming a table
// that none of the run's steps names (here: written by hand, with a step
// of its own and with the step of a real repair) never makes undo write
// into that table.
func TestUndoIgnoresAHandInsertedJournalRow(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		testdb.MustExec(t, db, `INSERT INTO locations (id, name, city) VALUES (1, 'Hall', 'Springfield')`)
		planted := testdb.Digests(t, db)
		res, err := cycle(db, "").Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		d := dbx.DialectOf(db)
		for _, step := range []int{1, 99} {
			testdb.MustExec(t, db, `INSERT INTO `+ownstate.Name(d, ownstate.Journal)+
				` (run_id, step, check_name, table_name, record_id, action, before_image, created_at)
VALUES (?, ?, 'forged', 'locations', 1, 'set_value', '{"id":1,"name":"Forged","city":"Nowhere"}', '2026-11-28')`, res.RunID, step)
		}
		u, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range u.Steps {
			if s.Table == "locations" {
				t.Errorf("undo reverted a step on locations: %+v", s)
			}
		}
		if diff := cmp.Diff(planted, testdb.Digests(t, db)); diff != "" {
			t.Errorf("after undo (-want +got):\n%s", diff)
		}
	}, testdb.WithSchema())
}

// TestUndoTwoTablesSharingAStep: a step that repaired two tables (rows with
// the same ids) restores each table from its own journal rows only.
func TestUndoTwoTablesSharingAStep(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		planted := testdb.Digests(t, db)
		const runID = "IR-20261128T020000Z-0001"
		c := context.Background()
		tx, err := db.BeginTxx(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := heal.EnsureJournal(c, tx); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(tx.Rebind(`INSERT INTO `+ownstate.Name(dbx.DialectOf(db), ownstate.Runs)+
			` (run_id, kind, stamp, started_at) VALUES (?, 'repair', ?, ?)`), runID, clock, clock); err != nil {
			t.Fatal(err)
		}
		step := heal.Step{RunID: runID, Seq: 1, Check: "test.shared", Stamp: clock}
		for _, f := range []ip2adb.Fix{
			{Action: ip2adb.ActionSetValue, Table: "members", Column: "last_name", Value: "Changed", Where: "id IN (1, 2)"},
			{Action: ip2adb.ActionSetValue, Table: "organizations", Column: "name", Value: "Changed", Where: "id IN (1, 2)"},
		} {
			if _, err := (heal.SQLRepairer{}).Repair(c, tx, step, f); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		u, err := heal.Undo(ctx(t), db, runID, heal.UndoOptions{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		want := []heal.UndoStep{
			{Check: "test.shared", Table: "members", Action: "set_value", Rows: 2},
			{Check: "test.shared", Table: "organizations", Action: "set_value", Rows: 2},
		}
		if diff := cmp.Diff(want, u.Steps); diff != "" {
			t.Errorf("steps (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(planted, testdb.Digests(t, db)); diff != "" {
			t.Errorf("after undo (-want +got):\n%s", diff)
		}
	}, testdb.WithSchema())
}

// TestUndoOfARunWithoutSteps: runs journaled before the steps table
// existed name their tables only in the journal; they still undo.
func TestUndoOfARunWithoutSteps(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		planted := testdb.Digests(t, db)
		res, err := cycle(db, "").Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		testdb.MustExec(t, db, `DELETE FROM `+ownstate.Name(dbx.DialectOf(db), ownstate.Steps))
		if _, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(planted, testdb.Digests(t, db)); diff != "" {
			t.Errorf("after undo (-want +got):\n%s", diff)
		}
	}, testdb.WithSchema())
}

// TestBlobRoundTrip: a repaired row holding binary values (a SQLite BLOB,
// a PostgreSQL bytea) is journaled and restored byte for byte — deleted and
// updated alike.
func TestBlobRoundTrip(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		typ := "BLOB"
		if dbx.DialectOf(db) == dbx.Postgres {
			typ = "bytea"
		}
		testdb.MustExec(t, db, `CREATE TABLE scans (id integer PRIMARY KEY, data `+typ+`, note text, score real, updated_at timestamp)`)
		blobs := [][]byte{{0x00, 0xff, 0x10, 0x80}, []byte("not\x00utf8\xc3\x28"), {}, nil}
		for i, b := range blobs {
			var v any = b
			if b == nil {
				v = nil
			}
			testdb.MustExec(t, db, `INSERT INTO scans (id, data, note, score, updated_at) VALUES (?, ?, ?, ?, '2024-01-01 00:00:00')`,
				i+1, v, "n"+string(rune('a'+i)), 0.1+float64(i)*0.2)
		}
		before := testdb.Digest(t, db, "scans")
		runID := "IR-20261128T020000Z-b10b"
		for seq, f := range []ip2adb.Fix{
			{Action: ip2adb.ActionSetValue, Table: "scans", Column: "note", Value: "fixed", Where: "id IN (1, 2, 3)"},
			{Action: ip2adb.ActionDelete, Table: "scans", Where: "id IN (2, 4)"},
		} {
			c := context.Background()
			tx, err := db.BeginTxx(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := heal.EnsureJournal(c, tx); err != nil {
				t.Fatal(err)
			}
			if seq == 0 {
				if _, err := tx.Exec(tx.Rebind(`INSERT INTO `+ownstate.Name(dbx.DialectOf(db), ownstate.Runs)+
					` (run_id, kind, stamp, started_at) VALUES (?, 'repair', ?, ?)`), runID, clock, clock); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := (heal.SQLRepairer{}).Repair(c, tx, heal.Step{RunID: runID, Seq: seq + 1, Check: "test.blob", Stamp: clock}, f); err != nil {
				t.Fatalf("repair of rows holding binary values: %v", err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		if n := testdb.Count(t, db, "scans", ""); n != 2 {
			t.Fatalf("%d rows after the repair, want 2", n)
		}
		if _, err := heal.Undo(ctx(t), db, runID, heal.UndoOptions{Now: fixedNow}); err != nil {
			t.Fatal(err)
		}
		if got := testdb.Digest(t, db, "scans"); got != before {
			t.Errorf("undo is not byte-exact:\n%v\nwant\n%v", states(t, db, "SELECT * FROM scans ORDER BY id"), before)
		}
		var got [][]byte
		if err := db.Select(&got, `SELECT data FROM scans ORDER BY id`); err != nil {
			t.Fatal(err)
		}
		// (An empty BLOB scans as nil through the SQLite driver; the
		// digest above compares it exactly.)
		want := [][]byte{{0x00, 0xff, 0x10, 0x80}, []byte("not\x00utf8\xc3\x28")}
		if diff := cmp.Diff(want, got[:2]); diff != "" {
			t.Errorf("bytes (-want +got):\n%s", diff)
		}
	})
}

// TestUndoBlockedOnSQLiteWithForeignKeys: a SQLite handle with
// PRAGMA foreign_keys on enforces them, and undo respects that like
// PostgreSQL's constraints: blocked rows are named by their key.
func TestUndoBlockedOnSQLiteWithForeignKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fk.db")
	db, err := sqlx.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, s := range []string{
		`CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT)`,
		`CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parents(id), name TEXT)`,
		`INSERT INTO parents VALUES (1, 'p1'), (2, 'p2')`,
		`INSERT INTO children VALUES (1, 1, 'c1'), (2, 2, 'c2'), (3, 2, 'c3')`,
	} {
		testdb.MustExec(t, db, s)
	}
	before := testdb.Digest(t, db, "children")
	const runID = "IR-20261128T020000Z-5f00"
	c := context.Background()
	tx, err := db.BeginTxx(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := heal.EnsureJournal(c, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO ip2adb_runs (run_id, kind, stamp, started_at) VALUES (?, 'repair', ?, ?)`, runID, clock, clock); err != nil {
		t.Fatal(err)
	}
	if _, err := (heal.SQLRepairer{}).Repair(c, tx, heal.Step{RunID: runID, Seq: 1, Check: "test.children", Stamp: clock},
		ip2adb.Fix{Action: ip2adb.ActionDelete, Table: "children", Where: "parent_id = 2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`DELETE FROM parents WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	_, err = heal.Undo(ctx(t), db, runID, heal.UndoOptions{Now: fixedNow})
	var be *heal.BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("undo: %v, want a BlockedError", err)
	}
	want := []heal.BlockedRows{{Table: "children", Constraint: "children(parent_id) → parents(id)", Rows: 2, RecordIDs: []int64{2, 3}}}
	if diff := cmp.Diff(want, be.Blocked); diff != "" {
		t.Errorf("blocked (-want +got):\n%s", diff)
	}
	testdb.MustExec(t, db, `INSERT INTO parents VALUES (2, 'p2')`)
	if _, err := heal.Undo(ctx(t), db, runID, heal.UndoOptions{Now: fixedNow}); err != nil {
		t.Fatal(err)
	}
	if got := testdb.Digest(t, db, "children"); got != before {
		t.Error("children not restored byte for byte")
	}
}

// TestUndoOfALegacyRun: a run journaled by an older version — tables
// ip2adb_runs and ip2adb_journal in the application's schema, no steps
// table, no status or undone_by columns, after-images only where a table
// has no updated_at — is undone, and the undo moves the tables into
// ip2adb's own place first.
func TestUndoOfALegacyRun(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		planted := testdb.Digests(t, db)
		res, err := cycle(db, "").Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		stmts := []string{
			`DROP TABLE ip2adb.run_steps`, `DROP TABLE ip2adb.file_checksums`, `DROP TABLE ip2adb.seed_marker`,
			`ALTER TABLE ip2adb.runs DROP COLUMN status`, `ALTER TABLE ip2adb.journal DROP COLUMN undone_by`,
			`ALTER TABLE ip2adb.runs SET SCHEMA public`, `ALTER TABLE public.runs RENAME TO ip2adb_runs`,
			`ALTER TABLE ip2adb.journal SET SCHEMA public`, `ALTER TABLE public.journal RENAME TO ip2adb_journal`,
			`DROP SCHEMA ip2adb`,
		}
		if dbx.DialectOf(db) == dbx.SQLite {
			stmts = []string{
				`DROP TABLE ip2adb_run_steps`, `DROP TABLE ip2adb_file_checksums`, `DROP TABLE ip2adb_seed_marker`,
				`ALTER TABLE ip2adb_runs DROP COLUMN status`, `ALTER TABLE ip2adb_journal DROP COLUMN undone_by`,
			}
		}
		stmts = append(stmts, `UPDATE ip2adb_journal SET after_image = NULL WHERE table_name <> 'organization_contacts' OR action = 'delete'`)
		for _, s := range stmts {
			testdb.MustExec(t, db, s)
		}
		st, err := ownstate.Locate(ctx(t), db)
		if err != nil || (dbx.DialectOf(db) == dbx.Postgres && !st.Legacy()) {
			t.Fatalf("legacy layout not located: %v", err)
		}
		if _, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(planted, testdb.Digests(t, db)); diff != "" {
			t.Errorf("after undo (-want +got):\n%s", diff)
		}
		if got := ownTables(t, db); len(got) != 5 {
			t.Errorf("own tables after the undo: %v", got)
		}
		if dbx.DialectOf(db) == dbx.Postgres {
			if n := testdb.Count(t, db, "pg_tables", "schemaname = 'public' AND tablename LIKE 'ip2adb%'"); n != 0 {
				t.Errorf("%d ip2adb tables left in public", n)
			}
		}
	}, testdb.WithSchema())
}

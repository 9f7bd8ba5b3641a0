package heal

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// TestReopenQueryMatchesKeysNullSafely: undoing an undo U (by N) makes
// undoable again exactly the rows of the run U undid whose table and key —
// record_id and record_key compared as IS NOT DISTINCT FROM — are among
// U's rows N restored; no other row of the journal changes.
func TestReopenQueryMatchesKeysNullSafely(t *testing.T) {
	type row struct {
		Run, Table string
		ID         *int64
		Key        *string
		UndoneBy   *string
	}
	id := func(v int64) *int64 { return &v }
	s := func(v string) *string { return &v }
	const a, u, n = "AH-a", "UN-u", "UN-n"
	// U's rows: what it restored of A, and whether N restored them back.
	undo := []row{
		{u, "t1", id(1), s(`{"id": 1}`), s(n)},
		{u, "t1", id(2), s(`{"id": 2}`), nil}, // not restored by N
		{u, "t2", nil, s(`{"code": "A"}`), s(n)},
		{u, "t1", id(5), nil, s(n)}, // an old-format row: no record_key
		{u, "t3", nil, s(`{"k": 1}`), s(n)},
		{u, "t3", id(9), nil, s(n)},
		{u, "t1", id(7), s(`{"id": 7}`), s(n)},
	}
	tests := []struct {
		name string
		in   row
		want *string // undone_by afterwards
	}{
		{"restored by N", row{a, "t1", id(1), s(`{"id": 1}`), s(u)}, nil},
		{"not restored by N", row{a, "t1", id(2), s(`{"id": 2}`), s(u)}, s(u)},
		{"text key, no record_id", row{a, "t2", nil, s(`{"code": "A"}`), s(u)}, nil},
		{"old format, no record_key", row{a, "t1", id(5), nil, s(u)}, nil},
		{"same key, other table", row{a, "t2", id(1), s(`{"id": 1}`), s(u)}, s(u)},
		{"record_id 0 is not NULL", row{a, "t3", id(0), s(`{"k": 1}`), s(u)}, s(u)},
		{"record_key '' is not NULL", row{a, "t3", id(9), s(``), s(u)}, s(u)},
		{"record_key NULL is not a key", row{a, "t1", id(7), nil, s(u)}, s(u)},
		{"undone by another undo", row{a, "t1", id(1), s(`{"id": 1}`), s("UN-other")}, s("UN-other")},
		{"not undone", row{a, "t1", id(1), s(`{"id": 1}`), nil}, nil},
		{"another run undone by U", row{"AH-other", "t1", id(1), s(`{"id": 1}`), s(u)}, s(u)},
	}
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		if err := EnsureJournal(ctx, db); err != nil {
			t.Fatal(err)
		}
		d := dbx.DialectOf(db)
		journal := (JournalTables{}).name(d, ownstate.Journal)
		insert := func(r row, step int, check string) {
			t.Helper()
			testdb.MustExec(t, db, d.Rebind(`INSERT INTO `+journal+` (run_id, step, check_name, table_name, record_id, record_key, action, created_at, undone_by)
VALUES (?, ?, ?, ?, ?, ?, 'update', '2026-11-28 02:00:00', ?)`), r.Run, step, check, r.Table, r.ID, r.Key, r.UndoneBy)
		}
		for i, r := range undo {
			insert(r, i+1, "undo")
		}
		want := map[string]*string{}
		for i, tc := range tests {
			insert(tc.in, i+1, tc.name)
			want[tc.name] = tc.want
		}
		tx := db.MustBegin()
		if err := reopen(ctx, tx, d, journal, a, u, n); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}

		var got []struct {
			Check    string  `db:"check_name"`
			UndoneBy *string `db:"undone_by"`
		}
		if err := db.Select(&got, `SELECT check_name, undone_by FROM `+journal+` WHERE check_name <> 'undo'`); err != nil {
			t.Fatal(err)
		}
		gotBy := map[string]*string{}
		for _, g := range got {
			gotBy[g.Check] = g.UndoneBy
		}
		if diff := cmp.Diff(want, gotBy); diff != "" {
			t.Errorf("undone_by after the reopen (-want +got):\n%s", diff)
		}
		// U's own rows are left as they are.
		if c := testdb.Count(t, db, journal, "run_id = ? AND undone_by = ?", u, n); c != 6 {
			t.Errorf("%d rows of U undone by N, want 6", c)
		}
	})
}

// TestReopenHashesLongLists: PostgreSQL hashes reopen's IN list only when
// the planner's estimate of it fits in work_mem × hash_mem_multiplier;
// otherwise it rescans the list for every row of the undone run, which
// never ends for a large undo. With work_mem at its minimum a list of
// 3,000 keys is already too long at the default multiplier (the test
// shows that first); with reopen's setting the list is hashed, the
// setting ends with the statement, and the rows are reopened.
func TestReopenHashesLongLists(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := context.Background()
	if err := EnsureJournal(ctx, db); err != nil {
		t.Fatal(err)
	}
	d := dbx.DialectOf(db)
	journal := (JournalTables{}).name(d, ownstate.Journal)
	const a, u, n, rows = "AH-a", "UN-u", "UN-n", 3000
	for _, r := range []struct{ run, by string }{{u, n}, {a, u}} {
		testdb.MustExec(t, db, `INSERT INTO `+journal+` (run_id, step, check_name, table_name, record_id, record_key, action, created_at, undone_by)
SELECT $1, 1, 'c', 'member_employments', g, '{"id": ' || g || '}', 'update', now(), $2 FROM generate_series(1, $3) g`, r.run, r.by, rows)
	}
	testdb.MustExec(t, db, "ANALYZE "+journal)

	tx := db.MustBeginTx(ctx, nil)
	t.Cleanup(func() { tx.Rollback() })
	exec := func(q string) {
		t.Helper()
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	exec("SET LOCAL work_mem = '64kB'")
	plan := func() string {
		t.Helper()
		var lines []string
		if err := tx.SelectContext(ctx, &lines, "EXPLAIN "+d.Rebind(reopenQuery(journal)), a, u, u, n); err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	if p := plan(); strings.Contains(p, "hashed SubPlan") {
		t.Fatalf("the list is hashed at the default multiplier, so this test shows nothing:\n%s", p)
	}
	if err := d.SetLocal(ctx, tx, hashAnyList()); err != nil {
		t.Fatal(err)
	}
	if p := plan(); !strings.Contains(p, "hashed SubPlan") {
		t.Errorf("with %s = %s the list is not hashed:\n%s", hashAnyList().Name, hashAnyList().Value, p)
	}
	exec("SET LOCAL hash_mem_multiplier = DEFAULT")

	if err := reopen(ctx, tx, d, journal, a, u, n); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Reopened int64  `db:"reopened"`
		Setting  string `db:"setting"`
	}
	if err := tx.GetContext(ctx, &got, `SELECT count(*) FILTER (WHERE run_id = $1 AND undone_by IS NULL) AS reopened,
current_setting('hash_mem_multiplier') AS setting FROM `+journal, a); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(struct {
		Reopened int64  `db:"reopened"`
		Setting  string `db:"setting"`
	}{rows, "2"}, got); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
}

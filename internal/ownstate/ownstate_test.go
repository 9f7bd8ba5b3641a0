package ownstate_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return c
}

// names returns where each own object is, "" when it is missing.
func names(t *testing.T, st ownstate.State) map[ownstate.Object]string {
	t.Helper()
	out := map[ownstate.Object]string{}
	for _, obj := range ownstate.Objects() {
		if st.Has(obj) {
			out[obj] = st.Name(obj)
		} else {
			out[obj] = ""
		}
	}
	return out
}

func want(d dbx.Dialect) map[ownstate.Object]string {
	out := map[ownstate.Object]string{}
	for _, obj := range ownstate.Objects() {
		out[obj] = ownstate.Name(d, obj)
	}
	return out
}

// ownTables lists every table whose name says it is ip2adb's, with its
// schema on PostgreSQL.
func ownTables(t *testing.T, db *sqlx.DB) []string {
	t.Helper()
	var out []string
	var err error
	if dbx.DialectOf(db) == dbx.Postgres {
		err = db.Select(&out, `SELECT schemaname || '.' || tablename FROM pg_tables
WHERE schemaname = 'ip2adb' OR tablename LIKE 'ip2adb%' ORDER BY 1`)
	} else {
		err = db.Select(&out, `SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'ip2adb%' ORDER BY 1`)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLocateCreatesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		st, err := ownstate.Locate(ctx(t), db)
		if err != nil {
			t.Fatal(err)
		}
		empty := map[ownstate.Object]string{}
		for _, obj := range ownstate.Objects() {
			empty[obj] = ""
		}
		if diff := cmp.Diff(empty, names(t, st)); diff != "" {
			t.Errorf("located (-want +got):\n%s", diff)
		}
		if got := ownTables(t, db); len(got) != 0 {
			t.Errorf("Locate created %v", got)
		}
		if _, ok, err := ownstate.ReadMarker(ctx(t), db); ok || err != nil {
			t.Errorf("ReadMarker = %v, %v", ok, err)
		}
		if err := ownstate.ClearMarker(ctx(t), db); err != nil {
			t.Error(err)
		}
		if dbx.DialectOf(db) == dbx.Postgres && testdb.Count(t, db, "pg_namespace", "nspname = 'ip2adb'") != 0 {
			t.Error("schema ip2adb created by a read")
		}
	}, testdb.WithSchema())
}

func TestEnsureCreatesAndIsIdempotent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		d := dbx.DialectOf(db)
		for i := 0; i < 2; i++ {
			st, err := ownstate.Ensure(ctx(t), db)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want(d), names(t, st)); diff != "" {
				t.Errorf("ensure #%d (-want +got):\n%s", i+1, diff)
			}
			if st.Legacy() {
				t.Errorf("ensure #%d: legacy", i+1)
			}
		}
		wantTables := []string{"ip2adb.file_checksums", "ip2adb.journal", "ip2adb.run_steps", "ip2adb.runs", "ip2adb.seed_marker"}
		if d == dbx.SQLite {
			wantTables = []string{"ip2adb_file_checksums", "ip2adb_journal", "ip2adb_run_steps", "ip2adb_runs", "ip2adb_seed_marker"}
		}
		if diff := cmp.Diff(wantTables, ownTables(t, db)); diff != "" {
			t.Errorf("tables (-want +got):\n%s", diff)
		}
	}, testdb.WithSchema())
}

// TestEnsureNamesOfTheirOwn: names of a program's own hold only the
// journal's tables, where the names say; ip2adb's place stays empty, and a
// second Ensure changes nothing.
func TestEnsureNamesOfTheirOwn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		d := dbx.DialectOf(db)
		n := ownstate.Names{Schema: "hall", Prefix: "hall_"}
		for i := 0; i < 2; i++ {
			st, err := n.Ensure(ctx(t), db, ownstate.JournalObjects()...)
			if err != nil {
				t.Fatal(err)
			}
			got := map[ownstate.Object]string{}
			for _, obj := range ownstate.Objects() {
				if st.Has(obj) {
					got[obj] = st.Name(obj)
				}
			}
			want := map[ownstate.Object]string{ownstate.Runs: "hall.hall_runs", ownstate.Steps: "hall.hall_run_steps", ownstate.Journal: "hall.hall_journal"}
			if d == dbx.SQLite {
				want = map[ownstate.Object]string{ownstate.Runs: "hall_runs", ownstate.Steps: "hall_run_steps", ownstate.Journal: "hall_journal"}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ensure #%d (-want +got):\n%s", i+1, diff)
			}
		}
		if got := ownTables(t, db); len(got) != 0 {
			t.Errorf("ip2adb's own tables exist: %v", got)
		}
		for _, bad := range []ownstate.Names{{Schema: "Hall"}, {Schema: "x;y"}, {Prefix: "a-b"}} {
			if err := bad.Validate(); err == nil {
				t.Errorf("%+v: valid", bad)
			}
		}
	})
}

func TestMarkerRoundTrip(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		if _, err := ownstate.Ensure(ctx(t), db); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
		for _, m := range []ownstate.Marker{
			{SeededAt: at, Seed: 42, Profile: "quick", Detail: `{"members":100}`},
			{SeededAt: at.Add(time.Hour), Seed: 7, Profile: "custom"},
		} {
			if err := ownstate.WriteMarker(ctx(t), db, m); err != nil {
				t.Fatal(err)
			}
			got, ok, err := ownstate.ReadMarker(ctx(t), db)
			if err != nil || !ok {
				t.Fatalf("ReadMarker = %v, %v", ok, err)
			}
			if diff := cmp.Diff(m, got); diff != "" {
				t.Errorf("marker (-want +got):\n%s", diff)
			}
		}
		if n := testdb.Count(t, db, ownstate.Name(dbx.DialectOf(db), ownstate.SeedMarker), ""); n != 1 {
			t.Errorf("%d markers, want 1", n)
		}
		if err := ownstate.ClearMarker(ctx(t), db); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := ownstate.ReadMarker(ctx(t), db); ok || err != nil {
			t.Errorf("after clear: ReadMarker = %v, %v", ok, err)
		}
	})
}

// legacyDDL is what versions before schema ip2adb created in the
// application's schema.
var legacyDDL = []string{
	`CREATE TABLE ip2adb_runs (run_id varchar(64) PRIMARY KEY, kind varchar(20) NOT NULL, stamp timestamp NOT NULL,
  started_at timestamp NOT NULL, finished_at timestamp, rows_changed bigint NOT NULL DEFAULT 0, undoes varchar(64), undone_by varchar(64))`,
	`CREATE TABLE ip2adb_journal (id bigserial PRIMARY KEY, run_id varchar(64) NOT NULL, step integer NOT NULL,
  check_name varchar(200) NOT NULL, table_name varchar(200) NOT NULL, record_id bigint NOT NULL, action varchar(20) NOT NULL,
  before_image text, after_image text, created_at timestamp NOT NULL)`,
	`CREATE INDEX ix_ip2adb_journal_run ON ip2adb_journal (run_id, step, record_id)`,
	`INSERT INTO ip2adb_runs (run_id, kind, stamp, started_at, undone_by) VALUES ('AH-1', 'heal', '2026-01-01', '2026-01-01', 'UN-1')`,
	`INSERT INTO ip2adb_runs (run_id, kind, stamp, started_at) VALUES ('AH-2', 'heal', '2026-01-02', '2026-01-02')`,
	`INSERT INTO ip2adb_journal (run_id, step, check_name, table_name, record_id, action, before_image, created_at)
  VALUES ('AH-2', 1, 'c', 'members', 5, 'delete', '{"id":5}', '2026-01-02')`,
}

func TestEnsureMovesLegacyTables(t *testing.T) {
	db := testdb.Postgres(t, testdb.WithSchema())
	for _, s := range legacyDDL {
		testdb.MustExec(t, db, s)
	}
	st, err := ownstate.Locate(ctx(t), db)
	if err != nil {
		t.Fatal(err)
	}
	located := map[ownstate.Object]string{ownstate.Runs: "ip2adb_runs", ownstate.Journal: "ip2adb_journal",
		ownstate.Steps: "", ownstate.Checksums: "", ownstate.SeedMarker: ""}
	if diff := cmp.Diff(located, names(t, st)); diff != "" {
		t.Errorf("located (-want +got):\n%s", diff)
	}
	if !st.Legacy() {
		t.Error("Legacy() = false")
	}
	if st, err = ownstate.Ensure(ctx(t), db); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want(dbx.Postgres), names(t, st)); diff != "" {
		t.Errorf("after ensure (-want +got):\n%s", diff)
	}
	wantTables := []string{"ip2adb.file_checksums", "ip2adb.journal", "ip2adb.run_steps", "ip2adb.runs", "ip2adb.seed_marker"}
	if diff := cmp.Diff(wantTables, ownTables(t, db)); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
	var runs []string
	if err := db.Select(&runs, `SELECT run_id || ':' || status FROM ip2adb.runs ORDER BY run_id`); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"AH-1:undone", "AH-2:committed"}, runs); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	// The moved journal keeps its rows and its sequence.
	testdb.MustExec(t, db, `INSERT INTO ip2adb.journal (run_id, step, check_name, table_name, record_id, action, created_at)
VALUES ('AH-2', 2, 'c', 'members', 6, 'delete', '2026-01-02')`)
	var ids []string
	if err := db.Select(&ids, `SELECT id || ':' || record_id || ':' || coalesce(undone_by, '-') FROM ip2adb.journal ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1:5:-", "2:6:-"}, ids); diff != "" {
		t.Errorf("journal (-want +got):\n%s", diff)
	}
	if n := testdb.Count(t, db, "pg_indexes", "schemaname = 'ip2adb' AND indexname = 'ix_ip2adb_journal_run'"); n != 1 {
		t.Errorf("journal index moved: %d", n)
	}
}

// TestEnsureWithoutCreatePrivilege: once the objects exist, a role with
// only DML rights runs Ensure (no DDL), writes and reads the marker.
func TestEnsureWithoutCreatePrivilege(t *testing.T) {
	url := testdb.PostgresURL(t, testdb.WithSchema())
	admin, err := dbx.Open(ctx(t), url, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := ownstate.Ensure(ctx(t), admin); err != nil {
		t.Fatal(err)
	}
	role, err := dbx.Open(ctx(t), testdb.Role(t, url, testdb.DMLGrants()...), dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer role.Close()
	st, err := ownstate.Ensure(ctx(t), role)
	if err != nil {
		t.Fatalf("ensure as a DML-only role: %v", err)
	}
	if diff := cmp.Diff(want(dbx.Postgres), names(t, st)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	m := ownstate.Marker{SeededAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Seed: 1, Profile: "quick"}
	if err := ownstate.WriteMarker(ctx(t), role, m); err != nil {
		t.Fatal(err)
	}
	// Without the objects, the same role cannot create them: the error
	// says so rather than half-creating anything.
	url2 := testdb.PostgresURL(t, testdb.WithSchema())
	role2, err := dbx.Open(ctx(t), testdb.Role(t, url2, "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
		"GRANT USAGE ON SCHEMA public TO %s"), dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer role2.Close()
	if _, err := ownstate.Ensure(ctx(t), role2); err == nil {
		t.Error("ensure without CREATE on the database succeeded")
	}
}

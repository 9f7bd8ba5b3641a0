package resilience

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

func TestQueryPerformance(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		env := testEnv(t, db)
		seedRows(t, db)
		var note ip2adb.Issue
		if db.DriverName() == "sqlite" {
			note = issue("query_performance", ip2adb.Info, "",
				"Statement statistics (pg_stat_statements) are not supported on sqlite; only the three timed queries were measured", "",
				map[string]any{"supported": false, "dialect": "sqlite"})
		} else {
			note = issue("query_performance", ip2adb.Info, "",
				"pg_stat_statements is not installed, so the slowest statements cannot be listed", "",
				map[string]any{"extension": "pg_stat_statements", "installed": false})
		}
		res := probeOnce(t, QueryPerformance(withTables(Options{})), env)
		if d := cmp.Diff([]ip2adb.Issue{note}, res.Findings, ignoreRec); d != "" {
			t.Errorf("default threshold (-want +got):\n%s", d)
		}
		timings := res.Metrics["timings_ms"].(map[string]any)
		if len(timings) != 3 {
			t.Errorf("timings %v", timings)
		}

		res = probeOnce(t, QueryPerformance(withTables(Options{SlowQuery: time.Nanosecond})), env)
		var got []string
		for _, f := range res.Findings {
			if f.Severity == ip2adb.Warning {
				got = append(got, f.Key["query"].(string))
				if f.Details["threshold_ms"] != int64(0) || f.Details["sql"] == "" {
					t.Errorf("details %v", f.Details)
				}
			}
		}
		if d := cmp.Diff([]string{"count_members", "count_employments", "members_employments_join"}, got); d != "" {
			t.Errorf("slow queries (-want +got):\n%s", d)
		}
		if got := res.Findings[2].Details["rows"]; got != int64(3) {
			t.Errorf("join rows = %v, want 3", got)
		}
	}, testdb.WithSchema())
}

func TestQueryPerformanceStatStatementsNotLoaded(t *testing.T) {
	db := testdb.Postgres(t, testdb.WithSchema())
	testdb.MustExec(t, db, "CREATE EXTENSION pg_stat_statements")
	res := probeOnce(t, QueryPerformance(withTables(Options{})), testEnv(t, db))
	if len(res.Findings) != 1 || res.Findings[0].Severity != ip2adb.Info || res.Findings[0].Details["installed"] != true {
		t.Fatalf("findings %v", res.Findings)
	}
	// This server does not preload the library, so reading fails and says so.
	if res.Metrics["pg_stat_statements"] != "unreadable" {
		t.Logf("pg_stat_statements readable on this server: %v", res.Metrics["slowest_statements"])
	}
}

func TestIndexHealthPostgres(t *testing.T) {
	db := testdb.Postgres(t, testdb.WithSchema())
	env := testEnv(t, db)
	testdb.MustExec(t, db, "CREATE INDEX ix_members_number_dup ON members (member_number)")
	testdb.MustExec(t, db, "CREATE INDEX ix_members_last_name ON members (last_name)")
	testdb.MustExec(t, db, "CREATE UNIQUE INDEX ux_students_number ON students (student_number)")
	testdb.MustExec(t, db, "CREATE INDEX ix_members_city ON members (city)")
	testdb.MustExec(t, db, "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ix_members_city'::regclass")

	res := probeOnce(t, IndexHealth(withTables(Options{CreateExtension: true})), env)
	unused := []IndexRef{
		{"file_attachments", "ix_attachments_record"},
		{"member_employments", "ix_employments_member"}, {"member_employments", "ix_employments_org"},
		{"members", "ix_members_city"}, {"members", "ix_members_last_name"},
		{"members", "ix_members_number"}, {"members", "ix_members_number_dup"},
		{"organization_contacts", "ix_org_contacts_org"},
		{"students", "ix_students_email"}, {"students", "ix_students_member"},
	}
	want := []ip2adb.Issue{
		issue("index_health", ip2adb.Info, "", "10 indexes have never been scanned since statistics were last reset", "",
			map[string]any{"count": 10, "indexes": unused}),
		{Check: "resilience.index_health", Category: "index_health", Severity: ip2adb.Warning, Table: "members",
			Key:         map[string]any{"index": "ix_members_city"},
			Description: "Index ix_members_city on members is invalid (a failed or interrupted build): it is not used and, if unique, enforces nothing",
			Details:     map[string]any{"index": "ix_members_city"}},
		{Check: "resilience.index_health", Category: "index_health", Severity: ip2adb.Warning, Table: "members",
			Key:         map[string]any{"indexes": "ix_members_number,ix_members_number_dup"},
			Description: "Indexes ix_members_number, ix_members_number_dup on members index the same columns",
			Details:     map[string]any{"indexes": []string{"ix_members_number", "ix_members_number_dup"}}},
	}
	if d := cmp.Diff(want, res.Findings, ignoreRec); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	checkRecs(t, res.Findings)
	// 9 primary keys + 7 schema indexes + 3 valid created ones, and the 9
	// tables, verified by amcheck.
	if res.Metrics["btree_checked"] != 19 || res.Metrics["heap_checked"] != 9 || res.Metrics["relations_left"] != 0 ||
		res.Metrics["amcheck"] != "installed by this run" {
		t.Errorf("amcheck metrics %v", res.Metrics)
	}
	res = probeOnce(t, IndexHealth(withTables(Options{})), env)
	if res.Metrics["amcheck"] != "installed" {
		t.Errorf("second run amcheck = %v", res.Metrics["amcheck"])
	}
}

func TestIndexHealthAmcheckUnavailable(t *testing.T) {
	db := testdb.Postgres(t, testdb.WithSchema())
	// Without --create-extension nothing is installed, whatever
	// NoCreateExtension says (it is accepted and ignored).
	for _, opt := range []Options{{}, {NoCreateExtension: true}} {
		res := probeOnce(t, IndexHealth(opt), testEnv(t, db))
		last := res.Findings[len(res.Findings)-1]
		want := issue("index_health", ip2adb.Info, "",
			"amcheck not installed: table heaps and B-tree indexes were not verified", "",
			map[string]any{"extension": "amcheck", "installed": false, "available": true,
				"command": "CREATE EXTENSION amcheck; (or ip2adb resilience --create-extension)"})
		if d := cmp.Diff(want, last, ignoreRec); d != "" {
			t.Errorf("amcheck finding (-want +got):\n%s", d)
		}
		if n := testdb.Count(t, db, "pg_extension", "extname = 'amcheck'"); n != 0 {
			t.Errorf("amcheck was installed without CreateExtension")
		}
	}
}

func TestIndexHealthSQLite(t *testing.T) {
	db := testdb.SQLite(t, testdb.WithSchema())
	testdb.MustExec(t, db, "CREATE INDEX ix_members_number_dup ON members (member_number)")
	testdb.MustExec(t, db, "CREATE INDEX ix_members_number_desc ON members (member_number DESC)")
	testdb.MustExec(t, db, "CREATE INDEX ix_members_number_partial ON members (member_number) WHERE NOT is_deleted")
	res := probeOnce(t, IndexHealth(withTables(Options{})), testEnv(t, db))
	want := []ip2adb.Issue{
		{Check: "resilience.index_health", Category: "index_health", Severity: ip2adb.Warning, Table: "members",
			Key:         map[string]any{"indexes": "ix_members_number,ix_members_number_dup"},
			Description: "Indexes ix_members_number, ix_members_number_dup on members index the same columns",
			Details:     map[string]any{"indexes": []string{"ix_members_number", "ix_members_number_dup"}}},
		issue("index_health", ip2adb.Info, "",
			"Index usage statistics (unused indexes), invalid-index detection and amcheck are not supported on sqlite; PRAGMA integrity_check and foreign_key_check ran instead", "",
			map[string]any{"supported": false, "dialect": "sqlite"}),
	}
	if d := cmp.Diff(want, res.Findings, ignoreRec); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
}

// TestIndexHealthSQLiteCorrupt swaps the root pages of two indexes, so that
// each holds the other's entries: PRAGMA integrity_check reports them.
func TestIndexHealthSQLiteCorrupt(t *testing.T) {
	u := testdb.SQLiteURL(t)
	db, err := dbx.Open(context.Background(), u, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	testdb.MustExec(t, db, "CREATE TABLE t (a int, b int)")
	testdb.MustExec(t, db, "CREATE INDEX ta ON t (a)")
	testdb.MustExec(t, db, "CREATE INDEX tb ON t (b)")
	testdb.MustExec(t, db, "INSERT INTO t VALUES (1, 9), (2, 8)")
	var ra, rb int
	if err := db.Get(&ra, "SELECT rootpage FROM sqlite_schema WHERE name = 'ta'"); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&rb, "SELECT rootpage FROM sqlite_schema WHERE name = 'tb'"); err != nil {
		t.Fatal(err)
	}
	testdb.MustExec(t, db, "PRAGMA writable_schema = ON")
	testdb.MustExec(t, db, "UPDATE sqlite_schema SET rootpage = ? WHERE name = 'ta'", rb)
	testdb.MustExec(t, db, "UPDATE sqlite_schema SET rootpage = ? WHERE name = 'tb'", ra)
	testdb.MustExec(t, db, "PRAGMA writable_schema = OFF")
	db.Close()
	db, err = dbx.Open(context.Background(), u, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	res := probeOnce(t, IndexHealth(withTables(Options{})), testEnv(t, db))
	problems := []string{"row 1 missing from index tb", "row 1 missing from index ta", "row 2 missing from index tb", "row 2 missing from index ta"}
	want := issue("index_health", ip2adb.Critical, "", "PRAGMA integrity_check reports 4 problems: row 1 missing from index tb", "",
		map[string]any{"count": 4, "problems": problems})
	if d := cmp.Diff(want, res.Findings[0], ignoreRec); d != "" {
		t.Errorf("finding (-want +got):\n%s", d)
	}
}

// TestIndexHealthOldAmcheck: amcheck 1.2 (PostgreSQL 13) has no
// verify_heapam; the indexes are verified anyway and the missing heap check
// is said as info.
func TestIndexHealthOldAmcheck(t *testing.T) {
	db := testdb.Postgres(t, testdb.WithSchema())
	testdb.MustExec(t, db, "CREATE EXTENSION amcheck VERSION '1.2'")
	res := probeOnce(t, IndexHealth(withTables(Options{})), testEnv(t, db))
	last := res.Findings[len(res.Findings)-1]
	if last.Severity != ip2adb.Info || last.Description != "amcheck on this server has no verify_heapam (it needs amcheck 1.3, PostgreSQL 14 or later): table heaps were not verified, B-tree indexes were" ||
		last.Details["command"] != "ALTER EXTENSION amcheck UPDATE; (after upgrading to PostgreSQL 14 or later)" {
		t.Errorf("finding %+v", last)
	}
	if res.Metrics["btree_checked"] != 16 || res.Metrics["heap_checked"] != 0 {
		t.Errorf("metrics %v", res.Metrics)
	}
}

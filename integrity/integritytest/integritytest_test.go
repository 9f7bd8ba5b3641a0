package integritytest_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/integrity/integritytest"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/jmoiron/sqlx"
)

// TestRules runs the suite on every check of the IP2A rule set, on both
// databases, seeded with one planted fault of every kind.
func TestRules(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC) }
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		files := t.TempDir()
		if _, err := seed.Run(context.Background(), db, seed.Options{Profile: seed.Quick, Faults: 1, FilesDir: files, Now: now}); err != nil {
			t.Fatal(err)
		}
		for _, c := range ip2a.Rules(ip2a.RuleOptions{FilesRoot: files, Now: now}) {
			t.Run(c.Name(), func(t *testing.T) { integritytest.Run(t, db, c) })
		}
	})
}

// TestViolations: the suite finds each way a check can break the contract.
func TestViolations(t *testing.T) {
	meta := integrity.Meta{Name: "test.bad", Category: ip2adb.CategoryEmploymentLogic, Severity: ip2adb.Warning, Table: "members"}
	issue := ip2adb.Issue{Check: "test.bad", Category: ip2adb.CategoryEmploymentLogic, Severity: ip2adb.Warning, Table: "members"}
	for _, tc := range []struct {
		name string
		f    func(ctx context.Context, db *sqlx.DB, limit int) (integrity.Result, error)
		want string
	}{
		{"ignores the limit", func(ctx context.Context, db *sqlx.DB, limit int) (integrity.Result, error) {
			return integrity.Result{Count: 2, Issues: []ip2adb.Issue{issue, issue}}, ctx.Err()
		}, "test.bad does not conform to integrity.Checker:\n" +
			"Check(limit 0): 2 issues for a count of 2 (want at most the limit and the count, and at least one when both are positive)\n" +
			"Check(limit 1): 2 issues for a count of 2 (want at most the limit and the count, and at least one when both are positive)"},
		{"count depends on the limit", func(ctx context.Context, db *sqlx.DB, limit int) (integrity.Result, error) {
			n := min(limit, 3)
			return integrity.Result{Count: max(n, 1), Issues: make([]ip2adb.Issue, 0)}, ctx.Err()
		}, "test.bad does not conform to integrity.Checker:\n" +
			"Check(limit 0): Count 1, but 3 with limit 1000\n" +
			"Check(limit 1): Count 1, but 3 with limit 1000\n" +
			"Check(limit 1): 0 issues for a count of 1 (want at most the limit and the count, and at least one when both are positive)\n" +
			"Check(limit 3): 0 issues for a count of 3 (want at most the limit and the count, and at least one when both are positive)\n" +
			"Check(limit 4): 0 issues for a count of 3 (want at most the limit and the count, and at least one when both are positive)"},
		{"issues of another check", func(ctx context.Context, db *sqlx.DB, limit int) (integrity.Result, error) {
			other := issue
			other.Check, other.Severity = "test.other", ip2adb.Critical
			return integrity.Result{Count: 1, Issues: []ip2adb.Issue{other}[:min(limit, 1)]}, ctx.Err()
		}, "test.bad does not conform to integrity.Checker:\n" +
			`Check(limit 1): issue 0 names check "test.other", want "test.bad"` + "\n" +
			`Check(limit 1): issue 0 has severity "critical", want "warning" as Describe says` + "\n" +
			`Check(limit 2): issue 0 names check "test.other", want "test.bad"` + "\n" +
			`Check(limit 2): issue 0 has severity "critical", want "warning" as Describe says`},
		{"ignores the context", func(ctx context.Context, db *sqlx.DB, limit int) (integrity.Result, error) {
			return integrity.Result{Count: 1, Issues: []ip2adb.Issue{issue}[:min(limit, 1)]}, nil
		}, "test.bad does not conform to integrity.Checker:\n" +
			"Check with a cancelled context returned no error"},
		{"names a row that does not exist", func(ctx context.Context, db *sqlx.DB, limit int) (integrity.Result, error) {
			gone := issue
			gone.RecordID = ip2adb.Ptr[int64](999)
			return integrity.Result{Count: 1, Issues: []ip2adb.Issue{gone}[:min(limit, 1)]}, ctx.Err()
		}, "test.bad does not conform to integrity.Checker:\n" +
			"issue 0 names row map[id:999] of members, but 0 rows have that key"},
		{"names a row by another column", func(ctx context.Context, db *sqlx.DB, limit int) (integrity.Result, error) {
			other := issue
			other.SetRecordKey([]string{"member_number"}, []any{"M1"})
			return integrity.Result{Count: 1, Issues: []ip2adb.Issue{other}[:min(limit, 1)]}, ctx.Err()
		}, "test.bad does not conform to integrity.Checker:\n" +
			"issue 0 names its row by member_number, but table members is keyed by id"},
		{"finds nothing", func(ctx context.Context, db *sqlx.DB, limit int) (integrity.Result, error) {
			return integrity.Result{}, nil
		}, "test.bad does not conform to integrity.Checker:\n" +
			"the check found nothing: the database must hold at least one row or group the check reports"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := testdb.SQLite(t, testdb.WithSchema())
			c := integrity.NewCheck(meta, tc.f)
			err := integritytest.Verify(context.Background(), db, c)
			got := ""
			if err != nil {
				got = "test.bad does not conform to integrity.Checker:\n" + err.Error()
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Verify (-want +got):\n%s", d)
			}
		})
	}
}

// TestOtherKeys runs the suite on checks of a schema that is not IP2A's,
// on both databases: rows keyed by text, by two columns, by an integer
// column not named id, by a uuid, and soft-deleted by deleted_at alone.
func TestOtherKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		for _, q := range []string{
			`CREATE TABLE contractors (code TEXT PRIMARY KEY, name TEXT, deleted_at TIMESTAMP)`,
			`CREATE TABLE crews (crew_no INTEGER PRIMARY KEY, name TEXT)`,
			`CREATE TABLE lines (local INTEGER NOT NULL, seq INTEGER NOT NULL, contractor_code TEXT, crew_no INTEGER,
				starts_on DATE, ends_on DATE, PRIMARY KEY (local, seq))`,
			`CREATE TABLE badges (id UUID PRIMARY KEY, holder TEXT)`,
			`INSERT INTO contractors (code, name, deleted_at) VALUES ('C-1', 'Ada', NULL), ('C-2', NULL, NULL), ('C-3', NULL, '2024-01-01 00:00:00')`,
			`INSERT INTO crews (crew_no, name) VALUES (10, 'North'), (20, NULL)`,
			`INSERT INTO lines (local, seq, contractor_code, crew_no, starts_on, ends_on) VALUES
				(46, 1, 'C-1', 10, '2024-02-01', '2024-01-01'), (46, 2, 'C-9', 10, NULL, NULL), (7, 1, 'C-3', 10, NULL, NULL)`,
			`INSERT INTO badges (id, holder) VALUES ('0f8fad5b-d9cb-469f-a165-70867728950e', NULL), ('7c9e6679-7425-40de-944b-e07fc1f90ae7', 'Ada')`,
		} {
			testdb.MustExec(t, db, q)
		}
		meta := func(name, table string) integrity.Meta {
			return integrity.Meta{Name: name, Category: ip2adb.CategoryDataAnomaly, Severity: ip2adb.Warning, Table: table, SoftDelete: true}
		}
		for _, c := range []integrity.Checker{
			integrity.Required{Meta: meta("contractor.name", "contractors"), Columns: []string{"name"}},
			integrity.Required{Meta: meta("crew.name", "crews"), Columns: []string{"name"}},
			integrity.Required{Meta: meta("badge.holder", "badges"), Columns: []string{"holder"}},
			integrity.ForeignKey{Meta: meta("line.contractor", "lines"), Column: "contractor_code", References: "contractors"},
			integrity.DateOrder{Meta: meta("line.dates", "lines"), Start: "starts_on", End: "ends_on"},
			integrity.HasChildren{Meta: meta("crew.no_lines", "crews"), ChildTable: "lines", ChildColumn: "crew_no"},
		} {
			t.Run(c.Name(), func(t *testing.T) { integritytest.Run(t, db, c) })
		}
	})
}

package seed

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

func TestLaneTables(t *testing.T) {
	stress := map[string]int64{"locations": 250, "instructors": 500, "organizations": 750, "organization_contacts": 2231,
		"members": 10000, "member_employments": 439375, "students": 1000, "grievances": 77, "file_attachments": 120387}
	for _, tc := range []struct {
		name   string
		totals map[string]int64
		n      int
		want   [][]string
	}{
		{"stress on three", stress, 3, [][]string{
			{"member_employments"},
			{"file_attachments"},
			{"locations", "instructors", "organizations", "organization_contacts", "members", "students", "grievances"},
		}},
		{"stress on two", stress, 2, [][]string{
			{"member_employments"},
			{"locations", "instructors", "organizations", "organization_contacts", "members", "students", "grievances", "file_attachments"},
		}},
		{"one lane keeps load order", stress, 1, [][]string{loadOrder}},
		{"more lanes than tables", map[string]int64{"locations": 1, "members": 2}, 9, [][]string{{"members"}, {"locations"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tables := loadOrder
			if len(tc.totals) < len(loadOrder) {
				tables = []string{"locations", "members"}
			}
			if diff := cmp.Diff(tc.want, laneTables(tables, tc.totals, tc.n)); diff != "" {
				t.Errorf("lanes (-want +got):\n%s", diff)
			}
		})
	}
}

// eachPath runs fn for both ways of a parallel load: through the
// driver's connections (text COPY) and through the seed's own (binary
// COPY); url is "" for the first.
func eachPath(t *testing.T, fn func(t *testing.T, db *sqlx.DB, url string)) {
	t.Helper()
	t.Run("driver", func(t *testing.T) { fn(t, testdb.Postgres(t, testdb.WithSchema()), "") })
	t.Run("own connections", func(t *testing.T) {
		db, url := postgresWithURL(t, testdb.WithSchema())
		fn(t, db, url)
	})
}

// TestParallelGuard: on ip2adb's own schema (loaded on several
// connections) rows no seed wrote, in tables of different lanes, are all
// reported in load order and nothing changes.
func TestParallelGuard(t *testing.T) {
	eachPath(t, func(t *testing.T, db *sqlx.DB, url string) {
		mustSeed(t, db, Options{Profile: Quick, Members: 20, Organizations: 5, Students: 5, PostgresURL: url})
		testdb.MustExec(t, db, `INSERT INTO member_employments (member_id, organization_id, start_date) VALUES (1, 1, '2020-01-01')`)
		testdb.MustExec(t, db, `INSERT INTO members (member_number, first_name, last_name) VALUES ('X1', 'Ann', 'Lee')`)
		testdb.MustExec(t, db, `INSERT INTO file_attachments (file_path) VALUES ('x')`)
		before := digest(t, db)
		_, err := Run(context.Background(), db, Options{Profile: Quick, Members: 20, Organizations: 5, Students: 5, Now: clock, PostgresURL: url})
		var ne *NotEmptyError
		if !errors.As(err, &ne) {
			t.Fatalf("seed over foreign rows: %v; want a *NotEmptyError", err)
		}
		want := []TableStats{{Table: "members", Rows: 1}, {Table: "member_employments", Rows: 1}, {Table: "file_attachments", Rows: 1}}
		if diff := cmp.Diff(want, ne.Tables); diff != "" {
			t.Errorf("foreign rows (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(before, digest(t, db)); diff != "" {
			t.Errorf("a refused seed changed the database (-before +after):\n%s", diff)
		}
	})
}

// TestParallelFailureRollsBackEveryLane: when one connection's load fails
// (a constraint refuses an employment, or the seed is canceled while
// employments load), the tables the other connections loaded are rolled
// back too.
func TestParallelFailureRollsBackEveryLane(t *testing.T) {
	eachPath(t, func(t *testing.T, db *sqlx.DB, url string) {
		mustSeed(t, db, Options{Profile: Quick, Members: 20, Organizations: 5, Students: 5, PostgresURL: url})
		before := digest(t, db)
		mustCancelUnchanged(t, db, Options{Profile: Quick, Members: 50, Now: clock, PostgresURL: url})

		testdb.MustExec(t, db, `ALTER TABLE member_employments ADD CONSTRAINT perf_no_rates CHECK (hourly_rate IS NULL) NOT VALID`)
		_, err := Run(context.Background(), db, Options{Profile: Quick, Members: 50, Now: clock, PostgresURL: url})
		if err == nil || !strings.Contains(err.Error(), "perf_no_rates") {
			t.Fatalf("a seed whose employments a constraint refuses: %v; want the constraint's error", err)
		}
		if diff := cmp.Diff(before, digest(t, db)); diff != "" {
			t.Errorf("a failed seed changed the database (-before +after):\n%s", diff)
		}
		if got := queryInt(t, db, "SELECT count(*) FROM members"); got != 20 {
			t.Errorf("members = %d after the failed seed; want 20", got)
		}
	})
}

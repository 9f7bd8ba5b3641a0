package integrity_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/jmoiron/sqlx"
)

// TestNumericDetailsSameOnBothDatabases: a NUMERIC column (hourly_rate) reads
// as text from lib/pq and as a number from SQLite; issue details and
// descriptions must not depend on the database — a number, integral values
// as int64 the way SQLite's numeric affinity stores them.
func TestNumericDetailsSameOnBothDatabases(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		testdb.MustExec(t, db, `INSERT INTO member_employments (id, member_id, organization_id, start_date, hourly_rate) VALUES
			(1, 1, 1, '2020-01-01', 5.00), (2, 1, 1, '2020-01-01', 200.50), (3, 1, 1, '2020-01-01', 48.25)`)
		var rate integrity.Checker
		for _, c := range ip2a.Rules(ip2a.RuleOptions{NoFiles: true}) {
			if c.Name() == ip2a.EmploymentHourlyRateRange {
				rate = c
			}
		}
		res, err := rate.Check(context.Background(), db, 10)
		if err != nil {
			t.Fatal(err)
		}
		type got struct {
			Description string
			Details     map[string]any
		}
		var out []got
		for _, is := range res.Issues {
			out = append(out, got{is.Description, is.Details})
		}
		want := []got{
			{"member_employments 1: hourly_rate 5 is outside 10..150", map[string]any{"hourly_rate": int64(5), "min": 10.0, "max": 150.0}},
			{"member_employments 2: hourly_rate 200.5 is outside 10..150", map[string]any{"hourly_rate": 200.5, "min": 10.0, "max": 150.0}},
		}
		if d := cmp.Diff(want, out); d != "" {
			t.Errorf("issues (-want +got):\n%s", d)
		}
	}, testdb.WithSchema())
}

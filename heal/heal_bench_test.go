package heal_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/jmoiron/sqlx"
)

// plantBulk plants faults/4 rows each of four fixable kinds — employments
// of missing members (#1, delete), employments ending before they start
// (#10, set_null), current employments with an end date (#11, set_value)
// and members with an invalid status (#7, set_value) — next to clean rows
// (`members` clean members, 100 organizations, 2 clean employments per fault), with
// one INSERT … SELECT per kind (generate_series on PostgreSQL, a recursive
// CTE on SQLite).
func plantBulk(tb testing.TB, db *sqlx.DB, faults, members int) {
	tb.Helper()
	q := faults / 4
	series := func(n int) string {
		if dbx.DialectOf(db) == dbx.Postgres {
			return fmt.Sprintf("generate_series(1, %d) AS s(g)", n)
		}
		return fmt.Sprintf("(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %d) SELECT g FROM s) AS s", n)
	}
	ts := "'2024-01-01 00:00:00'"
	for _, s := range []string{
		`DELETE FROM member_employments`, `DELETE FROM members`, `DELETE FROM organizations`,
		`INSERT INTO organizations (id, name, org_type, created_at, updated_at) SELECT g, 'Org', 'employer', ` + ts + `, ` + ts + ` FROM ` + series(100),
		`INSERT INTO members (id, member_number, first_name, last_name, status, classification, created_at, updated_at)
		 SELECT g, 'M' || g, 'F', 'L', CASE WHEN g > ` + fmt.Sprint(members) + ` THEN 'bogus' ELSE 'active' END, 'journeyman', ` + ts + `, ` + ts + ` FROM ` + series(members+q),
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, hourly_rate, is_current, created_at, updated_at)
		 SELECT g, (g % ` + fmt.Sprint(members) + `) + 1, (g % 100) + 1, '2020-01-01', NULL, 40.00, g % 7 = 0, ` + ts + `, ` + ts + ` FROM ` + series(2*faults),
		fmt.Sprintf(`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, hourly_rate, is_current, created_at, updated_at)
		 SELECT %d + g, 1000000 + g, 1, '2019-01-01', '2019-06-01', 30.00, FALSE, `+ts+`, `+ts+` FROM `+series(q), 2*faults),
		fmt.Sprintf(`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, hourly_rate, is_current, created_at, updated_at)
		 SELECT %d + g, (g %% %d) + 1, 1, '2020-06-01', '2020-01-01', 30.00, FALSE, `+ts+`, `+ts+` FROM `+series(q), 2*faults+q, members),
		fmt.Sprintf(`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, hourly_rate, is_current, created_at, updated_at)
		 SELECT %d + g, (g %% %d) + 1, 2, '2020-01-01', '2021-01-01', 30.00, TRUE, `+ts+`, `+ts+` FROM `+series(q), 2*faults+2*q, members),
	} {
		testdb.MustExec(tb, db, s)
	}
	testdb.MustExec(tb, db, `ANALYZE`)
}

// repairAll applies every repairable IP2A rule in one journaled transaction,
// as a run does, and returns the rows changed.
func repairAll(tb testing.TB, db *sqlx.DB, runID string) int64 {
	tb.Helper()
	ctx := context.Background()
	opts := &sql.TxOptions{} // as heal.Cycle: REPEATABLE READ on PostgreSQL
	if dbx.DialectOf(db) == dbx.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.BeginTxx(ctx, opts)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	if err := heal.EnsureJournal(ctx, tx); err != nil {
		tb.Fatal(err)
	}
	var total int64
	seq := 0
	for _, c := range ip2a.Rules(ip2a.RuleOptions{NoFiles: true, Now: fixedNow}) {
		r, ok := c.(integrity.Repairable)
		if !ok {
			continue
		}
		seq++
		n, err := heal.SQLRepairer{}.Repair(ctx, tx, heal.Step{RunID: runID, Seq: seq, Check: c.Name(), Stamp: clock}, r.Fix())
		if err != nil {
			tb.Fatal(err)
		}
		total += n
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return total
}

// BenchmarkRepair measures set-based repairs including the journal with
// 100,000 planted faults (IP2ADB_BENCH_FAULTS overrides). Opt-in:
//
//	IP2ADB_BENCH_STRESS=1 go test -run '^$' -bench Repair -benchtime 3x ./heal
func BenchmarkRepair(b *testing.B) {
	testdb.StressOnly(b)
	faults := 100_000
	if v := os.Getenv("IP2ADB_BENCH_FAULTS"); v != "" {
		fmt.Sscan(v, &faults)
	}
	for _, tc := range []struct {
		name string
		open func(testing.TB, ...testdb.Option) *sqlx.DB
	}{{"postgres", testdb.Postgres}, {"sqlite", testdb.SQLite}} {
		b.Run(fmt.Sprintf("%s/faults=%d", tc.name, faults), func(b *testing.B) {
			db := tc.open(b, testdb.WithSchema())
			var rows int64
			var elapsed time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				plantBulk(b, db, faults, 10_000)
				b.StartTimer()
				start := time.Now()
				n := repairAll(b, db, fmt.Sprintf("BENCH-%d", i))
				elapsed += time.Since(start)
				if n != int64(faults/4*4) {
					b.Fatalf("repaired %d rows, want %d", n, faults/4*4)
				}
				rows += n
			}
			b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
		})
	}
}

// TestRepairMemoryIsFlatInTheNumberOfFaults compares what one repair run
// allocates in the Go heap with 100 and with 4,000 planted faults: the
// statements are set-based, so the difference is noise, not rows.
func TestRepairMemoryIsFlatInTheNumberOfFaults(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		measure := func(faults int, run string) uint64 {
			plantBulk(t, db, faults, 500)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			if n := repairAll(t, db, run); n != int64(faults) {
				t.Fatalf("repaired %d, want %d", n, faults)
			}
			runtime.ReadMemStats(&after)
			return after.TotalAlloc - before.TotalAlloc
		}
		measure(100, "WARM") // warm the pool and statement caches
		small := measure(100, "SMALL")
		large := measure(4_000, "LARGE")
		t.Logf("allocated %d bytes for 100 faults, %d bytes for 4,000", small, large)
		if large > 2*small+256<<10 {
			t.Errorf("allocations grow with the faults: %d bytes for 100, %d for 4,000", small, large)
		}
	}, testdb.WithSchema())
}

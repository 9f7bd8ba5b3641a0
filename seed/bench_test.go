package seed

import (
	"context"
	"os"
	"testing"

	"github.com/ip2adb/ip2adb/internal/testdb"
)

// nullSink counts what it is given.
type nullSink struct{ rows int64 }

func (s *nullSink) begin(context.Context, string, []string) error { return nil }
func (s *nullSink) write(_ context.Context, c chunk) error        { s.rows += int64(c.n); return nil }
func (s *nullSink) end(context.Context) error                     { return nil }

func stressOnly(b *testing.B) {
	b.Helper()
	if os.Getenv("IP2ADB_BENCH_STRESS") != "1" {
		b.Skip("stress-scale benchmark: set IP2ADB_BENCH_STRESS=1")
	}
}

// BenchmarkGenerateStress measures generation and COPY encoding alone
// (no database): the stress profile into a sink that only counts.
func BenchmarkGenerateStress(b *testing.B) {
	stressOnly(b)
	var s nullSink
	for b.Loop() {
		p := newPlan(Options{Profile: Stress}.withDefaults(), offsets{})
		var st Stats
		if err := p.load(context.Background(), &s, true, &st); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkSeedStressPostgres seeds the stress profile into a fresh
// PostgreSQL database per iteration.
func BenchmarkSeedStressPostgres(b *testing.B) {
	stressOnly(b)
	db := testdb.Postgres(b)
	var rows int64
	for b.Loop() {
		st, err := Run(context.Background(), db, Options{Profile: Stress})
		if err != nil {
			b.Fatal(err)
		}
		rows += st.Rows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

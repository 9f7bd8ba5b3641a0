package seed

import (
	"context"
	"testing"

	"github.com/ip2adb/ip2adb/internal/testdb"
)

// nullSink counts what it is given.
type nullSink struct{ rows int64 }

func (s *nullSink) begin(context.Context, string, []string) error { return nil }
func (s *nullSink) write(_ context.Context, c chunk) error        { s.rows += int64(c.n); return nil }
func (s *nullSink) end(context.Context) error                     { return nil }

// BenchmarkGenerateStress measures generation and COPY encoding alone
// (no database): the stress profile into a sink that only counts.
func BenchmarkGenerateStress(b *testing.B) {
	testdb.StressOnly(b)
	var s nullSink
	for b.Loop() {
		p, err := newPlan(Options{Profile: Stress}.withDefaults(), offsets{}, nil, caps{})
		if err != nil {
			b.Fatal(err)
		}
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
	testdb.StressOnly(b)
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

// BenchmarkSeedStressRealPostgres seeds the stress profile with faults
// into the real IP2A schema (enum labels, NOT NULL columns, foreign keys
// loaded parents first) per iteration.
func BenchmarkSeedStressRealPostgres(b *testing.B) {
	testdb.StressOnly(b)
	db := testdb.RealPostgres(b)
	var rows int64
	for b.Loop() {
		st, err := Run(context.Background(), db, Options{Profile: Stress, Faults: 10, Force: true})
		if err != nil {
			b.Fatal(err)
		}
		rows += st.Rows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

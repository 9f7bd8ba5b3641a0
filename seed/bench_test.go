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
// (no database): the stress profile into a sink that only counts, encoded
// as text and as binary (the column types read from ip2adb's schema).
func BenchmarkGenerateStress(b *testing.B) {
	testdb.StressOnly(b)
	b.Run("text", func(b *testing.B) { benchGenerate(b, nil, nil) })
	b.Run("binary", func(b *testing.B) {
		db, url := postgresWithURL(b, testdb.WithSchema())
		live, err := prepareSchema(context.Background(), db)
		if err != nil {
			b.Fatal(err)
		}
		c, err := dialWire(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		defer c.close()
		p, err := newPlan(Options{Profile: Stress}.withDefaults(), offsets{}, live, newCaps(live, false, ""))
		if err != nil {
			b.Fatal(err)
		}
		enc, err := binaryEncoders(context.Background(), []*pgLane{{c: c, tables: loadOrder}}, p)
		if err != nil {
			b.Fatal(err)
		}
		if len(enc) != len(loadOrder) {
			b.Fatalf("binary encoders for %d of %d tables", len(enc), len(loadOrder))
		}
		benchGenerate(b, live, enc)
	})
}

func benchGenerate(b *testing.B, live *liveSchema, enc map[string]*binaryEncoder) {
	var s nullSink
	for b.Loop() {
		p, err := newPlan(Options{Profile: Stress}.withDefaults(), offsets{}, live, newCaps(live, false, ""))
		if err != nil {
			b.Fatal(err)
		}
		p.binary = enc
		var st Stats
		if err := p.load(context.Background(), &s, true, &st); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkSeedStressPostgres seeds the stress profile into a fresh
// PostgreSQL database per iteration: through the driver's connections
// (text COPY) and through the seed's own (binary COPY, as the command
// does).
func BenchmarkSeedStressPostgres(b *testing.B) {
	testdb.StressOnly(b)
	for _, path := range []string{"driver", "own connections"} {
		b.Run(path, func(b *testing.B) {
			db, url := postgresWithURL(b)
			if path == "driver" {
				url = ""
			}
			var rows int64
			for b.Loop() {
				st, err := Run(context.Background(), db, Options{Profile: Stress, PostgresURL: url})
				if err != nil {
					b.Fatal(err)
				}
				rows += st.Rows
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
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

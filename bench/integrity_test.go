// Package bench holds the stress-scale benchmarks of ip2adb. They are
// opt-in: set IP2ADB_BENCH_STRESS=1, for example
//
//	IP2ADB_BENCH_STRESS=1 go test -run '^$' -bench Integrity -benchtime 5x ./bench/
package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/ip2a/schema"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/jmoiron/sqlx"
)

// stressDB seeds the stress profile, with every attachment's file on disk,
// into db and returns the files root.
func stressDB(b *testing.B, db *sqlx.DB) string {
	b.Helper()
	ctx := context.Background()
	if err := schema.Apply(ctx, db); err != nil {
		b.Fatal(err)
	}
	files := b.TempDir()
	stats, err := seed.Run(ctx, db, seed.Options{Profile: seed.Stress, FilesDir: files})
	if err != nil {
		b.Fatalf("seed stress: %v", err)
	}
	b.Logf("seeded: %+v", stats)
	return files
}

// BenchmarkIntegrity measures, on the stress profile and in the same run:
// all database-side checks together (db_checks), one full scan — count(*)
// of every table — (full_scan), and the file check over every attachment
// with its file on disk (file_check).
func BenchmarkIntegrity(b *testing.B) {
	testdb.StressOnly(b)
	for _, dialect := range []string{"postgres", "sqlite"} {
		b.Run(dialect, func(b *testing.B) {
			var db *sqlx.DB
			if dialect == "postgres" {
				db = testdb.Postgres(b)
			} else {
				db = testdb.SQLite(b)
			}
			root := stressDB(b, db)
			if dialect == "postgres" {
				if _, err := db.Exec("VACUUM ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			dbChecks := ip2a.Rules(ip2a.RuleOptions{NoFiles: true})
			var fileCheck []integrity.Checker
			for _, c := range ip2a.Rules(ip2a.RuleOptions{FilesRoot: root}) {
				if c.Name() == ip2a.AttachmentFileMissing {
					fileCheck = append(fileCheck, c)
				}
			}

			b.Run("db_checks", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					rep := integrity.Run(ctx, db, dbChecks, integrity.RunOptions{})
					if rep.Summary.FailedChecks > 0 {
						b.Fatalf("failed checks: %+v", rep.Failed())
					}
				}
			})
			b.Run("full_scan", func(b *testing.B) {
				for b.Loop() {
					for _, t := range schema.Tables() {
						var n int
						if err := db.Get(&n, "SELECT count(*) FROM "+t); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
			// The checks as they ran before the fused pass: each its own
			// statement, DefaultConcurrency at once (the baseline of the
			// same run).
			prepared := integrity.Prepare(mustModel(b, db), dbChecks)
			b.Run("db_checks_unfused", func(b *testing.B) {
				for b.Loop() {
					sem := make(chan struct{}, integrity.DefaultConcurrency)
					errs := make(chan error, len(prepared))
					for _, c := range prepared {
						go func() {
							sem <- struct{}{}
							defer func() { <-sem }()
							_, err := c.Check(ctx, db, integrity.DefaultMaxIssues)
							errs <- err
						}()
					}
					for range prepared {
						if err := <-errs; err != nil {
							b.Fatal(err)
						}
					}
				}
			})
			b.Run("file_check", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					rep := integrity.Run(ctx, db, fileCheck, integrity.RunOptions{})
					if rep.Summary.FailedChecks > 0 || rep.Checks[0].Count != 0 {
						b.Fatalf("file check: %+v", rep.Checks[0])
					}
				}
			})
			// Each check on its own, to see which ones dominate (bound to the
			// schema model once, as a run does).
			model, err := catalog.Read(ctx, db, catalog.Options{})
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range integrity.Prepare(model, dbChecks) {
				b.Run("check="+c.Name(), func(b *testing.B) {
					for b.Loop() {
						if _, err := c.Check(ctx, db, integrity.DefaultMaxIssues); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkIntegrityOffenders shows that memory is flat in the number of
// offending rows: the orphan check over 1,000 and over 200,000 orphaned
// employments keeps the same 1,000 samples (compare B/op).
//
//	go test -run '^$' -bench IntegrityOffenders ./bench/
func BenchmarkIntegrityOffenders(b *testing.B) {
	db := testdb.Postgres(b, testdb.WithSchema())
	model, err := catalog.Read(context.Background(), db, catalog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var check integrity.Checker
	for _, c := range integrity.Prepare(model, ip2a.Rules(ip2a.RuleOptions{NoFiles: true})) {
		if c.Name() == ip2a.EmploymentOrphanMember {
			check = c
		}
	}
	planted := 0
	for _, n := range []int{1_000, 200_000} {
		if _, err := db.Exec(`INSERT INTO member_employments (member_id, organization_id, start_date)
			SELECT 1000000 + g, 1, DATE '2020-01-01' FROM generate_series($1::int, $2::int) g`, planted+1, n); err != nil {
			b.Fatal(err)
		}
		planted = n
		if _, err := db.Exec("ANALYZE member_employments"); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("orphans=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := check.Check(context.Background(), db, integrity.DefaultMaxIssues)
				if err != nil || res.Count != n || len(res.Issues) != integrity.DefaultMaxIssues {
					b.Fatalf("count %d, %d issues, err %v", res.Count, len(res.Issues), err)
				}
			}
		})
	}
}

func mustModel(b *testing.B, db *sqlx.DB) *catalog.Model {
	b.Helper()
	m, err := catalog.Read(context.Background(), db, catalog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

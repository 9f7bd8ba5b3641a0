package bench

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/ip2a/schema"
	"github.com/ip2adb/ip2adb/resilience"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/jmoiron/sqlx"
)

// BenchmarkResilienceChecksum measures checksum verification throughput of
// the file_corruption probe over 64 files of 8 MiB each, in the page cache
// after the first pass (MB/s is the figure to read). It is small enough to
// run by default:
//
//	go test -run '^$' -bench ResilienceChecksum -benchtime 5x ./bench/
func BenchmarkResilienceChecksum(b *testing.B) {
	const files, size = 64, 8 << 20
	db := testdb.SQLite(b, testdb.WithSchema())
	root := b.TempDir()
	if _, err := ownstate.Ensure(context.Background(), db); err != nil {
		b.Fatal(err)
	}
	largeFiles(b, db, root, files, size)
	env := resilience.Env{DB: db, FilesRoot: root, LogDir: b.TempDir()}
	probe := resilience.FileCorruption(ip2a.ResilienceOptions(resilience.Options{VerifyBytes: 1 << 40, VerifyTime: time.Hour}))
	ctx := context.Background()
	b.SetBytes(files * size)
	b.ResetTimer()
	for b.Loop() {
		res, err := probe.Probe(ctx, env)
		if err != nil {
			b.Fatal(err)
		}
		if res.Metrics["verified"] != files || len(res.Findings) != 0 {
			b.Fatalf("verified %v, findings %v", res.Metrics["verified"], res.Findings)
		}
	}
}

// BenchmarkResilienceStress runs the fourteen probes, together and one by
// one, on the stress profile without files on PostgreSQL and SQLite, and on
// PostgreSQL with every attachment's file on disk (seed --files-dir, so
// file_corruption hashes all of them within its budget). On PostgreSQL the
// backup is a real pg_dump -Fc of the database (read to its end and
// compared with it) and amcheck verifies every table and index (no budget
// limit). Opt-in:
//
//	IP2ADB_BENCH_STRESS=1 go test -run '^$' -bench ResilienceStress -benchtime 3x -timeout 30m ./bench/
func BenchmarkResilienceStress(b *testing.B) {
	testdb.StressOnly(b)
	for _, tc := range []struct {
		name, dialect string
		files         bool
	}{{"postgres", "postgres", false}, {"sqlite", "sqlite", false}, {"postgres_files", "postgres", true}} {
		b.Run(tc.name, func(b *testing.B) {
			var db *sqlx.DB
			if tc.dialect == "postgres" {
				db = testdb.Postgres(b)
			} else {
				db = testdb.SQLite(b)
			}
			ctx := context.Background()
			if err := schema.Apply(ctx, db); err != nil {
				b.Fatal(err)
			}
			root := b.TempDir()
			opt := seed.Options{Profile: seed.Stress}
			if tc.files {
				opt.FilesDir = root
			}
			stats, err := seed.Run(ctx, db, opt)
			if err != nil {
				b.Fatalf("seed stress: %v", err)
			}
			b.Logf("seeded: %+v", stats)
			if tc.dialect == "postgres" {
				if _, err := db.Exec("VACUUM ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			backups := b.TempDir()
			if tc.dialect == "postgres" {
				var name string
				if err := db.Get(&name, "SELECT current_database()"); err != nil {
					b.Fatal(err)
				}
				u, _ := url.Parse(testdb.ServerURL())
				u.Path = "/" + name
				if out, err := exec.Command("pg_dump", "-Fc", "--dbname="+u.String(), "--file="+filepath.Join(backups, "ip2a.dump")).CombinedOutput(); err != nil {
					b.Fatalf("pg_dump: %v: %s", err, out)
				}
			} else if err := os.WriteFile(filepath.Join(backups, "ip2a.sql"), []byte("BEGIN TRANSACTION;\nCOMMIT;\n"), 0o644); err != nil {
				b.Fatal(err)
			}
			env := resilience.Env{DB: db, FilesRoot: root, BackupDir: backups, LogDir: b.TempDir()}
			probes, err := resilience.Probes(ip2a.ResilienceOptions(resilience.Options{VerifyBytes: 1 << 40, VerifyTime: time.Hour, CreateExtension: true,
				Depth: resilience.Depth{AmcheckBytes: 1 << 40, AmcheckTime: time.Hour}}))
			if err != nil {
				b.Fatal(err)
			}
			b.Run("all", func(b *testing.B) {
				for b.Loop() {
					rep := resilience.Run(ctx, env, probes, resilience.RunOptions{})
					if rep.Summary.FailedProbes > 0 {
						b.Fatalf("failed probes: %+v", rep.Probes)
					}
				}
			})
			for _, p := range probes {
				b.Run(p.Name(), func(b *testing.B) {
					for b.Loop() {
						res, err := p.Probe(ctx, env)
						if err != nil {
							b.Fatal(err)
						}
						if p.Name() == "file_corruption" {
							b.ReportMetric(float64(res.Metrics["verified"].(int)), "files")
						}
					}
				})
			}
		})
	}
}

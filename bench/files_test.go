package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/s3test"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/resilience"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/jmoiron/sqlx"
)

// rssPeak samples the process's resident set (VmRSS) every 10 ms until
// stop is called, and returns the highest value seen in MB. The Go heap is
// returned to the system first, so earlier work does not count.
func rssPeak() (stop func() float64) {
	debug.FreeOSMemory()
	var peak atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := func() {
		f, err := os.Open("/proc/self/status")
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				if kb > peak.Load() {
					peak.Store(kb)
				}
			}
		}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		<-finished
		sample()
		return float64(peak.Load()) / 1024
	}
}

// cpuSeconds is the user and system CPU time process pid has used
// ("self" for this one), from /proc/PID/stat.
func cpuSeconds(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the parenthesised command name; utime and stime are
	// the 12th and 13th of them, in clock ticks (100 a second on Linux).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100
}

// cpuMeter reports, per benchmark iteration, the CPU seconds this process
// and the S3 server used: on a shared machine the wall time says how busy
// the machine was, the CPU time what the work costs.
func cpuMeter(b *testing.B, srv *s3test.Server) func() {
	self0, srv0 := cpuSeconds("self"), cpuSeconds(strconv.Itoa(srv.PID))
	return func() {
		b.ReportMetric((cpuSeconds("self")-self0)/float64(b.N), "client-cpu-s/op")
		b.ReportMetric((cpuSeconds(strconv.Itoa(srv.PID))-srv0)/float64(b.N), "server-cpu-s/op")
	}
}

// stores opens dir as a local store and, through a versitygw serving its
// parent, as s3://BUCKET (bucket = dir's base name).
func stores(b *testing.B, srv *s3test.Server, dir string) map[string]struct {
	root  string
	store filestore.Handle
} {
	b.Helper()
	ctx := context.Background()
	local, err := filestore.OpenLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { local.Close() })
	root := "s3://" + filepath.Base(dir)
	s3, err := filestore.Open(ctx, root, srv.Env())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s3.Close() })
	return map[string]struct {
		root  string
		store filestore.Handle
	}{"local": {dir, local}, "s3": {root, s3}}
}

// BenchmarkFilesS3 compares the file features on the stress store (about
// 120,000 attachment files from seed --stress --files-dir) read as a local
// directory and through a local S3 server (versitygw over the same
// directory): attachment.file_missing (one listing compared as sets), the
// listing alone, and the checksum scrub (file_corruption with a 64 MiB
// budget: small objects, one GET each). peak-RSS-MB is the process's
// resident set while the step ran. Opt-in:
//
//	IP2ADB_BENCH_STRESS=1 go test -run '^$' -bench FilesS3 -benchtime 3x -timeout 30m ./bench/
func BenchmarkFilesS3(b *testing.B) {
	testdb.StressOnly(b)
	ctx := context.Background()
	srv := s3test.Start(b, "")
	dir := srv.Bucket(b, "ip2a-documents")
	db := testdb.Postgres(b, testdb.WithSchema())
	st, err := seed.Run(ctx, db, seed.Options{Profile: seed.Stress, FilesDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d files, %d bytes", st.Files, st.FileBytes)
	for _, name := range []string{"local", "s3"} {
		s := stores(b, srv, dir)[name]
		b.Run("file_missing/"+name, func(b *testing.B) {
			var check integrity.Checker
			for _, c := range ip2a.Rules(ip2a.RuleOptions{FilesRoot: s.root, Files: s.store}) {
				if c.Name() == ip2a.AttachmentFileMissing {
					check = c
				}
			}
			stop, cpu := rssPeak(), cpuMeter(b, srv)
			for b.Loop() {
				rep := integrity.Run(ctx, db, []integrity.Checker{check}, integrity.RunOptions{})
				if rep.Summary.FailedChecks > 0 || rep.Checks[0].Count != 0 {
					b.Fatalf("file check: %+v", rep.Checks[0])
				}
			}
			cpu()
			b.ReportMetric(stop(), "peak-RSS-MB")
		})
		b.Run("list/"+name, func(b *testing.B) {
			stop, cpu := rssPeak(), cpuMeter(b, srv)
			for b.Loop() {
				n := 0
				for _, err := range s.store.List(ctx, "uploads/") {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if int64(n) != st.Files {
					b.Fatalf("listed %d of %d", n, st.Files)
				}
			}
			cpu()
			b.ReportMetric(stop(), "peak-RSS-MB")
			b.ReportMetric(float64(st.Files)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
		})
		b.Run("scrub/"+name, func(b *testing.B) {
			env := resilience.Env{DB: db, FilesRoot: s.root, Files: s.store, LogDir: b.TempDir()}
			probe := resilience.FileCorruption(ip2a.ResilienceOptions(resilience.Options{VerifyBytes: 64 << 20, VerifyTime: time.Hour}))
			stop, cpu := rssPeak(), cpuMeter(b, srv)
			var rate, files float64
			for b.Loop() {
				res, err := probe.Probe(ctx, env)
				if err != nil {
					b.Fatal(err)
				}
				if res.Metrics["mismatched"] != 0 || res.Metrics["missing"] != 0 {
					b.Fatalf("metrics %v", res.Metrics)
				}
				rate += float64(res.Metrics["bytes_per_second"].(int64)) / 1e6
				files += float64(res.Metrics["verified"].(int))
			}
			cpu()
			b.ReportMetric(stop(), "peak-RSS-MB")
			b.ReportMetric(rate/float64(b.N), "MB/s")
			b.ReportMetric(files/float64(b.N), "files/run")
		})
	}
}

// BenchmarkScrubLargeS3 is the checksum scrub of 64 objects of 8 MiB each,
// the size of real scanned documents, from a local directory and through
// a local S3 server over it (MB/s is the figure to read):
//
//	go test -run '^$' -bench ScrubLargeS3 -benchtime 3x ./bench/
func BenchmarkScrubLargeS3(b *testing.B) {
	const files, size = 64, 8 << 20
	ctx := context.Background()
	srv := s3test.Start(b, "")
	dir := srv.Bucket(b, "large")
	db := testdb.SQLite(b, testdb.WithSchema())
	if _, err := ownstate.Ensure(ctx, db); err != nil {
		b.Fatal(err)
	}
	largeFiles(b, db, dir, files, size)
	for _, name := range []string{"local", "s3"} {
		s := stores(b, srv, dir)[name]
		b.Run(name, func(b *testing.B) {
			env := resilience.Env{DB: db, FilesRoot: s.root, Files: s.store, LogDir: b.TempDir()}
			probe := resilience.FileCorruption(ip2a.ResilienceOptions(resilience.Options{VerifyBytes: 1 << 40, VerifyTime: time.Hour}))
			b.SetBytes(files * size)
			for b.Loop() {
				res, err := probe.Probe(ctx, env)
				if err != nil {
					b.Fatal(err)
				}
				if res.Metrics["verified"] != files || len(res.Findings) != 0 {
					b.Fatalf("verified %v, findings %v", res.Metrics["verified"], res.Findings)
				}
			}
		})
	}
}

// largeFiles writes files random files of size bytes under dir, each with
// its attachment row and its recorded checksum in db.
func largeFiles(b *testing.B, db *sqlx.DB, dir string, files, size int) {
	b.Helper()
	buf := make([]byte, size)
	for i := range files {
		rand.Read(buf)
		rel := fmt.Sprintf("uploads/member/2026/%02d.bin", i)
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256(buf)
		insert(b, db, i+1, rel, size, hex.EncodeToString(sum[:]))
	}
}

func insert(b *testing.B, db *sqlx.DB, id int, rel string, size int, sum string) {
	b.Helper()
	testdb.MustExec(b, db, "INSERT INTO file_attachments (id, record_type, record_id, file_path, file_size) VALUES (?, 'member', 1, ?, ?)",
		id, rel, size)
	testdb.MustExec(b, db, "INSERT INTO "+ownstate.Name(dbx.DialectOf(db), ownstate.Checksums)+
		" (attachment_id, checksum, recorded_at) VALUES (?, ?, '2026-01-01')", id, sum)
}

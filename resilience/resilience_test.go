package resilience

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

func TestProbesNames(t *testing.T) {
	ps, err := Probes(withTables(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Name())
	}
	want := []string{ip2adb.CategoryFileCorruption, ip2adb.CategoryStorageCapacity, ip2adb.CategoryOrphanedFiles,
		ip2adb.CategoryDatabaseGrowth, ip2adb.CategoryDataStaleness, ip2adb.CategoryDataDistribution,
		ip2adb.CategoryQueryPerformance, ip2adb.CategoryIndexHealth, ip2adb.CategoryBackupStatus,
		ip2adb.CategoryTransactionWraparound, ip2adb.CategoryVacuumHealth, ip2adb.CategorySessions,
		ip2adb.CategoryReplication, ip2adb.CategoryBloat}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("probes (-want +got):\n%s", d)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		opt  Options
		want string
	}{
		{withTables(Options{VerifyBytes: -1}), "verify bytes must not be negative"},
		{withTables(Options{DiskWarnPercent: 101}), "disk thresholds must be percentages between 0 and 100"},
		{withTables(Options{DiskWarnPercent: 95}), "disk warning threshold 95% is above the critical one 90%"},
		{withTables(Options{BackupWarnAge: 200 * time.Hour}), "backup warning age 200h0m0s is above the critical age 168h0m0s"},
		{withTables(Options{SlowQuery: -time.Second}), "slow query threshold must not be negative"},
		{withTables(Options{Depth: Depth{AmcheckBytes: -1}}), "amcheck budgets must not be negative"},
		{withTables(Options{Depth: Depth{WraparoundCriticalAge: 1<<31 + 1}}), "wraparound thresholds must be positive (critical age at most 2^31)"},
		{withTables(Options{Depth: Depth{DeadTupleRatio: 1.5}}), "dead tuple ratio must be between 0 and 1 and its floor not negative"},
		{withTables(Options{Depth: Depth{LockWait: -time.Second}}), "session durations must not be negative"},
		{withTables(Options{Depth: Depth{ConnectionsWarnPercent: 96}}), "connection warning threshold 96% is above the critical one 95%"},
		{withTables(Options{Depth: Depth{SlotCriticalBytes: -1}}), "replication thresholds must not be negative"},
		{withTables(Options{Depth: Depth{BloatRatio: 0.5}}), "bloat ratio must be at least 1 and the bloat floor not negative"},
		{withTables(Options{Depth: Depth{CacheHitRatio: 2}}), "cache hit ratio must be between 0 and 1 and its floor not negative"},
		{withTables(Options{Depth: Depth{SlowQueryShare: -0.1}}), "slow query share must be between 0 and 1"},
		{withTables(Options{Depth: Depth{StaleRatio: 1.1}}), "stale ratio must be between 0 and 1 and its floor not negative"},
		{withTables(Options{Depth: Depth{StaleRatioFloor: -1}}), "stale ratio must be between 0 and 1 and its floor not negative"},
		{withTables(Options{Depth: Depth{BackupMinPreviousRatio: 3}}), "backup size ratios must be between 0 and 1"},
	} {
		_, err := Probes(tc.opt)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Probes(%+v) = %v, want %q", tc.opt, err, tc.want)
		}
	}
}

// TestRunFailures: a probe that errors (a missing table) or panics is a
// critical finding of its own category and a failed probe, never skipped.
func TestRunFailures(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		env := testEnv(t, db) // no schema: every table is missing
		panics := NewProbe("custom_probe", func(context.Context, Env) (Result, error) { panic("boom") })
		ok := NewProbe("fine", func(context.Context, Env) (Result, error) {
			return Result{Summary: "all good", Metrics: map[string]any{"n": 1}}, nil
		})
		rep := Run(context.Background(), env, []Probe{DataStaleness(withTables(Options{})), panics, ok}, RunOptions{})
		if len(rep.Findings) != 2 {
			t.Fatalf("findings %+v", rep.Findings)
		}
		f := rep.Findings[0]
		if f.Check != "resilience.data_staleness" || f.Category != "data_staleness" || f.Severity != ip2adb.Critical ||
			f.Details["probe_failed"] != true || f.Recommendation == "" {
			t.Errorf("failure finding %+v", f)
		}
		want := ip2adb.Issue{Check: "resilience.custom_probe", Category: "custom_probe", Severity: ip2adb.Critical,
			Description: "The custom_probe probe could not run: panic: boom",
			Details:     map[string]any{"error": "panic: boom", "probe_failed": true}}
		if d := cmp.Diff(want, rep.Findings[1], ignoreRec); d != "" {
			t.Errorf("panic finding (-want +got):\n%s", d)
		}
		if d := cmp.Diff(Summary{Critical: 2, FailedProbes: 2}, rep.Summary); d != "" {
			t.Errorf("summary (-want +got):\n%s", d)
		}
		wantProbes := []ProbeReport{
			{Name: "data_staleness", Findings: 1, Error: rep.Probes[0].Error},
			{Name: "custom_probe", Findings: 1, Error: "panic: boom"},
			{Name: "fine", Summary: "all good", Metrics: map[string]any{"n": 1}},
		}
		if d := cmp.Diff(wantProbes, rep.Probes, cmpopts.IgnoreFields(ProbeReport{}, "Duration", "DurationMS")); d != "" {
			t.Errorf("probes (-want +got):\n%s", d)
		}
		if rep.Probes[0].Error == "" || !rep.HasCritical() || !rep.Time.Equal(now0) {
			t.Errorf("report %+v", rep)
		}
	})
}

func TestRunConcurrencyBoundAndTimeout(t *testing.T) {
	var running, peak atomic.Int32
	slow := func(name string) Probe {
		return NewProbe(name, func(ctx context.Context, _ Env) (Result, error) {
			n := running.Add(1)
			defer running.Add(-1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			select {
			case <-time.After(20 * time.Millisecond):
				return Result{}, nil
			case <-ctx.Done():
				return Result{}, ctx.Err()
			}
		})
	}
	var ps []Probe
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		ps = append(ps, slow(n))
	}
	rep := Run(context.Background(), Env{}, ps, RunOptions{Concurrency: 2})
	if peak.Load() > 2 || rep.Summary.FailedProbes != 0 {
		t.Errorf("peak concurrency %d, failed %d", peak.Load(), rep.Summary.FailedProbes)
	}
	rep = Run(context.Background(), Env{}, ps[:1], RunOptions{ProbeTimeout: time.Millisecond})
	if rep.Summary.FailedProbes != 1 || rep.Probes[0].Error != context.DeadlineExceeded.Error() {
		t.Errorf("timeout: %+v", rep.Probes)
	}
}

// TestRunAllProbes runs the fourteen standard probes on a healthy small setup
// on both databases: the only findings are the ones each database cannot
// avoid saying.
func TestRunAllProbes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		env := testEnv(t, db)
		seedRows(t, db)
		writeStore(t, env.FilesRoot, "uploads/member/a.pdf", []byte("a"))
		addAttachment(t, db, "uploads/member/a.pdf", sha([]byte("a")))
		if err := os.MkdirAll(env.BackupDir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(env.BackupDir, "ip2a.sql")
		if db.DriverName() == "postgres" {
			pgDump(t, dbURL(t, db), p) // a real dump: it holds every table
		} else if err := os.WriteFile(p, []byte("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCOMMIT;\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		setAge(t, p, time.Hour)
		if db.DriverName() == "postgres" {
			testdb.MustExec(t, db, "ANALYZE")
		}
		ps, err := Probes(withTables(Options{Depth: Depth{ConnectionsWarnPercent: 100, ConnectionsCriticalPercent: 100}})) // other packages share the server
		if err != nil {
			t.Fatal(err)
		}
		rep := Run(context.Background(), env, ps, RunOptions{})
		var got []string
		for _, f := range rep.Findings {
			got = append(got, f.Category+" "+string(f.Severity))
		}
		// PostgreSQL: pg_stat_statements missing, fresh indexes unused,
		// amcheck not installed; SQLite: the "not supported on sqlite"
		// findings.
		want := []string{"query_performance info", "index_health info", "index_health info"}
		if db.DriverName() == "sqlite" {
			want = []string{"query_performance info", "index_health info", "transaction_wraparound info",
				"vacuum_health info", "sessions info", "replication info", "bloat info"}
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("findings (-want +got):\n%s\n%+v", d, rep.Findings)
		}
		if rep.Summary.FailedProbes != 0 || len(rep.Probes) != 14 {
			t.Errorf("summary %+v", rep.Summary)
		}
		var buf bytes.Buffer
		if err := rep.WriteText(&buf); err != nil {
			t.Fatal(err)
		}
		t.Logf("\n%s", buf.String())
	}, testdb.WithSchema())
}

func TestWriteText(t *testing.T) {
	rep := Report{
		Time: now0,
		Probes: []ProbeReport{
			{Name: "backup_status", DurationMS: 3, Summary: "no backup in ./backups"},
			{Name: "index_health", DurationMS: 12, Error: "pq: relation does not exist"},
		},
		Findings: []ip2adb.Issue{
			issue("backup_status", ip2adb.Warning, "", "Old backup", "Take a backup.", nil),
			issue("backup_status", ip2adb.Critical, "", "No backup", "Set up backups.", nil),
			issue("index_health", ip2adb.Critical, "", "The index_health probe could not run: boom", "Fix it.", nil),
		},
		Summary: Summary{Critical: 2, Warning: 1, FailedProbes: 1},
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	want := `Resilience report · 2026-11-28 02:00 UTC
Findings: 2 critical · 1 warning · 0 info · 1 failed probes

Probes
  backup_status    3 ms  no backup in ./backups
  index_health    12 ms  FAILED: pq: relation does not exist

Findings by category

backup_status (2)
  CRITICAL  No backup
            → Set up backups.
  WARNING   Old backup
            → Take a backup.

index_health (1)
  CRITICAL  The index_health probe could not run: boom
            → Fix it.
`
	if d := cmp.Diff(want, buf.String()); d != "" {
		t.Errorf("text (-want +got):\n%s", d)
	}
	buf.Reset()
	if err := (Report{Time: now0}).WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("No findings")) {
		t.Errorf("empty report:\n%s", buf.String())
	}
}

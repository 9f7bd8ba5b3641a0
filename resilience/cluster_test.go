package resilience

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/testcluster"
	"github.com/ip2adb/ip2adb/ip2a/schema"
	"github.com/jmoiron/sqlx"
)

// TestPrivateCluster runs the probes that need what the shared server must
// never see — a corrupted data file, autovacuum off, pg_stat_statements
// preloaded, replication slots, a crash, a transaction-ID jump — on one
// private cluster shared by its subtests (which run in order; the
// wraparound jump comes last).
func TestPrivateCluster(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Settings: map[string]string{
		"max_connections":                "20",
		"superuser_reserved_connections": "3",
		"shared_preload_libraries":       "'pg_stat_statements'",
		"autovacuum":                     "off",
		"autovacuum_freeze_max_age":      "2000000000",
		"shared_buffers":                 "'1MB'", // so that a 4 MB scan reads past the cache
	}})
	t.Run("heap corruption", func(t *testing.T) { testHeapCorruption(t, c) })
	t.Run("amcheck rights", func(t *testing.T) { testAmcheckRights(t, c) })
	t.Run("sessions", func(t *testing.T) { testSessions(t, c) })
	t.Run("vacuum health", func(t *testing.T) { testVacuumHealth(t, c) })
	t.Run("statements", func(t *testing.T) { testStatements(t, c) })
	t.Run("replication", func(t *testing.T) { testReplication(t, c) })
	t.Run("restart", func(t *testing.T) { testRestart(t, c) })
	t.Run("wraparound", func(t *testing.T) { testWraparound(t, c) })
}

// mustExec runs statements on db, failing the test on error.
func mustExec(t *testing.T, db interface {
	Exec(string, ...any) (sql.Result, error)
}, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// byKey keeps the findings' severity, key and count detail, for
// comparing findings whose durations and pids vary.
type keyed struct {
	Severity ip2adb.Severity
	Key      string
	Count    any
}

func byKey(fs []ip2adb.Issue) []keyed {
	var out []keyed
	for _, f := range fs {
		k := ""
		for kk, v := range f.Key {
			k = fmt.Sprintf("%s=%v", kk, v)
		}
		out = append(out, keyed{f.Severity, k, f.Details["count"]})
	}
	return out
}

// testAmcheckRights: a role that may not run verify_heapam gets an info
// finding naming the GRANT, not a failed probe.
func testAmcheckRights(t *testing.T, c *testcluster.Cluster) {
	admin := c.Open(t, "heap")
	mustExec(t, admin, "CREATE ROLE reader LOGIN", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader")
	db := c.Open(t, "heap")
	db.Close()
	db, err := sqlx.Open("postgres", c.URLAs("reader", "heap"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	res := probeOnce(t, IndexHealth(Options{}), clusterEnv(t, db))
	last := res.Findings[len(res.Findings)-1]
	if last.Severity != ip2adb.Info || !strings.HasPrefix(last.Description, "This role may not run amcheck (pq: permission denied for function") ||
		last.Details["command"] != "GRANT EXECUTE ON FUNCTION verify_heapam(regclass, boolean, boolean, text, bigint, bigint), bt_index_check(regclass, boolean) TO <this role>; (or run the report as a superuser)" {
		t.Errorf("finding %+v", last)
	}
}

// conn opens one connection of its own to database name.
func conn(t *testing.T, c *testcluster.Cluster, name string) (*sql.Conn, int64) {
	t.Helper()
	db := c.Open(t, name)
	cn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cn.Close() })
	var pid int64
	if err := cn.QueryRowContext(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return cn, pid
}

func testSessions(t *testing.T, c *testcluster.Cluster) {
	db := c.CreateDB(t, "sess")
	c.CreateDB(t, "sess_other")
	mustExec(t, db, "CREATE TABLE t (id int)")
	ctx := context.Background()
	idle, idlePID := conn(t, c, "sess")
	holder, holderPID := conn(t, c, "sess")
	waiter, waiterPID := conn(t, c, "sess")
	other, _ := conn(t, c, "sess_other")
	for _, s := range []struct {
		cn *sql.Conn
		q  string
	}{{idle, "BEGIN"}, {idle, "SELECT 1"}, {holder, "BEGIN"}, {holder, "LOCK TABLE t"}, {other, "BEGIN"}, {other, "SELECT 1"}} {
		if _, err := s.cn.ExecContext(ctx, s.q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := waiter.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() {
		_, err := waiter.ExecContext(ctx, "LOCK TABLE t")
		blocked <- err
	}()
	t.Cleanup(func() {
		holder.ExecContext(ctx, "ROLLBACK")
		<-blocked
	})
	// Wait until the waiter waits.
	for i := 0; ; i++ {
		var n int
		if err := db.Get(&n, "SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted", waiterPID); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if i > 500 {
			t.Fatal("the waiter never waited")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	ms := time.Millisecond
	opt := Options{Depth: Depth{IdleInTransaction: ms, LongTransaction: ms, LongQuery: ms, LockWait: ms, ConnectionsWarnPercent: 1}}
	res := probeOnce(t, Sessions(opt), clusterEnv(t, db))
	want := []keyed{
		{ip2adb.Warning, "kind=idle_in_transaction", 2},
		{ip2adb.Warning, "kind=long_transaction", 3},
		{ip2adb.Warning, "kind=long_query", nil}, // one session: no count
		{ip2adb.Warning, "kind=lock_wait", nil},
		{ip2adb.Warning, "kind=connections", nil},
	}
	got := byKey(res.Findings)
	for i := range got {
		if n, ok := got[i].Count.(int); ok && n == 1 {
			got[i].Count = nil
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("findings (-want +got):\n%s\n%+v", d, res.Findings)
	}
	checkRecs(t, res.Findings)
	pids := map[string]any{}
	for _, f := range res.Findings {
		pids[f.Key["kind"].(string)] = f.Details["pids"]
	}
	wantPIDs := map[string]any{
		"idle_in_transaction": sorted(idlePID, holderPID), "long_transaction": sorted(idlePID, holderPID, waiterPID),
		"long_query": []int64{waiterPID}, "lock_wait": []int64{waiterPID}, "connections": nil,
	}
	if d := cmp.Diff(wantPIDs, pids); d != "" {
		t.Errorf("sessions of this database only (-want +got):\n%s", d)
	}
	if f := res.Findings[3]; f.Details["blocked_by"] != fmt.Sprint(holderPID) {
		t.Errorf("lock wait blocked by %v, want %d", f.Details["blocked_by"], holderPID)
	}
	// Default thresholds: nothing has lasted minutes.
	res = probeOnce(t, Sessions(Options{}), clusterEnv(t, db))
	if len(res.Findings) != 0 {
		t.Errorf("default thresholds: %+v", res.Findings)
	}
}

func sorted(v ...int64) []int64 {
	slices.Sort(v)
	return v
}

func testVacuumHealth(t *testing.T, c *testcluster.Cluster) {
	db := c.CreateDB(t, "vac")
	db.SetMaxOpenConns(1) // the statistics flushed are this backend's
	mustExec(t, db, "CREATE TABLE busy (id int)", "CREATE TABLE calm (id int)",
		"INSERT INTO busy SELECT generate_series(1, 3000)", "INSERT INTO calm SELECT generate_series(1, 10)",
		"ANALYZE calm", "DELETE FROM busy WHERE id <= 1500", "SELECT pg_stat_force_next_flush()", "SELECT 1")
	res := probeOnce(t, VacuumHealth(Options{}), clusterEnv(t, db))
	want := []ip2adb.Issue{
		{Check: "resilience.vacuum_health", Category: "vacuum_health", Severity: ip2adb.Warning, Table: "busy",
			Key:         map[string]any{"table": "busy"},
			Description: "Table busy is 50% dead tuples (1500 dead, 1500 live; over 20%), never vacuumed",
			Details: map[string]any{"dead_tuples": int64(1500), "live_tuples": int64(1500), "dead_ratio": 0.5, "threshold": 0.2,
				"last_vacuum": nil, "last_autovacuum": nil}},
		issue("vacuum_health", ip2adb.Info, "", "1 tables hold rows but were never analyzed (at least 1000 rows or changes each): busy", "",
			map[string]any{"tables": []string{"busy"}, "count": 1}),
	}
	if d := cmp.Diff(want, res.Findings, ignoreRec); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	checkRecs(t, res.Findings)
	mustExec(t, db, "VACUUM ANALYZE busy", "SELECT pg_stat_force_next_flush()", "SELECT 1")
	res = probeOnce(t, VacuumHealth(Options{}), clusterEnv(t, db))
	if len(res.Findings) != 0 {
		t.Errorf("after VACUUM ANALYZE: %+v", res.Findings)
	}
	for _, tv := range res.Metrics["tables"].([]tableVacuum) {
		if tv.Table == "busy" && (tv.LastVacuum == nil || tv.LastAnalyze == nil || tv.Dead != 0) {
			t.Errorf("busy after VACUUM ANALYZE: %+v", tv)
		}
	}
}

func testStatements(t *testing.T, c *testcluster.Cluster) {
	db := schemaDB(t, c, "stmts")
	mustExec(t, db, "CREATE EXTENSION pg_stat_statements")
	env := clusterEnv(t, db)
	slow := func(res Result) []string {
		var out []string
		for _, f := range res.Findings {
			if f.Severity == ip2adb.Warning {
				out = append(out, f.Description)
			}
		}
		return out
	}
	opt := withTables(Options{SlowQuery: 100 * time.Millisecond})
	for _, tc := range []struct {
		name  string
		calls []float64 // pg_sleep seconds, one call each
		want  []string
	}{
		{"mean", []float64{0.15}, []string{"A statement averages 150 ms over 1 calls (over 100ms): SELECT pg_sleep($1)"}},
		{"max", []float64{0.15, 0, 0, 0, 0}, []string{"A statement took up to 150 ms in one call (over 100ms; mean 30 ms over 5 calls): SELECT pg_sleep($1)"}},
		{"share", []float64{0.04, 0.04, 0.04}, []string{"A statement uses 99% of all statement time in this database (120 ms over 3 calls; over 50%): SELECT pg_sleep($1)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustExec(t, db, "SELECT pg_stat_statements_reset()")
			for _, s := range tc.calls {
				if _, err := db.Exec("SELECT pg_sleep($1)", s); err != nil {
					t.Fatal(err)
				}
			}
			res := probeOnce(t, QueryPerformance(opt), env)
			got := slow(res)
			// Milliseconds vary a little: compare with the numbers rounded as printed.
			if len(got) != len(tc.want) || len(got) == 1 && !sameShape(got[0], tc.want[0]) {
				t.Errorf("warnings %q, want %q", got, tc.want)
			}
		})
	}
	// The cache hit ratio: a scan of a table larger than shared_buffers
	// reads past the cache, which is under a 100 % threshold.
	db.SetMaxOpenConns(1) // the statistics flushed are this backend's
	mustExec(t, db, "CREATE TABLE big AS SELECT generate_series(1, 100000) AS id", "CHECKPOINT",
		"SELECT count(*) FROM big", "SELECT pg_stat_force_next_flush()", "SELECT 1")
	res := probeOnce(t, QueryPerformance(withTables(Options{Depth: Depth{CacheHitRatio: 1, CacheMinReads: 1}})), env)
	var cache []ip2adb.Issue
	for _, f := range res.Findings {
		if f.Key["metric"] == "cache_hit_ratio" {
			cache = append(cache, f)
		}
	}
	if len(cache) != 1 || cache[0].Severity != ip2adb.Info || cache[0].Details["blocks_read"].(int64) <= 0 {
		t.Errorf("cache finding %+v (metrics %v)", cache, res.Metrics["cache"])
	}
	res = probeOnce(t, QueryPerformance(withTables(Options{Depth: Depth{CacheHitRatio: 0.0001}})), env)
	for _, f := range res.Findings {
		if f.Key["metric"] == "cache_hit_ratio" {
			t.Errorf("cache finding under a 0.01%% threshold: %+v", f)
		}
	}
}

// sameShape compares two descriptions with every number replaced by #, and
// the shares by their first digit.
func sameShape(a, b string) bool {
	re := regexp.MustCompile(`[0-9]+`)
	return re.ReplaceAllString(a, "#") == re.ReplaceAllString(b, "#")
}

func testReplication(t *testing.T, c *testcluster.Cluster) {
	db := c.CreateDB(t, "repl")
	mustExec(t, db, "SELECT pg_create_physical_replication_slot('ip2adb_gone', true)", "SELECT pg_create_physical_replication_slot('ip2adb_unused', false)")
	t.Cleanup(func() {
		db.Exec("SELECT pg_drop_replication_slot('ip2adb_gone')")
		db.Exec("SELECT pg_drop_replication_slot('ip2adb_unused')")
	})
	mustExec(t, db, "CREATE TABLE w AS SELECT generate_series(1, 10000) AS id", "SELECT pg_switch_wal()")
	env := clusterEnv(t, db)
	for _, tc := range []struct {
		name string
		opt  Options
		want []keyed
	}{
		// A slot that never reserved WAL holds nothing back.
		{"defaults", Options{}, []keyed{{ip2adb.Warning, "slot=ip2adb_gone", nil}}},
		{"critical", Options{Depth: Depth{SlotCriticalBytes: 1, WALWarnFactor: 0.001}},
			[]keyed{{ip2adb.Critical, "slot=ip2adb_gone", nil}, {ip2adb.Warning, "wal=size", nil}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := probeOnce(t, Replication(tc.opt), env)
			if d := cmp.Diff(tc.want, byKey(res.Findings)); d != "" {
				t.Errorf("findings (-want +got):\n%s\n%+v", d, res.Findings)
			}
			checkRecs(t, res.Findings)
			if held := res.Findings[0].Details["retained_bytes"].(int64); held <= 0 {
				t.Errorf("retained %d bytes", held)
			}
			if res.Metrics["inactive_slots"] != 2 {
				t.Errorf("metrics %v", res.Metrics)
			}
		})
	}
}

// testRestart crashes the server during a report: the probes that then
// fail, and the restart itself, are one "server" finding.
func testRestart(t *testing.T, c *testcluster.Cluster) {
	db := schemaDB(t, c, "crash")
	env := clusterEnv(t, db)
	crash := func(start bool) Probe {
		return NewProbe("crash", func(context.Context, Env) (Result, error) {
			c.Stop("immediate")
			if start {
				c.Start()
			}
			return Result{Summary: "crashed the server"}, nil
		})
	}
	// The other probes start once the crash probe is done.
	probes := func(start bool) []Probe {
		gate := make(chan struct{})
		ps := []Probe{NewProbe("crash", func(ctx context.Context, env Env) (Result, error) {
			defer close(gate)
			return crash(start).Probe(ctx, env)
		})}
		for _, p := range []Probe{VacuumHealth(Options{}), Sessions(Options{}), Replication(Options{}), TransactionWraparound(Options{}), Bloat(Options{})} {
			ps = append(ps, NewProbe(p.Name(), func(ctx context.Context, env Env) (Result, error) {
				<-gate
				return p.Probe(ctx, env)
			}))
		}
		return ps
	}
	t.Run("stays down", func(t *testing.T) {
		rep := Run(context.Background(), env, probes(false), RunOptions{Concurrency: 6})
		c.Start()
		if len(rep.Findings) != 1 {
			t.Fatalf("findings %+v", rep.Findings)
		}
		f := rep.Findings[0]
		want := issue("server", ip2adb.Critical, "",
			"The database server went away during the report (unreachable at 2026-11-28T02:00:00Z): 5 probes could not run (bloat, replication, sessions, transaction_wraparound, vacuum_health)", "",
			map[string]any{"failed_probes": []string{"bloat", "replication", "sessions", "transaction_wraparound", "vacuum_health"},
				"unreachable_since": "2026-11-28T02:00:00Z", "reachable": false, "error": f.Details["error"]})
		want.Key = map[string]any{"event": "restart_or_recovery"}
		if d := cmp.Diff(want, f, ignoreRec); d != "" {
			t.Errorf("finding (-want +got):\n%s", d)
		}
		if rep.Summary != (Summary{Critical: 1, FailedProbes: 5}) {
			t.Errorf("summary %+v", rep.Summary)
		}
	})
	t.Run("restarts", func(t *testing.T) {
		rep := Run(context.Background(), env, probes(true), RunOptions{Concurrency: 6})
		var server []ip2adb.Issue
		for _, f := range rep.Findings {
			if f.Category == "server" || f.Details["probe_failed"] == true {
				server = append(server, f)
			}
		}
		if len(server) != 1 || !strings.HasPrefix(server[0].Description, "The database server restarted during the report (at ") {
			t.Fatalf("findings %+v", rep.Findings)
		}
		var started time.Time
		if err := db.Get(&started, "SELECT pg_postmaster_start_time()"); err != nil {
			t.Fatal(err)
		}
		if server[0].Details["restarted_at"] != started.UTC().Format(time.RFC3339) {
			t.Errorf("restarted_at %v, want %v", server[0].Details["restarted_at"], started.UTC())
		}
	})
}

// testWraparound jumps the cluster's next transaction ID to 1.5 billion
// with pg_resetwal (autovacuum_freeze_max_age is 2 billion, so nothing
// freezes it back): every database's freeze age is then critical.
func testWraparound(t *testing.T, c *testcluster.Cluster) {
	db := c.CreateDB(t, "wrap")
	res := probeOnce(t, TransactionWraparound(Options{}), clusterEnv(t, db))
	if len(res.Findings) != 0 {
		t.Fatalf("before: %+v", res.Findings)
	}
	db.Close()
	c.Stop("fast")
	const xid = 1430 * 1048576 // the first transaction of pg_xact segment 0596
	if out, err := c.Run("pg_resetwal", "-x", fmt.Sprint(xid), "-D", c.DataDir); err != nil {
		t.Fatalf("pg_resetwal: %v: %s", err, out)
	}
	seg := filepath.Join(c.DataDir, "pg_xact", "0596")
	if err := os.WriteFile(seg, make([]byte, 256*1024), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(c.DataDir, "pg_xact", "0000")); err == nil {
		st := fi.Sys().(*syscall.Stat_t)
		if err := os.Chown(seg, int(st.Uid), int(st.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	c.Start()
	db = c.Open(t, "wrap")
	res = probeOnce(t, TransactionWraparound(Options{}), clusterEnv(t, db))
	if len(res.Findings) != 1 {
		t.Fatalf("findings %+v", res.Findings)
	}
	f := res.Findings[0]
	got := keyed{f.Severity, fmt.Sprint(f.Key), f.Details["threshold"]}
	if d := cmp.Diff(keyed{ip2adb.Critical, "", int64(1_400_000_000)}, keyed{got.Severity, "", got.Count}); d != "" {
		t.Errorf("finding (-want +got):\n%s", d)
	}
	if a := f.Details["age"].(int64); a < 1_499_000_000 || a > xid {
		t.Errorf("age %d, want about 1.5 billion", a)
	}
	if f.Details["autovacuum_freeze_max_age"] != int64(2_000_000_000) || len(f.Details["databases_over"].([]string)) < 4 {
		t.Errorf("details %v", f.Details)
	}
	checkRecs(t, res.Findings)
	// Under a raised critical age, over half of autovacuum_freeze_max_age:
	// a warning.
	res = probeOnce(t, TransactionWraparound(Options{Depth: Depth{WraparoundCriticalAge: 1 << 31, FreezeAgeWarnFactor: 0.5}}), clusterEnv(t, db))
	if len(res.Findings) != 1 || res.Findings[0].Severity != ip2adb.Warning || res.Findings[0].Details["threshold"] != int64(1_000_000_000) {
		t.Errorf("raised critical age: %+v", res.Findings)
	}
}

// clusterEnv is testEnv over a database of the private cluster.
func clusterEnv(t *testing.T, db *sqlx.DB) Env {
	t.Helper()
	return Env{DB: db, FilesRoot: t.TempDir(), BackupDir: t.TempDir(), LogDir: t.TempDir(),
		Now: func() time.Time { return now0 }, DiskUsage: fakeDisk(1000, 500), Log: testr.New(t)}.WithDefaults()
}

// schemaDB creates database name on c with the IP2A schema.
func schemaDB(t *testing.T, c *testcluster.Cluster, name string) *sqlx.DB {
	t.Helper()
	db := c.CreateDB(t, name)
	if err := schema.Apply(context.Background(), db); err != nil {
		t.Fatalf("apply schema: %v", err)
	}
	return db
}

// plantNatts sets the attribute count of the first tuple of the first
// page of the heap file at path to natts, as a flipped byte would.
func plantNatts(t *testing.T, path string, natts byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 8192)
	if _, err := f.ReadAt(page, 0); err != nil {
		t.Fatal(err)
	}
	lp := binary.LittleEndian.Uint32(page[24:28]) // the first line pointer
	off := int64(lp & 0x7fff)
	// t_infomask2 (natts in its low 11 bits) is at byte 18 of the tuple.
	if _, err := f.WriteAt([]byte{natts}, off+18); err != nil {
		t.Fatal(err)
	}
}

func testHeapCorruption(t *testing.T, c *testcluster.Cluster) {
	db := schemaDB(t, c, "heap")
	for _, q := range []string{
		"INSERT INTO members (member_number, first_name, last_name, classification) VALUES ('7000001', 'Ann', 'Lee', 'journeyman'), ('7000002', 'Bo', 'Ray', 'foreman')",
		"CHECKPOINT",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	path := c.RelationPath(t, db, "members")
	db.Close()
	c.Stop("fast")
	plantNatts(t, path, 246)
	c.Start()
	db = c.Open(t, "heap")
	env := clusterEnv(t, db)
	msg := "block 0, offset 1: tuple data should begin at byte 56, but actually begins at byte 32 (246 attributes, has nulls)"
	want := ip2adb.Issue{Check: "resilience.index_health", Category: "index_health", Severity: ip2adb.Critical, Table: "members",
		Key:         map[string]any{"table": "members"},
		Description: "amcheck found table members corrupt: 1 problem, first: " + msg,
		Details:     map[string]any{"table": "members", "problems": 1, "messages": []string{msg}}}
	corrupt := func(res Result) []ip2adb.Issue {
		var out []ip2adb.Issue
		for _, f := range res.Findings {
			if f.Severity == ip2adb.Critical {
				out = append(out, f)
			}
		}
		return out
	}

	// A whole run: 9 tables and 16 B-tree indexes verified, members corrupt.
	res := probeOnce(t, IndexHealth(Options{CreateExtension: true}), env)
	if d := cmp.Diff([]ip2adb.Issue{want}, corrupt(res), ignoreRec); d != "" {
		t.Errorf("corruption (-want +got):\n%s", d)
	}
	checkRecs(t, res.Findings)
	gotM := map[string]any{}
	for _, k := range []string{"heap_checked", "btree_checked", "relations", "relations_left", "corrupt"} {
		gotM[k] = res.Metrics[k]
	}
	if d := cmp.Diff(map[string]any{"heap_checked": 9, "btree_checked": 16, "relations": 25, "relations_left": 0, "corrupt": 1}, gotM); d != "" {
		t.Errorf("metrics (-want +got):\n%s", d)
	}

	// A budget of one byte verifies one non-empty relation per run (empty
	// ones cost nothing), resuming where the last run stopped; once found,
	// the corrupt table is verified first by every later run, so it stays
	// in every report.
	env.LogDir = t.TempDir()
	budget := Options{Depth: Depth{AmcheckBytes: 1}}
	foundAt, runs, prev := -1, 0, 0
	for run := 0; run < 30; run++ {
		res := probeOnce(t, IndexHealth(budget), env)
		st := loadAmcheckState(env.LogDir, stateIdent(t, db))
		if run == 0 && res.Metrics["relations_left"].(int) == 0 {
			t.Fatalf("a one-byte budget verified everything in one run: %v", res.Metrics)
		}
		if len(st.Relations) <= prev && len(st.Relations) < 25 {
			t.Fatalf("run %d made no progress: state holds %d relations", run, len(st.Relations))
		}
		prev = len(st.Relations)
		got := corrupt(res)
		if foundAt < 0 && len(got) > 0 {
			foundAt = run
		}
		if foundAt >= 0 {
			if d := cmp.Diff([]ip2adb.Issue{want}, got, ignoreRec); d != "" {
				t.Errorf("run %d (found at run %d) (-want +got):\n%s", run, foundAt, d)
			}
		}
		runs++
		if len(st.Relations) == 25 && run > foundAt+2 {
			break
		}
	}
	if prev != 25 || foundAt < 0 {
		t.Errorf("after %d budgeted runs %d of 25 relations were verified; corruption found at run %d", runs, prev, foundAt)
	}
}

// stateIdent is the database identity the amcheck state is kept under.
func stateIdent(t *testing.T, db *sqlx.DB) string {
	t.Helper()
	var s string
	if err := db.Get(&s, `SELECT (SELECT system_identifier::text FROM pg_control_system()) || '/' || current_database() || '/' || current_schema()`); err != nil {
		t.Fatal(err)
	}
	return s
}

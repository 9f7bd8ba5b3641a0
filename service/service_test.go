package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/resilience"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCheckListen(t *testing.T) {
	const token = "0123456789abcdef"
	for _, tc := range []struct {
		listen, token, want string
	}{
		{"127.0.0.1:8080", "", ""},
		{"[::1]:8080", "", ""},
		{"localhost:0", "", ""},
		{"0.0.0.0:8080", token, ""},
		{"0.0.0.0:8080", "", "refusing to listen on 0.0.0.0:8080 without an auth token: only a loopback address (127.0.0.1, ::1, localhost) may serve the status page openly"},
		{":8080", "", "refusing to listen on :8080 without an auth token: only a loopback address (127.0.0.1, ::1, localhost) may serve the status page openly"},
		{"db.local46.org:8080", "", "refusing to listen on db.local46.org:8080 without an auth token: only a loopback address (127.0.0.1, ::1, localhost) may serve the status page openly"},
		{"127.0.0.1:8080", "short", "the auth token must be at least 16 characters"},
		{"127.0.0.1", "", `listen address "127.0.0.1": want HOST:PORT, such as 127.0.0.1:8080`},
		{"127.0.0.1:", "", `listen address "127.0.0.1:" has no port`},
	} {
		got := ""
		if err := CheckListen(tc.listen, tc.token); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("CheckListen(%q, %q) = %q, want %q", tc.listen, tc.token, got, tc.want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"bad heal schedule", func(c *Config) { c.HealSchedule = "every day" },
			`heal schedule "every day": expected exactly 5 fields, found 2: [every day] (want a cron expression such as "0 2 * * *" or @daily, @weekly, @every 6h)`},
		{"bad resilience schedule", func(c *Config) { c.ResilienceSchedule = "@fortnightly" },
			`resilience schedule "@fortnightly": unrecognized descriptor: @fortnightly (want a cron expression such as "0 2 * * *" or @daily, @weekly, @every 6h)`},
		{"no token off loopback", func(c *Config) { c.Listen = "0.0.0.0:80" },
			"refusing to listen on 0.0.0.0:80 without an auth token: only a loopback address (127.0.0.1, ::1, localhost) may serve the status page openly"},
		{"no heal", func(c *Config) { c.Heal = nil }, "service: Config.Heal is nil"},
		{"no log dir", func(c *Config) { c.LogDir = "" }, "service: Config.LogDir is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(t)
			tc.change(&cfg)
			_, err := New(cfg)
			if err == nil || err.Error() != tc.want {
				t.Errorf("New: %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestMetricsExposition compares the whole ip2adb_* exposition of a
// recorded heal run, a skipped run and a resilience report.
func TestMetricsExposition(t *testing.T) {
	store := Store{LogDir: t.TempDir()}
	err := store.Update(func(s *State) {
		s.RecordHeal(KindHeal, "schedule", healResult(), nil)
		s.RecordSkip(KindHeal, SkipLocked)
		s.RecordResilience("schedule", resilienceReport(), 2*1e9, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP ip2adb_check_failed 1 when the check could not run in the last heal or repair run.
# TYPE ip2adb_check_failed gauge
ip2adb_check_failed{check="attachment.file_missing"} 1
ip2adb_check_failed{check="employment.orphan_member"} 0
ip2adb_check_failed{check="member.duplicate_number"} 0
ip2adb_check_failed{check="member.hire_date_future"} 0
ip2adb_check_failed{check="student.duplicate_email"} 0
# HELP ip2adb_database_size_bytes Size of the database at the latest resilience report.
# TYPE ip2adb_database_size_bytes gauge
ip2adb_database_size_bytes 1.048576e+06
# HELP ip2adb_disk_full_forecast_seconds Time until the disk holding the database is full at the current growth, in seconds (+Inf when it does not grow).
# TYPE ip2adb_disk_full_forecast_seconds gauge
ip2adb_disk_full_forecast_seconds 5.2272e+06
# HELP ip2adb_issues Rows or groups each check found and the last heal or repair run left open.
# TYPE ip2adb_issues gauge
ip2adb_issues{check="employment.orphan_member",severity="critical"} 0
ip2adb_issues{check="member.duplicate_number",severity="critical"} 2
ip2adb_issues{check="member.hire_date_future",severity="warning"} 0
# HELP ip2adb_last_run_success 1 when the last run of each kind succeeded (no run error, no failed check or probe).
# TYPE ip2adb_last_run_success gauge
ip2adb_last_run_success{kind="heal"} 0
ip2adb_last_run_success{kind="resilience"} 1
# HELP ip2adb_last_run_timestamp_seconds When the last run of each kind started, in Unix seconds.
# TYPE ip2adb_last_run_timestamp_seconds gauge
ip2adb_last_run_timestamp_seconds{kind="heal"} 1.7958312e+09
ip2adb_last_run_timestamp_seconds{kind="resilience"} 1.7958348e+09
# HELP ip2adb_last_success_timestamp_seconds When the last successful run of each kind started, in Unix seconds.
# TYPE ip2adb_last_success_timestamp_seconds gauge
ip2adb_last_success_timestamp_seconds{kind="resilience"} 1.7958348e+09
# HELP ip2adb_notifications_total Notifications by channel and outcome (sent, failed, suppressed).
# TYPE ip2adb_notifications_total counter
ip2adb_notifications_total{channel="log",outcome="sent"} 1
ip2adb_notifications_total{channel="slack",outcome="suppressed"} 1
# HELP ip2adb_repairs_total Rows repaired, by check and action.
# TYPE ip2adb_repairs_total counter
ip2adb_repairs_total{action="delete",check="employment.orphan_member"} 1
# HELP ip2adb_resilience_findings Findings of the latest resilience report, by category and severity.
# TYPE ip2adb_resilience_findings gauge
ip2adb_resilience_findings{category="backup_status",severity="critical"} 1
ip2adb_resilience_findings{category="backup_status",severity="info"} 0
ip2adb_resilience_findings{category="backup_status",severity="warning"} 0
ip2adb_resilience_findings{category="database_growth",severity="critical"} 0
ip2adb_resilience_findings{category="database_growth",severity="info"} 0
ip2adb_resilience_findings{category="database_growth",severity="warning"} 1
# HELP ip2adb_run_duration_seconds How long the last run of each kind took.
# TYPE ip2adb_run_duration_seconds gauge
ip2adb_run_duration_seconds{kind="heal"} 1.5
ip2adb_run_duration_seconds{kind="resilience"} 2
# HELP ip2adb_runs_skipped_total Scheduled runs skipped, by kind and reason (locked: another run held the run lock).
# TYPE ip2adb_runs_skipped_total counter
ip2adb_runs_skipped_total{kind="heal",reason="locked"} 1
`
	if err := testutil.CollectAndCompare(NewCollector(store), strings.NewReader(want)); err != nil {
		t.Error(err)
	}

	// A second run adds to the counters; the gauges follow the last run.
	res := healResult()
	res.Found.Checks[3].Err, res.Found.Checks[3].Error = nil, ""
	res.Remaining.Checks[3].Err, res.Remaining.Checks[3].Error = nil, ""
	res.Summary.FailedChecks = 0
	res.Started = testNow.Add(24 * 3600 * 1e9)
	if err := store.Update(func(s *State) { s.RecordHeal(KindHeal, "cli", res, nil) }); err != nil {
		t.Fatal(err)
	}
	want2 := `
# HELP ip2adb_last_success_timestamp_seconds When the last successful run of each kind started, in Unix seconds.
# TYPE ip2adb_last_success_timestamp_seconds gauge
ip2adb_last_success_timestamp_seconds{kind="heal"} 1.7959176e+09
ip2adb_last_success_timestamp_seconds{kind="resilience"} 1.7958348e+09
# HELP ip2adb_repairs_total Rows repaired, by check and action.
# TYPE ip2adb_repairs_total counter
ip2adb_repairs_total{action="delete",check="employment.orphan_member"} 2
# HELP ip2adb_notifications_total Notifications by channel and outcome (sent, failed, suppressed).
# TYPE ip2adb_notifications_total counter
ip2adb_notifications_total{channel="log",outcome="sent"} 2
ip2adb_notifications_total{channel="slack",outcome="suppressed"} 2
`
	if err := testutil.CollectAndCompare(NewCollector(store), strings.NewReader(want2),
		"ip2adb_last_success_timestamp_seconds", "ip2adb_repairs_total", "ip2adb_notifications_total"); err != nil {
		t.Error(err)
	}

	// What promtool says about the textfile.
	promtool := testdb.Tool(t, "promtool")
	file := filepath.Join(t.TempDir(), "ip2adb.prom")
	if err := WriteMetricsFile(file, store); err != nil {
		t.Fatal(err)
	}
	promtoolCheck(t, promtool, file)
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("metrics file mode: %v %v", st, err)
	}
	if err := WriteMetricsFile(filepath.Join(t.TempDir(), "missing", "x.prom"), store); err == nil {
		t.Error("WriteMetricsFile into a missing directory succeeded")
	}
}

// promtoolCheck runs promtool check metrics on file and fails on any
// complaint.
func promtoolCheck(t *testing.T, promtool, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestUnreadableStateFailsTheScrape checks that a broken state file is a
// scrape error, not an empty set of metrics.
func TestUnreadableStateFailsTheScrape(t *testing.T) {
	store := Store{LogDir: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(store.LogDir, StateDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(store.Path(), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRegistry(store, false).Gather(); err == nil || !strings.Contains(err.Error(), "read state") {
		t.Errorf("Gather: %v", err)
	}
	// The next update starts over, and says the old file was unreadable.
	if err := store.Update(func(s *State) { s.RecordSkip(KindHeal, SkipLocked) }); err == nil {
		t.Error("Update over a broken state file returned no error")
	}
	if s, err := store.Load(); err != nil || len(s.Skipped) != 1 {
		t.Errorf("after update: %+v, %v", s, err)
	}
}

func TestHandlerAuthHostAndAPI(t *testing.T) {
	const token = "s3cret-token-0123456789"
	cfg := config(t)
	cfg.AuthToken = token
	cfg.AllowedHosts = []string{"ip2adb.local46.org"}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := start(t, svc)
	waitFor(t, "readiness", func() bool { c, _ := get(t, "GET", base+"/readyz"); return c == 200 })
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+token))
	bearer := "Bearer " + token
	for _, tc := range []struct {
		name, method, path string
		header             []string
		code               int
	}{
		{"healthz open", "GET", "/healthz", nil, 200},
		{"readyz open", "GET", "/readyz", nil, 200},
		{"metrics open", "GET", "/metrics", nil, 200},
		{"page needs the token", "GET", "/", nil, 401},
		{"page wrong token", "GET", "/", []string{"Authorization", "Bearer nope"}, 401},
		{"page bearer", "GET", "/", []string{"Authorization", bearer}, 200},
		{"page basic", "GET", "/", []string{"Authorization", basic}, 200},
		{"page allowed host", "GET", "/", []string{"Authorization", bearer, "Host", "ip2adb.local46.org:8080"}, 200},
		{"page localhost", "GET", "/", []string{"Authorization", bearer, "Host", "localhost:8080"}, 200},
		{"page rebinding host", "GET", "/", []string{"Authorization", bearer, "Host", "evil.example.com:8080"}, 403},
		{"unknown path", "GET", "/nope", []string{"Authorization", bearer}, 404},
		{"api needs the token", "POST", "/api/runs?kind=heal", nil, 401},
		{"api refuses basic", "POST", "/api/runs?kind=heal", []string{"Authorization", basic}, 401},
		{"api rebinding host", "POST", "/api/runs?kind=heal", []string{"Authorization", bearer, "Host", "evil.example.com"}, 403},
		{"api bad kind", "POST", "/api/runs?kind=vacuum", []string{"Authorization", bearer}, 400},
		{"api GET", "GET", "/api/runs?kind=heal", []string{"Authorization", bearer}, 405},
		{"api heal", "POST", "/api/runs?kind=heal", []string{"Authorization", bearer}, 200},
		{"api resilience", "POST", "/api/runs?kind=resilience", []string{"Authorization", bearer}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, tc.method, base+tc.path, tc.header...)
			if code != tc.code {
				t.Errorf("%s %s: %d, want %d\n%s", tc.method, tc.path, code, tc.code, body)
			}
			if strings.Contains(body, token) {
				t.Errorf("the token appears in the answer")
			}
		})
	}
	// The API answers the run's JSON report and records the run.
	code, body := get(t, "POST", base+"/api/runs?kind=heal", "Authorization", bearer)
	var rep map[string]any
	if err := json.Unmarshal([]byte(body), &rep); err != nil || code != 200 {
		t.Fatalf("%d %v\n%s", code, err, body)
	}
	if rep["run_id"] != "AH-20261128T020000Z-4f3a" {
		t.Errorf("run_id %v", rep["run_id"])
	}
	s, err := svc.store.Load()
	if err != nil {
		t.Fatal(err)
	}
	var triggers []string
	for _, r := range s.Runs {
		triggers = append(triggers, r.Kind+"/"+r.Trigger)
	}
	if diff := cmp.Diff([]string{"heal/api", "resilience/api", "heal/api"}, triggers); diff != "" {
		t.Errorf("recorded runs (-want +got):\n%s", diff)
	}
}

func TestAPIDisabledWithoutToken(t *testing.T) {
	svc, err := New(config(t))
	if err != nil {
		t.Fatal(err)
	}
	base, _ := start(t, svc)
	for _, h := range [][]string{nil, {"Authorization", "Bearer anything-at-all-1234"}} {
		if code, _ := get(t, "POST", base+"/api/runs?kind=heal", h...); code != 404 {
			t.Errorf("POST /api/runs without --auth-token: %d, want 404", code)
		}
	}
	// Without a token the page is open on loopback, but not by a foreign
	// host name.
	if code, _ := get(t, "GET", base+"/"); code != 200 {
		t.Errorf("GET /: %d", code)
	}
	if code, _ := get(t, "GET", base+"/", "Host", "attacker.example:8080"); code != 403 {
		t.Errorf("GET / by a foreign Host: %d, want 403", code)
	}
}

// TestSkips covers the runs that do not happen: the run lock held
// elsewhere, a run of the same kind still running, no database yet.
func TestSkips(t *testing.T) {
	cfg := config(t)
	var locked atomic.Bool
	locked.Store(true)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	cfg.Heal = func(ctx context.Context, db *sqlx.DB) (heal.Result, error) {
		if locked.Load() {
			return heal.Result{RunID: "AH-x"}, heal.ErrLocked
		}
		entered <- struct{}{}
		<-release
		return healResult(), nil
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Run(context.Background(), KindHeal, "api"); err == nil || err.Error() != "skipped: the database is not connected" {
		t.Errorf("before connecting: %v", err)
	}
	start(t, svc)
	waitFor(t, "readiness", func() bool { return svc.ready(context.Background()) == nil })
	if _, err := svc.Run(context.Background(), KindHeal, "schedule"); err == nil || err.Error() != "skipped: another run holds the lock" {
		t.Errorf("locked: %v", err)
	}
	locked.Store(false)
	done := make(chan error, 1)
	go func() { _, err := svc.Run(context.Background(), KindHeal, "schedule"); done <- err }()
	<-entered
	if _, err := svc.Run(context.Background(), KindHeal, "schedule"); err == nil || err.Error() != "skipped: a run of this kind is already running" {
		t.Errorf("while running: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	s, err := svc.store.Load()
	if err != nil {
		t.Fatal(err)
	}
	want := []SkipTotal{{KindHeal, SkipUnreachable, 1}, {KindHeal, SkipLocked, 1}, {KindHeal, SkipRunning, 1}}
	if diff := cmp.Diff(want, s.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if len(s.Runs) != 1 || s.Runs[0].RunID != "AH-20261128T020000Z-4f3a" {
		t.Errorf("a skipped run was recorded as a run: %+v", s.Runs)
	}
}

// TestUnreachableDatabase: the service starts without its database,
// answers 503 with the reason, keeps retrying and becomes ready.
func TestUnreachableDatabase(t *testing.T) {
	cfg := config(t)
	connect := cfg.Connect
	var tries atomic.Int32
	cfg.Connect = func(ctx context.Context) (*sqlx.DB, error) {
		if tries.Add(1) < 4 {
			return nil, errors.New("connect to postgres://127.0.0.1:1/ip2a: connection refused")
		}
		return connect(ctx)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, stop := start(t, svc)
	waitFor(t, "a failed try", func() bool { return tries.Load() >= 1 })
	code, body := get(t, "GET", base+"/readyz")
	if tries.Load() < 4 && (code != 503 || body != "database unreachable: connect to postgres://127.0.0.1:1/ip2a: connection refused\n") {
		t.Errorf("readyz while unreachable: %d %q", code, body)
	}
	if code, _ := get(t, "GET", base+"/healthz"); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	waitFor(t, "readiness after retries", func() bool { c, _ := get(t, "GET", base+"/readyz"); return c == 200 })
	_, metrics := get(t, "GET", base+"/metrics")
	if !strings.Contains(metrics, "\nip2adb_database_up 1\n") {
		t.Errorf("ip2adb_database_up is not 1:\n%s", metrics)
	}
	if err := stop(); err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestStopCancelsTheRunInFlight: stopping the service cancels a run's
// context and waits for it.
func TestStopCancelsTheRunInFlight(t *testing.T) {
	cfg := config(t)
	entered := make(chan struct{})
	cfg.Heal = func(ctx context.Context, db *sqlx.DB) (heal.Result, error) {
		close(entered)
		<-ctx.Done()
		return heal.Result{RunID: "AH-cancelled", Started: testNow}, ctx.Err()
	}
	cfg.HealSchedule = "@every 1s"
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, stop := start(t, svc)
	<-entered
	if err := stop(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	s, err := svc.store.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Runs) != 1 || s.Runs[0].Success || s.Runs[0].Error != "context canceled" || s.Runs[0].Trigger != "schedule" {
		t.Errorf("the cancelled run: %+v", s.Runs)
	}
}

func TestStatusPage(t *testing.T) {
	cfg := config(t)
	// Three saved days of growth.
	dir := filepath.Join(cfg.LogDir, resilience.MetricsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, day := range []string{"2026-11-26", "2026-11-27", "2026-11-28"} {
		b, _ := json.Marshal(resilience.GrowthSnapshot{Date: day, TotalRows: int64(6000 + 20*i), DatabaseBytes: int64(1<<20 + 2048*i)})
		if err := os.WriteFile(filepath.Join(dir, day+"_growth.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := start(t, svc)
	waitFor(t, "readiness", func() bool { return svc.ready(context.Background()) == nil })
	for _, kind := range []string{KindHeal, KindResilience} {
		if _, err := svc.Run(context.Background(), kind, "schedule"); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest("GET", base+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'; style-src 'sha256-") {
		t.Errorf("CSP %q", csp)
	}
	_, page := get(t, "GET", base+"/")
	for _, want := range []string{
		`<section id="health" class="card health red"`,
		"2 critical issues open in 1 check",
		"1 check could not run",
		"1 critical resilience finding",
		`<code class="check">member.duplicate_number</code>`,
		`members: 2 rows share member_number &#34;7000001&#34;`,
		`<code class="check">attachment.file_missing</code>`,
		"Could not run: files root: no such directory",
		"Undo: <code>ip2adb undo AH-20261128T020000Z-4f3a</code>",
		"Undo it with <code>ip2adb undo AH-20261128T020000Z-4f3a</code>.",
		"No backup in backups",
		"<svg viewBox=",
		"at this rate the disk holding the database is full in about 60 days",
		"Next heal run <strong>2026-11-29 00:00 UTC</strong>",
		"1 check does not apply to this database's schema</summary>",
		`<code class="check">student.duplicate_email</code> — students has no column email`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://", "src="} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q (nothing may be fetched or scripted)", bad)
		}
	}
}

func TestOverallHealth(t *testing.T) {
	ok := RunStatus{Kind: KindHeal, Time: testNow, Success: true, LastSuccess: testNow}
	res := &ResilienceStatus{}
	for _, tc := range []struct {
		name  string
		state State
		db    string
		level string
		why   []string
	}{
		{"healthy", State{LastRuns: []RunStatus{ok}, Resilience: res}, "", HealthGreen,
			[]string{"No critical or warning issues are open and the last runs succeeded."}},
		{"nothing yet", State{}, "", HealthAmber, []string{"No auto-heal run yet", "No resilience report yet"}},
		{"warnings", State{LastRuns: []RunStatus{ok}, Resilience: &ResilienceStatus{Summary: resilience.Summary{Warning: 2}},
			Checks: []CheckStatus{{Name: "a", Severity: "warning", Count: 3}}}, "", HealthAmber,
			[]string{"3 warnings open", "2 resilience warnings"}},
		{"stale", State{LastRuns: []RunStatus{{Kind: KindHeal, Time: testNow, Success: false, LastSuccess: testNow.Add(-72 * 3600 * 1e9)}}, Resilience: res},
			"", HealthRed, []string{"The last auto-heal run failed (2026-11-28 02:00 UTC)", "No successful auto-heal run in the last two days"}},
		{"no database", State{LastRuns: []RunStatus{ok}, Resilience: res}, "connection refused", HealthRed,
			[]string{"The database does not answer: connection refused"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			level, _, why := overallHealth(tc.state, tc.db, testNow)
			if level != tc.level {
				t.Errorf("level %s, want %s", level, tc.level)
			}
			if diff := cmp.Diff(tc.why, why); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAlertingRules validates the example alerting rules and runs their
// unit tests with promtool, and checks the example scrape config.
func TestAlertingRules(t *testing.T) {
	promtool := testdb.Tool(t, "promtool")
	dir := filepath.Join("..", "examples", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "ip2adb-alerts.yml"},
		{"test", "rules", "ip2adb-alerts.test.yml"},
		{"check", "config", "prometheus.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

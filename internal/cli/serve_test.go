package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
)

// serveBin is the binary the serve tests share, built once.
var serveBin struct {
	once sync.Once
	path string
	err  error
}

// TestMain removes the serve tests' binary once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if serveBin.path != "" {
		os.RemoveAll(filepath.Dir(serveBin.path))
	}
	os.Exit(code)
}

// serveBinary builds cmd/ip2adb once for the serve tests (they run in
// parallel: they mostly wait for their schedules), with the crash-test
// pause hook compiled in, as buildBinary does.
func serveBinary(t *testing.T) string {
	t.Helper()
	serveBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "ip2adb-serve-test")
		if err != nil {
			serveBin.err = err
			return
		}
		serveBin.path = filepath.Join(dir, "ip2adb")
		if out, err := exec.Command("go", "build", "-tags", crashTestTag, "-o", serveBin.path, "github.com/ip2adb/ip2adb/cmd/ip2adb").CombinedOutput(); err != nil {
			serveBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if serveBin.err != nil {
		t.Fatal(serveBin.err)
	}
	return serveBin.path
}

// serveProc is a running `ip2adb serve` binary.
type serveProc struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT
	done chan struct{}
	code int

	mu     sync.Mutex
	stderr strings.Builder
}

// servingLine is how serve says where it listens.
var servingLine = regexp.MustCompile(`^serving on (http://[0-9.:]+) · `)

// startServe starts the binary bin with `serve --listen 127.0.0.1:0 args…`
// (env added to the process environment) and waits until it listens. The
// process is killed when the test ends if it still runs.
func startServe(t *testing.T, bin string, env []string, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			p.mu.Unlock()
			if m := servingLine.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("serve's stderr:\n%s", p.log())
		}
	})
	select {
	case p.base = <-addr:
	case <-p.done:
		t.Fatalf("serve exited with %d before listening:\n%s", p.code, p.log())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not listen:\n%s", p.log())
	}
	return p
}

func (p *serveProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// terminate sends SIGTERM and returns the exit code; the service must be
// gone within 10 seconds.
func (p *serveProc) terminate(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		return p.code
	case <-time.After(10 * time.Second):
		t.Fatalf("serve still runs 10 s after SIGTERM:\n%s", p.log())
	}
	return -1
}

// httpGet fetches url and returns the status code and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// eventually polls cond until it holds, failing after a minute.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metricLine is one sample of the text exposition.
var metricLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$`)

// samples parses the ip2adb_* samples of a text exposition: series → value.
func samples(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		m := metricLine.FindStringSubmatch(line)
		if m == nil || !strings.HasPrefix(m[1], "ip2adb_") {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[m[1]+m[2]] = v
	}
	return out
}

// promtoolAccepts pipes text through promtool check metrics.
func promtoolAccepts(t *testing.T, promtool, text string) {
	t.Helper()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// chromium runs headless Chromium with extra arguments on url and returns
// its standard output.
func chromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// checkCounts is what `integrity --format json` says about each check.
func checkCounts(t *testing.T, url, filesRoot string) map[string]int {
	t.Helper()
	r := runCLI(t, runOpts{}, "integrity", "--db", url, "--files-root", filesRoot, "--format", "json")
	if r.Code > 1 {
		t.Fatalf("integrity: %+v", r)
	}
	var doc struct {
		Checks []struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, c := range doc.Checks {
		out[c.Name] = c.Count
	}
	return out
}

// growthHistory seeds a small database and records three days of
// resilience reports while it grows, so the status page has a growth
// chart; the last day plants the faults.
func growthHistory(t *testing.T, url, files, logDir, backups string) {
	t.Helper()
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3).Add(3 * time.Hour)
	steps := [][]string{
		{"seed", "--profile", "quick", "--members", "60", "--files-dir", files},
		{"seed", "--no-truncate", "--members", "25", "--seed", "43", "--files-dir", files},
		{"seed", "--no-truncate", "--members", "30", "--seed", "44", "--faults", "2", "--files-dir", files},
	}
	for i, step := range steps {
		now := day.AddDate(0, 0, i)
		r := runCLI(t, runOpts{now: now}, append(step, "--db", url)...)
		if r.Code != 0 {
			t.Fatalf("%v: %+v", step, r)
		}
		if i < 2 {
			r = runCLI(t, runOpts{now: now}, "resilience", "--db", url, "--files-root", files, "--log-dir", logDir, "--backup-dir", backups)
			if r.Code > 1 {
				t.Fatalf("resilience: %+v", r)
			}
		}
	}
}

// TestServe starts `ip2adb serve` on a seeded database with planted
// faults and a schedule of a few seconds: /readyz goes to 200, a
// scheduled heal repairs the fixable faults, /metrics shows the others in
// ip2adb_issues and passes promtool, the status page renders in headless
// Chromium and names the open checks, and SIGTERM exits 0.
func TestServe(t *testing.T) {
	t.Parallel()
	bin := serveBinary(t)
	promtool := testdb.Tool(t, "promtool")
	chrome := testdb.Tool(t, "chromium")
	testdb.EachURL(t, func(t *testing.T, url string) {
		files, logDir, backups := t.TempDir(), t.TempDir(), t.TempDir()
		if strings.HasSuffix(t.Name(), "sqlite") {
			growthHistory(t, url, files, logDir, backups)
		} else if r := runCLI(t, runOpts{}, "seed", "--db", url, "--profile", "quick", "--faults", "2", "--files-dir", files); r.Code != 0 {
			t.Fatalf("seed: %+v", r)
		}
		p := startServe(t, bin, nil, "--db", url, "--log-dir", logDir, "--files-root", files, "--backup-dir", backups,
			"--heal-schedule", "@every 1s", "--resilience-schedule", "@every 2s")

		eventually(t, "/readyz 200", func() bool { c, _ := httpGet(t, p.base+"/readyz"); return c == 200 })
		var m map[string]float64
		var text string
		eventually(t, "a successful scheduled heal and resilience report", func() bool {
			_, text = httpGet(t, p.base+"/metrics")
			m = samples(t, text)
			_, res := m[`ip2adb_last_run_success{kind="resilience"}`]
			return m[`ip2adb_last_run_success{kind="heal"}`] == 1 && res
		})
		promtoolAccepts(t, promtool, text)
		for _, want := range []string{"go_goroutines", "process_cpu_seconds_total", "ip2adb_database_up 1", "ip2adb_database_size_bytes"} {
			if !strings.Contains(text, "\n"+want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}

		// The fixable faults are repaired: every repaired check is clean
		// now, and ip2adb_issues holds exactly what integrity still finds.
		counts := checkCounts(t, url, files)
		var repaired []string
		for k, v := range m {
			if strings.HasPrefix(k, "ip2adb_repairs_total{") && v > 0 {
				check := regexp.MustCompile(`check="([^"]+)"`).FindStringSubmatch(k)[1]
				repaired = append(repaired, check)
				if counts[check] != 0 {
					t.Errorf("repaired check %s still finds %d", check, counts[check])
				}
			}
		}
		if len(repaired) < 5 {
			t.Errorf("only %v were repaired", repaired)
		}
		got, want := map[string]int{}, map[string]int{}
		var open []string
		for k, v := range m {
			if mm := regexp.MustCompile(`^ip2adb_issues\{check="([^"]+)",severity="[a-z]+"\}$`).FindStringSubmatch(k); mm != nil {
				got[mm[1]] += int(v)
			}
		}
		for c, n := range counts {
			want[c] = n
			if n > 0 {
				open = append(open, c)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ip2adb_issues against integrity (-integrity +metrics):\n%s", diff)
		}
		for _, c := range []string{"member.duplicate_number", "member.missing_required"} {
			if got[c] == 0 {
				t.Errorf("the unfixable %s is not in ip2adb_issues", c)
			}
		}

		// The page, in a real browser.
		dom := chromium(t, chrome, "--dump-dom", p.base+"/")
		for _, c := range open {
			if !strings.Contains(dom, `<code class="check">`+c+`</code>`) {
				t.Errorf("the page does not name the open check %s", c)
			}
		}
		for _, want := range []string{"Overall health: <span class=\"level\">red</span>", "Undo it with <code>ip2adb undo AH-", "<svg viewBox="} {
			if !strings.Contains(dom, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		if strings.HasSuffix(t.Name(), "sqlite") {
			shot := os.Getenv("IP2ADB_SCREENSHOT")
			if shot == "" {
				shot = filepath.Join(t.TempDir(), "status.png")
			}
			chromium(t, chrome, "--hide-scrollbars", "--window-size=1280,1600", "--screenshot="+shot, p.base+"/")
			if b, err := os.ReadFile(shot); err != nil || !strings.HasPrefix(string(b), "\x89PNG") {
				t.Errorf("no screenshot: %v", err)
			}
		}

		if code := p.terminate(t); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
		if !strings.HasSuffix(p.log(), "stopped\n") {
			t.Errorf("stderr does not end with \"stopped\":\n%s", p.log())
		}
	})
}

// TestServeTerminateMidRepair pauses a scheduled heal inside its repair
// transaction, sends SIGTERM and checks that the service exits 0, the
// database is exactly as before and the lock is free for the next run.
func TestServeTerminateMidRepair(t *testing.T) {
	t.Parallel()
	bin := serveBinary(t)
	testdb.EachURL(t, func(t *testing.T, url string) {
		db := healFaults(t, url)
		before := testdb.Digests(t, db)
		logDir := t.TempDir()
		p := startServe(t, bin, []string{pauseEnv + "=2"}, "--db", url, "--log-dir", logDir, "--no-files",
			"--heal-schedule", "@every 1s", "--resilience-schedule", "@yearly")
		eventually(t, "the run to pause", func() bool { return strings.Contains(p.log(), "paused after repair step 2\n") })
		if code := p.terminate(t); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
		if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
			t.Errorf("the cancelled run changed the database:\n%s", diff)
		}
		nextRunHeals(t, url, logDir, time.Now().Add(30*time.Second))
	}, testdb.WithSchema())
}

// TestServeSkipsWhileLocked holds the run lock: the service skips its
// scheduled heals (logged and counted), and runs once the lock is free.
func TestServeSkipsWhileLocked(t *testing.T) {
	t.Parallel()
	bin := serveBinary(t)
	testdb.EachURL(t, func(t *testing.T, url string) {
		db := healFaults(t, url)
		lock, err := heal.AcquireLock(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Release()
		p := startServe(t, bin, nil, "--db", url, "--log-dir", t.TempDir(), "--no-files",
			"--heal-schedule", "@every 1s", "--resilience-schedule", "@yearly")
		eventually(t, "a skipped run", func() bool {
			_, text := httpGet(t, p.base+"/metrics")
			return samples(t, text)[`ip2adb_runs_skipped_total{kind="heal",reason="locked"}`] >= 1
		})
		if !strings.Contains(p.log(), `msg="scheduled run skipped: another run holds the lock" kind=heal reason=locked`) {
			t.Errorf("the skip is not logged:\n%s", p.log())
		}
		_, text := httpGet(t, p.base+"/metrics")
		if _, ok := samples(t, text)[`ip2adb_last_run_success{kind="heal"}`]; ok {
			t.Errorf("a skipped run counts as a run:\n%s", text)
		}
		if err := lock.Release(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "a heal once the lock is free", func() bool {
			_, text := httpGet(t, p.base+"/metrics")
			return samples(t, text)[`ip2adb_last_run_success{kind="heal"}`] == 1
		})
		if code := p.terminate(t); code != 0 {
			t.Errorf("exit %d, want 0", code)
		}
	}, testdb.WithSchema())
}

// TestServeUnreachableDatabase: the service starts without its database,
// says why on /readyz (503) and exits 0 on SIGTERM.
func TestServeUnreachableDatabase(t *testing.T) {
	t.Parallel()
	bin := serveBinary(t)
	p := startServe(t, bin, nil, "--db", "postgres://ip2a:hunter2@127.0.0.1:1/ip2a", "--log-dir", t.TempDir(), "--no-files")
	var body string
	eventually(t, "a failed connection", func() bool {
		var code int
		code, body = httpGet(t, p.base+"/readyz")
		return code == 503 && strings.HasPrefix(body, "database unreachable: connect to ")
	})
	if strings.Contains(body, "hunter2") || strings.Contains(p.log(), "hunter2") {
		t.Errorf("the password leaks: %q\n%s", body, p.log())
	}
	if code, _ := httpGet(t, p.base+"/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	_, text := httpGet(t, p.base+"/metrics")
	if samples(t, text)["ip2adb_database_up"] != 0 || !strings.Contains(text, "\nip2adb_database_up 0\n") {
		t.Errorf("ip2adb_database_up is not 0")
	}
	if code := p.terminate(t); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

// TestServeBadInput: configuration errors exit 2 with one line before
// anything listens.
func TestServeBadInput(t *testing.T) {
	url := testdb.SQLiteURL(t, testdb.WithSchema())
	logDir := t.TempDir()
	base := []string{"serve", "--db", url, "--log-dir", logDir, "--no-files"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"non-loopback without a token", []string{"--listen", "0.0.0.0:0"}, nil,
			"ip2adb: refusing to listen on 0.0.0.0:0 without an auth token: only a loopback address (127.0.0.1, ::1, localhost) may serve the status page openly\n"},
		{"non-loopback from the environment", nil, map[string]string{"IP2ADB_LISTEN": "[::]:0"},
			"ip2adb: refusing to listen on [::]:0 without an auth token: only a loopback address (127.0.0.1, ::1, localhost) may serve the status page openly\n"},
		{"short token", []string{"--listen", "0.0.0.0:0", "--auth-token", "abc"}, nil,
			"ip2adb: the auth token must be at least 16 characters\n"},
		{"bad listen", []string{"--listen", "8080"}, nil,
			"ip2adb: listen address \"8080\": want HOST:PORT, such as 127.0.0.1:8080\n"},
		{"bad schedule", []string{"--listen", "127.0.0.1:0", "--heal-schedule", "nightly"}, nil,
			"ip2adb: heal schedule \"nightly\": expected exactly 5 fields, found 1: [nightly] (want a cron expression such as \"0 2 * * *\" or @daily, @weekly, @every 6h)\n"},
		{"bad schedule from the environment", []string{"--listen", "127.0.0.1:0"}, map[string]string{"IP2ADB_RESILIENCE_SCHEDULE": "@sometimes"},
			"ip2adb: resilience schedule \"@sometimes\": unrecognized descriptor: @sometimes (want a cron expression such as \"0 2 * * *\" or @daily, @weekly, @every 6h)\n"},
		{"bad URL", []string{"--listen", "127.0.0.1:0", "--db", "mysql://x"}, nil,
			"ip2adb: unknown database URL scheme \"mysql\" (want postgres://, postgresql:// or sqlite:PATH; the URL is not shown)\n"},
		{"missing sqlite file", []string{"--listen", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(logDir, "nope.db")}, nil,
			"ip2adb: sqlite database " + filepath.Join(logDir, "nope.db") + " does not exist (run `ip2adb seed` to create it)\n"},
		{"metrics file in a missing directory", []string{"--listen", "127.0.0.1:0", "--metrics-file", "/nonexistent/ip2adb.prom"}, nil,
			"ip2adb: --metrics-file /nonexistent/ip2adb.prom: directory /nonexistent does not exist\n"},
		{"stray argument", []string{"now"}, nil, "ip2adb: serve takes no arguments, got \"now\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, runOpts{env: tc.env}, append(slices.Clone(base), tc.args...)...)
			if r.Code != ExitUsage || r.Stdout != "" || r.Stderr != tc.want {
				t.Errorf("exit %d stdout %q stderr %q\nwant 2, nothing, %q", r.Code, r.Stdout, r.Stderr, tc.want)
			}
		})
	}
}

// TestMetricsFile: --metrics-file (or IP2ADB_METRICS_FILE) makes a
// command write the metrics in the textfile format promtool accepts; the
// counters accumulate across commands; bad input writes nothing.
func TestMetricsFile(t *testing.T) {
	promtool := testdb.Tool(t, "promtool")
	url := testdb.SQLiteURL(t, testdb.WithSchema())
	healFaults(t, url)
	dir, logDir := t.TempDir(), t.TempDir()
	file := filepath.Join(dir, "ip2adb.prom")

	r := runCLI(t, runOpts{}, "auto-heal", "--db", url, "--log-dir", logDir, "--no-files", "--metrics-file", file)
	if r.Code != 0 {
		t.Fatalf("auto-heal: %+v", r)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	promtoolAccepts(t, promtool, string(b))
	got := map[string]float64{}
	for k, v := range samples(t, string(b)) {
		if strings.HasPrefix(k, "ip2adb_repairs_total") || strings.HasPrefix(k, "ip2adb_last_run_success") {
			got[k] = v
		}
	}
	want := map[string]float64{`ip2adb_last_run_success{kind="heal"}`: 1}
	for _, rp := range healWantRepairs {
		want[fmt.Sprintf(`ip2adb_repairs_total{action="%s",check="%s"}`, rp["action"], rp["check"])] = 1
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics file (-want +got):\n%s", diff)
	}
	if strings.Contains(string(b), "go_goroutines") || strings.Contains(string(b), "process_") {
		t.Errorf("the textfile carries process or Go metrics, which node_exporter exports itself")
	}

	// From the environment, by another command: the same numbers.
	file2 := filepath.Join(dir, "history.prom")
	r = runCLI(t, runOpts{env: map[string]string{"IP2ADB_METRICS_FILE": file2}}, "history", "--log-dir", logDir)
	if r.Code != 0 {
		t.Fatalf("history: %+v", r)
	}
	b2, err := os.ReadFile(file2)
	if err != nil {
		t.Fatal(err)
	}
	if string(b2) != string(b) {
		t.Errorf("history wrote other metrics than auto-heal:\n%s\nvs\n%s", b2, b)
	}

	// Bad input: exit 2 and nothing written.
	file3 := filepath.Join(dir, "bad.prom")
	r = runCLI(t, runOpts{}, "auto-heal", "--db", url, "--log-dir", logDir, "--max-issues", "-1", "--metrics-file", file3)
	if _, err := os.Stat(file3); r.Code != ExitUsage || err == nil {
		t.Errorf("bad input: exit %d, file written: %v", r.Code, err == nil)
	}
	// No temporary files are left beside the metrics file.
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"history.prom", "ip2adb.prom"}, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

// TestServeRealSchema runs the service on the real IP2A schema with
// planted faults: the scheduled heal repairs what auto-heal repairs there,
// and the metrics and the page show what remains.
func TestServeRealSchema(t *testing.T) {
	t.Parallel()
	bin := serveBinary(t)
	promtool := testdb.Tool(t, "promtool")
	url := testdb.RealPostgresURL(t)
	db, err := dbx.Open(context.Background(), url, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	root := testdb.PlantReal(t, db)
	p := startServe(t, bin, nil, "--db", url, "--files-root", root, "--log-dir", t.TempDir(), "--backup-dir", t.TempDir(),
		"--heal-schedule", "@every 1s", "--resilience-schedule", "@every 2s")
	var text string
	eventually(t, "a scheduled heal", func() bool {
		_, text = httpGet(t, p.base+"/metrics")
		_, ok := samples(t, text)[`ip2adb_last_run_success{kind="heal"}`]
		return ok
	})
	promtoolAccepts(t, promtool, text)
	var repaired, critical float64
	var open []string
	for k, v := range samples(t, text) {
		switch {
		case strings.HasPrefix(k, "ip2adb_repairs_total{"):
			repaired += v
		case strings.HasPrefix(k, "ip2adb_issues{") && v > 0:
			open = append(open, regexp.MustCompile(`check="([^"]+)"`).FindStringSubmatch(k)[1])
			if strings.Contains(k, `severity="critical"`) {
				critical += v
			}
		case strings.HasPrefix(k, "ip2adb_check_failed{") && v != 0:
			t.Errorf("failed check on the real schema: %s", k)
		}
	}
	if repaired != 8 || critical != 2 {
		t.Errorf("repaired %v rows, %v critical left; want 8 and 2 (as auto-heal)\n%s", repaired, critical, text)
	}
	_, page := httpGet(t, p.base+"/")
	for _, c := range open {
		if !strings.Contains(page, `<code class="check">`+c+`</code>`) {
			t.Errorf("the page does not name the open check %s", c)
		}
	}
	if code := p.terminate(t); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
}

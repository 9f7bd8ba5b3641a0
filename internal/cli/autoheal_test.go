package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// healFaults plants one fault of several fixable kinds next to clean rows:
// an orphan employment (#1), an end-before-start employment (#10), an
// orphan contact (#3, soft-deleted by the repair), two primary contacts
// (#15), an invalid status (#7) and an empty attachment path (#20).
func healFaults(t *testing.T, url string) *sqlx.DB {
	t.Helper()
	db, err := dbx.Open(context.Background(), url, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const ts = "'2024-01-01 00:00:00'"
	for _, s := range []string{
		`INSERT INTO organizations (id, name, org_type, created_at, updated_at) VALUES (1, 'Acme', 'employer', ` + ts + `, ` + ts + `)`,
		`INSERT INTO organization_contacts (id, organization_id, first_name, last_name, is_primary, created_at, updated_at) VALUES (1, 1, 'A', 'One', TRUE, ` + ts + `, ` + ts + `)`,
		`INSERT INTO organization_contacts (id, organization_id, first_name, last_name, is_primary, created_at, updated_at) VALUES (2, 1, 'B', 'Two', TRUE, '2024-02-01 00:00:00', ` + ts + `)`,
		`INSERT INTO organization_contacts (id, organization_id, first_name, last_name, is_primary, created_at, updated_at) VALUES (3, 77, 'C', 'Orphan', FALSE, ` + ts + `, ` + ts + `)`,
		`INSERT INTO members (id, member_number, first_name, last_name, status, classification, created_at, updated_at) VALUES (1, '7000001', 'Ann', 'Lee', 'active', 'journeyman', ` + ts + `, ` + ts + `)`,
		`INSERT INTO members (id, member_number, first_name, last_name, status, classification, created_at, updated_at) VALUES (2, '7000002', 'Bo', 'Ray', 'on_strike', 'foreman', ` + ts + `, ` + ts + `)`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, hourly_rate, is_current, created_at, updated_at) VALUES (1, 1, 1, '2020-01-01', NULL, 40.00, TRUE, ` + ts + `, ` + ts + `)`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, hourly_rate, is_current, created_at, updated_at) VALUES (2, 2, 1, '2020-01-01', NULL, 41.00, TRUE, ` + ts + `, ` + ts + `)`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, hourly_rate, is_current, created_at, updated_at) VALUES (3, 55, 1, '2019-01-01', '2019-06-01', 20.00, FALSE, ` + ts + `, ` + ts + `)`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, hourly_rate, is_current, created_at, updated_at) VALUES (4, 1, 1, '2018-06-01', '2018-01-01', 30.00, FALSE, ` + ts + `, ` + ts + `)`,
		`INSERT INTO file_attachments (id, record_type, record_id, file_name, file_path, file_size, created_at, updated_at) VALUES (1, 'member', 1, 'a.pdf', 'https://files.example.org/a.pdf', 10, ` + ts + `, ` + ts + `)`,
		`INSERT INTO file_attachments (id, record_type, record_id, file_name, file_path, file_size, created_at, updated_at) VALUES (2, 'member', 1, 'b.pdf', '', 10, ` + ts + `, ` + ts + `)`,
	} {
		testdb.MustExec(t, db, s)
	}
	return db
}

var healWantRepairs = []map[string]any{
	{"check": "employment.orphan_member", "action": "delete", "table": "member_employments", "rows": 1.0, "dry_run": false},
	{"check": "contact.orphan_organization", "action": "soft_delete", "table": "organization_contacts", "rows": 1.0, "dry_run": false},
	{"check": "member.invalid_status", "action": "set_value", "table": "members", "rows": 1.0, "dry_run": false},
	{"check": "employment.end_before_start", "action": "set_null", "table": "member_employments", "rows": 1.0, "dry_run": false},
	{"check": "organization.multiple_primary_contacts", "action": "set_value", "table": "organization_contacts", "rows": 1.0, "dry_run": false},
	{"check": "attachment.empty_path", "action": "soft_delete", "table": "file_attachments", "rows": 1.0, "dry_run": false},
}

func withDryRun(rs []map[string]any, d bool) []any {
	var out []any
	for _, r := range rs {
		m := map[string]any{}
		for k, v := range r {
			m[k] = v
		}
		m["dry_run"] = d
		out = append(out, m)
	}
	return out
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, s)
	}
	return m
}

func TestAutoHealJSONHistoryAndUndo(t *testing.T) {
	testdb.EachURL(t, func(t *testing.T, url string) {
		db := healFaults(t, url)
		before := testdb.Digests(t, db)
		logDir := t.TempDir()
		args := []string{"--db", url, "--log-dir", logDir}

		dry := runCLI(t, runOpts{}, append([]string{"auto-heal", "--no-files", "--dry-run", "--format", "json"}, args...)...)
		if dry.Code != 0 {
			t.Fatalf("dry run: %+v", dry)
		}
		if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
			t.Errorf("dry run changed the database:\n%s", diff)
		}
		r := runCLI(t, runOpts{}, append([]string{"auto-heal", "--no-files", "--format", "json"}, args...)...)
		if r.Code != 0 || r.Stderr != "" {
			t.Fatalf("auto-heal: %+v", r)
		}
		got, gotDry := decodeJSON(t, r.Stdout), decodeJSON(t, dry.Stdout)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range got {
				if !yield(k) {
					return
				}
			}
		})
		if diff := cmp.Diff([]string{"checks", "dry_run", "issues", "notifications", "repairs", "run_id", "summary"}, keys); diff != "" {
			t.Errorf("JSON keys (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(withDryRun(healWantRepairs, false), got["repairs"]); diff != "" {
			t.Errorf("repairs (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(withDryRun(healWantRepairs, true), gotDry["repairs"]); diff != "" {
			t.Errorf("dry-run repairs (-want +got):\n%s", diff)
		}
		wantSummary := map[string]any{"critical": 0.0, "warning": 0.0, "info": 0.0, "auto_fixable": 6.0,
			"fixed": 6.0, "remaining": 0.0, "failed_checks": 0.0}
		if diff := cmp.Diff(wantSummary, got["summary"]); diff != "" {
			t.Errorf("summary (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(got["summary"], gotDry["summary"]); diff != "" {
			t.Errorf("dry-run summary differs from the real run's (-dry +real):\n%s", diff)
		}
		runID, _ := got["run_id"].(string)
		if !strings.HasPrefix(runID, "AH-20261128T020000Z-") || got["dry_run"] != false {
			t.Errorf("run_id %q dry_run %v", runID, got["dry_run"])
		}

		h := runCLI(t, runOpts{}, "history", "--log-dir", logDir, "--format", "json")
		if h.Code != 0 {
			t.Fatalf("history: %+v", h)
		}
		hist := decodeJSON(t, h.Stdout)
		runs, _ := hist["runs"].([]any)
		summary, _ := hist["summary"].(map[string]any)
		if len(runs) != 2 || summary["total_runs"] != 1.0 || summary["total_issues_fixed"] != 6.0 ||
			summary["auto_fix_rate"] != 100.0 || summary["health_status"] != "healthy" {
			t.Errorf("history: %s", h.Stdout)
		}

		u := runCLI(t, runOpts{}, append([]string{"undo", runID}, args...)...)
		if u.Code != 0 || !strings.Contains(u.Stdout, "Undid "+runID+" as run UN-20261128T020000Z-") ||
			!strings.Contains(u.Stdout, ": 6 rows restored") {
			t.Fatalf("undo: %+v", u)
		}
		if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
			t.Errorf("undo did not restore the tables:\n%s", diff)
		}
		again := runCLI(t, runOpts{}, append([]string{"undo", runID}, args...)...)
		if again.Code != 1 || !strings.Contains(again.Stderr, "was already undone by UN-") {
			t.Errorf("second undo: %+v", again)
		}
	}, testdb.WithSchema())
}

func TestAutoHealTextIfDueAndSummary(t *testing.T) {
	url := testdb.SQLiteURL(t, testdb.WithSchema())
	healFaults(t, url)
	logDir := t.TempDir()
	r := runCLI(t, runOpts{}, "auto-heal", "--db", url, "--log-dir", logDir, "--no-files")
	if r.Code != 0 {
		t.Fatalf("%+v", r)
	}
	for _, want := range []string{"Found: critical 5 · warning 1 · info 0 · auto-fixable 6", "Repaired 6 rows:",
		"  soft_delete  organization_contacts        1  contact.orphan_organization",
		"Remaining: critical 0 · warning 0 · info 0 (0 in all)", "Undo with: ip2adb undo AH-20261128T020000Z-"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.Stdout)
		}
	}
	// Not due an hour later: nothing runs, nothing is recorded.
	later := runOpts{now: time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)}
	nd := runCLI(t, later, "auto-heal", "--db", url, "--log-dir", logDir, "--no-files", "--if-due", "24h")
	want := "auto-heal not due: last run 2026-11-28 02:00:00 UTC, next due 2026-11-29 02:00:00 UTC\n"
	if nd.Code != 0 || nd.Stdout != "" || nd.Stderr != want {
		t.Errorf("not due: %+v", nd)
	}
	due := runCLI(t, runOpts{now: time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)},
		"auto-heal", "--db", url, "--log-dir", logDir, "--no-files", "--if-due", "24h", "--format", "json")
	if due.Code != 0 || decodeJSON(t, due.Stdout)["repairs"] == nil {
		t.Errorf("due: %+v", due)
	}
	s := runCLI(t, runOpts{now: time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)}, "auto-heal", "--summary", "--log-dir", logDir)
	for _, want := range []string{"Health summary, last 7 days: HEALTHY", "runs 2 (2 successful)",
		"issues found 6 · fixed 6 · requiring attention 0", "auto-fix rate 100.0 %"} {
		if s.Code != 0 || !strings.Contains(s.Stdout, want) {
			t.Errorf("summary lacks %q: %+v", want, s)
		}
	}
	sj := runCLI(t, runOpts{now: time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)}, "auto-heal", "--summary", "--log-dir", logDir, "--format", "json")
	if summary, _ := decodeJSON(t, sj.Stdout)["summary"].(map[string]any); sj.Code != 0 || summary["total_runs"] != 2.0 || summary["health_status"] != "healthy" {
		t.Errorf("summary JSON: %+v", sj)
	}
	h := runCLI(t, runOpts{}, "history", "--log-dir", t.TempDir())
	if h.Code != 0 || !strings.Contains(h.Stdout, "  none\n") || !strings.Contains(h.Stdout, "UNKNOWN") {
		t.Errorf("empty history: %+v", h)
	}
}

func TestAutoHealNotifiesAboutWhatRemains(t *testing.T) {
	url := testdb.SQLiteURL(t, testdb.WithSchema())
	db := healFaults(t, url)
	testdb.MustExec(t, db, `INSERT INTO members (id, member_number, first_name, last_name, status, classification) VALUES (9, NULL, 'No', 'Number', 'active', 'journeyman')`)
	testdb.MustExec(t, db, `INSERT INTO member_employments (id, member_id, organization_id, start_date, is_current) VALUES (9, 9, 1, '2020-01-01', TRUE)`)
	var mu sync.Mutex
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		bodies = append(bodies, m)
		mu.Unlock()
	}))
	defer srv.Close()
	logDir := t.TempDir()
	args := []string{"auto-heal", "--db", url, "--log-dir", logDir, "--no-files", "--notify", srv.URL + "/hook"}
	r := runCLI(t, runOpts{}, append(args, "--format", "json")...)
	got := decodeJSON(t, r.Stdout)
	issues, _ := got["issues"].([]any)
	if r.Code != 1 || len(issues) != 1 || issues[0].(map[string]any)["check"] != "member.missing_required" {
		t.Fatalf("%+v", r)
	}
	hookName := "webhook:" + strings.TrimPrefix(srv.URL, "http://")
	wantNotes := []any{
		map[string]any{"channel": "log", "outcome": "sent", "error": ""},
		map[string]any{"channel": hookName, "outcome": "sent", "error": ""},
	}
	if diff := cmp.Diff(wantNotes, got["notifications"]); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	mu.Lock()
	if len(bodies) != 1 || bodies[0]["priority"] != "critical" || bodies[0]["issue_count"] != 1.0 {
		t.Errorf("webhook got %v", bodies)
	}
	mu.Unlock()
	if _, err := os.Stat(filepath.Join(logDir, "admin_notifications", "2026-11-28_notifications.jsonl")); err != nil {
		t.Errorf("log channel: %v", err)
	}
	// One notification, although two channels delivered it.
	recs, _ := heal.Records(logDir, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	if len(recs) != 1 || recs[0].NotificationsSent != 1 || recs[0].IssuesRequiringAttention != 1 || !recs[0].Success {
		t.Errorf("history %+v", recs)
	}
	// The same issue an hour later: dedup keeps quiet, and says so.
	r = runCLI(t, runOpts{now: time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)}, args...)
	mu.Lock()
	if r.Code != 1 || len(bodies) != 1 {
		t.Errorf("second run: %d sends, %+v", len(bodies), r)
	}
	mu.Unlock()
	if want := "Notifications sent: 0\n  suppressed  log\n  suppressed  " + hookName + "\n"; !strings.Contains(r.Stdout, want) {
		t.Errorf("second run's report lacks %q:\n%s", want, r.Stdout)
	}
	// A malformed channel URL is bad input: exit 2, nothing changed.
	before := testdb.Digests(t, db)
	bad := runCLI(t, runOpts{}, "auto-heal", "--db", url, "--log-dir", logDir, "--no-files", "--notify", "smtp://[bad")
	if bad.Code != 2 {
		t.Errorf("bad channel: %+v", bad)
	}
	if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
		t.Errorf("changed the database:\n%s", diff)
	}
}

func TestAutoHealAndUndoFailures(t *testing.T) {
	url := testdb.SQLiteURL(t, testdb.WithSchema())
	db := healFaults(t, url)
	logDir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"bad if-due", []string{"auto-heal", "--if-due", "soon"}, 2, "invalid value \"soon\" for flag -if-due"},
		{"negative max-issues", []string{"auto-heal", "--max-issues", "-1"}, 2, "--max-issues must be 0 or more, not -1"},
		{"stray argument", []string{"auto-heal", "now"}, 2, `auto-heal takes no arguments, got "now"`},
		{"missing files root", []string{"auto-heal", "--files-root", "/nonexistent/dir"}, 2, "--files-root /nonexistent/dir: no such directory"},
		{"undo without id", []string{"undo"}, 2, "undo takes exactly one RUN_ID"},
		{"undo unknown id", []string{"undo", "AH-19990101T000000Z-0000"}, 2, `no journaled run "AH-19990101T000000Z-0000"`},
		{"history bad days", []string{"history", "--days", "0"}, 2, "--days must be between 1 and 36500, not 0"},
		{"missing database", []string{"auto-heal", "--db", "sqlite:" + filepath.Join(t.TempDir(), "none.db")}, 2, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testdb.Digests(t, db)
			args := append(append([]string{}, tc.args...), "--log-dir", logDir)
			if !slices.Contains(args, "--db") {
				args = append(args, "--db", url)
			}
			r := runCLI(t, runOpts{}, args...)
			if r.Code != tc.code || !strings.Contains(r.Stderr, tc.err) {
				t.Errorf("got %d %q; want %d containing %q", r.Code, r.Stderr, tc.code, tc.err)
			}
			if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
				t.Errorf("changed the database:\n%s", diff)
			}
		})
	}

	t.Run("lock held", func(t *testing.T) {
		before := testdb.Digests(t, db)
		lock, err := heal.AcquireLock(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Release()
		r := runCLI(t, runOpts{}, "auto-heal", "--db", url, "--log-dir", logDir, "--no-files")
		if r.Code != 1 || !strings.HasSuffix(r.Stderr, "ip2adb: auto-heal: another run holds the lock\n") {
			t.Errorf("%+v", r)
		}
		if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
			t.Errorf("changed the database:\n%s", diff)
		}
	})

	t.Run("undo after a change", func(t *testing.T) {
		r := runCLI(t, runOpts{}, "auto-heal", "--db", url, "--log-dir", logDir, "--no-files", "--format", "json")
		runID, _ := decodeJSON(t, r.Stdout)["run_id"].(string)
		testdb.MustExec(t, db, `UPDATE members SET status = 'retired', updated_at = '2026-12-01 00:00:00' WHERE id = 2`)
		before := testdb.Digests(t, db)
		u := runCLI(t, runOpts{}, "undo", runID, "--db", url)
		if u.Code != 1 || !strings.Contains(u.Stderr, "1 row(s) changed after the run (members#2); nothing was changed (--force restores them anyway)") {
			t.Errorf("%+v", u)
		}
		if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
			t.Errorf("refused undo changed the database:\n%s", diff)
		}
		f := runCLI(t, runOpts{}, "undo", runID, "--db", url, "--force", "--format", "json")
		if f.Code != 0 || decodeJSON(t, f.Stdout)["rows"] != 6.0 {
			t.Errorf("forced undo: %+v", f)
		}
	})
}

// crashTestTag is the build tag that compiles the pause hook (pauseEnv)
// into the binary.
const crashTestTag = "ip2adb_crashtest"

// buildBinary builds cmd/ip2adb with the crash-test hook into a temporary
// directory and returns its path, for the tests that kill the process.
func buildBinary(t *testing.T) string {
	t.Helper()
	return buildWithTags(t, crashTestTag)
}

// buildWithTags builds cmd/ip2adb with the build tags (none: the release
// binary) and returns its path.
func buildWithTags(t *testing.T, tags string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ip2adb")
	if out, err := exec.Command("go", "build", "-tags", tags, "-o", bin, "github.com/ip2adb/ip2adb/cmd/ip2adb").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestPauseHookNotInRelease: only a binary built with the crash-test tag
// knows IP2ADB_TEST_PAUSE_AFTER_STEP; the release binary does not contain
// the name at all.
func TestPauseHookNotInRelease(t *testing.T) {
	for _, tc := range []struct {
		tags string
		want bool
	}{{"", false}, {crashTestTag, true}} {
		b, err := os.ReadFile(buildWithTags(t, tc.tags))
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(b, []byte(pauseEnv)); got != tc.want {
			t.Errorf("binary built with tags %q holds %s: %v, want %v", tc.tags, pauseEnv, got, tc.want)
		}
	}
}

// nextRunHeals runs auto-heal after a killed run and checks that it repairs
// everything; until deadline it retries while the killed run's lock is
// still held (the server has not noticed the dead client yet).
func nextRunHeals(t *testing.T, url, logDir string, deadline time.Time) {
	t.Helper()
	for {
		r := runCLI(t, runOpts{}, "auto-heal", "--db", url, "--log-dir", logDir, "--no-files", "--format", "json")
		if r.Code == 1 && strings.Contains(r.Stderr, "another run holds the lock") && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if r.Code != 0 {
			t.Fatalf("next run: %+v", r)
		}
		if diff := cmp.Diff(withDryRun(healWantRepairs, false), decodeJSON(t, r.Stdout)["repairs"]); diff != "" {
			t.Errorf("next run's repairs (-want +got):\n%s", diff)
		}
		return
	}
}

// TestAutoHealKilledMidRepair builds the binary, pauses it inside the
// repair transaction (after the second repair statement pair) with the
// IP2ADB_TEST_PAUSE_AFTER_STEP hook, kills it with SIGKILL and checks that
// the database is exactly as before and the next run completes.
func TestAutoHealKilledMidRepair(t *testing.T) {
	bin := buildBinary(t)
	testdb.EachURL(t, func(t *testing.T, url string) {
		db := healFaults(t, url)
		before := testdb.Digests(t, db)
		logDir := t.TempDir()
		cmd := exec.Command(bin, "auto-heal", "--db", url, "--log-dir", logDir, "--no-files")
		cmd.Env = append(os.Environ(), pauseEnv+"=2")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		paused := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				if sc.Text() == "paused after repair step 2" {
					paused <- true
					return
				}
			}
			paused <- false
		}()
		select {
		case ok := <-paused:
			if !ok {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatal("the run ended without pausing")
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the run did not pause")
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
			t.Errorf("the killed run changed the database:\n%s", diff)
		}
		// The next run completes (the killed run's lock went with it).
		nextRunHeals(t, url, logDir, time.Now().Add(30*time.Second))
	}, testdb.WithSchema())
}

// TestAutoHealKilledWhileBlockedOnARowLock needs no test hook: the test
// holds a row lock on the row the last repair statement updates (on
// PostgreSQL a repair is one WITH statement whose UPDATE may stand anywhere
// in its text), waits until
// the run's backend is blocked on it (every earlier repair has executed in
// the run's transaction), SIGKILLs the process and releases the lock. The
// database is exactly as before and the next run completes.
func TestAutoHealKilledWhileBlockedOnARowLock(t *testing.T) {
	bin := buildBinary(t)
	url := testdb.PostgresURL(t, testdb.WithSchema())
	db := healFaults(t, url)
	before := testdb.Digests(t, db)
	locker, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Rollback()
	if _, err := locker.Exec(`SELECT id FROM file_attachments WHERE id = 2 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	cmd := exec.Command(bin, "auto-heal", "--db", url, "--log-dir", logDir, "--no-files")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		err := db.Get(&n, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND pid <> pg_backend_pid() AND query LIKE '%UPDATE "file_attachments"%'`)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never blocked on the locked row")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if err := locker.Rollback(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
		t.Errorf("the killed run changed the database:\n%s", diff)
	}
	nextRunHeals(t, url, logDir, deadline)
}

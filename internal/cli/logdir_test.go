package cli

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/testdb"
)

// runNow is runCLI's default clock.
var runNow = time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)

// mountTmpfs mounts a tmpfs of size (e.g. "64k") with the extra mount
// options opts (e.g. "ro") on a fresh directory and returns it; it is
// unmounted when the test ends. Mounting needs root: without it the test
// is skipped, except under CI, where it fails (.ci/run runs as root).
func mountTmpfs(t *testing.T, size string, opts ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := strings.Join(append([]string{"size=" + size}, opts...), ",")
	var flags uintptr
	for _, o := range opts {
		if o == "ro" {
			flags |= syscall.MS_RDONLY
		}
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, data); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount tmpfs (CI is set, so this fails; run as root): %v", err)
		}
		t.Skipf("mount tmpfs needs root: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillUp writes to name until the file system is full.
func fillUp(t *testing.T, name string) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", name, err)
			}
			return
		}
	}
}

// TestAutoHealRefusesAnUnwritableLogDir: a log dir that cannot take the
// history is refused before anything changes (exit 2, one line).
func TestAutoHealRefusesAnUnwritableLogDir(t *testing.T) {
	ro := mountTmpfs(t, "64k", "ro")
	notDir := filepath.Join(t.TempDir(), "logs")
	if err := os.WriteFile(notDir, []byte("a file, not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, logDir, want string }{
		{"read-only", filepath.Join(ro, "logs"), "ip2adb: log dir " + filepath.Join(ro, "logs") + " is not writable: read-only file system\n"},
		{"read-only root", ro, "ip2adb: log dir " + ro + " is not writable: read-only file system\n"},
		{"a file", notDir, "ip2adb: log dir " + notDir + ": stat " + filepath.Join(notDir, "auto_heal") + ": not a directory\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := testdb.SQLiteURL(t, testdb.WithSchema())
			db := healFaults(t, url)
			before := testdb.Digests(t, db)
			for _, extra := range [][]string{nil, {"--if-due", "24h"}, {"--dry-run"}} {
				args := append([]string{"auto-heal", "--db", url, "--no-files", "--log-dir", tc.logDir, "--format", "json"}, extra...)
				r := runCLI(t, runOpts{}, args...)
				if r.Code != ExitUsage || r.Stdout != "" || r.Stderr != tc.want {
					t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2, nothing, %q", extra, r.Code, r.Stdout, r.Stderr, tc.want)
				}
			}
			if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
				t.Errorf("the refused run changed the database:\n%s", diff)
			}
		})
	}
}

// TestAutoHealFullDiskAfterCommit: the disk fills up between the check of
// the log dir and the history write. The run has committed: its report is
// printed (JSON with the run id and the failure in "warnings"), the exit
// code is 1, no temporary file stays, and the history never says
// success:true. The day's history file already has room for one more line
// (tmpfs allocates whole pages) while .last_run needs a page of its own —
// the case that used to record success:true next to a stray .last_run.tmp.
func TestAutoHealFullDiskAfterCommit(t *testing.T) {
	logDir := mountTmpfs(t, "64k")
	dir := filepath.Join(logDir, "auto_heal")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	day := filepath.Join(dir, "2026-11-28_auto_heal.jsonl")
	earlier := `{"run_id":"AH-20261128T010000Z-0000","timestamp":"2026-11-28T01:00:00Z","issues_found":0,"issues_fixed":0,"issues_requiring_attention":0,"notifications_sent":0,"success":false,"error_message":"earlier","dry_run":true,"duration_ms":1}` + "\n"
	if err := os.WriteFile(day, []byte(earlier), 0o600); err != nil {
		t.Fatal(err)
	}
	fillUp(t, filepath.Join(logDir, "filler"))

	url := testdb.SQLiteURL(t, testdb.WithSchema())
	healFaults(t, url)
	r := runCLI(t, runOpts{}, "auto-heal", "--db", url, "--no-files", "--log-dir", logDir, "--format", "json")
	if r.Code != ExitCritical {
		t.Errorf("exit %d, want 1 (stderr %q)", r.Code, r.Stderr)
	}
	var got struct {
		RunID    string   `json:"run_id"`
		Repairs  []any    `json:"repairs"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%q", err, r.Stdout)
	}
	if !strings.HasPrefix(got.RunID, "AH-") || len(got.Repairs) != len(healWantRepairs) {
		t.Errorf("report: run id %q, %d repairs; want AH-…, %d", got.RunID, len(got.Repairs), len(healWantRepairs))
	}
	wantWarning := "history: record the last run: write " + filepath.Join(dir, ".last_run-")
	if len(got.Warnings) != 1 || !strings.HasPrefix(got.Warnings[0], wantWarning) || !strings.HasSuffix(got.Warnings[0], "no space left on device") {
		t.Errorf("warnings %q, want one starting %q, ending in ENOSPC", got.Warnings, wantWarning)
	}
	if !strings.HasPrefix(r.Stderr, "ip2adb: warning: history: record the last run") || strings.Count(r.Stderr, "\n") != 1 {
		t.Errorf("stderr %q: want one warning line", r.Stderr)
	}
	// The history holds the run, as failed; no .last_run, no temporary file.
	recs, warnings, err := heal.ReadHistory(logDir, runNow.Add(-24*time.Hour))
	if err != nil || len(warnings) != 0 {
		t.Fatalf("read history: %v %v", err, warnings)
	}
	if len(recs) != 2 || recs[1].RunID != got.RunID || recs[1].Success || recs[1].ErrorMessage == nil ||
		!strings.Contains(*recs[1].ErrorMessage, "no space left on device") {
		t.Errorf("history records %+v: want the run recorded as failed with the ENOSPC error", recs)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"2026-11-28_auto_heal.jsonl"}, names); diff != "" {
		t.Errorf("auto_heal/ (-want +got):\n%s", diff)
	}
}

// TestHistoryWriteDoesNotFollowSymlinks plants symlinks where the history
// writes — the old fixed temporary name and the day's file — pointing
// outside the log dir; the files they point to stay untouched.
func TestHistoryWriteDoesNotFollowSymlinks(t *testing.T) {
	outside := t.TempDir()
	target := filepath.Join(outside, "precious")
	if err := os.WriteFile(target, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	dir := filepath.Join(logDir, "auto_heal")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, ".last_run.tmp")); err != nil {
		t.Fatal(err)
	}
	url := testdb.SQLiteURL(t, testdb.WithSchema())
	healFaults(t, url)
	r := runCLI(t, runOpts{}, "auto-heal", "--db", url, "--no-files", "--log-dir", logDir)
	if r.Code != ExitOK {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if err := os.Symlink(target, filepath.Join(dir, "2026-11-29_auto_heal.jsonl")); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, runOpts{now: runNow.Add(24 * time.Hour)}, "auto-heal", "--db", url, "--no-files", "--log-dir", logDir, "--format", "json")
	if r.Code != ExitCritical || !strings.Contains(r.Stderr, "path escapes from parent") {
		t.Errorf("day file planted as a symlink: exit %d, stderr %q; want 1 and a warning", r.Code, r.Stderr)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "precious\n" {
		t.Errorf("the file behind the symlinks now holds %q (%v)", b, err)
	}
}

package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/testdb"
)

// TestHistoryEscapesAndSkipsBadLines: run ids and error messages from the
// history files are data: terminal escape codes in them are printed
// escaped. A line that is not a record is skipped with a warning naming
// file and line, in either format.
func TestHistoryEscapesAndSkipsBadLines(t *testing.T) {
	logDir := t.TempDir()
	name := filepath.Join(logDir, "auto_heal", "2026-11-27_auto_heal.jsonl")
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		t.Fatal(err)
	}
	lines := `{"run_id":"AH-\u001b[2J","timestamp":"2026-11-27T02:00:00Z","issues_found":3,"issues_fixed":1,"issues_requiring_attention":2,"notifications_sent":0,"success":false,"error_message":"boom \u001b]0;pwned\u0007 \u009b31m","dry_run":false,"duration_ms":7}
{not json
`
	if err := os.WriteFile(name, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, runOpts{}, "history", "--log-dir", logDir)
	want := "Auto-heal runs, last 7 days (" + filepath.Join(logDir, "auto_heal") + ")\n" +
		`  2026-11-27 02:00:00  AH-\x1b[2J                 found 3 · fixed 1 · attention 2 · notified 0 · 7ms  FAILED · boom \x1b]0;pwned\a \u009b31m` + "\n\n" +
		"Health summary, last 7 days: HEALTHY\n" +
		"  runs 1 (0 successful)\n" +
		"  issues found 3 · fixed 1 · requiring attention 2\n" +
		"  auto-fix rate 33.3 %\n" +
		`  most recent run AH-\x1b[2J at 2026-11-27 02:00:00 UTC` + "\n"
	if r.Code != ExitOK {
		t.Errorf("exit %d, want 0", r.Code)
	}
	if diff := cmp.Diff(want, r.Stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	wantErr := "ip2adb: warning: history " + name + " line 2 is not a run record; skipped\n"
	if r.Stderr != wantErr {
		t.Errorf("stderr %q, want %q", r.Stderr, wantErr)
	}
	r = runCLI(t, runOpts{}, "auto-heal", "--summary", "--log-dir", logDir, "--format", "json")
	if r.Code != ExitOK || r.Stderr != wantErr {
		t.Errorf("auto-heal --summary: exit %d, stderr %q; want 0, %q", r.Code, r.Stderr, wantErr)
	}
	if s := decodeJSON(t, r.Stdout)["summary"].(map[string]any); !cmp.Equal(s["warnings"], []any{strings.TrimSuffix(strings.TrimPrefix(wantErr, "ip2adb: warning: "), "\n")}) {
		t.Errorf("summary warnings %v", s["warnings"])
	}
}

// TestUndoTextEscapes: check and table names come from the journal; the
// text output escapes what a terminal would act on.
func TestUndoTextEscapes(t *testing.T) {
	var b bytes.Buffer
	err := writeUndoText(&b, heal.UndoResult{RunID: "UN-1", Undoes: "AH-\x1b[2J", Rows: 2, Steps: []heal.UndoStep{
		{Check: "evil\x1b[31m\ncheck", Table: "members\u202e", Action: "delete", Rows: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := `Undid AH-\x1b[2J as run UN-1: 2 rows restored` + "\n" +
		`  delete       members\u202e                2  evil\x1b[31m check` + "\n" +
		"Redo with: ip2adb undo UN-1\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestExportAndHistoryFilesArePrivate: reports name members; --export
// files are written 0600, also over an existing file with a wider mode,
// and so is the history.
func TestExportAndHistoryFilesArePrivate(t *testing.T) {
	url := testdb.SQLiteURL(t, testdb.WithSchema())
	healFaults(t, url)
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	existing := filepath.Join(dir, "existing.txt")
	if err := os.WriteFile(existing, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"integrity", "--no-files", "--export", filepath.Join(dir, "integrity.json")},
		{"integrity", "--no-files", "--export", existing},
		{"resilience", "--export", filepath.Join(dir, "resilience.txt")},
		{"integrity", "--repair", "--dry-run", "--no-files", "--export", filepath.Join(dir, "repair.json")},
		{"auto-heal", "--no-files"},
	} {
		r := runCLI(t, runOpts{}, append(args, "--db", url, "--log-dir", logDir, "--files-root", dir)...)
		if r.Code == ExitUsage {
			t.Fatalf("%v: exit 2: %s", args, r.Stderr)
		}
	}
	for _, name := range []string{"integrity.json", "existing.txt", "resilience.txt", "repair.json",
		filepath.Join("logs", "auto_heal", "2026-11-28_auto_heal.jsonl"), filepath.Join("logs", "auto_heal", ".last_run")} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, st.Mode().Perm())
		}
	}
}

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

func TestRepairIntegrityJSONAndUndo(t *testing.T) {
	testdb.EachURL(t, func(t *testing.T, url string) {
		db := healFaults(t, url)
		before := testdb.Digests(t, db)
		export := filepath.Join(t.TempDir(), "repair.json")
		r := runCLI(t, runOpts{}, "integrity", "--repair", "--no-files", "--format", "json", "--db", url, "--export", export)
		if r.Code != 0 {
			t.Fatalf("%+v", r)
		}
		got := decodeJSON(t, r.Stdout)
		if b, err := os.ReadFile(export); err != nil || string(b) != r.Stdout {
			t.Errorf("export %v:\n%s", err, b)
		}
		if diff := cmp.Diff(withDryRun(healWantRepairs, false), got["repairs"]); diff != "" {
			t.Errorf("repairs (-want +got):\n%s", diff)
		}
		runID, _ := got["run_id"].(string)
		if !strings.HasPrefix(runID, "IR-20261128T020000Z-") {
			t.Errorf("run id %q", runID)
		}
		u := runCLI(t, runOpts{}, "undo", runID, "--db", url, "--format", "json")
		if u.Code != 0 {
			t.Fatalf("%+v", u)
		}
		if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
			t.Errorf("undo did not restore:\n%s", diff)
		}
	}, testdb.WithSchema())
}

func TestRepairIntegrityGuardsAndFlags(t *testing.T) {
	url := testdb.SQLiteURL(t, testdb.WithSchema())
	db := healFaults(t, url)
	for _, tc := range []struct {
		name string
		opts runOpts
		args []string
		code int
		err  string
	}{
		{"production needs force", runOpts{}, []string{"integrity", "--repair", "--no-files", "--env", "production"}, 2,
			"ip2adb: refusing to repair in production without --force\n"},
		{"dry-run needs repair", runOpts{}, []string{"integrity", "--dry-run", "--no-files"}, 2, "ip2adb: --dry-run needs --repair\n"},
		{"interactive needs repair", runOpts{}, []string{"integrity", "--interactive"}, 2, "ip2adb: --interactive needs --repair\n"},
		{"interactive needs a terminal", runOpts{}, []string{"integrity", "--repair", "--interactive"}, 2,
			"ip2adb: --interactive needs a terminal on stdin (run it by hand, or drop --interactive)\n"},
		{"interactive needs files", runOpts{tty: true}, []string{"integrity", "--repair", "--interactive", "--no-files"}, 2,
			"ip2adb: --interactive decides about missing files; it cannot run with --no-files\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testdb.Digests(t, db)
			r := runCLI(t, tc.opts, append(tc.args, "--db", url)...)
			if r.Code != tc.code || r.Stderr != tc.err || r.Stdout != "" {
				t.Errorf("got %+v; want %d %q", r, tc.code, tc.err)
			}
			if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
				t.Errorf("changed the database:\n%s", diff)
			}
		})
	}
	r := runCLI(t, runOpts{env: map[string]string{"IP2ADB_ENV": "production"}},
		"integrity", "--repair", "--no-files", "--force", "--db", url, "--format", "json")
	if r.Code != 0 || decodeJSON(t, r.Stdout)["summary"].(map[string]any)["fixed"] != 6.0 {
		t.Errorf("forced production repair: %+v", r)
	}
}

// missingFiles adds attachments 10-14 whose files are missing and 15 whose
// file exists under the returned files root.
func missingFiles(t *testing.T, db *sqlx.DB) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "uploads"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "uploads", "here.pdf"), []byte("pdf"), 0o644); err != nil {
		t.Fatal(err)
	}
	for id := 10; id <= 14; id++ {
		testdb.MustExec(t, db, `INSERT INTO file_attachments (id, record_type, record_id, file_name, file_path, file_size, created_at, updated_at)
			VALUES (?, 'member', 1, 'x.pdf', ?, 10, '2024-01-01 00:00:00', '2024-01-01 00:00:00')`, id, "uploads/gone"+string(rune('0'+id-10))+".pdf")
	}
	testdb.MustExec(t, db, `INSERT INTO file_attachments (id, record_type, record_id, file_name, file_path, file_size, created_at, updated_at)
		VALUES (15, 'member', 1, 'here.pdf', 'uploads/here.pdf', 3, '2024-01-01 00:00:00', '2024-01-01 00:00:00')`)
	return root
}

func TestRepairInteractiveMissingFiles(t *testing.T) {
	for _, tc := range []struct {
		name        string
		stdin       string
		code        int
		deleted     []string // ids soft-deleted among 10-15
		fileMissing float64  // attachment.file_missing rows repaired
		prompt      string   // in stderr
	}{
		{"delete keep skip then delete all remaining", "1\n2\n3\n4\n", 0, []string{"10", "13", "14"}, 3,
			"Decided: 3 to delete, 1 kept, 1 skipped."},
		{"keep all remaining", "d\n5\n", 0, []string{"10"}, 1, "Decided: 1 to delete, 4 kept, 0 skipped."},
		{"bad answer asks again", "x\n3\n3\n3\n3\n3\n", 0, nil, 0, "please answer 1-6"},
		{"abort changes nothing", "1\n6\n", 1, nil, 0, "Aborted: nothing was changed."},
		{"end of input aborts", "1\n", 1, nil, 0, "Aborted: nothing was changed."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := testdb.SQLiteURL(t, testdb.WithSchema())
			db := healFaults(t, url)
			root := missingFiles(t, db)
			before := testdb.Digests(t, db)
			r := runCLI(t, runOpts{tty: true, stdin: tc.stdin},
				"integrity", "--repair", "--interactive", "--files-root", root, "--db", url, "--format", "json")
			if r.Code != tc.code || !strings.Contains(r.Stderr, tc.prompt) {
				t.Fatalf("got %d, stderr:\n%s", r.Code, r.Stderr)
			}
			if !strings.Contains(r.Stderr, "5 attachments name a file that is missing.") ||
				!strings.Contains(r.Stderr, "[1/5] ") {
				t.Errorf("prompt:\n%s", r.Stderr)
			}
			deleted := stateRows(t, db, "SELECT id FROM file_attachments WHERE id >= 10 AND is_deleted ORDER BY id")
			if diff := cmp.Diff(tc.deleted, deleted); diff != "" {
				t.Errorf("deleted (-want +got):\n%s", diff)
			}
			if tc.code == 1 {
				if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
					t.Errorf("aborted run changed the database:\n%s", diff)
				}
				return
			}
			got := decodeJSON(t, r.Stdout)
			var rows float64
			for _, rp := range got["repairs"].([]any) {
				if m := rp.(map[string]any); m["check"] == "attachment.file_missing" {
					rows += m["rows"].(float64)
					if m["action"] != "soft_delete" {
						t.Errorf("action %v", m["action"])
					}
				}
			}
			if rows != tc.fileMissing {
				t.Errorf("file_missing rows %v, want %v", rows, tc.fileMissing)
			}
			if w := got["summary"].(map[string]any)["warning"]; w != 5-tc.fileMissing {
				t.Errorf("remaining warnings %v", w)
			}
		})
	}
}

func stateRows(t *testing.T, db *sqlx.DB, q string) []string {
	t.Helper()
	var out []string
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

package cli

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dirState is every file of dir with the SHA-256 of its bytes.
func dirState(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = sha256.Sum256(b)
	}
	return out
}

// TestReadOnlyCommandsLeaveSQLiteAlone: integrity (without --repair) and
// resilience (without --record-checksums) open SQLite read-only. A foreign
// database in rollback-journal mode stays byte for byte as it was (no
// switch to WAL, no -wal or -shm file); an empty file or one that is not a
// database is refused with exit 2 and one line, and stays as it was.
func TestReadOnlyCommandsLeaveSQLiteAlone(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	db, err := sql.Open("sqlite", "file:"+foreign+"?_pragma=journal_mode(DELETE)")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`CREATE TABLE notes (id integer PRIMARY KEY, body text)`, `INSERT INTO notes (body) VALUES ('mine')`} {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if err := os.WriteFile(filepath.Join(dir, "empty.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "text.db"), []byte("not a database, just text that is long enough to have a header of sorts\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := dirState(t, dir)
	logDir, filesRoot := t.TempDir(), t.TempDir()
	for _, cmd := range [][]string{{"integrity", "--no-files"}, {"resilience", "--files-root", filesRoot}} {
		t.Run(cmd[0], func(t *testing.T) {
			r := runCLI(t, runOpts{}, append(cmd, "--db", "sqlite:"+foreign, "--log-dir", logDir)...)
			if r.Code == ExitOK {
				t.Errorf("foreign database: exit 0; its checks cannot all have run (stderr %q)", r.Stderr)
			}
			for _, name := range []string{"empty.db", "text.db"} {
				r := runCLI(t, runOpts{}, append(cmd, "--db", "sqlite:"+filepath.Join(dir, name), "--log-dir", logDir)...)
				if r.Code != ExitUsage || r.Stdout != "" || strings.Count(r.Stderr, "\n") != 1 || !strings.HasPrefix(r.Stderr, "ip2adb: ") {
					t.Errorf("%s: exit %d, stdout %q, stderr %q; want 2 and one line", name, r.Code, r.Stdout, r.Stderr)
				}
			}
			if diff := cmp.Diff(before, dirState(t, dir)); diff != "" {
				t.Errorf("a read-only command changed the database directory (-before +after):\n%s", diff)
			}
		})
	}
}

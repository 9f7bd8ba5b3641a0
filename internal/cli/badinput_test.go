package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
)

// TestBadInputOneLineExit2 runs every command with input it must refuse and
// asserts the contract: exactly one line on stderr, nothing on stdout,
// exit 2, no secret shown and nothing created.
func TestBadInputOneLineExit2(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	unreachable := "postgres://ip2a:hunter2@127.0.0.1:1/ip2a"
	noFile := "sqlite:" + filepath.Join(dir, "none.db")
	// A database that opens, so that refusing depends on the flag alone.
	good := testdb.SQLiteURL(t, testdb.WithSchema())
	goodDB, err := dbx.Open(context.Background(), good, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { goodDB.Close() })
	before := testdb.Digests(t, goodDB)
	var cases [][]string
	for _, cmd := range [][]string{
		{"integrity"}, {"integrity", "--repair"}, {"auto-heal"}, {"resilience"},
		{"undo", "AH-20261128T020000Z-0000"}, {"reset", "--force"}, {"seed", "--quick"}, {"demo"},
	} {
		cases = append(cases,
			append(append([]string{}, cmd...), "--db", unreachable),
			append(append([]string{}, cmd...), "--db", "mysql://root@localhost/ip2a"),
			append(append([]string{}, cmd...), "--db", "sqlite:"+filepath.Join(missing, "x.db")),
			append(append([]string{}, cmd...), "--format", "yaml"),
			append(append([]string{}, cmd...), "--bogus-flag"),
		)
		if cmd[0] != "seed" && cmd[0] != "demo" {
			cases = append(cases, append(append([]string{}, cmd...), "--db", noFile))
		}
	}
	cases = append(cases,
		[]string{"integrity", "--db", noFile, "--files-root", missing},
		[]string{"notify-test", "--notify", "ftp://example.org/x"},
		[]string{"seed", "--db", noFile, "--members", "-5"},
		[]string{"seed", "--db", noFile, "--profile", "huge"},
		[]string{"seed", "--db", noFile, "--files-dir", missing},
		// Values that parse but make no sense (issue 13, item 9).
		[]string{"resilience", "--db", good, "--disk-warn", "NaN"},
		[]string{"resilience", "--db", good, "--disk-critical", "NaN"},
		[]string{"resilience", "--db", good, "--disk-warn", "150"},
		[]string{"resilience", "--db", good, "--forecast-warn-days", "NaN"},
		[]string{"resilience", "--db", good, "--workers", "2000000"},
		[]string{"resilience", "--db", good, "--uploads-dir", "/etc"},
		[]string{"resilience", "--db", good, "--uploads-dir", "../elsewhere"},
		[]string{"seed", "--db", noFile, "--file-scale", "NaN"},
		[]string{"seed", "--db", noFile, "--file-scale", "Inf"},
		[]string{"history", "--log-dir", missing, "--days", "106752"},
		[]string{"auto-heal", "--summary", "--log-dir", missing, "--days", "106752"},
		[]string{"notify-test", "--log-dir", missing, "--notify", "https://hooks.example.org:99999/in"},
		[]string{"auto-heal", "--db", good, "--no-files", "--notify", "https://hooks.example.org:99999/in"},
	)
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runCLI(t, runOpts{}, args...)
			if r.Code != ExitUsage {
				t.Errorf("exit %d, want 2 (stderr %q)", r.Code, r.Stderr)
			}
			if r.Stdout != "" {
				t.Errorf("stdout %q, want nothing", r.Stdout)
			}
			if n := strings.Count(r.Stderr, "\n"); n != 1 || !strings.HasPrefix(r.Stderr, "ip2adb: ") {
				t.Errorf("stderr %q: want exactly one line starting with \"ip2adb: \"", r.Stderr)
			}
			if strings.Contains(r.Stderr, "hunter2") {
				t.Errorf("stderr leaks the password: %q", r.Stderr)
			}
		})
	}
	if diff := cmp.Diff(before, testdb.Digests(t, goodDB)); diff != "" {
		t.Errorf("bad input changed the database (-before +after):\n%s", diff)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("bad input created %v", entries)
	}
}

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInputOneLineExit2 runs every command with input it must refuse and
// asserts the contract: exactly one line on stderr, nothing on stdout,
// exit 2, no secret shown and nothing created.
func TestBadInputOneLineExit2(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	unreachable := "postgres://ip2a:hunter2@127.0.0.1:1/ip2a"
	noFile := "sqlite:" + filepath.Join(dir, "none.db")
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
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("bad input created %v", entries)
	}
}

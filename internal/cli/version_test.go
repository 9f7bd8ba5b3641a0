package cli

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestVersion: version honours --format (before or after the command) like
// every other command: one JSON object on stdout with --format json, and a
// bad format is a usage error.
func TestVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want result
	}{
		{"text", []string{"version"}, result{ExitOK, "ip2adb devel\n", ""}},
		{"json after", []string{"version", "--format", "json"}, result{ExitOK, "{\n  \"version\": \"devel\"\n}\n", ""}},
		{"json before", []string{"--format", "json", "version"}, result{ExitOK, "{\n  \"version\": \"devel\"\n}\n", ""}},
		{"bad format", []string{"version", "--format", "yaml"}, result{ExitUsage, "", "ip2adb: unknown format \"yaml\" (want text or json)\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, runCLI(t, runOpts{}, tc.args...)); diff != "" {
				t.Errorf("ip2adb %v (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

// TestStrayArguments: a command that takes no arguments refuses one (exit 2,
// nothing done) instead of running and ignoring the flags that follow it —
// urfave/cli stops parsing flags at the first argument.
func TestStrayArguments(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + dir + "/x.db"
	for _, args := range [][]string{
		{"version", "now"},
		{"seed", "quick", "--db", db},
		{"integrity", "now", "--no-files", "--db", db},
		{"reset", "all", "--force", "--db", db},
		{"demo", "now", "--db", db},
		{"resilience", "now", "--db", db},
		{"history", "now", "--db", db},
		{"notify-test", "now", "--db", db},
		{"auto-heal", "now", "--db", db},
	} {
		want := result{ExitUsage, "", "ip2adb: " + args[0] + " takes no arguments, got \"" + args[1] + "\"\n"}
		if diff := cmp.Diff(want, runCLI(t, runOpts{}, args...)); diff != "" {
			t.Errorf("ip2adb %v (-want +got):\n%s", args, diff)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("stray arguments created %v", entries)
	}
}

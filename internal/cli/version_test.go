package cli

import (
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

package testdb

import (
	"os"
	"os/exec"
	"testing"
)

// Tool returns the path of the external program name (promtool,
// chromium …). When it is not installed the test is skipped on a
// developer's machine but fails when the CI environment variable is set:
// CI never skips.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not installed (CI is set, so this fails; .ci/run installs it): %v", name, err)
		}
		tb.Skipf("%s is not installed: %v", name, err)
	}
	return p
}

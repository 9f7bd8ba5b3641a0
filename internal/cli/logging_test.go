package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestVerboseLogLevels: --verbose shows the library's V(1) progress as
// level=DEBUG (not slog's "DEBUG+3"); without it only errors.
func TestVerboseLogLevels(t *testing.T) {
	for _, tc := range []struct {
		verbose bool
		want    []string
	}{
		{true, []string{"level=DEBUG msg=progress n=1", "level=ERROR msg=careful"}},
		{false, []string{"level=ERROR msg=careful"}},
	} {
		var buf bytes.Buffer
		a := &app{env: Env{Stderr: &buf}}
		log := a.logger(Globals{Verbose: tc.verbose})
		log.V(1).Info("progress", "n", 1)
		log.Error(nil, "careful")
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			_, rest, _ := strings.Cut(line, " ") // drop time=…
			got = append(got, rest)
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("verbose %v: log lines %q, want %q", tc.verbose, got, tc.want)
		}
	}
}

// TestGlobalFlagPlaceholders: the help names what --env and --format take.
func TestGlobalFlagPlaceholders(t *testing.T) {
	r := runCLI(t, runOpts{}, "integrity", "--help")
	for _, want := range []string{"--env NAME ", "--format FORMAT "} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("integrity --help lacks %q", want)
		}
	}
}

package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// result is what one in-process run of the command line produced.
type result struct {
	Code           int
	Stdout, Stderr string
}

// runOpts tune runCLI.
type runOpts struct {
	env   map[string]string
	stdin string
	now   time.Time
	tty   bool // stdin and stderr are terminals
}

// runCLI runs the command line in-process with an empty environment (plus
// o.env) and returns its exit code and output.
func runCLI(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	now := o.now
	if now.IsZero() {
		now = time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	}
	code := Run(context.Background(), args, Env{
		Stdin:     strings.NewReader(o.stdin),
		Stdout:    &out,
		Stderr:    &errb,
		Getenv:    func(k string) string { return o.env[k] },
		Now:       func() time.Time { return now },
		StdinTTY:  o.tty,
		StderrTTY: o.tty,
	})
	return result{code, out.String(), errb.String()}
}

func TestUnknownCommandAndFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"bogus"}, `ip2adb: unknown command "bogus" (see ip2adb --help)` + "\n"},
		{"unknown global flag", []string{"--nope"}, "ip2adb: flag provided but not defined: -nope\n"},
		{"unknown command flag", []string{"version", "--nope"}, "ip2adb: flag provided but not defined: -nope\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, runOpts{}, tc.args...)
			if r.Code != ExitUsage || r.Stderr != tc.want || r.Stdout != "" {
				t.Errorf("got code %d stdout %q stderr %q; want 2, %q", r.Code, r.Stdout, r.Stderr, tc.want)
			}
		})
	}
}

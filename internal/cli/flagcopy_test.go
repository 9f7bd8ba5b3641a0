package cli

import (
	"strings"
	"sync"
	"testing"
)

// TestConcurrentRuns runs the command several times at once, as the
// service tests and a program embedding two commands do: under -race it
// fails when two runs write to urfave/cli's shared help or version flag.
func TestConcurrentRuns(t *testing.T) {
	var wg sync.WaitGroup
	results := make([]result, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"--version"}
			if i%2 == 1 {
				args = []string{"history", "--help"}
			}
			results[i] = runCLI(t, runOpts{}, args...)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != 0 || r.Stdout == "" {
			t.Errorf("run %d: exit %d, stdout %q, stderr %q", i, r.Code, r.Stdout, r.Stderr)
		}
		if i%2 == 1 && !strings.Contains(r.Stdout, "history") {
			t.Errorf("run %d: help does not name the command:\n%s", i, r.Stdout)
		}
	}
}

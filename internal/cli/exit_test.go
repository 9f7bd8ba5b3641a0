package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/notify"
	"github.com/ip2adb/ip2adb/resilience"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/ip2adb/ip2adb/service"
)

// TestExitStatus pins the one mapping of errors to exit codes and lines:
// the library's typed errors, also wrapped, are read back with errors.As.
func TestExitStatus(t *testing.T) {
	type status struct {
		Code int
		Msg  string
	}
	boom := errors.New("boom")
	schema := &integrity.SchemaError{Tables: []string{"members"}}
	for _, tc := range []struct {
		err  error
		want status
	}{
		{nil, status{ExitOK, ""}},
		{boom, status{ExitCritical, "boom"}},
		{fmt.Errorf("auto-heal: %w", boom), status{ExitCritical, "auto-heal: boom"}},
		{exitCode(ExitCritical), status{ExitCritical, ""}},
		{exitError{code: ExitCritical, msg: "reset aborted"}, status{ExitCritical, "reset aborted"}},
		{usagef("--days must be between 1 and %d, not %d", 36500, 0), status{ExitUsage, "--days must be between 1 and 36500, not 0"}},
		{&dbx.ConfigError{Err: boom}, status{ExitUsage, "boom"}},
		{fmt.Errorf("integrity --repair: %w", schema), status{ExitUsage, "integrity --repair: " + schema.Error()}},
		{&heal.UnknownRunError{RunID: "AH-x"}, status{ExitUsage, (&heal.UnknownRunError{RunID: "AH-x"}).Error()}},
		{&heal.LogDirError{Dir: "logs", Err: errors.New("log dir logs is not writable")}, status{ExitUsage, "log dir logs is not writable"}},
		{&ip2adb.FormatError{Format: "yaml"}, status{ExitUsage, `unknown format "yaml" (want text or json)`}},
		{&seed.OptionsError{Err: errors.New("members must be positive")}, status{ExitUsage, "members must be positive"}},
		{&notify.ConfigError{Err: errors.New("notify URL #1: slack: the webhook URL has no host")}, status{ExitUsage, "notify URL #1: slack: the webhook URL has no host"}},
		{&resilience.OptionsError{Err: errors.New("workers must not be negative")}, status{ExitUsage, "workers must not be negative"}},
		{&service.ConfigError{Err: errors.New("the auth token must be at least 16 characters")}, status{ExitUsage, "the auth token must be at least 16 characters"}},
		{&heal.ConflictError{RunID: "AH-1", Rows: 1, Examples: []string{"members#2"}},
			status{ExitCritical, "cannot undo AH-1: 1 row(s) changed after the run (members#2); nothing was changed (--force restores them anyway)"}},
		{&heal.BlockedError{RunID: "AH-1", Blocked: []heal.BlockedRows{{Table: "member_employments", Rows: 2, Constraint: "fk_member"}}},
			status{ExitCritical, "cannot undo AH-1: restoring would violate constraints (2 row(s) of member_employments by constraint fk_member); nothing was changed — restore the parents first, then undo again (--skip-blocked restores the rest now)"}},
	} {
		code, msg := exitStatus(tc.err)
		if diff := cmp.Diff(tc.want, status{code, msg}); diff != "" {
			t.Errorf("exitStatus(%v) (-want +got):\n%s", tc.err, diff)
		}
	}
}

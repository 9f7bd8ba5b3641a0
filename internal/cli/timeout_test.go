package cli

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/testdb"
)

// TestRepairGivesUpOnARowLockHeldElsewhere: an application session holds
// SELECT … FOR UPDATE on a row a repair updates. With a lock timeout the
// run fails cleanly — exit 1, rolled back, recorded as failed — instead of
// waiting for ever; the timeout comes from the flag or the environment.
func TestRepairGivesUpOnARowLockHeldElsewhere(t *testing.T) {
	url := testdb.PostgresURL(t, testdb.WithSchema())
	db := healFaults(t, url)
	before := testdb.Digests(t, db)
	locker, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { locker.Rollback() })
	if _, err := locker.Exec(`SELECT id FROM file_attachments WHERE id = 2 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"auto-heal flag", []string{"auto-heal", "--no-files", "--lock-timeout", "200ms", "--format", "json"}, nil},
		{"auto-heal env", []string{"auto-heal", "--no-files"}, map[string]string{"IP2ADB_LOCK_TIMEOUT": "200ms"}},
		{"integrity --repair", []string{"integrity", "--repair", "--no-files", "--lock-timeout", "200ms"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logDir := t.TempDir()
			r := runCLI(t, runOpts{env: tc.env}, append(tc.args, "--db", url, "--log-dir", logDir)...)
			if r.Code != ExitCritical || r.Stdout != "" || !strings.Contains(r.Stderr, "canceling statement due to lock timeout") {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and the lock timeout", r.Code, r.Stdout, r.Stderr)
			}
			if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
				t.Errorf("the run that gave up changed the database:\n%s", diff)
			}
			if tc.args[0] == "auto-heal" {
				recs, err := heal.Records(logDir, runNow.Add(-24*60*60e9))
				if err != nil || len(recs) != 1 || recs[0].Success {
					t.Errorf("history %+v (%v): want one failed run", recs, err)
				}
			}
		})
	}
	// Once the application lets go, the next run repairs.
	if err := locker.Rollback(); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, runOpts{}, "auto-heal", "--no-files", "--lock-timeout", "200ms", "--db", url, "--log-dir", t.TempDir())
	if r.Code == ExitUsage || strings.Contains(r.Stderr, "lock timeout") {
		t.Errorf("run after the lock was released: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// TestTimeoutFlagsBadInput: negative or unparsable timeouts are exit 2.
func TestTimeoutFlagsBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"auto-heal", "--lock-timeout", "-1s"}, nil, "ip2adb: --lock-timeout must not be negative, not -1s\n"},
		{[]string{"undo", "AH-1", "--statement-timeout", "-5m"}, nil, "ip2adb: --statement-timeout must not be negative, not -5m0s\n"},
		{[]string{"integrity", "--repair"}, map[string]string{"IP2ADB_STATEMENT_TIMEOUT": "soon"}, `ip2adb: IP2ADB_STATEMENT_TIMEOUT="soon": want a duration such as 30s or 10m` + "\n"},
	} {
		r := runCLI(t, runOpts{env: tc.env}, append(tc.args, "--db", "sqlite:"+t.TempDir()+"/none.db")...)
		if r.Code != ExitUsage || r.Stderr != tc.want {
			t.Errorf("%v: exit %d, stderr %q; want 2, %q", tc.args, r.Code, r.Stderr, tc.want)
		}
	}
}

package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

func openURL(t *testing.T, url string) *sqlx.DB {
	t.Helper()
	db, err := dbx.Open(context.Background(), url, dbx.OpenOptions{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestSeedAndDemoKeepRowsIPToADBDidNotWrite: on a database holding rows
// that no seed wrote, seed and demo exit 2 with one line and change
// nothing, unless --force or the typed confirmation on a terminal.
func TestSeedAndDemoKeepRowsIPToADBDidNotWrite(t *testing.T) {
	testdb.EachURL(t, func(t *testing.T, url string) {
		db := openURL(t, url)
		testdb.MustExec(t, db, "INSERT INTO members (id, member_number, first_name, last_name) VALUES (1, '7000001', 'Ann', 'Lee')")
		testdb.MustExec(t, db, "INSERT INTO organizations (id, name, org_type) VALUES (4, 'Acme Electric', 'employer')")
		before := testdb.Digests(t, db)
		const want = "ip2adb: refusing to %s: the database holds 2 rows that ip2adb did not write (organizations: 1, members: 1); seeding would erase them; pass --force to replace them\n"
		for _, tc := range []struct {
			name string
			o    runOpts
			args []string
			code int
			err  string
		}{
			{"seed", runOpts{}, []string{"seed", "--quick"}, ExitUsage, strings.Replace(want, "%s", "seed", 1)},
			{"demo", runOpts{}, []string{"demo", "--files-root", t.TempDir(), "--log-dir", t.TempDir()}, ExitUsage, strings.Replace(want, "%s", "demo", 1)},
			{"seed, wrong confirmation", runOpts{tty: true, stdin: "yes\n"}, []string{"seed", "--quick"}, ExitCritical, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := runCLI(t, tc.o, append(tc.args, "--db", url)...)
				if r.Code != tc.code || r.Stdout != "" {
					t.Errorf("exit %d, stdout %q; want %d and nothing", r.Code, r.Stdout, tc.code)
				}
				// The header line, then the error on one line.
				if lines := strings.SplitAfter(r.Stderr, "\n"); tc.err != "" && (len(lines) != 3 || lines[1] != tc.err) {
					t.Errorf("stderr %q; want the header and %q", r.Stderr, tc.err)
				}
				if tc.err == "" && !strings.HasSuffix(r.Stderr, "ip2adb: seed aborted: confirmation did not match; nothing changed\n") {
					t.Errorf("stderr %q; want the prompt, then the abort", r.Stderr)
				}
				if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
					t.Errorf("a refused run changed the database (-before +after):\n%s", diff)
				}
			})
		}
		// The typed confirmation replaces them; a second seed needs none:
		// the seed marker accounts for every row.
		if r := runCLI(t, runOpts{tty: true, stdin: "DELETE ALL DATA\n"}, "seed", "--quick", "--db", url); r.Code != ExitOK {
			t.Fatalf("confirmed seed: exit %d\nstderr: %s", r.Code, r.Stderr)
		}
		if got := testdb.Count(t, db, "members", "member_number = '7000001' AND first_name = 'Ann'"); got != 0 {
			t.Errorf("the foreign member is still there after a confirmed seed")
		}
		if r := runCLI(t, runOpts{}, "seed", "--quick", "--db", url); r.Code != ExitOK {
			t.Fatalf("second seed: exit %d\nstderr: %s", r.Code, r.Stderr)
		}
		testdb.MustExec(t, db, "INSERT INTO members (member_number, first_name, last_name) VALUES ('X-1', 'Bo', 'Kim')")
		if r := runCLI(t, runOpts{}, "seed", "--quick", "--db", url); r.Code != ExitUsage {
			t.Errorf("seed over an added row: exit %d; want 2\nstderr: %s", r.Code, r.Stderr)
		}
		if r := runCLI(t, runOpts{}, "seed", "--quick", "--force", "--db", url); r.Code != ExitOK {
			t.Errorf("seed --force: exit %d\nstderr: %s", r.Code, r.Stderr)
		}
	}, testdb.WithSchema())
}

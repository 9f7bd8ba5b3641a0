package dbtest_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/dbtest"
	"github.com/jmoiron/sqlx"
)

func TestEach(t *testing.T) {
	var seen []string
	dbtest.Each(t, func(t *testing.T, db *sqlx.DB) {
		seen = append(seen, db.DriverName())
		dbtest.Exec(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`)
		dbtest.Exec(t, db, `INSERT INTO t (id, v) VALUES (?, ?), (?, ?)`, 1, "a", 2, "b")
		if n := dbtest.Count(t, db, "t", "v = ?", "b"); n != 1 {
			t.Errorf("Count = %d, want 1", n)
		}
	})
	if d := cmp.Diff([]string{"postgres", "sqlite"}, seen); d != "" {
		t.Errorf("drivers (-want +got):\n%s", d)
	}
	// Each database is new: the table above is gone.
	dbtest.EachURL(t, func(t *testing.T, url string) {
		db := dbtest.Open(t, url)
		table, where := "information_schema.tables", "table_schema = 'public'"
		if strings.HasPrefix(url, "sqlite:") {
			table, where = "sqlite_master", ""
		}
		if n := dbtest.Count(t, db, table, where); n != 0 {
			t.Errorf("a fresh database holds %d tables", n)
		}
	})
}

// recorder is a testing.TB that records how a helper ended.
type recorder struct {
	testing.TB
	ended string
}

func (r *recorder) Helper()        {}
func (r *recorder) Cleanup(func()) {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.ended = "fatal: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) {
	r.ended = "skip: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestUnreachable: a test skips when PostgreSQL is unreachable, but fails
// under CI; the message never shows the password.
func TestUnreachable(t *testing.T) {
	for _, tc := range []struct{ ci, want string }{
		{"", "skip: PostgreSQL unreachable at postgres://postgres:<redacted>@127.0.0.1:1/postgres?connect_timeout=1&sslmode=disable: "},
		{"true", "fatal: PostgreSQL unreachable at postgres://postgres:<redacted>@127.0.0.1:1/postgres?connect_timeout=1&sslmode=disable (CI is set, so this fails): "},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("IP2ADB_TEST_PG", "postgres://postgres:s3cret@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=1")
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				dbtest.PostgresURL(r)
			}()
			<-done
			if !strings.HasPrefix(r.ended, tc.want) || strings.Contains(r.ended, "s3cret") {
				t.Errorf("ended with %q, want %q…", r.ended, tc.want)
			}
		})
	}
}

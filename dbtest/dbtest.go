// Package dbtest gives tests a fresh database of their own, for code built
// on ip2adb's packages: a new PostgreSQL database (dropped when the test
// ends) or a new SQLite file in the test's temp directory. [Each] runs a
// test on both.
//
// The PostgreSQL server is IP2ADB_TEST_PG, by default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable; the role
// must be allowed to create databases. When the server is unreachable a
// test is skipped on a developer's machine but fails when the CI
// environment variable is set: CI never skips.
//
// Importing dbtest registers both SQL drivers (through dburl/postgres and
// dburl/sqlite); it is meant for tests only.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ip2adb/ip2adb/dburl"
	_ "github.com/ip2adb/ip2adb/dburl/postgres" // tests open both databases
	_ "github.com/ip2adb/ip2adb/dburl/sqlite"
	"github.com/jmoiron/sqlx"
)

// DefaultServerURL is the test PostgreSQL server when IP2ADB_TEST_PG is
// not set.
const DefaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL is the maintenance URL of the test PostgreSQL server:
// IP2ADB_TEST_PG, else DefaultServerURL.
func ServerURL() string {
	if u := os.Getenv("IP2ADB_TEST_PG"); u != "" {
		return u
	}
	return DefaultServerURL
}

// PostgresURL creates a fresh, empty PostgreSQL database and returns its
// URL; the database is dropped when the test ends.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	admin, err := sqlx.Open("postgres", ServerURL())
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = admin.PingContext(pctx)
		cancel()
	}
	if err != nil {
		if admin != nil {
			admin.Close()
		}
		if os.Getenv("CI") != "" {
			tb.Fatalf("PostgreSQL unreachable at %s (CI is set, so this fails): %v", dburl.Redact(ServerURL()), err)
		}
		tb.Skipf("PostgreSQL unreachable at %s: %v", dburl.Redact(ServerURL()), err)
	}
	defer admin.Close()
	name := "ip2adb_test_" + randomHex(6)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		a, err := sqlx.Open("postgres", ServerURL())
		if err != nil {
			return
		}
		defer a.Close()
		if _, err := a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			tb.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(ServerURL())
	if err != nil {
		tb.Fatalf("IP2ADB_TEST_PG does not parse as a URL")
	}
	u.Path = "/" + name
	return u.String()
}

// Postgres returns a handle on a fresh, empty PostgreSQL database, closed
// and dropped when the test ends.
func Postgres(tb testing.TB) *sqlx.DB {
	tb.Helper()
	return Open(tb, PostgresURL(tb))
}

// SQLiteURL creates an empty SQLite database file in the test's temp
// directory and returns its URL (sqlite:PATH).
func SQLiteURL(tb testing.TB) string {
	tb.Helper()
	raw := "sqlite:" + filepath.Join(tb.TempDir(), "test.db")
	db, err := dburl.Open(context.Background(), raw, dburl.WithCreate())
	if err != nil {
		tb.Fatalf("create sqlite database: %v", err)
	}
	db.Close()
	return raw
}

// SQLite returns a handle on a fresh, empty SQLite database file, closed
// when the test ends.
func SQLite(tb testing.TB) *sqlx.DB {
	tb.Helper()
	return Open(tb, SQLiteURL(tb))
}

// Open opens rawURL with dburl.Open (creating a missing SQLite file) and
// closes the handle when the test ends.
func Open(tb testing.TB, rawURL string) *sqlx.DB {
	tb.Helper()
	db, err := dburl.Open(context.Background(), rawURL, dburl.WithCreate())
	if err != nil {
		tb.Fatalf("open %s: %v", dburl.Redact(rawURL), err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Each runs fn as two subtests, "postgres" and "sqlite", each with a fresh,
// empty database.
func Each(t *testing.T, fn func(t *testing.T, db *sqlx.DB)) {
	t.Helper()
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
}

// EachURL is Each for tests that need a database URL.
func EachURL(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	t.Run("postgres", func(t *testing.T) { fn(t, PostgresURL(t)) })
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLiteURL(t)) })
}

// Exec runs statements on db, failing the test on error. "?" placeholders
// are rebound for the database's driver.
func Exec(tb testing.TB, db *sqlx.DB, query string, args ...any) {
	tb.Helper()
	if _, err := db.Exec(db.Rebind(query), args...); err != nil {
		tb.Fatalf("exec %q: %v", query, err)
	}
}

// Count returns SELECT count(*) FROM table [WHERE where], failing the test
// on error. "?" placeholders in where are rebound.
func Count(tb testing.TB, db *sqlx.DB, table, where string, args ...any) int {
	tb.Helper()
	q := "SELECT count(*) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	var n int
	if err := db.Get(&n, db.Rebind(q), args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return n
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

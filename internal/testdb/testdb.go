// Package testdb gives tests a fresh database of their own: a new PostgreSQL
// database on 127.0.0.1:5432 (dropped in t.Cleanup) or a temp-file SQLite
// database, optionally with the IP2A schema applied. It builds on the
// public dbtest package (which examples use) and adds the IP2A schemas,
// replica writes and digests.
//
// When PostgreSQL is unreachable the test is skipped on a developer's
// machine, but fails when the CI environment variable is set: CI never skips.
// IP2ADB_TEST_PG overrides the server URL (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable).
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ip2adb/ip2adb/dbtest"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/ip2a/schema"
	"github.com/jmoiron/sqlx"
)

// ServerURL is the maintenance URL of the test PostgreSQL server (see
// dbtest.ServerURL).
func ServerURL() string { return dbtest.ServerURL() }

// Option changes what a helper prepares.
type Option func(*options)

type options struct{ schema, real bool }

// WithSchema applies the IP2A schema to the new database.
func WithSchema() Option { return func(o *options) { o.schema = true } }

// WithRealSchema loads the real IP2A schema (ip2a-real-schema.sql, the
// schema the original system's migrations build: enum types, foreign keys,
// NOT NULL and unique constraints) into the new database, with one
// multi-statement Exec. PostgreSQL only: a SQLite helper given it fails the
// test.
func WithRealSchema() Option { return func(o *options) { o.real = true } }

// RealSchemaFile returns the path of ip2a-real-schema.sql: the first
// shared/reference/ip2a-real-schema.sql found walking up from the working
// directory (a test's package directory), so that it is found both in a
// checkout beside shared/ and in CI's clone. The test fails when there is
// none.
func RealSchemaFile(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("real schema: %v", err)
	}
	for {
		p := filepath.Join(dir, "shared", "reference", "ip2a-real-schema.sql")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("real schema: no shared/reference/ip2a-real-schema.sql above the working directory")
		}
		dir = parent
	}
}

// LoadRealSchema loads ip2a-real-schema.sql into db (PostgreSQL) with one
// multi-statement Exec on a connection of its own, then resets that
// connection's settings (the dump empties its search_path).
func LoadRealSchema(tb testing.TB, db *sqlx.DB) {
	tb.Helper()
	if dbx.DialectOf(db) != dbx.Postgres {
		tb.Fatalf("the real IP2A schema is a PostgreSQL schema; this database is %s", dbx.DialectOf(db))
	}
	script, err := os.ReadFile(RealSchemaFile(tb))
	if err != nil {
		tb.Fatalf("real schema: %v", err)
	}
	ctx := context.Background()
	conn, err := db.Connx(ctx)
	if err != nil {
		tb.Fatalf("real schema: %v", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, string(script)+"\n;RESET ALL;"); err != nil {
		tb.Fatalf("load real schema: %v", err)
	}
}

// RealPostgres returns a handle on a fresh PostgreSQL database holding the
// real IP2A schema (see [WithRealSchema]), closed and dropped when the test
// ends.
func RealPostgres(tb testing.TB) *sqlx.DB {
	tb.Helper()
	return Postgres(tb, WithRealSchema())
}

// RealPostgresURL is RealPostgres for tests that need a URL (CLI tests).
func RealPostgresURL(tb testing.TB) string {
	tb.Helper()
	return PostgresURL(tb, WithRealSchema())
}

// MustExecReplica runs statements on db (PostgreSQL) in one transaction
// with session_replication_role = replica, which skips foreign key
// triggers: the way a bulk import or a restore leaves orphans behind real
// foreign keys. "?" placeholders are rebound.
func MustExecReplica(tb testing.TB, db *sqlx.DB, query string, args ...any) {
	tb.Helper()
	tx, err := db.Beginx()
	if err != nil {
		tb.Fatalf("begin: %v", err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("SET LOCAL session_replication_role = replica"); err != nil {
		tb.Fatalf("set session_replication_role: %v", err)
	}
	if _, err := tx.Exec(dbx.Postgres.Rebind(query), args...); err != nil {
		tb.Fatalf("exec %q: %v", query, err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatalf("commit: %v", err)
	}
}

// PostgresURL creates a fresh PostgreSQL database (dbtest.PostgresURL:
// skipped when the server is unreachable, failed under CI), prepares it
// with opts and returns its URL; the database is dropped when the test
// ends.
func PostgresURL(tb testing.TB, opts ...Option) string {
	tb.Helper()
	raw := dbtest.PostgresURL(tb)
	if len(opts) > 0 {
		db := open(tb, raw)
		prepare(tb, db, opts)
		db.Close()
	}
	return raw
}

// Postgres returns a handle on a fresh PostgreSQL database, closed and
// dropped when the test ends.
func Postgres(tb testing.TB, opts ...Option) *sqlx.DB {
	tb.Helper()
	db := open(tb, PostgresURL(tb))
	prepare(tb, db, opts)
	return db
}

// SQLiteURL returns the URL of a new SQLite file in a temp directory.
func SQLiteURL(tb testing.TB, opts ...Option) string {
	tb.Helper()
	raw := dbtest.SQLiteURL(tb)
	if len(opts) > 0 {
		db := open(tb, raw)
		prepare(tb, db, opts)
		db.Close()
	}
	return raw
}

// SQLite returns a handle on a fresh temp-file SQLite database.
func SQLite(tb testing.TB, opts ...Option) *sqlx.DB {
	tb.Helper()
	return open(tb, SQLiteURL(tb, opts...))
}

// Each runs fn as two subtests, "postgres" and "sqlite", each with a fresh
// database prepared with opts.
func Each(t *testing.T, fn func(t *testing.T, db *sqlx.DB), opts ...Option) {
	t.Helper()
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, opts...)) })
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, opts...)) })
}

// EachURL is Each for tests that need a database URL (CLI tests).
func EachURL(t *testing.T, fn func(t *testing.T, url string), opts ...Option) {
	t.Helper()
	t.Run("postgres", func(t *testing.T) { fn(t, PostgresURL(t, opts...)) })
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLiteURL(t, opts...)) })
}

func open(tb testing.TB, raw string) *sqlx.DB {
	tb.Helper()
	return dbtest.Open(tb, raw)
}

func prepare(tb testing.TB, db *sqlx.DB, opts []Option) {
	tb.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.real {
		LoadRealSchema(tb, db)
	}
	if o.schema {
		if err := schema.Apply(context.Background(), db); err != nil {
			tb.Fatalf("apply schema: %v", err)
		}
	}
}

// MustExec runs statements on db, failing the test on error. "?" placeholders
// are rebound for the dialect.
func MustExec(tb testing.TB, db *sqlx.DB, query string, args ...any) {
	tb.Helper()
	dbtest.Exec(tb, db, query, args...)
}

// Count returns SELECT count(*) FROM table [WHERE where] (dbtest.Count).
func Count(tb testing.TB, db *sqlx.DB, table, where string, args ...any) int {
	tb.Helper()
	return dbtest.Count(tb, db, table, where, args...)
}

// Digests hashes every IP2A table (all rows, ordered by id), for asserting
// that a run changed nothing: compare the maps before and after with
// cmp.Diff. The hashes compare one database with itself, not PostgreSQL
// with SQLite.
func Digests(tb testing.TB, db *sqlx.DB) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, table := range schema.Tables() {
		out[table] = Digest(tb, db, table)
	}
	return out
}

// Digest hashes the rows of table, ordered by id, leaving out the rows
// whose id is in except.
func Digest(tb testing.TB, db *sqlx.DB, table string, except ...int64) string {
	tb.Helper()
	q := "SELECT * FROM " + table
	if len(except) > 0 {
		var ids []string
		for _, id := range except {
			ids = append(ids, fmt.Sprint(id))
		}
		q += " WHERE id NOT IN (" + strings.Join(ids, ",") + ")"
	}
	rows, err := db.Queryx(q + " ORDER BY id")
	if err != nil {
		tb.Fatalf("digest %s: %v", table, err)
	}
	defer rows.Close()
	h := sha256.New()
	for rows.Next() {
		vals, err := rows.SliceScan()
		if err != nil {
			tb.Fatalf("digest %s: %v", table, err)
		}
		for _, v := range vals {
			switch x := v.(type) {
			case []byte:
				fmt.Fprintf(h, "bytes:%q|", x)
			case time.Time:
				fmt.Fprintf(h, "time:%s|", x.UTC().Format(time.RFC3339Nano))
			default:
				fmt.Fprintf(h, "%T:%v|", x, x)
			}
		}
		h.Write([]byte("\n"))
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("digest %s: %v", table, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// StressOnly skips a stress-scale benchmark unless IP2ADB_BENCH_STRESS=1,
// so that go test ./... stays fast.
func StressOnly(tb testing.TB) {
	tb.Helper()
	if os.Getenv("IP2ADB_BENCH_STRESS") != "1" {
		tb.Skip("stress benchmark; set IP2ADB_BENCH_STRESS=1 to run it")
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

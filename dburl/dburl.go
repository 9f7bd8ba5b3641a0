// Package dburl opens the databases ip2adb works on from a URL:
// postgres://… or postgresql://… (PostgreSQL, through lib/pq, which also
// reads the PG* environment variables for what the URL leaves out) and
// sqlite:PATH or sqlite::memory: (SQLite, through modernc.org/sqlite).
//
// The package registers no SQL driver. A command or service registers the
// ones it needs with a blank import of dburl/postgres or dburl/sqlite:
//
//	import (
//		"github.com/ip2adb/ip2adb/dburl"
//		_ "github.com/ip2adb/ip2adb/dburl/postgres"
//	)
//
// Errors never contain a password: use Redact to print a URL.
package dburl

import (
	"context"
	"time"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// ConfigError marks an error in the URL or what it names (a bad URL, a
// missing SQLite file or directory, an unregistered driver, an unreachable
// server), as opposed to a failure while working. Its message names host
// and database but never a password.
type ConfigError = dbx.ConfigError

// UnknownDriverError is returned by CheckDriver for a handle whose driver
// name names no supported dialect.
type UnknownDriverError = dbx.UnknownDriverError

// Dialect names the SQL dialect of a database. Its methods say how the
// dialects differ, for code that writes SQL for both: features only one
// has (Schemas, ServerStatistics, ModifyingCTEs, SessionLocks, …), SQL
// text (Rebind, Quote, Qualify, NotDistinct, …) and the journal's row
// images (RowImage, ColumnsImage, ImageValue, ImageRow).
type Dialect = dbx.Dialect

// ImageRow is a row image read as a row of its table (Dialect.ImageRow).
type ImageRow = dbx.ImageRow

// Setting is one run-time parameter of a transaction (Dialect.SetLocal).
type Setting = dbx.Setting

// ColumnInfo is one column of a table (Dialect.ColumnInfo).
type ColumnInfo = dbx.ColumnInfo

// The supported dialects.
const (
	Postgres = dbx.Postgres
	SQLite   = dbx.SQLite
)

// An Option changes how Open opens a database.
type Option func(*dbx.OpenOptions)

// WithTimeout bounds connecting and the first ping; 10 s by default.
func WithTimeout(d time.Duration) Option {
	return func(o *dbx.OpenOptions) { o.Timeout = d }
}

// WithCreate lets Open create a missing SQLite file. Without it a missing
// file is a ConfigError, so that a typo never leaves an empty database
// behind.
func WithCreate() Option {
	return func(o *dbx.OpenOptions) { o.Create = true }
}

// WithReadOnly opens a SQLite file read-only: nothing is written to it, not
// even the switch to WAL. It is ignored with WithCreate and on PostgreSQL
// (use a role with read rights there).
func WithReadOnly() Option {
	return func(o *dbx.OpenOptions) { o.ReadOnly = true }
}

// Open opens and pings the database named by rawURL. A PostgreSQL URL gets
// connect_timeout=10 and, on loopback, sslmode=disable unless it sets them;
// a SQLite file is opened in WAL mode with a busy timeout (read-only with
// WithReadOnly) and must exist unless WithCreate is given. The handle's
// driver name is "postgres" or "sqlite". All errors are *ConfigError.
func Open(ctx context.Context, rawURL string, opts ...Option) (*sqlx.DB, error) {
	var o dbx.OpenOptions
	for _, opt := range opts {
		opt(&o)
	}
	return dbx.Open(ctx, rawURL, o)
}

// Redact returns rawURL with any password, and any query parameter that
// looks like a secret, replaced by <redacted>.
func Redact(rawURL string) string { return dbx.Redact(rawURL) }

// DialectFor returns the dialect of a database/sql driver name: "postgres",
// "pgx" or "pq" for PostgreSQL, "sqlite" for SQLite. Any other name is an
// *UnknownDriverError: ip2adb's packages are never guessed into a dialect.
func DialectFor(driver string) (Dialect, error) { return dbx.DialectFor(driver) }

// CheckDriver returns an *UnknownDriverError when db's driver is not one
// DialectFor knows. ip2adb's entry points (integrity.Run, heal.Cycle.Run,
// heal.Undo, the seed functions) call it first.
func CheckDriver(db interface{ DriverName() string }) error { return dbx.CheckDriver(db) }

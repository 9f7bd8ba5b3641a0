package dbx

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Dialect names the SQL dialect of a database handle. Its methods are the
// one place that knows how the dialects differ: library packages ask for
// what they need (a qualified name, a row image, a lock, a capability such
// as [Dialect.ServerStatistics]) instead of comparing dialects.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DialectOf derives the dialect from a handle's driver name, so a service
// can pass its own *sqlx.DB. A driver DialectFor does not know is taken for
// SQLite: entry points call CheckDriver first, so that such a handle gets
// one clear error instead of SQL syntax errors.
func DialectOf(db interface{ DriverName() string }) Dialect {
	if d, err := DialectFor(db.DriverName()); err == nil {
		return d
	}
	return SQLite
}

// DialectFor returns the dialect of a database/sql driver name: "postgres"
// (lib/pq), "pgx" or "pq" for PostgreSQL, "sqlite" (modernc.org/sqlite) for
// SQLite. Any other name is an *UnknownDriverError.
func DialectFor(driver string) (Dialect, error) {
	switch driver {
	case "postgres", "pgx", "pq":
		return Postgres, nil
	case "sqlite":
		return SQLite, nil
	}
	return "", &UnknownDriverError{Driver: driver}
}

// CheckDriver returns an *UnknownDriverError when db's driver is not one
// DialectFor knows.
func CheckDriver(db interface{ DriverName() string }) error {
	_, err := DialectFor(db.DriverName())
	return err
}

// UnknownDriverError is the error for a database handle whose driver name
// names no supported dialect.
type UnknownDriverError struct {
	// Driver is the handle's driver name.
	Driver string
}

// Error names the driver and the supported ones.
func (e *UnknownDriverError) Error() string {
	msg := fmt.Sprintf("unsupported SQL driver %q: want \"postgres\" or \"pgx\" (PostgreSQL) or \"sqlite\" (modernc.org/sqlite)", e.Driver)
	if e.Driver == "sqlite3" {
		msg += "; the sqlite3 driver (mattn/go-sqlite3) is not supported"
	}
	return msg
}

// Columns lists the columns of table in order; an empty result means the
// table does not exist.
func Columns(ctx context.Context, db sqlx.QueryerContext, d Dialect, table string) ([]string, error) {
	var cols []string
	var err error
	if d == Postgres {
		err = sqlx.SelectContext(ctx, db, &cols, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	} else {
		err = sqlx.SelectContext(ctx, db, &cols, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
	}
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	return cols, nil
}

// TableExists reports whether table exists in the current schema.
func TableExists(ctx context.Context, db sqlx.QueryerContext, d Dialect, table string) (bool, error) {
	cols, err := Columns(ctx, db, d, table)
	return len(cols) > 0, err
}

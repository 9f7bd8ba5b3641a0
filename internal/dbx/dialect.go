package dbx

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// Dialect names the SQL dialect of a database handle.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DialectOf derives the dialect from a handle's driver name, so a service
// can pass its own *sqlx.DB.
func DialectOf(db interface{ DriverName() string }) Dialect {
	switch db.DriverName() {
	case "postgres", "pgx", "pq":
		return Postgres
	}
	return SQLite
}

// Rebind rewrites "?" placeholders for the dialect.
func (d Dialect) Rebind(query string) string {
	if d == Postgres {
		return sqlx.Rebind(sqlx.DOLLAR, query)
	}
	return query
}

// Quote quotes an identifier.
func (d Dialect) Quote(ident string) string {
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}

// Bool renders a boolean literal.
func (d Dialect) Bool(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

// JSONObject renders an expression that builds a JSON text object from the
// named columns of alias (the before-image of a row).
func (d Dialect) JSONObject(alias string, cols []string) string {
	var b strings.Builder
	if d == Postgres {
		return fmt.Sprintf("row_to_json(%s)::text", alias)
	}
	b.WriteString("json_object(")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "'%s', %s.%s", c, alias, d.Quote(c))
	}
	b.WriteString(")")
	return b.String()
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

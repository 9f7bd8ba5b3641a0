package dbx

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// postgres reports whether d is PostgreSQL. Only this package asks; the
// others ask for what they need through the methods below.
func (d Dialect) postgres() bool { return d == Postgres }

// Capabilities: features only one dialect has. A package asks for the
// feature it needs by name, so that what it depends on is said where it
// depends on it.

// Schemas reports whether the database has schemas, so that a table's SQL
// name can be schema.table (PostgreSQL). The tables of a SQLite database
// share one name space; ip2adb tells its own apart there by a prefix.
func (d Dialect) Schemas() bool { return d.postgres() }

// ServerStatistics reports whether the database is a server that keeps
// statistics and state a probe can read: PostgreSQL's pg_stat_* views,
// transaction-ID age, replication, its start time, its settings and
// extensions such as pg_stat_statements. SQLite, a library inside the
// process, keeps none of these.
func (d Dialect) ServerStatistics() bool { return d.postgres() }

// ModifyingCTEs reports whether one statement can change rows and use the
// rows it changed: data-modifying WITH queries with RETURNING, and row
// versions reachable by ctid (PostgreSQL). A repair then changes, journals
// and records its rows in one round trip; on SQLite each of those is a
// statement of its own.
func (d Dialect) ModifyingCTEs() bool { return d.postgres() }

// SessionLocks reports whether the server has advisory locks held by a
// session (pg_try_advisory_lock), which it releases when the session ends,
// even when the process holding them is killed. Such a lock keeps one
// connection of the pool for itself. SQLite has none: a process locks a
// file beside the database instead.
func (d Dialect) SessionLocks() bool { return d.postgres() }

// AlterColumns reports whether ALTER TABLE … ALTER COLUMN changes a column
// in place (PostgreSQL). SQLite cannot: the table is rebuilt instead.
func (d Dialect) AlterColumns() bool { return d.postgres() }

// ScriptInOneQuery reports whether a script of several statements,
// separated by semicolons and sent without arguments, runs as one simple
// query: one round trip, in one implicit transaction (PostgreSQL). On
// SQLite each statement is sent on its own.
func (d Dialect) ScriptInOneQuery() bool { return d.postgres() }

// CostBasedPlanner reports whether the planner picks among join methods
// by estimated cost (PostgreSQL): a join to a derived table or an EXISTS
// anti-join is then cheap, and a query may steer the planner (ordering by
// "id + 0" so that it sorts the few matches instead of walking a whole
// index). SQLite's planner nests loops over indexes: there an IN lookup on
// an index is the cheapest anti-join, and a scan runs in rowid order
// anyway.
func (d Dialect) CostBasedPlanner() bool { return d.postgres() }

// SQL text.

// Rebind rewrites "?" placeholders for the dialect: $1, $2, … on
// PostgreSQL, unchanged on SQLite.
func (d Dialect) Rebind(query string) string {
	if d.postgres() {
		return sqlx.Rebind(sqlx.DOLLAR, query)
	}
	return query
}

// Quote quotes an identifier.
func (d Dialect) Quote(ident string) string {
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}

// Qualify is the SQL name of table in schema: "schema.table" where the
// dialect has schemas ([Dialect.Schemas]), the table alone on SQLite.
// Neither name is quoted: both must be plain identifiers.
func (d Dialect) Qualify(schema, table string) string {
	if d.Schemas() {
		return schema + "." + table
	}
	return table
}

// CreateSchema is the statements that create schema when it is missing:
// CREATE SCHEMA IF NOT EXISTS on PostgreSQL, none on SQLite.
func (d Dialect) CreateSchema(schema string) []string {
	if !d.Schemas() {
		return nil
	}
	return []string{`CREATE SCHEMA IF NOT EXISTS ` + schema}
}

// RowIDKey reports whether an INTEGER PRIMARY KEY column is the table's
// row id (SQLite), which costs no index of its own. On PostgreSQL a
// primary key is an index that every insert writes, so a table that is
// looked up by other columns is better keyed by those columns with the
// serial last.
func (d Dialect) RowIDKey() bool { return !d.postgres() }

// SerialKey is the definition of an auto-numbered integer primary-key
// column: "bigserial PRIMARY KEY" on PostgreSQL, "INTEGER PRIMARY KEY" (the
// rowid) on SQLite.
func (d Dialect) SerialKey() string {
	if d.postgres() {
		return "bigserial PRIMARY KEY"
	}
	return "INTEGER PRIMARY KEY"
}

// NotDistinct is the null-safe equality of the expressions a and b (true
// when both are NULL): "a IS NOT DISTINCT FROM b" on PostgreSQL, "a IS b"
// on SQLite.
func (d Dialect) NotDistinct(a, b string) string {
	if d.postgres() {
		return a + " IS NOT DISTINCT FROM " + b
	}
	return a + " IS " + b
}

// Null is NULL of the SQL type typ where the dialect types it
// ("NULL::bigint" on PostgreSQL, where an untyped NULL in a UNION or a
// RETURNING list is text); plain NULL on SQLite.
func (d Dialect) Null(typ string) string {
	if d.postgres() {
		return "NULL::" + typ
	}
	return "NULL"
}

// BinaryCollation is the text expression expr compared by its bytes, as
// SQLite's default BINARY collation compares: expr COLLATE "C" on
// PostgreSQL, whose default collation follows the locale.
func (d Dialect) BinaryCollation(expr string) string {
	if d.postgres() {
		return expr + ` COLLATE "C"`
	}
	return expr
}

// BlankPrefilter is a cheap condition implied by trim(col) = ” (a value
// of nothing but spaces sorts before '!' byte by byte), for a query to AND
// before the trim where trim copies every value it reads: col COLLATE "C"
// < '!' on PostgreSQL, where it halved a pass over long text columns. ""
// on SQLite, where it was not measured to pay.
func (d Dialect) BlankPrefilter(col string) string {
	if d.postgres() {
		return d.BinaryCollation(col) + " < '!'"
	}
	return ""
}

// IntegerType reports whether a column of the declared type typ (as a
// catalog names it) holds integers: smallint, integer or bigint on
// PostgreSQL (not a domain over one); on SQLite a type of INTEGER affinity,
// whose name contains "INT".
func (d Dialect) IntegerType(typ string) bool {
	t := strings.ToLower(typ)
	if !d.postgres() {
		return strings.Contains(t, "int")
	}
	switch t {
	case "smallint", "integer", "bigint":
		return true
	}
	return false
}

// Truncate empties tables, listed parents first, and restarts their id
// sequences: one TRUNCATE … RESTART IDENTITY on PostgreSQL (which must
// name every table that references one of them); on SQLite a DELETE per
// table, children first, so that a database enforcing foreign keys
// accepts each one.
func (d Dialect) Truncate(ctx context.Context, tx sqlx.ExecerContext, tables []string) error {
	if len(tables) == 0 {
		return nil
	}
	if d.postgres() {
		q := make([]string, len(tables))
		for i, t := range tables {
			q[i] = d.Quote(t)
		}
		if _, err := tx.ExecContext(ctx, "TRUNCATE "+strings.Join(q, ", ")+" RESTART IDENTITY"); err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
		return nil
	}
	for i := len(tables) - 1; i >= 0; i-- {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+d.Quote(tables[i])); err != nil {
			return fmt.Errorf("truncate %s: %w", tables[i], err)
		}
	}
	return nil
}

// Transactions.

// SnapshotIsolation is the isolation level of a transaction whose
// statements must all see the same rows: REPEATABLE READ on PostgreSQL;
// the default on SQLite, where a transaction reads one snapshot and
// writers are serialized anyway.
func (d Dialect) SnapshotIsolation() sql.IsolationLevel {
	if d.postgres() {
		return sql.LevelRepeatableRead
	}
	return sql.LevelDefault
}

// ReadOnlyTx reports whether reading in a read-only transaction pays: on
// PostgreSQL it lets the server skip transaction-ID work and lets
// [Dialect.SetLocal] tune the reads (jit = off); on SQLite a plain query
// reads as well and holds the pool's connection for less time.
func (d Dialect) ReadOnlyTx() bool { return d.postgres() }

// Setting is one run-time parameter of a transaction, for
// [Dialect.SetLocal].
type Setting struct {
	// Name is the parameter, such as "lock_timeout".
	Name string
	// Value is written into SQL as it is: a number or a keyword such as
	// "off", never text from outside the program.
	Value string
}

// SetLocal sets run-time parameters for the rest of transaction tx, in one
// round trip: SET LOCAL statements in one simple-query message on
// PostgreSQL. SQLite has no such parameters (its busy timeout bounds its
// waits); there SetLocal does nothing.
func (d Dialect) SetLocal(ctx context.Context, tx sqlx.ExecerContext, settings ...Setting) error {
	if !d.postgres() || len(settings) == 0 {
		return nil
	}
	stmts := make([]string, len(settings))
	for i, s := range settings {
		// SET takes no parameters; the caller vouches for the value.
		stmts[i] = fmt.Sprintf("SET LOCAL %s = %s", s.Name, s.Value)
	}
	// Without arguments the statements go in one simple-query message.
	if _, err := tx.ExecContext(ctx, strings.Join(stmts, "; ")); err != nil {
		return fmt.Errorf("set %s: %w", strings.Join(stmts, ", "), err)
	}
	return nil
}

// TxLock waits for the transaction-scoped advisory lock key and holds it
// until tx ends, so that transactions creating the same objects run one
// after the other: pg_advisory_xact_lock on PostgreSQL. On SQLite it does
// nothing: a transaction that writes holds the database's write lock.
func (d Dialect) TxLock(ctx context.Context, tx sqlx.ExecerContext, key int64) error {
	if !d.postgres() {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, key)
	return err
}

// Catalog.

// HasTable reports whether table (a base or partitioned table, not a view)
// exists in schema; on SQLite, where the schema is ignored, whether the
// database has it.
func (d Dialect) HasTable(ctx context.Context, q sqlx.QueryerContext, schema, table string) (bool, error) {
	var c int
	var err error
	if d.postgres() {
		err = sqlx.GetContext(ctx, q, &c, `SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
WHERE ns.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, schema, table)
	} else {
		err = sqlx.GetContext(ctx, q, &c, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table)
	}
	if err != nil {
		return false, err
	}
	return c > 0, nil
}

// SchemaTable is a table [Dialect.ListTables] found.
type SchemaTable struct {
	// Schema is the table's schema; on SQLite, the schema ListTables was
	// asked for.
	Schema string `db:"nspname"`
	// Name is the table's name.
	Name string `db:"relname"`
	// Current is true for a table of the current schema (the first of the
	// search_path); always on SQLite.
	Current bool `db:"cur"`
}

// ListTables lists, in one catalog query, the tables (base or
// partitioned, not views) of schema and, when prefix is not "", those of
// the current schema whose names start with prefix. SQLite has no
// schemas: it lists every table of the database, each in schema.
func (d Dialect) ListTables(ctx context.Context, q sqlx.QueryerContext, schema, prefix string) ([]SchemaTable, error) {
	var out []SchemaTable
	if d.Schemas() {
		like := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(prefix) + "%"
		err := sqlx.SelectContext(ctx, q, &out, `SELECT n.nspname, c.relname, n.nspname = current_schema() AS cur
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND (n.nspname = $1 OR ($2 <> '' AND n.nspname = current_schema() AND c.relname LIKE $3))`, schema, prefix, like)
		return out, err
	}
	var names []string
	if err := sqlx.SelectContext(ctx, q, &names, `SELECT name FROM sqlite_master WHERE type = 'table'`); err != nil {
		return nil, err
	}
	for _, n := range names {
		out = append(out, SchemaTable{Schema: schema, Name: n, Current: true})
	}
	return out, nil
}

// HasSchema reports whether schema exists; always true on SQLite, which
// has none to create.
func (d Dialect) HasSchema(ctx context.Context, q sqlx.QueryerContext, schema string) (bool, error) {
	if !d.Schemas() {
		return true, nil
	}
	var ok bool
	err := sqlx.GetContext(ctx, q, &ok, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)`, schema)
	return ok, err
}

// ColumnInfo is one column of a table, as [Dialect.ColumnInfo] reads it.
type ColumnInfo struct {
	// Name is the column's name.
	Name string `db:"name"`
	// NotNull is true for a column declared NOT NULL.
	NotNull bool `db:"notnull"`
}

// ColumnInfo lists the columns of the table with the SQL name name
// (schema-qualified or not, unquoted): one catalog query.
func (d Dialect) ColumnInfo(ctx context.Context, q sqlx.QueryerContext, name string) ([]ColumnInfo, error) {
	var cols []ColumnInfo
	var err error
	if d.postgres() {
		err = sqlx.SelectContext(ctx, q, &cols, `SELECT attname AS name, attnotnull AS notnull FROM pg_catalog.pg_attribute
WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, name)
	} else {
		err = sqlx.SelectContext(ctx, q, &cols, `SELECT name, "notnull" FROM pragma_table_info(?)`, name)
	}
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", name, err)
	}
	return cols, nil
}

// DatabaseFile is the path of the file of an embedded database (SQLite's
// main database): "" for an in-memory one, and always "" without a query
// for a server (PostgreSQL).
func (d Dialect) DatabaseFile(ctx context.Context, q sqlx.QueryerContext) (string, error) {
	if d.postgres() {
		return "", nil
	}
	var file string
	err := sqlx.GetContext(ctx, q, &file, `SELECT file FROM pragma_database_list WHERE name = 'main'`)
	return file, err
}

// TableSizes returns the bytes on disk of each of tables (unquoted names),
// its indexes included: pg_total_relation_size per table on PostgreSQL; on
// SQLite one pass over dbstat for all of them (the build must include the
// dbstat table; modernc's does). A table SQLite has no pages for is 0.
func (d Dialect) TableSizes(ctx context.Context, q sqlx.QueryerContext, tables []string) (map[string]int64, error) {
	out := make(map[string]int64, len(tables))
	if d.postgres() {
		for _, t := range tables {
			var n int64
			if err := sqlx.GetContext(ctx, q, &n, "SELECT pg_total_relation_size($1::regclass)", t); err != nil {
				return nil, fmt.Errorf("size of %s: %w", t, err)
			}
			out[t] = n
		}
		return out, nil
	}
	// aggregate = TRUE gives one row per b-tree.
	var rows []struct {
		Table string `db:"tbl_name"`
		Bytes int64  `db:"bytes"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT m.tbl_name, sum(s.pgsize) AS bytes
			FROM dbstat AS s JOIN sqlite_master AS m ON m.name = s.name
			WHERE s.aggregate = TRUE GROUP BY m.tbl_name`); err != nil {
		return nil, fmt.Errorf("table sizes: %w", err)
	}
	sizes := make(map[string]int64, len(rows))
	for _, r := range rows {
		sizes[r.Table] = r.Bytes
	}
	for _, t := range tables {
		out[t] = sizes[t]
	}
	return out, nil
}

// DatabaseSize returns the bytes of the whole database:
// pg_database_size of the current database, or SQLite's page count times
// its page size.
func (d Dialect) DatabaseSize(ctx context.Context, q sqlx.QueryerContext) (int64, error) {
	query := "SELECT pg_database_size(current_database())"
	if !d.postgres() {
		query = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
	}
	var n int64
	if err := sqlx.GetContext(ctx, q, &n, query); err != nil {
		return 0, fmt.Errorf("database size: %w", err)
	}
	return n, nil
}

// PerDialect holds one implementation per dialect of something whose
// whole algorithm differs between the dialects (reading the schema
// catalog, a probe's checks), so that a package picks one once, by name,
// instead of comparing dialects. Where only the SQL text differs, use
// Dialect's methods instead.
type PerDialect[T any] struct {
	// Postgres is the implementation for PostgreSQL.
	Postgres T
	// SQLite is the implementation for SQLite.
	SQLite T
}

// For returns the implementation for d.
func (p PerDialect[T]) For(d Dialect) T {
	if d.postgres() {
		return p.Postgres
	}
	return p.SQLite
}

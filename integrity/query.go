package integrity

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// This file is the engine under the declarative checks: one statement per
// check that returns the full count (count(*) OVER ()) next to at most limit
// sample rows, so memory stays flat in the number of offending rows.

// rowQuery selects offending rows of meta.Table by a predicate.
type rowQuery struct {
	meta Meta
	// b is the check's binding: its row key names the rows.
	b *binding
	// from, when set, is what the rows are selected from instead of
	// meta.Table: a derived table named as the table, holding every row
	// where could select (and maybe others).
	from  string
	where string
	args  []any
	// cols are extra columns read for the description and details.
	cols []string
	// describe writes the description and details of one offending row
	// from its key (as a description writes it, such as "812" or
	// "(local 46, seq 3)") and cols (normalised, by column name).
	describe func(row string, vals map[string]any) (string, map[string]any)
}

// query runs one check statement and returns its rows; done closes them.
// On PostgreSQL the statement runs in a read-only transaction with JIT
// compilation off: these are short scans, and for the wider ones (the
// polymorphic foreign key) compiling costs several times the scan itself.
func query(ctx context.Context, db *sqlx.DB, q string, args ...any) (rows *sql.Rows, done func(), err error) {
	return queryWith(ctx, db, nil, q, args...)
}

// queryWith is query with more settings for the read-only transaction
// (see [dbx.Dialect.SetLocal]; none on SQLite).
func queryWith(ctx context.Context, db *sqlx.DB, set []dbx.Setting, q string, args ...any) (rows *sql.Rows, done func(), err error) {
	return queryOn(ctx, dbx.DialectOf(db), db, set, q, args...)
}

// conn is where a check statement runs: the pool (*sqlx.DB), or one
// connection taken from it (*sql.Conn).
type conn interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryOn is queryWith on a connection of dialect d.
func queryOn(ctx context.Context, d dbx.Dialect, on conn, set []dbx.Setting, q string, args ...any) (rows *sql.Rows, done func(), err error) {
	if !d.ReadOnlyTx() {
		rows, err = on.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, nil, err
		}
		return rows, func() { rows.Close() }, nil
	}
	tx, err := on.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	if err := d.SetLocal(ctx, tx, append([]dbx.Setting{{Name: "jit", Value: "off"}}, set...)...); err != nil {
		tx.Rollback()
		return nil, nil, err
	}
	rows, err = tx.QueryContext(ctx, d.Rebind(q), args...)
	if err != nil {
		tx.Rollback()
		return nil, nil, err
	}
	return rows, func() { rows.Close(); tx.Rollback() }, nil
}

func sampleLimit(limit int) int {
	if limit < 1 {
		return 1 // still one row, to read the count
	}
	return limit
}

func (q rowQuery) run(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	d := dbx.DialectOf(db)
	key := q.b.rowKey()
	sel := append(slices.Clone(key), q.cols...)
	from := q.from
	if from == "" {
		from = q.meta.Table
	}
	// The full count next to the samples, unless the check's fused pass
	// counted the same predicate already: then the statement reads the
	// samples alone (no window over every offending row), or nothing when
	// none are wanted.
	total := "count(*) OVER ()"
	known, isKnown := ctx.Value(knownCount{}).(int64)
	if isKnown {
		if limit <= 0 {
			return Result{Count: int(known)}, nil
		}
		total = fmt.Sprintf("CAST(%d AS bigint)", known)
	}
	stmt := fmt.Sprintf("SELECT %s, %s AS ip2adb_total FROM %s WHERE %s ORDER BY %s LIMIT ?",
		strings.Join(sel, ", "), total, from, q.where, q.b.orderBy(q.meta.Table, d, true))
	rows, done, err := query(ctx, db, stmt, append(append([]any{}, q.args...), sampleLimit(limit))...)
	if err != nil {
		return Result{}, fmt.Errorf("query %s: %w", q.meta.Table, err)
	}
	defer done()
	numeric, err := numericColumns(rows, 0, len(sel))
	if err != nil {
		return Result{}, fmt.Errorf("query %s: %w", q.meta.Table, err)
	}
	var res Result
	if isKnown {
		res.Count = int(known)
	}
	for rows.Next() {
		var total int64
		vals := make([]any, len(sel))
		dest := make([]any, 0, len(sel)+1)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		dest = append(dest, &total)
		if err := rows.Scan(dest...); err != nil {
			return Result{}, fmt.Errorf("scan %s: %w", q.meta.Table, err)
		}
		res.Count = int(total)
		if len(res.Issues) >= limit {
			continue
		}
		for i := range vals {
			vals[i] = normalize(vals[i], numeric[i])
		}
		byName := make(map[string]any, len(q.cols))
		for i, c := range q.cols {
			byName[c] = vals[len(key)+i]
		}
		desc, details := q.describe(rowLabel(key, vals[:len(key)]), byName)
		is := q.meta.issue(nil, nil, desc, details)
		is.SetRecordKey(key, vals[:len(key)])
		res.Issues = append(res.Issues, is)
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("read %s: %w", q.meta.Table, err)
	}
	return res, nil
}

// rowLabel writes a row's key for a description: the value of a single
// column as it is ("812", "C-17"), several as "(local 46, seq 3)".
func rowLabel(key []string, vals []any) string {
	if len(key) == 1 {
		return fmt.Sprint(vals[0])
	}
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = k + " " + show(vals[i])
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Key is one column (or expression) of a group key, such as
// {Name: "email", Expr: "lower(trim(email))"}.
type Key struct {
	// Name is the key's name in Issue.Key.
	Name string
	// Expr is the SQL expression over the table; Name when empty.
	Expr string
}

func (k Key) expr() string {
	if k.Expr != "" {
		return k.Expr
	}
	return k.Name
}

// Columns makes a group key of plain columns.
func Columns(names ...string) []Key {
	keys := make([]Key, len(names))
	for i, n := range names {
		keys[i] = Key{Name: n}
	}
	return keys
}

// groupQuery selects groups of meta.Table rows sharing a key.
type groupQuery struct {
	meta Meta
	// from is the FROM clause; meta.Table when empty.
	from   string
	keys   []Key
	where  string
	args   []any
	having string
	// describe writes the description and details of one group of n rows.
	describe func(key map[string]any, n int64) (string, map[string]any)
}

func (q groupQuery) run(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	var sel, group, order []string
	for i, k := range q.keys {
		sel = append(sel, fmt.Sprintf("%s AS ip2adb_k%d", k.expr(), i))
		group = append(group, k.expr())
		order = append(order, fmt.Sprintf("ip2adb_k%d", i))
	}
	from := q.from
	if from == "" {
		from = q.meta.Table
	}
	// The groups are ordered outside the grouping: asked for ordered
	// groups and a LIMIT, PostgreSQL walks an index on the key (reading the
	// table in random order) rather than hash or sort the few rows the
	// filter selects — member.multiple_current_employments at 10× the
	// stress volumes: 880 → 325 ms CPU.
	stmt := fmt.Sprintf("SELECT * FROM (SELECT %s, count(*) AS ip2adb_n, count(*) OVER () AS ip2adb_total FROM %s WHERE %s GROUP BY %s HAVING %s) ip2adb_g ORDER BY %s LIMIT ?",
		strings.Join(sel, ", "), from, q.where, strings.Join(group, ", "), q.having, strings.Join(order, ", "))
	rows, done, err := query(ctx, db, stmt, append(append([]any{}, q.args...), sampleLimit(limit))...)
	if err != nil {
		return Result{}, fmt.Errorf("query %s: %w", q.meta.Table, err)
	}
	defer done()
	numeric, err := numericColumns(rows, 0, len(q.keys))
	if err != nil {
		return Result{}, fmt.Errorf("query %s: %w", q.meta.Table, err)
	}
	var res Result
	for rows.Next() {
		var n, total int64
		vals := make([]any, len(q.keys))
		var dest []any
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		dest = append(dest, &n, &total)
		if err := rows.Scan(dest...); err != nil {
			return Result{}, fmt.Errorf("scan %s: %w", q.meta.Table, err)
		}
		res.Count = int(total)
		if len(res.Issues) >= limit {
			continue
		}
		key := make(map[string]any, len(q.keys))
		for i, k := range q.keys {
			key[k.Name] = normalize(vals[i], numeric[i])
		}
		desc, details := q.describe(key, n)
		res.Issues = append(res.Issues, q.meta.issue(nil, key, desc, details))
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("read %s: %w", q.meta.Table, err)
	}
	return res, nil
}

// issue builds an issue of m.
func (m Meta) issue(id *int64, key map[string]any, desc string, details map[string]any) ip2adb.Issue {
	if m.Description != "" {
		desc = m.Description
	}
	return ip2adb.Issue{
		Check:          m.Name,
		Category:       m.Category,
		Severity:       m.Severity,
		Table:          m.Table,
		RecordID:       id,
		Key:            key,
		Description:    desc,
		Details:        details,
		Recommendation: m.Recommendation,
	}
}

// and joins the non-empty predicates with AND, each in parentheses.
func and(preds ...string) string {
	var parts []string
	for _, p := range preds {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, "("+p+")")
		}
	}
	if len(parts) == 0 {
		return "1 = 1"
	}
	return strings.Join(parts, " AND ")
}

// literal quotes s as an SQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// numericColumns reports which of the n result columns from the first on
// are SQL NUMERIC/DECIMAL: lib/pq returns those as text, which normalize
// turns into numbers.
func numericColumns(rows *sql.Rows, first, n int) ([]bool, error) {
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	out := make([]bool, n)
	for i := range out {
		if first+i < len(types) {
			switch strings.ToUpper(types[first+i].DatabaseTypeName()) {
			case "NUMERIC", "DECIMAL":
				out[i] = true
			}
		}
	}
	return out, nil
}

// normalize turns driver values into plain JSON-friendly values that are the
// same on both databases: text as string, integers as int64, dates as
// "YYYY-MM-DD", and NUMERIC values (text from lib/pq) as numbers the way
// SQLite's numeric affinity stores them: int64 when integral ("5.00" → 5),
// else float64.
func normalize(v any, numeric bool) any {
	switch x := v.(type) {
	case []byte:
		if numeric {
			if n, ok := parseNumeric(string(x)); ok {
				return n
			}
		}
		return string(x)
	case string:
		if numeric {
			if n, ok := parseNumeric(x); ok {
				return n
			}
		}
		return x
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format(time.DateOnly)
		}
		return x.UTC().Format(time.RFC3339)
	}
	return v
}

// parseNumeric parses a NUMERIC value: int64 when it is integral and fits,
// else float64.
func parseNumeric(s string) (any, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, false
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f), true
	}
	return f, true
}

// show formats a value for a description.
func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprint(v)
}

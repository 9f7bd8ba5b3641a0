package integrity

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// This file adapts checks to the live schema. [Run] reads the schema model
// once ([catalog.Read]) and binds every check to it ([Bind]): a check whose
// tables or columns are absent becomes not applicable, and the declarative
// checks rewrite their SQL for what the schema holds (the soft-delete
// columns present, enum labels, text functions only on text columns) and
// name the constraint that already enforces their rule.

// Binder is a check that adapts itself to the live schema. Bind returns
// the check to run against a database of that schema, or an error: a
// *NotApplicableError when the schema lacks what the check needs, anything
// else when the check cannot be built (a failed check). Every declarative
// check of this package is a Binder; [Bind] calls it after checking what
// the check declares it reads.
type Binder interface {
	Bind(m *catalog.Model) (Checker, error)
}

// NotApplicableError says why a check does not apply to the live schema,
// such as "table students has no column email". A check whose Check or
// Bind returns it is reported with status not_applicable: not a failed
// check, no effect on the exit code.
type NotApplicableError struct {
	// Reason is a short sentence for people.
	Reason string
}

func (e *NotApplicableError) Error() string { return "not applicable: " + e.Reason }

// SchemaError says that a database holds none of the tables a rule set
// reads: it is not the database the checks are for. The command line
// exits 2 on it.
type SchemaError struct {
	// Database names the kind of database the checks are for, such as
	// "an IP2A database"; empty, the error says "not the database the
	// checks are for".
	Database string
	// Tables are the tables the checks read, none of which exists, in the
	// order the checks name them.
	Tables []string
}

func (e *SchemaError) Error() string {
	db := e.Database
	if db == "" {
		db = "the database the checks are for"
	}
	return fmt.Sprintf("not %s: none of %s exists", db, strings.Join(e.Tables, ", "))
}

// CheckSchema returns a *SchemaError when m holds none of the tables that
// checks read (by [Needs]), nil otherwise. Checks that declare no table do
// not count; with no such check it returns nil. Where only some tables are
// missing, the checks reading them are not applicable instead. The error
// lists the tables in the order of checks: each check's own table
// (Meta.Table) first, then the others it reads by name.
func CheckSchema(m *catalog.Model, checks []Checker) error {
	var tables []string
	for _, c := range checks {
		needs := Needs(c)
		var own []string
		if d, ok := c.(Describer); ok && d.Describe().Table != "" {
			own = []string{d.Describe().Table}
		}
		for _, t := range append(own, slices.Sorted(maps.Keys(needs))...) {
			if m.Table(t) != nil {
				return nil
			}
			if !slices.Contains(tables, t) {
				tables = append(tables, t)
			}
		}
	}
	if len(tables) == 0 {
		return nil
	}
	return &SchemaError{Tables: tables}
}

// needer is implemented by the declarative checks: what their own fields
// name.
type needer interface {
	needs() map[string][]string
}

// Needs returns the tables a check reads and, per table, the columns: its
// Meta.Table and Meta.Reads, together with what a declarative check's own
// fields name (its columns, the parent table of a foreign key …). The
// primary key a row check names its rows by is not among them: the check's
// Bind takes it from the model ([catalog.Table.RowKey]) and is not
// applicable on a table without one.
func Needs(c Checker) map[string][]string {
	out := map[string][]string{}
	add := func(table string, cols ...string) {
		if table == "" {
			return
		}
		have := out[table]
		for _, col := range cols {
			if col != "" && !slices.Contains(have, col) {
				have = append(have, col)
			}
		}
		if have == nil {
			have = []string{}
		}
		out[table] = have
	}
	if _, ok := c.(Describer); ok {
		m := Describe(c)
		add(m.Table)
		for t, cols := range m.Reads {
			add(t, cols...)
		}
	}
	if n, ok := c.(needer); ok {
		for t, cols := range n.needs() {
			add(t, cols...)
		}
	}
	return out
}

// Bind adapts c to the schema m: a *NotApplicableError when m lacks a
// table or column that [Needs] names, else c bound by its own Bind when it
// is a [Binder], else c itself.
func Bind(m *catalog.Model, c Checker) (Checker, error) {
	if reason := missing(m, Needs(c)); reason != "" {
		return nil, &NotApplicableError{Reason: reason}
	}
	if b, ok := c.(Binder); ok {
		return b.Bind(m)
	}
	return c, nil
}

// missing says what m lacks of needs; "" when nothing.
func missing(m *catalog.Model, needs map[string][]string) string {
	var reasons []string
	for _, t := range slices.Sorted(maps.Keys(needs)) {
		if r := m.Missing(t, needs[t]...); r != "" {
			reasons = append(reasons, r)
		}
	}
	return strings.Join(reasons, "; ")
}

// Prepare binds every check to m. A check that does not apply, or cannot
// be bound, is replaced by one whose Check returns that error, so that the
// result keeps its place and name. Run prepares the checks it is given;
// call Prepare yourself to repair with the bound checks' fixes (heal does).
func Prepare(m *catalog.Model, checks []Checker) []Checker {
	out := make([]Checker, len(checks))
	for i, c := range checks {
		b, err := Bind(m, c)
		if err != nil {
			b = unbindable{meta: Describe(c), err: err}
		}
		out[i] = b
	}
	return out
}

// unbindable is a check that could not be bound: Check returns why.
type unbindable struct {
	meta Meta
	err  error
}

func (u unbindable) Name() string                                         { return u.meta.Name }
func (u unbindable) Describe() Meta                                       { return u.meta }
func (u unbindable) Bind(*catalog.Model) (Checker, error)                 { return u, nil }
func (u unbindable) Check(context.Context, *sqlx.DB, int) (Result, error) { return Result{}, u.err }

// enforcer is implemented by bound checks: the constraints that already
// enforce the rule, and a note about how the check adapted.
type enforcer interface {
	enforcedBy() string
	note() string
}

// binding is what a declarative check knows once bound; nil when unbound.
type binding struct {
	model    *catalog.Model
	enforced []string
	remark   string
	// key are the columns that name a row of the check's table (its
	// [catalog.Table.RowKey]); nil for a check that reports no rows.
	key []string
}

// rowBinding binds a row check of table to m: the table's row key names
// its rows. A table with neither a primary key nor an id column has no
// way to name a row, and the check is not applicable.
func rowBinding(m *catalog.Model, table string) (*binding, error) {
	key := m.Table(table).RowKey()
	if len(key) == 0 {
		return nil, &NotApplicableError{Reason: noRowKey(table)}
	}
	return &binding{model: m, key: key}, nil
}

// noRowKey is the reason a table without a row key is not applicable.
func noRowKey(table string) string {
	return fmt.Sprintf("table %s has no primary key and no id column to name its rows by", table)
}

// rowKey are the columns naming a row of the check's table: the bound
// table's row key, "id" unbound.
func (b *binding) rowKey() []string {
	if b == nil || len(b.key) == 0 {
		return []string{"id"}
	}
	return b.key
}

// orderBy orders rows of table by its row key, the same way on both
// databases: on PostgreSQL a text column is compared COLLATE "C" (byte
// order, as SQLite's BINARY). For a top-N read of sample rows (topN), an
// integer column is written "col + 0" on PostgreSQL, which keeps the
// planner from walking the whole table through the primary key index to
// avoid a sort (it expects far more offending rows than there are; a
// top-N sort of the few matches is much cheaper); COLLATE "C" has the
// same effect on a text key. SQLite scans in rowid order anyway.
func (b *binding) orderBy(table string, d dbx.Dialect, topN bool) string {
	key := b.rowKey()
	out := make([]string, len(key))
	for i, col := range key {
		out[i] = col
		switch {
		case b == nil || b.model.Integer(table, col):
			if topN && d.CostBasedPlanner() {
				out[i] = col + " + 0"
			}
		case b.model.Column(table, col) != nil && b.model.Column(table, col).Text:
			out[i] = d.BinaryCollation(col)
		}
	}
	return strings.Join(out, ", ")
}

// refColumn is the column of table that a single-column reference to it
// points at: explicit when set, else the table's row key when it is one
// column ("id" unbound). A table keyed by several columns, or by none,
// gives an error saying so.
func (b *binding) refColumn(table, explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if b == nil {
		return "id", nil
	}
	key := b.model.Table(table).RowKey()
	switch len(key) {
	case 0:
		return "", &NotApplicableError{Reason: noRowKey(table)}
	case 1:
		return key[0], nil
	}
	return "", &NotApplicableError{Reason: fmt.Sprintf("table %s has a primary key of %d columns (%s); a reference to it must name its column",
		table, len(key), strings.Join(key, ", "))}
}

func (b *binding) enforcedBy() string {
	if b == nil {
		return ""
	}
	return strings.Join(b.enforced, ", ")
}

func (b *binding) note() string {
	if b == nil {
		return ""
	}
	return b.remark
}

// live is the predicate that ignores soft-deleted rows of meta.Table when
// meta.SoftDelete is set, with columns qualified by q: by the table's live
// convention when bound, else "NOT is_deleted".
func (b *binding) live(meta Meta, q string) string {
	if !meta.SoftDelete {
		return ""
	}
	return b.liveOf(meta.Table, q)
}

// liveOf is the live-row predicate of any table.
func (b *binding) liveOf(table, q string) string {
	if b == nil {
		if q != "" {
			q += "."
		}
		return "NOT " + q + "is_deleted"
	}
	return b.model.Table(table).Live(q)
}

// text reports whether column col of table holds text; unbound, every
// column is assumed to.
func (b *binding) text(table, col string) bool {
	if b == nil {
		return true
	}
	c := b.model.Column(table, col)
	return c != nil && c.Text
}

// asText returns expr, the SQL of column col of table, as text: the
// column itself when it holds text, else CAST(expr AS TEXT), so that text
// comparisons and functions never meet an enum or a number.
func (b *binding) asText(table, col, expr string) string {
	if b.text(table, col) {
		return expr
	}
	return "CAST(" + expr + " AS TEXT)"
}

// notNull names the NOT NULL constraints of cols, or nil unless every one
// of them is NOT NULL.
func (b *binding) notNull(table string, cols ...string) []string {
	var out []string
	for _, col := range cols {
		c := b.model.Column(table, col)
		if c == nil || !c.NotNull {
			return nil
		}
		out = append(out, "NOT NULL "+table+"."+col)
	}
	return out
}

// bindCheck binds an unbound declarative check to the model read from db
// and runs it: the path of a check called directly rather than through Run.
func bindCheck(ctx context.Context, db *sqlx.DB, c Checker, limit int) (Result, error) {
	m, err := catalog.Read(ctx, db, catalog.Options{})
	if err != nil {
		return Result{}, err
	}
	b, err := Bind(m, c)
	if err != nil {
		return Result{}, err
	}
	return b.Check(ctx, db, limit)
}

// EnumValue is a bind argument standing for one value of an enumerated
// column: a check bound to a schema where Table.Column is an enum type
// passes the live label instead — Labels[Text] when the type has it, else
// the label equal to Text ignoring case. Anywhere else it is Text.
// Compare it with CAST(column AS TEXT), which works on every column type.
type EnumValue struct {
	// Table and Column name the enumerated column.
	Table, Column string
	// Text is the value as the rule set writes it, such as "active".
	Text string
	// Labels maps values to the labels of the real schema, such as
	// "apprentice_1" → "APPRENTICE_1ST_YEAR"; nil for case-insensitive
	// matching only.
	Labels map[string]string
}

// Value implements driver.Valuer: Text, for an unbound check.
func (v EnumValue) Value() (driver.Value, error) { return v.Text, nil }

// resolve returns the live label of v.
func (v EnumValue) resolve(m *catalog.Model) (string, error) {
	return liveLabel(m, v.Table, v.Column, v.Text, v.Labels)
}

// liveLabel returns the label that stands for value in column col of
// table: value itself unless the column is of an enum type; there
// labels[value] when the type has that label, else the label equal to
// value ignoring case. An enum without such a label is an error.
func liveLabel(m *catalog.Model, table, col, value string, labels map[string]string) (string, error) {
	e := m.EnumOf(table, col)
	if e == nil {
		return value, nil
	}
	if l, ok := labels[value]; ok && slices.Contains(e.Labels, l) {
		return l, nil
	}
	for _, l := range e.Labels {
		if strings.EqualFold(l, value) {
			return l, nil
		}
	}
	return "", fmt.Errorf("%q is no label of enum %s (%s.%s): %s", value, e.Name, table, col, strings.Join(e.Labels, ", "))
}

// bindArgs resolves the EnumValue arguments among args.
func bindArgs(m *catalog.Model, args []any) ([]any, error) {
	if len(args) == 0 {
		return args, nil
	}
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
		if v, ok := a.(EnumValue); ok {
			l, err := v.resolve(m)
			if err != nil {
				return nil, err
			}
			out[i] = l
		}
	}
	return out, nil
}

// FirstApplicable is one rule with alternative checks for schemas that
// keep its facts in different places, such as a student's email in
// students or, on the real IP2A schema, in the student's member row. Bound
// to a schema it becomes the first alternative that applies; when none
// does it is not applicable, with every alternative's reason. The
// alternatives share the first one's name, classification and table.
type FirstApplicable []Checker

// Name returns the first alternative's name.
func (f FirstApplicable) Name() string {
	if len(f) == 0 {
		return ""
	}
	return f[0].Name()
}

// Describe returns the first alternative's Meta without its Reads (each
// alternative declares its own).
func (f FirstApplicable) Describe() Meta {
	if len(f) == 0 {
		return Meta{}
	}
	m := Describe(f[0])
	m.Reads = nil
	return m
}

// Bind returns the first alternative that binds to m.
func (f FirstApplicable) Bind(m *catalog.Model) (Checker, error) {
	if len(f) == 0 {
		return nil, fmt.Errorf("FirstApplicable has no alternatives")
	}
	var reasons []string
	for _, c := range f {
		b, err := Bind(m, c)
		var na *NotApplicableError
		if errors.As(err, &na) {
			reasons = append(reasons, na.Reason)
			continue
		}
		return b, err
	}
	return nil, &NotApplicableError{Reason: strings.Join(reasons, "; ")}
}

// Check binds f to the schema of db and runs the alternative that applies.
func (f FirstApplicable) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	return bindCheck(ctx, db, f, limit)
}

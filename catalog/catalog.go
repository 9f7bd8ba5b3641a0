// Package catalog reads the schema model of a live database from its own
// catalog: PostgreSQL's pg_catalog or SQLite's pragmas. A [Model] holds the
// tables with their columns and types, enum types with their labels,
// primary, unique and foreign keys, NOT NULL and check constraints, and per
// table the soft-delete and timestamp columns actually present.
//
// ip2adb reads the model once per run ([Read]) and adapts its checks,
// repairs and undo to it, so that nothing assumes a column exists. A caller
// may change the model before handing it on: the conventions that find the
// soft-delete and timestamp columns are options, and [Options.Tables]
// overrides what the catalog says about one table.
package catalog

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ip2adb/ip2adb/internal/dbx"
)

// Dialect names the database a model was read from.
type Dialect string

// The dialects catalog reads.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Model is the schema of one database (on PostgreSQL, of one schema in it).
// Read it with [Read]; it is a plain value that may be changed before use,
// but not while others read it.
type Model struct {
	// Dialect is the database the model was read from.
	Dialect Dialect
	// Schema is the PostgreSQL schema holding the tables ("public" by
	// default), "main" on SQLite.
	Schema string
	// Tables are the base tables of Schema by name. ip2adb's own tables
	// (ip2adb_*) are left out.
	Tables map[string]*Table
	// Enums are the enum types that Schema holds or its columns use, by
	// the name a column's Enum field holds. Always empty on SQLite.
	Enums map[string]*Enum
	// ForeignKeysEnforced says the database enforces foreign keys: always
	// on PostgreSQL; on SQLite only with PRAGMA foreign_keys = ON on the
	// connection that read the model.
	ForeignKeysEnforced bool
}

// Table is one base table.
type Table struct {
	// Name is the table's name, unqualified.
	Name string
	// Columns are the table's columns in their order.
	Columns []Column
	// PrimaryKey is the primary key; its Columns are empty when the table
	// has none.
	PrimaryKey Key
	// Unique are the unique constraints and unique indexes other than the
	// primary key, by name.
	Unique []Unique
	// ForeignKeys are the table's foreign keys, by name (in definition
	// order on SQLite, where they have no names).
	ForeignKeys []ForeignKey
	// Checks are the table's CHECK constraints, by name.
	Checks []Check
	// SoftDelete names the columns that mark a row as soft-deleted.
	SoftDelete SoftDelete
	// Timestamps names the row's creation and update time columns.
	Timestamps Timestamps
}

// Column is one column of a table.
type Column struct {
	// Name is the column's name.
	Name string
	// Type is the column's type as the catalog writes it, such as
	// "integer", "character varying(50)" or "memberstatus" on PostgreSQL,
	// and the declared type (possibly "") on SQLite.
	Type string
	// Text says the column holds text (varchar, text, char … or a domain
	// over one; on SQLite, a declared type with TEXT affinity). Enum
	// columns are not text.
	Text bool
	// Enum is the key in Model.Enums of the column's enum type; "" when the
	// column is not of an enum type.
	Enum string
	// NotNull says the column has a NOT NULL constraint.
	NotNull bool
	// Default is the column's default expression as the catalog writes it;
	// "" when it has none.
	Default string
}

// Enum is a PostgreSQL enum type.
type Enum struct {
	// Schema and Name name the type.
	Schema, Name string
	// Labels are the type's labels in their sort order.
	Labels []string
}

// Key is a named list of columns: a primary key.
type Key struct {
	// Name is the constraint's name; "" on SQLite.
	Name string
	// Columns are the key's columns in key order.
	Columns []string
}

// Unique is a unique constraint or unique index.
type Unique struct {
	// Name is the constraint's or index's name. SQLite names the index of
	// an inline UNIQUE constraint "sqlite_autoindex_TABLE_N".
	Name string
	// Columns are the indexed columns in order; an expression is "".
	Columns []string
	// Constraint says it is a UNIQUE constraint, not only an index.
	Constraint bool
	// Where is the predicate of a partial index; "" when the index covers
	// every row.
	Where string
}

// ForeignKey is a foreign key constraint.
type ForeignKey struct {
	// Name is the constraint's name; "" on SQLite.
	Name string
	// Columns are the referencing columns.
	Columns []string
	// RefTable is the referenced table; schema-qualified when it lives in
	// another schema than the model's.
	RefTable string
	// RefColumns are the referenced columns, in the order of Columns.
	RefColumns []string
	// OnDelete is the referential action: "NO ACTION", "RESTRICT",
	// "CASCADE", "SET NULL" or "SET DEFAULT".
	OnDelete string
	// Validated is false for a PostgreSQL constraint added NOT VALID: it
	// binds new rows only, not the rows already there.
	Validated bool
}

// Check is a CHECK constraint.
type Check struct {
	// Name is the constraint's name; "" on SQLite when it has none.
	Name string
	// Columns are the table's columns the expression names, in table
	// order.
	Columns []string
	// Expr is the constraint as the catalog writes it, such as
	// "CHECK ((capacity > 0))".
	Expr string
	// Validated is false for a PostgreSQL constraint added NOT VALID.
	Validated bool
}

// SoftDelete names the columns that mark a row as soft-deleted. Both empty
// means the table has no soft delete: a delete removes the row.
type SoftDelete struct {
	// Flag is a boolean column that is true for a deleted row, such as
	// "is_deleted".
	Flag string
	// DeletedAt is a timestamp column set when the row was deleted, such
	// as "deleted_at".
	DeletedAt string
}

// Kind says which soft-delete convention a table follows: "none", "flag"
// (a boolean column only), "timestamp" (a deleted-at column only) or
// "both".
func (s SoftDelete) Kind() string {
	switch {
	case s.Flag != "" && s.DeletedAt != "":
		return "both"
	case s.Flag != "":
		return "flag"
	case s.DeletedAt != "":
		return "timestamp"
	}
	return "none"
}

// Enabled reports whether the table has a soft-delete column.
func (s SoftDelete) Enabled() bool { return s.Flag != "" || s.DeletedAt != "" }

// Timestamps names the columns holding a row's creation and last update
// time; "" for a column the table lacks.
type Timestamps struct {
	CreatedAt string
	UpdatedAt string
}

// Table returns the table named name, or nil when the model has none.
func (m *Model) Table(name string) *Table {
	if m == nil {
		return nil
	}
	return m.Tables[name]
}

// TableNames returns the names of the model's tables, sorted.
func (m *Model) TableNames() []string {
	var out []string
	for n := range m.Tables {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Column returns column col of table, or nil when either is absent.
func (m *Model) Column(table, col string) *Column {
	return m.Table(table).Column(col)
}

// EnumOf returns the enum type of column col of table, or nil when the
// column is absent or not of an enum type.
func (m *Model) EnumOf(table, col string) *Enum {
	c := m.Column(table, col)
	if c == nil || c.Enum == "" {
		return nil
	}
	return m.Enums[c.Enum]
}

// Missing says what the model lacks of table and its columns cols: "" when
// it has them all, else a reason such as "no table students" or "table
// students has no column email". The reason names every missing column.
func (m *Model) Missing(table string, cols ...string) string {
	t := m.Table(table)
	if t == nil {
		return "no table " + table
	}
	var miss []string
	for _, c := range cols {
		if t.Column(c) == nil && !slices.Contains(miss, c) {
			miss = append(miss, c)
		}
	}
	switch len(miss) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("table %s has no column %s", table, miss[0])
	}
	return fmt.Sprintf("table %s has no columns %s", table, strings.Join(miss, ", "))
}

// Column returns the column named name, or nil when the table has none (or
// t is nil).
func (t *Table) Column(name string) *Column {
	if t == nil {
		return nil
	}
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// Has reports whether t has every one of cols.
func (t *Table) Has(cols ...string) bool {
	if t == nil {
		return false
	}
	for _, c := range cols {
		if t.Column(c) == nil {
			return false
		}
	}
	return true
}

// ColumnNames returns the names of t's columns in order.
func (t *Table) ColumnNames() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Name
	}
	return out
}

// Live returns an SQL condition that holds for the rows of t that are not
// soft-deleted, with columns qualified by qualifier (unqualified when
// qualifier is ""); "" when t has no soft delete. When t has both columns
// the flag decides, as the application's own queries do.
func (t *Table) Live(qualifier string) string {
	q := ""
	if qualifier != "" {
		q = qualifier + "."
	}
	switch {
	case t == nil:
		return ""
	case t.SoftDelete.Flag != "":
		if c := t.Column(t.SoftDelete.Flag); c != nil && c.NotNull {
			return "NOT " + q + t.SoftDelete.Flag
		}
		return q + t.SoftDelete.Flag + " IS NOT TRUE"
	case t.SoftDelete.DeletedAt != "":
		return q + t.SoftDelete.DeletedAt + " IS NULL"
	}
	return ""
}

// ForeignKeyOn returns the foreign key whose referencing columns are
// exactly cols (in order), or nil.
func (t *Table) ForeignKeyOn(cols ...string) *ForeignKey {
	if t == nil {
		return nil
	}
	for i := range t.ForeignKeys {
		if slices.Equal(t.ForeignKeys[i].Columns, cols) {
			return &t.ForeignKeys[i]
		}
	}
	return nil
}

// UniqueOn returns a unique constraint or index over exactly cols (in any
// order) that covers every row (not partial), or nil. The primary key
// counts too, reported as a Unique with Constraint set.
func (t *Table) UniqueOn(cols ...string) *Unique {
	if t == nil {
		return nil
	}
	same := func(a []string) bool {
		if len(a) != len(cols) {
			return false
		}
		for _, c := range cols {
			if !slices.Contains(a, c) {
				return false
			}
		}
		return true
	}
	if len(t.PrimaryKey.Columns) > 0 && same(t.PrimaryKey.Columns) {
		return &Unique{Name: t.PrimaryKey.Name, Columns: t.PrimaryKey.Columns, Constraint: true}
	}
	for i := range t.Unique {
		if u := &t.Unique[i]; u.Where == "" && same(u.Columns) {
			return u
		}
	}
	return nil
}

// RowKey returns the columns that identify one row of t, in key order: its
// primary key (as the catalog has it, or as [Override.PrimaryKey] replaced
// it), else a column named "id" when t has one (a legacy table that
// declares no key), else nil. Checks name rows by it, and repairs and undo
// find rows by it.
func (t *Table) RowKey() []string {
	switch {
	case t == nil:
		return nil
	case len(t.PrimaryKey.Columns) > 0:
		return slices.Clone(t.PrimaryKey.Columns)
	case t.Column("id") != nil:
		return []string{"id"}
	}
	return nil
}

// Integer reports whether column col of table holds integers: a column of
// type smallint, integer or bigint on PostgreSQL (not a domain over one), a
// declared type of INTEGER affinity (its name contains "INT") on SQLite.
// It is false when the column is absent.
func (m *Model) Integer(table, col string) bool {
	c := m.Column(table, col)
	if c == nil {
		return false
	}
	return dbx.Dialect(m.Dialect).IntegerType(c.Type)
}

package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// Queryer is what [Read] needs of a handle: a *sqlx.DB, *sqlx.Conn or
// *sqlx.Tx.
type Queryer interface {
	sqlx.QueryerContext
	// DriverName names the driver: "postgres", "pgx" or "pq" for
	// PostgreSQL, "sqlite" for SQLite; any other name is an error.
	DriverName() string
}

// Conventions name the columns that carry a table's soft delete and
// timestamps. For each role the first name the table has wins. The zero
// value means [DefaultConventions].
type Conventions struct {
	// DeletedFlag are boolean columns true for a deleted row.
	DeletedFlag []string
	// DeletedAt are timestamp columns set when a row was deleted.
	DeletedAt []string
	// CreatedAt and UpdatedAt are the creation and update time columns.
	CreatedAt []string
	UpdatedAt []string
}

// DefaultConventions are the IP2A application's own: is_deleted,
// deleted_at, created_at and updated_at.
func DefaultConventions() Conventions {
	return Conventions{
		DeletedFlag: []string{"is_deleted"},
		DeletedAt:   []string{"deleted_at"},
		CreatedAt:   []string{"created_at"},
		UpdatedAt:   []string{"updated_at"},
	}
}

// Override replaces what the catalog says about one table. Nil fields
// keep what was read.
type Override struct {
	// PrimaryKey replaces the primary key, such as for a table whose key is
	// only a convention of the application.
	PrimaryKey []string
	// SoftDelete replaces the soft-delete columns; &SoftDelete{} turns soft
	// delete off for the table.
	SoftDelete *SoftDelete
	// Timestamps replaces the timestamp columns.
	Timestamps *Timestamps
}

// Options tune [Read].
type Options struct {
	// Schema is the PostgreSQL schema holding the application's tables;
	// current_schema() (the first existing schema of the search_path,
	// normally "public") when empty. Ignored on SQLite.
	Schema string
	// Conventions find the soft-delete and timestamp columns;
	// DefaultConventions when zero.
	Conventions Conventions
	// Tables overrides what the catalog says, by table name. An override
	// of a table the database lacks is an error.
	Tables map[string]Override
}

// Read reads the schema model from the catalog of db, whatever the number
// of tables: four queries on PostgreSQL (five when Options.Schema is empty:
// current_schema() first), four on SQLite (PRAGMA foreign_keys and three
// pragma joins).
func Read(ctx context.Context, db Queryer, opt Options) (*Model, error) {
	if err := dbx.CheckDriver(db); err != nil {
		return nil, err
	}
	read := dbx.PerDialect[reader]{Postgres: readPostgres, SQLite: readSQLite}.For(dbx.DialectOf(db))
	m, err := read(ctx, db, opt.Schema)
	if err != nil {
		return nil, fmt.Errorf("read schema catalog: %w", err)
	}
	conv := opt.Conventions
	if conv.DeletedFlag == nil && conv.DeletedAt == nil && conv.CreatedAt == nil && conv.UpdatedAt == nil {
		conv = DefaultConventions()
	}
	for _, t := range m.Tables {
		t.applyConventions(conv)
	}
	if err := m.apply(opt.Tables); err != nil {
		return nil, err
	}
	return m, nil
}

// reader reads the model from one dialect's catalog; schema is
// Options.Schema, which only PostgreSQL has.
type reader func(ctx context.Context, db Queryer, schema string) (*Model, error)

func (t *Table) applyConventions(c Conventions) {
	first := func(names []string, ok func(*Column) bool) string {
		for _, n := range names {
			if col := t.Column(n); col != nil && ok(col) {
				return n
			}
		}
		return ""
	}
	any := func(*Column) bool { return true }
	boolean := func(c *Column) bool {
		ty := strings.ToLower(c.Type)
		return ty == "boolean" || ty == "bool" || ty == "" // SQLite may declare no type
	}
	t.SoftDelete = SoftDelete{Flag: first(c.DeletedFlag, boolean), DeletedAt: first(c.DeletedAt, any)}
	t.Timestamps = Timestamps{CreatedAt: first(c.CreatedAt, any), UpdatedAt: first(c.UpdatedAt, any)}
}

// apply applies per-table overrides.
func (m *Model) apply(over map[string]Override) error {
	var errs []error
	for _, name := range sortedKeys(over) {
		o := over[name]
		t := m.Table(name)
		if t == nil {
			errs = append(errs, fmt.Errorf("override of table %s: no such table", name))
			continue
		}
		check := func(what string, cols ...string) {
			for _, c := range cols {
				if c != "" && t.Column(c) == nil {
					errs = append(errs, fmt.Errorf("override of table %s: %s column %s does not exist", name, what, c))
				}
			}
		}
		if o.PrimaryKey != nil {
			check("primary key", o.PrimaryKey...)
			t.PrimaryKey = Key{Columns: slices.Clone(o.PrimaryKey)}
		}
		if o.SoftDelete != nil {
			check("soft-delete", o.SoftDelete.Flag, o.SoftDelete.DeletedAt)
			t.SoftDelete = *o.SoftDelete
		}
		if o.Timestamps != nil {
			check("timestamp", o.Timestamps.CreatedAt, o.Timestamps.UpdatedAt)
			t.Timestamps = *o.Timestamps
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ownTable reports whether name is one of ip2adb's own tables, which the
// model leaves out.
func ownTable(name string) bool { return strings.HasPrefix(name, "ip2adb_") }

// Package ownstate names, locates and creates ip2adb's own objects in a
// watched database: the runs, their steps, the undo journal, the file
// checksums and the seed marker. On PostgreSQL they live in their own schema
// "ip2adb" (ip2adb.runs, ip2adb.journal, …), never in the application's
// schema; on SQLite they are tables prefixed "ip2adb_".
//
// Commands that write call [Ensure]: it creates what is missing, moves the
// tables older versions left in the application's schema (public.ip2adb_runs,
// public.ip2adb_journal) into schema ip2adb, and adds columns older versions
// lacked — and when nothing is missing it runs no DDL at all, so a role with
// only SELECT/INSERT/UPDATE/DELETE on the objects can write. Read-only
// commands call [Locate]: it finds the objects wherever they are and creates
// nothing.
package ownstate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// Schema is the PostgreSQL schema that holds ip2adb's own objects.
const Schema = "ip2adb"

// Prefix is the prefix of ip2adb's own tables on SQLite.
const Prefix = "ip2adb_"

// Names say where a set of own tables lives. The zero value is ip2adb's
// own place: schema "ip2adb" on PostgreSQL (ip2adb.runs, …) and the prefix
// "ip2adb_" on SQLite (ip2adb_runs, …).
type Names struct {
	// Schema is the PostgreSQL schema holding the tables; [Schema] when
	// empty. Ignored on SQLite.
	Schema string
	// Prefix starts every table name: on SQLite [Prefix] when empty, on
	// PostgreSQL nothing when empty.
	Prefix string
}

var (
	schemaRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	prefixRE = regexp.MustCompile(`^[a-z0-9_]*$`)
)

// Validate checks that the names are plain lower-case SQL identifiers
// (they are written into SQL unquoted).
func (n Names) Validate() error {
	if n.Schema != "" && (!schemaRE.MatchString(n.Schema) || len(n.Schema) > 63) {
		return fmt.Errorf("journal schema %q: want a lower-case SQL identifier (letters, digits, _)", n.Schema)
	}
	if !prefixRE.MatchString(n.Prefix) || len(n.Prefix) > 40 {
		return fmt.Errorf("journal table prefix %q: want lower-case letters, digits and _", n.Prefix)
	}
	return nil
}

// schema is the PostgreSQL schema of the tables.
func (n Names) schema() string {
	if n.Schema == "" {
		return Schema
	}
	return n.Schema
}

// prefix is the prefix of the table names in dialect d.
func (n Names) prefix(d dbx.Dialect) string {
	if n.Prefix == "" && !d.Schemas() {
		return Prefix
	}
	return n.Prefix
}

// isDefault reports whether n names ip2adb's own place in dialect d, where
// older versions' tables are looked for and moved.
func (n Names) isDefault(d dbx.Dialect) bool {
	if d.Schemas() {
		return n.schema() == Schema && n.Prefix == ""
	}
	return n.prefix(d) == Prefix
}

// Table is the unqualified name of obj's table.
func (n Names) Table(d dbx.Dialect, obj Object) string { return n.prefix(d) + string(obj) }

// Name is the SQL name of obj: "schema.table" on PostgreSQL, the table on
// SQLite. The names are plain lower-case identifiers and need no quoting.
func (n Names) Name(d dbx.Dialect, obj Object) string { return d.Qualify(n.schema(), n.Table(d, obj)) }

// Index is the name of an own index: unqualified (PostgreSQL puts it
// beside its table), prefixed on SQLite where index names share one space.
func (n Names) Index(d dbx.Dialect, base string) string { return "ix_" + n.prefix(d) + base }

// Object is one of ip2adb's own tables.
type Object string

// ip2adb's own tables.
const (
	// Runs has one row per committed run: run_id, kind (heal, repair,
	// undo), stamp (the timestamp the run wrote to updated_at),
	// started_at, finished_at, rows_changed, undoes (the run an undo
	// reverted), undone_by (the undo that reverted all of it) and status
	// (committed, partially_undone, undone).
	Runs Object = "runs"
	// Steps has one row per repair step of a run: run_id, step,
	// check_name, table_name, action, rows. Undo restores only the tables
	// named here.
	Steps Object = "run_steps"
	// Journal has one row per changed row: run_id, step, check_name,
	// table_name, record_id, action, before_image (the row before the run;
	// NULL when the run inserted it), after_image (the row the run left,
	// or the columns a repair's update set; NULL when it deleted it), created_at and undone_by (the undo run that
	// restored this row).
	Journal Object = "journal"
	// Checksums holds the SHA-256 of attachment files keyed by attachment
	// id: attachment_id, checksum (64 lower-case hex digits), recorded_at.
	Checksums Object = "file_checksums"
	// SeedMarker records that ip2adb's seed wrote the database's rows:
	// seeded_at, seed, profile, detail.
	SeedMarker Object = "seed_marker"
)

// Objects lists every own table in creation order.
func Objects() []Object { return []Object{Runs, Steps, Journal, Checksums, SeedMarker} }

// JournalObjects are the tables of a run's journal: runs, their steps and
// the journal itself.
func JournalObjects() []Object { return []Object{Runs, Steps, Journal} }

// legacy names the tables older versions created in the application's
// schema (PostgreSQL) and that keep their name on SQLite.
var legacy = map[Object]string{Runs: "ip2adb_runs", Journal: "ip2adb_journal"}

// Name is the SQL name of obj where ip2adb creates it: "ip2adb.runs" on
// PostgreSQL, "ip2adb_runs" on SQLite. The names are plain lower-case
// identifiers and need no quoting.
func Name(d dbx.Dialect, obj Object) string { return Names{}.Name(d, obj) }

// Exists reports whether obj exists where ip2adb creates it ([Name]),
// creating nothing: the check of stores that make their table on first
// write.
func Exists(ctx context.Context, db Querier, obj Object) (bool, error) {
	return Names{}.Exists(ctx, db, obj)
}

// Exists reports whether obj exists under the names n, creating nothing.
func (n Names) Exists(ctx context.Context, db Querier, obj Object) (bool, error) {
	if err := n.Validate(); err != nil {
		return false, err
	}
	d := dbx.DialectOf(db)
	return d.HasTable(ctx, db, n.schema(), n.Table(d, obj))
}

// State is where a set of own objects is in one database.
type State struct {
	d     dbx.Dialect
	names Names
	objs  []Object
	where map[Object]string
}

// Has reports whether obj exists.
func (s State) Has(obj Object) bool { _, ok := s.where[obj]; return ok }

// Name is the SQL name of obj: where it is when it exists (a table left
// in the application's schema by an older version is named there), else
// where [Ensure] creates it.
func (s State) Name(obj Object) string {
	if n, ok := s.where[obj]; ok {
		return n
	}
	return s.names.Name(s.d, obj)
}

// Legacy reports whether some object still lives where an older version
// put it (PostgreSQL: the application's schema).
func (s State) Legacy() bool {
	for obj, n := range s.where {
		if n != s.names.Name(s.d, obj) {
			return true
		}
	}
	return false
}

// Querier is what [Locate] and [Ensure] need: a *sqlx.DB or *sqlx.Tx.
type Querier interface {
	sqlx.ExecerContext
	sqlx.QueryerContext
	DriverName() string
}

// Locate finds ip2adb's own objects without creating or changing anything.
// On PostgreSQL an object in schema ip2adb wins over a table an older
// version left in the current schema.
func Locate(ctx context.Context, db Querier) (State, error) {
	return Names{}.Locate(ctx, db, Objects()...)
}

// Locate finds the objects objs (every own object when none is given) of
// the names n without creating or changing anything. With the default
// names, a table an older version left in the current PostgreSQL schema is
// found there when schema ip2adb lacks it.
func (n Names) Locate(ctx context.Context, db Querier, objs ...Object) (State, error) {
	if len(objs) == 0 {
		objs = Objects()
	}
	d := dbx.DialectOf(db)
	st := State{d: d, names: n, objs: objs, where: map[Object]string{}}
	if err := n.Validate(); err != nil {
		return st, err
	}
	// In the schema, and (PostgreSQL) where older versions left them: in
	// the current schema, named ip2adb_….
	tables, err := d.ListTables(ctx, db, n.schema(), "ip2adb_")
	if err != nil {
		return st, fmt.Errorf("locate ip2adb's tables: %w", err)
	}
	for _, obj := range objs {
		for _, t := range tables {
			if t.Schema == n.schema() && t.Name == n.Table(d, obj) {
				st.where[obj] = n.Name(d, obj)
			}
		}
		if st.Has(obj) || !n.isDefault(d) || !d.Schemas() {
			continue
		}
		for _, t := range tables {
			if t.Current && t.Schema != Schema && legacy[obj] != "" && t.Name == legacy[obj] {
				st.where[obj] = legacy[obj]
			}
		}
	}
	return st, nil
}

// ensureLockKey serialises concurrent Ensure calls that create objects
// (PostgreSQL transaction-scoped advisory lock; "ip2adbS" in ASCII).
const ensureLockKey int64 = 0x69703261646253

// LockForDDL takes, in the transaction tx, the lock under which Ensure
// creates own objects, so that any other writer creating one of them (the
// history and dedup stores) never races it to the same schema or table. It
// is a PostgreSQL transaction-scoped advisory lock; on SQLite, where the
// write transaction already serialises writers, it does nothing.
func LockForDDL(ctx context.Context, tx Querier) error {
	return dbx.DialectOf(tx).TxLock(ctx, tx, ensureLockKey)
}

// Ensure makes every own object exist where it belongs and returns the
// state. It creates the missing ones, moves tables an older version left in
// the application's schema into schema ip2adb (ALTER TABLE … SET SCHEMA and
// RENAME; their rows, indexes and sequences move with them) and adds the
// columns older versions lacked. When nothing is missing it executes no DDL
// and needs no privilege beyond reading the catalog.
//
// Given a *sqlx.DB, Ensure works in a transaction of its own; given a
// *sqlx.Tx, in that transaction (on PostgreSQL the DDL then commits or rolls
// back with the caller's work).
func Ensure(ctx context.Context, db Querier) (State, error) {
	return Names{}.Ensure(ctx, db, Objects()...)
}

// Ensure is [Ensure] for the objects objs (every own object when none is
// given) of the names n. Tables of older versions are moved only into the
// default names' place.
func (n Names) Ensure(ctx context.Context, db Querier, objs ...Object) (State, error) {
	if h, ok := db.(*sqlx.DB); ok {
		tx, err := h.BeginTxx(ctx, nil)
		if err != nil {
			return State{}, fmt.Errorf("create ip2adb's tables: %w", err)
		}
		defer tx.Rollback()
		st, err := n.Ensure(ctx, tx, objs...)
		if err != nil {
			return st, err
		}
		if err := tx.Commit(); err != nil {
			return st, fmt.Errorf("create ip2adb's tables: %w", err)
		}
		return st, nil
	}
	st, err := n.Locate(ctx, db, objs...)
	if err != nil {
		return st, err
	}
	fixes, err := migrations(ctx, db, st)
	if err != nil {
		return st, err
	}
	if complete(st) && len(fixes) == 0 {
		return st, nil
	}
	d := st.d
	if d.Schemas() {
		// Another process may be creating the same objects: wait for it,
		// then look again.
		if err := LockForDDL(ctx, db); err != nil {
			return st, fmt.Errorf("create ip2adb's tables: %w", err)
		}
		if st, err = n.Locate(ctx, db, objs...); err != nil {
			return st, err
		}
		schema := n.schema()
		hasSchema, err := d.HasSchema(ctx, db, schema)
		if err != nil {
			return st, fmt.Errorf("create ip2adb's tables: %w", err)
		}
		if !hasSchema {
			if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
				return st, fmt.Errorf("create schema %s: %w", schema, err)
			}
		}
		for _, obj := range st.objs {
			old, ok := st.where[obj]
			if !ok || old == n.Name(d, obj) {
				continue
			}
			for _, s := range []string{
				`ALTER TABLE ` + old + ` SET SCHEMA ` + schema,
				`ALTER TABLE ` + schema + `.` + old + ` RENAME TO ` + n.Table(d, obj),
			} {
				if _, err := db.ExecContext(ctx, s); err != nil {
					return st, fmt.Errorf("move %s into schema %s: %w", old, schema, err)
				}
			}
			st.where[obj] = n.Name(d, obj)
		}
	}
	for _, obj := range st.objs {
		if st.Has(obj) {
			continue
		}
		for _, s := range n.DDL(d, obj) {
			if _, err := db.ExecContext(ctx, s); err != nil {
				return st, fmt.Errorf("create %s: %w", n.Name(d, obj), err)
			}
		}
		st.where[obj] = n.Name(d, obj)
	}
	if fixes, err = migrations(ctx, db, st); err != nil {
		return st, err
	}
	for _, f := range fixes {
		for _, s := range f.stmts {
			if _, err := db.ExecContext(ctx, s); err != nil {
				return st, fmt.Errorf("%s %s: %w", f.what, st.Name(f.obj), err)
			}
		}
	}
	return st, nil
}

func complete(st State) bool {
	for _, obj := range st.objs {
		if st.where[obj] != st.names.Name(st.d, obj) {
			return false
		}
	}
	return true
}

// addedColumns are the columns a newer version added to a table an older
// version created, with their definitions and the statement (a format
// with the table's name) that brings the table's rows up to date.
var addedColumns = []struct {
	obj       Object
	name, def string
	update    string
}{
	{Runs, "status", "status varchar(20) NOT NULL DEFAULT 'committed'", `UPDATE %s SET status = 'undone' WHERE undone_by IS NOT NULL`},
	{Journal, "undone_by", "undone_by varchar(64)", ""},
	// The journal's general record key (older journals hold record_id
	// only, the value of an integer column "id").
	{Journal, "record_key", "record_key text", ""},
}

// migration is what brings one table an older version created up to date.
type migration struct {
	obj   Object
	what  string
	stmts []string
}

// migrations lists the changes the tables of st need: columns to add, and
// the journal's record_id, NOT NULL in older versions, to make nullable (a
// record keyed otherwise than by one integer has none). Reading needs one
// catalog query per table; nothing is changed.
func migrations(ctx context.Context, db Querier, st State) ([]migration, error) {
	var out []migration
	for _, obj := range []Object{Runs, Journal} {
		if !st.Has(obj) {
			continue
		}
		cols, err := st.d.ColumnInfo(ctx, db, st.Name(obj))
		if err != nil {
			return nil, err
		}
		has := func(name string) (found, notNull bool) {
			for _, c := range cols {
				if c.Name == name {
					return true, c.NotNull
				}
			}
			return false, false
		}
		for _, a := range addedColumns {
			if a.obj != obj {
				continue
			}
			if ok, _ := has(a.name); ok {
				continue
			}
			m := migration{obj: obj, what: "add column to", stmts: []string{`ALTER TABLE ` + st.Name(obj) + ` ADD COLUMN ` + a.def}}
			if a.update != "" {
				m.stmts = append(m.stmts, fmt.Sprintf(a.update, st.Name(obj)))
			}
			out = append(out, m)
		}
		if obj != Journal {
			continue
		}
		if _, notNull := has("record_id"); notNull {
			out = append(out, migration{obj: obj, what: "make record_id nullable in", stmts: st.nullableRecordID()})
		}
	}
	return out, nil
}

// nullableRecordID drops NOT NULL from the journal's record_id: one ALTER
// on PostgreSQL; on SQLite, which cannot alter a column, the table is
// rebuilt under its name (its rows, ids and index kept). The statements run
// after the missing columns were added.
func (st State) nullableRecordID() []string {
	n := st.Name(Journal)
	if st.d.AlterColumns() {
		return []string{`ALTER TABLE ` + n + ` ALTER COLUMN record_id DROP NOT NULL`}
	}
	tmp := n + "_rebuild"
	cols := "id, run_id, step, check_name, table_name, record_id, record_key, action, before_image, after_image, created_at, undone_by"
	out := []string{`CREATE TABLE ` + tmp + journalColumns("INTEGER PRIMARY KEY", ""),
		`INSERT INTO ` + tmp + ` (` + cols + `) SELECT ` + cols + ` FROM ` + n,
		`DROP TABLE ` + n,
		`ALTER TABLE ` + tmp + ` RENAME TO ` + n}
	return append(out, st.names.DDL(st.d, Journal)[1:]...)
}

// journalColumns is the column list of the journal's CREATE TABLE, id
// defined as id, followed by the table constraints key (each starting with
// ",\n").
func journalColumns(id, key string) string {
	return ` (
    id            ` + id + `,
    run_id        varchar(64) NOT NULL,
    step          integer NOT NULL,
    check_name    varchar(200) NOT NULL,
    table_name    varchar(200) NOT NULL,
    record_id     bigint,
    record_key    text,
    action        varchar(20) NOT NULL,
    before_image  text,
    after_image   text,
    created_at    timestamp NOT NULL,
    undone_by     varchar(64)` + key + `
)`
}

// DDL is the CREATE statements of obj under the names n (the schema is
// not created; see [Names.SchemaDDL]).
func (n Names) DDL(d dbx.Dialect, obj Object) []string {
	name := n.Name(d, obj)
	switch obj {
	case Runs:
		return []string{`CREATE TABLE ` + name + ` (
    run_id        varchar(64) PRIMARY KEY,
    kind          varchar(20) NOT NULL,
    stamp         timestamp NOT NULL,
    started_at    timestamp NOT NULL,
    finished_at   timestamp,
    rows_changed  bigint NOT NULL DEFAULT 0,
    undoes        varchar(64),
    undone_by     varchar(64),
    status        varchar(20) NOT NULL DEFAULT 'committed'
)`}
	case Steps:
		return []string{`CREATE TABLE ` + name + ` (
    run_id        varchar(64) NOT NULL,
    step          integer NOT NULL,
    check_name    varchar(200) NOT NULL,
    table_name    varchar(200) NOT NULL,
    action        varchar(20) NOT NULL,
    rows_changed  bigint NOT NULL,
    PRIMARY KEY (run_id, step, table_name)
)`}
	case Journal:
		if d.RowIDKey() {
			// The id is the row id (no index of its own); one index
			// finds the rows of a run's step.
			return []string{`CREATE TABLE ` + name + journalColumns(d.SerialKey(), ""),
				`CREATE INDEX ` + n.Index(d, "journal_run") + ` ON ` + name + ` (run_id, step, record_id)`}
		}
		// One index, the primary key, which finds the rows of a run's step
		// and keeps the id unique: a repair writes each journal row's index
		// entry once. (Journals created before kept a primary key on id
		// and an index ix_journal_run on (run_id, step, record_id); every
		// statement works on either layout.)
		return []string{`CREATE TABLE ` + name + journalColumns("bigserial NOT NULL", `,
    PRIMARY KEY (run_id, step, id)`)}
	case Checksums:
		return []string{`CREATE TABLE ` + name + ` (
    attachment_id bigint PRIMARY KEY,
    checksum      char(64) NOT NULL,
    recorded_at   timestamp NOT NULL
)`}
	case SeedMarker:
		return []string{`CREATE TABLE ` + name + ` (
    seeded_at     timestamp NOT NULL,
    seed          bigint NOT NULL,
    profile       varchar(40) NOT NULL,
    detail        text
)`}
	}
	return nil
}

// SchemaDDL is the statement that creates the names' PostgreSQL schema
// when it is missing; none on SQLite.
func (n Names) SchemaDDL(d dbx.Dialect) []string { return d.CreateSchema(n.schema()) }

// Marker is what the seed marker records.
type Marker struct {
	// SeededAt is when seed ran.
	SeededAt time.Time `db:"seeded_at"`
	// Seed is the generator's seed number.
	Seed int64 `db:"seed"`
	// Profile is the seed profile (quick, normal, stress, custom).
	Profile string `db:"profile"`
	// Detail is free text for the seed (for example its counts as JSON).
	Detail string `db:"detail"`
}

// WriteMarker replaces the seed marker with m. Call [Ensure] first (in the
// same transaction when db is one).
func WriteMarker(ctx context.Context, db Querier, m Marker) error {
	d := dbx.DialectOf(db)
	n := Name(d, SeedMarker)
	if _, err := db.ExecContext(ctx, `DELETE FROM `+n); err != nil {
		return fmt.Errorf("write seed marker: %w", err)
	}
	_, err := db.ExecContext(ctx, d.Rebind(`INSERT INTO `+n+` (seeded_at, seed, profile, detail) VALUES (?, ?, ?, ?)`),
		m.SeededAt.UTC(), m.Seed, m.Profile, m.Detail)
	if err != nil {
		return fmt.Errorf("write seed marker: %w", err)
	}
	return nil
}

// ReadMarker returns the seed marker; ok is false when there is none (no
// marker table, or an empty one). It creates nothing.
func ReadMarker(ctx context.Context, db Querier) (m Marker, ok bool, err error) {
	st, err := Locate(ctx, db)
	if err != nil || !st.Has(SeedMarker) {
		return m, false, err
	}
	var detail sql.NullString
	row := db.QueryRowxContext(ctx, `SELECT seeded_at, seed, profile, detail FROM `+st.Name(SeedMarker)+` ORDER BY seeded_at DESC LIMIT 1`)
	err = row.Scan(&m.SeededAt, &m.Seed, &m.Profile, &detail)
	if errors.Is(err, sql.ErrNoRows) {
		return Marker{}, false, nil
	}
	if err != nil {
		return Marker{}, false, fmt.Errorf("read seed marker: %w", err)
	}
	m.Detail = detail.String
	m.SeededAt = m.SeededAt.UTC()
	return m, true, nil
}

// ClearMarker deletes the seed marker when it exists (reset, or a seed that
// starts over); it creates nothing.
func ClearMarker(ctx context.Context, db Querier) error {
	st, err := Locate(ctx, db)
	if err != nil || !st.Has(SeedMarker) {
		return err
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM `+st.Name(SeedMarker)); err != nil {
		return fmt.Errorf("clear seed marker: %w", err)
	}
	return nil
}

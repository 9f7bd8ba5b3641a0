package heal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/jmoiron/sqlx"
)

// Run kinds recorded in ip2adb's runs table.
const (
	KindHeal   = "heal"   // an auto-heal cycle
	KindRepair = "repair" // integrity --repair
	KindUndo   = "undo"   // an undo of an earlier run
)

// Execer is what EnsureJournal and [JournalTables.Ensure] need: a
// *sqlx.DB or *sqlx.Tx (statements, queries and the driver's
// name, which picks the SQL dialect).
type Execer interface {
	sqlx.ExecerContext
	sqlx.QueryerContext
	DriverName() string
}

// EnsureJournal makes ip2adb's own tables exist (see docs/OWN-STATE.md: on
// PostgreSQL schema ip2adb with runs, run_steps, journal, file_checksums and
// seed_marker; on SQLite tables prefixed ip2adb_), moving tables an older
// version left in the application's schema and adding the columns older
// versions lacked (the journal's record_key). It runs no DDL when nothing
// is missing, so a role with only DML rights on existing tables can repair
// and undo. Given a *sqlx.Tx, it works inside that transaction. For
// journal tables named otherwise, use [JournalTables.Ensure].
//
// The runs table has one row per committed run: run_id, kind (heal, repair,
// undo), stamp (the timestamp the run wrote to the touched columns),
// started_at, finished_at, rows_changed, undoes (the run an undo reverted),
// undone_by and status (committed, partially_undone, undone). run_steps
// names each step's table. The journal has one row per changed row: run_id,
// step, check_name, table_name, record_id (the key when it is one integer
// column, else NULL), record_key (the primary key as a JSON object of
// column name to value, such as {"id": 5} or {"code": "A1", "seq": 2}),
// action, before_image (the whole row before the run; NULL when the run
// inserted it), after_image (the row the run left — the whole row, or on
// PostgreSQL the columns a repair's update set; NULL when it deleted it), created_at and undone_by. See [Journal] for the format of
// the row images.
func EnsureJournal(ctx context.Context, db Execer) error {
	_, err := ownstate.Ensure(ctx, db)
	return err
}

// JournalTables say where a run's journal lives: the runs, their steps and
// the journal of changed rows. The zero value is ip2adb's own place, which
// the command line uses: schema ip2adb on PostgreSQL (ip2adb.runs,
// ip2adb.run_steps, ip2adb.journal), the prefix ip2adb_ on SQLite
// (ip2adb_runs, …).
//
// Names are plain lower-case SQL identifiers. A program that keeps its
// journal elsewhere sets the same JournalTables on its [Cycle] and its
// [UndoOptions] (and in [Step.Journal] when it calls a Repairer itself).
type JournalTables struct {
	// Schema is the PostgreSQL schema holding the tables, created when
	// missing; "ip2adb" when empty. Ignored on SQLite.
	Schema string
	// Prefix starts each table's name ("hall_" gives hall_runs,
	// hall_run_steps, hall_journal): on SQLite "ip2adb_" when empty, on
	// PostgreSQL nothing when empty.
	Prefix string
}

func (t JournalTables) names() ownstate.Names {
	return ownstate.Names{Schema: t.Schema, Prefix: t.Prefix}
}

func (t JournalTables) validate() error { return t.names().Validate() }

// name is the SQL name of one of the journal's tables.
func (t JournalTables) name(d dbx.Dialect, obj ownstate.Object) string { return t.names().Name(d, obj) }

// Ensure makes the journal tables t names exist in db, as EnsureJournal
// does for ip2adb's own: it creates what is missing (and, on PostgreSQL,
// the schema), adds the columns older versions lacked and runs no DDL when
// nothing is missing. The zero JournalTables ensures all of ip2adb's own
// tables, exactly as EnsureJournal. Given a *sqlx.Tx, it works inside that
// transaction.
func (t JournalTables) Ensure(ctx context.Context, db Execer) error {
	if err := t.validate(); err != nil {
		return err
	}
	if t == (JournalTables{}) {
		return EnsureJournal(ctx, db)
	}
	_, err := t.names().Ensure(ctx, db, ownstate.JournalObjects()...)
	return err
}

// locate finds the journal tables without creating anything.
func (t JournalTables) locate(ctx context.Context, db Execer) (ownstate.State, error) {
	if t == (JournalTables{}) {
		return ownstate.Locate(ctx, db)
	}
	return t.names().Locate(ctx, db, ownstate.JournalObjects()...)
}

// JournalDDL returns the statements that create the journal tables t names
// in dialect d ("postgres" or "sqlite"): on PostgreSQL the schema (IF NOT
// EXISTS), then the runs, run_steps and journal tables and, on SQLite, the
// journal's index (on PostgreSQL its primary key serves) — for migration
// tools such as goose. Runs and undos create missing
// tables themselves; with the tables in place they run no DDL.
func JournalDDL(d string, t JournalTables) ([]string, error) {
	dia, err := dbx.DialectFor(d)
	if err != nil {
		return nil, err
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	n := t.names()
	out := n.SchemaDDL(dia)
	for _, obj := range ownstate.JournalObjects() {
		out = append(out, n.DDL(dia, obj)...)
	}
	return out, nil
}

// NewRunID returns a run id such as "AH-20261128T020000Z-4f3a": the prefix,
// the UTC time to the second and a random suffix.
func NewRunID(prefix string, now time.Time) string {
	b := make([]byte, 2)
	rand.Read(b)
	return prefix + "-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// Run statuses recorded in ip2adb's runs table.
const (
	StatusCommitted       = "committed"        // the run's changes are in place
	StatusPartiallyUndone = "partially_undone" // an undo restored some rows; others were blocked
	StatusUndone          = "undone"           // an undo restored every row
)

// runRow is a row of ip2adb's runs table.
type runRow struct {
	RunID    string  `db:"run_id"`
	Kind     string  `db:"kind"`
	Undoes   *string `db:"undoes"`
	UndoneBy *string `db:"undone_by"`
	Status   string  `db:"status"`
}

// beginRunRow inserts the run's row; it is the first write of the run's
// transaction, so SQLite takes its write lock up front.
func beginRunRow(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, jt JournalTables, runID, kind string, stamp time.Time, undoes string) error {
	var u any
	if undoes != "" {
		u = undoes
	}
	_, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO `+jt.name(d, ownstate.Runs)+` (run_id, kind, stamp, started_at, undoes) VALUES (?, ?, ?, ?, ?)`),
		runID, kind, stamp, stamp, u)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	return nil
}

// finishRunRow records the end of the run and its row count.
func finishRunRow(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, jt JournalTables, runID string, rows int64, finished time.Time) error {
	_, err := tx.ExecContext(ctx, d.Rebind(`UPDATE `+jt.name(d, ownstate.Runs)+` SET finished_at = ?, rows_changed = ? WHERE run_id = ?`),
		finished.UTC(), rows, runID)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	return nil
}

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

// Execer is what EnsureJournal needs: a *sqlx.DB or *sqlx.Tx.
type Execer = ownstate.Querier

// EnsureJournal makes ip2adb's own tables exist (see package ownstate: on
// PostgreSQL schema ip2adb with runs, run_steps, journal, file_checksums and
// seed_marker; on SQLite tables prefixed ip2adb_), moving tables an older
// version left in the application's schema. It runs no DDL when nothing is
// missing, so a role with only DML rights on existing tables can repair and
// undo. Given a *sqlx.Tx, it works inside that transaction.
//
// The runs table has one row per committed run: run_id, kind (heal, repair,
// undo), stamp (the timestamp the run wrote to updated_at), started_at,
// finished_at, rows_changed, undoes (the run an undo reverted), undone_by
// and status (committed, partially_undone, undone). run_steps names each
// step's table. The journal has one row per changed row: run_id, step,
// check_name, table_name, record_id, action, before_image (the whole row
// before the run; NULL when the run inserted it), after_image (the whole
// row the run left; NULL when it deleted it), created_at and undone_by.
// Images are JSON objects of column name to value; see [Undo] for how a
// SQLite BLOB is written.
func EnsureJournal(ctx context.Context, db Execer) error {
	_, err := ownstate.Ensure(ctx, db)
	return err
}

// own is the SQL name of one of ip2adb's own tables, where EnsureJournal
// puts it.
func own(d dbx.Dialect, obj ownstate.Object) string { return ownstate.Name(d, obj) }

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
func beginRunRow(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, runID, kind string, stamp time.Time, undoes string) error {
	var u any
	if undoes != "" {
		u = undoes
	}
	_, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO `+own(d, ownstate.Runs)+` (run_id, kind, stamp, started_at, undoes) VALUES (?, ?, ?, ?, ?)`),
		runID, kind, stamp, stamp, u)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	return nil
}

// finishRunRow records the end of the run and its row count.
func finishRunRow(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, runID string, rows int64, finished time.Time) error {
	_, err := tx.ExecContext(ctx, d.Rebind(`UPDATE `+own(d, ownstate.Runs)+` SET finished_at = ?, rows_changed = ? WHERE run_id = ?`),
		finished.UTC(), rows, runID)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	return nil
}

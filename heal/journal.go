package heal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// Run kinds recorded in ip2adb_runs.
const (
	KindHeal   = "heal"   // an auto-heal cycle
	KindRepair = "repair" // integrity --repair
	KindUndo   = "undo"   // an undo of an earlier run
)

// Execer is what EnsureJournal needs: a *sqlx.DB or *sqlx.Tx.
type Execer interface {
	sqlx.ExecerContext
	DriverName() string
}

// EnsureJournal creates the journal tables when they are missing; it is
// idempotent and runs on PostgreSQL and SQLite.
//
// ip2adb_runs has one row per committed run: run_id, kind (heal, repair,
// undo), stamp (the timestamp the run wrote to updated_at), started_at,
// finished_at, rows_changed, undoes (the run an undo reverted) and
// undone_by. ip2adb_journal has one row per changed row: run_id, step,
// check_name, table_name, record_id, action, before_image (JSON text of the
// whole row before the run; NULL when the run inserted it), after_image
// (JSON text of the row the run left, when updated_at cannot tell) and
// created_at.
func EnsureJournal(ctx context.Context, db Execer) error {
	d := dbx.DialectOf(db)
	id := "bigserial PRIMARY KEY"
	if d == dbx.SQLite {
		id = "INTEGER PRIMARY KEY"
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ip2adb_runs (
    run_id        varchar(64) PRIMARY KEY,
    kind          varchar(20) NOT NULL,
    stamp         timestamp NOT NULL,
    started_at    timestamp NOT NULL,
    finished_at   timestamp,
    rows_changed  bigint NOT NULL DEFAULT 0,
    undoes        varchar(64),
    undone_by     varchar(64)
)`,
		`CREATE TABLE IF NOT EXISTS ip2adb_journal (
    id            ` + id + `,
    run_id        varchar(64) NOT NULL,
    step          integer NOT NULL,
    check_name    varchar(200) NOT NULL,
    table_name    varchar(200) NOT NULL,
    record_id     bigint NOT NULL,
    action        varchar(20) NOT NULL,
    before_image  text,
    after_image   text,
    created_at    timestamp NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS ix_ip2adb_journal_run ON ip2adb_journal (run_id, step, record_id)`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("create journal: %w", err)
		}
	}
	return nil
}

// NewRunID returns a run id such as "AH-20261128T020000Z-4f3a": the prefix,
// the UTC time to the second and a random suffix.
func NewRunID(prefix string, now time.Time) string {
	b := make([]byte, 2)
	rand.Read(b)
	return prefix + "-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// runRow is a row of ip2adb_runs.
type runRow struct {
	RunID    string  `db:"run_id"`
	Kind     string  `db:"kind"`
	Undoes   *string `db:"undoes"`
	UndoneBy *string `db:"undone_by"`
}

// beginRunRow inserts the run's row; it is the first write of the run's
// transaction, so SQLite takes its write lock up front.
func beginRunRow(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, runID, kind string, stamp time.Time, undoes string) error {
	var u any
	if undoes != "" {
		u = undoes
	}
	_, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO ip2adb_runs (run_id, kind, stamp, started_at, undoes) VALUES (?, ?, ?, ?, ?)`),
		runID, kind, stamp, stamp, u)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	return nil
}

// finishRunRow records the end of the run and its row count.
func finishRunRow(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, runID string, rows int64, finished time.Time) error {
	_, err := tx.ExecContext(ctx, d.Rebind(`UPDATE ip2adb_runs SET finished_at = ?, rows_changed = ? WHERE run_id = ?`),
		finished.UTC(), rows, runID)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	return nil
}

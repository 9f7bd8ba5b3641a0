package heal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// UndoOptions tune [Undo].
type UndoOptions struct {
	// DryRun executes every statement and rolls back: the result reports
	// true row counts and nothing changes.
	DryRun bool
	// Force restores the before-images even over rows changed after the
	// run (their later changes are lost).
	Force bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives progress at V(1); the zero value discards.
	Log logr.Logger
}

// UndoResult is what an undo did (or, in a dry run, would do).
type UndoResult struct {
	// RunID is the undo's own run id ("UN-…"); it can be undone in turn.
	RunID string `json:"run_id"`
	// Undoes is the run that was reverted.
	Undoes string `json:"undoes"`
	DryRun bool   `json:"dry_run"`
	// Rows is the number of journal entries restored.
	Rows int64 `json:"rows"`
	// Steps are the reverted steps, last step of the run first.
	Steps []UndoStep `json:"steps"`
}

// UndoStep is one reverted step of a run.
type UndoStep struct {
	Check  string `json:"check"`
	Table  string `json:"table"`
	Action string `json:"action"` // the action of the step being reverted
	Rows   int64  `json:"rows"`
}

// ConflictError is returned by [Undo] when rows changed after the run; the
// undo changed nothing.
type ConflictError struct {
	RunID    string
	Rows     int      // journal entries whose row changed after the run
	Examples []string // up to five "table#id"
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("cannot undo %s: %d row(s) changed after the run (%s); nothing was changed (--force restores them anyway)",
		e.RunID, e.Rows, strings.Join(e.Examples, ", "))
}

// UnknownRunError is returned by [Undo] for a run id the journal does not
// hold (never committed, a dry run, or a typo).
type UnknownRunError struct{ RunID string }

func (e *UnknownRunError) Error() string {
	return fmt.Sprintf("no journaled run %q (dry runs are not journaled)", e.RunID)
}

// AlreadyUndoneError is returned by [Undo] for a run already reverted.
type AlreadyUndoneError struct{ RunID, By string }

func (e *AlreadyUndoneError) Error() string {
	return fmt.Sprintf("run %s was already undone by %s (undo %s to bring its changes back)", e.RunID, e.By, e.By)
}

// Undo restores every before-image journaled by runID, in one transaction
// under the run lock: rows the run deleted come back with their ids and all
// columns, rows it updated get all their old column values (updated_at
// included), rows an undo re-inserted are deleted again. Steps are reverted
// last first.
//
// Undo refuses with a [*ConflictError] and changes nothing when a row
// changed after the run — its updated_at is no longer the run's stamp, its
// image differs from what the run left, or a deleted row's id is in use —
// unless opt.Force. The undo is itself a journaled run (kind "undo") that
// can be undone; undoing it makes the original run undoable again.
func Undo(ctx context.Context, db *sqlx.DB, runID string, opt UndoOptions) (UndoResult, error) {
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	stamp := now().UTC().Truncate(time.Microsecond)
	res := UndoResult{RunID: NewRunID("UN", stamp), Undoes: runID, DryRun: opt.DryRun, Steps: []UndoStep{}}
	lock, err := AcquireLock(ctx, db)
	if err != nil {
		return res, err
	}
	defer lock.Release()

	d := dbx.DialectOf(db)
	tx, err := beginTx(ctx, db, d)
	if err != nil {
		return res, fmt.Errorf("undo %s: %w", runID, err)
	}
	defer tx.Rollback()
	if err := EnsureJournal(ctx, tx); err != nil {
		return res, err
	}
	var run runRow
	err = tx.GetContext(ctx, &run, d.Rebind(`SELECT run_id, kind, undoes, undone_by FROM ip2adb_runs WHERE run_id = ?`), runID)
	if errors.Is(err, sql.ErrNoRows) {
		return res, &UnknownRunError{RunID: runID}
	}
	if err != nil {
		return res, fmt.Errorf("undo %s: %w", runID, err)
	}
	if run.UndoneBy != nil {
		return res, &AlreadyUndoneError{RunID: runID, By: *run.UndoneBy}
	}
	if err := beginRunRow(ctx, tx, d, res.RunID, KindUndo, stamp, runID); err != nil {
		return res, err
	}

	type stepInfo struct {
		Step  int    `db:"step"`
		Check string `db:"check_name"`
		Table string `db:"table_name"`
		Lo    string `db:"lo"`
		Hi    string `db:"hi"`
		Rows  int64  `db:"n"`
	}
	var steps []stepInfo
	err = tx.SelectContext(ctx, &steps, d.Rebind(`SELECT step, check_name, table_name, min(action) AS lo, max(action) AS hi, count(*) AS n
FROM ip2adb_journal WHERE run_id = ? GROUP BY step, check_name, table_name ORDER BY step DESC`), runID)
	if err != nil {
		return res, fmt.Errorf("undo %s: read journal: %w", runID, err)
	}
	for k, s := range steps {
		t, err := loadTable(ctx, tx, d, s.Table)
		if err != nil {
			return res, fmt.Errorf("undo %s step %d (%s): %w", runID, s.Step, s.Check, err)
		}
		if !opt.Force {
			if err := checkConflicts(ctx, tx, d, t, runID, s.Step); err != nil {
				return res, err
			}
		}
		if err := revertStep(ctx, tx, d, t, runID, s.Step, res.RunID, k+1, stamp); err != nil {
			return res, fmt.Errorf("undo %s step %d (%s): %w", runID, s.Step, s.Check, err)
		}
		action := s.Lo
		if s.Lo != s.Hi {
			action = "mixed"
		}
		opt.Log.V(1).Info("reverted step", "run", runID, "step", s.Step, "check", s.Check, "table", s.Table, "rows", s.Rows)
		res.Steps = append(res.Steps, UndoStep{Check: s.Check, Table: s.Table, Action: action, Rows: s.Rows})
		res.Rows += s.Rows
	}
	if _, err := tx.ExecContext(ctx, d.Rebind(`UPDATE ip2adb_runs SET undone_by = ? WHERE run_id = ?`), res.RunID, runID); err != nil {
		return res, fmt.Errorf("undo %s: %w", runID, err)
	}
	if run.Kind == KindUndo && run.Undoes != nil {
		if _, err := tx.ExecContext(ctx, d.Rebind(`UPDATE ip2adb_runs SET undone_by = NULL WHERE run_id = ?`), *run.Undoes); err != nil {
			return res, fmt.Errorf("undo %s: %w", runID, err)
		}
	}
	if err := finishRunRow(ctx, tx, d, res.RunID, res.Rows, now()); err != nil {
		return res, err
	}
	if opt.DryRun {
		return res, tx.Rollback()
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("undo %s: commit: %w", runID, err)
	}
	return res, nil
}

// beginTx opens a run's transaction: REPEATABLE READ on PostgreSQL, so that
// every statement of the run sees the same rows.
func beginTx(ctx context.Context, db *sqlx.DB, d dbx.Dialect) (*sqlx.Tx, error) {
	opts := &sql.TxOptions{}
	if d == dbx.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	return db.BeginTxx(ctx, opts)
}

// checkConflicts fails when a row journaled by (runID, step) is not as the
// run left it.
func checkConflicts(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, t table, runID string, step int) error {
	q := d.Quote(t.name)
	unchanged := "FALSE"
	if t.has("updated_at") {
		unchanged = `EXISTS (SELECT 1 FROM ` + q + ` WHERE ` + q + `.id = j.record_id AND ` + q +
			`.updated_at = (SELECT r.stamp FROM ip2adb_runs r WHERE r.run_id = j.run_id))`
	}
	query := `SELECT j.record_id FROM ip2adb_journal j WHERE j.run_id = ? AND j.step = ? AND NOT (CASE
  WHEN j.after_image IS NOT NULL THEN EXISTS (SELECT 1 FROM ` + q + ` WHERE ` + q + `.id = j.record_id AND ` + t.image(d, q) + ` = j.after_image)
  WHEN j.action IN ('delete', 'remove') THEN NOT EXISTS (SELECT 1 FROM ` + q + ` WHERE ` + q + `.id = j.record_id)
  ELSE ` + unchanged + ` END) ORDER BY j.record_id`
	rows, err := tx.QueryContext(ctx, d.Rebind(query), runID, step)
	if err != nil {
		return fmt.Errorf("undo %s: check for later changes: %w", runID, err)
	}
	defer rows.Close()
	ce := &ConflictError{RunID: runID}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("undo %s: check for later changes: %w", runID, err)
		}
		ce.Rows++
		if len(ce.Examples) < 5 {
			ce.Examples = append(ce.Examples, fmt.Sprintf("%s#%d", t.name, id))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("undo %s: check for later changes: %w", runID, err)
	}
	if ce.Rows > 0 {
		return ce
	}
	return nil
}

// revertStep restores the before-images of (runID, step), journaling what it
// overwrites as step k of the undo run newID.
func revertStep(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, t table, runID string, step int, newID string, k int, stamp time.Time) error {
	q := d.Quote(t.name)
	exec := func(what, query string, args ...any) error {
		if _, err := tx.ExecContext(ctx, d.Rebind(query), args...); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	// Journal first: the current image of every row about to change.
	err := exec("journal", `INSERT INTO ip2adb_journal (run_id, step, check_name, table_name, record_id, action, before_image, created_at)
SELECT ?, ?, j.check_name, j.table_name, j.record_id,
  CASE WHEN j.before_image IS NULL THEN 'remove' WHEN `+q+`.id IS NULL THEN 'insert' ELSE 'restore' END,
  CASE WHEN `+q+`.id IS NULL THEN NULL ELSE `+t.image(d, q)+` END, ?
FROM ip2adb_journal j LEFT JOIN `+q+` ON `+q+`.id = j.record_id
WHERE j.run_id = ? AND j.step = ?`, newID, k, stamp, runID, step)
	if err != nil {
		return err
	}
	// Rows the run inserted go away.
	err = exec("delete inserted rows", `DELETE FROM `+q+` WHERE id IN (SELECT j.record_id FROM ip2adb_journal j
WHERE j.run_id = ? AND j.step = ? AND j.before_image IS NULL)`, runID, step)
	if err != nil {
		return err
	}
	var sets, vals []string
	var cols []string
	for _, c := range t.cols {
		cq := d.Quote(c)
		cols = append(cols, cq)
		if d == dbx.Postgres {
			vals = append(vals, "r."+cq)
			if c != "id" {
				sets = append(sets, cq+" = r."+cq)
			}
		} else {
			v := "json_extract(j.before_image, '$." + c + "')"
			vals = append(vals, v)
			if c != "id" {
				sets = append(sets, cq+" = "+v)
			}
		}
	}
	var update, insert string
	if d == dbx.Postgres {
		from := ` FROM ip2adb_journal j, json_populate_record(NULL::` + q + `, j.before_image::json) r
WHERE j.run_id = ? AND j.step = ? AND j.before_image IS NOT NULL`
		update = `UPDATE ` + q + ` SET ` + strings.Join(sets, ", ") + from + ` AND ` + q + `.id = j.record_id`
		insert = `INSERT INTO ` + q + ` (` + strings.Join(cols, ", ") + `) SELECT ` + strings.Join(vals, ", ") + from +
			` AND NOT EXISTS (SELECT 1 FROM ` + q + ` x WHERE x.id = j.record_id)`
	} else {
		from := ` FROM ip2adb_journal AS j WHERE j.run_id = ? AND j.step = ? AND j.before_image IS NOT NULL`
		update = `UPDATE ` + q + ` SET ` + strings.Join(sets, ", ") + from + ` AND ` + q + `.id = j.record_id`
		insert = `INSERT INTO ` + q + ` (` + strings.Join(cols, ", ") + `) SELECT ` + strings.Join(vals, ", ") + from +
			` AND NOT EXISTS (SELECT 1 FROM ` + q + ` AS x WHERE x.id = j.record_id)`
	}
	// Rows still there get their old values; rows gone come back.
	if err := exec("restore updated rows", update, runID, step); err != nil {
		return err
	}
	if err := exec("re-insert deleted rows", insert, runID, step); err != nil {
		return err
	}
	return writeAfterImages(ctx, tx, d, t, newID, k)
}

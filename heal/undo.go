package heal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
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
	// SkipBlocked restores every row that can be restored and leaves the
	// rows a constraint blocks (listed in UndoResult.Blocked); without it
	// a blocked row makes the whole undo change nothing.
	SkipBlocked bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives progress at V(1); the zero value discards.
	Log logr.Logger
	// Timeouts bound the lock waits and statements of the undo
	// transaction on PostgreSQL (the zero value: the defaults).
	Timeouts Timeouts
	// JournalTables are where the run was journaled; the zero value is
	// ip2adb's own tables.
	JournalTables JournalTables
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
	// Steps are the reverted steps, last step of the run first (a step
	// appears again when a later pass restored more of its rows).
	Steps []UndoStep `json:"steps"`
	// Status is the undone run's status afterwards: undone, or
	// partially_undone while blocked rows remain.
	Status string `json:"status"`
	// Blocked are the rows left unrestored because a constraint forbids
	// them (with SkipBlocked; otherwise Undo returns a BlockedError).
	Blocked []BlockedRows `json:"blocked"`
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
	Examples []string // up to five "table#id" (a key other than one integer: "table#{"code":"A1"}")
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("cannot undo %s: %d row(s) changed after the run (%s); nothing was changed (a forced undo restores them anyway)",
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

// BlockedRows are rows of one table whose restore a constraint forbids
// (for example employments whose organization is still missing).
type BlockedRows struct {
	Table      string `json:"table"`
	Constraint string `json:"constraint"`
	Rows       int64  `json:"rows"`
	// RecordIDs are the rows' keys when the table's key is one integer
	// column.
	RecordIDs []int64 `json:"record_ids"`
	// Keys are the rows' keys (JSON objects of column name to value) when
	// the table's key is anything else; none otherwise.
	Keys []string `json:"keys,omitempty"`
}

// BlockedError is returned by [Undo] when restoring some rows would violate
// a constraint and UndoOptions.SkipBlocked is not set; the undo changed
// nothing.
type BlockedError struct {
	RunID   string
	Blocked []BlockedRows
}

func (e *BlockedError) Error() string {
	var parts []string
	for _, b := range e.Blocked {
		parts = append(parts, fmt.Sprintf("%d row(s) of %s by constraint %s", b.Rows, b.Table, b.Constraint))
	}
	return fmt.Sprintf("cannot undo %s: restoring would violate constraints (%s); nothing was changed — restore the parents first, then undo again (or skip the blocked rows and restore the rest now)",
		e.RunID, strings.Join(parts, "; "))
}

// Undo restores every before-image journaled by runID that is not restored
// yet, in one transaction under the run lock: rows the run deleted come
// back with their ids and all columns, rows it updated get all their old
// column values (updated_at included), rows an undo re-inserted are deleted
// again. Only the tables the run's own steps name are written, each step's
// journal rows selected by run, step and table. Steps are reverted last
// first, and again while a pass restores rows that others depend on.
//
// A row changed after the run — its whole current image differs from the
// image the run left, or a deleted row's id is in use again — is a
// conflict: Undo returns a [*ConflictError] and changes nothing, unless
// opt.Force.
//
// A row whose restore would violate a foreign key (an orphan whose parent
// is still missing) is blocked. Undo is all-or-nothing: it returns a
// [*BlockedError] and changes nothing. With opt.SkipBlocked it restores the
// rest, lists the blocked rows in UndoResult.Blocked and marks the run
// partially_undone; a later Undo of the same run continues with what is
// left.
//
// The undo is itself a journaled run (kind "undo") that can be undone;
// undoing it makes the rows it restored undoable again. Undo never creates
// ip2adb's tables when there are none (the run is then unknown).
func Undo(ctx context.Context, db *sqlx.DB, runID string, opt UndoOptions) (UndoResult, error) {
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	stamp := now().UTC().Truncate(time.Microsecond)
	res := UndoResult{RunID: NewRunID("UN", stamp), Undoes: runID, DryRun: opt.DryRun, Steps: []UndoStep{}, Blocked: []BlockedRows{}}
	lock, err := AcquireLock(ctx, db)
	if err != nil {
		return res, err
	}
	defer lock.Release()

	d := dbx.DialectOf(db)
	jt := opt.JournalTables
	st, err := jt.locate(ctx, db)
	if err != nil {
		return res, fmt.Errorf("undo %s: %w", runID, err)
	}
	if !st.Has(ownstate.Runs) || !st.Has(ownstate.Journal) {
		return res, &UnknownRunError{RunID: runID}
	}
	tx, err := beginTx(ctx, db, d)
	if err != nil {
		return res, fmt.Errorf("undo %s: %w", runID, err)
	}
	defer tx.Rollback()
	if err := opt.Timeouts.setLocal(ctx, tx, d); err != nil {
		return res, fmt.Errorf("undo %s: %w", runID, err)
	}
	if err := jt.Ensure(ctx, tx); err != nil {
		return res, err
	}
	runs, journal := jt.name(d, ownstate.Runs), jt.name(d, ownstate.Journal)
	var run runRow
	err = tx.GetContext(ctx, &run, d.Rebind(`SELECT run_id, kind, undoes, undone_by, status FROM `+runs+` WHERE run_id = ?`), runID)
	if errors.Is(err, sql.ErrNoRows) {
		return res, &UnknownRunError{RunID: runID}
	}
	if err != nil {
		return res, fmt.Errorf("undo %s: %w", runID, err)
	}
	if run.UndoneBy != nil || run.Status == StatusUndone {
		by := "an earlier undo"
		if run.UndoneBy != nil {
			by = *run.UndoneBy
		}
		return res, &AlreadyUndoneError{RunID: runID, By: by}
	}
	if err := beginRunRow(ctx, tx, d, jt, res.RunID, KindUndo, stamp, runID); err != nil {
		return res, err
	}
	steps, err := runSteps(ctx, tx, d, jt, runID)
	if err != nil {
		return res, fmt.Errorf("undo %s: %w", runID, err)
	}
	model, err := catalog.Read(ctx, tx, catalog.Options{})
	if err != nil {
		return res, fmt.Errorf("undo %s: %w", runID, err)
	}
	// Each step's table, keyed as the step's journal rows are.
	tables := make([]table, len(steps))
	fks := map[string][]foreignKey{}
	for i, s := range steps {
		t, err := undoTable(ctx, tx, d, jt, model, runID, s)
		if err != nil {
			return res, fmt.Errorf("undo %s step %d (%s): %w", runID, s.Step, s.Check, err)
		}
		tables[i] = t
		fks[s.Table] = foreignKeys(model, d, s.Table)
	}

	// Passes: a row blocked by a parent that a later step of this undo
	// brings back is restored by the next pass.
	k := 0
	for {
		restored := false
		for i, s := range steps {
			t := tables[i]
			if t.key == nil {
				continue
			}
			if !opt.Force {
				if err := checkConflicts(ctx, tx, d, jt, t, runID, s.Step); err != nil {
					return res, err
				}
			}
			n, err := revertStep(ctx, tx, d, jt, t, fks[s.Table], runID, s, res.RunID, k+1, stamp)
			if err != nil {
				return res, fmt.Errorf("undo %s step %d (%s): %w", runID, s.Step, s.Check, err)
			}
			if n == 0 {
				continue
			}
			k++
			restored = true
			opt.Log.V(1).Info("reverted step", "run", runID, "step", s.Step, "check", s.Check, "table", s.Table, "rows", n)
			res.Steps = append(res.Steps, UndoStep{Check: s.Check, Table: s.Table, Action: s.Action, Rows: n})
			res.Rows += n
		}
		if !restored {
			break
		}
	}
	for i, s := range steps {
		if tables[i].key == nil {
			continue
		}
		b, err := blockedRows(ctx, tx, d, jt, tables[i], fks[s.Table], runID, s.Step)
		if err != nil {
			return res, fmt.Errorf("undo %s: %w", runID, err)
		}
		res.Blocked = mergeBlocked(res.Blocked, b)
	}
	if len(res.Blocked) > 0 && !opt.SkipBlocked {
		return res, &BlockedError{RunID: runID, Blocked: res.Blocked}
	}

	// The undone run's status; undoing an undo makes the rows it restored
	// undoable again.
	if err := setStatus(ctx, tx, d, jt, runID, res.RunID); err != nil {
		return res, fmt.Errorf("undo %s: %w", runID, err)
	}
	if run.Kind == KindUndo && run.Undoes != nil {
		if err := reopen(ctx, tx, d, journal, *run.Undoes, runID, res.RunID); err != nil {
			return res, fmt.Errorf("undo %s: %w", runID, err)
		}
		if err := setStatus(ctx, tx, d, jt, *run.Undoes, ""); err != nil {
			return res, fmt.Errorf("undo %s: %w", runID, err)
		}
	}
	if err := tx.GetContext(ctx, &res.Status, d.Rebind(`SELECT status FROM `+runs+` WHERE run_id = ?`), runID); err != nil {
		return res, fmt.Errorf("undo %s: %w", runID, err)
	}
	if err := finishRunRow(ctx, tx, d, jt, res.RunID, res.Rows, now()); err != nil {
		return res, err
	}
	if res.Rows == 0 && len(res.Blocked) > 0 {
		// Every row left is blocked: nothing to keep.
		res.Status = run.Status
		return res, tx.Rollback()
	}
	if opt.DryRun {
		return res, tx.Rollback()
	}
	if err := lock.Held(ctx); err != nil {
		return res, fmt.Errorf("undo %s: commit: %w", runID, err)
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("undo %s: commit: %w", runID, err)
	}
	return res, nil
}

// reopenQuery is the statement that makes the rows of run A that undo run
// U restored undoable again once an undo of U restored them back: the rows
// of A marked undone by U (arguments 1 and 2) whose table and key — NULL
// keys alike — are among the rows of U now marked undone by its undo
// (arguments 3 and 4).
//
// The rows of U are read once, by the journal's index on run_id (either
// layout), into a set that each row of A is looked up in: PostgreSQL hashes
// the uncorrelated IN list (a "hashed SubPlan"), SQLite builds an
// ephemeral index of it. The IN is wrapped in IS TRUE so that PostgreSQL
// does not turn it into a join, which on a journal just written and not
// yet analysed it plans as a nested loop over the two runs' rows — the
// correlated EXISTS this replaces ran past the 10-minute statement timeout
// for a 100,000-row run. The key columns are compared as their COALESCE
// plus IS NULL, which is null-safe equality (IS NOT DISTINCT FROM) in
// terms an IN list can hash.
func reopenQuery(journal string) string {
	key := func(a string) string {
		return a + `.table_name, COALESCE(` + a + `.record_id, 0), ` + a + `.record_id IS NULL, COALESCE(` + a + `.record_key, ''), ` + a + `.record_key IS NULL`
	}
	return `UPDATE ` + journal + ` AS a SET undone_by = NULL WHERE a.run_id = ? AND a.undone_by = ?
AND ((` + key("a") + `) IN (SELECT ` + key("u") + ` FROM ` + journal + ` u WHERE u.run_id = ? AND u.undone_by = ?)) IS TRUE`
}

// hashAnyList lets PostgreSQL hash an IN list whatever its estimated size.
// The planner hashes an uncorrelated IN list only when its estimate fits in
// work_mem × hash_mem_multiplier (8 MB at the defaults: about 80,000
// journal keys); past that it rescans the list for every outer row, which
// for an undo of a few hundred thousand rows never ends. At the maximum
// multiplier any list qualifies; the hash table still takes only the
// memory of the rows the list really has.
func hashAnyList() dbx.Setting { return dbx.Setting{Name: "hash_mem_multiplier", Value: "1000"} }

// reopen runs reopenQuery (arguments: run A, undo U, U's undo N) with
// hashAnyList for that statement only: the setting goes back to its
// session value after it.
func reopen(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, journal, a, u, n string) error {
	if err := d.SetLocal(ctx, tx, hashAnyList()); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, d.Rebind(reopenQuery(journal)), a, u, u, n); err != nil {
		return err
	}
	return d.SetLocal(ctx, tx, dbx.Setting{Name: hashAnyList().Name, Value: "DEFAULT"})
}

// stepInfo is one step of a run to revert.
type stepInfo struct {
	Step   int    `db:"step"`
	Check  string `db:"check_name"`
	Table  string `db:"table_name"`
	Action string `db:"action"`
}

// runSteps reads the steps of runID, last first, from the steps table.
// Runs journaled before the steps table existed name their steps only in
// the journal, so their steps are read from there.
func runSteps(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, jt JournalTables, runID string) ([]stepInfo, error) {
	var steps []stepInfo
	err := tx.SelectContext(ctx, &steps, d.Rebind(`SELECT step, check_name, table_name, action FROM `+jt.name(d, ownstate.Steps)+
		` WHERE run_id = ? ORDER BY step DESC, table_name`), runID)
	if err != nil {
		return nil, fmt.Errorf("read steps: %w", err)
	}
	if len(steps) > 0 {
		return steps, nil
	}
	err = tx.SelectContext(ctx, &steps, d.Rebind(`SELECT step, check_name, table_name,
  CASE WHEN min(action) = max(action) THEN min(action) ELSE 'mixed' END AS action
FROM `+jt.name(d, ownstate.Journal)+` WHERE run_id = ? GROUP BY step, check_name, table_name ORDER BY step DESC, table_name`), runID)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return steps, nil
}

// setStatus recomputes the status of runID from its journal: undone when
// no row is left to restore (then undone_by is by, or stays as it was when
// by is empty), partially_undone when some rows were restored, else
// committed.
func setStatus(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, jt JournalTables, runID, by string) error {
	j := jt.name(d, ownstate.Journal)
	pending := `EXISTS (SELECT 1 FROM ` + j + ` WHERE run_id = ? AND undone_by IS NULL)`
	some := `EXISTS (SELECT 1 FROM ` + j + ` WHERE run_id = ? AND undone_by IS NOT NULL)`
	var byArg any
	if by != "" {
		byArg = by
	}
	_, err := tx.ExecContext(ctx, d.Rebind(`UPDATE `+jt.name(d, ownstate.Runs)+` SET
  status = CASE WHEN NOT `+pending+` THEN '`+StatusUndone+`' WHEN `+some+` THEN '`+StatusPartiallyUndone+`' ELSE '`+StatusCommitted+`' END,
  undone_by = CASE WHEN NOT `+pending+` THEN COALESCE(?, undone_by) ELSE NULL END
WHERE run_id = ?`), runID, runID, runID, byArg, runID)
	if err != nil {
		return fmt.Errorf("record status of %s: %w", runID, err)
	}
	return nil
}

// beginTx opens a run's transaction: REPEATABLE READ on PostgreSQL, so that
// every statement of the run sees the same rows.
func beginTx(ctx context.Context, db *sqlx.DB, d dbx.Dialect) (*sqlx.Tx, error) {
	return db.BeginTxx(ctx, &sql.TxOptions{Isolation: d.SnapshotIsolation()})
}

// pendingWhere selects the journal rows j of (run, step, table) not
// restored yet; its arguments are run, step and table.
const pendingWhere = `j.run_id = ? AND j.step = ? AND j.table_name = ? AND j.undone_by IS NULL`

// checkConflicts fails when a row of t journaled by (runID, step) and not
// restored yet is not as the run left it: its whole image differs from the
// image the run left (the after-image, or on PostgreSQL the before-image
// with the after-image's changed columns over it), or a row the run
// deleted exists again. Journal rows written
// before after-images were kept for every update fall back to the touched
// column (updated_at) equal to the run's stamp.
func checkConflicts(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, jt JournalTables, t table, runID string, step int) error {
	q := d.Quote(t.name)
	unchanged := "FALSE"
	if t.touched != "" {
		unchanged = `EXISTS (SELECT 1 FROM ` + q + ` WHERE ` + t.match(d, q, "j") + ` AND ` + q + `.` + d.Quote(t.touched) +
			` = (SELECT r.stamp FROM ` + jt.name(d, ownstate.Runs) + ` r WHERE r.run_id = j.run_id))`
	}
	query := `SELECT j.record_id, j.record_key FROM ` + jt.name(d, ownstate.Journal) + ` j WHERE ` + pendingWhere + ` AND NOT (CASE
  WHEN j.after_image IS NOT NULL THEN EXISTS (SELECT 1 FROM ` + q + ` WHERE ` + t.match(d, q, "j") + ` AND ` + d.ImageUnchanged(t.image(d, q), "j.before_image", "j.after_image") + `)
  WHEN j.action IN ('delete', 'remove') THEN NOT EXISTS (SELECT 1 FROM ` + q + ` WHERE ` + t.match(d, q, "j") + `)
  ELSE ` + unchanged + ` END) ORDER BY j.record_id, j.record_key`
	rows, err := tx.QueryContext(ctx, d.Rebind(query), runID, step, t.name)
	if err != nil {
		return fmt.Errorf("undo %s: check for later changes: %w", runID, err)
	}
	defer rows.Close()
	ce := &ConflictError{RunID: runID}
	for rows.Next() {
		var id *int64
		var key *string
		if err := rows.Scan(&id, &key); err != nil {
			return fmt.Errorf("undo %s: check for later changes: %w", runID, err)
		}
		ce.Rows++
		if len(ce.Examples) < 5 {
			ce.Examples = append(ce.Examples, t.name+"#"+describeKey(id, key))
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

// undoTable is the table of step s of runID, keyed as the step's journal
// rows are: by the columns of their record_key, or by record_id = id in a
// journal written before record_key existed.
func undoTable(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, jt JournalTables, m *catalog.Model, runID string, s stepInfo) (table, error) {
	// The key comes from the journal, not from the model's primary key.
	t, err := columnsOf(m, s.Table)
	if err != nil {
		return table{}, err
	}
	var row struct {
		ID  *int64  `db:"record_id"`
		Key *string `db:"record_key"`
	}
	err = tx.GetContext(ctx, &row, d.Rebind(`SELECT record_id, record_key FROM `+jt.name(d, ownstate.Journal)+
		` WHERE run_id = ? AND step = ? AND table_name = ? ORDER BY record_key IS NULL DESC LIMIT 1`), runID, s.Step, s.Table)
	if errors.Is(err, sql.ErrNoRows) {
		return t, nil // nothing journaled (t.key is nil): nothing to restore
	}
	if err != nil {
		return table{}, fmt.Errorf("read journal keys: %w", err)
	}
	return t.withJournalKey(row.Key, row.ID != nil)
}

// revertStep restores the before-images of the rows of t journaled by
// (runID, s.Step), not restored yet and not blocked by a foreign key,
// journaling what it overwrites as step k of the undo run newID and marking
// the restored journal rows undone by newID. It returns how many rows it
// restored.
func revertStep(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, jt JournalTables, t table, fks []foreignKey, runID string, s stepInfo, newID string, k int, stamp time.Time) (int64, error) {
	q := d.Quote(t.name)
	journal := jt.name(d, ownstate.Journal)
	exec := func(what, query string, args ...any) (int64, error) {
		r, err := tx.ExecContext(ctx, d.Rebind(query), args...)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", what, constraintError(err, t.name))
		}
		n, err := r.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		return n, nil
	}
	// Claim the rows this step restores now, so that every statement below
	// works on the same rows even when a restore unblocks another.
	claim := newID + "#" + strconv.Itoa(k)
	// One UPDATE of the step's rows, found by run and step through the
	// index of either journal layout (the primary key leads with them, or
	// ix_journal_run does) — no join of the journal with itself, which
	// the planner, without statistics on a journal just written, can turn
	// into a nested loop over the step's rows squared.
	n, err := exec("select rows", `UPDATE `+journal+` AS j SET undone_by = ? WHERE `+pendingWhere+` AND NOT `+anyBlocked(d, t, fks),
		claim, runID, s.Step, t.name)
	if err != nil || n == 0 {
		return 0, err
	}
	sel := `j.run_id = ? AND j.step = ? AND j.table_name = ? AND j.undone_by = ?`
	args := []any{runID, s.Step, t.name, claim}
	// Journal first: the current image of every row about to change.
	gone := q + "." + d.Quote(t.key[0]) + " IS NULL"
	_, err = exec("journal", `INSERT INTO `+journal+` (run_id, step, check_name, table_name, record_id, record_key, action, before_image, created_at)
SELECT ?, ?, j.check_name, j.table_name, j.record_id, j.record_key,
  CASE WHEN j.before_image IS NULL THEN 'remove' WHEN `+gone+` THEN 'insert' ELSE 'restore' END,
  CASE WHEN `+gone+` THEN NULL ELSE `+t.image(d, q)+` END, ?
FROM `+journal+` j LEFT JOIN `+q+` ON `+t.match(d, q, "j")+`
WHERE `+sel, append([]any{newID, k, stamp}, args...)...)
	if err != nil {
		return 0, err
	}
	// Rows the run inserted go away.
	if _, err := exec("delete inserted rows", `DELETE FROM `+q+` WHERE EXISTS (SELECT 1 FROM `+journal+` j
WHERE `+sel+` AND j.before_image IS NULL AND `+t.match(d, q, "j")+`)`, args...); err != nil {
		return 0, err
	}
	r := d.ImageRow(q, "j.before_image", "r")
	var sets, vals, cols []string
	for _, c := range t.cols {
		cq := d.Quote(c)
		cols = append(cols, cq)
		v := r.Column(c)
		vals = append(vals, v)
		if !t.isKey(c) {
			sets = append(sets, cq+" = "+v)
		}
	}
	from := ` FROM ` + journal + ` j` + r.Join() + `
WHERE ` + sel + ` AND j.before_image IS NOT NULL`
	update := `UPDATE ` + q + ` SET ` + strings.Join(sets, ", ") + from + ` AND ` + t.match(d, q, "j")
	insert := `INSERT INTO ` + q + ` (` + strings.Join(cols, ", ") + `) SELECT ` + strings.Join(vals, ", ") + from +
		` AND NOT EXISTS (SELECT 1 FROM ` + q + ` x WHERE ` + t.match(d, "x", "j") + `)`
	// Rows still there get their old values; rows gone come back.
	if _, err := exec("restore updated rows", update, args...); err != nil {
		return 0, err
	}
	if _, err := exec("re-insert deleted rows", insert, args...); err != nil {
		return 0, err
	}
	if _, err := exec("mark restored rows", `UPDATE `+journal+` SET undone_by = ? WHERE run_id = ? AND step = ? AND table_name = ? AND undone_by = ?`,
		append([]any{newID}, args...)...); err != nil {
		return 0, err
	}
	if err := writeAfterImages(ctx, tx, d, jt, t, newID, k); err != nil {
		return 0, err
	}
	if err := recordStep(ctx, tx, d, jt, newID, k, s.Check, t.name, "restore", n); err != nil {
		return 0, err
	}
	return n, nil
}

// blockedRows lists, per foreign key of t, the rows of (runID, step) left
// unrestored because the key blocks them.
func blockedRows(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, jt JournalTables, t table, fks []foreignKey, runID string, step int) ([]BlockedRows, error) {
	var out []BlockedRows
	for _, fk := range fks {
		var keys []struct {
			ID  *int64  `db:"record_id"`
			Key *string `db:"record_key"`
		}
		err := tx.SelectContext(ctx, &keys, d.Rebind(`SELECT j.record_id, j.record_key FROM `+jt.name(d, ownstate.Journal)+` j WHERE `+pendingWhere+
			` AND `+fk.blocked(d, t)+` ORDER BY j.record_id, j.record_key`), runID, step, t.name)
		if err != nil {
			return nil, fmt.Errorf("blocked rows of %s: %w", t.name, err)
		}
		if len(keys) == 0 {
			continue
		}
		b := BlockedRows{Table: t.name, Constraint: fk.Name, Rows: int64(len(keys))}
		for _, k := range keys {
			if t.intKey && k.ID != nil {
				b.RecordIDs = append(b.RecordIDs, *k.ID)
			} else {
				b.Keys = append(b.Keys, describeKey(nil, k.Key))
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// mergeBlocked adds more to have, summing rows of the same table and
// constraint (several steps may leave rows of one table).
func mergeBlocked(have, more []BlockedRows) []BlockedRows {
	for _, m := range more {
		found := false
		for i := range have {
			if have[i].Table == m.Table && have[i].Constraint == m.Constraint {
				have[i].Rows += m.Rows
				have[i].RecordIDs = append(have[i].RecordIDs, m.RecordIDs...)
				slices.Sort(have[i].RecordIDs)
				have[i].Keys = append(have[i].Keys, m.Keys...)
				slices.Sort(have[i].Keys)
				found = true
			}
		}
		if !found {
			have = append(have, m)
		}
	}
	return have
}

// constraintError names the constraint a restore statement violated (a
// unique key taken by a newer row, a check, or a reference to a row being
// deleted) so that the one-line error says what blocks the undo.
func constraintError(err error, table string) error {
	// lib/pq's *pq.Error exposes its fields by their protocol codes:
	// C the SQLSTATE, n the constraint, M the message.
	var pe interface{ Get(byte) string }
	if errors.As(err, &pe) && strings.HasPrefix(pe.Get('C'), "23") && pe.Get('n') != "" {
		return fmt.Errorf("restoring rows of %s would violate constraint %s (%s); nothing was changed", table, pe.Get('n'), pe.Get('M'))
	}
	return err
}

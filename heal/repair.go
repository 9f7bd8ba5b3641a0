package heal

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/jmoiron/sqlx"
)

// Step identifies one repair within a run: the run, its position in the run
// and the check it repairs. Stamp is the run's timestamp, written to the
// touched column (updated_at by default) and the deleted-at column of every
// row the run changes. Journal is where the step is journaled: the run's
// journal tables and the schema model giving each table's key and
// conventions ([Cycle] sets it; the zero value is ip2adb's own tables with
// the model read from the transaction).
type Step struct {
	RunID   string
	Seq     int
	Check   string
	Stamp   time.Time
	Journal Journal
}

// Repairer applies one set-based repair inside a run's transaction and
// journals the before-image of every row it changes in the run's journal,
// in that same transaction, so that [Undo] can restore them: with
// [Journal.Record] (step.Journal.Record), or as [SQLRepairer] does. It
// returns the number of rows changed. Implementations must not commit or
// roll back tx.
type Repairer interface {
	Repair(ctx context.Context, tx *sqlx.Tx, step Step, fix ip2adb.Fix) (rows int64, err error)
}

// RepairerFunc adapts a function to [Repairer]; wrappers that observe or
// delay repairs (progress, tests) are written with it.
type RepairerFunc func(ctx context.Context, tx *sqlx.Tx, step Step, fix ip2adb.Fix) (int64, error)

// Repair calls f.
func (f RepairerFunc) Repair(ctx context.Context, tx *sqlx.Tx, step Step, fix ip2adb.Fix) (int64, error) {
	return f(ctx, tx, step, fix)
}

// SQLRepairer is the generic set-based repairer for PostgreSQL and SQLite.
// Each repair works over the fix's own predicate and journals the
// before-image of every row it changes, the after-image of every row it
// updates (on PostgreSQL the columns it set, on SQLite the whole row as the
// run left it; see [Journal]), and names the step in the run's steps. Rows are keyed in the journal by the table's primary key
// (from step.Journal.Model: any columns, any types; see [Journal]).
//
// On PostgreSQL that is one statement per repair (data-modifying CTEs: the
// predicate is evaluated once, the journal rows are exactly the changed
// rows). On SQLite it is one INSERT … SELECT writing the before-images, one
// UPDATE or DELETE of the same rows and, for an update, one statement
// storing the after-images; the journal row count must equal the changed
// row count, or the repair fails (and the run's transaction rolls back).
// The transaction must have run EnsureJournal (or [JournalTables.Ensure]).
//
// Actions follow the table's conventions in the schema model
// (catalog.Table.SoftDelete and Timestamps): delete removes the rows,
// except on a table that soft-deletes (a flag such as is_deleted, a
// deleted-at timestamp, or both) where it soft-deletes them like
// soft_delete: the flag set to TRUE and the deleted-at column to the run's
// stamp, whichever the table has. soft_delete on a table with neither is
// an error. set_value and set_null change Column (never a primary-key
// column). Every update also sets the touched column (Timestamps.UpdatedAt:
// updated_at by default, modified_at when the conventions say so) to the
// run's stamp. Table and Column are checked against the table's real
// columns before they are written into SQL.
//
// The run's transaction should be REPEATABLE READ on PostgreSQL (as [Cycle]
// opens it) so that every statement of the run sees the same rows.
type SQLRepairer struct{}

// Repair implements [Repairer].
func (SQLRepairer) Repair(ctx context.Context, tx *sqlx.Tx, step Step, fix ip2adb.Fix) (int64, error) {
	d := dbx.DialectOf(tx)
	if strings.TrimSpace(fix.Where) == "" {
		return 0, fmt.Errorf("repair %s: fix has no predicate", step.Check)
	}
	jt := step.Journal.Tables
	if err := jt.validate(); err != nil {
		return 0, fmt.Errorf("repair %s: %w", step.Check, err)
	}
	m, err := modelOf(ctx, tx, step.Journal.Model)
	if err != nil {
		return 0, fmt.Errorf("repair %s: %w", step.Check, err)
	}
	t, err := tableOf(m, fix.Table)
	if err != nil {
		return 0, fmt.Errorf("repair %s: %w", step.Check, err)
	}
	ch, err := t.changes(d, fix, step.Stamp.UTC())
	if err != nil {
		return 0, fmt.Errorf("repair %s: %w", step.Check, err)
	}
	if d.ModifyingCTEs() {
		return repairOneStatement(ctx, tx, d, jt, t, step, fix, ch)
	}
	action, set, setArgs := ch.action, ch.set, ch.args

	q := d.Quote(fix.Table)
	stamp := step.Stamp.UTC()
	journal := `INSERT INTO ` + jt.name(d, ownstate.Journal) + ` (run_id, step, check_name, table_name, record_id, record_key, action, before_image, created_at)
SELECT ?, ?, ?, ?, ` + t.recordID(d, q) + `, ` + t.recordKey(d, q) + `, ?, ` + t.image(d, q) + `, ? FROM ` + q + ` WHERE (` + fix.Where + `)`
	jargs := append([]any{step.RunID, step.Seq, step.Check, fix.Table, string(action), stamp}, fix.Args...)
	res, err := tx.ExecContext(ctx, d.Rebind(journal), jargs...)
	if err != nil {
		return 0, fmt.Errorf("repair %s: journal: %w", step.Check, err)
	}
	journaled, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("repair %s: journal: %w", step.Check, err)
	}

	var stmt string
	if action == ip2adb.ActionDelete {
		stmt = "DELETE FROM " + q + " WHERE (" + fix.Where + ")"
	} else {
		stmt = "UPDATE " + q + " SET " + strings.Join(set, ", ") + " WHERE (" + fix.Where + ")"
	}
	res, err = tx.ExecContext(ctx, d.Rebind(stmt), append(setArgs, fix.Args...)...)
	if err != nil {
		return 0, fmt.Errorf("repair %s: %s: %w", step.Check, action, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("repair %s: %w", step.Check, err)
	}
	if n != journaled {
		return 0, fmt.Errorf("repair %s: journaled %d rows but changed %d (rows changed under the run)", step.Check, journaled, n)
	}
	if action != ip2adb.ActionDelete {
		// Undo recognises "unchanged since the run" by the whole image the
		// run left, whatever columns a later change touched.
		if err := writeAfterImages(ctx, tx, d, jt, t, step.RunID, step.Seq); err != nil {
			return 0, fmt.Errorf("repair %s: %w", step.Check, err)
		}
	}
	if err := recordStep(ctx, tx, d, jt, step.RunID, step.Seq, step.Check, t.name, string(action), n); err != nil {
		return 0, fmt.Errorf("repair %s: %w", step.Check, err)
	}
	return n, nil
}

// change is what a fix does to a table: the action executed and, for an
// update, its SET clauses with their arguments and the columns they set.
type change struct {
	action ip2adb.Action
	set    []string
	args   []any
	cols   []string
}

// changes is what fix does to t: the action executed (delete on a table
// that soft-deletes is a soft delete) and, for an update, its SET clauses
// with their arguments, the touched column included.
func (t table) changes(d dbx.Dialect, fix ip2adb.Fix, stamp time.Time) (change, error) {
	c := change{action: t.action(fix.Action)}
	set := func(col, value string, args ...any) {
		c.set = append(c.set, d.Quote(col)+" = "+value)
		c.args = append(c.args, args...)
		c.cols = append(c.cols, col)
	}
	switch c.action {
	case ip2adb.ActionDelete:
		return c, nil
	case ip2adb.ActionSoftDelete:
		if !t.soft.Enabled() {
			return c, fmt.Errorf("table %s has no soft-delete column to soft-delete by (no deleted flag such as is_deleted, no deleted-at timestamp such as deleted_at; see catalog.Conventions)", t.name)
		}
		if t.soft.Flag != "" {
			set(t.soft.Flag, "TRUE")
		}
		if t.soft.DeletedAt != "" {
			set(t.soft.DeletedAt, "?", stamp)
		}
	case ip2adb.ActionSetValue, ip2adb.ActionSetNull:
		if !identRE.MatchString(fix.Column) || !t.has(fix.Column) {
			return c, fmt.Errorf("table %s has no column %q", t.name, fix.Column)
		}
		if t.isKey(fix.Column) {
			return c, fmt.Errorf("table %s: column %q is part of the primary key, which a repair does not change", t.name, fix.Column)
		}
		if c.action == ip2adb.ActionSetNull {
			set(fix.Column, "NULL")
		} else {
			set(fix.Column, "?", fix.Value)
		}
	default:
		return c, fmt.Errorf("unknown action %q", fix.Action)
	}
	if t.touched != "" && fix.Column != t.touched && (c.action != ip2adb.ActionSoftDelete || t.touched != t.soft.DeletedAt) {
		set(t.touched, "?", stamp)
	}
	return c, nil
}

// repairOneStatement is SQLRepairer.Repair where the dialect has
// data-modifying CTEs (PostgreSQL): one statement, one round trip. Its data-modifying CTEs select the rows by the fix's
// predicate once (in the statement's snapshot), change them, journal their
// before- and after-images and record the step with the number of rows
// changed. A DELETE returns the old row itself. RETURNING of an UPDATE has
// only the new row, so the selected rows' images are taken first
// (ip2adb_old), the UPDATE reaches exactly those row versions by ctid (a
// TID scan, no second pass over the table) and the journal pairs each new
// row with its before-image by the primary key.
func repairOneStatement(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, jt JournalTables, t table, step Step, fix ip2adb.Fix, ch change) (int64, error) {
	action, set, setArgs := ch.action, ch.set, ch.args
	q := d.Quote(t.name)
	stamp := step.Stamp.UTC()
	var changed, images string
	var args []any
	keys := func() (string, []string) {
		var sel, names []string
		for i, c := range t.key {
			n := fmt.Sprintf("ip2adb_k%d", i+1)
			sel = append(sel, q+"."+d.Quote(c)+" AS "+n)
			names = append(names, n)
		}
		return strings.Join(sel, ", "), names
	}
	if action == ip2adb.ActionDelete {
		changed = `ip2adb_changed AS (DELETE FROM ` + q + ` WHERE (` + fix.Where + `)
  RETURNING ` + t.recordID(d, q) + ` AS ip2adb_id, ` + t.recordKey(d, q) + ` AS ip2adb_key, ` + t.image(d, q) + ` AS ip2adb_before)`
		images = `ip2adb_id, ip2adb_key, ip2adb_before, NULL FROM ip2adb_changed`
		args = append(args, fix.Args...)
	} else {
		sel, names := keys()
		// The after-image holds the columns the update set; the others
		// are the before-image's (see [Journal]).
		changed = `ip2adb_old AS (SELECT ` + q + `.ctid AS ip2adb_tid, ` + sel + `, ` + t.recordID(d, q) + ` AS ip2adb_id, ` +
			t.recordKey(d, q) + ` AS ip2adb_key, ` + t.image(d, q) + ` AS ip2adb_before
  FROM ` + q + ` WHERE (` + fix.Where + `)),
ip2adb_changed AS (UPDATE ` + q + ` SET ` + strings.Join(set, ", ") + ` WHERE ` + q + `.ctid = ANY (ARRAY(SELECT ip2adb_tid FROM ip2adb_old))
  RETURNING ` + sel + `, ` + d.ColumnsImage(q, ch.cols) + ` AS ip2adb_after)`
		images = `ip2adb_old.ip2adb_id, ip2adb_old.ip2adb_key, ip2adb_old.ip2adb_before, ip2adb_changed.ip2adb_after FROM ip2adb_changed JOIN ip2adb_old USING (` + strings.Join(names, ", ") + `)`
		args = append(append(args, fix.Args...), setArgs...)
	}
	stmt := `WITH ` + changed + `,
ip2adb_journaled AS (INSERT INTO ` + jt.name(d, ownstate.Journal) + ` (run_id, step, check_name, table_name, action, created_at, record_id, record_key, before_image, after_image)
  SELECT ?, ?, ?, ?, ?, ?, ` + images + ` RETURNING 1)
INSERT INTO ` + jt.name(d, ownstate.Steps) + ` (run_id, step, check_name, table_name, action, rows_changed)
SELECT ?, ?, ?, ?, ?, count(*) FROM ip2adb_journaled RETURNING rows_changed`
	args = append(args, step.RunID, step.Seq, step.Check, t.name, string(action), stamp,
		step.RunID, step.Seq, step.Check, t.name, string(action))
	var n int64
	if err := tx.QueryRowxContext(ctx, d.Rebind(stmt), args...).Scan(&n); err != nil {
		// The statement journals, changes and records at once.
		return 0, fmt.Errorf("repair %s: journal: %s: %w", step.Check, action, err)
	}
	return n, nil
}

// writeAfterImages stores the current image of every row of t journaled
// by (runID, step) that the step did not delete.
func writeAfterImages(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, jt JournalTables, t table, runID string, step int) error {
	q := d.Quote(t.name)
	// A join, not a subquery per journal row: one pass over each side.
	stmt := `UPDATE ` + jt.name(d, ownstate.Journal) + ` AS j SET after_image = ` + t.image(d, q) + ` FROM ` + q + `
WHERE ` + t.match(d, q, "j") + ` AND j.run_id = ? AND j.step = ? AND j.table_name = ? AND j.action NOT IN ('delete', 'remove')`
	if _, err := tx.ExecContext(ctx, d.Rebind(stmt), runID, step, t.name); err != nil {
		return fmt.Errorf("journal after-images: %w", err)
	}
	return nil
}

// recordStep names the table of a run's step in the steps table; undo
// restores only the tables named there.
func recordStep(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, jt JournalTables, runID string, step int, check, table, action string, rows int64) error {
	_, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO `+jt.name(d, ownstate.Steps)+
		` (run_id, step, check_name, table_name, action, rows_changed) VALUES (?, ?, ?, ?, ?, ?)`),
		runID, step, check, table, action, rows)
	if err != nil {
		return fmt.Errorf("record step: %w", err)
	}
	return nil
}

package heal

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/jmoiron/sqlx"
)

// Step identifies one repair within a run: the run, its position in the run
// and the check it repairs. Stamp is the run's timestamp, written to
// updated_at (and deleted_at) of every row the run changes.
type Step struct {
	RunID string
	Seq   int
	Check string
	Stamp time.Time
}

// Repairer applies one set-based repair inside a run's transaction and
// journals the before-image of every row it changes in ip2adb's journal, in
// that same transaction, so that [Undo] can restore them. It returns the
// number of rows changed. Implementations must not commit or roll back tx.
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
// before-image of every row it changes, the after-image (the whole row as
// the run left it) of every row it updates, and names the step in the
// run's steps.
//
// On PostgreSQL that is one statement per repair (data-modifying CTEs: the
// predicate is evaluated once, the journal rows are exactly the changed
// rows). On SQLite it is one INSERT … SELECT writing the before-images, one
// UPDATE or DELETE of the same rows and, for an update, one statement
// storing the after-images; the journal row count must equal the changed
// row count, or the repair fails (and the run's transaction rolls back).
// The transaction must have run EnsureJournal.
//
// Actions: delete removes the rows, except on tables with an is_deleted
// column where it soft-deletes them like soft_delete (is_deleted = TRUE,
// deleted_at and updated_at = the run's stamp); set_value and set_null
// change Column and set updated_at. Table and Column are checked against
// the table's real columns before they are written into SQL.
//
// The run's transaction should be REPEATABLE READ on PostgreSQL (as [Cycle]
// opens it) so that every statement of the run sees the same rows.
type SQLRepairer struct{}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Repair implements [Repairer].
func (SQLRepairer) Repair(ctx context.Context, tx *sqlx.Tx, step Step, fix ip2adb.Fix) (int64, error) {
	d := dbx.DialectOf(tx)
	if strings.TrimSpace(fix.Where) == "" {
		return 0, fmt.Errorf("repair %s: fix has no predicate", step.Check)
	}
	t, err := loadTable(ctx, tx, d, fix.Table)
	if err != nil {
		return 0, fmt.Errorf("repair %s: %w", step.Check, err)
	}
	action := t.action(fix.Action)
	q := d.Quote(fix.Table)
	stamp := step.Stamp.UTC()
	var set []string
	var setArgs []any
	switch action {
	case ip2adb.ActionDelete:
	case ip2adb.ActionSoftDelete:
		if !t.has("is_deleted") || !t.has("deleted_at") {
			return 0, fmt.Errorf("repair %s: table %s has no is_deleted/deleted_at columns to soft-delete", step.Check, fix.Table)
		}
		set = append(set, "is_deleted = TRUE", "deleted_at = ?")
		setArgs = append(setArgs, stamp)
	case ip2adb.ActionSetValue, ip2adb.ActionSetNull:
		if !t.has(fix.Column) || fix.Column == "id" {
			return 0, fmt.Errorf("repair %s: table %s has no column %q", step.Check, fix.Table, fix.Column)
		}
		if action == ip2adb.ActionSetNull {
			set = append(set, d.Quote(fix.Column)+" = NULL")
		} else {
			set = append(set, d.Quote(fix.Column)+" = ?")
			setArgs = append(setArgs, fix.Value)
		}
	default:
		return 0, fmt.Errorf("repair %s: unknown action %q", step.Check, fix.Action)
	}
	if action != ip2adb.ActionDelete && t.has("updated_at") && fix.Column != "updated_at" {
		set = append(set, "updated_at = ?")
		setArgs = append(setArgs, stamp)
	}

	if d == dbx.Postgres {
		return repairPostgres(ctx, tx, t, step, fix, action, set, setArgs)
	}

	journal := `INSERT INTO ` + own(d, ownstate.Journal) + ` (run_id, step, check_name, table_name, record_id, action, before_image, created_at)
SELECT ?, ?, ?, ?, ` + q + `.id, ?, ` + t.image(d, q) + `, ? FROM ` + q + ` WHERE (` + fix.Where + `)`
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
		if err := writeAfterImages(ctx, tx, d, t, step.RunID, step.Seq); err != nil {
			return 0, fmt.Errorf("repair %s: %w", step.Check, err)
		}
	}
	if err := recordStep(ctx, tx, d, step.RunID, step.Seq, step.Check, t.name, string(action), n); err != nil {
		return 0, fmt.Errorf("repair %s: %w", step.Check, err)
	}
	return n, nil
}

// repairPostgres is SQLRepairer.Repair on PostgreSQL: one statement, one
// round trip. Its data-modifying CTEs select the rows by the fix's
// predicate once (in the statement's snapshot), change them, journal their
// before- and after-images and record the step with the number of rows
// changed. A DELETE returns the old row itself. RETURNING of an UPDATE has
// only the new row, so the selected rows' images are taken first
// (ip2adb_old), the UPDATE reaches exactly those row versions by ctid (a
// TID scan, no second pass over the table) and the journal pairs each new
// row with its before-image by id.
func repairPostgres(ctx context.Context, tx *sqlx.Tx, t table, step Step, fix ip2adb.Fix, action ip2adb.Action, set []string, setArgs []any) (int64, error) {
	d := dbx.Postgres
	q := d.Quote(t.name)
	stamp := step.Stamp.UTC()
	var changed, images string
	var args []any
	if action == ip2adb.ActionDelete {
		changed = `ip2adb_changed AS (DELETE FROM ` + q + ` WHERE (` + fix.Where + `)
  RETURNING ` + q + `.id AS ip2adb_id, ` + t.image(d, q) + ` AS ip2adb_before)`
		images = `ip2adb_before, NULL FROM ip2adb_changed`
		args = append(args, fix.Args...)
	} else {
		changed = `ip2adb_old AS (SELECT ` + q + `.ctid AS ip2adb_tid, ` + q + `.id AS ip2adb_id, ` + t.image(d, q) + ` AS ip2adb_before
  FROM ` + q + ` WHERE (` + fix.Where + `)),
ip2adb_changed AS (UPDATE ` + q + ` SET ` + strings.Join(set, ", ") + ` WHERE ` + q + `.ctid = ANY (ARRAY(SELECT ip2adb_tid FROM ip2adb_old))
  RETURNING ` + q + `.id AS ip2adb_id, ` + t.image(d, q) + ` AS ip2adb_after)`
		images = `ip2adb_old.ip2adb_before, ip2adb_changed.ip2adb_after FROM ip2adb_changed JOIN ip2adb_old USING (ip2adb_id)`
		args = append(append(args, fix.Args...), setArgs...)
	}
	stmt := `WITH ` + changed + `,
ip2adb_journaled AS (INSERT INTO ` + own(d, ownstate.Journal) + ` (run_id, step, check_name, table_name, record_id, action, created_at, before_image, after_image)
  SELECT ?, ?, ?, ?, ip2adb_id, ?, ?, ` + images + ` RETURNING 1)
INSERT INTO ` + own(d, ownstate.Steps) + ` (run_id, step, check_name, table_name, action, rows_changed)
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

// table is a table whose columns have been read from the database.
type table struct {
	name string
	cols []string
}

func (t table) has(col string) bool { return slices.Contains(t.cols, col) }

// action is the action executed for a: delete on a table with is_deleted is
// a soft delete.
func (t table) action(a ip2adb.Action) ip2adb.Action {
	if a == ip2adb.ActionDelete && t.has("is_deleted") {
		return ip2adb.ActionSoftDelete
	}
	return a
}

// loadTable reads the columns of name and validates every identifier that
// will be written into SQL.
func loadTable(ctx context.Context, db sqlx.QueryerContext, d dbx.Dialect, name string) (table, error) {
	if !identRE.MatchString(name) {
		return table{}, fmt.Errorf("invalid table name %q", name)
	}
	cols, err := dbx.Columns(ctx, db, d, name)
	if err != nil {
		return table{}, err
	}
	if len(cols) == 0 {
		return table{}, fmt.Errorf("table %s does not exist", name)
	}
	for _, c := range cols {
		if !identRE.MatchString(c) {
			return table{}, fmt.Errorf("table %s: unsupported column name %q", name, c)
		}
	}
	if !slices.Contains(cols, "id") {
		return table{}, fmt.Errorf("table %s has no id column", name)
	}
	return table{name: name, cols: cols}, nil
}

// writeAfterImages stores the current image of every row of t journaled
// by (runID, step) that the step did not delete.
func writeAfterImages(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, t table, runID string, step int) error {
	q := d.Quote(t.name)
	// A join, not a subquery per journal row: one pass over each side.
	stmt := `UPDATE ` + own(d, ownstate.Journal) + ` AS j SET after_image = ` + t.image(d, q) + ` FROM ` + q + `
WHERE ` + q + `.id = j.record_id AND j.run_id = ? AND j.step = ? AND j.table_name = ? AND j.action NOT IN ('delete', 'remove')`
	if _, err := tx.ExecContext(ctx, d.Rebind(stmt), runID, step, t.name); err != nil {
		return fmt.Errorf("journal after-images: %w", err)
	}
	return nil
}

// recordStep names the table of a run's step in the steps table; undo
// restores only the tables named there.
func recordStep(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, runID string, step int, check, table, action string, rows int64) error {
	_, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO `+own(d, ownstate.Steps)+
		` (run_id, step, check_name, table_name, action, rows_changed) VALUES (?, ?, ?, ?, ?, ?)`),
		runID, step, check, table, action, rows)
	if err != nil {
		return fmt.Errorf("record step: %w", err)
	}
	return nil
}

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
// Each repair is two statements over the fix's own predicate: one
// INSERT … SELECT writing the before-images of the selected rows to the
// journal, then one UPDATE or DELETE of the same rows; an update is followed
// by one statement storing the after-images (the whole rows as the run left
// them), and the step is named in the run's steps. The journal row count
// must equal the changed row count, or the repair fails (and the run's
// transaction rolls back). The transaction must have run EnsureJournal.
//
// Actions: delete removes the rows, except on tables with an is_deleted
// column where it soft-deletes them like soft_delete (is_deleted = TRUE,
// deleted_at and updated_at = the run's stamp); set_value and set_null
// change Column and set updated_at. Table and Column are checked against
// the table's real columns before they are written into SQL.
//
// The run's transaction should be REPEATABLE READ on PostgreSQL (as [Cycle]
// opens it) so that both statements see the same rows.
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

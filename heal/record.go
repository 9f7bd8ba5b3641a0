package heal

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/jmoiron/sqlx"
)

// Journal is where a run journals the rows it changes, so that [Undo] can
// restore them: the journal's tables and the schema model that gives each
// table's primary key and conventions. [Cycle] puts the run's Journal in
// every [Step]; a custom [Repairer] records its changes with
// [Step.Record], with no SQL of its own for the journal.
//
// # Journal rows
//
// The journal holds one row per changed row (see [EnsureJournal] for its
// columns). A row is identified by its table's primary key
// (catalog.Table.PrimaryKey, which catalog.Override.PrimaryKey may set):
// record_key is the key as a JSON object of column name to value, written
// as in a row image, and record_id repeats the value when the key is one
// integer column (NULL otherwise). Journals written before record_key
// existed hold record_id only, the value of an integer column id; undo
// still restores them.
//
// # Row images
//
// before_image and after_image are row images: JSON objects of column name
// to value for every column of the row, written by the database itself so
// that undo restores the row byte for byte. The one exception: on
// PostgreSQL the after-image of a row [SQLRepairer] updated holds only the
// columns the repair set (a set_value's column and the touched column,
// say); the row the run left is the before-image with those columns over
// it. Journals written before hold whole after-images, as SQLite's and
// [Step.Record]'s do; undo reads either.
//
// On PostgreSQL an image is row_to_json(row)::text. Every type has a JSON
// rendering that json_populate_record reads back to the same value (bytea
// as the string "\\x…" in hex, numeric with its scale, timestamps with
// their microseconds, enum labels as strings).
//
// On SQLite an image is json_object over the columns. SQLite values are
// NULL, integers, reals, text and BLOBs; JSON holds the first four as they
// are, and a BLOB is written as the object {"hex": "<upper-case hex
// digits>"} (JSON cannot hold bytes). Since no other SQLite value becomes a
// JSON object, an object in a SQLite image always stands for a BLOB, and
// undo turns it back into the same bytes with unhex().
//
// An undo compares a row's whole current image with the image the run left
// to tell whether the row changed after the run: as text on SQLite; on
// PostgreSQL as text, else as JSON values (jsonb) against the before-image
// with the after-image's columns over it.
type Journal struct {
	// Tables are the journal's tables; the zero value is ip2adb's own.
	Tables JournalTables
	// Model is the schema model of the database (catalog.Read): the
	// tables' columns, primary keys and conventions. When nil it is read
	// from the transaction with the default conventions, at each use.
	Model *catalog.Model
}

// Change is one change of a custom [Repairer], journaled by
// [Step.Record].
type Change struct {
	// Table is the table whose rows change.
	Table string
	// Action names the change in the journal and the run's steps, such as
	// "set_value" or "merge" (at most 20 characters). A row the change
	// deletes is journaled with the action "delete".
	Action string
	// Where selects every row the change may touch: an SQL boolean
	// expression over the unaliased table, with "?" placeholders bound to
	// Args. It is evaluated once, before the change.
	Where string
	Args  []any
}

// Record journals a change of step in the run's journal (step.Journal),
// inside the run's transaction tx: it writes the before-image of every row
// c.Where selects, calls apply to make the change, writes the after-image
// of each of those rows that remains (a row that is gone is journaled as
// deleted), drops the journal rows of rows the change left as they were
// and names the step in the run's steps. It returns the number of rows
// changed. Undo then restores those rows as it restores the rows of
// [SQLRepairer].
//
// apply may update or delete any of the selected rows, and only those (a
// row outside c.Where is not journaled and undo cannot restore it); it
// must not change their primary keys, nor insert rows. Record may be
// called once per table in a step. An error from apply is returned as it
// is; the run's transaction then rolls back.
func (s Step) Record(ctx context.Context, tx *sqlx.Tx, c Change, apply func(ctx context.Context, tx *sqlx.Tx) error) (rows int64, err error) {
	fail := func(err error) (int64, error) { return 0, fmt.Errorf("journal %s: %w", s.Check, err) }
	switch {
	case strings.TrimSpace(c.Where) == "":
		return fail(errors.New("the change has no predicate"))
	case c.Action == "" || len(c.Action) > 20:
		return fail(fmt.Errorf("action %q: want a name of 1 to 20 characters", c.Action))
	case apply == nil:
		return fail(errors.New("no change to apply"))
	}
	jt := s.Journal.Tables
	if err := jt.validate(); err != nil {
		return fail(err)
	}
	d := dbx.DialectOf(tx)
	m, err := modelOf(ctx, tx, s.Journal.Model)
	if err != nil {
		return fail(err)
	}
	t, err := tableOf(m, c.Table)
	if err != nil {
		return fail(err)
	}
	q, journal := d.Quote(t.name), jt.name(d, ownstate.Journal)
	exec := func(what, query string, args ...any) (int64, error) {
		r, err := tx.ExecContext(ctx, d.Rebind(query), args...)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		return r.RowsAffected()
	}
	before := `INSERT INTO ` + journal + ` (run_id, step, check_name, table_name, record_id, record_key, action, before_image, created_at)
SELECT ?, ?, ?, ?, ` + t.recordID(d, q) + `, ` + t.recordKey(d, q) + `, ?, ` + t.image(d, q) + `, ? FROM ` + q + ` WHERE (` + c.Where + `)`
	if _, err := exec("before-images", before, append([]any{s.RunID, s.Seq, s.Check, t.name, c.Action, s.Stamp.UTC()}, c.Args...)...); err != nil {
		return fail(err)
	}
	if err := apply(ctx, tx); err != nil {
		return 0, err
	}
	sel := `run_id = ? AND step = ? AND table_name = ?`
	args := []any{s.RunID, s.Seq, t.name}
	after := `UPDATE ` + journal + ` AS j SET after_image = ` + t.image(d, q) + ` FROM ` + q + `
WHERE ` + t.match(d, q, "j") + ` AND j.run_id = ? AND j.step = ? AND j.table_name = ?`
	if _, err := exec("after-images", after, args...); err != nil {
		return fail(err)
	}
	if _, err := exec("deleted rows", `UPDATE `+journal+` SET action = 'delete' WHERE `+sel+` AND after_image IS NULL`, args...); err != nil {
		return fail(err)
	}
	if _, err := exec("unchanged rows", `DELETE FROM `+journal+` WHERE `+sel+` AND after_image = before_image`, args...); err != nil {
		return fail(err)
	}
	var n int64
	if err := tx.GetContext(ctx, &n, d.Rebind(`SELECT count(*) FROM `+journal+` WHERE `+sel), args...); err != nil {
		return fail(err)
	}
	if err := recordStep(ctx, tx, d, jt, s.RunID, s.Seq, s.Check, t.name, c.Action, n); err != nil {
		return fail(err)
	}
	return n, nil
}

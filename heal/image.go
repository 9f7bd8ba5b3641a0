package heal

import (
	"fmt"
	"strings"

	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/internal/dbx"
)

// image is the SQL expression of a row's JSON image (see [Journal] for
// the format); q is the quoted table name (or alias) the columns are
// qualified with.
func (t table) image(d dbx.Dialect, q string) string { return d.RowImage(q, t.cols) }

// foreignKey is one foreign key of a table: its columns reference the
// parent's columns.
type foreignKey struct {
	Name    string
	Cols    []string
	Parent  string // quoted, schema-qualified when in another schema
	PCols   []string
	Display string // the parent's name for messages
}

// foreignKeys returns the enforced foreign keys of table from the schema
// model m (none when the database does not enforce them: SQLite without
// PRAGMA foreign_keys = ON).
func foreignKeys(m *catalog.Model, d dbx.Dialect, table string) []foreignKey {
	t := m.Table(table)
	if t == nil || !m.ForeignKeysEnforced {
		return nil
	}
	var out []foreignKey
	for _, k := range t.ForeignKeys {
		parts := strings.Split(k.RefTable, ".")
		for i, p := range parts {
			parts[i] = d.Quote(p)
		}
		fk := foreignKey{Name: k.Name, Cols: k.Columns, PCols: k.RefColumns, Parent: strings.Join(parts, "."), Display: k.RefTable}
		if fk.Name == "" { // SQLite's foreign keys have no names
			fk.Name = fmt.Sprintf("%s(%s) → %s(%s)", table, strings.Join(k.Columns, ", "), k.RefTable, strings.Join(k.RefColumns, ", "))
		}
		out = append(out, fk)
	}
	return out
}

// blocked is the SQL condition, over the journal row j, under which
// restoring j's before-image into t would violate fk: the image references
// a parent row that does not exist, and the row is not already there with
// the same reference (the database checks a reference only when it
// changes).
func (fk foreignKey) blocked(d dbx.Dialect, t table) string {
	q := d.Quote(t.name)
	r := d.ImageRow(q, "j.before_image", "r")
	var notNull, match, same []string
	for i, c := range fk.Cols {
		notNull = append(notNull, r.Column(c)+" IS NOT NULL")
		match = append(match, "p."+d.Quote(fk.PCols[i])+" = "+r.Column(c))
		same = append(same, d.NotDistinct("cur."+d.Quote(c), r.Column(c)))
	}
	cond := strings.Join(notNull, " AND ") +
		" AND NOT EXISTS (SELECT 1 FROM " + fk.Parent + " p WHERE " + strings.Join(match, " AND ") + ")" +
		" AND NOT EXISTS (SELECT 1 FROM " + q + " cur WHERE " + t.match(d, "cur", "j") + " AND " + strings.Join(same, " AND ") + ")"
	return r.Exists("j.before_image IS NOT NULL AND " + cond)
}

// anyBlocked is the condition that some foreign key blocks j.
func anyBlocked(d dbx.Dialect, t table, fks []foreignKey) string {
	if len(fks) == 0 {
		return "FALSE"
	}
	var parts []string
	for _, fk := range fks {
		parts = append(parts, fk.blocked(d, t))
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

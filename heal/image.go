package heal

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// Row images.
//
// A row image is a JSON object of column name to value, written by the
// database itself so that undo can restore the row byte for byte.
//
// PostgreSQL: row_to_json(row)::text. Every type has a JSON rendering that
// json_populate_record reads back to the same value (bytea as "\\x…" hex,
// numeric with its scale, timestamps with their microseconds).
//
// SQLite: json_object over the columns. SQLite values are NULL, integers,
// reals, text and BLOBs; JSON holds the first four as they are, and a BLOB
// is written as the object {"hex": "<upper-case hex digits>"} (JSON cannot
// hold bytes). Since no other SQLite value becomes a JSON object, an object
// in a SQLite image always stands for a BLOB, and undo turns it back into
// the same bytes with unhex().

// image is the SQL expression of a row's JSON image; q is the quoted table
// name (or alias) the columns are qualified with.
func (t table) image(d dbx.Dialect, q string) string {
	if d == dbx.Postgres {
		return "row_to_json(" + q + ")::text"
	}
	var b strings.Builder
	b.WriteString("json_object(")
	for i, c := range t.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		v := q + "." + d.Quote(c)
		fmt.Fprintf(&b, "'%s', CASE WHEN typeof(%s) = 'blob' THEN json_object('hex', hex(%s)) ELSE %s END", c, v, v, v)
	}
	b.WriteString(")")
	return b.String()
}

// sqliteValue is the SQLite expression of column c's value in the image
// held by the expression img.
func sqliteValue(img, c string) string {
	return fmt.Sprintf("CASE WHEN json_type(%s, '$.%s') = 'object' THEN unhex(json_extract(%s, '$.%s.hex')) ELSE json_extract(%s, '$.%s') END",
		img, c, img, c, img, c)
}

// foreignKey is one foreign key of a table: its columns reference the
// parent's columns.
type foreignKey struct {
	Name    string
	Cols    []string
	Parent  string // quoted, schema-qualified on PostgreSQL
	PCols   []string
	Display string // the parent's name for messages
}

// foreignKeys reads the enforced foreign keys of table (in the current
// schema). On SQLite they are enforced only when PRAGMA foreign_keys is on.
func foreignKeys(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, table string) ([]foreignKey, error) {
	var out []foreignKey
	if d == dbx.Postgres {
		var rows []struct {
			Name   string `db:"conname"`
			Cols   string `db:"cols"`
			Schema string `db:"pschema"`
			Parent string `db:"parent"`
			PCols  string `db:"pcols"`
		}
		err := tx.SelectContext(ctx, &rows, `SELECT con.conname, pn.nspname AS pschema, pc.relname AS parent,
  array_to_json(ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
    JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i))::text AS cols,
  array_to_json(ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
    JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i))::text AS pcols
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_class pc ON pc.oid = con.confrelid
JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
WHERE con.contype = 'f' AND n.nspname = current_schema() AND c.relname = $1
ORDER BY con.conname`, table)
		if err != nil {
			return nil, fmt.Errorf("foreign keys of %s: %w", table, err)
		}
		for _, r := range rows {
			fk := foreignKey{Name: r.Name, Parent: d.Quote(r.Schema) + "." + d.Quote(r.Parent), Display: r.Parent}
			if err := json.Unmarshal([]byte(r.Cols), &fk.Cols); err != nil {
				return nil, fmt.Errorf("foreign keys of %s: %w", table, err)
			}
			if err := json.Unmarshal([]byte(r.PCols), &fk.PCols); err != nil {
				return nil, fmt.Errorf("foreign keys of %s: %w", table, err)
			}
			out = append(out, fk)
		}
		return out, nil
	}
	var on int
	if err := tx.GetContext(ctx, &on, `PRAGMA foreign_keys`); err != nil {
		return nil, fmt.Errorf("foreign keys of %s: %w", table, err)
	}
	if on == 0 {
		return nil, nil
	}
	var rows []struct {
		ID     int     `db:"id"`
		Parent string  `db:"parent"`
		From   string  `db:"from"`
		To     *string `db:"to"`
	}
	err := tx.SelectContext(ctx, &rows, `SELECT id, "table" AS parent, "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq`, table)
	if err != nil {
		return nil, fmt.Errorf("foreign keys of %s: %w", table, err)
	}
	byID := map[int]*foreignKey{}
	var order []int
	for _, r := range rows {
		fk, ok := byID[r.ID]
		if !ok {
			fk = &foreignKey{Parent: d.Quote(r.Parent), Display: r.Parent}
			byID[r.ID] = fk
			order = append(order, r.ID)
		}
		fk.Cols = append(fk.Cols, r.From)
		if r.To != nil {
			fk.PCols = append(fk.PCols, *r.To)
		}
	}
	for _, id := range order {
		fk := byID[id]
		if len(fk.PCols) == 0 { // references the parent's primary key
			if err := tx.SelectContext(ctx, &fk.PCols, `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, fk.Display); err != nil {
				return nil, fmt.Errorf("foreign keys of %s: %w", table, err)
			}
		}
		fk.Name = fmt.Sprintf("%s(%s) → %s(%s)", table, strings.Join(fk.Cols, ", "), fk.Display, strings.Join(fk.PCols, ", "))
		out = append(out, *fk)
	}
	return out, nil
}

// blocked is the SQL condition, over the journal row j, under which
// restoring j's before-image into t would violate fk: the image references
// a parent row that does not exist, and the row is not already there with
// the same reference (the database checks a reference only when it
// changes).
func (fk foreignKey) blocked(d dbx.Dialect, t table) string {
	q := d.Quote(t.name)
	val := func(c string) string {
		if d == dbx.Postgres {
			return "r." + d.Quote(c)
		}
		return sqliteValue("j.before_image", c)
	}
	var notNull, match, same []string
	for i, c := range fk.Cols {
		notNull = append(notNull, val(c)+" IS NOT NULL")
		match = append(match, "p."+d.Quote(fk.PCols[i])+" = "+val(c))
		if d == dbx.Postgres {
			same = append(same, "cur."+d.Quote(c)+" IS NOT DISTINCT FROM "+val(c))
		} else {
			same = append(same, "cur."+d.Quote(c)+" IS "+val(c))
		}
	}
	cond := strings.Join(notNull, " AND ") +
		" AND NOT EXISTS (SELECT 1 FROM " + fk.Parent + " p WHERE " + strings.Join(match, " AND ") + ")" +
		" AND NOT EXISTS (SELECT 1 FROM " + q + " cur WHERE cur.id = j.record_id AND " + strings.Join(same, " AND ") + ")"
	if d == dbx.Postgres {
		return "EXISTS (SELECT 1 FROM json_populate_record(NULL::" + q + ", j.before_image::json) r WHERE j.before_image IS NOT NULL AND " + cond + ")"
	}
	return "(j.before_image IS NOT NULL AND " + cond + ")"
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

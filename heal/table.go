package heal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/internal/dbx"
)

// table is a table of the application as a repair or an undo sees it: its
// columns, how its rows are keyed in the journal, and its conventions.
type table struct {
	name string
	cols []string
	// key are the columns that identify a row in the journal: the primary
	// key (repairs), or the columns of the journal's record_key (undo).
	key []string
	// intKey says the key is one integer column, whose value the
	// journal's record_id holds (matched by it: older journals have no
	// record_key).
	intKey bool
	// soft are the soft-delete columns; touched is the column set to the
	// run's stamp on every update ("" when none).
	soft    catalog.SoftDelete
	touched string
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (t table) has(col string) bool { return slices.Contains(t.cols, col) }

// action is the action executed for a: delete on a table that soft-deletes
// (by a flag, a deleted-at timestamp or both) is a soft delete.
func (t table) action(a ip2adb.Action) ip2adb.Action {
	if a == ip2adb.ActionDelete && t.soft.Enabled() {
		return ip2adb.ActionSoftDelete
	}
	return a
}

// modelOf returns m, or the model read from db when m is nil.
func modelOf(ctx context.Context, db catalog.Queryer, m *catalog.Model) (*catalog.Model, error) {
	if m != nil {
		return m, nil
	}
	return catalog.Read(ctx, db, catalog.Options{})
}

// tableOf returns table name of the model m, keyed by its row key
// (catalog.Table.RowKey: the primary key, else an id column),
// with every identifier that will be written into SQL validated against
// the table's real columns.
func tableOf(m *catalog.Model, name string) (table, error) {
	t, err := columnsOf(m, name)
	if err != nil {
		return t, err
	}
	t.key = m.Table(name).RowKey()
	if len(t.key) == 0 {
		return table{}, fmt.Errorf("table %s has no primary key (nor an id column): the journal keys the rows it changes by it (name one with catalog.Override.PrimaryKey)", name)
	}
	for _, c := range t.key {
		if !t.has(c) {
			return table{}, fmt.Errorf("table %s: primary-key column %q does not exist", name, c)
		}
	}
	t.intKey = len(t.key) == 1 && m.Integer(name, t.key[0])
	return t, nil
}

// columnsOf returns table name of the model m without a key, with every
// identifier that will be written into SQL validated.
func columnsOf(m *catalog.Model, name string) (table, error) {
	if !identRE.MatchString(name) {
		return table{}, fmt.Errorf("invalid table name %q", name)
	}
	mt := m.Table(name)
	if mt == nil {
		return table{}, fmt.Errorf("table %s does not exist", name)
	}
	t := table{name: name, cols: mt.ColumnNames(), soft: mt.SoftDelete, touched: mt.Timestamps.UpdatedAt}
	for _, c := range t.cols {
		if !identRE.MatchString(c) {
			return table{}, fmt.Errorf("table %s: unsupported column name %q", name, c)
		}
	}
	for _, c := range []string{t.soft.Flag, t.soft.DeletedAt, t.touched} {
		if c != "" && !t.has(c) {
			return table{}, fmt.Errorf("table %s has no column %q", name, c)
		}
	}
	return t, nil
}

// withJournalKey returns t keyed as the journal rows of one step of a run
// are: keyJSON is the record_key of one of them (NULL in journals written
// before record_key existed, which keyed rows by record_id = the integer
// column id) and hasID whether its record_id is set. The key columns are
// validated against the table's columns.
func (t table) withJournalKey(keyJSON *string, hasID bool) (table, error) {
	if keyJSON == nil {
		if !t.has("id") {
			return t, fmt.Errorf("table %s: the journal keys its rows by an id column the table no longer has", t.name)
		}
		t.key, t.intKey = []string{"id"}, true
		return t, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*keyJSON), &obj); err != nil || len(obj) == 0 {
		return t, fmt.Errorf("table %s: malformed record key %q in the journal", t.name, *keyJSON)
	}
	t.key = t.key[:0:0]
	for c := range obj {
		if !identRE.MatchString(c) || !t.has(c) {
			return t, fmt.Errorf("table %s: the journal keys its rows by column %q, which the table does not have", t.name, c)
		}
		t.key = append(t.key, c)
	}
	slices.Sort(t.key)
	t.intKey = hasID && len(t.key) == 1
	return t, nil
}

// recordID is the SQL expression of the journal's record_id for a row of
// t qualified by q: the key's value when it is one integer column, else
// NULL.
func (t table) recordID(d dbx.Dialect, q string) string {
	if t.intKey {
		return q + "." + d.Quote(t.key[0])
	}
	return d.Null("bigint")
}

// recordKey is the SQL expression of the journal's record_key for a row of
// t qualified by q: a JSON object of the key columns, each written as in a
// row image.
func (t table) recordKey(d dbx.Dialect, q string) string {
	if t.intKey {
		return d.IntegerImage(q, t.key[0])
	}
	return d.ColumnsImage(q, t.key)
}

// match is the SQL condition that the row of t qualified by q is the one
// the journal row j names.
func (t table) match(d dbx.Dialect, q, j string) string {
	if t.intKey {
		return q + "." + d.Quote(t.key[0]) + " = " + j + ".record_id"
	}
	var parts []string
	for _, c := range t.key {
		// The key's own types, from the table's row type.
		v := d.ImageValue(d.Quote(t.name), j+".record_key", c)
		parts = append(parts, q+"."+d.Quote(c)+" = "+v)
	}
	return "(" + strings.Join(parts, " AND ") + ")"
}

// isKey reports whether col is one of t's key columns.
func (t table) isKey(col string) bool { return slices.Contains(t.key, col) }

// describeKey renders a journaled row's key for messages: "5" for an
// integer key, else the key object as JSON.
func describeKey(id *int64, key *string) string {
	switch {
	case id != nil:
		return fmt.Sprint(*id)
	case key != nil:
		var b bytes.Buffer
		if json.Compact(&b, []byte(*key)) == nil {
			return b.String()
		}
		return *key
	}
	return "?"
}

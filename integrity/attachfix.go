package integrity

import (
	"strings"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
)

// MaxRowsPerFix bounds the rows one fix of [RecordFixes] names, so that no
// statement comes near a database's limit on bind parameters and each
// stays a short step of its run.
const MaxRowsPerFix = 500

// RecordFixes returns fixes that apply action to the live rows that issues
// name by primary key ([ip2adb.Issue.RecordKey]), such as the attachments
// a person chose to delete after [FileExists] found their files missing:
// one fix per table and key (in the order they first appear) and per batch
// of at most MaxRowsPerFix rows, in the issues' order. Group issues are
// left out; none at all gives no fix.
//
// A fix selects its rows by their key — "id IN (?, ?)" for a single
// column, "(a = ? AND b = ?) OR …" for several — and leaves soft-deleted
// rows alone: by the table's own soft-delete convention in m (no filter
// when the table has none), or, when m is nil, by is_deleted, as unbound
// checks do.
func RecordFixes(m *catalog.Model, action ip2adb.Action, issues []ip2adb.Issue) []ip2adb.Fix {
	type group struct {
		table string
		cols  []string
		rows  [][]any
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, is := range issues {
		key := is.RecordKey()
		if key == nil {
			continue
		}
		cols := is.PrimaryKey
		if len(cols) == 0 {
			cols = []string{"id"}
		}
		vals := make([]any, len(cols))
		for i, c := range cols {
			vals[i] = key[c]
		}
		id := is.Table + "\x00" + strings.Join(cols, "\x00")
		g := byKey[id]
		if g == nil {
			g = &group{table: is.Table, cols: cols}
			byKey[id] = g
			groups = append(groups, g)
		}
		g.rows = append(g.rows, vals)
	}
	var fixes []ip2adb.Fix
	for _, g := range groups {
		live := "NOT is_deleted"
		if m != nil {
			live = m.Table(g.table).Live("")
		}
		if live != "" {
			live += " AND "
		}
		rest := g.rows
		for len(rest) > 0 {
			batch := rest[:min(len(rest), MaxRowsPerFix)]
			rest = rest[len(batch):]
			where, args := keyIn(g.cols, batch)
			fixes = append(fixes, ip2adb.Fix{Action: action, Table: g.table, Where: live + where, Args: args})
		}
	}
	return fixes
}

// keyIn is the predicate selecting the rows whose key columns cols hold
// one of rows, and its arguments.
func keyIn(cols []string, rows [][]any) (string, []any) {
	args := make([]any, 0, len(rows)*len(cols))
	if len(cols) == 1 {
		for _, r := range rows {
			args = append(args, r[0])
		}
		return cols[0] + " IN (?" + strings.Repeat(", ?", len(rows)-1) + ")", args
	}
	one := "(" + strings.Join(cols, " = ? AND ") + " = ?)"
	for _, r := range rows {
		args = append(args, r...)
	}
	return "(" + one + strings.Repeat(" OR "+one, len(rows)-1) + ")", args
}

package integrity

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb/internal/dbx"

	"github.com/jmoiron/sqlx"
)

// The fused pass: the row checks that read one table with a plain
// condition (no subquery) are counted together in one scan of that table —
// SELECT count(*) FILTER (WHERE p1), count(*) FILTER (WHERE p2), … — the way
// data-quality tools batch the metrics of a table; the passes share Run's
// workers with the other checks. A check whose condition holds for no row
// is done: it found nothing, and its result is exactly what running it
// alone gives (count 0, no issues), with an equal share of the pass's time
// as its duration. Only the checks that found something run their own
// statement, which counts them again and reads the sample rows (LIMIT
// --max-issues); their duration includes their share of the pass. A pass
// that fails (one condition an error) leaves its checks to run alone, so a
// failure is still reported per check.
//
// On PostgreSQL a foreign key joins the pass to its parents' keys (LEFT
// JOIN, one hash join per parent; a polymorphic reference joins each
// target's keys on its type). Checks whose condition holds another subquery (at-most-one,
// has-children) keep their own statements: inside FILTER a correlated
// subquery would run once per row instead of as one hash join.

// fusable returns what the fused pass counts for a bound check: its table
// and a condition selecting exactly the rows its Check reports — a
// built-in row check whose Predicate contains no subquery, or a foreign key
// counted through LEFT JOINs to its parents' keys (joins, in which and in
// the condition "ip2adb_fk_N_" stands for the N-th join's alias): the rows
// with a reference and no parent. A parent key that is not unique repeats
// rows in the pass; it only decides whether a check found anything, which
// repetition does not change.
//
// On SQLite the foreign keys keep their own statements: its joins to a
// derived table cost more there than the IN lookups the checks use alone.
func fusable(c Checker, d dbx.Dialect) (table, where string, args []any, joins []string, ok bool) {
	if f, isFixed := c.(fixed); isFixed {
		c = f.Predicater
	}
	switch c := c.(type) {
	case Required, OneOf, DateOrder, Range, NotInFuture, SQL:
	case ForeignKey:
		if d != dbx.Postgres {
			return "", "", nil, nil, false
		}
		col := c.Table + "." + c.Column
		join := func(parent, on string) string {
			alias := fmt.Sprintf("ip2adb_fk_%d_", len(joins))
			joins = append(joins, fmt.Sprintf("LEFT JOIN (SELECT %s AS ip2adb_k FROM %s) %s ON %s.ip2adb_k = %s%s",
				c.ref(parent), parent, alias, alias, col, on))
			return alias + ".ip2adb_k"
		}
		if c.TypeColumn == "" {
			return c.Table, and(c.live(c.Meta, c.Table), col+" IS NOT NULL", join(c.References, "")+" IS NULL"), nil, joins, true
		}
		// As ForeignKey.predicate: a type naming no parent (NULL, unknown)
		// is an orphan; a known type needs its parent; an unchecked type's
		// rows are not judged.
		typ := c.asText(c.Table, c.TypeColumn, c.Table+"."+c.TypeColumn)
		var known []string
		for _, t := range slices.Sorted(maps.Keys(c.Targets)) {
			k := join(c.Targets[t], " AND "+typ+" = "+literal(t))
			known = append(known, fmt.Sprintf("(%s = %s AND %s IS NOT NULL)", typ, literal(t), k))
		}
		for _, t := range c.unchecked {
			known = append(known, fmt.Sprintf("(%s = %s)", typ, literal(t)))
		}
		parent := "FALSE"
		if len(known) > 0 {
			parent = strings.Join(known, " OR ")
		}
		return c.Table, and(c.live(c.Meta, c.Table), col+" IS NOT NULL", fmt.Sprintf("%s IS NULL OR NOT (%s)", typ, parent)), nil, joins, true
	default:
		return "", "", nil, nil, false
	}
	p := c.(Predicater)
	where, args = p.Predicate()
	if strings.Contains(strings.ToUpper(where), "SELECT") {
		return "", "", nil, nil, false
	}
	return Describe(c).Table, where, args, nil, true
}

// fusedGroup is the checks of one table counted in one pass.
type fusedGroup struct {
	table string
	idx   []int // positions in the checks
	where []string
	args  []any
	joins []string
}

// fusedResult is what the pass found for one check.
type fusedResult struct {
	clean bool          // the condition holds for no row: the check is done
	share time.Duration // the check's share of its pass's time
}

// fusedGroups gathers the fusable checks of bound by table, in order; a
// table with one such check needs no pass (its own statement is one).
func fusedGroups(bound []Checker, d dbx.Dialect) []*fusedGroup {
	byTable := map[string]*fusedGroup{}
	var groups []*fusedGroup
	for i, c := range bound {
		table, where, args, joins, ok := fusable(c, d)
		if !ok || table == "" {
			continue
		}
		g := byTable[table]
		if g == nil {
			g = &fusedGroup{table: table}
			byTable[table] = g
			groups = append(groups, g)
		}
		// The check's join aliases become the group's: ip2adb_jM.
		for n := len(joins) - 1; n >= 0; n-- {
			from, to := fmt.Sprintf("ip2adb_fk_%d_", n), fmt.Sprintf("ip2adb_j%d", len(g.joins)+n)
			where = strings.ReplaceAll(where, from, to)
			for k := range joins {
				joins[k] = strings.ReplaceAll(joins[k], from, to)
			}
		}
		g.joins = append(g.joins, joins...)
		g.idx = append(g.idx, i)
		g.where = append(g.where, where)
		g.args = append(g.args, args...)
	}
	return slices.DeleteFunc(groups, func(g *fusedGroup) bool { return len(g.idx) < 2 })
}

// count runs the group's pass, one count per condition, and returns per
// check what it found, each credited with an equal share of the pass's time.
func (g *fusedGroup) count(ctx context.Context, db *sqlx.DB) ([]*fusedResult, error) {
	start := time.Now()
	sel := make([]string, len(g.where))
	for k, w := range g.where {
		sel[k] = fmt.Sprintf("count(*) FILTER (WHERE %s)", w)
	}
	stmt := "SELECT " + strings.Join(sel, ", ") + " FROM " + strings.Join(append([]string{g.table}, g.joins...), " ")
	rows, done, err := query(ctx, db, stmt, g.args...)
	if err != nil {
		return nil, err
	}
	defer done()
	counts := make([]int64, len(g.where))
	dest := make([]any, len(counts))
	for k := range counts {
		dest[k] = &counts[k]
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("count %s: no row", g.table)
	}
	if err := rows.Scan(dest...); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	share := time.Since(start) / time.Duration(len(counts))
	out := make([]*fusedResult, len(counts))
	for k, n := range counts {
		out[k] = &fusedResult{clean: n == 0, share: share}
	}
	return out, nil
}

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
// target's keys on its type). Checks whose condition holds another
// subquery (has-children, aggregates) keep their own statements: inside
// FILTER a correlated subquery would run once per row instead of as one
// hash join.
//
// The group checks of a table ([AtMostOne], [Unique] without a join)
// share one aggregation by their key: the pass groups the table's rows by
// it, counts per group the rows each check selects, and then sums the row
// checks' counts and counts each group check's over-full groups (the
// checks grouping by another key run alone). A foreign key on that one
// group column joins its parent after the aggregation, once per group
// rather than once per row: on the stress data member_employments is
// grouped by member_id for member.multiple_current_employments, and the
// join to members' keys probes 10,000 groups instead of 439,375 rows.

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
		targets := slices.Sorted(maps.Keys(c.Targets))
		for _, t := range targets {
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

// groupFusable returns, for a group check the fused pass can count, its
// table, its group key and the condition of the rows taking part: an
// over-full group is a key whose rows meeting the condition number more
// than one. A [Unique] joining other tables is not fusable.
func groupFusable(c Checker) (table string, keys []string, where string, args []any, ok bool) {
	if f, isFixed := c.(fixed); isFixed {
		c = f.Predicater
	}
	switch c := c.(type) {
	case AtMostOne:
		return c.Table, slices.Clone(c.GroupBy), and(c.filter()...), nil, true
	case Unique:
		if c.Join != "" {
			return "", nil, "", nil, false
		}
		preds := []string{c.live(c.Meta, ""), c.Where}
		for _, k := range c.Keys {
			keys = append(keys, k.expr())
			preds = append(preds, k.expr()+" IS NOT NULL")
		}
		return c.Table, keys, and(preds...), c.Args, true
	}
	return "", nil, "", nil, false
}

// fusedGroup is the checks of one table counted in one pass.
type fusedGroup struct {
	table string
	idx   []int // positions in the checks
	where []string
	args  []any
	joins []string
	// groupBy, when set, is the key the pass groups the table's rows by,
	// shared by its group checks (group[k]: the k-th check is one): their
	// over-full groups are counted from that one aggregation, the row
	// checks' counts summed over the groups.
	groupBy []string
	group   []bool
	// late holds, by check, the parent keys a foreign key on the group key
	// is joined to after the aggregation — once per group instead of once
	// per row; its count in the aggregation is then of the rows with a
	// reference.
	late map[int]string
}

// passGroupMemory lets a pass that groups keep its groups in memory on
// PostgreSQL: with the default 4 MB the planner expects the hash
// aggregation of 100,000 members' groups (ten times the stress volumes) to
// spill, and reads member_employments through its member_id index in
// order instead — 5.5 s against 3.5 s for the scan and hash aggregation.
const passGroupMemory = "SET LOCAL work_mem = '64MB'"

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
	lateFK := map[*fusedGroup][]lateCandidate{}
	for i, c := range bound {
		table, where, args, joins, ok := fusable(c, d)
		isGroup := false
		if !ok {
			var keys []string
			table, keys, where, args, ok = groupFusable(c)
			if !ok || table == "" {
				continue
			}
			// The first group check of a table sets the pass's key; one
			// grouping by another key runs alone.
			if g := byTable[table]; g != nil && g.groupBy != nil && !slices.Equal(g.groupBy, keys) {
				continue
			}
			if byTable[table] == nil {
				g := &fusedGroup{table: table}
				byTable[table] = g
				groups = append(groups, g)
			}
			byTable[table].groupBy = keys
			isGroup = true
		}
		if table == "" {
			continue
		}
		g := byTable[table]
		if g == nil {
			g = &fusedGroup{table: table}
			byTable[table] = g
			groups = append(groups, g)
		}
		g.group = append(g.group, isGroup)
		if fk, isFK := unfixed(c).(ForeignKey); isFK && fk.TypeColumn == "" && len(joins) == 1 {
			lateFK[g] = append(lateFK[g], lateCandidate{k: len(g.idx), fk: fk, join: len(g.joins)})
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
	// A foreign key on the one column a pass groups by joins its parent
	// after the aggregation.
	for g, cands := range lateFK {
		if len(g.groupBy) != 1 {
			continue
		}
		var drop []int
		for _, lc := range cands {
			if lc.fk.Column != g.groupBy[0] {
				continue
			}
			if g.late == nil {
				g.late = map[int]string{}
			}
			g.late[lc.k] = fmt.Sprintf("SELECT %s AS ip2adb_k FROM %s", lc.fk.ref(lc.fk.References), lc.fk.References)
			g.where[lc.k] = and(lc.fk.live(lc.fk.Meta, lc.fk.Table), lc.fk.Table+"."+lc.fk.Column+" IS NOT NULL")
			drop = append(drop, lc.join)
		}
		var keep []string
		for j, join := range g.joins {
			if !slices.Contains(drop, j) {
				keep = append(keep, join)
			}
		}
		g.joins = keep
	}
	return slices.DeleteFunc(groups, func(g *fusedGroup) bool { return len(g.idx) < 2 })
}

// lateCandidate is a foreign key of a pass that may join its parent after
// the aggregation: its position among the pass's checks and its join's.
type lateCandidate struct {
	k, join int
	fk      ForeignKey
}

// unfixed is c without the fix a rule set attached to it.
func unfixed(c Checker) Checker {
	if f, ok := c.(fixed); ok {
		return f.Predicater
	}
	return c
}

// count runs the group's pass, one count per condition, and returns per
// check what it found, each credited with an equal share of the pass's time.
func (g *fusedGroup) count(ctx context.Context, db *sqlx.DB) ([]*fusedResult, error) {
	start := time.Now()
	sel := make([]string, len(g.where))
	for k, w := range g.where {
		sel[k] = fmt.Sprintf("count(*) FILTER (WHERE %s)", w)
	}
	from := strings.Join(append([]string{g.table}, g.joins...), " ")
	stmt := "SELECT " + strings.Join(sel, ", ") + " FROM " + from
	if g.groupBy != nil {
		// One aggregation by the key: per group the rows each check
		// selects; then the row checks' sums and the number of over-full
		// groups of each group check.
		outer := make([]string, len(sel))
		var lateJoins []string
		for k := range sel {
			sel[k] += fmt.Sprintf(" AS ip2adb_c%d", k)
			switch parent, late := g.late[k]; {
			case g.group[k]:
				outer[k] = fmt.Sprintf("count(*) FILTER (WHERE ip2adb_c%d > 1)", k)
			case late:
				alias := fmt.Sprintf("ip2adb_l%d", k)
				lateJoins = append(lateJoins, fmt.Sprintf(" LEFT JOIN (%s) %s ON %s.ip2adb_k = ip2adb_g.ip2adb_key", parent, alias, alias))
				outer[k] = fmt.Sprintf("COALESCE(sum(ip2adb_c%d) FILTER (WHERE %s.ip2adb_k IS NULL), 0)", k, alias)
			default:
				outer[k] = fmt.Sprintf("COALESCE(sum(ip2adb_c%d), 0)", k)
			}
		}
		key := ""
		if len(g.late) > 0 {
			key = g.groupBy[0] + " AS ip2adb_key, "
		}
		stmt = "SELECT " + strings.Join(outer, ", ") + " FROM (SELECT " + key + strings.Join(sel, ", ") + " FROM " + from +
			" GROUP BY " + strings.Join(g.groupBy, ", ") + ") ip2adb_g" + strings.Join(lateJoins, "")
	}
	set := ""
	if g.groupBy != nil {
		set = passGroupMemory
	}
	rows, done, err := queryWith(ctx, db, set, stmt, g.args...)
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

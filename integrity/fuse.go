package integrity

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/internal/dbx"

	"github.com/jmoiron/sqlx"
)

// The fused passes. Most checks find nothing on a healthy database, and
// what they find they count again when they run alone; a pass only has to
// tell, cheaply, which checks are clean.
//
//   - The row checks that read one table with a plain condition (no
//     subquery) are counted together in one scan of that table —
//     count(*) FILTER (WHERE p1), count(*) FILTER (WHERE p2), … WHERE p1
//     OR p2 OR … — the way data-quality tools batch the metrics of a
//     table; only the rows some condition selects reach the aggregates.
//   - The table's first at-most-one rule shares that scan. With one key k
//     and filter f: count(*) FILTER (WHERE f) - count(DISTINCT k) FILTER
//     (WHERE f), zero exactly when no key has two rows (its value is not
//     the rule's count of groups, but only zero matters). With several
//     keys the rows its filter selects are grouped by the keys, the others
//     fall into one group of NULL keys — SELECT count(*) FILTER (WHERE n >
//     1), sum(c1), … FROM (SELECT count(*) FILTER (WHERE f) AS n, count(*)
//     FILTER (WHERE p1) AS c1, … FROM t WHERE f OR p1 OR … GROUP BY CASE
//     WHEN f THEN k END).
//     The filter of such a rule (a current employment, a primary contact)
//     selects few rows, so this costs little next to the scan the row
//     checks need anyway; alone, the rule read the table once more.
//     Uniqueness rules keep their own statements: their filter selects
//     nearly every row, and grouping all of them inside the pass cost more
//     than the rule alone (which may read the key from an index).
//   - A foreign key is probed on its own: on PostgreSQL, where the
//     statistics say it pays ([readStats]), through the gaps between the
//     parent's keys ([ForeignKey.gapProbe]) or by a loose index scan over
//     the child's distinct references; else the child's distinct
//     references (GROUP BY, which PostgreSQL reads from an index on the
//     column when there is one) looked up in the parent. Soft-deleted
//     children are not left out, so a probe counts a superset of the
//     check's orphans: zero means the check finds nothing; anything else
//     makes the check run alone, which counts exactly.
//
// Passes and probes share Run's workers with the other checks. A check a
// pass found clean is done: its result is exactly what running it alone
// gives (count 0, no issues), with an equal share of the pass's time as
// its duration. The checks that may have found something run their own
// statement, which counts them again and reads the sample rows (LIMIT
// --max-issues); their duration includes their share of the pass. A pass
// that fails (one condition an error) leaves its checks to run alone, so a
// failure is still reported per check.
//
// Checks whose condition holds another subquery (has-children, custom SQL
// with a subquery) keep their own statements: inside FILTER a correlated
// subquery would run once per row instead of as one hash join.

// fusion is how the fused passes count one bound check.
type fusion struct {
	table string
	// where and args: the condition of a row rule over table; the filter
	// of an at-most-one rule.
	where string
	args  []any
	// sieve and sieveArgs, when set, are a cheaper condition true for
	// every row where is: the pass filters with it, its count keeps where.
	sieve     string
	sieveArgs []any
	// group are the group columns of an at-most-one rule; nil for a row
	// rule.
	group []string
	// probe, when set, is a statement of its own returning one count that
	// is zero only when the check finds nothing.
	probe string
}

// fusable returns how the fused passes count a bound check: a built-in
// row check whose Predicate contains no subquery (counted in its table's
// pass), an at-most-one rule (grouped in its table's pass) or a foreign
// key (probed on its own).
//
// A foreign key in probes (by "table.column") is probed the way probes
// says ([readStats]); any other reads the child's distinct references.
func fusable(c Checker, d dbx.Dialect, probes map[string]probeKind) (fusion, bool) {
	if f, isFixed := c.(fixed); isFixed {
		c = f.Predicater
	}
	switch c := c.(type) {
	case Required, OneOf, DateOrder, Range, NotInFuture, SQL:
		p := c.(Predicater)
		where, args := p.Predicate()
		if strings.Contains(strings.ToUpper(where), "SELECT") {
			return fusion{}, false
		}
		table := Describe(c).Table
		if b, ok := c.(interface{ bindingOf() *binding }); ok {
			where = b.bindingOf().blankPrefilter(d, table, where)
		}
		f := fusion{table: table, where: where, args: args}
		if s, ok := c.(interface{ sieve() (string, []any) }); ok {
			// Without the soft-delete filter and the NULL tests: at ten
			// times the stress volumes the employments pass's filter costs
			// about 8 % less.
			f.sieve, f.sieveArgs = s.sieve()
		}
		return f, true
	case AtMostOne:
		if len(c.GroupBy) == 0 {
			return fusion{}, false
		}
		return fusion{table: c.Table, where: and(c.filter()...), group: c.GroupBy}, true
	case ForeignKey:
		switch probes[c.Table+"."+c.Column] {
		case probeGrouped: // below
		case probeGaps:
			return fusion{table: c.Table, probe: c.gapProbe()}, true
		case probeLoose:
			if c.TypeColumn == "" {
				// From one value to the next through the index: the
				// recursion yields each distinct reference once, then NULL.
				return fusion{table: c.Table, probe: fmt.Sprintf("WITH RECURSIVE ip2adb_c(%[1]s) AS ((SELECT min(%[1]s) FROM %[2]s) UNION ALL "+
					"SELECT (SELECT min(%[1]s) FROM %[2]s WHERE %[1]s > ip2adb_c.%[1]s) FROM ip2adb_c WHERE ip2adb_c.%[1]s IS NOT NULL) "+
					"SELECT count(*) FROM ip2adb_c WHERE %[3]s", c.Column, c.Table, and(c.orphan("ip2adb_c", false)...))}, true
			}
		}
		cols := c.Column
		if c.TypeColumn != "" {
			cols = c.TypeColumn + ", " + c.Column
		}
		// The orphan test without its first condition, the reference not
		// being NULL, which the grouping already applies (written twice,
		// it misleads PostgreSQL's estimate away from the index).
		probe := fmt.Sprintf("SELECT count(*) FROM (SELECT %s FROM %s WHERE %s IS NOT NULL GROUP BY %s) ip2adb_c WHERE %s",
			cols, c.Table, c.Column, cols, and(c.orphan("ip2adb_c", !d.CostBasedPlanner())[1:]...))
		return fusion{table: c.Table, probe: probe}, true
	}
	return fusion{}, false
}

// gapProbe is the foreign key's probe through the gaps between the
// parent's keys (PostgreSQL; integer keys; an index on the reference, led
// by the type column for a polymorphic one): a reference is an orphan
// exactly when it falls below the parent's least key, above its greatest,
// or strictly between two neighbouring keys. The parent's keys are read
// in order once (lag over its key's index), and each gap — none in a
// parent whose rows were never deleted — is one descent of the child's
// index, as are the two ends. A polymorphic reference adds the rows whose
// type is NULL or names no target (a loose index scan over the types).
// Like the grouped probe it counts soft-deleted children too: zero means
// the check finds nothing, anything else makes the check run alone.
func (c ForeignKey) gapProbe() string {
	if c.TypeColumn == "" {
		return "SELECT " + c.gapTerm(c.References, "")
	}
	var types, terms []string
	for _, t := range slices.Sorted(maps.Keys(c.Targets)) {
		types = append(types, literal(t))
		terms = append(terms, c.gapTerm(c.Targets[t], t))
	}
	for _, t := range c.unchecked {
		types = append(types, literal(t))
	}
	known := "TRUE"
	if len(types) > 0 {
		known = "ip2adb_t.v NOT IN (" + strings.Join(types, ", ") + ")"
	}
	// Types no target names, by a loose index scan over the type column;
	// rows of no type.
	terms = append([]string{
		fmt.Sprintf("(SELECT count(*) FROM ip2adb_t WHERE ip2adb_t.v IS NOT NULL AND %s)", known),
		fmt.Sprintf("(SELECT count(*) FROM (SELECT 1 FROM %[1]s WHERE %[2]s IS NULL AND %[3]s IS NOT NULL LIMIT 1) ip2adb_z)", c.Table, c.TypeColumn, c.Column),
	}, terms...)
	return fmt.Sprintf("WITH RECURSIVE ip2adb_t(v) AS ((SELECT min(%[1]s) FROM %[2]s) UNION ALL "+
		"SELECT (SELECT min(%[1]s) FROM %[2]s WHERE %[1]s > ip2adb_t.v) FROM ip2adb_t WHERE ip2adb_t.v IS NOT NULL) SELECT %[3]s",
		c.TypeColumn, c.Table, strings.Join(terms, " + "))
}

// gapRows is, for a plain foreign key probed through the parent's gaps,
// the child's rows that can be orphans as a derived table named as the
// child: those whose reference lies below the parent's least key, above
// its greatest, strictly between two neighbouring keys, or anywhere when
// the parent has no key — each range read from the index on the
// reference, each row once. The check's own predicate still selects the
// orphans among them (and the soft-deleted children out), so its count
// and samples are those of the whole table; where the gap probe pays off
// (a child of many times its parent's rows) this reads the few rows in
// the gaps instead of the whole child, which the anti-join scanned.
// The two open ends are closed by the child's own least and greatest
// reference (one end of its index each): an open range compared with a
// value the planner cannot see is estimated at a third of the table, and
// it would scan the table.
func (c ForeignKey) gapRows() string { return "(" + c.gapCandidates("*") + ") " + c.Table }

// gapCandidates is the union gapRows reads, selecting cols of the child's
// rows ("*" for the whole row, "ctid" for its row id).
func (c ForeignKey) gapCandidates(cols string) string {
	ref := c.ref(c.References)
	return fmt.Sprintf("SELECT %[5]s FROM %[1]s WHERE %[2]s >= (SELECT min(%[2]s) FROM %[1]s) AND %[2]s < (SELECT min(%[4]s) FROM %[3]s) "+
		"UNION ALL SELECT %[5]s FROM %[1]s WHERE %[2]s > (SELECT max(%[4]s) FROM %[3]s) AND %[2]s <= (SELECT max(%[2]s) FROM %[1]s) "+
		"UNION ALL SELECT ip2adb_c.%[5]s FROM (SELECT %[4]s AS ip2adb_k, lag(%[4]s) OVER (ORDER BY %[4]s) AS ip2adb_prev FROM %[3]s WHERE %[4]s IS NOT NULL) ip2adb_g "+
		"JOIN %[1]s ip2adb_c ON ip2adb_c.%[2]s > ip2adb_g.ip2adb_prev AND ip2adb_c.%[2]s < ip2adb_g.ip2adb_k WHERE ip2adb_g.ip2adb_k > ip2adb_g.ip2adb_prev + 1 "+
		"UNION ALL SELECT %[5]s FROM %[1]s WHERE %[2]s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %[3]s WHERE %[4]s IS NOT NULL)",
		c.Table, c.Column, c.References, ref, cols)
}

// gapRestriction is, for a plain foreign key probed through the parent's
// gaps, a condition over the unaliased child table that every orphan
// meets: its row is one of the rows gapRows reads. ANDed to the orphan
// predicate it selects the same rows, and PostgreSQL reaches them by their
// row ids (a TID scan of the few rows in the gaps) instead of anti-joining
// the whole child. The row ids are read in the statement's snapshot.
func (c ForeignKey) gapRestriction() string {
	return c.Table + ".ctid = ANY (ARRAY(" + c.gapCandidates("ctid") + "))"
}

// markGaps marks, in place, the plain foreign keys of bound that st
// probes through the parent's gaps ([ForeignKey.gaps]): their checks read
// their orphans through the gaps, and [RepairFixes] narrows their fixes to
// them.
func markGaps(bound []Checker, st stats) {
	for i, c := range bound {
		if fk, ok := unfixed(c).(ForeignKey); ok && fk.TypeColumn == "" && st.probes[fk.Table+"."+fk.Column] == probeGaps {
			fk.gaps = true
			bound[i] = refixed(c, fk)
		}
	}
}

// gapTerm counts, for gapProbe, the gaps between the keys of parent that
// hold a reference (of type typ, for a polymorphic one), plus one when a
// reference lies beyond either end of the parent's keys or the parent has
// none. The ends are compared through min and max, which read one end of
// each index: an open range would leave PostgreSQL no estimate but a third
// of the table, and it would scan the table.
func (c ForeignKey) gapTerm(parent, typ string) string {
	ref := c.ref(parent)
	of := ""
	if typ != "" {
		of = fmt.Sprintf("ip2adb_c.%s = %s AND ", c.TypeColumn, literal(typ))
	}
	child := func(agg string) string {
		return fmt.Sprintf("(SELECT %s(ip2adb_c.%s) FROM %s ip2adb_c WHERE %sip2adb_c.%s IS NOT NULL)", agg, c.Column, c.Table, of, c.Column)
	}
	key := func(agg string) string { return fmt.Sprintf("(SELECT %s(%s) FROM %s)", agg, ref, parent) }
	gaps := fmt.Sprintf("(SELECT count(*) FROM (SELECT %[1]s AS ip2adb_k, lag(%[1]s) OVER (ORDER BY %[1]s) AS ip2adb_prev FROM %[2]s WHERE %[1]s IS NOT NULL) ip2adb_g "+
		"WHERE ip2adb_g.ip2adb_k > ip2adb_g.ip2adb_prev + 1 AND EXISTS (SELECT 1 FROM %[3]s ip2adb_c WHERE %[4]sip2adb_c.%[5]s > ip2adb_g.ip2adb_prev AND ip2adb_c.%[5]s < ip2adb_g.ip2adb_k))",
		ref, parent, c.Table, of, c.Column)
	if b := c.binding; b != nil && b.model != nil && b.model.Table(parent).UniqueOn(ref) != nil {
		// Unique keys without a gap number max - min + 1: counting them
		// (from the key's index) costs a third of reading them in order,
		// and the gaps are read only when there are some. PostgreSQL runs
		// a CASE branch's uncorrelated subquery only when it is needed.
		gaps = fmt.Sprintf("CASE WHEN (SELECT count(%[1]s) FROM %[2]s) = (SELECT CAST(max(%[1]s) AS numeric) - min(%[1]s) + 1 FROM %[2]s) THEN 0 ELSE %[3]s END",
			ref, parent, gaps)
	}
	return fmt.Sprintf("%s + CASE WHEN %[2]s IS NULL THEN 0 WHEN %[3]s IS NULL OR %[2]s < %[3]s OR %[4]s > %[5]s THEN 1 ELSE 0 END",
		gaps, child("min"), key("min"), child("max"), key("max"))
}

// fusedPass is one statement that counts one or more checks, a count per
// check in the order of idx.
type fusedPass struct {
	table string
	idx   []int // positions in the checks
	// exact says, by position in idx, that the pass's count is the
	// check's own: a row rule counted by its whole predicate (not an
	// at-most-one rule, not a probe).
	exact []bool
	stmt  string
	args  []any
	// set are settings for the pass's transaction (PostgreSQL).
	set []dbx.Setting
	// on, when set, is the connection the pass runs on, released to the
	// pool when it is done; else it takes one from the pool.
	on *sql.Conn
}

// fusedResult is what the pass found for one check.
type fusedResult struct {
	clean bool          // the check finds nothing: it is done
	share time.Duration // the check's share of its pass's time
	// count, when exact, is the number of rows the check finds, as its
	// own statement would count them.
	count int64
	exact bool
}

// fusedPasses builds the passes over bound: a probe per foreign key, a
// pass per table with at least two row checks or one and an at-most-one
// rule (a single check's own statement is one pass already).
func fusedPasses(bound []Checker, d dbx.Dialect, st stats) []*fusedPass {
	type tablePass struct {
		rows  []int
		group int // the at-most-one rule grouped in the pass; -1 for none
	}
	fused := make([]fusion, len(bound))
	byTable := map[string]*tablePass{}
	var tables []string
	var passes []*fusedPass
	for i, c := range bound {
		f, ok := fusable(c, d, st.probes)
		if !ok || f.table == "" {
			continue
		}
		fused[i] = f
		if f.probe != "" {
			passes = append(passes, &fusedPass{table: f.table, idx: []int{i}, stmt: f.probe})
			continue
		}
		t := byTable[f.table]
		if t == nil {
			t = &tablePass{group: -1}
			byTable[f.table] = t
			tables = append(tables, f.table)
		}
		switch {
		case f.group == nil:
			t.rows = append(t.rows, i)
		case t.group < 0:
			t.group = i
		}
	}
	// The table passes first, the largest tables first (else the most
	// checks first): they are the longest statements, and the workers
	// take them in order — the first takes the connection already open.
	slices.SortStableFunc(tables, func(a, b string) int {
		pa, aok := st.pages[a]
		pb, bok := st.pages[b]
		if aok && bok && pa != pb {
			return cmp.Compare(pb, pa)
		}
		return len(byTable[b].rows) + min(byTable[b].group+1, 1) - len(byTable[a].rows) - min(byTable[a].group+1, 1)
	})
	probes := passes
	passes = nil
	for _, table := range tables {
		t := byTable[table]
		if len(t.rows) == 0 || (len(t.rows) < 2 && t.group < 0) {
			continue
		}
		p := &fusedPass{table: table}
		// Only the rows some condition selects reach the aggregates: on a
		// healthy table next to none, and each condition is evaluated once
		// per row in the scan instead of once per aggregate.
		var counts, ors []string
		var countArgs, orArgs []any
		for _, i := range t.rows {
			f := fused[i]
			counts = append(counts, "count(*) FILTER (WHERE "+f.where+")")
			countArgs = append(countArgs, f.args...)
			if f.sieve != "" {
				ors = append(ors, f.sieve)
				orArgs = append(orArgs, f.sieveArgs...)
			} else {
				ors = append(ors, f.where)
				orArgs = append(orArgs, f.args...)
			}
		}
		if t.group < 0 {
			p.idx = t.rows
			p.exact = slices.Repeat([]bool{true}, len(t.rows))
			p.stmt = "SELECT " + strings.Join(counts, ", ") + " FROM " + table + " WHERE (" + strings.Join(ors, ") OR (") + ")"
			p.args = append(countArgs, orArgs...)
			passes = append(passes, p)
			continue
		}
		g := fused[t.group]
		p.idx = append([]int{t.group}, t.rows...)
		p.exact = append([]bool{false}, slices.Repeat([]bool{true}, len(t.rows))...)
		ors = append([]string{g.where}, ors...)
		orArgs = append(slices.Clone(g.args), orArgs...)
		where := "(" + strings.Join(ors, ") OR (") + ")"
		if len(g.group) == 1 {
			// One key: the rule's rows less their distinct keys, zero
			// exactly when no key has two. A distinct count sorts the
			// few rows the filter selects (a current employment: 1.5 % of
			// member_employments) in the leader, where grouping them by
			// hash cost 100 ms of 750 at ten times the stress volumes.
			p.stmt = fmt.Sprintf("SELECT count(*) FILTER (WHERE %[1]s) - count(DISTINCT %[2]s) FILTER (WHERE %[1]s), %[3]s FROM %[4]s WHERE %[5]s",
				g.where, g.group[0], strings.Join(counts, ", "), table, where)
			p.args = slices.Concat(g.args, g.args, countArgs, orArgs)
			// The rows go to the leader rather than partial aggregates:
			// a transfer PostgreSQL prices for every row its estimate
			// lets through (a third of the table for a comparison of two
			// columns), so that it would scan the table alone.
			p.set = []dbx.Setting{{Name: "parallel_tuple_cost", Value: "0.001"}}
			passes = append(passes, p)
			continue
		}
		// Several keys: every row some condition selects is aggregated,
		// into its group when the rule's filter f selects it, else into
		// the group of NULL keys (where n is 0).
		inner := []string{"count(*) FILTER (WHERE " + g.where + ") AS ip2adb_n"}
		outer := []string{"count(*) FILTER (WHERE ip2adb_n > 1)"}
		for k := range t.rows {
			inner = append(inner, fmt.Sprintf("%s AS ip2adb_c%d", counts[k], k))
			outer = append(outer, fmt.Sprintf("coalesce(sum(ip2adb_c%d), 0)", k))
		}
		args := slices.Concat(g.args, countArgs, orArgs)
		var keys []string
		for _, k := range g.group {
			keys = append(keys, "CASE WHEN "+g.where+" THEN "+k+" END")
			args = append(args, g.args...)
		}
		p.stmt = fmt.Sprintf("SELECT %s FROM (SELECT %s FROM %s WHERE %s GROUP BY %s) ip2adb_g",
			strings.Join(outer, ", "), strings.Join(inner, ", "), table, where, strings.Join(keys, ", "))
		p.args = args
		passes = append(passes, p)
	}
	return append(passes, probes...)
}

// count runs the pass and returns per check what it found, each credited
// with an equal share of the pass's time.
func (p *fusedPass) count(ctx context.Context, db *sqlx.DB) ([]*fusedResult, error) {
	start := time.Now()
	var on conn = db
	if p.on != nil {
		on = p.on
		defer p.on.Close()
	}
	rows, done, err := queryOn(ctx, dbx.DialectOf(db), on, p.set, p.stmt, p.args...)
	if err != nil {
		return nil, err
	}
	defer done()
	counts := make([]int64, len(p.idx))
	dest := make([]any, len(counts))
	for k := range counts {
		dest[k] = &counts[k]
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("count %s: no row", p.table)
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
		out[k] = &fusedResult{clean: n == 0, share: share, count: n, exact: k < len(p.exact) && p.exact[k]}
	}
	return out, nil
}

// bindingOf returns the binding itself: the checks embedding one expose
// it to the fused pass.
func (b *binding) bindingOf() *binding { return b }

// blankTest matches a blank test of one column, trim(col) = ”.
var blankTest = regexp.MustCompile(`(?i)\btrim\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*=\s*''`)

// blankPrefilter rewrites, for a pass where the dialect has a prefilter
// ([dbx.Dialect.BlankPrefilter]: PostgreSQL), each blank test
// trim(col) = ” of a text column of table that stands alone between
// AND, OR, NOT and parentheses into (col COLLATE "C" < '!' AND trim(col)
// = ”). The two are equivalent — trim removes spaces only, and a value of
// nothing but spaces sorts before '!' byte by byte — but PostgreSQL's trim
// copies every value, the comparison copies none: on the attachments'
// paths the pass's cost fell by half. The checks' own statements and
// fixes keep their conditions as written.
func (b *binding) blankPrefilter(d dbx.Dialect, table, where string) string {
	if b == nil || b.model == nil || strings.Contains(where, "$") {
		return where
	}
	var out strings.Builder
	last := 0
	for _, m := range blankTest.FindAllStringSubmatchIndex(where, -1) {
		col := where[m[2]:m[3]]
		// Not inside a string literal (an odd number of quotes before it),
		// not an operand of a tighter operator.
		pre := d.BlankPrefilter(col)
		if pre == "" || !b.text(table, col) || strings.Count(where[:m[0]], "'")%2 == 1 || !standsAlone(where[:m[0]], where[m[1]:]) {
			continue
		}
		out.WriteString(where[last:m[0]])
		fmt.Fprintf(&out, `(%s AND %s)`, pre, where[m[0]:m[1]])
		last = m[1]
	}
	out.WriteString(where[last:])
	return out.String()
}

// standsAlone reports whether an expression between before and after is
// an operand of AND, OR or NOT (or the whole condition) rather than of an
// operator binding more tightly, such as || or ::.
func standsAlone(before, after string) bool {
	before = strings.ToUpper(strings.TrimRight(before, " \t\n"))
	after = strings.ToUpper(strings.TrimLeft(after, " \t\n"))
	okBefore := before == "" || strings.HasSuffix(before, "(")
	for _, w := range []string{"AND", "OR", "NOT"} {
		okBefore = okBefore || (strings.HasSuffix(before, w) && (len(before) == len(w) || !isWord(before[len(before)-len(w)-1])))
	}
	okAfter := after == "" || strings.HasPrefix(after, ")")
	for _, w := range []string{"AND", "OR"} {
		okAfter = okAfter || (strings.HasPrefix(after, w) && (len(after) == len(w) || !isWord(after[len(w)])))
	}
	return okBefore && okAfter
}

// isWord reports whether c can be part of an SQL word.
func isWord(c byte) bool {
	return c == '_' || c == '$' || c == '.' || c == '"' || ('0' <= c && c <= '9') || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z')
}

// probeKind is how a foreign key is probed ([readStats]).
type probeKind int

const (
	// probeGrouped reads the child's distinct references (from an index
	// on the column when there is one) and looks each up in the parent.
	probeGrouped probeKind = iota
	// probeLoose reads the distinct references by a loose index scan.
	probeLoose
	// probeGaps looks up the gaps between the parent's keys in the
	// child's index ([ForeignKey.gapProbe]).
	probeGaps
)

// looseRatio is how many rows per distinct value a reference needs before
// a loose index scan probes it: each value costs a descent of the index
// (about 5 µs on the project's machine) where reading the whole index
// costs about 40 ns a row. organization_id of member_employments at ten
// times the stress volumes (584 rows a value): 40 ms instead of 175 ms of
// server CPU; member_id (44 rows a value) would take twice as long.
const looseRatio = 300

// looseMinRows is the fewest rows a child table needs before a loose index
// scan may probe its reference: below it the grouped probe reads the whole
// index in a few milliseconds, less than reading pg_stats to decide.
const looseMinRows = 100_000

// gapRatio is how many times the rows of its parent (all targets', for a
// polymorphic reference) a child table needs before its references are
// probed through the parent's gaps: that probe reads the parent's keys
// (about 0.2 µs a key) and descends the child's index once per gap, where
// the grouped probe reads every entry of the child's index (about 40 ns).
// At ten times the stress volumes the gaps probe member_employments'
// member_id in 25 ms of server CPU instead of 190 ms, its organization_id
// in 5 ms instead of 40 (loose) and the attachments' polymorphic reference
// in 50 ms instead of 190. A parent with many hard-deleted rows has many
// gaps, each a descent: at this ratio the worst case costs about what the
// grouped probe costs.
const gapRatio = 4

// stats is what the catalog's statistics say about the tables the checks
// read ([readStats]).
type stats struct {
	// probes says how a foreign key is probed (by "table.column") when not
	// grouped.
	probes map[string]probeKind
	// pages are the tables' sizes in pages, as last analysed.
	pages map[string]float64
}

// readStats reads, on PostgreSQL, the sizes of the tables bound reads and
// how each foreign key among bound is probed best (by "table.column"; the
// others are probed grouped). A reference whose columns and parent keys
// are integers, with a valid, non-partial B-tree index led by the column
// (by the type column then the column, for a polymorphic one, whose type
// must be text), in a child table at least gapRatio times its parents'
// rows, is probed through the parents' gaps; else a plain integer
// reference with such an index and at least looseRatio rows per distinct
// value by a loose index scan. Without statistics, or on any error, none:
// the grouped probe is never much worse, and the passes keep their order.
func readStats(ctx context.Context, db *sqlx.DB, m *catalog.Model, bound []Checker) stats {
	if !dbx.DialectOf(db).ServerStatistics() || m == nil {
		return stats{}
	}
	var fks []ForeignKey
	tables := map[string]bool{}
	for _, c := range bound {
		if t := Describe(c).Table; t != "" && m.Table(t) != nil {
			tables[t] = true
		}
		if fk, ok := unfixed(c).(ForeignKey); ok && fk.binding != nil && m.Integer(fk.Table, fk.Column) {
			fks = append(fks, fk)
			tables[fk.Table] = true
			for _, p := range fk.parents() {
				tables[p] = true
			}
		}
	}
	if len(tables) == 0 {
		return stats{}
	}
	var names []string
	for _, t := range slices.Sorted(maps.Keys(tables)) {
		names = append(names, literal(t))
	}
	schema := "current_schema()"
	if m.Schema != "" {
		schema = literal(m.Schema)
	}
	in := strings.Join(names, ", ")
	// Per table its rows and pages (analysed tables only) and the leading
	// key columns of its indexes.
	q := `SELECT 'rows', c.relname, '', '', c.reltuples::float8
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ` + schema + ` AND c.relname IN (` + in + `) AND c.reltuples >= 0
UNION ALL
SELECT 'pages', c.relname, '', '', c.relpages::float8
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ` + schema + ` AND c.relname IN (` + in + `) AND c.reltuples >= 0
UNION ALL
SELECT 'index', c.relname, a.attname, coalesce(a2.attname, ''), 0
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
LEFT JOIN pg_attribute a2 ON a2.attrelid = c.oid AND a2.attnum = CASE WHEN i.indnkeyatts > 1 THEN i.indkey[1] END
WHERE n.nspname = ` + schema + ` AND c.relname IN (` + in + `) AND i.indisvalid AND i.indpred IS NULL`
	count, pages := map[string]float64{}, map[string]float64{}
	indexed := map[string]bool{} // "table.column" and "table.column,column" of the leading key columns
	perValue := map[string]float64{}
	read := func(q string) bool {
		rows, done, err := query(ctx, db, q)
		if err != nil {
			return false
		}
		defer done()
		for rows.Next() {
			var kind, table, col, col2 string
			var n float64
			if rows.Scan(&kind, &table, &col, &col2, &n) != nil {
				return false
			}
			switch kind {
			case "rows":
				count[table] = n
			case "pages":
				pages[table] = n
			case "index":
				indexed[table+"."+col] = true
				if col2 != "" {
					indexed[table+"."+col+","+col2] = true
				}
			case "distinct":
				perValue[table+"."+col] = n
			}
		}
		return rows.Err() == nil
	}
	if !read(q) {
		return stats{}
	}
	out := map[string]probeKind{}
	var loose []ForeignKey
	for _, fk := range fks {
		key := fk.Table + "." + fk.Column
		child, analysed := count[fk.Table]
		if !analysed || child <= 0 {
			continue
		}
		parents, gaps := 0.0, true
		for _, p := range fk.parents() {
			n, ok := count[p]
			parents += n
			gaps = gaps && ok && m.Integer(p, fk.ref(p))
		}
		if fk.TypeColumn == "" {
			gaps = gaps && indexed[key]
		} else {
			col := m.Column(fk.Table, fk.TypeColumn)
			gaps = gaps && col != nil && col.Text && indexed[fk.Table+"."+fk.TypeColumn+","+fk.Column]
		}
		switch {
		case gaps && child >= gapRatio*max(parents, 1):
			out[key] = probeGaps
		case fk.TypeColumn == "" && indexed[key] && child >= looseMinRows:
			loose = append(loose, fk)
		}
	}
	if len(loose) == 0 {
		return stats{probes: out, pages: pages}
	}
	// Rows per distinct value of the other indexed references (pg_stats
	// is a view that checks privileges row by row: read only these).
	var cols []string
	for _, fk := range loose {
		cols = append(cols, "("+literal(fk.Table)+", "+literal(fk.Column)+")")
	}
	q = `SELECT 'distinct', c.relname, s.attname, '', c.reltuples / (CASE WHEN s.n_distinct > 0 THEN s.n_distinct ELSE -s.n_distinct * c.reltuples END)
FROM pg_stats s
JOIN pg_namespace n ON n.nspname = s.schemaname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename
WHERE n.nspname = ` + schema + ` AND (s.tablename, s.attname) IN (` + strings.Join(cols, ", ") + `) AND s.n_distinct <> 0 AND c.reltuples > 0`
	if read(q) {
		for _, fk := range loose {
			if key := fk.Table + "." + fk.Column; perValue[key] >= looseRatio {
				out[key] = probeLoose
			}
		}
	}
	return stats{probes: out, pages: pages}
}

// parents are the tables a foreign key references: its parent, or the
// targets of a polymorphic one.
func (c ForeignKey) parents() []string {
	if c.TypeColumn == "" {
		return []string{c.References}
	}
	return slices.Compact(slices.Sorted(maps.Values(c.Targets)))
}

// unfixed is c without the fix a rule set attached to it.
func unfixed(c Checker) Checker {
	if f, ok := c.(fixed); ok {
		return f.Predicater
	}
	return c
}

// refixed is c with p in place of the check unfixed(c) returns: p itself,
// or p with c's fix attached.
func refixed(c Checker, p Predicater) Checker {
	if f, ok := c.(fixed); ok {
		f.Predicater = p
		return f
	}
	return p
}

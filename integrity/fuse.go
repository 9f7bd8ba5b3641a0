package integrity

import (
	"context"
	"fmt"
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
//     count(*) FILTER (WHERE p1), count(*) FILTER (WHERE p2), … — the way
//     data-quality tools batch the metrics of a table.
//   - The table's first at-most-one rule shares that scan: the rows its
//     filter selects are grouped by its key, the others fall into one
//     group of NULL keys, and only the rows some condition selects are
//     aggregated — SELECT count(*) FILTER (WHERE n > 1), sum(c1), … FROM
//     (SELECT count(*) FILTER (WHERE f) AS n, count(*) FILTER (WHERE p1)
//     AS c1, … FROM t WHERE f OR p1 OR … GROUP BY CASE WHEN f THEN k END).
//     The filter of such a rule (a current employment, a primary contact)
//     selects few rows, so the grouping costs little next to the scan the
//     row checks need anyway; alone, the rule read the table once more.
//     Uniqueness rules keep their own statements: their filter selects
//     nearly every row, and grouping all of them inside the pass cost more
//     than the rule alone (which may read the key from an index).
//   - A foreign key is probed on its own: the distinct references of the
//     child table (GROUP BY, which PostgreSQL reads from an index on the
//     column when there is one) looked up in the parent. Soft-deleted
//     children are not left out, so the probe counts a superset of the
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
// A reference in loose (by "table.column") is probed by a loose index
// scan instead: see [looseColumns].
func fusable(c Checker, d dbx.Dialect, loose map[string]bool) (fusion, bool) {
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
		return fusion{table: table, where: where, args: args}, true
	case AtMostOne:
		if len(c.GroupBy) == 0 {
			return fusion{}, false
		}
		return fusion{table: c.Table, where: and(c.filter()...), group: c.GroupBy}, true
	case ForeignKey:
		cols := c.Column
		if c.TypeColumn != "" {
			cols = c.TypeColumn + ", " + c.Column
		}
		// The orphan test without its first condition, the reference not
		// being NULL, which the grouping already applies (written twice,
		// it misleads PostgreSQL's estimate away from the index).
		probe := fmt.Sprintf("SELECT count(*) FROM (SELECT %s FROM %s WHERE %s IS NOT NULL GROUP BY %s) ip2adb_c WHERE %s",
			cols, c.Table, c.Column, cols, and(c.orphan("ip2adb_c", !d.CostBasedPlanner())[1:]...))
		if c.TypeColumn == "" && loose[c.Table+"."+c.Column] {
			// From one value to the next through the index: the recursion
			// yields each distinct reference once, then NULL.
			probe = fmt.Sprintf("WITH RECURSIVE ip2adb_c(%[1]s) AS ((SELECT min(%[1]s) FROM %[2]s) UNION ALL "+
				"SELECT (SELECT min(%[1]s) FROM %[2]s WHERE %[1]s > ip2adb_c.%[1]s) FROM ip2adb_c WHERE ip2adb_c.%[1]s IS NOT NULL) "+
				"SELECT count(*) FROM ip2adb_c WHERE %[3]s", c.Column, c.Table, and(c.orphan("ip2adb_c", false)...))
		}
		return fusion{table: c.Table, probe: probe}, true
	}
	return fusion{}, false
}

// fusedPass is one statement that counts one or more checks, a count per
// check in the order of idx.
type fusedPass struct {
	table string
	idx   []int // positions in the checks
	stmt  string
	args  []any
}

// fusedResult is what the pass found for one check.
type fusedResult struct {
	clean bool          // the check finds nothing: it is done
	share time.Duration // the check's share of its pass's time
}

// fusedPasses builds the passes over bound: a probe per foreign key, a
// pass per table with at least two row checks or one and an at-most-one
// rule (a single check's own statement is one pass already).
func fusedPasses(bound []Checker, d dbx.Dialect, loose map[string]bool) []*fusedPass {
	type tablePass struct {
		rows  []int
		group int // the at-most-one rule grouped in the pass; -1 for none
	}
	fused := make([]fusion, len(bound))
	byTable := map[string]*tablePass{}
	var tables []string
	var passes []*fusedPass
	for i, c := range bound {
		f, ok := fusable(c, d, loose)
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
	// The table passes first, the most checks first: they are the
	// longest statements, and the workers take them in order.
	slices.SortStableFunc(tables, func(a, b string) int {
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
		var counts []string
		for _, i := range t.rows {
			counts = append(counts, "count(*) FILTER (WHERE "+fused[i].where+")")
			p.args = append(p.args, fused[i].args...)
		}
		if t.group < 0 {
			p.idx = t.rows
			p.stmt = "SELECT " + strings.Join(counts, ", ") + " FROM " + table
			passes = append(passes, p)
			continue
		}
		// The group rule's filter f and the row conditions: every row some
		// condition selects is aggregated, into its group when f selects
		// it, else into the group of NULL keys (where n is 0).
		g := fused[t.group]
		inner := []string{"count(*) FILTER (WHERE " + g.where + ") AS ip2adb_n"}
		outer := []string{"count(*) FILTER (WHERE ip2adb_n > 1)"}
		var args []any
		args = append(append(args, g.args...), p.args...)
		ors := []string{g.where}
		orArgs := slices.Clone(g.args)
		for k, i := range t.rows {
			inner = append(inner, fmt.Sprintf("%s AS ip2adb_c%d", counts[k], k))
			outer = append(outer, fmt.Sprintf("coalesce(sum(ip2adb_c%d), 0)", k))
			ors = append(ors, fused[i].where)
			orArgs = append(orArgs, fused[i].args...)
		}
		args = append(args, orArgs...)
		var keys []string
		for _, k := range g.group {
			keys = append(keys, "CASE WHEN "+g.where+" THEN "+k+" END")
			args = append(args, g.args...)
		}
		p.idx = append([]int{t.group}, t.rows...)
		p.stmt = fmt.Sprintf("SELECT %s FROM (SELECT %s FROM %s WHERE %s GROUP BY %s) ip2adb_g",
			strings.Join(outer, ", "), strings.Join(inner, ", "), table, "("+strings.Join(ors, ") OR (")+")", strings.Join(keys, ", "))
		p.args = args
		passes = append(passes, p)
	}
	return append(passes, probes...)
}

// count runs the pass and returns per check what it found, each credited
// with an equal share of the pass's time.
func (p *fusedPass) count(ctx context.Context, db *sqlx.DB) ([]*fusedResult, error) {
	start := time.Now()
	rows, done, err := query(ctx, db, p.stmt, p.args...)
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
		out[k] = &fusedResult{clean: n == 0, share: share}
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

// looseRatio is how many rows per distinct value a reference needs before
// a loose index scan probes it: each value costs a descent of the index
// (about 5 µs on the project's machine) where reading the whole index
// costs about 40 ns a row. organization_id of member_employments at ten
// times the stress volumes (584 rows a value): 40 ms instead of 175 ms of
// server CPU; member_id (44 rows a value) would take twice as long.
const looseRatio = 300

// looseColumns returns, on PostgreSQL, the plain integer references of
// the foreign keys among bound ("table.column") that a loose index scan
// probes best: a valid, non-partial B-tree index leads with the column
// and the table's statistics say it holds at least looseRatio rows per
// distinct value. Without statistics, or on any error, none: the probe
// reads the whole index then, which is never much worse.
func looseColumns(ctx context.Context, db *sqlx.DB, m *catalog.Model, bound []Checker) map[string]bool {
	if !dbx.DialectOf(db).ServerStatistics() || m == nil {
		return nil
	}
	var tables []string
	for _, c := range bound {
		if fk, ok := unfixed(c).(ForeignKey); ok && fk.TypeColumn == "" && m.Integer(fk.Table, fk.Column) {
			tables = append(tables, literal(fk.Table))
		}
	}
	if len(tables) == 0 {
		return nil
	}
	schema := "current_schema()"
	if m.Schema != "" {
		schema = literal(m.Schema)
	}
	q := `SELECT c.relname, a.attname
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname
WHERE n.nspname = ` + schema + ` AND c.relname IN (` + strings.Join(tables, ", ") + `)
  AND i.indisvalid AND i.indpred IS NULL AND c.reltuples > 0 AND s.n_distinct <> 0
  AND (CASE WHEN s.n_distinct > 0 THEN s.n_distinct ELSE -s.n_distinct * c.reltuples END) * ` + fmt.Sprint(looseRatio) + ` <= c.reltuples`
	rows, done, err := query(ctx, db, q)
	if err != nil {
		return nil
	}
	defer done()
	out := map[string]bool{}
	for rows.Next() {
		var table, col string
		if rows.Scan(&table, &col) != nil {
			return nil
		}
		out[table+"."+col] = true
	}
	if rows.Err() != nil {
		return nil
	}
	return out
}

// unfixed is c without the fix a rule set attached to it.
func unfixed(c Checker) Checker {
	if f, ok := c.(fixed); ok {
		return f.Predicater
	}
	return c
}

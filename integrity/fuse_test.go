package integrity

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// TestFusedPassFailureReportedPerCheck: when one condition of a table's
// pass is an error, the pass fails and every check of that table runs
// alone — the broken one fails with its own error, the others report what
// they find — as without the pass.
func TestFusedPassFailureReportedPerCheck(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		testdb.MustExec(t, db, `INSERT INTO members (id, member_number, first_name, last_name, status) VALUES (1, 'M1', 'Ann', 'Lee', 'bogus')`)
		meta := func(name string) Meta {
			return Meta{Name: name, Category: "custom", Severity: "warning", Table: "members"}
		}
		checks := []Checker{
			SQL{Meta: meta("custom.broken"), Where: "no_such_column = 1"},
			SQL{Meta: meta("custom.bogus_status"), Where: "status = 'bogus'"},
			SQL{Meta: meta("custom.clean"), Where: "status = 'nobody has this'"},
		}
		fused := Run(ctx, db, checks, RunOptions{})
		alone := Run(ctx, db, checks, RunOptions{separate: true})
		ignore := cmpopts.IgnoreFields(CheckResult{}, "DurationMS", "Err")
		if diff := cmp.Diff(alone, fused, ignore); diff != "" {
			t.Errorf("fused report differs (-alone +fused):\n%s", diff)
		}
		got := []string{}
		for _, c := range fused.Checks {
			got = append(got, fmt.Sprintf("%s %s %d", c.Name, c.Status, c.Count))
		}
		want := []string{"custom.broken failed 0", "custom.bogus_status ok 1", "custom.clean ok 0"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
	}, testdb.WithSchema())
}

// TestBlankPrefilter: a blank test of a text column standing alone gets
// the cheap necessary condition in front; anything else is left as it is.
func TestBlankPrefilter(t *testing.T) {
	m := &catalog.Model{Tables: map[string]*catalog.Table{"t": {Name: "t", Columns: []catalog.Column{
		{Name: "a", Text: true}, {Name: "b", Text: true}, {Name: "n", Type: "integer"}}}}}
	b := &binding{model: m}
	pre := func(col string) string { return `(` + col + ` COLLATE "C" < '!' AND trim(` + col + `) = '')` }
	for _, tc := range []struct{ in, want string }{
		{`trim(a) = ''`, pre("a")},
		{`(NOT is_deleted) AND (trim(a) = '')`, `(NOT is_deleted) AND (` + pre("a") + `)`},
		{`a IS NULL OR trim(a) = '' OR b IS NULL OR TRIM( b )=''`, `a IS NULL OR ` + pre("a") + ` OR b IS NULL OR (b COLLATE "C" < '!' AND TRIM( b )='')`},
		{`NOT trim(a) = ''`, `NOT ` + pre("a")},
		{`trim(a) = ''AND b = 'x'`, pre("a") + `AND b = 'x'`},
		// Not text, not alone, inside a literal, a qualified column,
		// another function: unchanged.
		{`trim(n) = ''`, `trim(n) = ''`},
		{`trim(x) = ''`, `trim(x) = ''`},
		{`'x' || trim(a) = ''`, `'x' || trim(a) = ''`},
		{`trim(a) = '' || b`, `trim(a) = '' || b`},
		{`trim(a) = ''::text`, `trim(a) = ''::text`},
		{`b = 'say (trim(a) = '')'`, `b = 'say (trim(a) = '')'`},
		{`trim(t.a) = ''`, `trim(t.a) = ''`},
		{`ltrim(a) = ''`, `ltrim(a) = ''`},
		{`CASE WHEN trim(a) = '' THEN 1 END = 1`, `CASE WHEN trim(a) = '' THEN 1 END = 1`},
		{`trim(a) <> ''`, `trim(a) <> ''`},
		{`x = $1 OR trim(a) = ''`, `x = $1 OR trim(a) = ''`},
	} {
		if got := b.blankPrefilter(dbx.Postgres, "t", tc.in); got != tc.want {
			t.Errorf("blankPrefilter(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestBlankPrefilterSameRows: on PostgreSQL the rewritten blank test
// selects the same rows as trim(col) = ” — blanks of any length, empty,
// NULL, leading spaces, control characters, letters and non-ASCII text.
func TestBlankPrefilterSameRows(t *testing.T) {
	db := testdb.Postgres(t)
	testdb.MustExec(t, db, `CREATE TABLE blanks (id integer PRIMARY KEY, a varchar(20), c char(4), x text COLLATE "C")`)
	testdb.MustExec(t, db, `INSERT INTO blanks VALUES
		(1, '', '', ''), (2, ' ', ' ', ' '), (3, '   ', '    ', '   '), (4, NULL, NULL, NULL), (5, ' a', ' a', ' a'),
		(6, E'\t', E'\t', E'\t'), (7, '!', '!', '!'), (8, ' !', ' !', ' !'), (9, 'é', 'é', 'é'), (10, E' \n ', E' \n', E' \n '),
		(11, 'a ', 'a ', 'a '), (12, E'\x01', E'\x01', E'\x01')`)
	m, err := catalog.Read(context.Background(), db, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := &binding{model: m}
	for _, col := range []string{"a", "c", "x"} {
		plain := "trim(" + col + ") = ''"
		rewritten := b.blankPrefilter(dbx.Postgres, "blanks", plain)
		if rewritten == plain {
			t.Fatalf("column %s: not rewritten", col)
		}
		var want, got []int
		if err := db.Select(&want, "SELECT id FROM blanks WHERE "+plain+" ORDER BY id"); err != nil {
			t.Fatal(err)
		}
		if err := db.Select(&got, "SELECT id FROM blanks WHERE "+rewritten+" ORDER BY id"); err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 {
			t.Errorf("column %s: no blank rows to compare", col)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("column %s: rows (-trim +rewritten):\n%s", col, diff)
		}
	}
}

// TestProbeKinds: each foreign key is probed the way the statistics say
// — through the parent's gaps (a plain reference), by a loose index scan
// (a parent keyed by a non-integer, 100,000 children), grouped (no index;
// the polymorphic reference, one of whose targets is that parent) —
// and each probe leads to what the check alone finds: nothing, then an
// orphan beyond the parent's keys, then orphans in a gap between them (a
// parent row deleted), an unknown record type and a record type of NULL.
func TestProbeKinds(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := context.Background()
	testdb.MustExec(t, db, `CREATE TABLE parents (id integer PRIMARY KEY);
		CREATE TABLE codes (id numeric PRIMARY KEY);
		CREATE TABLE children (id integer PRIMARY KEY, parent_id integer, code_id integer, other_id integer, kind text, record_id integer);
		CREATE INDEX ON children (parent_id);
		CREATE INDEX ON children (code_id);
		CREATE INDEX ON children (kind, record_id);
		INSERT INTO parents SELECT generate_series(1, 9);
		INSERT INTO codes SELECT generate_series(1, 3);
		INSERT INTO children SELECT g, 1 + g % 9, 1 + g % 3, g, CASE WHEN g % 2 = 0 THEN 'parent' ELSE 'code' END, 1 + g % 3 FROM generate_series(1, 100000) g;
		UPDATE children SET parent_id = NULL, kind = NULL WHERE id % 100 = 0;
		ANALYZE parents; ANALYZE codes; ANALYZE children`)
	meta := func(name string) Meta {
		return Meta{Name: name, Category: "foreign_key", Severity: "critical", Table: "children"}
	}
	checks := []Checker{
		ForeignKey{Meta: meta("children.orphan_parent"), Column: "parent_id", References: "parents"},
		ForeignKey{Meta: meta("children.orphan_code"), Column: "code_id", References: "codes"},
		// Many distinct values and no index: read whole.
		ForeignKey{Meta: meta("children.orphan_other"), Column: "other_id", References: "parents"},
		ForeignKey{Meta: meta("children.orphan_record"), Column: "record_id", TypeColumn: "kind",
			Targets: map[string]string{"parent": "parents", "code": "codes"}},
	}
	m, err := catalog.Read(ctx, db, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bound := Prepare(m, checks)
	st := readStats(ctx, db, m, bound)
	want := map[string]probeKind{"children.parent_id": probeGaps, "children.code_id": probeLoose}
	if diff := cmp.Diff(want, st.probes); diff != "" {
		t.Fatalf("probe kinds (-want +got):\n%s", diff)
	}
	passes := fusedPasses(bound, dbx.Postgres, st)
	var starts []string
	for _, p := range passes {
		starts = append(starts, strings.Fields(p.stmt)[1])
	}
	// gaps (of a primary key: counted first), loose, grouped, grouped (the
	// polymorphic reference: codes are not integers).
	if diff := cmp.Diff([]string{"CASE", "RECURSIVE", "count(*)", "count(*)"}, starts); diff != "" {
		t.Fatalf("probes (-want +got):\n%s", diff)
	}
	ignore := cmpopts.IgnoreFields(CheckResult{}, "DurationMS")
	for _, tc := range []struct {
		change string
		want   []int // orphans of parent, code, other
	}{
		{"", []int{0, 0, 99991}},
		{"UPDATE children SET parent_id = 10, code_id = 4 WHERE id = 1500", []int{1, 1, 99991}},
		// 11,111 children of parent 5, 111 of them with no parent_id.
		{"DELETE FROM parents WHERE id = 5", []int{1 + 11000, 1, 99992}},
		{"UPDATE children SET parent_id = 0 WHERE id = 1", []int{2 + 11000, 1, 99992}},
	} {
		if tc.change != "" {
			testdb.MustExec(t, db, tc.change)
		}
		fused := Run(ctx, db, checks, RunOptions{Model: m})
		alone := Run(ctx, db, checks, RunOptions{Model: m, separate: true})
		if diff := cmp.Diff(alone, fused, ignore); diff != "" {
			t.Errorf("after %q: fused report differs (-alone +fused):\n%s", tc.change, diff)
		}
		var got []int
		for _, c := range fused.Checks[:3] {
			got = append(got, c.Count)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("after %q: orphans (-want +got):\n%s", tc.change, diff)
		}
	}
}

// TestGapProbe: the probe through the parents' gaps counts zero exactly
// when the check finds nothing, and the rows a plain reference's check
// reads through the gaps, and those its repair's narrowed predicate
// selects, are its orphans exactly — for a plain and a
// polymorphic reference,
// orphans below, between and above the parent's keys, in a parent with
// no rows, unknown and NULL record types, and a record type whose parent
// table the schema lacks (not judged).
func TestGapProbe(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := context.Background()
	testdb.MustExec(t, db, `CREATE TABLE parents (id integer PRIMARY KEY);
		CREATE TABLE others (id bigint PRIMARY KEY);
		CREATE TABLE children (id integer PRIMARY KEY, parent_id integer, kind varchar(20), record_id integer, is_deleted boolean NOT NULL DEFAULT FALSE);
		CREATE INDEX ON children (parent_id);
		CREATE INDEX ON children (kind, record_id);
		INSERT INTO parents SELECT generate_series(10, 40);
		INSERT INTO others SELECT generate_series(1, 5);
		INSERT INTO children SELECT g, 10 + g % 31, CASE WHEN g % 2 = 0 THEN 'parent' ELSE 'other' END, CASE WHEN g % 2 = 0 THEN 10 + g % 31 ELSE 1 + g % 5 END FROM generate_series(1, 400) g;
		ANALYZE parents; ANALYZE others; ANALYZE children`)
	meta := func(name string) Meta {
		return Meta{Name: name, Category: "foreign_key", Severity: "critical", Table: "children"}
	}
	checks := []Checker{
		ForeignKey{Meta: meta("children.orphan_parent"), Column: "parent_id", References: "parents"},
		ForeignKey{Meta: meta("children.orphan_record"), Column: "record_id", TypeColumn: "kind",
			Targets: map[string]string{"parent": "parents", "other": "others", "gone": "no_such_table"}},
	}
	m, err := catalog.Read(ctx, db, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bound := Prepare(m, checks)
	want := map[string]probeKind{"children.parent_id": probeGaps, "children.record_id": probeGaps}
	if diff := cmp.Diff(want, readStats(ctx, db, m, bound).probes); diff != "" {
		t.Fatalf("probe kinds (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name, change string
		orphans      []bool // whether the probe of each finds one
	}{
		{"clean", "", []bool{false, false}},
		{"a parent of no children deleted", "INSERT INTO parents VALUES (50); DELETE FROM parents WHERE id = 50", []bool{false, false}},
		{"NULL references", "UPDATE children SET parent_id = NULL, record_id = NULL WHERE id IN (7, 8)", []bool{false, false}},
		{"a reference of a type not judged", "UPDATE children SET kind = 'gone', record_id = 999 WHERE id = 9", []bool{false, false}},
		{"below the least key", "UPDATE children SET parent_id = 9 WHERE id = 10", []bool{true, false}},
		{"above the greatest", "UPDATE children SET parent_id = 41 WHERE id = 10", []bool{true, false}},
		{"soft-deleted, in a gap", "DELETE FROM parents WHERE id = 20; UPDATE children SET is_deleted = TRUE WHERE parent_id = 20", []bool{true, true}},
		{"an unknown type", "UPDATE children SET kind = 'nothing' WHERE id = 11", []bool{false, true}},
		{"a NULL type", "UPDATE children SET kind = NULL WHERE id = 11", []bool{false, true}},
		{"a NULL type of a NULL reference", "UPDATE children SET kind = NULL, record_id = NULL WHERE id = 11", []bool{false, false}},
		{"another parent's gap", "DELETE FROM others WHERE id = 3", []bool{false, true}},
		{"below another parent's least key", "UPDATE children SET record_id = 0 WHERE id = 13", []bool{false, true}},
		{"no parent rows", "TRUNCATE others", []bool{false, true}},
		{"no parent rows at all", "TRUNCATE parents", []bool{true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := db.Beginx()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			for _, q := range strings.Split(tc.change, ";") {
				if strings.TrimSpace(q) != "" {
					if _, err := tx.Exec(q); err != nil {
						t.Fatal(err)
					}
				}
			}
			var got []bool
			for _, c := range bound {
				fk := unfixed(c).(ForeignKey)
				var probe, check int
				if err := tx.Get(&probe, fk.gapProbe()); err != nil {
					t.Fatalf("%s: %v", fk.Name(), err)
				}
				where, _ := fk.Predicate()
				if err := tx.Get(&check, "SELECT count(*) FROM children WHERE "+where+" OR ("+strings.Replace(where, "(NOT is_deleted)", "is_deleted", 1)+")"); err != nil {
					t.Fatalf("%s: %v", fk.Name(), err)
				}
				if (probe == 0) != (check == 0) {
					t.Errorf("%s: probe %d, orphans %d (soft-deleted too)", fk.Name(), probe, check)
				}
				if fk.TypeColumn == "" {
					// The rows the check reads through the gaps: its
					// orphans exactly, once each.
					var whole, viaGaps int
					if err := tx.Get(&whole, "SELECT count(*) FROM children WHERE "+where); err != nil {
						t.Fatalf("%s: %v", fk.Name(), err)
					}
					if err := tx.Get(&viaGaps, "SELECT count(*) FROM "+fk.gapRows()+" WHERE "+where); err != nil {
						t.Fatalf("%s: %v", fk.Name(), err)
					}
					if viaGaps != whole {
						t.Errorf("%s: %d orphans through the gaps, %d in the table", fk.Name(), viaGaps, whole)
					}
					// The repair's predicate, narrowed to those rows by
					// row id, selects the same rows.
					var narrowed int
					if err := tx.Get(&narrowed, "SELECT count(*) FROM children WHERE ("+where+") AND "+fk.gapRestriction()); err != nil {
						t.Fatalf("%s: %v", fk.Name(), err)
					}
					if narrowed != whole {
						t.Errorf("%s: the narrowed repair predicate selects %d rows, the check's %d", fk.Name(), narrowed, whole)
					}
				}
				got = append(got, probe > 0)
			}
			if diff := cmp.Diff(tc.orphans, got); diff != "" {
				t.Errorf("probes finding orphans (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRepairFixes: a repair runs its check's own fix, except that a plain
// foreign key probed through the parent's gaps has its predicate narrowed
// to the rows in the gaps (see TestGapProbe for the rows it selects); a
// polymorphic reference, a check without a fix and a database without
// statistics (SQLite) keep theirs.
func TestRepairFixes(t *testing.T) {
	meta := func(name string) Meta {
		return Meta{Name: name, Category: "foreign_key", Severity: "critical", Table: "children"}
	}
	checks := []Checker{
		WithFix(ForeignKey{Meta: meta("children.orphan_parent"), Column: "parent_id", References: "parents"}, Repair{Action: ip2adb.ActionDelete}),
		WithFix(ForeignKey{Meta: meta("children.orphan_record"), Column: "record_id", TypeColumn: "kind",
			Targets: map[string]string{"parent": "parents"}}, Repair{Action: ip2adb.ActionDelete}),
		ForeignKey{Meta: meta("children.orphan_parent_unfixed"), Column: "parent_id", References: "parents"},
	}
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		testdb.MustExec(t, db, `CREATE TABLE parents (id integer PRIMARY KEY)`)
		testdb.MustExec(t, db, `CREATE TABLE children (id integer PRIMARY KEY, parent_id integer, kind varchar(20), record_id integer)`)
		testdb.MustExec(t, db, `CREATE INDEX ix_children_parent ON children (parent_id)`)
		testdb.MustExec(t, db, `CREATE INDEX ix_children_record ON children (kind, record_id)`)
		testdb.MustExec(t, db, `INSERT INTO parents (id) VALUES (10), (11), (13)`)
		for i := 1; i <= 40; i++ {
			testdb.MustExec(t, db, dbx.DialectOf(db).Rebind(`INSERT INTO children (id, parent_id, kind, record_id) VALUES (?, ?, 'parent', ?)`), i, 10+i%4, 10+i%4)
		}
		if dbx.DialectOf(db).ServerStatistics() {
			testdb.MustExec(t, db, `ANALYZE parents`)
			testdb.MustExec(t, db, `ANALYZE children`)
		}
		m, err := catalog.Read(ctx, db, catalog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		bound := Prepare(m, checks)
		var got, want []string
		for i, f := range RepairFixes(ctx, db, m, bound) {
			got = append(got, f.Where)
			w := ""
			if r, ok := bound[i].(Repairable); ok {
				w = r.Fix().Where
				if i == 0 && dbx.DialectOf(db).ServerStatistics() {
					w = and(w, unfixed(bound[i]).(ForeignKey).gapRestriction())
				}
			}
			want = append(want, w)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("repair predicates (-want +got):\n%s", diff)
		}
		// The orphans (parent 12) are the same rows either way.
		var n int
		if err := db.Get(&n, "SELECT count(*) FROM children WHERE "+got[0]); err != nil {
			t.Fatal(err)
		}
		if n != 10 {
			t.Errorf("the repair predicate selects %d rows, want the 10 orphans", n)
		}
	})
}

// TestPassOrder: the table passes start with the largest table when the
// statistics give the sizes, else with the table of the most checks.
func TestPassOrder(t *testing.T) {
	sql := func(table, where string) Checker {
		return SQL{Meta: Meta{Name: table + "." + where, Category: "custom", Severity: "info", Table: table}, Where: where}
	}
	checks := []Checker{sql("a", "x = 1"), sql("a", "x = 2"), sql("a", "x = 3"), sql("b", "y = 1"), sql("b", "y = 2")}
	for _, tc := range []struct {
		st   stats
		want []string
	}{
		{stats{}, []string{"a", "b"}},
		{stats{pages: map[string]float64{"a": 1, "b": 10}}, []string{"b", "a"}},
		{stats{pages: map[string]float64{"a": 10, "b": 10}}, []string{"a", "b"}},
	} {
		var got []string
		for _, p := range fusedPasses(checks, dbx.Postgres, tc.st) {
			got = append(got, p.table)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("pages %v: pass order (-want +got):\n%s", tc.st.pages, diff)
		}
	}
}

// TestSieveHoldsWherePredicate: the cheaper condition a pass filters with
// holds for every row the check's predicate selects — NULLs, bounds,
// soft-deleted rows — on both databases.
func TestSieveHoldsWherePredicate(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		testdb.MustExec(t, db, `CREATE TABLE spans (id integer PRIMARY KEY, a date, b date, n numeric(10,2), is_deleted boolean NOT NULL DEFAULT FALSE)`)
		testdb.MustExec(t, db, `INSERT INTO spans (id, a, b, n, is_deleted) VALUES
			(1, '2020-01-02', '2020-01-01', 5, FALSE), (2, '2020-01-01', '2020-01-02', 10, FALSE), (3, NULL, '2020-01-01', 150, FALSE),
			(4, '2020-01-01', NULL, 150.01, FALSE), (5, NULL, NULL, NULL, FALSE), (6, '2020-01-03', '2020-01-01', 200, TRUE),
			(7, '2020-01-01', '2020-01-01', 9.99, FALSE)`)
		m, err := catalog.Read(context.Background(), db, catalog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		meta := Meta{Name: "spans.check", Category: "custom", Severity: "info", Table: "spans"}
		for _, c := range Prepare(m, []Checker{
			DateOrder{Meta: meta, Start: "a", End: "b"},
			Range{Meta: meta, Column: "n", Min: 10.0, Max: 150.0},
			Range{Meta: meta, Column: "n", Max: 150.0},
			Range{Meta: meta, Column: "n"},
		}) {
			where, args := c.(Predicater).Predicate()
			sieve, sargs := c.(interface{ sieve() (string, []any) }).sieve()
			var selected, outside []int
			if err := db.Select(&selected, db.Rebind("SELECT id FROM spans WHERE "+where+" ORDER BY id"), args...); err != nil {
				t.Fatal(err)
			}
			if err := db.Select(&outside, db.Rebind("SELECT id FROM spans WHERE ("+where+") AND NOT COALESCE("+sieve+", FALSE) ORDER BY id"), append(slices.Clone(args), sargs...)...); err != nil {
				t.Fatal(err)
			}
			if len(outside) > 0 {
				t.Errorf("%T %q: rows %v selected but not sieved (%q)", c, where, outside, sieve)
			}
			if _, isRange := c.(Range); !isRange || c.(Range).Min != nil || c.(Range).Max != nil {
				if len(selected) == 0 {
					t.Errorf("%T %q selects nothing: the case does not test it", c, where)
				}
			}
		}
	}, testdb.WithSchema())
}

package integrity

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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

// TestLooseProbe: a reference with few distinct values, an index and
// statistics is probed by a loose index scan, which finds what the check
// alone finds — nothing, then one orphan among NULLs and valid references.
func TestLooseProbe(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := context.Background()
	testdb.MustExec(t, db, `CREATE TABLE parents (id integer PRIMARY KEY);
		CREATE TABLE children (id integer PRIMARY KEY, parent_id integer, other_id integer);
		CREATE INDEX ON children (parent_id);
		INSERT INTO parents SELECT generate_series(1, 3);
		INSERT INTO children SELECT g, 1 + g % 3, g FROM generate_series(1, 3000) g;
		UPDATE children SET parent_id = NULL WHERE id % 100 = 0;
		ANALYZE parents; ANALYZE children`)
	meta := func(name string) Meta {
		return Meta{Name: name, Category: "foreign_key", Severity: "critical", Table: "children"}
	}
	checks := []Checker{
		ForeignKey{Meta: meta("children.orphan_parent"), Column: "parent_id", References: "parents"},
		// Many distinct values and no index: read whole.
		ForeignKey{Meta: meta("children.orphan_other"), Column: "other_id", References: "parents"},
	}
	m, err := catalog.Read(ctx, db, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bound := Prepare(m, checks)
	loose := looseColumns(ctx, db, m, bound)
	if diff := cmp.Diff(map[string]bool{"children.parent_id": true}, loose); diff != "" {
		t.Fatalf("loose columns (-want +got):\n%s", diff)
	}
	passes := fusedPasses(bound, dbx.Postgres, loose)
	if len(passes) != 2 || !strings.HasPrefix(passes[0].stmt, "WITH RECURSIVE") || strings.HasPrefix(passes[1].stmt, "WITH RECURSIVE") {
		t.Fatalf("probes: %+v", passes)
	}
	ignore := cmpopts.IgnoreFields(CheckResult{}, "DurationMS")
	for _, orphans := range []int{0, 1} {
		if orphans > 0 {
			testdb.MustExec(t, db, `UPDATE children SET parent_id = 7 WHERE id = 1500`)
		}
		fused := Run(ctx, db, checks, RunOptions{Model: m})
		alone := Run(ctx, db, checks, RunOptions{Model: m, separate: true})
		if diff := cmp.Diff(alone, fused, ignore); diff != "" {
			t.Errorf("%d orphans: fused report differs (-alone +fused):\n%s", orphans, diff)
		}
		if got := fused.Checks[0].Count; got != orphans {
			t.Errorf("children.orphan_parent found %d; want %d", got, orphans)
		}
	}
}

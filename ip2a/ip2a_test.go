package ip2a_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/resilience"
	"github.com/jmoiron/sqlx"
)

func TestNames(t *testing.T) {
	names := ip2a.Names()
	if len(names) != 22 {
		t.Fatalf("Names() has %d entries; want 22", len(names))
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("name %q appears twice", n)
		}
		seen[n] = true
		if !strings.Contains(n, ".") {
			t.Errorf("name %q is not table.rule", n)
		}
	}
}

func TestListsAreFresh(t *testing.T) {
	for name, f := range map[string]func() []string{
		"Names": ip2a.Names, "MemberStatuses": ip2a.MemberStatuses,
		"MemberClassifications": ip2a.MemberClassifications, "OrgTypes": ip2a.OrgTypes,
	} {
		a := f()
		a[0] = "changed"
		if b := f(); slices.Contains(b, "changed") {
			t.Errorf("%s returns a shared slice", name)
		}
	}
	m := ip2a.AttachmentTargets()
	delete(m, "member")
	if _, ok := ip2a.AttachmentTargets()["member"]; !ok {
		t.Error("AttachmentTargets returns a shared map")
	}
}

// TestEnumLabelsMatchRealSchema checks the value ↔ label pairs against the
// enum types of the real IP2A schema: every value of the rule set has a
// label, and every label of the live type is one of them, in its order.
func TestEnumLabelsMatchRealSchema(t *testing.T) {
	m, err := catalog.Read(context.Background(), testdb.RealPostgres(t), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	values := map[string][]string{
		"members.status": ip2a.MemberStatuses(), "members.classification": ip2a.MemberClassifications(),
		"organizations.org_type": ip2a.OrgTypes(),
	}
	for col, pairs := range ip2a.EnumLabels() {
		table, column, _ := strings.Cut(col, ".")
		var mapped []string
		for _, v := range values[col] {
			mapped = append(mapped, pairs[v])
		}
		e := m.EnumOf(table, column)
		if e == nil {
			t.Fatalf("%s is not an enum column in the real schema", col)
		}
		if diff := cmp.Diff(e.Labels, mapped); diff != "" {
			t.Errorf("%s: live labels (-) vs mapped values (+):\n%s", col, diff)
		}
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(values)), slices.Sorted(maps.Keys(ip2a.EnumLabels()))); diff != "" {
		t.Errorf("enum columns (-want +got):\n%s", diff)
	}
	for _, table := range ip2a.Tables() {
		if m.Table(table) == nil {
			t.Errorf("ip2a.Tables() names %s, which the real schema lacks", table)
		}
	}
}

// TestCheckSchema: a database holding none of the rule set's tables is not
// an IP2A database, and the error lists them parents first, other tables
// after them; one of them is enough.
func TestCheckSchema(t *testing.T) {
	db := testdb.SQLite(t)
	testdb.MustExec(t, db, "CREATE TABLE invoices (id integer PRIMARY KEY, members integer)")
	m, err := catalog.Read(context.Background(), db, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = ip2a.CheckSchema(m, append(ip2a.Rules(ip2a.RuleOptions{}),
		integrity.Range{Meta: integrity.Meta{Table: "dues"}, Column: "amount"}))
	var se *integrity.SchemaError
	want := "not an IP2A database: none of members, organizations, organization_contacts, member_employments, students, file_attachments, dues exists"
	if !errors.As(err, &se) || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	checks := append(ip2a.Rules(ip2a.RuleOptions{}), integrity.Range{Meta: integrity.Meta{Table: "invoices"}, Column: "members"})
	if err := ip2a.CheckSchema(m, checks); err != nil {
		t.Errorf("CheckSchema with one table present: %v", err)
	}
}

// TestRulesNames: Rules returns the checks of Names, in its order, and
// NoFiles leaves out only attachment.file_missing.
func TestRulesNames(t *testing.T) {
	names := func(checks []integrity.Checker) []string {
		var out []string
		for _, c := range checks {
			out = append(out, c.Name())
		}
		return out
	}
	if diff := cmp.Diff(ip2a.Names(), names(ip2a.Rules(ip2a.RuleOptions{}))); diff != "" {
		t.Errorf("Rules (-Names +got):\n%s", diff)
	}
	want := slices.DeleteFunc(ip2a.Names(), func(n string) bool { return n == ip2a.AttachmentFileMissing })
	if diff := cmp.Diff(want, names(ip2a.Rules(ip2a.RuleOptions{NoFiles: true}))); diff != "" {
		t.Errorf("Rules with NoFiles (-want +got):\n%s", diff)
	}
}

// TestResilienceOptions: the tables and columns the resilience probes read
// exist in the seed schema and in the real IP2A schema, the options
// validate, and what the caller named is kept.
func TestResilienceOptions(t *testing.T) {
	opt := ip2a.ResilienceOptions(resilience.Options{})
	if err := opt.Validate(); err != nil {
		t.Fatal(err)
	}
	needs := map[string][]string{}
	add := func(table string, cols ...string) {
		for _, c := range cols {
			if c != "" {
				needs[table] = append(needs[table], c)
			}
		}
		if _, ok := needs[table]; !ok {
			needs[table] = nil
		}
	}
	for _, table := range opt.GrowthTables {
		add(table)
	}
	a := opt.Attachments
	add(a.Table, a.ID, a.Path, a.Size, a.Deleted)
	s := opt.Staleness
	add(s.Table, s.Updated, s.Deleted)
	add(s.Ended.Table, s.Ended.Column)
	add(opt.Distribution.Table, opt.Distribution.Column)
	check := func(t *testing.T, db *sqlx.DB) {
		m, err := catalog.Read(context.Background(), db, catalog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for table, cols := range needs {
			if r := m.Missing(table, cols...); r != "" {
				t.Error(r)
			}
		}
		for _, q := range opt.TimedQueries {
			var n int64
			if err := db.Get(&n, q.SQL); err != nil {
				t.Errorf("timed query %s: %v", q.Name, err)
			}
		}
	}
	t.Run("seed", func(t *testing.T) { testdb.Each(t, check, testdb.WithSchema()) })
	t.Run("real", func(t *testing.T) { check(t, testdb.RealPostgres(t)) })

	mine := resilience.Options{GrowthTables: []string{"dues"}, TimedQueries: []resilience.TimedQuery{{Name: "n", SQL: "SELECT 1"}}}
	got := ip2a.ResilienceOptions(mine)
	if diff := cmp.Diff(mine.GrowthTables, got.GrowthTables); diff != "" {
		t.Errorf("GrowthTables (-mine +got):\n%s", diff)
	}
	if diff := cmp.Diff(mine.TimedQueries, got.TimedQueries); diff != "" {
		t.Errorf("TimedQueries (-mine +got):\n%s", diff)
	}
}

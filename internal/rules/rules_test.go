package rules_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/internal/rules"
	"github.com/ip2adb/ip2adb/internal/testdb"
)

func TestNames(t *testing.T) {
	names := rules.Names()
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
		"Names": rules.Names, "MemberStatuses": rules.MemberStatuses,
		"MemberClassifications": rules.MemberClassifications, "OrgTypes": rules.OrgTypes,
	} {
		a := f()
		a[0] = "changed"
		if b := f(); slices.Contains(b, "changed") {
			t.Errorf("%s returns a shared slice", name)
		}
	}
	m := rules.AttachmentTargets()
	delete(m, "member")
	if _, ok := rules.AttachmentTargets()["member"]; !ok {
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
		"members.status": rules.MemberStatuses(), "members.classification": rules.MemberClassifications(),
		"organizations.org_type": rules.OrgTypes(),
	}
	for col, pairs := range rules.EnumLabels() {
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
	if diff := cmp.Diff(slices.Sorted(maps.Keys(values)), slices.Sorted(maps.Keys(rules.EnumLabels()))); diff != "" {
		t.Errorf("enum columns (-want +got):\n%s", diff)
	}
	for _, table := range rules.Tables() {
		if m.Table(table) == nil {
			t.Errorf("rules.Tables() names %s, which the real schema lacks", table)
		}
	}
}

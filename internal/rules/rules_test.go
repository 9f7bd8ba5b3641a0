package rules_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ip2adb/ip2adb/internal/rules"
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

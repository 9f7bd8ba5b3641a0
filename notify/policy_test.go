package notify

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
)

func TestDecideBoundaries(t *testing.T) {
	concat := func(parts ...[]ip2adb.Issue) []ip2adb.Issue { return slices.Concat(parts...) }
	for _, tc := range []struct {
		name     string
		issues   []ip2adb.Issue
		policy   Policy
		ok       bool
		prio     Priority
		count    int
		attached int
	}{
		{"none", nil, Policy{}, false, "", 0, 0},
		{"info only", issues(5, ip2adb.Info, "i"), Policy{}, false, "", 0, 0},
		{"1 warning is low", issues(1, ip2adb.Warning, "w"), Policy{}, true, Low, 1, 1},
		{"10 warnings are low", issues(10, ip2adb.Warning, "w"), Policy{}, true, Low, 10, 10},
		{"11 warnings are high", issues(11, ip2adb.Warning, "w"), Policy{}, true, High, 11, 11},
		{"60 warnings high, first 50", issues(60, ip2adb.Warning, "w"), Policy{}, true, High, 60, 50},
		{"100 issues with 5 warnings low", concat(issues(5, ip2adb.Warning, "w"), issues(95, ip2adb.Info, "i")), Policy{}, true, Low, 5, 5},
		{"101 issues with 5 warnings medium", concat(issues(5, ip2adb.Warning, "w"), issues(96, ip2adb.Info, "i")), Policy{}, true, Medium, 101, 20},
		{"100 info none", issues(100, ip2adb.Info, "i"), Policy{}, false, "", 0, 0},
		{"101 info medium", issues(101, ip2adb.Info, "i"), Policy{}, true, Medium, 101, 20},
		{"one critical among many", concat(issues(200, ip2adb.Warning, "w"), issues(1, ip2adb.Critical, "c")), Policy{}, true, Critical, 1, 1},
		{"99 criticals all attached", concat(issues(3, ip2adb.Info, "i"), issues(99, ip2adb.Critical, "c")), Policy{}, true, Critical, 99, 99},
		{"120 criticals, the first 100 attached", concat(issues(3, ip2adb.Info, "i"), issues(120, ip2adb.Critical, "c")), Policy{}, true, Critical, 120, 100},
		{"5000 criticals, the first 100 attached", issues(5000, ip2adb.Critical, "c"), Policy{}, true, Critical, 5000, 100},
		{"cap below the high attach", issues(60, ip2adb.Warning, "w"), Policy{MaxIssues: 10}, true, High, 60, 10},
		{"cap below the medium attach", issues(101, ip2adb.Info, "i"), Policy{MaxIssues: 7}, true, Medium, 101, 7},
		{"cap on low", issues(8, ip2adb.Warning, "w"), Policy{MaxIssues: 3}, true, Low, 8, 3},
		{"NoIssues attaches none", issues(5, ip2adb.Critical, "c"), Policy{MaxIssues: NoIssues}, true, Critical, 5, 0},
		{"200 warnings high beats medium", issues(200, ip2adb.Warning, "w"), Policy{}, true, High, 200, 50},
		{"custom thresholds: 3 warnings high", issues(3, ip2adb.Warning, "w"), Policy{HighWarnings: 2, HighAttach: 1}, true, High, 3, 1},
		{"custom thresholds: 6 issues medium", issues(6, ip2adb.Info, "i"), Policy{MediumTotal: 5, MediumAttach: 2}, true, Medium, 6, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := Decide(tc.issues, tc.policy, t0)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				if diff := cmp.Diff(Notification{}, n); diff != "" {
					t.Errorf("no notification expected (-want +got):\n%s", diff)
				}
				return
			}
			got := [4]any{n.Priority, n.IssueCount, len(n.Issues), n.IssuesTruncated}
			if diff := cmp.Diff([4]any{tc.prio, tc.count, tc.attached, tc.count - tc.attached}, got); diff != "" {
				t.Errorf("priority, count, attached, truncated (-want +got):\n%s", diff)
			}
			if n.Title == "" || n.Message == "" || len(n.RecommendedAction) == 0 {
				t.Errorf("title %q message %q actions %q", n.Title, n.Message, n.RecommendedAction)
			}
			for i, a := range n.RecommendedAction {
				if want := string(rune('1'+i)) + ". "; !strings.HasPrefix(a, want) {
					t.Errorf("action %d = %q, want it numbered %q", i, a, want)
				}
			}
		})
	}
}

func TestDecideNotification(t *testing.T) {
	crit := issue("member.missing_name", "members", 7, ip2adb.Critical)
	warn := issue("member.bad_phone", "members", 8, ip2adb.Warning)
	n, ok := Decide([]ip2adb.Issue{warn, crit}, Policy{}, t0)
	if !ok {
		t.Fatal("no notification")
	}
	want := Notification{
		ID:          "DBADM-1795831200-" + Fingerprint([]ip2adb.Issue{crit})[:8],
		Title:       "Critical database issues need immediate attention",
		Message:     "1 critical issue could not be fixed automatically and needs manual repair now.",
		Priority:    Critical,
		Timestamp:   t0,
		Fingerprint: Fingerprint([]ip2adb.Issue{crit}),
		IssueCount:  1,
		Issues:      []ip2adb.Issue{crit},
		RecommendedAction: []string{
			"1. Review the critical issues listed here and repair them by hand today.",
			"2. Back up the database before any manual change.",
			"3. Run `ip2adb integrity` afterwards to confirm that they are gone.",
			"4. Find the import, script or user action that caused them so that they do not come back.",
		},
	}
	if diff := cmp.Diff(want, n); diff != "" {
		t.Errorf("notification (-want +got):\n%s", diff)
	}
}

func TestFingerprintIgnoresTextAndOrder(t *testing.T) {
	a := issue("c1", "members", 1, ip2adb.Warning)
	b := issue("c2", "members", 2, ip2adb.Warning)
	reworded := a
	reworded.Description = "something else entirely"
	reworded.Recommendation = "do this"
	group := ip2adb.Issue{Check: "dup", Table: "members", Key: map[string]any{"member_number": "7000001"}}
	group2 := group
	group2.Key = map[string]any{"member_number": "7000002"}
	for _, tc := range []struct {
		name  string
		x, y  []ip2adb.Issue
		equal bool
	}{
		{"order", []ip2adb.Issue{a, b}, []ip2adb.Issue{b, a}, true},
		{"text", []ip2adb.Issue{a, b}, []ip2adb.Issue{reworded, b}, true},
		{"duplicates", []ip2adb.Issue{a, b, a}, []ip2adb.Issue{a, b}, true},
		{"record id", []ip2adb.Issue{a}, []ip2adb.Issue{b}, false},
		{"group key", []ip2adb.Issue{group}, []ip2adb.Issue{group2}, false},
		{"subset", []ip2adb.Issue{a}, []ip2adb.Issue{a, b}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx, fy := Fingerprint(tc.x), Fingerprint(tc.y)
			if (fx == fy) != tc.equal || len(fx) != 32 {
				t.Errorf("Fingerprint = %s and %s; want equal %v, 32 hex digits", fx, fy, tc.equal)
			}
		})
	}
}

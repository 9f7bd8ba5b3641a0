package integrity_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/jmoiron/sqlx"
)

// TestSeedFaults cross-checks the rule set with the seed: a clean seed (its
// files on disk) has no issue at all, and a seed with planted faults is
// found exactly — every check reports the rows or groups of the manifest.
func TestSeedFaults(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC) }
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		files := t.TempDir()
		opt := seed.Options{Profile: seed.Quick, FilesDir: files, Now: now}
		if _, err := seed.Run(ctx, db, opt); err != nil {
			t.Fatal(err)
		}
		rules := ip2a.Rules(ip2a.RuleOptions{FilesRoot: files, Now: now})
		rep := integrity.Run(ctx, db, rules, integrity.RunOptions{})
		if d := cmp.Diff(integrity.Summary{}, rep.Summary); d != "" {
			t.Errorf("clean seed summary (-want +got):\n%s\nissues: %v", d, view(rep.Issues))
		}

		files = t.TempDir()
		opt.Faults, opt.FilesDir = 2, files
		stats, err := seed.Run(ctx, db, opt)
		if err != nil {
			t.Fatal(err)
		}
		rules = ip2a.Rules(ip2a.RuleOptions{FilesRoot: files, Now: now})
		rep = integrity.Run(ctx, db, rules, integrity.RunOptions{})
		if rep.Summary.FailedChecks != 0 {
			t.Fatalf("failed checks: %+v", rep.Failed())
		}
		for _, cr := range rep.Checks {
			planted := stats.Manifest[cr.Name]
			var got []any
			if cr.Name == ip2a.MemberActiveWithoutEmployment {
				// One aggregate issue whose count is the planted members.
				if len(cr.Issues) != 1 || fmt.Sprint(cr.Issues[0].Details["count"]) != fmt.Sprint(len(planted)) {
					t.Errorf("%s: issues %v, want one with count %d", cr.Name, view(cr.Issues), len(planted))
				}
				continue
			}
			for _, is := range cr.Issues {
				if is.RecordID != nil {
					got = append(got, *is.RecordID)
				} else {
					got = append(got, is.Key)
				}
			}
			slices.SortFunc(got, func(a, b any) int { return cmpAny(a, b) })
			want := slices.Clone(planted)
			slices.SortFunc(want, func(a, b any) int { return cmpAny(a, b) })
			if d := cmp.Diff(want, got); d != "" || cr.Count != len(planted) {
				t.Errorf("%s: count %d, want %d; found (-planted +found):\n%s", cr.Name, cr.Count, len(planted), d)
			}
		}
	})
}

func cmpAny(a, b any) int {
	if x, ok := a.(int64); ok {
		if y, ok := b.(int64); ok {
			return int(max(-1, min(1, x-y)))
		}
	}
	sa, sb := fmt.Sprint(a), fmt.Sprint(b)
	switch {
	case sa < sb:
		return -1
	case sa > sb:
		return 1
	}
	return 0
}

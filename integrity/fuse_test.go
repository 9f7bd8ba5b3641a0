package integrity

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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

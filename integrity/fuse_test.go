package integrity

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/jmoiron/sqlx"
)

// TestFusedPassSameReport: the report with the fused pass is the report
// of every check run alone (durations aside), on a clean seed — where the
// pass settles the plain row checks — and on one with faults of every kind
// plus a fault of one kind only, where some checks of a table are clean and
// others are not.
func TestFusedPassSameReport(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC) }
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		for _, tc := range []struct {
			name   string
			faults int
			extra  string
		}{
			{"clean", 0, ""},
			{"one fault of one kind", 0, `UPDATE member_employments SET end_date = start_date - 1 WHERE id = (SELECT min(id) FROM member_employments)`},
			{"one orphan", 0, `UPDATE member_employments SET organization_id = 999999 WHERE id = (SELECT max(id) FROM member_employments)`},
			{"one orphaned attachment", 0, `UPDATE file_attachments SET record_id = 999999 WHERE id = (SELECT max(id) FROM file_attachments)`},
			{"one attachment of an unknown type", 0, `UPDATE file_attachments SET record_type = 'nothing' WHERE id = (SELECT min(id) FROM file_attachments)`},
			{"faults of every kind", 2, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := seed.Run(ctx, db, seed.Options{Profile: seed.Quick, Faults: tc.faults, Now: now, Force: true}); err != nil {
					t.Fatal(err)
				}
				if tc.extra != "" {
					testdb.MustExec(t, db, tc.extra)
				}
				rules := Rules(RuleOptions{NoFiles: true, Now: now})
				// Every pass runs (a failing pass would fall back to the
				// checks alone and hide a broken fused condition).
				model, err := catalog.Read(ctx, db, catalog.Options{})
				if err != nil {
					t.Fatal(err)
				}
				groups := fusedGroups(Prepare(model, rules), dbx.DialectOf(db))
				if len(groups) < 3 {
					t.Errorf("%d fused passes; want one for each of employments, members and attachments at least", len(groups))
				}
				for _, g := range groups {
					if _, err := g.count(ctx, db); err != nil {
						t.Errorf("pass over %s: %v", g.table, err)
					}
				}
				fused := Run(ctx, db, rules, RunOptions{MaxIssues: 5})
				alone := Run(ctx, db, rules, RunOptions{MaxIssues: 5, separate: true})
				if fused.Summary.FailedChecks != 0 {
					t.Fatalf("failed checks: %+v", fused.Failed())
				}
				ignore := cmpopts.IgnoreFields(CheckResult{}, "DurationMS")
				if diff := cmp.Diff(alone, fused, ignore, cmpopts.EquateErrors()); diff != "" {
					t.Errorf("fused report differs from the checks run alone (-alone +fused):\n%s", diff)
				}
			})
		}
	}, testdb.WithSchema())
}

// TestFusable: only the plain row checks and (on PostgreSQL) the foreign
// keys are counted in the fused pass.
func TestFusable(t *testing.T) {
	fused := func(d dbx.Dialect) []string {
		var got []string
		for _, c := range Rules(RuleOptions{NoFiles: true}) {
			if _, _, _, _, ok := fusable(c, d); ok {
				got = append(got, c.Name())
			}
		}
		return got
	}
	plain := []string{MemberMissingRequired, OrganizationMissingRequired, MemberInvalidStatus, MemberInvalidClassification,
		OrganizationInvalidType, EmploymentEndBeforeStart, EmploymentCurrentWithEndDate, MemberHireDateFuture,
		EmploymentHourlyRateRange, AttachmentEmptyPath, AttachmentSizeUnusual}
	keys := []string{EmploymentOrphanMember, EmploymentOrphanOrganization, ContactOrphanOrganization, AttachmentOrphanRecord}
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	if diff := cmp.Diff(append(plain, keys...), fused(dbx.Postgres), sorted); diff != "" {
		t.Errorf("fusable checks on PostgreSQL (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(plain, fused(dbx.SQLite), sorted); diff != "" {
		t.Errorf("fusable checks on SQLite (-want +got):\n%s", diff)
	}
}

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

package integrity_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
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
			finds  []string // checks that must find something
		}{
			{"clean", 0, "", nil},
			{"one fault of one kind", 0, `UPDATE member_employments SET end_date = start_date - 1 WHERE id = (SELECT min(id) FROM member_employments)`, []string{ip2a.EmploymentEndBeforeStart}},
			{"one orphan", 0, `UPDATE member_employments SET organization_id = 999999 WHERE id = (SELECT max(id) FROM member_employments)`, []string{ip2a.EmploymentOrphanOrganization}},
			{"one employment of no member", 0, `UPDATE member_employments SET member_id = 999999 WHERE id = (SELECT max(id) FROM member_employments)`, []string{ip2a.EmploymentOrphanMember}},
			{"two current employments of the first member", 0, `UPDATE member_employments SET is_current = TRUE, end_date = NULL WHERE member_id = (SELECT min(member_id) FROM member_employments)`, nil},
			{"one orphaned attachment", 0, `UPDATE file_attachments SET record_id = 999999 WHERE id = (SELECT max(id) FROM file_attachments)`, []string{ip2a.AttachmentOrphanRecord}},
			{"one attachment of an unknown type", 0, `UPDATE file_attachments SET record_type = 'nothing' WHERE id = (SELECT min(id) FROM file_attachments)`, []string{ip2a.AttachmentOrphanRecord}},
			{"two current employments", 0, `UPDATE member_employments SET is_current = TRUE, end_date = NULL WHERE member_id = (SELECT member_id FROM member_employments GROUP BY member_id HAVING count(*) > 1 ORDER BY member_id LIMIT 1)`, []string{ip2a.MemberMultipleCurrentEmployments}},
			{"two primary contacts", 0, `UPDATE organization_contacts SET is_primary = TRUE WHERE organization_id = (SELECT organization_id FROM organization_contacts GROUP BY organization_id HAVING count(*) > 1 ORDER BY organization_id LIMIT 1)`, []string{ip2a.OrganizationMultiplePrimary}},
			// The probes count soft-deleted orphans too: the check runs
			// alone and finds nothing.
			{"a soft-deleted orphaned attachment", 0, `UPDATE file_attachments SET record_id = 999999, is_deleted = TRUE WHERE id = (SELECT max(id) FROM file_attachments)`, nil},
			{"a soft-deleted orphaned contact", 0, `UPDATE organization_contacts SET organization_id = 999999, is_deleted = TRUE WHERE id = (SELECT max(id) FROM organization_contacts)`, nil},
			{"a blank path and a blank name", 0, `UPDATE file_attachments SET file_path = '   ' WHERE id = (SELECT min(id) FROM file_attachments);
				UPDATE members SET last_name = '' WHERE id = (SELECT min(id) FROM members)`, []string{ip2a.AttachmentEmptyPath, ip2a.MemberMissingRequired}},
			{"faults of every kind", 2, "", []string{ip2a.MemberMultipleCurrentEmployments, ip2a.EmploymentOrphanMember}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := seed.Run(ctx, db, seed.Options{Profile: seed.Quick, Faults: tc.faults, Now: now, Force: true}); err != nil {
					t.Fatal(err)
				}
				for _, q := range strings.Split(tc.extra, ";") {
					if strings.TrimSpace(q) != "" {
						testdb.MustExec(t, db, q)
					}
				}
				rules := ip2a.Rules(ip2a.RuleOptions{NoFiles: true, Now: now})
				// Every pass runs (a failing pass would fall back to the
				// checks alone and hide a broken fused condition).
				model, err := catalog.Read(ctx, db, catalog.Options{})
				if err != nil {
					t.Fatal(err)
				}
				passes := integrity.FusedPasses(ctx, db, integrity.Prepare(model, rules))
				if len(passes) < 3 {
					t.Errorf("%d fused passes; want one for each of employments, members and attachments at least", len(passes))
				}
				for table, err := range passes {
					if err != nil {
						t.Errorf("pass over %s: %v", table, err)
					}
				}
				fused := integrity.Run(ctx, db, rules, integrity.RunOptions{MaxIssues: 5})
				alone := integrity.RunSeparately(ctx, db, rules, integrity.RunOptions{MaxIssues: 5})
				if fused.Summary.FailedChecks != 0 {
					t.Fatalf("failed checks: %+v", fused.Failed())
				}
				for _, c := range fused.Checks {
					if slices.Contains(tc.finds, c.Name) && c.Count == 0 {
						t.Errorf("%s finds nothing: the case does not test it", c.Name)
					}
				}
				ignore := cmpopts.IgnoreFields(integrity.CheckResult{}, "DurationMS")
				if diff := cmp.Diff(alone, fused, ignore, cmpopts.EquateErrors()); diff != "" {
					t.Errorf("fused report differs from the checks run alone (-alone +fused):\n%s", diff)
				}
			})
		}
	}, testdb.WithSchema())
}

// TestFusable: the plain row checks and the at-most-one rules are counted
// in their table's pass, the foreign keys probed; uniqueness rules,
// has-children and aggregates run alone.
func TestFusable(t *testing.T) {
	fused := func(d dbx.Dialect) []string {
		var got []string
		for _, c := range ip2a.Rules(ip2a.RuleOptions{NoFiles: true}) {
			if integrity.Fusable(c, d) {
				got = append(got, c.Name())
			}
		}
		return got
	}
	plain := []string{ip2a.MemberMissingRequired, ip2a.OrganizationMissingRequired, ip2a.MemberInvalidStatus, ip2a.MemberInvalidClassification,
		ip2a.OrganizationInvalidType, ip2a.EmploymentEndBeforeStart, ip2a.EmploymentCurrentWithEndDate, ip2a.MemberHireDateFuture,
		ip2a.EmploymentHourlyRateRange, ip2a.AttachmentEmptyPath, ip2a.AttachmentSizeUnusual}
	plain = append(plain, ip2a.MemberMultipleCurrentEmployments, ip2a.OrganizationMultiplePrimary,
		ip2a.EmploymentOrphanMember, ip2a.EmploymentOrphanOrganization, ip2a.ContactOrphanOrganization, ip2a.AttachmentOrphanRecord)
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	if diff := cmp.Diff(plain, fused(dbx.Postgres), sorted); diff != "" {
		t.Errorf("fusable checks on PostgreSQL (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(plain, fused(dbx.SQLite), sorted); diff != "" {
		t.Errorf("fusable checks on SQLite (-want +got):\n%s", diff)
	}
}

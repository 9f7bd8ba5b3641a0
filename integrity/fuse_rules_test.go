package integrity_test

import (
	"context"
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
		}{
			{"clean", 0, ""},
			{"one fault of one kind", 0, `UPDATE member_employments SET end_date = start_date - 1 WHERE id = (SELECT min(id) FROM member_employments)`},
			{"one orphan", 0, `UPDATE member_employments SET organization_id = 999999 WHERE id = (SELECT max(id) FROM member_employments)`},
			{"one employment of no member", 0, `UPDATE member_employments SET member_id = 999999 WHERE id = (SELECT max(id) FROM member_employments)`},
			{"two current employments of one member", 0, `UPDATE member_employments SET is_current = TRUE, end_date = NULL WHERE member_id = (SELECT min(member_id) FROM member_employments)`},
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
				ignore := cmpopts.IgnoreFields(integrity.CheckResult{}, "DurationMS")
				if diff := cmp.Diff(alone, fused, ignore, cmpopts.EquateErrors()); diff != "" {
					t.Errorf("fused report differs from the checks run alone (-alone +fused):\n%s", diff)
				}
			})
		}
	}, testdb.WithSchema())
}

// TestFusable: only the plain row checks, the group checks and (on
// PostgreSQL) the foreign keys are counted in the fused pass.
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
	// The group checks share their table's aggregation by their key.
	// (student.duplicate_email joins members: not fusable.)
	plain = append(plain, ip2a.MemberMultipleCurrentEmployments, ip2a.OrganizationMultiplePrimary, ip2a.MemberDuplicateNumber)
	keys := []string{ip2a.EmploymentOrphanMember, ip2a.EmploymentOrphanOrganization, ip2a.ContactOrphanOrganization, ip2a.AttachmentOrphanRecord}
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	if diff := cmp.Diff(append(plain, keys...), fused(dbx.Postgres), sorted); diff != "" {
		t.Errorf("fusable checks on PostgreSQL (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(plain, fused(dbx.SQLite), sorted); diff != "" {
		t.Errorf("fusable checks on SQLite (-want +got):\n%s", diff)
	}
}

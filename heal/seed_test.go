package heal_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/jmoiron/sqlx"
)

// TestHealsTheSeedsPlantedFaults seeds the quick profile with three faults
// of every kind, heals, checks every planted fixable row's new state and
// that the fixable checks come back clean, then undoes the run and compares
// every table with the seeded one.
func TestHealsTheSeedsPlantedFaults(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		stats, err := seed.Run(ctx(t), db, seed.Options{Profile: seed.Quick, Faults: 3, Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		m := stats.Manifest
		seeded := testdb.Digests(t, db)
		res, err := cycle(db, "").Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		repaired := map[string]bool{}
		for _, r := range res.Repairs {
			repaired[r.Check] = true
		}
		for _, c := range res.Remaining.Checks {
			if repaired[c.Name] && c.Count != 0 {
				t.Errorf("%s: %d remain after the repair", c.Name, c.Count)
			}
		}
		in := func(ids []int64) string {
			var s []string
			for _, id := range ids {
				s = append(s, fmt.Sprint(id))
			}
			return "(" + strings.Join(s, ",") + ")"
		}
		for _, tc := range []struct {
			kind, query string
			want        int // rows of query over the planted ids
		}{
			{ip2a.EmploymentOrphanMember, "SELECT count(*) FROM member_employments WHERE id IN %s", 0},
			{ip2a.EmploymentOrphanOrganization, "SELECT count(*) FROM member_employments WHERE id IN %s", 0},
			{ip2a.ContactOrphanOrganization, "SELECT count(*) FROM organization_contacts WHERE is_deleted AND deleted_at IS NOT NULL AND id IN %s", 3},
			{ip2a.AttachmentOrphanRecord, "SELECT count(*) FROM file_attachments WHERE is_deleted AND id IN %s", 3},
			{ip2a.MemberInvalidStatus, "SELECT count(*) FROM members WHERE status = 'active' AND id IN %s", 3},
			{ip2a.EmploymentEndBeforeStart, "SELECT count(*) FROM member_employments WHERE end_date IS NULL AND id IN %s", 3},
			{ip2a.EmploymentCurrentWithEndDate, "SELECT count(*) FROM member_employments WHERE NOT is_current AND end_date IS NOT NULL AND id IN %s", 3},
			{ip2a.AttachmentEmptyPath, "SELECT count(*) FROM file_attachments WHERE is_deleted AND id IN %s", 3},
		} {
			ids := m.IDs(tc.kind)
			if len(ids) != 3 {
				t.Fatalf("%s: manifest has %v", tc.kind, m[tc.kind])
			}
			var n int
			if err := db.Get(&n, fmt.Sprintf(tc.query, in(ids))); err != nil {
				t.Fatal(err)
			}
			if n != tc.want {
				t.Errorf("%s: %d planted rows in the repaired state, want %d", tc.kind, n, tc.want)
			}
		}
		// Each planted multi-primary organization keeps exactly one primary.
		for _, k := range m[ip2a.OrganizationMultiplePrimary] {
			org := k.(map[string]any)["organization_id"]
			if n := testdb.Count(t, db, "organization_contacts", "organization_id = ? AND is_primary AND NOT is_deleted", org); n != 1 {
				t.Errorf("organization %v has %d primary contacts", org, n)
			}
		}
		if _, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(seeded, testdb.Digests(t, db)); diff != "" {
			t.Errorf("undo did not restore the seeded tables (-want +got):\n%s", diff)
		}
		// The fixable checks find the planted faults again.
		again := integrity.Run(ctx(t), db, ip2a.Rules(ip2a.RuleOptions{NoFiles: true, Now: fixedNow}), integrity.RunOptions{})
		for _, c := range again.Checks {
			if repaired[c.Name] && c.Count == 0 {
				t.Errorf("%s finds nothing after undo", c.Name)
			}
		}
	}, testdb.WithSchema())
}

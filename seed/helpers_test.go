package seed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// testNow is the clock of every seed test.
var testNow = time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)

func clock() time.Time { return testNow }

// mustSeed runs Run and fails the test on error.
func mustSeed(t *testing.T, db *sqlx.DB, opt Options) Stats {
	t.Helper()
	if opt.Now == nil {
		opt.Now = clock
	}
	st, err := Run(context.Background(), db, opt)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	return st
}

// queryIDs returns the first column of query as int64s.
func queryIDs(t *testing.T, db *sqlx.DB, query string, args ...any) []int64 {
	t.Helper()
	var out []int64
	if err := db.Select(&out, dbx.DialectOf(db).Rebind(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

func queryInt(t *testing.T, db *sqlx.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.Get(&n, dbx.DialectOf(db).Rebind(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func anyIDs(ids []int64) []any {
	out := []any{}
	for _, id := range ids {
		out = append(out, id)
	}
	return out
}

func keys[T any](name string, vals []T) []any {
	out := []any{}
	for _, v := range vals {
		out = append(out, map[string]any{name: v})
	}
	return out
}

// findIssues evaluates the 22 checks of checknames.md with SQL of its own
// (independent of the integrity package) and returns, per check, the
// offending row ids or group keys in the Manifest's shape. filesDir == ""
// skips attachment.file_missing (reported as empty).
func findIssues(t *testing.T, db *sqlx.DB, filesDir string) Manifest {
	t.Helper()
	today := testNow.Format(time.DateOnly)
	blank := func(c string) string { return fmt.Sprintf("(%s IS NULL OR trim(%s) = '')", c, c) }
	parent := func(rt, table string) string {
		return fmt.Sprintf("(a.record_type = '%s' AND EXISTS (SELECT 1 FROM %s p WHERE p.id = a.record_id))", rt, table)
	}
	m := Manifest{
		EmploymentOrphanMember: anyIDs(queryIDs(t, db, `SELECT e.id FROM member_employments e WHERE e.member_id IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM members m WHERE m.id = e.member_id) ORDER BY e.id`)),
		EmploymentOrphanOrganization: anyIDs(queryIDs(t, db, `SELECT e.id FROM member_employments e WHERE e.organization_id IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM organizations o WHERE o.id = e.organization_id) ORDER BY e.id`)),
		ContactOrphanOrganization: anyIDs(queryIDs(t, db, `SELECT c.id FROM organization_contacts c WHERE NOT c.is_deleted
			AND c.organization_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM organizations o WHERE o.id = c.organization_id) ORDER BY c.id`)),
		AttachmentOrphanRecord: anyIDs(queryIDs(t, db, `SELECT a.id FROM file_attachments a WHERE NOT a.is_deleted AND NOT (`+
			strings.Join([]string{parent("member", "members"), parent("student", "students"), parent("organization", "organizations"),
				parent("grievance", "grievances"), parent("instructor", "instructors"), parent("location", "locations")}, " OR ")+
			`) ORDER BY a.id`)),
		MemberMissingRequired: anyIDs(queryIDs(t, db, `SELECT id FROM members WHERE NOT is_deleted AND (`+
			strings.Join([]string{blank("member_number"), blank("first_name"), blank("last_name"), blank("classification")}, " OR ")+
			`) ORDER BY id`)),
		OrganizationMissingRequired: anyIDs(queryIDs(t, db, `SELECT id FROM organizations WHERE NOT is_deleted AND (`+
			blank("name")+` OR `+blank("org_type")+`) ORDER BY id`)),
		MemberInvalidStatus: anyIDs(queryIDs(t, db, `SELECT id FROM members WHERE NOT is_deleted
			AND status NOT IN ('active', 'inactive', 'suspended', 'retired', 'deceased') ORDER BY id`)),
		MemberInvalidClassification: anyIDs(queryIDs(t, db, `SELECT id FROM members WHERE NOT is_deleted AND NOT `+blank("classification")+`
			AND classification NOT IN ('apprentice_1', 'apprentice_2', 'apprentice_3', 'apprentice_4', 'apprentice_5',
			'journeyman', 'foreman', 'retiree', 'honorary') ORDER BY id`)),
		OrganizationInvalidType: anyIDs(queryIDs(t, db, `SELECT id FROM organizations WHERE NOT is_deleted AND NOT `+blank("org_type")+`
			AND org_type NOT IN ('employer', 'union', 'training_partner', 'jatc') ORDER BY id`)),
		EmploymentEndBeforeStart: anyIDs(queryIDs(t, db, `SELECT id FROM member_employments
			WHERE end_date IS NOT NULL AND end_date < start_date ORDER BY id`)),
		EmploymentCurrentWithEndDate: anyIDs(queryIDs(t, db, `SELECT id FROM member_employments
			WHERE is_current AND end_date IS NOT NULL ORDER BY id`)),
		MemberHireDateFuture: anyIDs(queryIDs(t, db, `SELECT id FROM members WHERE NOT is_deleted AND hire_date > ? ORDER BY id`, today)),
		MemberMultipleCurrentEmployments: keys("member_id", queryIDs(t, db, `SELECT member_id FROM member_employments
			WHERE is_current AND member_id IS NOT NULL GROUP BY member_id HAVING count(*) > 1 ORDER BY member_id`)),
		EmploymentHourlyRateRange: anyIDs(queryIDs(t, db, `SELECT id FROM member_employments
			WHERE hourly_rate IS NOT NULL AND (hourly_rate < 10 OR hourly_rate > 150) ORDER BY id`)),
		OrganizationMultiplePrimary: keys("organization_id", queryIDs(t, db, `SELECT organization_id FROM organization_contacts
			WHERE NOT is_deleted AND is_primary AND organization_id IS NOT NULL GROUP BY organization_id HAVING count(*) > 1
			ORDER BY organization_id`)),
		OrganizationNoContacts: anyIDs(queryIDs(t, db, `SELECT o.id FROM organizations o WHERE NOT o.is_deleted AND NOT EXISTS
			(SELECT 1 FROM organization_contacts c WHERE c.organization_id = o.id AND NOT c.is_deleted) ORDER BY o.id`)),
		MemberActiveWithoutEmployment: anyIDs(queryIDs(t, db, `SELECT m.id FROM members m WHERE NOT m.is_deleted AND m.status = 'active'
			AND NOT EXISTS (SELECT 1 FROM member_employments e WHERE e.member_id = m.id) ORDER BY m.id`)),
		AttachmentEmptyPath: anyIDs(queryIDs(t, db, `SELECT id FROM file_attachments WHERE NOT is_deleted AND trim(file_path) = '' ORDER BY id`)),
		AttachmentSizeUnusual: anyIDs(queryIDs(t, db, `SELECT id FROM file_attachments WHERE NOT is_deleted
			AND (file_size < 0 OR file_size > 100000000) ORDER BY id`)),
		AttachmentFileMissing: []any{},
	}
	var numbers, emails []string
	if err := db.Select(&numbers, `SELECT member_number FROM members WHERE NOT is_deleted AND member_number IS NOT NULL
		AND trim(member_number) <> '' GROUP BY member_number HAVING count(*) > 1 ORDER BY member_number`); err != nil {
		t.Fatal(err)
	}
	if err := db.Select(&emails, `SELECT lower(trim(email)) FROM students WHERE NOT is_deleted AND email IS NOT NULL
		AND trim(email) <> '' GROUP BY lower(trim(email)) HAVING count(*) > 1 ORDER BY lower(trim(email))`); err != nil {
		t.Fatal(err)
	}
	m[MemberDuplicateNumber] = keys("member_number", numbers)
	m[StudentDuplicateEmail] = keys("email", emails)
	if filesDir != "" {
		var rows []struct {
			ID   int64  `db:"id"`
			Path string `db:"file_path"`
		}
		if err := db.Select(&rows, `SELECT id, file_path FROM file_attachments WHERE NOT is_deleted AND trim(file_path) <> '' ORDER BY id`); err != nil {
			t.Fatal(err)
		}
		var missing []int64
		for _, r := range rows {
			if strings.HasPrefix(r.Path, "http://") || strings.HasPrefix(r.Path, "https://") || strings.HasPrefix(r.Path, "s3://") {
				continue
			}
			st, err := os.Stat(filepath.Join(filesDir, filepath.FromSlash(r.Path)))
			if errors.Is(err, fs.ErrNotExist) || err == nil && !st.Mode().IsRegular() {
				missing = append(missing, r.ID)
			}
		}
		m[AttachmentFileMissing] = anyIDs(missing)
	}
	return m
}

// cleanIssues is the findIssues result of a database without any issue.
func cleanIssues() Manifest {
	m := Manifest{}
	for _, k := range FaultKinds() {
		m[k] = []any{}
	}
	return m
}

// digest hashes every table's rows in id order, without created_at and
// updated_at, normalizing what the two drivers return differently, so the
// same data gives the same digest on PostgreSQL and SQLite.
func digest(t *testing.T, db *sqlx.DB) map[string]string {
	t.Helper()
	d := dbx.DialectOf(db)
	out := map[string]string{}
	for _, table := range []string{"locations", "instructors", "organizations", "organization_contacts", "members",
		"member_employments", "students", "grievances", "file_attachments"} {
		cols, err := dbx.Columns(context.Background(), db, d, table)
		if err != nil {
			t.Fatal(err)
		}
		var sel []string
		for _, c := range cols {
			if c != "created_at" && c != "updated_at" {
				sel = append(sel, c)
			}
		}
		rows, err := db.Query("SELECT " + strings.Join(sel, ", ") + " FROM " + table + " ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		vals := make([]any, len(sel))
		ptrs := make([]any, len(sel))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				fmt.Fprintf(h, "%s\t", normalize(sel[i], v))
			}
			h.Write([]byte("\n"))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		out[table] = hex.EncodeToString(h.Sum(nil))
	}
	return out
}

func normalize(col string, v any) string {
	switch x := v.(type) {
	case nil:
		return `\N`
	case []byte:
		v = string(x)
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 {
			return x.Format(time.DateOnly)
		}
		return x.UTC().Format(time.DateTime)
	}
	switch {
	case strings.HasPrefix(col, "is_"):
		switch fmt.Sprint(v) {
		case "true", "1":
			return "true"
		}
		return "false"
	case col == "hourly_rate":
		f, err := strconv.ParseFloat(fmt.Sprint(v), 64)
		if err != nil {
			return "bad " + fmt.Sprint(v)
		}
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
	if s, ok := v.(string); ok && len(s) > 10 && s[4] == '-' && s[10] == 'T' {
		if tt, err := time.Parse(time.RFC3339, s); err == nil {
			return normalize(col, tt)
		}
	}
	return fmt.Sprint(v)
}

// mustCancelUnchanged runs a seed with opt that is canceled while
// member_employments loads, and fails t unless the seed fails and leaves
// db as it was.
func mustCancelUnchanged(t *testing.T, db *sqlx.DB, opt Options) {
	t.Helper()
	before := digest(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opt.Progress = func(phase string, _, _ int64) {
		if phase == "member_employments" {
			cancel()
		}
	}
	if _, err := Run(ctx, db, opt); err == nil {
		t.Fatal("a canceled seed reported success")
	}
	if diff := cmp.Diff(before, digest(t, db)); diff != "" {
		t.Errorf("a canceled seed changed the database (-before +after):\n%s", diff)
	}
}

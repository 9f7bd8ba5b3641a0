package integrity_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/jmoiron/sqlx"
)

// issueView is what the tests assert of an issue: everything but the prose.
type issueView struct {
	Check    string
	Category string
	Severity ip2adb.Severity
	Table    string
	RecordID *int64
	Key      map[string]any
	Fixable  bool
}

func view(is []ip2adb.Issue) []issueView {
	var out []issueView
	for _, i := range is {
		out = append(out, issueView{i.Check, i.Category, i.Severity, i.Table, i.RecordID, i.Key, i.AutoFixable()})
	}
	return out
}

// ruleSpec is checknames.md, row by row, with what the fixture plants.
type ruleSpec struct {
	name     string
	category string
	severity ip2adb.Severity
	table    string
	fix      *ip2adb.Fix // Action, Column, Value; nil when not auto-fixable
	ids      []int64     // offending rows (row checks)
	keys     []map[string]any
	fixIDs   []int64 // rows the fix's Where selects
}

func fx(a ip2adb.Action, col string, v any) *ip2adb.Fix {
	return &ip2adb.Fix{Action: a, Column: col, Value: v}
}

var del = fx(ip2adb.ActionDelete, "", nil)

func ruleSpecs() []ruleSpec {
	return []ruleSpec{
		{name: "employment.orphan_member", category: "foreign_key", severity: ip2adb.Critical, table: "member_employments", fix: del, ids: []int64{13}},
		{name: "employment.orphan_organization", category: "foreign_key", severity: ip2adb.Critical, table: "member_employments", fix: del, ids: []int64{14}},
		{name: "contact.orphan_organization", category: "foreign_key", severity: ip2adb.Critical, table: "organization_contacts", fix: del, ids: []int64{14}},
		{name: "attachment.orphan_record", category: "foreign_key", severity: ip2adb.Warning, table: "file_attachments", fix: del, ids: []int64{2, 8, 9, 10}},
		{name: "member.missing_required", category: "required_field", severity: ip2adb.Critical, table: "members", ids: []int64{3, 4, 5}},
		{name: "organization.missing_required", category: "required_field", severity: ip2adb.Critical, table: "organizations", ids: []int64{3, 4}},
		{name: "member.invalid_status", category: "enum_value", severity: ip2adb.Critical, table: "members", fix: fx(ip2adb.ActionSetValue, "status", "active"), ids: []int64{6, 7}},
		{name: "member.invalid_classification", category: "enum_value", severity: ip2adb.Critical, table: "members", ids: []int64{8, 9}},
		{name: "organization.invalid_type", category: "enum_value", severity: ip2adb.Critical, table: "organizations", ids: []int64{5}},
		{name: "employment.end_before_start", category: "date_logic", severity: ip2adb.Critical, table: "member_employments", fix: fx(ip2adb.ActionSetNull, "end_date", nil), ids: []int64{17}},
		{name: "employment.current_with_end_date", category: "date_logic", severity: ip2adb.Warning, table: "member_employments", fix: fx(ip2adb.ActionSetValue, "is_current", false), ids: []int64{7}},
		{name: "member.hire_date_future", category: "date_logic", severity: ip2adb.Warning, table: "members", ids: []int64{10}},
		{name: "member.multiple_current_employments", category: "employment_logic", severity: ip2adb.Warning, table: "member_employments", keys: []map[string]any{{"member_id": int64(12)}}},
		{name: "employment.hourly_rate_range", category: "employment_logic", severity: ip2adb.Info, table: "member_employments", ids: []int64{20, 21}},
		{name: "organization.multiple_primary_contacts", category: "contact_logic", severity: ip2adb.Warning, table: "organization_contacts", fix: fx(ip2adb.ActionSetValue, "is_primary", false), keys: []map[string]any{{"organization_id": int64(9)}}, fixIDs: []int64{8, 11}},
		{name: "organization.no_contacts", category: "contact_logic", severity: ip2adb.Info, table: "organizations", ids: []int64{6, 7}},
		{name: "member.duplicate_number", category: "duplicate", severity: ip2adb.Critical, table: "members", keys: []map[string]any{{"member_number": "D100"}}},
		{name: "student.duplicate_email", category: "duplicate", severity: ip2adb.Warning, table: "students", keys: []map[string]any{{"email": "a@x.org"}}},
		{name: "member.active_without_employment", category: "data_anomaly", severity: ip2adb.Info, table: "members", keys: []map[string]any{{}}},
		{name: "attachment.empty_path", category: "file_system", severity: ip2adb.Critical, table: "file_attachments", fix: del, ids: []int64{13, 14}},
		{name: "attachment.file_missing", category: "file_system", severity: ip2adb.Warning, table: "file_attachments", ids: []int64{15, 19, 20}},
		{name: "attachment.size_unusual", category: "file_system", severity: ip2adb.Info, table: "file_attachments", ids: []int64{21, 22}},
	}
}

// want is the result the spec expects of one check.
func (s ruleSpec) want() (int, []issueView) {
	var out []issueView
	for _, id := range s.ids {
		out = append(out, issueView{s.name, s.category, s.severity, s.table, ip2adb.Ptr(id), nil, s.fix != nil})
	}
	for _, k := range s.keys {
		out = append(out, issueView{s.name, s.category, s.severity, s.table, nil, k, s.fix != nil})
	}
	return len(out), out
}

func rules(root string) []integrity.Checker {
	return ip2a.Rules(ip2a.RuleOptions{FilesRoot: root, Now: fixtureNow})
}

// TestRules plants offenders for all 22 checks next to clean and
// soft-deleted rows and asserts every check's exact issues, count and fix.
func TestRules(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		root := plant(t, db)
		checks := rules(root)
		specs := ruleSpecs()
		var names []string
		for _, c := range checks {
			names = append(names, c.Name())
		}
		var wantNames []string
		for _, s := range specs {
			wantNames = append(wantNames, s.name)
		}
		if d := cmp.Diff(wantNames, names); d != "" {
			t.Fatalf("Rules() names (-want +got):\n%s", d)
		}
		rep := integrity.Run(context.Background(), db, checks, integrity.RunOptions{})
		for i, s := range specs {
			t.Run(s.name, func(t *testing.T) {
				cr := rep.Checks[i]
				if cr.Err != nil {
					t.Fatalf("check failed: %v", cr.Err)
				}
				n, want := s.want()
				if cr.Count != n || cr.Name != s.name || cr.Category != s.category {
					t.Errorf("result name %q category %q count %d, want %q %q %d", cr.Name, cr.Category, cr.Count, s.name, s.category, n)
				}
				if d := cmp.Diff(want, view(cr.Issues)); d != "" {
					t.Errorf("issues (-want +got):\n%s", d)
				}
				for _, is := range cr.Issues {
					if is.Description == "" || is.Recommendation == "" {
						t.Errorf("issue %+v lacks description or recommendation", is)
					}
				}
				r, ok := checks[i].(integrity.Repairable)
				if ok != (s.fix != nil) {
					t.Fatalf("Repairable = %v, want %v", ok, s.fix != nil)
				}
				if !ok {
					return
				}
				fix := r.Fix()
				got := ip2adb.Fix{Action: fix.Action, Column: fix.Column, Value: fix.Value}
				if d := cmp.Diff(*s.fix, got); d != "" || fix.Table != s.table {
					t.Errorf("Fix() table %q, (-want +got):\n%s", fix.Table, d)
				}
				for _, is := range cr.Issues {
					if d := cmp.Diff(&fix, is.Fix, cmp.Comparer(func(a, b []any) bool { return cmp.Equal(a, b) })); d != "" {
						t.Errorf("issue fix differs from Fix() (-want +got):\n%s", d)
					}
				}
				// The fix's Where selects exactly the rows to repair.
				wantIDs := s.fixIDs
				if wantIDs == nil {
					wantIDs = s.ids
				}
				var ids []int64
				q := "SELECT id FROM " + fix.Table + " WHERE " + fix.Where + " ORDER BY id"
				if err := db.Select(&ids, dbx.DialectOf(db).Rebind(q), fix.Args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				if d := cmp.Diff(wantIDs, ids); d != "" {
					t.Errorf("rows selected by Fix().Where (-want +got):\n%s", d)
				}
			})
		}
		wantSum := integrity.Summary{Critical: 17, Warning: 12, Info: 7, AutoFixable: 14, Remaining: 36}
		if d := cmp.Diff(wantSum, rep.Summary); d != "" {
			t.Errorf("summary (-want +got):\n%s", d)
		}
		if !rep.HasCritical() {
			t.Error("HasCritical() = false with critical issues")
		}
		var all []ip2adb.Issue
		for _, c := range rep.Checks {
			all = append(all, c.Issues...)
		}
		if d := cmp.Diff(view(all), view(rep.Issues)); d != "" {
			t.Errorf("report issues are not the checks' issues in order (-want +got):\n%s", d)
		}
		agg := rep.Checks[18].Issues[0]
		if d := cmp.Diff(map[string]any{"count": int64(2)}, agg.Details); d != "" {
			t.Errorf("aggregate details (-want +got):\n%s", d)
		}
	}, testdb.WithSchema())
}

// TestRulesClean: the clean part of the fixture alone has no issue at all.
func TestRulesClean(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		testdb.MustExec(t, db, `INSERT INTO organizations (id, name, org_type) VALUES (1, 'Acme', 'employer')`)
		testdb.MustExec(t, db, `INSERT INTO organization_contacts (id, organization_id, is_primary) VALUES (1, 1, TRUE)`)
		testdb.MustExec(t, db, `INSERT INTO members (id, member_number, first_name, last_name, status, classification, hire_date)
			VALUES (1, 'M1', 'A', 'B', 'active', 'journeyman', '2020-02-02')`)
		testdb.MustExec(t, db, `INSERT INTO member_employments (id, member_id, organization_id, start_date, hourly_rate) VALUES (1, 1, 1, '2020-02-02', 48.5)`)
		testdb.MustExec(t, db, `INSERT INTO students (id, email) VALUES (1, 'a@x.org')`)
		testdb.MustExec(t, db, `INSERT INTO file_attachments (id, record_type, record_id, file_path, file_size) VALUES (1, 'member', 1, 'https://x/y.pdf', 10)`)
		rep := integrity.Run(context.Background(), db, rules(t.TempDir()), integrity.RunOptions{})
		if d := cmp.Diff(integrity.Summary{}, rep.Summary); d != "" || len(rep.Issues) != 0 {
			t.Errorf("summary (-want +got):\n%s\nissues: %v", d, rep.Issues)
		}
		if rep.HasCritical() {
			t.Error("HasCritical() on a clean database")
		}
	}, testdb.WithSchema())
}

func TestNoFilesAndFilesRoot(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plant(t, db)
		missing := filepath.Join(t.TempDir(), "nope")

		// --no-files drops exactly attachment.file_missing; the other
		// attachment checks still run.
		checks := ip2a.Rules(ip2a.RuleOptions{FilesRoot: missing, NoFiles: true, Now: fixtureNow})
		var names []string
		for _, c := range checks {
			names = append(names, c.Name())
		}
		var want []string
		for _, s := range ruleSpecs() {
			if s.name != ip2a.AttachmentFileMissing {
				want = append(want, s.name)
			}
		}
		if d := cmp.Diff(want, names); d != "" {
			t.Errorf("NoFiles names (-want +got):\n%s", d)
		}
		rep := integrity.Run(context.Background(), db, checks, integrity.RunOptions{})
		if rep.Summary.FailedChecks != 0 || rep.Summary.Warning != 9 {
			t.Errorf("NoFiles summary %+v, want 0 failed and 9 warnings", rep.Summary)
		}

		// A missing files root fails the file check, loudly.
		rep = integrity.Run(context.Background(), db,
			ip2a.Rules(ip2a.RuleOptions{FilesRoot: missing, Now: fixtureNow}), integrity.RunOptions{})
		failed := rep.Failed()
		if len(failed) != 1 || failed[0].Name != ip2a.AttachmentFileMissing || failed[0].Category != "file_system" ||
			!strings.Contains(failed[0].Error, "files root") || rep.Summary.FailedChecks != 1 {
			t.Errorf("failed checks %+v, summary %+v", failed, rep.Summary)
		}
		if !rep.HasCritical() {
			t.Error("HasCritical() = false with a failed check")
		}
	}, testdb.WithSchema())
}

func TestMaxIssues(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		root := plant(t, db)
		for _, tc := range []struct {
			max     int
			samples int
		}{{1, 1}, {-1, 0}, {2, 2}} {
			rep := integrity.Run(context.Background(), db, rules(root), integrity.RunOptions{MaxIssues: tc.max})
			for i, s := range ruleSpecs() {
				n, want := s.want()
				want = want[:min(tc.samples, len(want))]
				cr := rep.Checks[i]
				if cr.Count != n {
					t.Errorf("max %d: %s count %d, want %d (counts stay full)", tc.max, s.name, cr.Count, n)
				}
				if d := cmp.Diff(want, view(cr.Issues), cmpopts.EquateEmpty()); d != "" {
					t.Errorf("max %d: %s issues (-want +got):\n%s", tc.max, s.name, d)
				}
			}
			if rep.Summary.Remaining != 36 {
				t.Errorf("max %d: remaining %d, want 36", tc.max, rep.Summary.Remaining)
			}
		}
	}, testdb.WithSchema())
}

// TestNotApplicableChecks: a missing table makes exactly the checks reading
// it not applicable, with a reason; they are not failures, and the other
// checks still run.
func TestNotApplicableChecks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		root := plant(t, db)
		testdb.MustExec(t, db, "DROP TABLE member_employments")
		rep := integrity.Run(context.Background(), db, rules(root), integrity.RunOptions{Concurrency: 2})
		type na struct{ Name, Category, Status, Reason string }
		var got []na
		for _, f := range rep.NotApplicable() {
			got = append(got, na{f.Name, f.Category, f.Status, f.Reason})
		}
		const gone = "no table member_employments"
		want := []na{
			{"employment.orphan_member", "foreign_key", "not_applicable", gone},
			{"employment.orphan_organization", "foreign_key", "not_applicable", gone},
			{"employment.end_before_start", "date_logic", "not_applicable", gone},
			{"employment.current_with_end_date", "date_logic", "not_applicable", gone},
			{"member.multiple_current_employments", "employment_logic", "not_applicable", gone},
			{"employment.hourly_rate_range", "employment_logic", "not_applicable", gone},
			{"member.active_without_employment", "data_anomaly", "not_applicable", gone},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("not applicable checks (-want +got):\n%s", d)
		}
		if rep.Summary.FailedChecks != 0 || len(rep.Failed()) != 0 {
			t.Errorf("summary %+v, failed %+v", rep.Summary, rep.Failed())
		}
		// The checks that do not read the dropped table found their issues.
		if c := rep.Checks[2]; c.Count != 1 || c.Err != nil {
			t.Errorf("contact.orphan_organization after the drop: %+v", c)
		}
	}, testdb.WithSchema())
}

func TestRunPanicAndCancel(t *testing.T) {
	db := testdb.SQLite(t, testdb.WithSchema())
	boom := integrity.NewCheck(
		integrity.Meta{Name: "custom.boom", Category: "data_anomaly", Severity: ip2adb.Critical},
		func(context.Context, *sqlx.DB, int) (integrity.Result, error) { panic("kaboom") })
	fine := integrity.NewCheck(
		integrity.Meta{Name: "custom.fine", Category: "data_anomaly", Severity: ip2adb.Info, Table: "members"},
		func(_ context.Context, _ *sqlx.DB, limit int) (integrity.Result, error) {
			return integrity.Result{Count: 3, Issues: []ip2adb.Issue{{RecordID: ip2adb.Ptr[int64](1)}, {RecordID: ip2adb.Ptr[int64](2)}}}, nil
		})
	rep := integrity.Run(context.Background(), db, []integrity.Checker{boom, fine}, integrity.RunOptions{MaxIssues: 1})
	if got := rep.Checks[0]; got.Error != "check panicked: kaboom" || got.Category != "data_anomaly" {
		t.Errorf("panicking check: %+v", got)
	}
	want := []issueView{{"custom.fine", "data_anomaly", ip2adb.Info, "members", ip2adb.Ptr[int64](1), nil, false}}
	if d := cmp.Diff(want, view(rep.Issues)); d != "" || rep.Checks[1].Count != 3 {
		t.Errorf("custom check count %d, issues (-want +got):\n%s", rep.Checks[1].Count, d)
	}
	if d := cmp.Diff(integrity.Summary{Info: 3, Remaining: 3, FailedChecks: 1}, rep.Summary); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep = integrity.Run(ctx, db, rules(t.TempDir()), integrity.RunOptions{})
	if rep.Summary.FailedChecks != 22 {
		t.Errorf("cancelled run: %d failed checks, want 22", rep.Summary.FailedChecks)
	}
	if !slices.ContainsFunc(rep.Checks, func(c integrity.CheckResult) bool { return strings.Contains(c.Error, "context canceled") }) {
		t.Errorf("cancelled run errors: %+v", rep.Checks[0])
	}
}

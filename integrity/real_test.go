package integrity_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/jmoiron/sqlx"
)

// realResult is what the real-schema tests assert of one check.
type realResult struct {
	Status, Reason, EnforcedBy string
	Count                      int
	IDs                        []int64
	Keys                       []map[string]any
}

func realResults(rep integrity.Report) map[string]realResult {
	out := map[string]realResult{}
	for _, c := range rep.Checks {
		r := realResult{Status: c.Status, Reason: c.Reason, EnforcedBy: c.EnforcedBy, Count: c.Count}
		for _, is := range c.Issues {
			if is.RecordID != nil {
				r.IDs = append(r.IDs, *is.RecordID)
			} else {
				r.Keys = append(r.Keys, is.Key)
			}
		}
		if c.Err != nil {
			r.Reason = c.Error
		}
		out[c.Name] = r
	}
	return out
}

func ids(v ...int64) []int64 { return v }

// wantReal is every check's result on the real-schema fixture
// (testdb.PlantReal): each plantable fault found exactly, nothing found
// among the rows holding every valid enum label, and the constraints that
// enforce a rule named.
func wantReal() map[string]realResult {
	ok := func(n int, id ...int64) realResult { return realResult{Status: "ok", Count: n, IDs: id} }
	group := func(key map[string]any) realResult {
		return realResult{Status: "ok", Count: 1, Keys: []map[string]any{key}}
	}
	enforced := func(by string) realResult { return realResult{Status: "ok", EnforcedBy: by} }
	return map[string]realResult{
		"employment.orphan_member":               ok(1, 12),
		"employment.orphan_organization":         ok(1, 13),
		"contact.orphan_organization":            ok(1, 8),
		"attachment.orphan_record":               ok(1, 2),
		"member.missing_required":                ok(1, 10),
		"organization.missing_required":          ok(1, 5),
		"member.invalid_status":                  enforced("enum memberstatus"),
		"member.invalid_classification":          enforced("enum memberclassification, NOT NULL members.classification"),
		"organization.invalid_type":              enforced("enum organizationtype"),
		"employment.end_before_start":            ok(1, 8),
		"employment.current_with_end_date":       ok(1, 9),
		"member.hire_date_future":                ok(1, 11),
		"member.multiple_current_employments":    group(map[string]any{"member_id": int64(7)}),
		"employment.hourly_rate_range":           ok(1, 11),
		"organization.multiple_primary_contacts": group(map[string]any{"organization_id": int64(7)}),
		"organization.no_contacts":               ok(1, 6),
		"member.duplicate_number":                enforced("ix_members_member_number"),
		"student.duplicate_email":                group(map[string]any{"email": "dup@x.org"}),
		"member.active_without_employment":       group(map[string]any{}),
		"attachment.empty_path":                  ok(1, 5),
		"attachment.file_missing":                ok(1, 6),
		"attachment.size_unusual":                ok(1, 7),
	}
}

// TestRulesOnRealSchema runs the 22 IP2A checks on the real IP2A schema
// (enum types with upper-case labels, no students.email, real NOT NULL and
// unique constraints) holding the fixture: no check fails, every planted
// fault is found and valid labels are no false positive.
func TestRulesOnRealSchema(t *testing.T) {
	db := testdb.RealPostgres(t)
	root := testdb.PlantReal(t, db)
	for _, noFiles := range []bool{false, true} {
		checks := ip2a.Rules(ip2a.RuleOptions{FilesRoot: root, NoFiles: noFiles})
		rep := integrity.Run(context.Background(), db, checks, integrity.RunOptions{})
		want := wantReal()
		if noFiles {
			delete(want, ip2a.AttachmentFileMissing)
		}
		if d := cmp.Diff(want, realResults(rep)); d != "" {
			t.Errorf("no-files %v: results (-want +got):\n%s", noFiles, d)
		}
		if rep.Summary.FailedChecks != 0 {
			t.Errorf("no-files %v: %d failed checks: %+v", noFiles, rep.Summary.FailedChecks, rep.Failed())
		}
		counts := map[string]int{}
		for _, c := range rep.Checks {
			counts[c.Name] = c.Count
		}
		wantCounts := testdb.RealFixtureCounts()
		if noFiles {
			delete(wantCounts, ip2a.AttachmentFileMissing)
		}
		if d := cmp.Diff(wantCounts, counts); d != "" {
			t.Errorf("counts differ from testdb.RealFixtureCounts (-want +got):\n%s", d)
		}
	}
}

// TestRealSchemaFixes: bound to the real schema, the repairs write the live
// labels and their Where compiles against the enum columns; a heal run
// repairs the fixture with no error and leaves only what needs a person.
func TestRealSchemaFixes(t *testing.T) {
	db := testdb.RealPostgres(t)
	root := testdb.PlantReal(t, db)
	ctx := context.Background()
	m, err := catalog.Read(ctx, db, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checks := integrity.Prepare(m, ip2a.Rules(ip2a.RuleOptions{FilesRoot: root}))
	var status ip2adb.Fix
	for _, c := range checks {
		if r, ok := c.(integrity.Repairable); ok && c.Name() == ip2a.MemberInvalidStatus {
			status = r.Fix()
		}
	}
	got := ip2adb.Fix{Action: status.Action, Table: status.Table, Column: status.Column, Value: status.Value}
	if d := cmp.Diff(ip2adb.Fix{Action: ip2adb.ActionSetValue, Table: "members", Column: "status", Value: "ACTIVE"}, got); d != "" {
		t.Errorf("member.invalid_status fix (-want +got):\n%s", d)
	}
	var n int
	if err := db.Get(&n, "SELECT count(*) FROM members WHERE "+status.Where); err != nil || n != 0 {
		t.Errorf("fix Where %q: %d rows, %v", status.Where, n, err)
	}

	cy := heal.Cycle{DB: db, Checks: ip2a.Rules(ip2a.RuleOptions{FilesRoot: root}), Model: m}
	res, err := cy.Run(ctx)
	if err != nil {
		t.Fatalf("heal on the real schema: %v", err)
	}
	type repair struct {
		Check  string
		Action ip2adb.Action
		Rows   int64
	}
	var repairs []repair
	for _, r := range res.Repairs {
		repairs = append(repairs, repair{r.Check, r.Action, r.Rows})
	}
	wantRepairs := []repair{
		{"employment.orphan_member", ip2adb.ActionDelete, 1},
		{"employment.orphan_organization", ip2adb.ActionDelete, 1},
		{"contact.orphan_organization", ip2adb.ActionSoftDelete, 1},
		{"attachment.orphan_record", ip2adb.ActionSoftDelete, 1},
		{"employment.end_before_start", ip2adb.ActionSetNull, 1},
		{"employment.current_with_end_date", ip2adb.ActionSetValue, 1},
		{"organization.multiple_primary_contacts", ip2adb.ActionSetValue, 1},
		{"attachment.empty_path", ip2adb.ActionSoftDelete, 1},
	}
	if d := cmp.Diff(wantRepairs, repairs); d != "" {
		t.Errorf("repairs (-want +got):\n%s", d)
	}
	if res.Summary.FailedChecks != 0 || res.Summary.Fixed != 8 {
		t.Errorf("summary %+v", res.Summary)
	}
}

// TestRealSchemaNotApplicable: where the real schema lacks a column or a
// table, exactly the checks reading it are not applicable, with the reason.
func TestRealSchemaNotApplicable(t *testing.T) {
	db := testdb.RealPostgres(t)
	root := testdb.PlantReal(t, db)
	testdb.MustExec(t, db, "ALTER TABLE members DROP COLUMN hire_date")
	testdb.MustExec(t, db, "ALTER TABLE students DROP COLUMN member_id")
	testdb.MustExec(t, db, "DROP TABLE organization_contacts")
	rep := integrity.Run(context.Background(), db, ip2a.Rules(ip2a.RuleOptions{FilesRoot: root}), integrity.RunOptions{})
	got := map[string]realResult{}
	for name, r := range realResults(rep) {
		if r.Status != "ok" {
			got[name] = r
		}
	}
	na := func(reason string) realResult { return realResult{Status: "not_applicable", Reason: reason} }
	want := map[string]realResult{
		"member.hire_date_future":                na("table members has no column hire_date"),
		"student.duplicate_email":                na("table students has no column email; table students has no column member_id"),
		"contact.orphan_organization":            na("no table organization_contacts"),
		"organization.multiple_primary_contacts": na("no table organization_contacts"),
		"organization.no_contacts":               na("no table organization_contacts"),
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("checks not ok (-want +got):\n%s", d)
	}
	if rep.Summary.FailedChecks != 0 || rep.HasCritical() != true {
		t.Errorf("summary %+v", rep.Summary)
	}
}

// TestRealSchemaEnforcedBy: a foreign key added to the real schema is named
// by the orphan check it enforces, and the check still finds the orphans a
// bulk load planted past it. A NOT VALID key enforces nothing yet.
func TestRealSchemaEnforcedBy(t *testing.T) {
	db := testdb.RealPostgres(t)
	root := testdb.PlantReal(t, db)
	testdb.MustExec(t, db, "DELETE FROM member_employments WHERE id IN (12, 13)")
	testdb.MustExec(t, db, `ALTER TABLE member_employments ADD CONSTRAINT member_employments_member_id_fkey
		FOREIGN KEY (member_id) REFERENCES members (id)`)
	testdb.MustExec(t, db, `ALTER TABLE member_employments ADD CONSTRAINT member_employments_organization_id_fkey
		FOREIGN KEY (organization_id) REFERENCES organizations (id) NOT VALID`)
	testdb.MustExecReplica(t, db, `INSERT INTO member_employments (id, member_id, organization_id, start_date, is_current, created_at, updated_at)
		VALUES (12, 999, 1, '2020-01-01', FALSE, now(), now()), (13, 9, 999, '2018-01-01', FALSE, now(), now())`)
	rep := integrity.Run(context.Background(), db, ip2a.Rules(ip2a.RuleOptions{FilesRoot: root}), integrity.RunOptions{})
	got := realResults(rep)
	want := map[string]realResult{
		"employment.orphan_member":       {Status: "ok", EnforcedBy: "member_employments_member_id_fkey", Count: 1, IDs: ids(12)},
		"employment.orphan_organization": {Status: "ok", Count: 1, IDs: ids(13)},
	}
	for name, w := range want {
		if d := cmp.Diff(w, got[name]); d != "" {
			t.Errorf("%s (-want +got):\n%s", name, d)
		}
	}
}

// TestEnforcedByOnSQLite: on SQLite a foreign key enforces nothing unless
// the connection turned foreign keys on; a UNIQUE constraint and NOT NULL
// columns are named whatever the pragma.
func TestEnforcedByOnSQLite(t *testing.T) {
	db := testdb.SQLite(t)
	testdb.MustExec(t, db, `CREATE TABLE organizations (id INTEGER PRIMARY KEY, name text NOT NULL)`)
	testdb.MustExec(t, db, `CREATE TABLE members (id INTEGER PRIMARY KEY, member_number text NOT NULL UNIQUE,
		first_name text, last_name text, age integer NOT NULL,
		status text CONSTRAINT status_valid CHECK (status IN ('active', 'retired')),
		kind text CHECK (kind IN ('a', 'zz')),
		grade text CHECK (grade IN ('a', 'b') OR length(grade) > 3))`)
	testdb.MustExec(t, db, `CREATE TABLE member_employments (id INTEGER PRIMARY KEY,
		member_id integer REFERENCES members (id), organization_id integer)`)
	checks := []integrity.Checker{
		integrity.ForeignKey{Meta: integrity.Meta{Name: "fk", Table: "member_employments"}, Column: "member_id", References: "members"},
		integrity.Unique{Meta: integrity.Meta{Name: "unique", Table: "members"}, Keys: integrity.Columns("member_number")},
		integrity.Required{Meta: integrity.Meta{Name: "text", Table: "members"}, Columns: []string{"member_number"}},
		integrity.Required{Meta: integrity.Meta{Name: "blank ok", Table: "members"}, Columns: []string{"member_number"}, AllowBlank: true},
		integrity.Required{Meta: integrity.Meta{Name: "number", Table: "members"}, Columns: []string{"age"}},
		integrity.OneOf{Meta: integrity.Meta{Name: "status", Table: "members"}, Column: "status", Values: []string{"active", "inactive", "retired"}},
		integrity.OneOf{Meta: integrity.Meta{Name: "status set", Table: "members"}, Column: "status", Values: []string{"active", "retired"}, NullInvalid: true},
		integrity.OneOf{Meta: integrity.Meta{Name: "kind", Table: "members"}, Column: "kind", Values: []string{"a", "b"}},
		integrity.OneOf{Meta: integrity.Meta{Name: "grade", Table: "members"}, Column: "grade", Values: []string{"a", "b"}},
	}
	enforced := func(db *sqlx.DB) map[string]string {
		out := map[string]string{}
		for _, c := range integrity.Run(context.Background(), db, checks, integrity.RunOptions{}).Checks {
			out[c.Name] = c.EnforcedBy
		}
		return out
	}
	want := map[string]string{"fk": "", "unique": "sqlite_autoindex_members_1", "text": "",
		"blank ok": "NOT NULL members.member_number", "number": "NOT NULL members.age",
		// A CHECK listing only valid values enforces a OneOf; one that lets
		// 'zz' in does not, nor does it forbid NULL.
		"status": "status_valid", "status set": "", "kind": "", "grade": ""}
	if d := cmp.Diff(want, enforced(db)); d != "" {
		t.Errorf("foreign keys off (-want +got):\n%s", d)
	}
	db.SetMaxOpenConns(1)
	testdb.MustExec(t, db, "PRAGMA foreign_keys = ON")
	want["fk"] = "FOREIGN KEY member_employments(member_id) REFERENCES members(id)"
	if d := cmp.Diff(want, enforced(db)); d != "" {
		t.Errorf("foreign keys on (-want +got):\n%s", d)
	}
}

// TestEnforcedByCheckConstraint: on PostgreSQL a CHECK constraint that
// lists only valid statuses enforces member.invalid_status of the IP2A
// rule set on the seed schema.
func TestEnforcedByCheckConstraint(t *testing.T) {
	db := testdb.Postgres(t, testdb.WithSchema())
	testdb.MustExec(t, db, `ALTER TABLE members ADD CONSTRAINT members_status_valid
		CHECK (status IN ('active', 'inactive', 'suspended', 'retired', 'deceased'))`)
	rep := integrity.Run(context.Background(), db, ip2a.Rules(ip2a.RuleOptions{NoFiles: true}), integrity.RunOptions{})
	got := map[string]string{}
	for _, c := range rep.Checks {
		if c.EnforcedBy != "" {
			got[c.Name] = c.EnforcedBy
		}
	}
	if d := cmp.Diff(map[string]string{"member.invalid_status": "members_status_valid"}, got); d != "" {
		t.Errorf("enforced_by (-want +got):\n%s", d)
	}
}

package ip2a

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/integrity"
)

// RuleOptions tune [Rules].
type RuleOptions struct {
	// FilesRoot is the root attachment paths are relative to: a directory
	// ("." when empty) or "s3://BUCKET[/PREFIX]".
	FilesRoot string
	// Files is the store at FilesRoot, opened by the caller; when nil,
	// attachment.file_missing opens FilesRoot itself on each run (see
	// [filestore.Open]).
	Files filestore.Store
	// NoFiles leaves out attachment.file_missing, the one check that
	// touches the file store. The other attachment checks read only the
	// database and always run.
	NoFiles bool
	// Now is the clock of member.hire_date_future; time.Now when nil.
	Now func() time.Time
}

// studentEmail is the recommendation of student.duplicate_email.
const studentEmail = "Merge the duplicate students or correct their email addresses."

// reads adds the columns cols of table to m.Reads.
func reads(m integrity.Meta, table string, cols ...string) integrity.Meta {
	r := make(map[string][]string, len(m.Reads)+1)
	for t, c := range m.Reads {
		r[t] = c
	}
	r[table] = append(slices.Clone(r[table]), cols...)
	m.Reads = r
	return m
}

// Rules returns the IP2A rule set: the 22 checks of the original system,
// in its order (structural 1-9, logical 10-16, quality 17-19, files 20-22),
// with its categories, severities and automatic fixes. With NoFiles the
// file-existence check (21) is left out.
func Rules(opt RuleOptions) []integrity.Checker {
	const (
		emp, mem, org = "member_employments", "members", "organizations"
		con, stu, att = "organization_contacts", "students", "file_attachments"
	)
	meta := func(name, cat string, sev ip2adb.Severity, table, rec string) integrity.Meta {
		soft := table == mem || table == org || table == con || table == stu || table == att
		return integrity.Meta{Name: name, Category: cat, Severity: sev, Table: table, SoftDelete: soft, Recommendation: rec}
	}
	del := integrity.Repair{Action: ip2adb.ActionDelete}
	labels := EnumLabels()
	root := opt.FilesRoot
	if root == "" {
		root = "."
	}
	checks := []integrity.Checker{
		// Structural.
		integrity.WithFix(integrity.ForeignKey{Meta: meta(EmploymentOrphanMember, ip2adb.CategoryForeignKey, ip2adb.Critical, emp,
			"Delete the employment or point it at an existing member."),
			Column: "member_id", References: mem}, del),
		integrity.WithFix(integrity.ForeignKey{Meta: meta(EmploymentOrphanOrganization, ip2adb.CategoryForeignKey, ip2adb.Critical, emp,
			"Delete the employment or point it at an existing organization."),
			Column: "organization_id", References: org}, del),
		integrity.WithFix(integrity.ForeignKey{Meta: meta(ContactOrphanOrganization, ip2adb.CategoryForeignKey, ip2adb.Critical, con,
			"Delete the contact or attach it to an existing organization."),
			Column: "organization_id", References: org}, del),
		integrity.WithFix(integrity.ForeignKey{Meta: meta(AttachmentOrphanRecord, ip2adb.CategoryForeignKey, ip2adb.Warning, att,
			"Delete the attachment record or attach it to an existing record."),
			Column: "record_id", TypeColumn: "record_type", Targets: AttachmentTargets()}, del),
		integrity.Required{Meta: meta(MemberMissingRequired, ip2adb.CategoryRequiredField, ip2adb.Critical, mem,
			"Fill in the member's number and name from the paper record."),
			Columns: []string{"member_number", "first_name", "last_name"}},
		integrity.Required{Meta: meta(OrganizationMissingRequired, ip2adb.CategoryRequiredField, ip2adb.Critical, org,
			"Fill in the organization's name and type."),
			Columns: []string{"name", "org_type"}},
		integrity.WithFix(integrity.OneOf{Meta: meta(MemberInvalidStatus, ip2adb.CategoryEnumValue, ip2adb.Critical, mem,
			"Set a valid status; the automatic fix sets 'active'."),
			Column: "status", Values: MemberStatuses(), Labels: labels["members.status"]},
			integrity.Repair{Action: ip2adb.ActionSetValue, Column: "status", Value: "active"}),
		integrity.OneOf{Meta: meta(MemberInvalidClassification, ip2adb.CategoryEnumValue, ip2adb.Critical, mem,
			"Set the member's classification to one of "+strings.Join(MemberClassifications(), ", ")+"."),
			Column: "classification", Values: MemberClassifications(), Labels: labels["members.classification"], NullInvalid: true},
		integrity.OneOf{Meta: meta(OrganizationInvalidType, ip2adb.CategoryEnumValue, ip2adb.Critical, org,
			"Set the organization's type to one of "+strings.Join(OrgTypes(), ", ")+"."),
			Column: "org_type", Values: OrgTypes(), Labels: labels["organizations.org_type"], SkipBlank: true},
		// Logical.
		integrity.WithFix(integrity.DateOrder{Meta: meta(EmploymentEndBeforeStart, ip2adb.CategoryDateLogic, ip2adb.Critical, emp,
			"Correct the end date; the automatic fix clears it."),
			Start: "start_date", End: "end_date"}, integrity.Repair{Action: ip2adb.ActionSetNull, Column: "end_date"}),
		integrity.WithFix(integrity.SQL{Meta: reads(meta(EmploymentCurrentWithEndDate, ip2adb.CategoryDateLogic, ip2adb.Warning, emp,
			"An employment with an end date is over; the automatic fix marks it not current."), emp, "is_current", "end_date"),
			Where: "is_current AND end_date IS NOT NULL", Show: []string{"member_id", "end_date"}},
			integrity.Repair{Action: ip2adb.ActionSetValue, Column: "is_current", Value: false}),
		integrity.NotInFuture{Meta: meta(MemberHireDateFuture, ip2adb.CategoryDateLogic, ip2adb.Warning, mem,
			"Correct the member's hire date."),
			Column: "hire_date", Now: opt.Now},
		integrity.AtMostOne{Meta: reads(meta(MemberMultipleCurrentEmployments, ip2adb.CategoryEmploymentLogic, ip2adb.Warning, emp,
			"End all but the member's actual current employment."), emp, "is_current"),
			GroupBy: []string{"member_id"}, Where: "is_current"},
		integrity.Range{Meta: meta(EmploymentHourlyRateRange, ip2adb.CategoryEmploymentLogic, ip2adb.Info, emp,
			"Check the hourly rate against the pay scale."),
			Column: "hourly_rate", Min: 10.0, Max: 150.0},
		integrity.WithFix(integrity.AtMostOne{Meta: reads(meta(OrganizationMultiplePrimary, ip2adb.CategoryContactLogic, ip2adb.Warning, con,
			"Keep one primary contact; the automatic fix keeps the most recently created."), con, "is_primary"),
			GroupBy: []string{"organization_id"}, Where: "is_primary"},
			integrity.Repair{Action: ip2adb.ActionSetValue, Column: "is_primary", Value: false}),
		integrity.HasChildren{Meta: meta(OrganizationNoContacts, ip2adb.CategoryContactLogic, ip2adb.Info, org,
			"Add a contact person for the organization."),
			ChildTable: con, ChildColumn: "organization_id", ChildSoftDelete: true, Show: []string{"name"}},
		// Quality.
		integrity.Unique{Meta: meta(MemberDuplicateNumber, ip2adb.CategoryDuplicate, ip2adb.Critical, mem,
			"Give each member a unique member number, or merge the duplicates."),
			Keys: integrity.Columns("member_number"), Where: "trim(member_number) <> ''"},
		// A student's own email where students has one; on the real schema a
		// student is a member and the email is the member's.
		integrity.FirstApplicable{
			integrity.Unique{Meta: reads(meta(StudentDuplicateEmail, ip2adb.CategoryDuplicate, ip2adb.Warning, stu, studentEmail), stu, "email"),
				Keys: []integrity.Key{{Name: "email", Expr: "lower(trim(email))"}}, Where: "trim(email) <> ''"},
			integrity.Unique{Meta: reads(reads(meta(StudentDuplicateEmail, ip2adb.CategoryDuplicate, ip2adb.Warning, stu, studentEmail),
				stu, "member_id"), mem, "id", "email"),
				Join: "JOIN members ip2adb_m ON ip2adb_m.id = students.member_id",
				Keys: []integrity.Key{{Name: "email", Expr: "lower(trim(ip2adb_m.email))"}}, Where: "trim(ip2adb_m.email) <> ''"},
		},
		integrity.Aggregate{Meta: reads(reads(meta(MemberActiveWithoutEmployment, ip2adb.CategoryDataAnomaly, ip2adb.Info, mem,
			"Record the members' employment, or update their status."), mem, "id", "status"), emp, "member_id"),
			Where: "CAST(status AS TEXT) = ? AND NOT EXISTS (SELECT 1 FROM member_employments ip2adb_e WHERE ip2adb_e.member_id = members.id)",
			Args:  []any{integrity.EnumValue{Table: mem, Column: "status", Text: "active", Labels: labels["members.status"]}},
			Text:  func(n int) string { return fmt.Sprintf("%d active members have no employment record", n) }},
		// Files.
		integrity.WithFix(integrity.SQL{Meta: reads(meta(AttachmentEmptyPath, ip2adb.CategoryFileSystem, ip2adb.Critical, att,
			"The attachment record points at no file; the automatic fix deletes the record."), att, "file_path"),
			Where: "trim(file_path) = ''", Show: []string{"record_type", "record_id"}}, del),
		integrity.FileExists{Meta: meta(AttachmentFileMissing, ip2adb.CategoryFileSystem, ip2adb.Warning, att,
			"Restore the file from backup, or delete the attachment record (integrity --repair --interactive)."),
			PathColumn: "file_path", Root: root, Store: opt.Files},
		integrity.Range{Meta: meta(AttachmentSizeUnusual, ip2adb.CategoryFileSystem, ip2adb.Info, att,
			"Check the stored file size against the file."),
			Column: "file_size", Min: int64(0), Max: int64(100_000_000)},
	}
	if opt.NoFiles {
		out := checks[:0]
		for _, c := range checks {
			if c.Name() != AttachmentFileMissing {
				out = append(out, c)
			}
		}
		checks = out
	}
	return checks
}

// CheckSchema is [integrity.CheckSchema] in IP2A's words: when m holds none
// of the tables checks read, the *integrity.SchemaError it returns says
// "not an IP2A database" and lists the tables in the order of [Tables]
// (others after them, as the checks name them).
func CheckSchema(m *catalog.Model, checks []integrity.Checker) error {
	err := integrity.CheckSchema(m, checks)
	var se *integrity.SchemaError
	if !errors.As(err, &se) {
		return err
	}
	order := Tables()
	rank := func(t string) int {
		if i := slices.Index(order, t); i >= 0 {
			return i
		}
		return len(order)
	}
	tables := slices.Clone(se.Tables)
	slices.SortStableFunc(tables, func(a, b string) int { return rank(a) - rank(b) })
	return &integrity.SchemaError{Database: "an IP2A database", Tables: tables}
}

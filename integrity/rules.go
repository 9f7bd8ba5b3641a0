package integrity

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/internal/rules"
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

// MemberStatuses returns the valid members.status values.
func MemberStatuses() []string { return rules.MemberStatuses() }

// MemberClassifications returns the valid members.classification values.
func MemberClassifications() []string { return rules.MemberClassifications() }

// OrgTypes returns the valid organizations.org_type values.
func OrgTypes() []string { return rules.OrgTypes() }

// AttachmentTargets maps each file_attachments.record_type to its parent
// table.
func AttachmentTargets() map[string]string { return rules.AttachmentTargets() }

// Names of the 22 IP2A checks, in the order Rules returns them.
const (
	EmploymentOrphanMember           = rules.EmploymentOrphanMember
	EmploymentOrphanOrganization     = rules.EmploymentOrphanOrganization
	ContactOrphanOrganization        = rules.ContactOrphanOrganization
	AttachmentOrphanRecord           = rules.AttachmentOrphanRecord
	MemberMissingRequired            = rules.MemberMissingRequired
	OrganizationMissingRequired      = rules.OrganizationMissingRequired
	MemberInvalidStatus              = rules.MemberInvalidStatus
	MemberInvalidClassification      = rules.MemberInvalidClassification
	OrganizationInvalidType          = rules.OrganizationInvalidType
	EmploymentEndBeforeStart         = rules.EmploymentEndBeforeStart
	EmploymentCurrentWithEndDate     = rules.EmploymentCurrentWithEndDate
	MemberHireDateFuture             = rules.MemberHireDateFuture
	MemberMultipleCurrentEmployments = rules.MemberMultipleCurrentEmployments
	EmploymentHourlyRateRange        = rules.EmploymentHourlyRateRange
	OrganizationMultiplePrimary      = rules.OrganizationMultiplePrimary
	OrganizationNoContacts           = rules.OrganizationNoContacts
	MemberDuplicateNumber            = rules.MemberDuplicateNumber
	StudentDuplicateEmail            = rules.StudentDuplicateEmail
	MemberActiveWithoutEmployment    = rules.MemberActiveWithoutEmployment
	AttachmentEmptyPath              = rules.AttachmentEmptyPath
	AttachmentFileMissing            = rules.AttachmentFileMissing
	AttachmentSizeUnusual            = rules.AttachmentSizeUnusual
)

// studentEmail is the recommendation of student.duplicate_email.
const studentEmail = "Merge the duplicate students or correct their email addresses."

// reads adds the columns cols of table to m.Reads.
func reads(m Meta, table string, cols ...string) Meta {
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
func Rules(opt RuleOptions) []Checker {
	const (
		emp, mem, org = "member_employments", "members", "organizations"
		con, stu, att = "organization_contacts", "students", "file_attachments"
	)
	meta := func(name, cat string, sev ip2adb.Severity, table, rec string) Meta {
		soft := table == mem || table == org || table == con || table == stu || table == att
		return Meta{Name: name, Category: cat, Severity: sev, Table: table, SoftDelete: soft, Recommendation: rec}
	}
	del := Repair{Action: ip2adb.ActionDelete}
	labels := rules.EnumLabels()
	root := opt.FilesRoot
	if root == "" {
		root = "."
	}
	checks := []Checker{
		// Structural.
		WithFix(ForeignKey{Meta: meta(EmploymentOrphanMember, ip2adb.CategoryForeignKey, ip2adb.Critical, emp,
			"Delete the employment or point it at an existing member."),
			Column: "member_id", References: mem}, del),
		WithFix(ForeignKey{Meta: meta(EmploymentOrphanOrganization, ip2adb.CategoryForeignKey, ip2adb.Critical, emp,
			"Delete the employment or point it at an existing organization."),
			Column: "organization_id", References: org}, del),
		WithFix(ForeignKey{Meta: meta(ContactOrphanOrganization, ip2adb.CategoryForeignKey, ip2adb.Critical, con,
			"Delete the contact or attach it to an existing organization."),
			Column: "organization_id", References: org}, del),
		WithFix(ForeignKey{Meta: meta(AttachmentOrphanRecord, ip2adb.CategoryForeignKey, ip2adb.Warning, att,
			"Delete the attachment record or attach it to an existing record."),
			Column: "record_id", TypeColumn: "record_type", Targets: AttachmentTargets()}, del),
		Required{Meta: meta(MemberMissingRequired, ip2adb.CategoryRequiredField, ip2adb.Critical, mem,
			"Fill in the member's number and name from the paper record."),
			Columns: []string{"member_number", "first_name", "last_name"}},
		Required{Meta: meta(OrganizationMissingRequired, ip2adb.CategoryRequiredField, ip2adb.Critical, org,
			"Fill in the organization's name and type."),
			Columns: []string{"name", "org_type"}},
		WithFix(OneOf{Meta: meta(MemberInvalidStatus, ip2adb.CategoryEnumValue, ip2adb.Critical, mem,
			"Set a valid status; the automatic fix sets 'active'."),
			Column: "status", Values: MemberStatuses(), Labels: labels["members.status"]},
			Repair{Action: ip2adb.ActionSetValue, Column: "status", Value: "active"}),
		OneOf{Meta: meta(MemberInvalidClassification, ip2adb.CategoryEnumValue, ip2adb.Critical, mem,
			"Set the member's classification to one of "+strings.Join(MemberClassifications(), ", ")+"."),
			Column: "classification", Values: MemberClassifications(), Labels: labels["members.classification"], NullInvalid: true},
		OneOf{Meta: meta(OrganizationInvalidType, ip2adb.CategoryEnumValue, ip2adb.Critical, org,
			"Set the organization's type to one of "+strings.Join(OrgTypes(), ", ")+"."),
			Column: "org_type", Values: OrgTypes(), Labels: labels["organizations.org_type"], SkipBlank: true},
		// Logical.
		WithFix(DateOrder{Meta: meta(EmploymentEndBeforeStart, ip2adb.CategoryDateLogic, ip2adb.Critical, emp,
			"Correct the end date; the automatic fix clears it."),
			Start: "start_date", End: "end_date"}, Repair{Action: ip2adb.ActionSetNull, Column: "end_date"}),
		WithFix(SQL{Meta: reads(meta(EmploymentCurrentWithEndDate, ip2adb.CategoryDateLogic, ip2adb.Warning, emp,
			"An employment with an end date is over; the automatic fix marks it not current."), emp, "is_current", "end_date"),
			Where: "is_current AND end_date IS NOT NULL", Show: []string{"member_id", "end_date"}},
			Repair{Action: ip2adb.ActionSetValue, Column: "is_current", Value: false}),
		NotInFuture{Meta: meta(MemberHireDateFuture, ip2adb.CategoryDateLogic, ip2adb.Warning, mem,
			"Correct the member's hire date."),
			Column: "hire_date", Now: opt.Now},
		AtMostOne{Meta: reads(meta(MemberMultipleCurrentEmployments, ip2adb.CategoryEmploymentLogic, ip2adb.Warning, emp,
			"End all but the member's actual current employment."), emp, "is_current"),
			GroupBy: []string{"member_id"}, Where: "is_current"},
		Range{Meta: meta(EmploymentHourlyRateRange, ip2adb.CategoryEmploymentLogic, ip2adb.Info, emp,
			"Check the hourly rate against the pay scale."),
			Column: "hourly_rate", Min: 10.0, Max: 150.0},
		WithFix(AtMostOne{Meta: reads(meta(OrganizationMultiplePrimary, ip2adb.CategoryContactLogic, ip2adb.Warning, con,
			"Keep one primary contact; the automatic fix keeps the most recently created."), con, "is_primary"),
			GroupBy: []string{"organization_id"}, Where: "is_primary"},
			Repair{Action: ip2adb.ActionSetValue, Column: "is_primary", Value: false}),
		HasChildren{Meta: meta(OrganizationNoContacts, ip2adb.CategoryContactLogic, ip2adb.Info, org,
			"Add a contact person for the organization."),
			ChildTable: con, ChildColumn: "organization_id", ChildSoftDelete: true, Show: []string{"name"}},
		// Quality.
		Unique{Meta: meta(MemberDuplicateNumber, ip2adb.CategoryDuplicate, ip2adb.Critical, mem,
			"Give each member a unique member number, or merge the duplicates."),
			Keys: Columns("member_number"), Where: "trim(member_number) <> ''"},
		// A student's own email where students has one; on the real schema a
		// student is a member and the email is the member's.
		FirstApplicable{
			Unique{Meta: reads(meta(StudentDuplicateEmail, ip2adb.CategoryDuplicate, ip2adb.Warning, stu, studentEmail), stu, "email"),
				Keys: []Key{{Name: "email", Expr: "lower(trim(email))"}}, Where: "trim(email) <> ''"},
			Unique{Meta: reads(reads(meta(StudentDuplicateEmail, ip2adb.CategoryDuplicate, ip2adb.Warning, stu, studentEmail),
				stu, "member_id"), mem, "id", "email"),
				Join: "JOIN members ip2adb_m ON ip2adb_m.id = students.member_id",
				Keys: []Key{{Name: "email", Expr: "lower(trim(ip2adb_m.email))"}}, Where: "trim(ip2adb_m.email) <> ''"},
		},
		Aggregate{Meta: reads(reads(meta(MemberActiveWithoutEmployment, ip2adb.CategoryDataAnomaly, ip2adb.Info, mem,
			"Record the members' employment, or update their status."), mem, "id", "status"), emp, "member_id"),
			Where: "CAST(status AS TEXT) = ? AND NOT EXISTS (SELECT 1 FROM member_employments ip2adb_e WHERE ip2adb_e.member_id = members.id)",
			Args:  []any{EnumValue{Table: mem, Column: "status", Text: "active", Labels: labels["members.status"]}},
			Text:  func(n int) string { return fmt.Sprintf("%d active members have no employment record", n) }},
		// Files.
		WithFix(SQL{Meta: reads(meta(AttachmentEmptyPath, ip2adb.CategoryFileSystem, ip2adb.Critical, att,
			"The attachment record points at no file; the automatic fix deletes the record."), att, "file_path"),
			Where: "trim(file_path) = ''", Show: []string{"record_type", "record_id"}}, del),
		FileExists{Meta: meta(AttachmentFileMissing, ip2adb.CategoryFileSystem, ip2adb.Warning, att,
			"Restore the file from backup, or delete the attachment record (integrity --repair --interactive)."),
			PathColumn: "file_path", Root: root, Store: opt.Files},
		Range{Meta: meta(AttachmentSizeUnusual, ip2adb.CategoryFileSystem, ip2adb.Info, att,
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

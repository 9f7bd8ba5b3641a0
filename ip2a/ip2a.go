// Package ip2a is everything ip2adb knows about the IP2A member database,
// defined once: its integrity rule set ([Rules], the 22 checks of the
// original system), the check names, the valid values of its enumerated
// columns and their labels in the real database, the attachment record
// types, and the tables the resilience probes read ([ResilienceOptions]).
//
// The core packages (integrity, heal, notify, resilience) know no IP2A
// table; this package configures them for IP2A, and a union with another
// schema writes its own package in its place. Package seed builds the
// IP2A sample data (and creates its schema, seed.Schema) from it.
package ip2a

import (
	"fmt"
	"strings"
)

// Names of the 22 IP2A checks, in the order of the original system
// (structural 1-9, logical 10-16, quality 17-19, files 20-22).
const (
	EmploymentOrphanMember           = "employment.orphan_member"
	EmploymentOrphanOrganization     = "employment.orphan_organization"
	ContactOrphanOrganization        = "contact.orphan_organization"
	AttachmentOrphanRecord           = "attachment.orphan_record"
	MemberMissingRequired            = "member.missing_required"
	OrganizationMissingRequired      = "organization.missing_required"
	MemberInvalidStatus              = "member.invalid_status"
	MemberInvalidClassification      = "member.invalid_classification"
	OrganizationInvalidType          = "organization.invalid_type"
	EmploymentEndBeforeStart         = "employment.end_before_start"
	EmploymentCurrentWithEndDate     = "employment.current_with_end_date"
	MemberHireDateFuture             = "member.hire_date_future"
	MemberMultipleCurrentEmployments = "member.multiple_current_employments"
	EmploymentHourlyRateRange        = "employment.hourly_rate_range"
	OrganizationMultiplePrimary      = "organization.multiple_primary_contacts"
	OrganizationNoContacts           = "organization.no_contacts"
	MemberDuplicateNumber            = "member.duplicate_number"
	StudentDuplicateEmail            = "student.duplicate_email"
	MemberActiveWithoutEmployment    = "member.active_without_employment"
	AttachmentEmptyPath              = "attachment.empty_path"
	AttachmentFileMissing            = "attachment.file_missing"
	AttachmentSizeUnusual            = "attachment.size_unusual"
)

// Names returns the 22 check names in the order of the original system.
func Names() []string {
	return []string{
		EmploymentOrphanMember, EmploymentOrphanOrganization, ContactOrphanOrganization, AttachmentOrphanRecord,
		MemberMissingRequired, OrganizationMissingRequired, MemberInvalidStatus, MemberInvalidClassification,
		OrganizationInvalidType, EmploymentEndBeforeStart, EmploymentCurrentWithEndDate, MemberHireDateFuture,
		MemberMultipleCurrentEmployments, EmploymentHourlyRateRange, OrganizationMultiplePrimary, OrganizationNoContacts,
		MemberDuplicateNumber, StudentDuplicateEmail, MemberActiveWithoutEmployment, AttachmentEmptyPath,
		AttachmentFileMissing, AttachmentSizeUnusual,
	}
}

// MemberStatuses returns the valid members.status values, "active" first.
func MemberStatuses() []string {
	return []string{"active", "inactive", "suspended", "retired", "deceased"}
}

// MemberClassifications returns the valid members.classification values.
func MemberClassifications() []string {
	return []string{"apprentice_1", "apprentice_2", "apprentice_3", "apprentice_4",
		"apprentice_5", "journeyman", "foreman", "retiree", "honorary"}
}

// OrgTypes returns the valid organizations.org_type values, "employer"
// first.
func OrgTypes() []string { return []string{"employer", "union", "training_partner", "jatc"} }

// Tables are the tables the rule set checks, parents first. A database
// holding none of them is not an IP2A database ([CheckSchema]).
func Tables() []string {
	return []string{"members", "organizations", "organization_contacts", "member_employments", "students", "file_attachments"}
}

// EnumLabels maps each enumerated column of the rule set ("members.status",
// "members.classification", "organizations.org_type") to the pairs value →
// label of the real IP2A database: its enum types store the original's
// Python enum names (ACTIVE, APPRENTICE_1ST_YEAR …), whose values are the
// lower-case words above (ORIGINAL.md, last section).
func EnumLabels() map[string]map[string]string {
	upper := func(vals []string) map[string]string {
		out := map[string]string{}
		for _, v := range vals {
			out[v] = strings.ToUpper(v)
		}
		return out
	}
	class := upper(MemberClassifications())
	for i, ord := range []string{"1ST", "2ND", "3RD", "4TH", "5TH"} {
		class[fmt.Sprintf("apprentice_%d", i+1)] = "APPRENTICE_" + ord + "_YEAR"
	}
	return map[string]map[string]string{
		"members.status":         upper(MemberStatuses()),
		"members.classification": class,
		"organizations.org_type": upper(OrgTypes()),
	}
}

// AttachmentTargets maps each file_attachments.record_type to its parent
// table.
func AttachmentTargets() map[string]string {
	return map[string]string{
		"member": "members", "student": "students", "organization": "organizations",
		"grievance": "grievances", "instructor": "instructors", "location": "locations",
	}
}

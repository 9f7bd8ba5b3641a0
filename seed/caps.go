package seed

import (
	"fmt"
	"slices"
	"strings"
)

// missingVariant is one way of planting a missing required value: column
// col set to value (nil, "" or blanks).
type missingVariant struct {
	col   string
	value any
}

// The ways of planting member.missing_required and
// organization.missing_required, in the order the seed cycles through them.
var (
	memberMissingVariants = []missingVariant{{"member_number", nil}, {"first_name", ""}, {"last_name", nil}, {"last_name", "   "}}
	orgMissingVariants    = []missingVariant{{"name", nil}, {"name", "   "}, {"org_type", nil}}
)

// caps is what the live schema lets the seed plant.
type caps struct {
	// notPlantable maps a fault kind to the reason its constraints (or its
	// missing columns) forbid it.
	notPlantable  map[string]string
	memberMissing []missingVariant
	orgMissing    []missingVariant
	// emailViaMember: students have no email of their own; a duplicate
	// student email is planted as two students' members sharing one.
	emailViaMember bool
	// replica lists the tables whose planted orphans a foreign key would
	// refuse: they are loaded with session_replication_role = replica.
	replica map[string]bool
}

func (c caps) plantable(kind string) bool {
	_, no := c.notPlantable[kind]
	return !no
}

// orphanFKs lists the orphan fault kinds whose column a foreign key may
// guard: kind, table, column.
var orphanFKs = []struct{ kind, table, column string }{
	{EmploymentOrphanMember, "member_employments", "member_id"},
	{EmploymentOrphanOrganization, "member_employments", "organization_id"},
	{ContactOrphanOrganization, "organization_contacts", "organization_id"},
	{AttachmentOrphanRecord, "file_attachments", "record_id"},
}

// needsReplica reports whether planting faults would need to bypass a
// foreign key (so the role's right to do so is worth asking).
func (s *liveSchema) needsReplica() bool {
	for _, o := range orphanFKs {
		if c := s.col(o.table, o.column); c != nil && c.references != "" {
			return true
		}
	}
	return false
}

// newCaps works out which fault kinds the live schema s accepts.
// replicaOK says whether the role may set session_replication_role =
// replica; replicaWhy is why not, when it may not.
func newCaps(s *liveSchema, replicaOK bool, replicaWhy string) caps {
	c := caps{notPlantable: map[string]string{}, replica: map[string]bool{}}
	no := func(kind, format string, args ...any) {
		if _, done := c.notPlantable[kind]; !done {
			c.notPlantable[kind] = fmt.Sprintf(format, args...)
		}
	}
	need := func(kind, table string, cols ...string) bool {
		if s.table(table) == nil {
			no(kind, "the database has no %s table", table)
			return false
		}
		for _, col := range cols {
			if s.col(table, col) == nil {
				no(kind, "%s has no %s column", table, col)
				return false
			}
		}
		return true
	}
	for _, o := range orphanFKs {
		cols := []string{o.column}
		if o.kind == AttachmentOrphanRecord {
			cols = append(cols, "record_type")
		}
		if !need(o.kind, o.table, cols...) {
			continue
		}
		if ref := s.col(o.table, o.column).references; ref != "" {
			if !replicaOK {
				no(o.kind, "the foreign key of %s.%s to %s refuses orphans, and this role may not bypass it with session_replication_role = replica: %s",
					o.table, o.column, ref, replicaWhy)
				continue
			}
			c.replica[o.table] = true
		}
	}
	variants := func(kind, table string, all []missingVariant) []missingVariant {
		var out []missingVariant
		var cols []string
		for _, v := range all {
			col := s.col(table, v.col)
			if !slices.Contains(cols, v.col) {
				cols = append(cols, v.col)
			}
			if col == nil {
				continue
			}
			if v.value == nil && !col.notNull || v.value != nil && col.kind == "text" && !col.unique {
				out = append(out, v)
			}
		}
		if len(out) == 0 && need(kind, table) {
			no(kind, "%s.%s accept neither NULL nor a blank value (NOT NULL, enum or unique)", table, strings.Join(cols, ", "))
		}
		return out
	}
	c.memberMissing = variants(MemberMissingRequired, "members", memberMissingVariants)
	c.orgMissing = variants(OrganizationMissingRequired, "organizations", orgMissingVariants)
	for _, e := range []struct{ kind, table, column string }{
		{MemberInvalidStatus, "members", "status"},
		{MemberInvalidClassification, "members", "classification"},
		{OrganizationInvalidType, "organizations", "org_type"},
	} {
		if !need(e.kind, e.table, e.column) {
			continue
		}
		if col := s.col(e.table, e.column); col.kind == "enum" {
			no(e.kind, "%s.%s is the enum type %s: it stores only its labels, and each is a valid value", e.table, e.column, col.typ)
		} else if col.kind != "text" {
			no(e.kind, "%s.%s is of type %s, not text", e.table, e.column, col.typ)
		}
	}
	need(EmploymentEndBeforeStart, "member_employments", "start_date", "end_date")
	need(EmploymentCurrentWithEndDate, "member_employments", "is_current", "end_date")
	need(MemberHireDateFuture, "members", "hire_date")
	need(MemberMultipleCurrentEmployments, "member_employments", "member_id", "is_current")
	need(EmploymentHourlyRateRange, "member_employments", "hourly_rate")
	need(OrganizationMultiplePrimary, "organization_contacts", "organization_id", "is_primary")
	need(OrganizationNoContacts, "organization_contacts", "organization_id")
	if need(MemberDuplicateNumber, "members", "member_number") && s.col("members", "member_number").unique {
		no(MemberDuplicateNumber, "members.member_number has a unique index")
	}
	switch email := s.col("students", "email"); {
	case email != nil && email.unique:
		no(StudentDuplicateEmail, "students.email has a unique index")
	case email != nil:
	case s.col("students", "member_id") != nil && s.col("members", "email") != nil:
		if s.col("members", "email").unique {
			no(StudentDuplicateEmail, "students have no email of their own, and members.email has a unique index")
		} else {
			c.emailViaMember = true
		}
	default:
		no(StudentDuplicateEmail, "students have no email column, nor a member_id to a member's email")
	}
	need(MemberActiveWithoutEmployment, "members", "status")
	if need(AttachmentEmptyPath, "file_attachments", "file_path") && s.col("file_attachments", "file_path").kind != "text" {
		no(AttachmentEmptyPath, "file_attachments.file_path is not text")
	}
	need(AttachmentFileMissing, "file_attachments", "file_path")
	need(AttachmentSizeUnusual, "file_attachments", "file_size")
	return c
}

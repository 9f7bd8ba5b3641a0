package testdb

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"
)

// The real-schema fixture: rows that the real IP2A schema (WithRealSchema)
// accepts — every label of the members' and organizations' enum types,
// students that are members — with one fault of every kind that its
// constraints let a crash or a bulk import leave behind. Orphans are
// planted with session_replication_role = replica, past any foreign key.
// The enum rules, member.duplicate_number (a unique index) and nothing
// else cannot be planted. Comments name the check a row offends.

// realFixture are the rows every constraint accepts.
var realFixture = []string{
	`INSERT INTO members (id, member_number, first_name, last_name, email, status, classification, hire_date, created_at, updated_at, is_deleted) VALUES
		(1, 'M001', 'Alice', 'A', 'a1@x.org', 'ACTIVE', 'APPRENTICE_1ST_YEAR', '2020-01-01', now(), now(), FALSE),
		(2, 'M002', 'Bob', 'B', NULL, 'INACTIVE', 'APPRENTICE_2ND_YEAR', NULL, now(), now(), FALSE),
		(3, 'M003', 'Cy', 'C', NULL, 'SUSPENDED', 'APPRENTICE_3RD_YEAR', NULL, now(), now(), FALSE),
		(4, 'M004', 'Di', 'D', NULL, 'RETIRED', 'APPRENTICE_4TH_YEAR', NULL, now(), now(), FALSE),
		(5, 'M005', 'Ed', 'E', NULL, 'DECEASED', 'APPRENTICE_5TH_YEAR', NULL, now(), now(), FALSE),
		(6, 'M006', 'Flo', 'F', 'dup@x.org', 'ACTIVE', 'JOURNEYMAN', NULL, now(), now(), FALSE),   -- student.duplicate_email
		(7, 'M007', 'Gus', 'G', ' DUP@x.org', 'ACTIVE', 'FOREMAN', NULL, now(), now(), FALSE),   -- student.duplicate_email
		(8, 'M008', 'Hal', 'H', 'dup@x.org', 'ACTIVE', 'RETIREE', NULL, now(), now(), FALSE),    -- not a student
		(9, 'M009', 'Ivy', 'I', NULL, 'ACTIVE', 'HONORARY', NULL, now(), now(), FALSE),
		(10, 'M010', '', 'J', NULL, 'ACTIVE', 'JOURNEYMAN', NULL, now(), now(), FALSE),        -- member.missing_required
		(11, 'M011', 'Kim', 'K', NULL, 'ACTIVE', 'JOURNEYMAN', '2999-01-01', now(), now(), FALSE), -- member.hire_date_future
		(12, 'M012', 'Lee', 'L', NULL, 'ACTIVE', 'JOURNEYMAN', NULL, now(), now(), FALSE),      -- member.active_without_employment
		(13, 'M013', '', 'M', NULL, 'ACTIVE', 'JOURNEYMAN', '2999-01-01', now(), now(), TRUE)`, // soft-deleted: ignored
	`INSERT INTO organizations (id, name, org_type, created_at, updated_at, is_deleted) VALUES
		(1, 'Acme Electric', 'EMPLOYER', now(), now(), FALSE),
		(2, 'Local 46', 'UNION', now(), now(), FALSE),
		(3, 'Sparks Academy', 'TRAINING_PARTNER', now(), now(), FALSE),
		(4, 'JATC North', 'JATC', now(), now(), FALSE),
		(5, '  ', 'EMPLOYER', now(), now(), FALSE),          -- organization.missing_required
		(6, 'No Contacts Inc', 'EMPLOYER', now(), now(), FALSE), -- organization.no_contacts
		(7, 'Two Primaries', 'EMPLOYER', now(), now(), FALSE),
		(8, 'Gone', 'UNION', now(), now(), TRUE)`,
	`INSERT INTO organization_contacts (id, organization_id, first_name, last_name, is_primary, created_at, updated_at, is_deleted) VALUES
		(1, 1, 'A', 'A', TRUE, now(), now(), FALSE),
		(2, 2, 'B', 'B', TRUE, now(), now(), FALSE),
		(3, 3, 'C', 'C', NULL, now(), now(), FALSE),
		(4, 4, 'D', 'D', FALSE, now(), now(), FALSE),
		(5, 5, 'E', 'E', FALSE, now(), now(), FALSE),
		(6, 7, 'F', 'F', TRUE, '2024-01-01', now(), FALSE), -- organization.multiple_primary_contacts (repaired)
		(7, 7, 'G', 'G', TRUE, '2024-06-01', now(), FALSE), -- the newest primary, kept
		(9, 6, 'H', 'H', TRUE, now(), now(), TRUE)`, // soft-deleted: org 6 still has no contact
	`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, hourly_rate, is_current, created_at, updated_at) VALUES
		(1, 1, 1, '2020-01-01', NULL, 30.00, TRUE, now(), now()),
		(2, 6, 1, '2020-01-01', NULL, 30.00, TRUE, now(), now()),
		(3, 7, 1, '2020-01-01', NULL, 30.00, TRUE, now(), now()),
		(4, 8, 1, '2020-01-01', NULL, 30.00, TRUE, now(), now()),
		(5, 9, 1, '2020-01-01', NULL, 30.00, TRUE, now(), now()),
		(6, 10, 1, '2020-01-01', NULL, 30.00, TRUE, now(), now()),
		(7, 11, 1, '2020-01-01', NULL, 30.00, NULL, now(), now()),
		(8, 1, 2, '2022-05-01', '2022-01-01', 30.00, FALSE, now(), now()), -- employment.end_before_start
		(9, 2, 2, '2019-01-01', '2019-12-31', 30.00, TRUE, now(), now()),  -- employment.current_with_end_date
		(10, 7, 2, '2021-01-01', NULL, 30.00, TRUE, now(), now()),         -- member.multiple_current_employments
		(11, 8, 1, '2018-01-01', '2018-12-31', 5.00, FALSE, now(), now())`, // employment.hourly_rate_range
	`INSERT INTO students (id, member_id, student_number, status, application_date, created_at, updated_at, is_deleted) VALUES
		(1, 6, 'S001', 'APPLICANT', '2024-01-01', now(), now(), FALSE),
		(2, 7, 'S002', 'ENROLLED', '2024-01-01', now(), now(), FALSE),
		(3, 1, 'S003', 'ON_LEAVE', '2024-01-01', now(), now(), FALSE),
		(4, 2, 'S004', 'COMPLETED', '2024-01-01', now(), now(), FALSE),
		(5, 8, 'S005', 'DROPPED', '2024-01-01', now(), now(), TRUE)`, // soft-deleted: member 8's email is not a student's
	`INSERT INTO file_attachments (id, record_type, record_id, file_name, file_path, file_type, file_size, created_at, updated_at, is_deleted) VALUES
		(1, 'member', 1, 'm1.pdf', 'uploads/m1.pdf', 'application/pdf', 1000, now(), now(), FALSE),
		(3, 'organization', 1, 'o1.pdf', 'uploads/o1.pdf', 'application/pdf', 1000, now(), now(), FALSE),
		(4, 'student', 1, 's1.pdf', 'uploads/s1.pdf', 'application/pdf', 1000, now(), now(), FALSE),
		(5, 'member', 1, 'e.pdf', '', 'application/pdf', 1000, now(), now(), FALSE),                    -- attachment.empty_path
		(6, 'member', 1, 'x.pdf', 'uploads/missing.pdf', 'application/pdf', 1000, now(), now(), FALSE), -- attachment.file_missing
		(7, 'member', 1, 'n.pdf', 'uploads/m1.pdf', 'application/pdf', -1, now(), now(), FALSE)`, // attachment.size_unusual
}

// realOrphans are the rows a foreign key would refuse: planted past it.
var realOrphans = []string{
	`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, hourly_rate, is_current, created_at, updated_at) VALUES
		(12, 999, 1, '2020-01-01', NULL, 30.00, FALSE, now(), now()),         -- employment.orphan_member
		(13, 9, 999, '2018-01-01', '2018-12-31', 30.00, FALSE, now(), now())`, // employment.orphan_organization
	`INSERT INTO organization_contacts (id, organization_id, first_name, last_name, is_primary, created_at, updated_at, is_deleted) VALUES
		(8, 999, 'O', 'O', FALSE, now(), now(), FALSE)`, // contact.orphan_organization
	`INSERT INTO file_attachments (id, record_type, record_id, file_name, file_path, file_type, file_size, created_at, updated_at, is_deleted) VALUES
		(2, 'member', 999, 'o.pdf', 'uploads/m1.pdf', 'application/pdf', 1000, now(), now(), FALSE)`, // attachment.orphan_record
}

// RealFixtureFiles are the files the fixture's attachment rows find.
func RealFixtureFiles() []string {
	return []string{"uploads/m1.pdf", "uploads/o1.pdf", "uploads/s1.pdf"}
}

// PlantReal loads the real-schema fixture into db, which holds the real
// IP2A schema, and returns a files root holding RealFixtureFiles.
func PlantReal(tb testing.TB, db *sqlx.DB) string {
	tb.Helper()
	for _, q := range realFixture {
		MustExec(tb, db, q)
	}
	for _, q := range realOrphans {
		MustExecReplica(tb, db, q)
	}
	for _, t := range []string{"members", "organizations", "organization_contacts", "member_employments", "students", "file_attachments"} {
		MustExec(tb, db, "SELECT setval(pg_get_serial_sequence('"+t+"', 'id'), (SELECT max(id) FROM "+t+"))")
	}
	root := tb.TempDir()
	for _, f := range RealFixtureFiles() {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("%PDF-1.4 fixture"), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

// RealFixtureCounts are the counts the 22 IP2A checks find in the
// real-schema fixture (PlantReal). The enum rules and
// member.duplicate_number find nothing: the real schema's enum types and
// unique index refuse such rows.
func RealFixtureCounts() map[string]int {
	return map[string]int{
		"employment.orphan_member": 1, "employment.orphan_organization": 1, "contact.orphan_organization": 1,
		"attachment.orphan_record": 1, "member.missing_required": 1, "organization.missing_required": 1,
		"member.invalid_status": 0, "member.invalid_classification": 0, "organization.invalid_type": 0,
		"employment.end_before_start": 1, "employment.current_with_end_date": 1, "member.hire_date_future": 1,
		"member.multiple_current_employments": 1, "employment.hourly_rate_range": 1,
		"organization.multiple_primary_contacts": 1, "organization.no_contacts": 1, "member.duplicate_number": 0,
		"student.duplicate_email": 1, "member.active_without_employment": 1, "attachment.empty_path": 1,
		"attachment.file_missing": 1, "attachment.size_unusual": 1,
	}
}

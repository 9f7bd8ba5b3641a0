package integrity_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// The fixture plants offending rows for every one of the 22 checks next to
// clean rows (and soft-deleted offenders that must be ignored), so that one
// database per dialect serves the whole rule set. Comments name the check a
// row offends; "clean" rows offend none.

// fixtureNow is the clock of the fixture: 2026-11-28.
func fixtureNow() time.Time { return time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC) }

var fixtureSQL = []string{
	`INSERT INTO locations (id, name) VALUES (1, 'Hall')`,
	`INSERT INTO instructors (id, first_name, last_name) VALUES (1, 'Ina', 'Structor')`,
	`INSERT INTO grievances (id, grievance_number, member_id, title) VALUES (1, 'G-1', 1, 'Overtime')`,

	`INSERT INTO organizations (id, name, org_type, is_deleted) VALUES
		(1, 'Acme Electric', 'employer', FALSE),   -- clean
		(2, 'Local 46', 'union', FALSE),           -- clean
		(3, NULL, 'employer', FALSE),              -- #6
		(4, 'Blank Type', '  ', FALSE),            -- #6 (blank, not #9)
		(5, 'Bad Type', 'vendor', FALSE),          -- #9
		(6, 'No Contacts Inc', 'employer', FALSE), -- #16
		(7, 'Only Deleted Contact', 'jatc', FALSE),-- #16 (its only contact is soft-deleted)
		(8, NULL, 'bogus', TRUE),                  -- soft-deleted: ignored
		(9, 'Two Primaries', 'employer', FALSE),   -- #15
		(10, 'One Live Primary', 'training_partner', FALSE)`,
	`INSERT INTO organization_contacts (id, organization_id, first_name, is_primary, is_deleted, created_at) VALUES
		(1, 1, 'A', TRUE, FALSE, '2024-01-01 00:00:00'),
		(2, 1, 'B', FALSE, FALSE, '2024-01-01 00:00:00'),
		(3, 2, 'C', TRUE, FALSE, '2024-01-01 00:00:00'),
		(4, 3, 'D', FALSE, FALSE, '2024-01-01 00:00:00'),
		(5, 4, 'E', FALSE, FALSE, '2024-01-01 00:00:00'),
		(6, 5, 'F', FALSE, FALSE, '2024-01-01 00:00:00'),
		(7, 7, 'G', FALSE, TRUE, '2024-01-01 00:00:00'),
		(8, 9, 'H', TRUE, FALSE, '2024-01-01 00:00:00'),   -- #15 extra primary
		(9, 9, 'I', TRUE, FALSE, '2024-06-01 00:00:00'),   -- #15 the newest primary, kept
		(10, 9, 'J', TRUE, TRUE, '2025-01-01 00:00:00'),   -- soft-deleted primary: ignored
		(11, 9, 'K', TRUE, FALSE, '2023-01-01 00:00:00'),  -- #15 extra primary
		(12, 10, 'L', TRUE, FALSE, '2024-01-01 00:00:00'),
		(13, 10, 'M', TRUE, TRUE, '2024-02-01 00:00:00'),  -- soft-deleted second primary
		(14, 999, 'N', FALSE, FALSE, '2024-01-01 00:00:00'), -- #3
		(15, 999, 'O', FALSE, TRUE, '2024-01-01 00:00:00'),  -- soft-deleted orphan: ignored
		(16, 8, 'P', FALSE, FALSE, '2024-01-01 00:00:00'),   -- parent soft-deleted: not an orphan
		(17, NULL, 'Q', FALSE, FALSE, '2024-01-01 00:00:00')`,

	`INSERT INTO members (id, member_number, first_name, last_name, status, classification, hire_date, is_deleted) VALUES
		(1, 'M001', 'Alice', 'Clean', 'active', 'journeyman', '2020-01-01', FALSE),
		(2, 'M002', 'Bob', 'Clean', 'active', 'apprentice_1', '2021-01-01', FALSE),
		(3, NULL, 'Carl', 'Null', 'active', 'journeyman', NULL, FALSE),     -- #5
		(4, '   ', 'Dora', 'Blank', 'active', 'journeyman', NULL, FALSE),   -- #5
		(5, 'M005', '', 'Empty', 'active', 'journeyman', NULL, FALSE),      -- #5
		(6, 'M006', 'Eve', 'Pending', 'pending', 'journeyman', NULL, FALSE),-- #7
		(7, 'M007', 'Fay', 'Blank', '', 'journeyman', NULL, FALSE),         -- #7
		(8, 'M008', 'Gus', 'Wizard', 'active', 'wizard', NULL, FALSE),      -- #8
		(9, 'M009', 'Hal', 'NoClass', 'active', NULL, NULL, FALSE),         -- #8 (classification must be set)
		(10, 'M010', 'Ivy', 'Future', 'active', 'foreman', '2026-11-29', FALSE), -- #12
		(11, 'M011', 'Jon', 'Today', 'active', 'foreman', '2026-11-28', FALSE),  -- clean
		(12, 'D100', 'Kim', 'Dup', 'active', 'journeyman', NULL, FALSE),    -- #17
		(13, 'D100', 'Lee', 'Dup', 'active', 'journeyman', NULL, FALSE),    -- #17
		(14, 'D100', 'Mo', 'Deleted', 'active', 'journeyman', NULL, TRUE),
		(15, 'D200', 'Ned', 'Once', 'active', 'journeyman', NULL, FALSE),
		(16, 'D200', 'Oz', 'Deleted', 'active', 'journeyman', NULL, TRUE),
		(17, 'M017', 'Pam', 'NoJob', 'active', 'journeyman', NULL, FALSE),  -- #19
		(18, 'M018', 'Quin', 'NoJob', 'active', 'journeyman', NULL, FALSE), -- #19
		(19, 'M019', 'Ray', 'Inactive', 'inactive', 'retiree', NULL, FALSE),
		(20, NULL, NULL, NULL, 'bogus', 'bogus', '2030-01-01', TRUE)`,
	`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, hourly_rate, is_current, created_at) VALUES
		(1, 1, 1, '2020-01-01', NULL, 45.00, TRUE, '2020-01-01 00:00:00'),
		(2, 2, 1, '2021-01-01', NULL, 30.00, TRUE, '2021-01-01 00:00:00'),
		(3, 3, 2, '2021-01-01', NULL, 30.00, TRUE, '2021-01-01 00:00:00'),
		(4, 4, 2, '2021-01-01', NULL, 30.00, TRUE, '2021-01-01 00:00:00'),
		(5, 5, 1, '2021-01-01', NULL, 30.00, TRUE, '2021-01-01 00:00:00'),
		(6, 8, 1, '2021-01-01', NULL, 30.00, TRUE, '2021-01-01 00:00:00'),
		(7, 9, 1, '2021-01-01', '2024-12-31', 30.00, TRUE, '2021-01-01 00:00:00'), -- #11
		(8, 10, 1, '2021-01-01', NULL, 30.00, TRUE, '2021-01-01 00:00:00'),
		(9, 11, 1, '2021-01-01', NULL, 30.00, TRUE, '2021-01-01 00:00:00'),
		(10, 12, 1, '2021-01-01', NULL, 30.00, TRUE, '2021-01-01 00:00:00'),  -- #13
		(11, 13, 1, '2021-01-01', NULL, 30.00, TRUE, '2021-01-01 00:00:00'),
		(12, 15, 1, '2021-01-01', NULL, 30.00, TRUE, '2021-01-01 00:00:00'),
		(13, 999, 1, '2021-01-01', NULL, 30.00, TRUE, '2021-01-01 00:00:00'), -- #1
		(14, 1, 999, '2019-01-01', '2019-12-31', 30.00, FALSE, '2019-01-01 00:00:00'), -- #2
		(15, NULL, NULL, '2019-01-01', NULL, 30.00, FALSE, '2019-01-01 00:00:00'),
		(16, 2, 8, '2018-01-01', '2018-06-01', 30.00, FALSE, '2018-01-01 00:00:00'),  -- parent soft-deleted: clean
		(17, 3, 1, '2022-05-01', '2022-01-01', 30.00, FALSE, '2022-01-01 00:00:00'),  -- #10
		(18, 12, 2, '2022-01-01', NULL, 30.00, TRUE, '2022-01-01 00:00:00'),  -- #13
		(19, 13, 2, '2019-01-01', '2019-06-30', 30.00, FALSE, '2019-01-01 00:00:00'),
		(20, 2, 2, '2019-01-01', '2019-06-30', 9.99, FALSE, '2019-01-01 00:00:00'),   -- #14
		(21, 2, 2, '2019-01-01', '2019-06-30', 150.01, FALSE, '2019-01-01 00:00:00'), -- #14
		(22, 2, 2, '2019-01-01', '2019-06-30', 150.00, FALSE, '2019-01-01 00:00:00'),
		(23, 2, 2, '2019-01-01', '2019-01-01', 10.00, FALSE, '2019-01-01 00:00:00'),
		(24, NULL, 1, '2019-01-01', NULL, NULL, TRUE, '2019-01-01 00:00:00'),
		(25, NULL, 1, '2019-01-01', NULL, NULL, TRUE, '2019-01-01 00:00:00')`,

	`INSERT INTO students (id, first_name, email, is_deleted) VALUES
		(1, 'S1', 'a@x.org', FALSE),     -- #18
		(2, 'S2', ' A@X.org ', FALSE),   -- #18
		(3, 'S3', 'b@x.org', FALSE),
		(4, 'S4', 'b@x.org', TRUE),
		(5, 'S5', NULL, FALSE),
		(6, 'S6', NULL, FALSE),
		(7, 'S7', '', FALSE),
		(8, 'S8', '  ', FALSE)`,

	`INSERT INTO file_attachments (id, record_type, record_id, file_path, file_size, is_deleted) VALUES
		(1, 'member', 1, 'uploads/member/1/a.pdf', 1000, FALSE),
		(2, 'member', 999, 'uploads/member/1/a.pdf', 1000, FALSE),      -- #4
		(3, 'student', 1, 'uploads/student/1.pdf', 1000, FALSE),
		(4, 'organization', 1, 'uploads/org/1.pdf', 1000, FALSE),
		(5, 'grievance', 1, 'uploads/grievance/1.pdf', NULL, FALSE),
		(6, 'instructor', 1, 'uploads/instructor/1.pdf', 1000, FALSE),
		(7, 'location', 1, 'uploads/location/1.pdf', 1000, FALSE),
		(8, 'grievance', 77, 'uploads/grievance/1.pdf', 1000, FALSE),   -- #4
		(9, 'spaceship', 1, 'uploads/member/1/a.pdf', 1000, FALSE),     -- #4 unknown type
		(10, NULL, 1, 'uploads/member/1/a.pdf', 1000, FALSE),           -- #4 no type
		(11, 'member', 20, 'uploads/member/1/a.pdf', 1000, FALSE),      -- parent soft-deleted: clean
		(12, 'member', 999, 'uploads/gone.pdf', 1000, TRUE),            -- soft-deleted: ignored
		(13, 'member', 1, '', 1000, FALSE),                             -- #20
		(14, 'member', 1, '   ', 1000, FALSE),                          -- #20
		(15, 'member', 1, 'uploads/missing.pdf', 1000, FALSE),          -- #21
		(16, 'member', 1, 'https://cdn.example.org/x.pdf', 1000, FALSE),
		(17, 'member', 1, 'S3://bucket/x.pdf', 1000, FALSE),
		(18, 'member', 1, 'http://example.org/y.pdf', 1000, FALSE),
		(19, 'member', 1, '../outside.pdf', 1000, FALSE),               -- #21 escapes the root
		(20, 'member', 1, 'uploads/dir', 1000, FALSE),                  -- #21 a directory
		(21, 'member', 1, 'uploads/member/1/a.pdf', -1, FALSE),         -- #22
		(22, 'member', 1, 'uploads/member/1/a.pdf', 100000001, FALSE),  -- #22
		(23, 'member', 1, 'uploads/member/1/a.pdf', 100000000, FALSE),
		(24, 'member', NULL, 'uploads/member/1/a.pdf', 1000, FALSE)`,
}

// fixtureFiles are the files present under the fixture's files root.
var fixtureFiles = []string{
	"uploads/member/1/a.pdf", "uploads/student/1.pdf", "uploads/org/1.pdf",
	"uploads/grievance/1.pdf", "uploads/instructor/1.pdf", "uploads/location/1.pdf",
}

// plant loads the fixture into db and returns a files root holding the
// fixture's files (and, next to the root, ../outside.pdf).
func plant(t *testing.T, db *sqlx.DB) string {
	t.Helper()
	for _, q := range fixtureSQL {
		testdb.MustExec(t, db, q)
	}
	base := t.TempDir()
	root := filepath.Join(base, "files")
	for _, f := range append(fixtureFiles, "uploads/dir/x") {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("%PDF-1.4 fixture"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "outside.pdf"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

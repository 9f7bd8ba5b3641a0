package heal_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/jmoiron/sqlx"
)

// clock is the fixed time of the test runs.
var clock = time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return clock }

// plantFaults inserts clean rows next to one or two rows of every fixable
// fault kind (#1, 2, 3, 4, 7, 10, 11, 15, 20), plus soft-deleted rows that
// would be faults if they were live.
func plantFaults(t *testing.T, db *sqlx.DB) {
	t.Helper()
	const old = "2024-01-01 00:00:00"
	const later = "2024-06-01 00:00:00"
	stmts := []string{
		// Organizations: 3 is soft-deleted but still counts as a parent.
		`INSERT INTO organizations (id, name, org_type, created_at, updated_at) VALUES (1, 'Acme Electric', 'employer', '` + old + `', '` + old + `')`,
		`INSERT INTO organizations (id, name, org_type, created_at, updated_at) VALUES (2, 'Local 46', 'union', '` + old + `', '` + old + `')`,
		`INSERT INTO organizations (id, name, org_type, is_deleted, deleted_at, created_at, updated_at) VALUES (3, 'Gone Inc', 'employer', TRUE, '` + old + `', '` + old + `', '` + old + `')`,
		// Contacts: 1 and 2 are both primary for org 1 (#15 keeps 2, the
		// newest); 5 is an orphan (#3); 6 hangs off the soft-deleted org;
		// 7 is a soft-deleted orphan (ignored).
		`INSERT INTO organization_contacts (id, organization_id, first_name, last_name, is_primary, created_at, updated_at) VALUES (1, 1, 'Old', 'Primary', TRUE, '` + old + `', '` + old + `')`,
		`INSERT INTO organization_contacts (id, organization_id, first_name, last_name, is_primary, created_at, updated_at) VALUES (2, 1, 'New', 'Primary', TRUE, '` + later + `', '` + later + `')`,
		`INSERT INTO organization_contacts (id, organization_id, first_name, last_name, is_primary, created_at, updated_at) VALUES (3, 2, 'Union', 'Boss', TRUE, '` + old + `', '` + old + `')`,
		`INSERT INTO organization_contacts (id, organization_id, first_name, last_name, is_primary, created_at, updated_at) VALUES (4, 2, 'Union', 'Clerk', FALSE, '` + old + `', '` + old + `')`,
		`INSERT INTO organization_contacts (id, organization_id, first_name, last_name, is_primary, created_at, updated_at) VALUES (5, 99, 'No', 'Org', FALSE, '` + old + `', '` + old + `')`,
		`INSERT INTO organization_contacts (id, organization_id, first_name, last_name, is_primary, created_at, updated_at) VALUES (6, 3, 'Soft', 'Parent', TRUE, '` + old + `', '` + old + `')`,
		`INSERT INTO organization_contacts (id, organization_id, first_name, last_name, is_primary, is_deleted, deleted_at, created_at, updated_at) VALUES (7, 98, 'Dead', 'Orphan', FALSE, TRUE, '` + old + `', '` + old + `', '` + old + `')`,
		// Members: 2 has an invalid status (#7); 3 too but is soft-deleted.
		`INSERT INTO members (id, member_number, first_name, last_name, status, classification, hire_date, created_at, updated_at) VALUES (1, '7000001', 'Ann', 'Lee', 'active', 'journeyman', '2010-03-01', '` + old + `', '` + old + `')`,
		`INSERT INTO members (id, member_number, first_name, last_name, status, classification, hire_date, created_at, updated_at) VALUES (2, '7000002', 'Bo', 'Ray', 'bogus', 'foreman', '2012-05-01', '` + old + `', '` + old + `')`,
		`INSERT INTO members (id, member_number, first_name, last_name, status, classification, is_deleted, deleted_at, created_at, updated_at) VALUES (3, '7000003', 'Cy', 'Old', 'bogus', 'retiree', TRUE, '` + old + `', '` + old + `', '` + old + `')`,
		// Employments: 1 and 6 are clean; 2 orphan member (#1); 3 orphan
		// organization (#2); 4 ends before it starts (#10); 5 is current
		// with an end date (#11).
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, job_title, hourly_rate, is_current, created_at, updated_at) VALUES (1, 1, 1, '2020-01-01', NULL, 'Wireman', 42.50, TRUE, '` + old + `', '` + old + `')`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, job_title, hourly_rate, is_current, created_at, updated_at) VALUES (2, 99, 1, '2019-01-01', '2019-12-31', 'Wireman', 30.00, FALSE, '` + old + `', '` + old + `')`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, job_title, hourly_rate, is_current, created_at, updated_at) VALUES (3, 1, 99, '2018-01-01', '2018-12-31', NULL, NULL, FALSE, '` + old + `', '` + old + `')`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, job_title, hourly_rate, is_current, created_at, updated_at) VALUES (4, 1, 2, '2017-06-01', '2017-01-01', 'Foreman', 55.25, FALSE, '` + old + `', '` + old + `')`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, job_title, hourly_rate, is_current, created_at, updated_at) VALUES (5, 2, 1, '2021-01-01', '2022-01-01', 'Apprentice', 21.75, TRUE, '` + old + `', '` + old + `')`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, job_title, hourly_rate, is_current, created_at, updated_at) VALUES (6, 1, 2, '2015-01-01', '2016-01-01', 'Wireman', 35.00, FALSE, '` + old + `', '` + old + `')`,
		`INSERT INTO students (id, member_id, student_number, first_name, last_name, email, status, application_date, created_at, updated_at) VALUES (1, 1, 'S-1', 'Stu', 'Dent', 'stu@example.org', 'enrolled', '2023-02-01', '` + old + `', '` + old + `')`,
		`INSERT INTO grievances (id, grievance_number, member_id, organization_id, title, status, filed_date, created_at, updated_at) VALUES (1, 'G-1', 1, 1, 'Overtime', 'open', '2024-02-02', '` + old + `', '` + old + `')`,
		// Attachments: 1 and 6 clean; 2 and 3 orphans (#4); 4 and 5 empty
		// paths (#20); 7 a soft-deleted empty path (ignored).
		`INSERT INTO file_attachments (id, record_type, record_id, file_name, file_path, file_type, file_size, created_at, updated_at) VALUES (1, 'member', 1, 'a.pdf', 'uploads/member/2024/01/a.pdf', 'application/pdf', 1000, '` + old + `', '` + old + `')`,
		`INSERT INTO file_attachments (id, record_type, record_id, file_name, file_path, file_type, file_size, created_at, updated_at) VALUES (2, 'member', 99, 'b.pdf', 'uploads/member/2024/01/b.pdf', 'application/pdf', 2000, '` + old + `', '` + old + `')`,
		`INSERT INTO file_attachments (id, record_type, record_id, file_name, file_path, file_type, file_size, created_at, updated_at) VALUES (3, 'spaceship', 1, 'c.pdf', 'uploads/x/c.pdf', 'application/pdf', 3000, '` + old + `', '` + old + `')`,
		`INSERT INTO file_attachments (id, record_type, record_id, file_name, file_path, file_type, file_size, created_at, updated_at) VALUES (4, 'member', 1, 'd.pdf', '', 'application/pdf', 4000, '` + old + `', '` + old + `')`,
		`INSERT INTO file_attachments (id, record_type, record_id, file_name, file_path, file_type, file_size, created_at, updated_at) VALUES (5, 'member', 1, 'e.pdf', '   ', 'application/pdf', 5000, '` + old + `', '` + old + `')`,
		`INSERT INTO file_attachments (id, record_type, record_id, file_name, file_path, file_type, file_size, created_at, updated_at) VALUES (6, 'grievance', 1, 'f.jpg', 'uploads/grievance/2024/02/f.jpg', 'image/jpeg', 6000, '` + old + `', '` + old + `')`,
		`INSERT INTO file_attachments (id, record_type, record_id, file_name, file_path, file_type, file_size, is_deleted, deleted_at, created_at, updated_at) VALUES (7, 'member', 1, 'g.pdf', '', 'application/pdf', 7000, TRUE, '` + old + `', '` + old + `', '` + old + `')`,
	}
	for _, s := range stmts {
		testdb.MustExec(t, db, s)
	}
}

// states renders rows of query as strings, one per row, columns joined by
// "|", with driver types normalised (NULL, text, dates).
func states(t *testing.T, db *sqlx.DB, query string, args ...any) []string {
	t.Helper()
	return renderRows(t, db, func(v any) string {
		switch x := v.(type) {
		case nil:
			return "NULL"
		case []byte:
			return string(x)
		case time.Time:
			return x.UTC().Format(time.DateOnly)
		}
		return fmt.Sprint(v)
	}, query, args...)
}

// renderRows renders the rows of query, one string per row: each column
// by render, joined by "|".
func renderRows(t *testing.T, db *sqlx.DB, render func(any) string, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Queryx(dbx.DialectOf(db).Rebind(query), args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.SliceScan()
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = render(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// cycle returns the IP2A auto-heal cycle over db without file checks.
func cycle(db *sqlx.DB, logDir string) *heal.Cycle {
	return &heal.Cycle{
		DB:     db,
		Checks: ip2a.Rules(ip2a.RuleOptions{NoFiles: true, Now: fixedNow}),
		LogDir: logDir,
		Now:    fixedNow,
	}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

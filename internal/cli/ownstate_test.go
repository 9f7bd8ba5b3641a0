package cli

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// ownObjects lists schema ip2adb and every table named ip2adb… in db.
func ownObjects(t *testing.T, db *sqlx.DB) []string {
	t.Helper()
	var out []string
	if err := db.Select(&out, `SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname = 'ip2adb'
UNION ALL SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname = 'ip2adb' OR tablename LIKE 'ip2adb%'
ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadOnlyCommandsCreateNothing: on a real IP2A database that ip2adb
// never wrote to, integrity, resilience, history and undo of an unknown
// run create no schema and no table.
func TestReadOnlyCommandsCreateNothing(t *testing.T) {
	url := testdb.RealPostgresURL(t)
	env := map[string]string{"IP2ADB_DATABASE_URL": url, "IP2ADB_LOG_DIR": t.TempDir(), "IP2ADB_FILES_ROOT": t.TempDir()}
	for _, args := range [][]string{
		{"integrity"},
		{"integrity", "--no-files", "--format", "json"},
		{"resilience"},
		{"history"},
		{"undo", "AH-20261128T020000Z-0000"},
		{"undo", "AH-20261128T020000Z-0000", "--dry-run"},
	} {
		r := runCLI(t, runOpts{env: env}, args...)
		if r.Code == 2 && args[0] != "undo" {
			t.Errorf("%v: exit 2: %s", args, r.Stderr)
		}
		if got := ownObjects(t, openURL(t, url)); len(got) != 0 {
			t.Errorf("%v created %v", args, got)
		}
	}
}

// plantBlockedOrphans adds the foreign keys of member_employments that the
// original's later migrations create, a clean member and organization, and
// two employments whose member 901 is missing (planted with foreign keys
// off, as a bulk import leaves them).
func plantBlockedOrphans(t *testing.T, db *sqlx.DB) {
	t.Helper()
	for _, s := range []string{
		`ALTER TABLE member_employments ADD CONSTRAINT member_employments_member_id_fkey FOREIGN KEY (member_id) REFERENCES members(id)`,
		`INSERT INTO organizations (id, name, org_type, created_at, updated_at, is_deleted) VALUES (1, 'Acme Electric', 'EMPLOYER', '2024-01-01', '2024-01-01', false)`,
		`INSERT INTO members (id, member_number, first_name, last_name, status, classification, hire_date, created_at, updated_at, is_deleted)
VALUES (1, '7000001', 'Ann', 'Lee', 'ACTIVE', 'JOURNEYMAN', '2010-01-01', '2024-01-01', '2024-01-01', false)`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, is_current, created_at, updated_at) VALUES (1, 1, 1, '2020-01-01', true, '2024-01-01', '2024-01-01')`,
	} {
		testdb.MustExec(t, db, s)
	}
	testdb.MustExecReplica(t, db, `INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, is_current, created_at, updated_at) VALUES
(10, 901, 1, '2019-01-01', '2019-12-31', false, '2024-01-01', '2024-01-01'),
(11, 901, 1, '2018-01-01', '2018-12-31', false, '2024-01-01', '2024-01-01')`)
}

// TestUndoBlockedCLI: undo of a heal that deleted orphans whose parent is
// still missing exits 1 with one line naming the constraint and the rows,
// and changes nothing; --skip-blocked lists them under "blocked"; with the
// parent back, undo of the same run finishes.
func TestUndoBlockedCLI(t *testing.T) {
	url := testdb.RealPostgresURL(t)
	db := openURL(t, url)
	plantBlockedOrphans(t, db)
	env := map[string]string{"IP2ADB_DATABASE_URL": url, "IP2ADB_LOG_DIR": t.TempDir()}
	h := runCLI(t, runOpts{env: env}, "auto-heal", "--no-files", "--format", "json")
	runID, _ := decodeJSON(t, h.Stdout)["run_id"].(string)
	if n := testdb.Count(t, db, "member_employments", "id IN (10, 11)"); n != 0 || runID == "" {
		t.Fatalf("auto-heal left %d orphans (exit %d): %s", n, h.Code, h.Stderr)
	}
	healed := testdb.Digest(t, db, "member_employments")

	u := runCLI(t, runOpts{env: env}, "undo", runID)
	wantErr := "ip2adb: cannot undo " + runID + ": restoring would violate constraints (2 row(s) of member_employments by constraint member_employments_member_id_fkey); " +
		"nothing was changed — restore the parents first, then undo again (--skip-blocked restores the rest now)\n"
	// The header line, then the one line of the refusal.
	lines := strings.SplitAfter(u.Stderr, "\n")
	if u.Code != 1 || len(lines) != 3 || lines[1] != wantErr || u.Stdout != "" {
		t.Errorf("blocked undo: exit %d\nstdout %q\nstderr %q\nwant stderr %q", u.Code, u.Stdout, u.Stderr, wantErr)
	}
	if got := testdb.Digest(t, db, "member_employments"); got != healed {
		t.Error("a refused undo changed member_employments")
	}

	s := runCLI(t, runOpts{env: env}, "undo", runID, "--skip-blocked", "--format", "json")
	doc := decodeJSON(t, s.Stdout)
	wantBlocked := []any{map[string]any{"table": "member_employments", "constraint": "member_employments_member_id_fkey",
		"rows": 2.0, "record_ids": []any{10.0, 11.0}}}
	if s.Code != 1 || !cmp.Equal(wantBlocked, doc["blocked"]) {
		t.Errorf("skip-blocked: exit %d, blocked %v (-want +got):\n%s", s.Code, doc["blocked"], cmp.Diff(wantBlocked, doc["blocked"]))
	}
	st := runCLI(t, runOpts{env: env}, "undo", runID, "--skip-blocked")
	if st.Code != 1 || !strings.Contains(st.Stdout, "member_employments_member_id_fkey (ids 10, 11)") {
		t.Errorf("skip-blocked text: exit %d\n%s", st.Code, st.Stdout)
	}

	testdb.MustExec(t, db, `INSERT INTO members (id, member_number, first_name, last_name, status, classification, created_at, updated_at, is_deleted)
VALUES (901, '7000901', 'Back', 'Again', 'ACTIVE', 'JOURNEYMAN', '2024-01-01', '2024-01-01', false)`)
	done := runCLI(t, runOpts{env: env}, "undo", runID, "--format", "json")
	if done.Code != 0 || decodeJSON(t, done.Stdout)["status"] != "undone" {
		t.Errorf("undo with the parent back: exit %d\n%s\n%s", done.Code, done.Stdout, done.Stderr)
	}
	if n := testdb.Count(t, db, "member_employments", "id IN (10, 11)"); n != 2 {
		t.Errorf("%d of the 2 orphans restored", n)
	}
}

package cli

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
)

// integrityDB returns the URL of a fresh database with the schema and the
// statements applied.
func integrityDB(t *testing.T, url string, stmts ...string) {
	t.Helper()
	db, err := dbx.Open(context.Background(), url, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		testdb.MustExec(t, db, s)
	}
}

const (
	cleanOrg     = `INSERT INTO organizations (id, name, org_type) VALUES (1, 'Acme', 'employer')`
	cleanContact = `INSERT INTO organization_contacts (id, organization_id, is_primary) VALUES (1, 1, TRUE)`
	cleanMember  = `INSERT INTO members (id, member_number, first_name, last_name, status, classification) VALUES (1, 'M1', 'A', 'B', 'active', 'journeyman')`
	cleanJob     = `INSERT INTO member_employments (id, member_id, organization_id, start_date) VALUES (1, 1, 1, '2020-01-01')`
	orphanJob    = `INSERT INTO member_employments (id, member_id, organization_id, start_date) VALUES (2, 99, 1, '2020-01-01')`
	missingFile  = `INSERT INTO file_attachments (id, record_type, record_id, file_path) VALUES (1, 'member', 1, 'uploads/x.pdf')`
)

func keys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func TestIntegrityExitCodesAndJSON(t *testing.T) {
	testdb.EachURL(t, func(t *testing.T, url string) {
		root := t.TempDir()
		env := map[string]string{"IP2ADB_DATABASE_URL": url, "IP2ADB_FILES_ROOT": root}

		integrityDB(t, url, cleanOrg, cleanContact, cleanMember, cleanJob)
		r := runCLI(t, runOpts{env: env}, "integrity")
		if r.Code != ExitOK || !strings.Contains(r.Stdout, "No issues found.") || !strings.Contains(r.Stderr, "ip2adb integrity · env development") {
			t.Fatalf("clean: code %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
		}

		// A missing file is a warning: still exit 0.
		integrityDB(t, url, missingFile)
		r = runCLI(t, runOpts{env: env}, "integrity")
		if r.Code != ExitOK || !strings.Contains(r.Stdout, "critical 0 · warning 1 · info 0 · auto-fixable 0") {
			t.Fatalf("warning only: code %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
		}

		// An orphaned employment is critical: exit 1; JSON is DESIGN.md's object.
		integrityDB(t, url, orphanJob)
		r = runCLI(t, runOpts{env: env}, "integrity", "--format", "json")
		if r.Code != ExitCritical {
			t.Fatalf("critical: code %d, stderr %s", r.Code, r.Stderr)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
			t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.Stdout)
		}
		if d := cmp.Diff([]string{"checks", "dry_run", "issues", "repairs", "run_id", "summary"}, keys(doc)); d != "" {
			t.Errorf("document fields (-want +got):\n%s", d)
		}
		checks := doc["checks"].([]any)
		if len(checks) != 22 {
			t.Errorf("%d checks, want 22", len(checks))
		}
		if d := cmp.Diff([]string{"category", "count", "duration_ms", "enforced_by", "error", "name", "reason", "status"}, keys(checks[0].(map[string]any))); d != "" {
			t.Errorf("check fields (-want +got):\n%s", d)
		}
		issues := doc["issues"].([]any)
		var got []map[string]any
		for _, i := range issues {
			m := i.(map[string]any)
			got = append(got, map[string]any{"check": m["check"], "record_id": m["record_id"], "auto_fixable": m["auto_fixable"], "key": m["key"],
				"severity": m["severity"], "table": m["table"], "category": m["category"]})
			for _, f := range []string{"check", "category", "severity", "table", "record_id", "key", "description", "auto_fixable"} {
				if _, ok := m[f]; !ok {
					t.Errorf("issue lacks %q: %v", f, m)
				}
			}
		}
		want := []map[string]any{
			{"check": "employment.orphan_member", "category": "foreign_key", "severity": "critical", "table": "member_employments",
				"record_id": 2.0, "key": map[string]any{}, "auto_fixable": true},
			{"check": "attachment.file_missing", "category": "file_system", "severity": "warning", "table": "file_attachments",
				"record_id": 1.0, "key": map[string]any{}, "auto_fixable": false},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("issues (-want +got):\n%s", d)
		}
		wantSum := map[string]any{"critical": 1.0, "warning": 1.0, "info": 0.0, "auto_fixable": 1.0, "fixed": 0.0, "remaining": 2.0, "failed_checks": 0.0}
		if d := cmp.Diff(wantSum, doc["summary"]); d != "" {
			t.Errorf("summary (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]any{}, doc["repairs"]); d != "" || doc["run_id"] != "" || doc["dry_run"] != false {
			t.Errorf("run_id %v dry_run %v repairs %v", doc["run_id"], doc["dry_run"], doc["repairs"])
		}
		if r.Stderr != "" {
			t.Errorf("json mode wrote to stderr: %q", r.Stderr)
		}

		// --no-files skips only the file check; the missing root is then fine.
		env["IP2ADB_FILES_ROOT"] = filepath.Join(root, "nope")
		r = runCLI(t, runOpts{env: env}, "integrity", "--no-files", "--format", "json")
		doc = nil
		if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || r.Code != ExitCritical {
			t.Fatalf("--no-files: code %d err %v\n%s", r.Code, err, r.Stderr)
		}
		var names []string
		for _, c := range doc["checks"].([]any) {
			names = append(names, c.(map[string]any)["name"].(string))
		}
		if len(names) != 21 || slices.Contains(names, "attachment.file_missing") || !slices.Contains(names, "attachment.empty_path") {
			t.Errorf("--no-files checks: %v", names)
		}
	}, testdb.WithSchema())
}

func TestIntegrityUsageErrors(t *testing.T) {
	url := testdb.SQLiteURL(t, testdb.WithSchema())
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"missing files root", map[string]string{"IP2ADB_FILES_ROOT": filepath.Join(dir, "nope")}, []string{"integrity", "--db", url},
			"ip2adb: --files-root " + filepath.Join(dir, "nope") + ": no such directory\n"},
		{"negative max-issues", nil, []string{"integrity", "--db", url, "--no-files", "--max-issues", "-1"},
			"ip2adb: --max-issues must be 0 or more, not -1\n"},
		{"export into missing dir", nil, []string{"integrity", "--db", url, "--no-files", "--export", filepath.Join(dir, "no/r.json")},
			"ip2adb: --export " + filepath.Join(dir, "no/r.json") + ": directory " + filepath.Join(dir, "no") + " does not exist\n"},
		{"missing database", nil, []string{"integrity", "--db", "sqlite:" + filepath.Join(dir, "none.db"), "--no-files", "--format", "json"},
			"ip2adb: sqlite database " + filepath.Join(dir, "none.db") + " does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, runOpts{env: tc.env}, tc.args...)
			if r.Code != ExitUsage || !strings.HasPrefix(r.Stderr, tc.want) || strings.Count(r.Stderr, "\n") != 1 || r.Stdout != "" {
				t.Errorf("code %d stdout %q stderr %q; want 2 and %q", r.Code, r.Stdout, r.Stderr, tc.want)
			}
		})
	}
}

// TestIntegrityFailedCheckAndExport: a check that cannot run is listed in
// the text report and makes the exit code 1; --export writes text or JSON.
func TestIntegrityFailedCheckAndExport(t *testing.T) {
	url := testdb.PostgresURL(t, testdb.WithSchema())
	// An integer start_date: end_date < start_date cannot be compared.
	integrityDB(t, url, cleanOrg, cleanContact, cleanMember,
		"ALTER TABLE member_employments ALTER COLUMN start_date TYPE integer USING 0")
	dir := t.TempDir()
	env := map[string]string{"IP2ADB_DATABASE_URL": url}
	txt := filepath.Join(dir, "report.txt")
	r := runCLI(t, runOpts{env: env}, "integrity", "--no-files", "--export", txt)
	if r.Code != ExitCritical {
		t.Fatalf("code %d, stderr %s", r.Code, r.Stderr)
	}
	for _, want := range []string{
		"Integrity report: 21 checks, 1 failed\n",
		"\nFailed checks (1):\n  employment.end_before_start (date_logic): query member_employments: ",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.Stdout)
		}
	}
	exported, err := os.ReadFile(txt)
	if err != nil || string(exported) != r.Stdout {
		t.Errorf("exported text differs from stdout (err %v):\n%s", err, exported)
	}

	js := filepath.Join(dir, "report.json")
	r = runCLI(t, runOpts{env: env}, "integrity", "--no-files", "--export", js)
	var doc struct {
		Summary struct {
			FailedChecks int `json:"failed_checks"`
		} `json:"summary"`
		Checks []struct {
			Name, Error, Status string
		} `json:"checks"`
	}
	data, err := os.ReadFile(js)
	if err != nil || json.Unmarshal(data, &doc) != nil || doc.Summary.FailedChecks != 1 || len(doc.Checks) != 21 ||
		doc.Checks[9].Name != "employment.end_before_start" || doc.Checks[9].Error == "" || doc.Checks[9].Status != "failed" {
		t.Errorf("exported JSON (err %v): %s", err, data)
	}
}

// TestIntegrityNotApplicable: checks whose table is missing are listed as
// not applicable with their reason, in text and JSON; they are no failure
// and leave the exit code alone.
func TestIntegrityNotApplicable(t *testing.T) {
	url := testdb.SQLiteURL(t, testdb.WithSchema())
	integrityDB(t, url, cleanOrg, cleanContact, cleanMember, "DROP TABLE member_employments")
	env := map[string]string{"IP2ADB_DATABASE_URL": url}
	r := runCLI(t, runOpts{env: env}, "integrity", "--no-files")
	if r.Code != ExitOK {
		t.Fatalf("code %d, stderr %s", r.Code, r.Stderr)
	}
	for _, want := range []string{
		"Integrity report: 21 checks, 7 not applicable\n",
		"\nNot applicable to this schema (7):\n  employment.orphan_member: no table member_employments\n",
		"  member.active_without_employment: no table member_employments\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.Stdout)
		}
	}
	r = runCLI(t, runOpts{env: env}, "integrity", "--no-files", "--format", "json")
	var doc struct {
		Summary struct {
			FailedChecks int `json:"failed_checks"`
		} `json:"summary"`
		Checks []struct {
			Name, Status, Reason, Error string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || r.Code != ExitOK {
		t.Fatalf("code %d, err %v: %s", r.Code, err, r.Stdout)
	}
	statuses := map[string]int{}
	for _, c := range doc.Checks {
		statuses[c.Status]++
		if c.Status == "not_applicable" && (c.Reason != "no table member_employments" || c.Error != "") {
			t.Errorf("%+v", c)
		}
	}
	if d := cmp.Diff(map[string]int{"ok": 14, "not_applicable": 7}, statuses); d != "" || doc.Summary.FailedChecks != 0 {
		t.Errorf("statuses (-want +got):\n%s\nfailed %d", d, doc.Summary.FailedChecks)
	}
}

// TestNotAnIP2ADatabase: a database holding none of the rule set's tables
// is refused with exit 2 by every command that runs the checks, and
// nothing is written to it.
func TestNotAnIP2ADatabase(t *testing.T) {
	testdb.EachURL(t, func(t *testing.T, url string) {
		integrityDB(t, url, "CREATE TABLE invoices (id integer PRIMARY KEY, total integer)")
		env := map[string]string{"IP2ADB_DATABASE_URL": url, "IP2ADB_LOG_DIR": t.TempDir()}
		const want = "ip2adb: not an IP2A database: none of members, organizations, organization_contacts, member_employments, students, file_attachments exists\n"
		for _, args := range [][]string{
			{"integrity", "--no-files"},
			{"integrity", "--no-files", "--format", "json"},
			{"integrity", "--repair", "--no-files"},
			{"integrity", "--repair", "--dry-run", "--no-files"},
			{"auto-heal", "--no-files"},
			{"auto-heal", "--no-files", "--format", "json"},
		} {
			r := runCLI(t, runOpts{env: env}, args...)
			if r.Code != ExitUsage || r.Stdout != "" || !strings.HasSuffix(r.Stderr, want) {
				t.Errorf("%v: code %d\nstdout %s\nstderr %s", args, r.Code, r.Stdout, r.Stderr)
			}
		}
		db, err := dbx.Open(context.Background(), url, dbx.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		cols, err := dbx.Columns(context.Background(), db, dbx.DialectOf(db), "invoices")
		if err != nil || len(cols) != 2 {
			t.Errorf("invoices changed: %v %v", cols, err)
		}
		var tables []string
		q := "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"
		if dbx.DialectOf(db) == dbx.Postgres {
			q = "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
		}
		if err := db.Select(&tables, q); err != nil {
			t.Fatal(err)
		}
		if len(tables) != 1 || !strings.HasSuffix(tables[0], "invoices") {
			t.Errorf("tables after the refused runs: %v", tables)
		}
	})
}

func TestIntegrityHelp(t *testing.T) {
	r := runCLI(t, runOpts{}, "integrity", "--help")
	for _, want := range []string{"Examples:", "--no-files", "--export FILE", "--max-issues N", "--files-root"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, r.Stdout)
		}
	}
}

// TestIntegrityRealSchema: on the real IP2A schema holding the fixture
// (every valid enum label, one fault of every plantable kind), integrity
// reports every planted fault, no check fails, and the JSON names the
// constraints that enforce rules; with files and with --no-files.
func TestIntegrityRealSchema(t *testing.T) {
	url := testdb.RealPostgresURL(t)
	db, err := dbx.Open(context.Background(), url, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root := testdb.PlantReal(t, db)
	db.Close()
	env := map[string]string{"IP2ADB_DATABASE_URL": url, "IP2ADB_FILES_ROOT": root}
	for _, noFiles := range []bool{false, true} {
		args := []string{"integrity", "--format", "json"}
		want := testdb.RealFixtureCounts()
		if noFiles {
			args = append(args, "--no-files")
			delete(want, "attachment.file_missing")
		}
		r := runCLI(t, runOpts{env: env}, args...)
		if r.Code != ExitCritical {
			t.Fatalf("%v: code %d (critical faults remain), stderr %s", args, r.Code, r.Stderr)
		}
		var doc struct {
			Checks []struct {
				Name, Status, Reason, Error string
				EnforcedBy                  string `json:"enforced_by"`
				Count                       int
			} `json:"checks"`
			Summary struct {
				FailedChecks int `json:"failed_checks"`
			} `json:"summary"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, r.Stdout)
		}
		counts := map[string]int{}
		enforced := map[string]string{}
		for _, c := range doc.Checks {
			counts[c.Name] = c.Count
			if c.Status != "ok" || c.Error != "" || c.Reason != "" {
				t.Errorf("%v: %+v", args, c)
			}
			if c.EnforcedBy != "" {
				enforced[c.Name] = c.EnforcedBy
			}
		}
		if d := cmp.Diff(want, counts); d != "" || doc.Summary.FailedChecks != 0 {
			t.Errorf("%v: failed %d, counts (-want +got):\n%s", args, doc.Summary.FailedChecks, d)
		}
		wantEnforced := map[string]string{
			"member.invalid_status":         "enum memberstatus",
			"member.invalid_classification": "enum memberclassification, NOT NULL members.classification",
			"organization.invalid_type":     "enum organizationtype",
			"member.duplicate_number":       "ix_members_member_number",
		}
		if d := cmp.Diff(wantEnforced, enforced); d != "" {
			t.Errorf("%v: enforced_by (-want +got):\n%s", args, d)
		}
	}
	r := runCLI(t, runOpts{env: env}, "integrity", "--no-files")
	for _, want := range []string{
		"\nEnforced by the schema (checked anyway) (4):\n  member.invalid_status: enum memberstatus\n",
		"  member.duplicate_number: ix_members_member_number\n",
		"  warning  student.duplicate_email: students: 2 rows share email \"dup@x.org\"\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, r.Stdout)
		}
	}
}

// TestAutoHealRealSchema: auto-heal repairs the real-schema fixture with
// no error; what remains needs a person.
func TestAutoHealRealSchema(t *testing.T) {
	url := testdb.RealPostgresURL(t)
	db, err := dbx.Open(context.Background(), url, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root := testdb.PlantReal(t, db)
	defer db.Close()
	env := map[string]string{"IP2ADB_DATABASE_URL": url, "IP2ADB_FILES_ROOT": root, "IP2ADB_LOG_DIR": t.TempDir()}
	r := runCLI(t, runOpts{env: env}, "auto-heal", "--dry-run")
	for _, want := range []string{"Would repair 8 rows:\n",
		"\nEnforced by the schema (checked anyway) (4):\n  member.invalid_status: enum memberstatus\n"} {
		if !strings.Contains(r.Stdout, want) || r.Code != ExitCritical {
			t.Errorf("dry run: code %d, stdout lacks %q:\n%s", r.Code, want, r.Stdout)
		}
	}
	r = runCLI(t, runOpts{env: env}, "auto-heal", "--format", "json")
	var doc struct {
		Repairs []struct {
			Check string
			Rows  int
		} `json:"repairs"`
		Summary struct {
			Fixed        int `json:"fixed"`
			FailedChecks int `json:"failed_checks"`
			Critical     int `json:"critical"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || r.Code != ExitCritical {
		t.Fatalf("code %d, err %v\nstdout %s\nstderr %s", r.Code, err, r.Stdout, r.Stderr)
	}
	if doc.Summary.Fixed != 8 || len(doc.Repairs) != 8 || doc.Summary.FailedChecks != 0 || doc.Summary.Critical != 2 {
		t.Errorf("auto-heal on the real schema: %+v", doc)
	}
	if n := testdb.Count(t, db, "member_employments", "id IN (12, 13)"); n != 0 {
		t.Errorf("orphaned employments left: %d", n)
	}
}

package heal_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// realTables are the tables of the real IP2A schema the tests below fill.
var realTables = []string{"organizations", "members", "member_employments"}

// plantReal fills a real-schema database with two organizations, three
// members and their employments, then plants what crashes and bulk
// imports leave behind real constraints: employments 10 and 11 whose
// member (901) is missing, employment 12 whose organization (902) is
// missing (all three planted with foreign keys off), and employment 13
// that ends before it starts.
//
// The fixture's member_employments has no foreign keys; the databases the
// original's later migrations built have member_employments_member_id_fkey
// and member_employments_organization_id_fkey, which the issue met. They
// are added here as those migrations add them.
func plantReal(t *testing.T, db *sqlx.DB) {
	t.Helper()
	const ts = "'2024-01-01 00:00:00'"
	for _, s := range []string{
		`ALTER TABLE member_employments ADD CONSTRAINT member_employments_member_id_fkey FOREIGN KEY (member_id) REFERENCES members(id)`,
		`ALTER TABLE member_employments ADD CONSTRAINT member_employments_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES organizations(id)`,
		`INSERT INTO organizations (id, name, org_type, created_at, updated_at, is_deleted) VALUES
  (1, 'Acme Electric', 'EMPLOYER', ` + ts + `, ` + ts + `, false),
  (2, 'Local 46', 'UNION', ` + ts + `, ` + ts + `, false)`,
		`INSERT INTO members (id, member_number, first_name, last_name, email, status, classification, created_at, updated_at, is_deleted) VALUES
  (1, '7000001', 'Ann', 'Lee', 'ann@example.org', 'ACTIVE', 'JOURNEYMAN', ` + ts + `, ` + ts + `, false),
  (2, '7000002', 'Bo', 'Ray', 'bo@example.org', 'ACTIVE', 'APPRENTICE_1ST_YEAR', ` + ts + `, ` + ts + `, false),
  (3, '7000003', 'Cy', 'Old', NULL, 'RETIRED', 'RETIREE', ` + ts + `, ` + ts + `, false)`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, job_title, hourly_rate, is_current, created_at, updated_at) VALUES
  (1, 1, 1, '2020-01-01', NULL, 'Wireman', 42.50, true, ` + ts + `, ` + ts + `),
  (2, 2, 1, '2021-03-01', NULL, 'Apprentice', 21.75, true, ` + ts + `, ` + ts + `),
  (13, 3, 2, '2017-06-01', '2017-01-01', 'Foreman', 55.25, false, ` + ts + `, ` + ts + `)`,
	} {
		testdb.MustExec(t, db, s)
	}
	testdb.MustExecReplica(t, db, `INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, job_title, hourly_rate, is_current, created_at, updated_at) VALUES
  (10, 901, 1, '2019-01-01', '2019-12-31', 'Wireman', 30.00, false, `+ts+`, `+ts+`),
  (11, 901, 2, '2018-01-01', '2018-12-31', NULL, NULL, false, `+ts+`, `+ts+`),
  (12, 1, 902, '2016-01-01', '2016-12-31', 'Helper', 18.10, false, `+ts+`, `+ts+`)`)
}

// realChecks are the three repairs the tests need, built from the generic
// checks so that they do not depend on the full rule set: delete
// employments whose member or organization is missing, and clear an
// end date before the start date.
func realChecks() []integrity.Checker {
	fk := func(name, col, parent string) integrity.Checker {
		return integrity.WithFix(integrity.ForeignKey{
			Meta:   integrity.Meta{Name: name, Category: ip2adb.CategoryForeignKey, Severity: ip2adb.Critical, Table: "member_employments"},
			Column: col, References: parent,
		}, integrity.Repair{Action: ip2adb.ActionDelete})
	}
	return []integrity.Checker{
		fk("employment.orphan_member", "member_id", "members"),
		fk("employment.orphan_organization", "organization_id", "organizations"),
		integrity.WithFix(integrity.DateOrder{
			Meta:  integrity.Meta{Name: "employment.end_before_start", Category: ip2adb.CategoryDateLogic, Severity: ip2adb.Warning, Table: "member_employments"},
			Start: "start_date", End: "end_date",
		}, integrity.Repair{Action: ip2adb.ActionSetNull, Column: "end_date"}),
	}
}

func realDigests(t *testing.T, db *sqlx.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tb := range realTables {
		out[tb] = testdb.Digest(t, db, tb)
	}
	return out
}

// healReal runs one heal with realChecks and returns its run id.
func healReal(t *testing.T, db *sqlx.DB) string {
	t.Helper()
	res, err := (&heal.Cycle{DB: db, Checks: realChecks(), Now: fixedNow}).Run(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []heal.RepairResult{
		{Check: "employment.orphan_member", Action: ip2adb.ActionDelete, Table: "member_employments", Rows: 2},
		{Check: "employment.orphan_organization", Action: ip2adb.ActionDelete, Table: "member_employments", Rows: 1},
		{Check: "employment.end_before_start", Action: ip2adb.ActionSetNull, Table: "member_employments", Rows: 1},
	}
	if diff := cmp.Diff(want, res.Repairs); diff != "" {
		t.Fatalf("repairs (-want +got):\n%s", diff)
	}
	return res.RunID
}

func runStatus(t *testing.T, db *sqlx.DB, runID string) string {
	t.Helper()
	var s string
	d := dbx.DialectOf(db)
	if err := db.Get(&s, d.Rebind(`SELECT status FROM `+ownstate.Name(d, ownstate.Runs)+` WHERE run_id = ?`), runID); err != nil {
		t.Fatal(err)
	}
	return s
}

// restoreParents brings back the member and organization the orphans
// pointed to.
func restoreParents(t *testing.T, db *sqlx.DB) {
	t.Helper()
	testdb.MustExec(t, db, `INSERT INTO members (id, member_number, first_name, last_name, status, classification, created_at, updated_at, is_deleted)
VALUES (901, '7000901', 'Back', 'Again', 'ACTIVE', 'JOURNEYMAN', '2024-01-01', '2024-01-01', false)`)
	testdb.MustExec(t, db, `INSERT INTO organizations (id, name, org_type, created_at, updated_at, is_deleted)
VALUES (902, 'Returned Co', 'EMPLOYER', '2024-01-01', '2024-01-01', false)`)
}

// TestUndoRealSchemaBlockedIsAllOrNothing: undoing a heal that deleted
// orphans whose parents are still missing changes nothing and names each
// constraint with its row count in one line.
func TestUndoRealSchemaBlockedIsAllOrNothing(t *testing.T) {
	db := testdb.RealPostgres(t)
	plantReal(t, db)
	runID := healReal(t, db)
	healed := realDigests(t, db)

	_, err := heal.Undo(ctx(t), db, runID, heal.UndoOptions{Now: fixedNow})
	var be *heal.BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("undo with missing parents: %v, want a BlockedError", err)
	}
	want := []heal.BlockedRows{
		{Table: "member_employments", Constraint: "member_employments_organization_id_fkey", Rows: 1, RecordIDs: []int64{12}},
		{Table: "member_employments", Constraint: "member_employments_member_id_fkey", Rows: 2, RecordIDs: []int64{10, 11}},
	}
	if diff := cmp.Diff(want, be.Blocked); diff != "" {
		t.Errorf("blocked (-want +got):\n%s", diff)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "1 row(s) of member_employments by constraint member_employments_organization_id_fkey") ||
		!strings.Contains(msg, "2 row(s) of member_employments by constraint member_employments_member_id_fkey") ||
		!strings.Contains(msg, "restore the parents first, then undo again") {
		t.Errorf("message %q", msg)
	}
	if diff := cmp.Diff(healed, realDigests(t, db)); diff != "" {
		t.Errorf("a refused undo changed the database (-want +got):\n%s", diff)
	}
	if s := runStatus(t, db, runID); s != heal.StatusCommitted {
		t.Errorf("status %q after a refused undo", s)
	}
	// Dry run: the same refusal.
	if _, err := heal.Undo(ctx(t), db, runID, heal.UndoOptions{DryRun: true, Now: fixedNow}); !errors.As(err, &be) {
		t.Errorf("dry run: %v, want a BlockedError", err)
	}
}

// TestUndoRealSchemaByteIdentical: with the parents restored, undo brings
// back every row byte for byte (orphan deletes and the cleared end date).
func TestUndoRealSchemaByteIdentical(t *testing.T) {
	db := testdb.RealPostgres(t)
	plantReal(t, db)
	before := realDigests(t, db)
	runID := healReal(t, db)
	restoreParents(t, db)
	res, err := heal.Undo(ctx(t), db, runID, heal.UndoOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 4 || res.Status != heal.StatusUndone || len(res.Blocked) != 0 {
		t.Errorf("undo: %d rows, status %q, blocked %v", res.Rows, res.Status, res.Blocked)
	}
	after := map[string]string{
		"organizations":      testdb.Digest(t, db, "organizations", 902),
		"members":            testdb.Digest(t, db, "members", 901),
		"member_employments": testdb.Digest(t, db, "member_employments"),
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("undo is not byte-identical (-want +got):\n%s", diff)
	}
	if s := runStatus(t, db, runID); s != heal.StatusUndone {
		t.Errorf("status %q", s)
	}
	var already *heal.AlreadyUndoneError
	if _, err := heal.Undo(ctx(t), db, runID, heal.UndoOptions{Now: fixedNow}); !errors.As(err, &already) {
		t.Errorf("second undo: %v", err)
	}
}

// TestUndoSkipBlockedThenContinue: --skip-blocked restores what it can,
// lists the rest and leaves the run partially_undone; once the parents are
// back, undo of the same run restores the rest.
func TestUndoSkipBlockedThenContinue(t *testing.T) {
	db := testdb.RealPostgres(t)
	plantReal(t, db)
	before := realDigests(t, db)
	runID := healReal(t, db)

	res, err := heal.Undo(ctx(t), db, runID, heal.UndoOptions{SkipBlocked: true, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 1 || res.Status != heal.StatusPartiallyUndone || len(res.Blocked) != 2 {
		t.Fatalf("skip-blocked undo: %d rows, status %q, blocked %v", res.Rows, res.Status, res.Blocked)
	}
	if s := runStatus(t, db, runID); s != heal.StatusPartiallyUndone {
		t.Errorf("status %q", s)
	}
	// The date repair is undone, the orphans are still gone.
	if diff := cmp.Diff(testdb.Digest(t, db, "member_employments", 10, 11, 12), testdb.Digest(t, db, "member_employments")); diff != "" {
		t.Errorf("orphans restored although blocked")
	}
	got := states(t, db, `SELECT id, end_date FROM member_employments WHERE id = 13`)
	if diff := cmp.Diff([]string{"13|2017-01-01"}, got); diff != "" {
		t.Errorf("end date (-want +got):\n%s", diff)
	}
	// Still blocked: skip again restores nothing and changes nothing.
	again, err := heal.Undo(ctx(t), db, runID, heal.UndoOptions{SkipBlocked: true, Now: fixedNow})
	if err != nil || again.Rows != 0 || len(again.Blocked) != 2 || again.Status != heal.StatusPartiallyUndone {
		t.Errorf("second skip-blocked undo: %+v, %v", again, err)
	}

	restoreParents(t, db)
	rest, err := heal.Undo(ctx(t), db, runID, heal.UndoOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if rest.Rows != 3 || rest.Status != heal.StatusUndone || len(rest.Blocked) != 0 {
		t.Errorf("continued undo: %d rows, status %q, blocked %v", rest.Rows, rest.Status, rest.Blocked)
	}
	after := map[string]string{
		"organizations":      testdb.Digest(t, db, "organizations", 902),
		"members":            testdb.Digest(t, db, "members", 901),
		"member_employments": testdb.Digest(t, db, "member_employments"),
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("after the continued undo (-want +got):\n%s", diff)
	}
	// Undoing the continuation brings its rows' deletion back; the run is
	// partially undone again, and undoable again.
	if _, err := heal.Undo(ctx(t), db, rest.RunID, heal.UndoOptions{Now: fixedNow}); err != nil {
		t.Fatal(err)
	}
	if s := runStatus(t, db, runID); s != heal.StatusPartiallyUndone {
		t.Errorf("status after undoing the continuation: %q", s)
	}
	if n := testdb.Count(t, db, "member_employments", "id IN (10, 11, 12)"); n != 0 {
		t.Errorf("%d orphans left after undoing the continuation", n)
	}
	final, err := heal.Undo(ctx(t), db, runID, heal.UndoOptions{Now: fixedNow})
	if err != nil || final.Rows != 3 || final.Status != heal.StatusUndone {
		t.Errorf("final undo: %+v, %v", final, err)
	}
}

// TestUndoLeastPrivilegeRole: once ip2adb's tables exist, a role with only
// DML rights (and USAGE on the schemas and sequences) checks, repairs and
// undoes; it never needs CREATE.
func TestUndoLeastPrivilegeRole(t *testing.T) {
	url := testdb.RealPostgresURL(t)
	owner, err := dbx.Open(context.Background(), url, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { owner.Close() })
	plantReal(t, owner)
	before := realDigests(t, owner)
	if err := heal.EnsureJournal(ctx(t), owner); err != nil {
		t.Fatal(err)
	}
	roleURL := testdb.Role(t, url, testdb.DMLGrants()...)
	db, err := dbx.Open(context.Background(), roleURL, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE public.ip2adb_probe (id int)`); err == nil {
		t.Fatal("the role may CREATE: the test proves nothing")
	}
	runID := healReal(t, db)
	restoreParents(t, owner)
	res, err := heal.Undo(ctx(t), db, runID, heal.UndoOptions{Now: fixedNow})
	if err != nil {
		t.Fatalf("undo as a DML-only role: %v", err)
	}
	if res.Status != heal.StatusUndone {
		t.Errorf("status %q", res.Status)
	}
	after := map[string]string{
		"organizations":      testdb.Digest(t, owner, "organizations", 902),
		"members":            testdb.Digest(t, owner, "members", 901),
		"member_employments": testdb.Digest(t, owner, "member_employments"),
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

package heal_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/notify"
	"github.com/jmoiron/sqlx"
)

var wantRepairs = []heal.RepairResult{
	{Check: "employment.orphan_member", Action: ip2adb.ActionDelete, Table: "member_employments", Rows: 1},
	{Check: "employment.orphan_organization", Action: ip2adb.ActionDelete, Table: "member_employments", Rows: 1},
	{Check: "contact.orphan_organization", Action: ip2adb.ActionSoftDelete, Table: "organization_contacts", Rows: 1},
	{Check: "attachment.orphan_record", Action: ip2adb.ActionSoftDelete, Table: "file_attachments", Rows: 2},
	{Check: "member.invalid_status", Action: ip2adb.ActionSetValue, Table: "members", Rows: 1},
	{Check: "employment.end_before_start", Action: ip2adb.ActionSetNull, Table: "member_employments", Rows: 1},
	{Check: "employment.current_with_end_date", Action: ip2adb.ActionSetValue, Table: "member_employments", Rows: 1},
	{Check: "organization.multiple_primary_contacts", Action: ip2adb.ActionSetValue, Table: "organization_contacts", Rows: 1},
	{Check: "attachment.empty_path", Action: ip2adb.ActionSoftDelete, Table: "file_attachments", Rows: 2},
}

func dry(rs []heal.RepairResult, d bool) []heal.RepairResult {
	out := append([]heal.RepairResult(nil), rs...)
	for i := range out {
		out[i].DryRun = d
	}
	return out
}

// wantSummary is the summary of a run over plantFaults: 7 critical and 4
// warning rows or groups found, all auto-fixable, 11 rows fixed.
var wantSummary = integrity.Summary{AutoFixable: 11, Fixed: 11}

// foundCounts maps each check with findings to its count.
func foundCounts(r heal.Result) map[string]int {
	m := map[string]int{}
	for _, c := range r.Checks {
		if c.Count > 0 || c.Error != "" {
			m[c.Name] = c.Count
		}
	}
	return m
}

var wantFound = map[string]int{
	"employment.orphan_member": 1, "employment.orphan_organization": 1, "contact.orphan_organization": 1,
	"attachment.orphan_record": 2, "member.invalid_status": 1, "employment.end_before_start": 1,
	"employment.current_with_end_date": 1, "organization.multiple_primary_contacts": 1, "attachment.empty_path": 2,
}

// The state queries show every row of the tables the repairs touch, with
// updated_at and deleted_at as "run" (the run's stamp), "old" or NULL.
const (
	stampCase      = "CASE WHEN updated_at = ? THEN 'run' ELSE 'old' END"
	deletedAtCase  = "CASE WHEN deleted_at IS NULL THEN 'NULL' WHEN deleted_at = ? THEN 'run' ELSE 'old' END"
	employmentsQ   = "SELECT id, end_date, CASE WHEN is_current THEN 1 ELSE 0 END, " + stampCase + " FROM member_employments ORDER BY id"
	contactsQ      = "SELECT id, CASE WHEN is_primary THEN 1 ELSE 0 END, CASE WHEN is_deleted THEN 1 ELSE 0 END, " + deletedAtCase + ", " + stampCase + " FROM organization_contacts ORDER BY id"
	membersQ       = "SELECT id, status, CASE WHEN is_deleted THEN 1 ELSE 0 END, " + stampCase + " FROM members ORDER BY id"
	attachmentsQ   = "SELECT id, CASE WHEN is_deleted THEN 1 ELSE 0 END, " + deletedAtCase + ", " + stampCase + " FROM file_attachments ORDER BY id"
	organizationsQ = "SELECT id FROM organizations ORDER BY id"
)

func TestCycleHealsEveryFixableKindThenUndoRestores(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		before := testdb.Digests(t, db)
		changed := map[string][]int64{
			"member_employments": {2, 3, 4, 5}, "organization_contacts": {1, 5}, "members": {2},
			"file_attachments": {2, 3, 4, 5}, "organizations": nil, "students": nil, "grievances": nil,
			"locations": nil, "instructors": nil,
		}
		untouched := map[string]string{}
		for table, ids := range changed {
			untouched[table] = testdb.Digest(t, db, table, ids...)
		}
		logDir := t.TempDir()
		res, err := cycle(db, logDir).Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(dry(wantRepairs, false), res.Repairs); diff != "" {
			t.Errorf("repairs (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantSummary, res.Summary); diff != "" {
			t.Errorf("summary (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantFound, foundCounts(res)); diff != "" {
			t.Errorf("found (-want +got):\n%s", diff)
		}
		if len(res.Issues) != 0 || res.HasCritical() {
			t.Errorf("issues remain: %+v", res.Issues)
		}
		if !strings.HasPrefix(res.RunID, "AH-20261128T020000Z-") || len(res.RunID) != len("AH-20261128T020000Z-4f3a") {
			t.Errorf("run id %q", res.RunID)
		}

		// Every row of the touched tables, exactly.
		for _, tc := range []struct {
			name, query string
			args        []any
			want        []string
		}{
			{"employments", employmentsQ, []any{clock}, []string{
				"1|NULL|1|old", "4|NULL|0|run", "5|2022-01-01|0|run", "6|2016-01-01|0|old"}},
			{"contacts", contactsQ, []any{clock, clock}, []string{
				"1|0|0|NULL|run", "2|1|0|NULL|old", "3|1|0|NULL|old", "4|0|0|NULL|old",
				"5|0|1|run|run", "6|1|0|NULL|old", "7|0|1|old|old"}},
			{"members", membersQ, []any{clock}, []string{"1|active|0|old", "2|active|0|run", "3|bogus|1|old"}},
			{"attachments", attachmentsQ, []any{clock, clock}, []string{
				"1|0|NULL|old", "2|1|run|run", "3|1|run|run", "4|1|run|run", "5|1|run|run", "6|0|NULL|old", "7|1|old|old"}},
		} {
			if diff := cmp.Diff(tc.want, states(t, db, tc.query, tc.args...)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.name, diff)
			}
		}
		// Nothing else changed.
		for table, ids := range changed {
			if got := testdb.Digest(t, db, table, ids...); got != untouched[table] {
				t.Errorf("%s: rows the run must not touch changed", table)
			}
		}

		// History.
		recs, err := heal.Records(logDir, clock.AddDate(0, 0, -1))
		if err != nil {
			t.Fatal(err)
		}
		want := []heal.Record{{RunID: res.RunID, Timestamp: clock, IssuesFound: 11, IssuesFixed: 11, Success: true}}
		if diff := cmp.Diff(want, recs, cmpopts.IgnoreFields(heal.Record{}, "DurationMS")); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}

		// Undo restores the tables byte for byte.
		u, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		if u.Rows != 11 || len(u.Steps) != 9 || u.Steps[0].Check != "attachment.empty_path" {
			t.Errorf("undo result %+v", u)
		}
		if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
			t.Errorf("tables after undo differ from before (-want +got):\n%s", diff)
		}
		// A second undo of the same run is refused.
		_, err = heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow})
		var au *heal.AlreadyUndoneError
		if !errors.As(err, &au) || au.By != u.RunID {
			t.Errorf("second undo: %v", err)
		}
	}, testdb.WithSchema())
}

func TestDryRunChangesNothingAndCountsLikeTheRealRun(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		before := testdb.Digests(t, db)
		logDir := t.TempDir()
		c := cycle(db, logDir)
		c.DryRun = true
		res, err := c.Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
			t.Errorf("dry run changed the database (-want +got):\n%s", diff)
		}
		if got := ownTables(t, db); len(got) != 0 {
			t.Errorf("dry run left ip2adb's tables behind: %v", got)
		}
		if diff := cmp.Diff(dry(wantRepairs, true), res.Repairs); diff != "" {
			t.Errorf("dry-run repairs (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantSummary, res.Summary); diff != "" {
			t.Errorf("dry-run summary (-want +got):\n%s", diff)
		}
		// The real run reports the same.
		real, err := cycle(db, logDir).Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(res.Summary, real.Summary); diff != "" {
			t.Errorf("real vs dry summary (-dry +real):\n%s", diff)
		}
		if diff := cmp.Diff(dry(res.Repairs, false), real.Repairs); diff != "" {
			t.Errorf("real vs dry repairs (-dry +real):\n%s", diff)
		}
		// Dry runs are recorded but do not make the cycle "not due".
		recs, _ := heal.Records(logDir, clock.AddDate(0, 0, -1))
		if len(recs) != 2 || !recs[0].DryRun || recs[1].DryRun {
			t.Errorf("history %+v", recs)
		}
		if _, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{}); !errors.As(err, new(*heal.UnknownRunError)) {
			t.Errorf("undo of a dry run: %v", err)
		}
	}, testdb.WithSchema())
}

// ownTables lists ip2adb's own tables that exist in db.
func ownTables(t *testing.T, db *sqlx.DB) []string {
	t.Helper()
	st, err := ownstate.Locate(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, obj := range ownstate.Objects() {
		if st.Has(obj) {
			out = append(out, st.Name(obj))
		}
	}
	return out
}

// missingTableCheck reports one issue whose fix names a table that does not
// exist.
func missingTableCheck() integrity.Repairable {
	return missingTable{}
}

type missingTable struct{}

func (missingTable) Name() string { return "custom.missing_table" }
func (missingTable) Check(context.Context, *sqlx.DB, int) (integrity.Result, error) {
	return integrity.Result{Count: 1, Issues: []ip2adb.Issue{{Check: "custom.missing_table", Severity: ip2adb.Warning,
		Category: ip2adb.CategoryDataAnomaly, Table: "no_such_table", RecordID: ip2adb.Ptr(int64(1))}}}, nil
}
func (missingTable) Fix() ip2adb.Fix {
	return ip2adb.Fix{Action: ip2adb.ActionDelete, Table: "no_such_table", Where: "id = ?", Args: []any{1}}
}

func TestMissingTableDuringRepairFailsTheRunAndChangesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		before := testdb.Digests(t, db)
		logDir := t.TempDir()
		c := cycle(db, logDir)
		c.Checks = append(c.Checks, missingTableCheck()) // after all the good repairs
		_, err := c.Run(ctx(t))
		if err == nil || !strings.Contains(err.Error(), "table no_such_table does not exist") {
			t.Fatalf("err = %v", err)
		}
		if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
			t.Errorf("failed run changed the database (-want +got):\n%s", diff)
		}
		recs, _ := heal.Records(logDir, clock.AddDate(0, 0, -1))
		if len(recs) != 1 || recs[0].Success || recs[0].ErrorMessage == nil ||
			!strings.Contains(*recs[0].ErrorMessage, "no_such_table") || recs[0].IssuesFound != 12 {
			t.Errorf("history %+v", recs)
		}
		if due, _, _ := heal.Due(logDir, 24*3600e9, clock); !due {
			t.Error("a failed run made the cycle not due")
		}
		// The next run without the bad check completes.
		if _, err := cycle(db, logDir).Run(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}, testdb.WithSchema())
}

func TestConcurrentRunsOneGetsTheLock(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		before := testdb.Digests(t, db)
		inRepair, release := make(chan struct{}), make(chan struct{})
		first := cycle(db, "")
		first.Repairer = heal.RepairerFunc(func(ctx context.Context, tx *sqlx.Tx, s heal.Step, f ip2adb.Fix) (int64, error) {
			if s.Seq == 1 {
				close(inRepair)
				<-release
			}
			return heal.SQLRepairer{}.Repair(ctx, tx, s, f)
		})
		var firstErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, firstErr = first.Run(ctx(t))
		}()
		<-inRepair
		_, err := cycle(db, "").Run(ctx(t))
		if !errors.Is(err, heal.ErrLocked) || err.Error() != "another run holds the lock" {
			t.Errorf("second run: %v", err)
		}
		_, err = heal.Undo(ctx(t), db, "AH-20261128T020000Z-0000", heal.UndoOptions{})
		if !errors.Is(err, heal.ErrLocked) {
			t.Errorf("undo during a run: %v", err)
		}
		if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
			t.Errorf("database changed while the first run held its transaction open (-want +got):\n%s", diff)
		}
		close(release)
		<-done
		if firstErr != nil {
			t.Fatal(firstErr)
		}
		// The lock is free again.
		if _, err := cycle(db, "").Run(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}, testdb.WithSchema())
}

func TestUndoRefusesWhenRowsChangedUnlessForced(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change string // what happens after the heal
		want   []string
	}{
		{"updated row edited", "UPDATE members SET first_name = 'Bob', updated_at = '2026-12-01 00:00:00' WHERE id = 2",
			[]string{"members#2"}},
		// updated_at untouched: only the whole after-image shows the edit.
		{"email edited, updated_at kept", "UPDATE members SET email = 'bo.new@example.org' WHERE id = 2",
			[]string{"members#2"}},
		{"soft-deleted row's description edited", "UPDATE file_attachments SET description = 'kept' WHERE id = 4",
			[]string{"file_attachments#4"}},
		{"soft-deleted row restored by hand", "UPDATE file_attachments SET is_deleted = FALSE, updated_at = '2026-12-01 00:00:00' WHERE id = 4",
			[]string{"file_attachments#4"}},
		{"deleted row's id reused", "INSERT INTO member_employments (id, member_id, organization_id, start_date, is_current) VALUES (2, 1, 1, '2025-01-01', FALSE)",
			[]string{"member_employments#2"}},
		{"updated row deleted", "DELETE FROM member_employments WHERE id = 4", []string{"member_employments#4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
				plantFaults(t, db)
				planted := testdb.Digests(t, db)
				res, err := cycle(db, "").Run(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				testdb.MustExec(t, db, tc.change)
				changed := testdb.Digests(t, db)
				_, err = heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow})
				var ce *heal.ConflictError
				if !errors.As(err, &ce) {
					t.Fatalf("undo err = %v, want a ConflictError", err)
				}
				if diff := cmp.Diff(tc.want, ce.Examples); diff != "" || ce.Rows != len(tc.want) {
					t.Errorf("conflicts %d (-want +got):\n%s", ce.Rows, diff)
				}
				if diff := cmp.Diff(changed, testdb.Digests(t, db)); diff != "" {
					t.Errorf("refused undo changed the database (-want +got):\n%s", diff)
				}
				// Dry run with force changes nothing either.
				if _, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Force: true, DryRun: true}); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(changed, testdb.Digests(t, db)); diff != "" {
					t.Errorf("dry-run undo changed the database (-want +got):\n%s", diff)
				}
				// Forced, the before-images win.
				if _, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Force: true, Now: fixedNow}); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(planted, testdb.Digests(t, db)); diff != "" {
					t.Errorf("forced undo (-want +got):\n%s", diff)
				}
			}, testdb.WithSchema())
		})
	}
}

func TestUndoOfAnUndoRedoesTheRun(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		planted := testdb.Digests(t, db)
		res, err := cycle(db, "").Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		healed := testdb.Digests(t, db)
		u1, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		u2, err := heal.Undo(ctx(t), db, u1.RunID, heal.UndoOptions{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		if u2.Undoes != u1.RunID || u2.Rows != 11 {
			t.Errorf("undo of undo: %+v", u2)
		}
		if diff := cmp.Diff(healed, testdb.Digests(t, db)); diff != "" {
			t.Errorf("undo of the undo is not the healed state (-want +got):\n%s", diff)
		}
		// The original run can be undone again.
		if _, err := heal.Undo(ctx(t), db, res.RunID, heal.UndoOptions{Now: fixedNow}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(planted, testdb.Digests(t, db)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		// Unknown ids are refused.
		_, err = heal.Undo(ctx(t), db, "AH-nope", heal.UndoOptions{})
		if !errors.As(err, new(*heal.UnknownRunError)) {
			t.Errorf("unknown run: %v", err)
		}
	}, testdb.WithSchema())
}

func TestAlertGetsTheRemainingIssues(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		plantFaults(t, db)
		// An unfixable fault: a member without a last name (#5, critical).
		testdb.MustExec(t, db, `INSERT INTO members (id, member_number, first_name, last_name, status, classification, created_at, updated_at)
			VALUES (10, '7000010', 'No', NULL, 'active', 'journeyman', '2024-01-01 00:00:00', '2024-01-01 00:00:00')`)
		testdb.MustExec(t, db, `INSERT INTO member_employments (id, member_id, organization_id, start_date, is_current) VALUES (10, 10, 1, '2020-01-01', TRUE)`)
		var got []ip2adb.Issue
		c := cycle(db, filepath.Join(t.TempDir(), "logs"))
		c.Alerter = heal.MultiAlerter{heal.AlerterFunc(func(_ context.Context, is []ip2adb.Issue) (notify.Report, error) {
			got = is
			return notify.Report{NotificationID: "N1", Sent: 1, Deliveries: []notify.Delivery{
				{Channel: "log", Outcome: notify.Sent}, {Channel: "webhook:a", Outcome: notify.Sent}}}, nil
		}), heal.AlerterFunc(func(context.Context, []ip2adb.Issue) (notify.Report, error) {
			return notify.Report{NotificationID: "N2", Deliveries: []notify.Delivery{
				{Channel: "slack", Outcome: notify.Failed, Error: "slack down"}}}, errors.New("slack: slack down")
		})}
		res, err := c.Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Check != "member.missing_required" || *got[0].RecordID != 10 {
			t.Errorf("alerted about %+v", got)
		}
		if res.NotificationsSent != 1 || res.AlertErr == nil || !res.HasCritical() || res.Summary.Critical != 1 || res.Summary.Remaining != 1 {
			t.Errorf("result %+v", res.Summary)
		}
		wantDeliveries := []notify.Delivery{{Channel: "log", Outcome: notify.Sent}, {Channel: "webhook:a", Outcome: notify.Sent},
			{Channel: "slack", Outcome: notify.Failed, Error: "slack down"}}
		if diff := cmp.Diff(wantDeliveries, res.Notifications); diff != "" {
			t.Errorf("notifications (-want +got):\n%s", diff)
		}
		// Counted once although two channels delivered it; a failed
		// delivery makes the run not a success.
		recs, _ := heal.Records(c.LogDir, clock.AddDate(0, 0, -1))
		if len(recs) != 1 || recs[0].Success || recs[0].NotificationsSent != 1 || recs[0].IssuesRequiringAttention != 1 ||
			recs[0].ErrorMessage == nil || !strings.Contains(*recs[0].ErrorMessage, "slack down") {
			t.Errorf("history %+v", recs)
		}
	}, testdb.WithSchema())
}

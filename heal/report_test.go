package heal_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/notify"
)

// repairedRun is a run that repaired two rules, left one critical issue and
// notified two channels, one of which failed.
func repairedRun() heal.Result {
	remaining := integrity.Report{
		Checks: []integrity.CheckResult{{Name: "member.duplicate_number", Category: ip2adb.CategoryDuplicate,
			Status: integrity.StatusOK, Count: 1, Severity: ip2adb.Critical}},
		Issues: []ip2adb.Issue{{Check: "member.duplicate_number", Category: ip2adb.CategoryDuplicate,
			Severity: ip2adb.Critical, Table: "members", Description: "member_number 7000001 is used by 2 members"}},
		Summary: integrity.Summary{Critical: 1, Remaining: 1},
	}
	return heal.Result{
		RunID: "AH-20261128T020000Z-4f3a",
		Found: integrity.Report{Summary: integrity.Summary{Critical: 3, Warning: 1, AutoFixable: 3}},
		Repairs: []heal.RepairResult{
			{Check: "employment.orphaned_member", Action: ip2adb.ActionSoftDelete, Table: "member_employments", Rows: 1},
			{Check: "employment.end_before_start", Action: ip2adb.ActionSetNull, Table: "member_employments", Rows: 1},
		},
		Summary: integrity.Summary{Critical: 1, Fixed: 2, Remaining: 1, AutoFixable: 3},
		Notifications: []notify.Delivery{
			{Channel: "log", Outcome: notify.Sent},
			{Channel: "webhook https://ops.example/x", Outcome: notify.Failed, Error: "HTTP 500, gave up after 3 attempts"},
		},
		NotificationsSent: 1,
		AlertErr:          errors.New("webhook failed"),
		Remaining:         remaining,
	}
}

func TestWriteText(t *testing.T) {
	clean := heal.Result{RunID: "AH-1", DryRun: true,
		Found:   integrity.Report{Summary: integrity.Summary{Warning: 2, AutoFixable: 2}},
		Repairs: []heal.RepairResult{{Check: "contact.multiple_primary", Action: ip2adb.ActionSetValue, Table: "organization_contacts", Rows: 2, DryRun: true}},
		Summary: integrity.Summary{Fixed: 2, AutoFixable: 2},
		Checks:  []integrity.CheckResult{{Name: "student.duplicate_email", Status: integrity.StatusNotApplicable, Reason: "students has no column email"}},
	}
	alertOnly := heal.Result{RunID: "AH-2", AlertErr: errors.New("smtp: refused\nslack: 404")}
	var remaining strings.Builder
	if err := integrity.WriteText(&remaining, repairedRun().Remaining); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opt  heal.TextOptions
		r    heal.Result
		want string
	}{
		{"repaired, issues remain", heal.TextOptions{}, repairedRun(), `Run AH-20261128T020000Z-4f3a
Found: critical 3 · warning 1 · info 0 · auto-fixable 3
Repaired 2 rows:
  soft_delete  member_employments           1  employment.orphaned_member
  set_null     member_employments           1  employment.end_before_start
Remaining: critical 1 · warning 0 · info 0 (1 in all)
Notifications sent: 1
  sent        log
  failed      webhook https://ops.example/x: HTTP 500, gave up after 3 attempts
Undo with: ip2adb undo AH-20261128T020000Z-4f3a

` + remaining.String()},
		{"dry run, nothing remains", heal.TextOptions{}, clean, `Run AH-1 (dry run: nothing was changed)
Found: critical 0 · warning 2 · info 0 · auto-fixable 2
Would repair 2 rows:
  set_value    organization_contacts        2  contact.multiple_primary
Remaining: critical 0 · warning 0 · info 0 (0 in all)

Not applicable to this schema (1):
  student.duplicate_email: students has no column email
`},
		{"alert error only, own undo command", heal.TextOptions{UndoCommand: "hallctl undo"}, alertOnly, `Run AH-2
Found: critical 0 · warning 0 · info 0 · auto-fixable 0
Nothing to repair.
Remaining: critical 0 · warning 0 · info 0 (0 in all)
Notifications sent: 0
  notification error: smtp: refused; slack: 404
`},
		{"own undo command", heal.TextOptions{UndoCommand: "hallctl undo"}, heal.Result{RunID: "AH-3",
			Repairs: []heal.RepairResult{{Check: "c", Action: ip2adb.ActionDelete, Table: "t", Rows: 1}}, Summary: integrity.Summary{Fixed: 1}}, `Run AH-3
Found: critical 0 · warning 0 · info 0 · auto-fixable 0
Repaired 1 rows:
  delete       t                            1  c
Remaining: critical 0 · warning 0 · info 0 (0 in all)
Undo with: hallctl undo AH-3
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := tc.opt.WriteText(&b, tc.r); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("text report (-want +got):\n%s", diff)
			}
			if tc.opt == (heal.TextOptions{}) {
				var b2 strings.Builder
				if err := heal.WriteText(&b2, tc.r); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(b.String(), b2.String()); diff != "" {
					t.Errorf("WriteText differs from TextOptions{}.WriteText (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestExport(t *testing.T) {
	r := repairedRun()
	var text strings.Builder
	if err := heal.WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	var js bytes.Buffer
	if err := ip2adb.WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		format ip2adb.Format
		want   string
	}{{ip2adb.Text, text.String()}, {ip2adb.JSON, js.String()}} {
		var b strings.Builder
		if err := heal.Export(&b, tc.format, r); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, b.String()); diff != "" {
			t.Errorf("Export %s (-want +got):\n%s", tc.format, diff)
		}
	}
	if !strings.HasPrefix(js.String(), "{\n  \"run_id\": \"AH-20261128T020000Z-4f3a\",\n  \"dry_run\": false,\n") {
		t.Errorf("JSON export does not start with the run id, indented by two spaces:\n%s", js.String())
	}
	var b strings.Builder
	err := heal.Export(&b, "yaml", r)
	var fe *ip2adb.FormatError
	if !errors.As(err, &fe) || fe.Format != "yaml" || b.Len() != 0 {
		t.Errorf("Export yaml = %v (wrote %q), want a *FormatError and nothing written", err, b.String())
	}
}

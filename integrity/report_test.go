package integrity_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/integrity"
)

func rowIssues(check, cat string, sev ip2adb.Severity, n int, fix *ip2adb.Fix) []ip2adb.Issue {
	var out []ip2adb.Issue
	for i := 1; i <= n; i++ {
		out = append(out, ip2adb.Issue{Check: check, Category: cat, Severity: sev, Table: "t",
			RecordID: ip2adb.Ptr(int64(i)), Description: fmt.Sprintf("row %d is bad", i), Fix: fix})
	}
	return out
}

func sampleReport() integrity.Report {
	del := &ip2adb.Fix{Action: ip2adb.ActionDelete, Table: "t", Where: "x"}
	return integrity.NewReport([]integrity.CheckResult{
		{Name: "a.orphan", Category: "foreign_key", Count: 7, Severity: ip2adb.Critical, AutoFixable: true,
			Issues: rowIssues("a.orphan", "foreign_key", ip2adb.Critical, 4, del)},
		{Name: "b.dup", Category: "duplicate", Count: 2, Severity: ip2adb.Warning,
			Issues: []ip2adb.Issue{{Check: "b.dup", Category: "duplicate", Severity: ip2adb.Warning, Table: "t",
				Key: map[string]any{"email": "a@x.org"}, Description: "2 rows share\nemail"}}},
		{Name: "c.orphan", Category: "foreign_key", Count: 2, Severity: ip2adb.Warning,
			Issues: rowIssues("c.orphan", "foreign_key", ip2adb.Warning, 2, nil)},
		{Name: "d.clean", Category: "date_logic", Severity: ip2adb.Info},
		{Name: "e.broken", Category: "file_system", Severity: ip2adb.Warning, Err: errors.New("files root /x: no such file"), Error: "files root /x: no such file"},
	})
}

func TestWriteText(t *testing.T) {
	var buf bytes.Buffer
	if err := integrity.WriteText(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	want := `Integrity report: 5 checks, 1 failed
  critical 7 · warning 4 · info 0 · auto-fixable 7

foreign_key (9)
  critical a.orphan: row 1 is bad  [auto-fix: delete]
  critical a.orphan: row 2 is bad  [auto-fix: delete]
  critical a.orphan: row 3 is bad  [auto-fix: delete]
  critical a.orphan: row 4 is bad  [auto-fix: delete]
  warning  c.orphan: row 1 is bad
  … and 4 more

duplicate (2)
  warning  b.dup: 2 rows share email
  … and 1 more

Failed checks (1):
  e.broken (file_system): files root /x: no such file
`
	if d := cmp.Diff(want, buf.String()); d != "" {
		t.Errorf("text report (-want +got):\n%s", d)
	}

	// With no samples kept (--max-issues 0) each check says how many it found.
	buf.Reset()
	var bare []integrity.CheckResult
	for _, c := range sampleReport().Checks {
		c.Issues = nil
		bare = append(bare, c)
	}
	if err := integrity.WriteText(&buf, integrity.NewReport(bare)); err != nil {
		t.Fatal(err)
	}
	want = `Integrity report: 5 checks, 1 failed
  critical 7 · warning 4 · info 0 · auto-fixable 7

foreign_key (9)
  critical a.orphan: 7 found (no samples kept)
  warning  c.orphan: 2 found (no samples kept)

duplicate (2)
  warning  b.dup: 2 found (no samples kept)

Failed checks (1):
  e.broken (file_system): files root /x: no such file
`
	if d := cmp.Diff(want, buf.String()); d != "" {
		t.Errorf("text report without samples (-want +got):\n%s", d)
	}

	buf.Reset()
	if err := integrity.WriteText(&buf, integrity.NewReport([]integrity.CheckResult{{Name: "x", Category: "duplicate"}})); err != nil {
		t.Fatal(err)
	}
	if want := "Integrity report: 1 checks\n  critical 0 · warning 0 · info 0 · auto-fixable 0\n\nNo issues found.\n"; buf.String() != want {
		t.Errorf("clean report:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestDocumentJSON(t *testing.T) {
	rep := sampleReport()
	if d := cmp.Diff(integrity.Summary{Critical: 7, Warning: 4, AutoFixable: 7, Remaining: 11, FailedChecks: 1}, rep.Summary); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}
	data, err := json.Marshal(rep.Document())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	fields := func(v any) []string { return slices.Sorted(maps.Keys(v.(map[string]any))) }
	if d := cmp.Diff([]string{"checks", "dry_run", "issues", "repairs", "run_id", "summary"}, fields(doc)); d != "" {
		t.Errorf("document (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"category", "count", "duration_ms", "enforced_by", "error", "name", "reason", "status"}, fields(doc["checks"].([]any)[0])); d != "" {
		t.Errorf("check (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"auto_fixable", "critical", "failed_checks", "fixed", "info", "remaining", "warning"}, fields(doc["summary"])); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}
	wantIssue := map[string]any{"check": "b.dup", "category": "duplicate", "severity": "warning", "table": "t",
		"record_id": nil, "key": map[string]any{"email": "a@x.org"}, "description": "2 rows share\nemail", "auto_fixable": false}
	if d := cmp.Diff(wantIssue, doc["issues"].([]any)[4]); d != "" {
		t.Errorf("group issue (-want +got):\n%s", d)
	}
	if got := doc["checks"].([]any)[4].(map[string]any)["error"]; got != "files root /x: no such file" {
		t.Errorf("failed check error %v", got)
	}

	// An empty report still has lists, never null.
	data, _ = json.Marshal(integrity.Report{}.Document())
	if want := `{"run_id":"","dry_run":false,"checks":[],"issues":[],"repairs":[],"summary":{"critical":0,"warning":0,"info":0,"auto_fixable":0,"fixed":0,"remaining":0,"failed_checks":0}}`; string(data) != want {
		t.Errorf("empty document:\n%s\nwant\n%s", data, want)
	}
}

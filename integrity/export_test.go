package integrity_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/integrity"
)

func TestExport(t *testing.T) {
	rep := integrity.Report{
		Checks: []integrity.CheckResult{{Name: "member.missing_name", Category: ip2adb.CategoryRequiredField,
			Status: integrity.StatusOK, Count: 1, DurationMS: 3, Severity: ip2adb.Critical}},
		Issues: []ip2adb.Issue{{Check: "member.missing_name", Category: ip2adb.CategoryRequiredField,
			Severity: ip2adb.Critical, Table: "members", RecordID: ip2adb.Ptr(int64(7)), Description: "member 7 has no first name"}},
		Summary: integrity.Summary{Critical: 1, Remaining: 1},
	}
	var text strings.Builder
	if err := integrity.WriteText(&text, rep); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		format ip2adb.Format
		want   string
	}{
		{ip2adb.Text, text.String()},
		{ip2adb.JSON, `{
  "run_id": "",
  "dry_run": false,
  "checks": [
    {
      "name": "member.missing_name",
      "category": "required_field",
      "status": "ok",
      "count": 1,
      "duration_ms": 3,
      "error": "",
      "reason": "",
      "enforced_by": ""
    }
  ],
  "issues": [
    {
      "check": "member.missing_name",
      "category": "required_field",
      "severity": "critical",
      "table": "members",
      "record_id": 7,
      "key": {},
      "description": "member 7 has no first name",
      "auto_fixable": false
    }
  ],
  "repairs": [],
  "summary": {
    "critical": 1,
    "warning": 0,
    "info": 0,
    "auto_fixable": 0,
    "fixed": 0,
    "remaining": 1,
    "failed_checks": 0
  }
}
`},
	} {
		var b strings.Builder
		if err := integrity.Export(&b, tc.format, rep); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, b.String()); diff != "" {
			t.Errorf("Export %s (-want +got):\n%s", tc.format, diff)
		}
	}
	var b strings.Builder
	err := integrity.Export(&b, "csv", rep)
	var fe *ip2adb.FormatError
	if !errors.As(err, &fe) || b.Len() != 0 {
		t.Errorf("Export csv = %v (wrote %q), want a *FormatError and nothing written", err, b.String())
	}
}

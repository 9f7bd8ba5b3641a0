package resilience_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/resilience"
)

func TestExport(t *testing.T) {
	rep := resilience.Report{
		Time:    time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC),
		Probes:  []resilience.ProbeReport{{Name: "backup_status", DurationMS: 2, Findings: 1, Summary: "no backup found"}},
		Summary: resilience.Summary{Critical: 1},
		Findings: []ip2adb.Issue{{Check: "resilience.backup_status", Category: "backup_status", Severity: ip2adb.Critical,
			Description: "no backup in backups"}},
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	const findings = `{
  "time": "2026-11-28T02:00:00Z",
  "findings": [
    {
      "check": "resilience.backup_status",
      "category": "backup_status",
      "severity": "critical",
      "table": "",
      "record_id": null,
      "key": {},
      "description": "no backup in backups",
      "auto_fixable": false
    }
  ],
  "probes": [
    {
      "name": "backup_status",
      "duration_ms": 2,
      "findings": 1,
      "summary": "no backup found",
      "error": ""
    }
  ],
  "summary": {
    "critical": 1,
    "warning": 0,
    "info": 0,
    "failed_probes": 0
  }`
	for _, tc := range []struct {
		name   string
		format ip2adb.Format
		doc    resilience.Document
		want   string
	}{
		{"text", ip2adb.Text, resilience.Document{Report: rep, RecordedChecksums: &resilience.RecordResult{Recorded: 3}}, text.String()},
		{"json", ip2adb.JSON, resilience.Document{Report: rep}, findings + "\n}\n"},
		{"json with checksums", ip2adb.JSON, resilience.Document{Report: rep, RecordedChecksums: &resilience.RecordResult{Recorded: 3, Bytes: 4096, Missing: 1}},
			findings + `,
  "recorded_checksums": {
    "recorded": 3,
    "bytes": 4096,
    "missing": 1,
    "unreadable": 0,
    "skipped": 0
  }
}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := resilience.Export(&b, tc.format, tc.doc); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("Export (-want +got):\n%s", diff)
			}
		})
	}
	var b strings.Builder
	err := resilience.Export(&b, "xml", resilience.Document{Report: rep})
	var fe *ip2adb.FormatError
	if !errors.As(err, &fe) || b.Len() != 0 {
		t.Errorf("Export xml = %v (wrote %q), want a *FormatError and nothing written", err, b.String())
	}
}

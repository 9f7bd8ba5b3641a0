package seed_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/seed"
)

func reportStats() seed.Stats {
	return seed.Stats{
		Profile: seed.Quick, Seed: 42,
		Tables: []seed.TableStats{
			{Table: "members", Rows: 1234, Duration: 500 * time.Millisecond},
			{Table: "member_employments", Rows: 45678, Duration: 0},
		},
		Rows: 46912, Duration: 2 * time.Second, RowsPerSecond: 23456,
		Files: 1500, FileBytes: 2_500_000,
		Faults: 2, Manifest: seed.Manifest{"member.invalid_status": {int64(3), int64(9)}},
		NotPlantable: map[string]string{"member.duplicate_number": "unique index members_member_number_key", "a.kind": "NOT NULL"},
	}
}

func TestStatsWriteText(t *testing.T) {
	var b strings.Builder
	if err := reportStats().WriteText(&b, "store", "faults.json"); err != nil {
		t.Fatal(err)
	}
	want := "Seeded profile quick (seed 42): 46,912 rows in 2.00 s, 23,456 rows/s\n\n" +
		"table                        rows  seconds     rows/s\n" +
		"members                     1,234     0.50      2,468\n" +
		"member_employments         45,678     0.00          0\n" +
		"total                      46,912     2.00     23,456\n" +
		"\nFiles: 1,500 written under store (2.5 MB)\n" +
		"\nFaults: 2 of each of the " + strconv.Itoa(len(seed.FaultKinds())-2) + " integrity check kinds planted; manifest in faults.json\n" +
		"  not plantable: a.kind: NOT NULL\n" +
		"  not plantable: member.duplicate_number: unique index members_member_number_key\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteText (-want +got):\n%s", diff)
	}

	b.Reset()
	st := reportStats()
	st.Faults, st.Manifest, st.NotPlantable = 0, nil, nil
	if err := st.WriteText(&b, "", ""); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Files:") || strings.Contains(b.String(), "Faults:") {
		t.Errorf("no files dir and no faults, yet:\n%s", b.String())
	}
}

func TestStatsReport(t *testing.T) {
	got := reportStats().Report("store", "faults.json")
	want := seed.Report{
		Profile: "quick", Seed: 42,
		Tables: []seed.TableReport{
			{Table: "members", Rows: 1234, Seconds: 0.5, RowsPerSecond: 2468},
			{Table: "member_employments", Rows: 45678},
		},
		Rows: 46912, Seconds: 2, RowsPerSecond: 23456, FilesDir: "store", Files: 1500, FileBytes: 2_500_000,
		Faults: 2, FaultsManifest: "faults.json",
		Manifest: map[string]any{"member.invalid_status": []any{int64(3), int64(9)},
			seed.NotPlantableKey: map[string]string{"member.duplicate_number": "unique index members_member_number_key", "a.kind": "NOT NULL"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Report (-want +got):\n%s", diff)
	}
	var js bytes.Buffer
	if err := ip2adb.WriteJSON(&js, seed.Stats{Profile: seed.Normal, Seed: 7}.Report("", "")); err != nil {
		t.Fatal(err)
	}
	wantJS := `{
  "profile": "normal",
  "seed": 7,
  "tables": [],
  "rows": 0,
  "seconds": 0,
  "rows_per_second": 0,
  "files": 0,
  "file_bytes": 0,
  "faults": 0
}
`
	if diff := cmp.Diff(wantJS, js.String()); diff != "" {
		t.Errorf("JSON of an empty run (-want +got):\n%s", diff)
	}
}

package resilience

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

func readSnapshot(t *testing.T, env Env, date string) GrowthSnapshot {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(env.LogDir, MetricsDir, date+"_growth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s GrowthSnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func writeSnapshot(t *testing.T, env Env, s GrowthSnapshot) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	writeStore(t, filepath.Join(env.LogDir, MetricsDir), s.Date+"_growth.json", b)
}

func seedRows(t *testing.T, db *sqlx.DB) {
	t.Helper()
	for i := range 4 {
		testdb.MustExec(t, db, "INSERT INTO members (member_number, last_name, classification) VALUES (?, 'Doe', 'journeyman')", 7000000+i)
	}
	testdb.MustExec(t, db, "INSERT INTO organizations (name, org_type) VALUES ('Acme Electric', 'employer')")
	for i := range 3 {
		testdb.MustExec(t, db, "INSERT INTO member_employments (member_id, organization_id, start_date) VALUES (1, 1, ?)", "2020-01-0"+string(rune('1'+i)))
	}
}

func TestDatabaseGrowth(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		env := testEnv(t, db)
		seedRows(t, db)
		p := DatabaseGrowth(withTables(Options{}))

		// First day: a snapshot, no history to forecast from.
		r0 := probeOnce(t, p, env)
		if len(r0.Findings) != 0 || r0.Metrics["history_days"] != 1 {
			t.Fatalf("first run: findings %v history %v", r0.Findings, r0.Metrics["history_days"])
		}
		if _, ok := r0.Metrics["days_until_full"]; ok {
			t.Errorf("forecast with one day of history")
		}
		today := readSnapshot(t, env, "2026-11-28")
		wantTables := map[string]int64{"members": 4, "member_employments": 3, "organizations": 1,
			"organization_contacts": 0, "students": 0, "file_attachments": 0}
		for tbl, n := range wantTables {
			if today.Tables[tbl].Rows != n {
				t.Errorf("%s rows = %d, want %d", tbl, today.Tables[tbl].Rows, n)
			}
			if today.Tables[tbl].Bytes <= 0 {
				t.Errorf("%s bytes = %d, want > 0", tbl, today.Tables[tbl].Bytes)
			}
		}
		if today.TotalRows != 8 || today.DatabaseBytes <= 0 || today.TakenAt != now0 {
			t.Errorf("snapshot %+v", today)
		}

		// Three earlier days: 2 rows and 1 MB a day; one unreadable file.
		for i, d := range []string{"2026-11-24", "2026-11-25", "2026-11-27"} {
			back := []int64{4, 3, 1}[i]
			writeSnapshot(t, env, GrowthSnapshot{Date: d, TotalRows: today.TotalRows - 2*back,
				DatabaseBytes: today.DatabaseBytes - back*1_000_000,
				Tables:        map[string]TableStats{"members": {Rows: 4 - back}}})
		}
		writeStore(t, filepath.Join(env.LogDir, MetricsDir), "2026-11-26_growth.json", []byte("{broken"))
		writeStore(t, filepath.Join(env.LogDir, MetricsDir), "1999-01-01_growth.json", []byte(`{"total_rows": 1}`)) // outside the window
		env.DiskUsage = fakeDisk(1<<40, 45_000_000)
		r := probeOnce(t, p, env)
		today = readSnapshot(t, env, "2026-11-28")
		span := 4.0
		rowsPerDay := round(float64(today.TotalRows-(today.TotalRows-8))/span, 2) // 2
		bytesPerDay := round(float64(today.DatabaseBytes-(today.DatabaseBytes-4_000_000))/span, 2)
		days := round(45_000_000/bytesPerDay, 1)
		if rowsPerDay != 2 || bytesPerDay != 1_000_000 || days != 45 {
			t.Fatalf("test arithmetic: %v %v %v", rowsPerDay, bytesPerDay, days)
		}
		wantHist := []DayGrowth{
			{Date: "2026-11-24", TotalRows: today.TotalRows - 8, DatabaseBytes: today.DatabaseBytes - 4_000_000},
			{Date: "2026-11-25", TotalRows: today.TotalRows - 6, DatabaseBytes: today.DatabaseBytes - 3_000_000, RowsDelta: 2, BytesDelta: 1_000_000},
			{Date: "2026-11-27", TotalRows: today.TotalRows - 2, DatabaseBytes: today.DatabaseBytes - 1_000_000, RowsDelta: 4, BytesDelta: 2_000_000},
			{Date: "2026-11-28", TotalRows: today.TotalRows, DatabaseBytes: today.DatabaseBytes, RowsDelta: 2, BytesDelta: 1_000_000},
		}
		if d := cmp.Diff(wantHist, r.Metrics["history"]); d != "" {
			t.Errorf("history (-want +got):\n%s", d)
		}
		for k, v := range map[string]any{"rows_per_day": 2.0, "bytes_per_day": 1_000_000.0, "days_until_full": 45.0,
			"span_days": 4.0, "history_days": 4, "table_rows_per_day": map[string]any{"members": 1.0}} {
			if d := cmp.Diff(v, r.Metrics[k]); d != "" {
				t.Errorf("metric %s (-want +got):\n%s", k, d)
			}
		}
		disk, why := r.Metrics["forecast_disk"].(string), r.Metrics["forecast_disk_source"].(string)
		details := map[string]any{"total_rows": today.TotalRows, "database_bytes": today.DatabaseBytes,
			"rows_per_day": 2.0, "bytes_per_day": 1_000_000.0, "days_until_full": 45.0,
			"forecast_disk": disk, "forecast_disk_source": why, "free_bytes": uint64(45_000_000), "threshold_days": 90.0}
		want := []ip2adb.Issue{
			issue("database_growth", ip2adb.Info, "", "1 growth history files could not be read and were ignored", "",
				map[string]any{"files": []string{"2026-11-26_growth.json"}}),
			issue("database_growth", ip2adb.Warning, "", "At the current growth the disk holding the database is full in about 45 days", "", details),
		}
		if d := cmp.Diff(want, r.Findings, ignoreRec); d != "" {
			t.Errorf("findings (-want +got):\n%s", d)
		}
		checkRecs(t, r.Findings)
		if db.DriverName() == "sqlite" && why != "sqlite database file" {
			t.Errorf("sqlite forecast disk source = %q", why)
		}

		// Critical within 30 days; row count info above the threshold.
		env.DiskUsage = fakeDisk(1<<40, 20_000_000)
		r = probeOnce(t, DatabaseGrowth(withTables(Options{GrowthInfoRows: 7})), env)
		var sev []ip2adb.Severity
		for _, f := range r.Findings {
			sev = append(sev, f.Severity)
		}
		if d := cmp.Diff([]ip2adb.Severity{ip2adb.Info, ip2adb.Info, ip2adb.Critical}, sev); d != "" {
			t.Errorf("severities (-want +got):\n%s", d)
		}
		if r.Findings[1].Description != "The core tables hold 8 rows (over 7)" {
			t.Errorf("row info: %q", r.Findings[1].Description)
		}
		// A configured disk is used as given.
		r = probeOnce(t, DatabaseGrowth(withTables(Options{DatabaseDisk: "/srv/pg"})), env)
		if r.Metrics["forecast_disk"] != "/srv/pg" || r.Metrics["forecast_disk_source"] != "configured" {
			t.Errorf("configured disk: %v %v", r.Metrics["forecast_disk"], r.Metrics["forecast_disk_source"])
		}
	}, testdb.WithSchema())
}

func TestDatabaseGrowthNotGrowing(t *testing.T) {
	db := testdb.SQLite(t, testdb.WithSchema())
	env := testEnv(t, db)
	env.Now = func() time.Time { return now0.AddDate(0, 0, -1) }
	probeOnce(t, DatabaseGrowth(withTables(Options{})), env)
	env.Now = func() time.Time { return now0 }
	r := probeOnce(t, DatabaseGrowth(withTables(Options{})), env)
	if len(r.Findings) != 0 || r.Metrics["days_until_full"] != nil || r.Metrics["rows_per_day"] != 0.0 {
		t.Errorf("findings %v metrics %v", r.Findings, r.Metrics)
	}
}

func TestDatabaseGrowthFailures(t *testing.T) {
	db := testdb.SQLite(t) // no schema: counting fails
	env := testEnv(t, db)
	if _, err := DatabaseGrowth(withTables(Options{})).Probe(t.Context(), env); err == nil {
		t.Error("no error without tables")
	}
	env.LogDir = ""
	if _, err := DatabaseGrowth(withTables(Options{})).Probe(t.Context(), env); err == nil {
		t.Error("no error without a log dir")
	}
}

package service

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/notify"
	"github.com/ip2adb/ip2adb/resilience"
	"github.com/jmoiron/sqlx"
)

// testNow is the fixed clock of the fixtures.
var testNow = time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)

func id(n int64) *int64 { return &n }

// healResult is a heal run that found an orphan employment (repaired) and
// two duplicate member numbers (left open), and where one check failed.
func healResult() heal.Result {
	dup := []ip2adb.Issue{
		{Check: "member.duplicate_number", Category: ip2adb.CategoryDuplicate, Severity: ip2adb.Critical, Table: "members",
			Key: map[string]any{"member_number": "7000001"}, Description: `members: 2 rows share member_number "7000001"`},
		{Check: "member.duplicate_number", Category: ip2adb.CategoryDuplicate, Severity: ip2adb.Critical, Table: "members",
			Key: map[string]any{"member_number": "7000002"}, Description: `members: 2 rows share member_number "7000002"`},
	}
	orphan := []ip2adb.Issue{{Check: "employment.orphan_member", Category: ip2adb.CategoryForeignKey, Severity: ip2adb.Critical,
		Table: "member_employments", RecordID: id(3), Description: "member_employments 3: member_id 55 does not exist"}}
	found := integrity.NewReport([]integrity.CheckResult{
		{Name: "employment.orphan_member", Category: ip2adb.CategoryForeignKey, Count: 1, Issues: orphan, Severity: ip2adb.Critical, AutoFixable: true},
		{Name: "member.duplicate_number", Category: ip2adb.CategoryDuplicate, Count: 2, Issues: dup, Severity: ip2adb.Critical},
		{Name: "member.hire_date_future", Category: ip2adb.CategoryDateLogic, Count: 0, Severity: ip2adb.Warning},
		{Name: "attachment.file_missing", Category: ip2adb.CategoryFileSystem, Error: "files root: no such directory", Err: errors.New("files root: no such directory")},
		{Name: "student.duplicate_email", Category: ip2adb.CategoryDuplicate, Status: integrity.StatusNotApplicable, Reason: "students has no column email"},
	})
	remaining := integrity.NewReport([]integrity.CheckResult{
		{Name: "employment.orphan_member", Category: ip2adb.CategoryForeignKey, Count: 0, Severity: ip2adb.Critical, AutoFixable: true},
		found.Checks[1], found.Checks[2], found.Checks[3], found.Checks[4],
	})
	res := heal.Result{RunID: "AH-20261128T020000Z-4f3a", Started: testNow, Duration: 1500 * time.Millisecond,
		Found: found, Remaining: remaining, Checks: found.Checks, Issues: remaining.Issues,
		Repairs:       []heal.RepairResult{{Check: "employment.orphan_member", Action: ip2adb.ActionDelete, Table: "member_employments", Rows: 1}},
		Notifications: []notify.Delivery{{Channel: "log", Outcome: notify.Sent}, {Channel: "slack", Outcome: notify.Suppressed}}}
	res.Summary = remaining.Summary
	res.Summary.Fixed = 1
	res.Summary.FailedChecks = 1
	return res
}

// resilienceReport is a report with a critical backup finding and the
// growth probe's measurements.
func resilienceReport() resilience.Report {
	return resilience.Report{
		Time: testNow.Add(time.Hour),
		Findings: []ip2adb.Issue{
			{Check: "resilience.backup_status", Category: ip2adb.CategoryBackupStatus, Severity: ip2adb.Critical,
				Description: "No backup in backups", Recommendation: "Set up daily backups."},
			{Check: "resilience.database_growth", Category: ip2adb.CategoryDatabaseGrowth, Severity: ip2adb.Warning,
				Description: "The disk is full in about 60 days", Recommendation: "Grow the volume."},
		},
		Probes: []resilience.ProbeReport{
			{Name: ip2adb.CategoryBackupStatus},
			{Name: ip2adb.CategoryDatabaseGrowth, Metrics: map[string]any{"database_bytes": int64(1 << 20), "total_rows": int64(6042),
				"bytes_per_day": 2048.0, "days_until_full": 60.5}},
		},
		Summary: resilience.Summary{Critical: 1, Warning: 1},
	}
}

// config is a service config over a fresh SQLite database with fake runs
// that return the fixtures.
func config(t *testing.T) Config {
	t.Helper()
	url := testdb.SQLiteURL(t)
	return Config{
		Connect: func(ctx context.Context) (*sqlx.DB, error) {
			return dbx.Open(ctx, url, dbx.OpenOptions{})
		},
		Heal: func(context.Context, *sqlx.DB) (heal.Result, error) { return healResult(), nil },
		Resilience: func(context.Context, *sqlx.DB) (resilience.Report, error) {
			return resilienceReport(), nil
		},
		LogDir:   t.TempDir(),
		Listen:   "127.0.0.1:0",
		Info:     PageInfo{Database: "sqlite:test.db", Environment: "test", Version: "devel"},
		Now:      func() time.Time { return testNow },
		Log:      testr.New(t),
		RetryMin: 10 * time.Millisecond,
	}
}

// start serves svc on a loopback port until the test ends and returns its
// base URL; stop stops it early and returns what Serve returned.
func start(t *testing.T, svc *Service) (base string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()
	var once bool
	var result error
	stop = func() error {
		if !once {
			once = true
			cancel()
			result = <-done
		}
		return result
	}
	t.Cleanup(func() { stop() })
	return "http://" + ln.Addr().String(), stop
}

// get fetches url with optional header pairs and returns status and body.
func get(t *testing.T, method, url string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// resilienceSetup makes a files root with one attachment file, a backup
// dir with a fresh complete dump and a log dir, and returns the
// environment for runCLI.
func resilienceSetup(t *testing.T, url string) (map[string]string, string) {
	t.Helper()
	root, logs, backups := t.TempDir(), t.TempDir(), t.TempDir()
	data := []byte("scanned application form")
	p := filepath.Join(root, "uploads", "member", "a.pdf")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	integrityDB(t, url, cleanOrg, cleanMember, cleanJob,
		`INSERT INTO file_attachments (id, record_type, record_id, file_path) VALUES (1, 'member', 1, 'uploads/member/a.pdf')`)
	dump := filepath.Join(backups, "ip2a.sql")
	if strings.HasPrefix(url, "postgres") {
		// A real dump: the report compares its tables with the database's.
		if out, err := exec.Command("pg_dump", "--dbname="+url, "--file="+dump).CombinedOutput(); err != nil {
			t.Fatalf("pg_dump: %v: %s", err, out)
		}
	} else if err := os.WriteFile(dump, []byte("--\n-- PostgreSQL database dump\n--\n\n-- PostgreSQL database dump complete\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	if err := os.Chtimes(dump, m, m); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return map[string]string{"IP2ADB_DATABASE_URL": url, "IP2ADB_FILES_ROOT": root, "IP2ADB_LOG_DIR": logs,
		"IP2ADB_BACKUP_DIR": backups}, hex.EncodeToString(sum[:])
}

func TestResilienceJSONAndExitCodes(t *testing.T) {
	testdb.EachURL(t, func(t *testing.T, url string) {
		env, sum := resilienceSetup(t, url)

		// Healthy apart from one attachment without checksum: exit 0.
		// The shared server's connections are every test package's: the
		// connection thresholds are raised so that load elsewhere cannot
		// add a finding here.
		r := runCLI(t, runOpts{env: env}, "resilience", "--format", "json", "--connections-warn", "100", "--connections-critical", "100")
		if r.Code != ExitOK {
			t.Fatalf("code %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
			t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.Stdout)
		}
		if d := cmp.Diff([]string{"findings", "probes", "summary", "time"}, keys(doc)); d != "" {
			t.Errorf("document fields (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]string{"critical", "failed_probes", "info", "warning"}, keys(doc["summary"].(map[string]any))); d != "" {
			t.Errorf("summary fields (-want +got):\n%s", d)
		}
		findings := doc["findings"].([]any)
		var cats []string
		for _, f := range findings {
			cats = append(cats, f.(map[string]any)["category"].(string))
		}
		wantCats := []string{"file_corruption", "query_performance", "index_health", "index_health"} // unused indexes, amcheck not installed
		if strings.HasPrefix(url, "sqlite:") {
			wantCats = []string{"file_corruption", "query_performance", "index_health",
				"transaction_wraparound", "vacuum_health", "sessions", "replication", "bloat"} // not supported on sqlite
		}
		if d := cmp.Diff(wantCats, cats); d != "" {
			t.Errorf("finding categories (-want +got):\n%s", d)
		}
		wantFields := []string{"auto_fixable", "category", "check", "description", "details", "key", "recommendation", "record_id", "severity", "table"}
		if d := cmp.Diff(wantFields, keys(findings[0].(map[string]any))); d != "" {
			t.Errorf("finding fields (-want +got):\n%s", d)
		}
		if got := len(doc["probes"].([]any)); got != 14 {
			t.Errorf("%d probes, want 14", got)
		}
		if _, err := os.Stat(filepath.Join(env["IP2ADB_LOG_DIR"], "resilience_metrics", "2026-11-28_growth.json")); err != nil {
			t.Errorf("growth snapshot: %v", err)
		}

		// --record-checksums stores the checksum; then nothing is unverifiable.
		r = runCLI(t, runOpts{env: env}, "resilience", "--record-checksums", "--format", "json")
		doc = nil
		if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || r.Code != ExitOK {
			t.Fatalf("record: code %d err %v\n%s\n%s", r.Code, err, r.Stdout, r.Stderr)
		}
		if d := cmp.Diff(map[string]any{"recorded": 1.0, "bytes": 24.0, "missing": 0.0, "unreadable": 0.0, "skipped": 0.0}, doc["recorded_checksums"]); d != "" {
			t.Errorf("recorded (-want +got):\n%s", d)
		}
		for _, f := range doc["findings"].([]any) {
			if f.(map[string]any)["category"] == "file_corruption" {
				t.Errorf("file_corruption finding after recording: %v", f)
			}
		}
		rdb := resilienceOpen(t, url)
		got := testdb.Count(t, rdb, ownstate.Name(dbx.DialectOf(rdb), ownstate.Checksums), "checksum = ?", sum)
		if got != 1 {
			t.Errorf("stored checksum rows = %d, want 1", got)
		}

		// A corrupted file is critical: exit 1, text report names it.
		if err := os.WriteFile(filepath.Join(env["IP2ADB_FILES_ROOT"], "uploads", "member", "a.pdf"), []byte("scanned applicatiom form"), 0o644); err != nil {
			t.Fatal(err)
		}
		export := filepath.Join(t.TempDir(), "report.txt")
		r = runCLI(t, runOpts{env: env}, "resilience", "--export", export)
		if r.Code != ExitCritical || !strings.Contains(r.Stdout, "CRITICAL  Attachment 1 (uploads/member/a.pdf) is corrupt") ||
			!strings.Contains(r.Stderr, "ip2adb resilience · env development") {
			t.Fatalf("corrupt: code %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
		}
		b, err := os.ReadFile(export)
		if err != nil || string(b) != r.Stdout {
			t.Errorf("export differs from stdout (%v):\n%s", err, b)
		}

		// No backup dir: critical, exit 1 (the probe's finding, not a usage error).
		env["IP2ADB_BACKUP_DIR"] = filepath.Join(t.TempDir(), "none")
		r = runCLI(t, runOpts{env: env}, "resilience", "--format", "json", "--export", filepath.Join(t.TempDir(), "r.json"))
		if r.Code != ExitCritical || !strings.Contains(r.Stdout, `"category": "backup_status"`) {
			t.Fatalf("no backups: code %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
		}
	}, testdb.WithSchema())
}

func resilienceOpen(t *testing.T, url string) *sqlx.DB {
	t.Helper()
	db, err := dbx.Open(context.Background(), url, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestResilienceUsageErrors(t *testing.T) {
	url := testdb.SQLiteURL(t, testdb.WithSchema())
	missing := filepath.Join(t.TempDir(), "nope")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing files root", []string{"resilience", "--files-root", missing}, "ip2adb: --files-root " + missing + ": no such directory\n"},
		{"bad size", []string{"resilience", "--verify-bytes", "lots"}, "ip2adb: --verify-bytes \"lots\": want a size such as 500MB or 20GiB\n"},
		{"bad thresholds", []string{"resilience", "--disk-warn", "95"}, "ip2adb: disk warning threshold 95% is above the critical one 90%\n"},
		{"bad export dir", []string{"resilience", "--export", missing + "/r.json"}, "ip2adb: --export " + missing + "/r.json: directory " + missing + " does not exist\n"},
		{"missing sqlite file", []string{"resilience", "--db", "sqlite:" + missing + ".db"}, ""},
		{"unknown flag", []string{"resilience", "--bogus"}, "ip2adb: flag provided but not defined: -bogus\n"},
		{"bad amcheck size", []string{"resilience", "--amcheck-bytes", "0"}, "ip2adb: --amcheck-bytes \"0\": want a size such as 500MB or 20GiB\n"},
		{"zero duration", []string{"resilience", "--lock-wait", "0s"}, "ip2adb: --lock-wait must be positive\n"},
		{"share above one", []string{"resilience", "--stale-ratio", "1.5"}, "ip2adb: --stale-ratio 1.5: want a share above 0 and at most 1\n"},
		{"zero share", []string{"resilience", "--dead-tuple-ratio", "0"}, "ip2adb: --dead-tuple-ratio 0: want a share above 0 and at most 1\n"},
		{"bloat ratio under one", []string{"resilience", "--bloat-ratio", "0.5"}, "ip2adb: --bloat-ratio must be at least 1\n"},
		{"connections inverted", []string{"resilience", "--connections-warn", "99"}, "ip2adb: connection warning threshold 99% is above the critical one 95%\n"},
		{"critical age over the limit", []string{"resilience", "--wraparound-critical-age", "3000000000"}, "ip2adb: wraparound thresholds must be positive (critical age at most 2^31)\n"},
		{"negative floor", []string{"resilience", "--stale-ratio-floor", "-1"}, "ip2adb: --stale-ratio-floor must be positive\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, runOpts{env: map[string]string{"IP2ADB_DATABASE_URL": url, "IP2ADB_FILES_ROOT": t.TempDir()}}, tc.args...)
			if r.Code != ExitUsage || r.Stdout != "" || tc.want != "" && r.Stderr != tc.want {
				t.Errorf("code %d stdout %q stderr %q; want 2, %q", r.Code, r.Stdout, r.Stderr, tc.want)
			}
		})
	}
}

func TestResilienceHelp(t *testing.T) {
	r := runCLI(t, runOpts{}, "resilience", "--help")
	for _, s := range []string{"Examples:", "--record-checksums", "--verify-bytes SIZE", "--export FILE", "ip2adb resilience --format json",
		"--create-extension", "--no-create-extension", "--stale-ratio SHARE", "--exact-bloat", "--amcheck-time DURATION"} {
		if !strings.Contains(r.Stdout, s) {
			t.Errorf("help lacks %q:\n%s", s, r.Stdout)
		}
	}
}

// TestResilienceProgressOnTerminal: hashing files draws a progress bar on a
// terminal (recording, then verifying) and nothing otherwise.
func TestResilienceProgressOnTerminal(t *testing.T) {
	env, _ := resilienceSetup(t, testdb.SQLiteURL(t, testdb.WithSchema()))
	r := runCLI(t, runOpts{env: env, tty: true}, "resilience", "--record-checksums")
	if r.Code != ExitOK {
		t.Fatalf("code %d\nstderr %s", r.Code, r.Stderr)
	}
	for _, want := range []string{"record checksums", "verify checksums", "files"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("progress on stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
	plain := runCLI(t, runOpts{env: env}, "resilience", "--record-checksums")
	if strings.Contains(plain.Stderr, "verify checksums") {
		t.Errorf("progress drawn without a terminal:\n%s", plain.Stderr)
	}
}

// TestResilienceCreateExtension: the report installs amcheck only when
// asked; --no-create-extension is accepted and changes nothing.
func TestResilienceCreateExtension(t *testing.T) {
	url := testdb.PostgresURL(t, testdb.WithSchema())
	env, _ := resilienceSetup(t, url)
	db := resilienceOpen(t, url)
	for _, tc := range []struct {
		args      []string
		installed int
		note      bool // the "amcheck not installed" info finding
	}{
		{[]string{}, 0, true},
		{[]string{"--no-create-extension"}, 0, true},
		{[]string{"--create-extension"}, 1, false},
	} {
		args := append([]string{"resilience", "--format", "json", "--connections-warn", "100", "--connections-critical", "100"}, tc.args...)
		r := runCLI(t, runOpts{env: env}, args...)
		if r.Code != ExitOK {
			t.Fatalf("%v: code %d\n%s\n%s", tc.args, r.Code, r.Stdout, r.Stderr)
		}
		if got := testdb.Count(t, db, "pg_extension", "extname = 'amcheck'"); got != tc.installed {
			t.Errorf("%v: amcheck installed %d, want %d", tc.args, got, tc.installed)
		}
		if got := strings.Contains(r.Stdout, "amcheck not installed"); got != tc.note {
			t.Errorf("%v: 'amcheck not installed' in the report = %v, want %v", tc.args, got, tc.note)
		}
	}
}

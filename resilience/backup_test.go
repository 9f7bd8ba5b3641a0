package resilience

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/testdb"
)

// pgDump dumps a fresh PostgreSQL test database with some rows into path.
func pgDump(t *testing.T, url, path string, args ...string) {
	t.Helper()
	cmd := exec.Command("pg_dump", append([]string{"--dbname=" + url, "--file=" + path}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v: %s", err, out)
	}
}

func setAge(t *testing.T, path string, age time.Duration) {
	t.Helper()
	m := now0.Add(-age)
	if err := os.Chtimes(path, m, m); err != nil {
		t.Fatal(err)
	}
}

func TestBackupStatus(t *testing.T) {
	url := testdb.PostgresURL(t, testdb.WithSchema())
	db := testdb.SQLite(t, testdb.WithSchema()) // the probe does not read the database
	dumps := t.TempDir()
	plain := filepath.Join(dumps, "plain.sql")
	custom := filepath.Join(dumps, "custom.dump")
	pgDump(t, url, plain)
	pgDump(t, url, custom, "-Fc")
	full, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	fullCustom, err := os.ReadFile(custom)
	if err != nil {
		t.Fatal(err)
	}

	type file struct {
		name string
		data []byte
		age  time.Duration
	}
	for _, tc := range []struct {
		name     string
		noDir    bool
		files    []file
		want     []string // severity: description of each finding
		format   any
		readable any
	}{
		{name: "missing dir", noDir: true, want: []string{"critical: The backup directory BACKUPS does not exist: no backups are being kept there"}},
		{name: "empty dir", want: []string{"critical: No backup (*.sql, *.dump, *.backup, *.tar, compressed .gz or .zst, or a pg_dump -Fd directory) found in BACKUPS"}},
		{name: "only other files", files: []file{{"notes.txt", []byte("x"), time.Hour}, {"old.sql.bak", []byte("x"), time.Hour}},
			want: []string{"critical: No backup (*.sql, *.dump, *.backup, *.tar, compressed .gz or .zst, or a pg_dump -Fd directory) found in BACKUPS"}},
		{name: "fresh plain pg_dump", files: []file{{"ip2a.sql", full, time.Hour}, {"older.dump", []byte("junk"), 100 * time.Hour}},
			format: FormatPlain, readable: true},
		{name: "fresh custom pg_dump", files: []file{{"ip2a.dump", fullCustom, time.Hour}}, format: FormatCustom, readable: true},
		{name: "47 hours old", files: []file{{"ip2a.sql", full, 47 * time.Hour}}, format: FormatPlain, readable: true},
		{name: "3 days old", files: []file{{"ip2a.sql", full, 72 * time.Hour}},
			want: []string{"warning: The newest backup ip2a.sql is 72 hours old (over 48 h)"}, format: FormatPlain, readable: true},
		{name: "8 days old", files: []file{{"ip2a.backup", fullCustom, 192 * time.Hour}},
			want: []string{"critical: The newest backup ip2a.backup is 192 hours old (over 168 h)"}, format: FormatCustom, readable: true},
		{name: "truncated plain", files: []file{{"ip2a.sql", full[:len(full)-200], time.Hour}},
			want:   []string{`critical: The newest backup ip2a.sql cannot be restored: incomplete: the file does not end with pg_dump's "-- PostgreSQL database dump complete" line (truncated or interrupted dump)`},
			format: FormatPlain, readable: false},
		{name: "truncated custom", files: []file{{"ip2a.dump", fullCustom[:len(fullCustom)*2/3], time.Hour}},
			format: FormatCustom, readable: false},
		{name: "garbage custom", files: []file{{"ip2a.dump", []byte("PGDMP garbage"), time.Hour}},
			format: FormatCustom, readable: false},
		{name: "empty file", files: []file{{"ip2a.sql", nil, time.Hour}},
			want: []string{"critical: The newest backup ip2a.sql cannot be restored: the file is empty"}, format: "empty", readable: false},
		{name: "sqlite dump", files: []file{{"ip2a.sql", []byte("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCOMMIT;\n"), time.Hour}},
			format: FormatPlain, readable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(t, db)
			if !tc.noDir {
				if err := os.MkdirAll(env.BackupDir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tc.files {
				p := filepath.Join(env.BackupDir, f.name)
				if err := os.WriteFile(p, f.data, 0o644); err != nil {
					t.Fatal(err)
				}
				setAge(t, p, f.age)
			}
			res := probeOnce(t, BackupStatus(Options{}), env)
			var got []string
			for _, f := range res.Findings {
				got = append(got, string(f.Severity)+": "+f.Description)
			}
			want := tc.want
			for i := range want {
				want[i] = strings.ReplaceAll(want[i], "BACKUPS", env.BackupDir)
			}
			if tc.name == "truncated custom" || tc.name == "garbage custom" {
				// pg_restore's own message: check the severity and the subject only.
				if len(got) != 1 || res.Findings[0].Severity != ip2adb.Critical || res.Findings[0].Details["error"] == "" {
					t.Fatalf("findings %v", got)
				}
				t.Logf("pg_restore said: %v", res.Findings[0].Details["error"])
				got = nil
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
			checkRecs(t, res.Findings)
			if res.Metrics["format"] != tc.format || res.Metrics["readable"] != tc.readable {
				t.Errorf("format %v readable %v; want %v, %v", res.Metrics["format"], res.Metrics["readable"], tc.format, tc.readable)
			}
		})
	}
}

// TestBackupStatusWithoutPgRestore: archives are read in Go, so a machine
// without the PostgreSQL client tools verifies them in full.
func TestBackupStatusWithoutPgRestore(t *testing.T) {
	url := testdb.PostgresURL(t, testdb.WithSchema())
	env := testEnv(t, nil)
	if err := os.MkdirAll(env.BackupDir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(env.BackupDir, "a.dump")
	pgDump(t, url, p, "-Fc")
	setAge(t, p, time.Hour)
	t.Setenv("PATH", t.TempDir())
	res := probeOnce(t, BackupStatus(Options{}), env)
	if len(res.Findings) != 0 || res.Metrics["format"] != FormatCustom || res.Metrics["readable"] != true ||
		!strings.HasPrefix(res.Metrics["verification"].(string), "archive 1.") {
		t.Errorf("findings %+v metrics %v", res.Findings, res.Metrics)
	}
}

func TestBackupStatusSQLiteCopy(t *testing.T) {
	src := testdb.SQLite(t, testdb.WithSchema())
	env := testEnv(t, src)
	if err := os.MkdirAll(env.BackupDir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(env.BackupDir, "ip2a.backup")
	testdb.MustExec(t, src, "VACUUM INTO '"+p+"'")
	setAge(t, p, time.Hour)
	res := probeOnce(t, BackupStatus(Options{}), env)
	if len(res.Findings) != 0 || res.Metrics["format"] != FormatSQLite || res.Metrics["readable"] != true {
		t.Errorf("findings %v metrics %v", res.Findings, res.Metrics)
	}
	// Damage the copy in the middle: quick_check fails.
	b, _ := os.ReadFile(p)
	for i := 4096; i < len(b) && i < 4096*3; i++ {
		b[i] = 0xff
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	setAge(t, p, time.Hour)
	res = probeOnce(t, BackupStatus(Options{}), env)
	if len(res.Findings) != 1 || res.Findings[0].Severity != ip2adb.Critical {
		t.Errorf("damaged copy: %v", res.Findings)
	}
}

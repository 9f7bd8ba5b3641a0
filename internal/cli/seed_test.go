package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/seed"
)

// countRows returns the row count of table in the database at url.
func countRows(t *testing.T, url, table string) int {
	t.Helper()
	db, err := dbx.Open(context.Background(), url, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return testdb.Count(t, db, table, "")
}

func TestSeedJSONManifestAndFiles(t *testing.T) {
	testdb.EachURL(t, func(t *testing.T, url string) {
		dir := t.TempDir()
		manifest := filepath.Join(t.TempDir(), "faults.json")
		r := runCLI(t, runOpts{}, "seed", "--quick", "--members", "30", "--organizations", "10", "--faults", "2",
			"--faults-manifest", manifest, "--files-dir", dir, "--seed", "9", "--db", url, "--format", "json")
		if r.Code != 0 {
			t.Fatalf("seed: code %d, stderr %s", r.Code, r.Stderr)
		}
		var out struct {
			Profile string `json:"profile"`
			Seed    int64  `json:"seed"`
			Tables  []struct {
				Table string `json:"table"`
				Rows  int64  `json:"rows"`
			} `json:"tables"`
			Rows           int64                    `json:"rows"`
			Files          int64                    `json:"files"`
			Faults         int                      `json:"faults"`
			FaultsManifest string                   `json:"faults_manifest"`
			Manifest       map[string][]interface{} `json:"manifest"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
			t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.Stdout)
		}
		if out.Profile != "quick" || out.Seed != 9 || out.Faults != 2 || out.FaultsManifest != manifest || out.Files == 0 {
			t.Errorf("report = %+v", out)
		}
		var sum int64
		for _, tb := range out.Tables {
			sum += tb.Rows
			if got := countRows(t, url, tb.Table); int64(got) != tb.Rows {
				t.Errorf("%s: report says %d rows, table has %d", tb.Table, tb.Rows, got)
			}
		}
		if sum != out.Rows || countRows(t, url, "members") != 30 || countRows(t, url, "organizations") != 10 {
			t.Errorf("rows: sum %d, total %d", sum, out.Rows)
		}
		b, err := os.ReadFile(manifest)
		if err != nil {
			t.Fatal(err)
		}
		var file map[string][]interface{}
		if err := json.Unmarshal(b, &file); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(out.Manifest, file); diff != "" {
			t.Errorf("manifest file differs from the JSON report (-report +file):\n%s", diff)
		}
		if len(file) != len(seed.FaultKinds()) {
			t.Errorf("manifest has %d kinds; want %d", len(file), len(seed.FaultKinds()))
		}
		for _, k := range seed.FaultKinds() {
			if len(file[k]) != 2 {
				t.Errorf("manifest %s: %v; want 2 entries", k, file[k])
			}
		}
	})
}

func TestSeedTextCreatesSQLiteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	r := runCLI(t, runOpts{}, "seed", "--profile", "quick", "--members", "12", "--db", "sqlite:"+path)
	if r.Code != 0 {
		t.Fatalf("seed: code %d, stderr %s", r.Code, r.Stderr)
	}
	for _, want := range []string{"Seeded profile quick (seed 42)", "table", "rows/s", "members", "12", "member_employments", "total"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.Stdout)
		}
	}
	if !strings.HasPrefix(r.Stderr, "ip2adb seed · env development · db sqlite:") {
		t.Errorf("stderr = %q; want the header", r.Stderr)
	}
	if n := countRows(t, "sqlite:"+path, "members"); n != 12 {
		t.Errorf("members = %d; want 12", n)
	}
}

func TestSeedProgressOnTerminal(t *testing.T) {
	url := testdb.SQLiteURL(t)
	r := runCLI(t, runOpts{tty: true}, "seed", "--quick", "--members", "15", "--db", url)
	if r.Code != 0 {
		t.Fatalf("seed: code %d, stderr %s", r.Code, r.Stderr)
	}
	for _, want := range []string{"members", "member_employments", "file_attachments", "rows"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("progress on stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
	plain := runCLI(t, runOpts{}, "seed", "--quick", "--members", "15", "--db", url)
	if strings.Contains(plain.Stderr, "member_employments") {
		t.Errorf("progress drawn without a terminal:\n%s", plain.Stderr)
	}
}

func TestSeedUsageErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown profile", []string{"--profile", "huge"}, nil, `--profile: unknown profile "huge" (want quick, normal or stress)`},
		{"conflicting aliases", []string{"--stress", "--quick"}, nil, "--quick conflicts with --profile stress"},
		{"alias against profile", []string{"--profile", "normal", "--stress"}, nil, "--stress conflicts with --profile normal"},
		{"zero members", []string{"--members", "0"}, nil, "--members must be between 1 and 1000000, not 0"},
		{"negative students", []string{"--students", "-4"}, nil, "--students must be between 1 and 1000000, not -4"},
		{"not a number", []string{"--members", "many"}, nil, `invalid value "many" for flag -members`},
		{"negative faults", []string{"--faults", "-1"}, nil, "faults must not be negative, got -1"},
		{"too many faults", []string{"--quick", "--faults", "8"}, nil, "8 faults of every kind need at least 104 members, have 100"},
		{"file scale", []string{"--file-scale", "0"}, nil, "--file-scale must be in (0, 1], not 0"},
		{"seed zero", []string{"--seed", "0"}, nil, "--seed must not be 0"},
		{"missing files dir", []string{"--files-dir", missing}, nil, "--files-dir " + missing + ": no such directory"},
		{"manifest dir", []string{"--faults-manifest", filepath.Join(missing, "m.json")}, nil, "--faults-manifest " + filepath.Join(missing, "m.json") + ": directory " + missing + " does not exist"},
		{"production", []string{"--quick"}, map[string]string{"IP2ADB_ENV": "production"}, "refusing to seed the database in production without --force"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.db")
			r := runCLI(t, runOpts{env: tc.env}, append([]string{"seed", "--db", "sqlite:" + path}, tc.args...)...)
			if r.Code != ExitUsage || r.Stdout != "" || !strings.Contains(r.Stderr, tc.want) || strings.Count(r.Stderr, "\n") != 1 {
				t.Errorf("code %d stdout %q stderr %q; want 2 and one line with %q", r.Code, r.Stdout, r.Stderr, tc.want)
			}
			if _, err := os.Stat(path); err == nil {
				t.Errorf("the database file was created")
			}
		})
	}
}

func TestSeedProductionWithForce(t *testing.T) {
	url := testdb.SQLiteURL(t)
	r := runCLI(t, runOpts{env: map[string]string{"IP2ADB_ENV": "production"}}, "seed", "--quick", "--members", "10", "--force", "--db", url)
	if r.Code != 0 || countRows(t, url, "members") != 10 {
		t.Errorf("code %d stderr %s", r.Code, r.Stderr)
	}
}

func TestReset(t *testing.T) {
	testdb.EachURL(t, func(t *testing.T, url string) {
		seeded := func() {
			t.Helper()
			if r := runCLI(t, runOpts{}, "seed", "--quick", "--members", "10", "--organizations", "5", "--db", url); r.Code != 0 {
				t.Fatalf("seed: %s", r.Stderr)
			}
		}
		seeded()
		prod := map[string]string{"IP2ADB_ENV": "production"}
		for _, tc := range []struct {
			name   string
			o      runOpts
			args   []string
			code   int
			stderr string
		}{
			{"no terminal, no force", runOpts{}, nil, ExitUsage, "ip2adb: reset deletes every row; without a terminal to confirm on, pass --force\n"},
			{"production", runOpts{env: prod, tty: true, stdin: "DELETE ALL DATA\n"}, nil, ExitUsage, "ip2adb: refusing to reset the database in production without --force\n"},
			{"wrong confirmation", runOpts{tty: true, stdin: "delete all data\n"}, nil, ExitCritical, "ip2adb: reset aborted: confirmation did not match; nothing changed\n"},
			{"no answer", runOpts{tty: true}, nil, ExitCritical, "ip2adb: reset aborted: confirmation did not match; nothing changed\n"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := runCLI(t, tc.o, append([]string{"reset", "--db", url}, tc.args...)...)
				if r.Code != tc.code || !strings.HasSuffix(r.Stderr, tc.stderr) || r.Stdout != "" {
					t.Errorf("code %d stdout %q stderr %q; want %d and %q", r.Code, r.Stdout, r.Stderr, tc.code, tc.stderr)
				}
				if n := countRows(t, url, "members"); n != 10 {
					t.Errorf("members = %d after a refused reset; want 10", n)
				}
			})
		}
		r := runCLI(t, runOpts{tty: true, stdin: "DELETE ALL DATA\n"}, "reset", "--db", url)
		if r.Code != 0 || !strings.Contains(r.Stderr, "Type DELETE ALL DATA to confirm: ") ||
			!strings.Contains(r.Stdout, "Reset: 9 tables emptied") || !strings.Contains(r.Stdout, "members") {
			t.Errorf("confirmed reset: code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		if n := countRows(t, url, "members") + countRows(t, url, "member_employments"); n != 0 {
			t.Errorf("%d rows left after reset", n)
		}
		seeded()
		r = runCLI(t, runOpts{env: prod}, "reset", "--force", "--format", "json", "--db", url)
		var out struct {
			Tables []struct {
				Table string `json:"table"`
				Rows  int64  `json:"rows_deleted"`
			} `json:"tables"`
			Rows int64 `json:"rows_deleted"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || r.Code != 0 {
			t.Fatalf("forced reset: code %d, %v, stdout %q stderr %q", r.Code, err, r.Stdout, r.Stderr)
		}
		if len(out.Tables) != 9 || out.Tables[4].Table != "members" || out.Tables[4].Rows != 10 || out.Rows < 100 {
			t.Errorf("reset JSON = %+v", out)
		}
		if n := countRows(t, url, "members"); n != 0 {
			t.Errorf("members = %d after a forced reset", n)
		}
	})
}

func TestResetMissingDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.db")
	r := runCLI(t, runOpts{}, "reset", "--force", "--db", "sqlite:"+path)
	if r.Code != ExitUsage || !strings.Contains(r.Stderr, "does not exist") {
		t.Errorf("code %d stderr %q", r.Code, r.Stderr)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("reset created the database file")
	}
}

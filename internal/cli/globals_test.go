package cli

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/urfave/cli/v2"
)

// probe runs the real application with an extra "probe" command that
// resolves and returns the globals and prints the header, so flag placement
// and environment handling are tested through urfave/cli itself.
func probe(t *testing.T, env map[string]string, args ...string) (Globals, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{env: Env{
		Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
		Now:    func() time.Time { return time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC) },
	}}
	var got Globals
	ca := a.cliApp()
	ca.Commands = append(ca.Commands, &cli.Command{
		Name: "probe", Flags: globalFlags(), OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			g, err := a.globals(c)
			if err != nil {
				return err
			}
			got = g
			a.header(c, g)
			a.flushHeader()
			return a.guard(g, false, "probe")
		},
	})
	code := a.report(ca.RunContext(context.Background(), append([]string{"ip2adb"}, args...)))
	return got, errb.String(), code
}

func TestGlobalsPlacementAndEnvironment(t *testing.T) {
	def := Globals{DB: "sqlite:ip2adb.db", DBDefault: true, Env: "development", LogDir: "logs",
		FilesRoot: ".", BackupDir: "backups", Format: "text"}
	with := func(f func(*Globals)) Globals { g := def; f(&g); return g }
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want Globals
	}{
		{"defaults", nil, []string{"probe"}, def},
		{"before command", nil, []string{"--db", "sqlite:x.db", "--format", "json", "probe"},
			with(func(g *Globals) { g.DB, g.DBDefault, g.Format = "sqlite:x.db", false, "json" })},
		{"after command", nil, []string{"probe", "--db", "sqlite:x.db", "--log-dir", "/var/log/ip2a", "--verbose"},
			with(func(g *Globals) { g.DB, g.DBDefault, g.LogDir, g.Verbose = "sqlite:x.db", false, "/var/log/ip2a", true })},
		{"after wins over before", nil, []string{"--files-root", "/a", "probe", "--files-root", "/b"},
			with(func(g *Globals) { g.FilesRoot = "/b" })},
		{"environment", map[string]string{"IP2ADB_DATABASE_URL": "sqlite:env.db", "IP2ADB_ENV": "test",
			"IP2ADB_LOG_DIR": "L", "IP2ADB_FILES_ROOT": "F", "IP2ADB_BACKUP_DIR": "B", "IP2ADB_NOTIFY": "log:, https://h.example/x"},
			[]string{"probe"},
			Globals{DB: "sqlite:env.db", Env: "test", LogDir: "L", FilesRoot: "F", BackupDir: "B",
				Notify: []string{"log:", "https://h.example/x"}, Format: "text"}},
		{"DATABASE_URL fallback", map[string]string{"DATABASE_URL": "postgres://h/d"}, []string{"probe"},
			with(func(g *Globals) { g.DB, g.DBDefault = "postgres://h/d", false })},
		{"flag beats environment", map[string]string{"IP2ADB_DATABASE_URL": "sqlite:env.db"}, []string{"probe", "--db", "sqlite:flag.db"},
			with(func(g *Globals) { g.DB, g.DBDefault = "sqlite:flag.db", false })},
		{"commas inside a URL's query", map[string]string{"IP2ADB_NOTIFY": "smtp://h:25/?from=a@x.org&to=b@x.org, c@x.org,https://h.example/x?tags=a,b"},
			[]string{"probe"},
			with(func(g *Globals) {
				g.Notify = []string{"smtp://h:25/?from=a@x.org&to=b@x.org,c@x.org", "https://h.example/x?tags=a,b"}
			})},
		{"flag with several recipients", nil, []string{"probe", "--notify", "smtp://h:25/?from=a@x.org&to=b@x.org,c@x.org", "--notify", "log:"},
			with(func(g *Globals) { g.Notify = []string{"smtp://h:25/?from=a@x.org&to=b@x.org,c@x.org", "log:"} })},
		{"a stray piece stays a (bad) URL of its own", nil, []string{"probe", "--notify", "log:,garbage"},
			with(func(g *Globals) { g.Notify = []string{"log:", "garbage"} })},
		{"repeatable notify at both places", nil, []string{"--notify", "log:", "probe", "--notify", "slack:https://hooks.slack.com/services/T/B/X"},
			with(func(g *Globals) { g.Notify = []string{"log:", "slack:https://hooks.slack.com/services/T/B/X"} })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, stderr, code := probe(t, tc.env, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("globals (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGlobalsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad format", nil, []string{"probe", "--format", "yaml"}, "ip2adb: unknown format \"yaml\" (want text or json)\n"},
		{"bad env", map[string]string{"IP2ADB_ENV": "prod"}, []string{"probe"}, "ip2adb: unknown environment \"prod\" (want development, test or production)\n"},
		{"production guard", nil, []string{"probe", "--env", "production"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := probe(t, tc.env, tc.args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want 2", code)
			}
			if tc.want != "" && stderr != tc.want {
				t.Errorf("stderr %q, want %q", stderr, tc.want)
			}
		})
	}
}

func TestHeaderRedactsPassword(t *testing.T) {
	_, stderr, code := probe(t, nil, "probe", "--db", "postgres://ip2a:hunter2@db.example.org/ip2a")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "ip2adb probe · env development · db postgres://ip2a:<redacted>@db.example.org/ip2a · 2026-11-28 02:00:00 UTC\n"
	if stderr != want {
		t.Errorf("header %q, want %q", stderr, want)
	}
	_, stderr, _ = probe(t, nil, "probe")
	if want := "ip2adb probe · env development · db sqlite:ip2adb.db (embedded default) · 2026-11-28 02:00:00 UTC\n"; stderr != want {
		t.Errorf("default header %q, want %q", stderr, want)
	}
	_, stderr, _ = probe(t, nil, "probe", "--env", "production")
	if want := "refusing to probe in production without --force"; !bytes.Contains([]byte(stderr), []byte(want)) {
		t.Errorf("production guard: stderr %q lacks %q", stderr, want)
	}
}

// TestIsTerminalDevNull: /dev/null is a character device but not a
// terminal; "cmd < /dev/null" (cron, scripts) must not count as interactive.
func TestIsTerminalDevNull(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if isTerminal(f) {
		t.Errorf("isTerminal(%s) = true, want false", os.DevNull)
	}
}

package cli

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/notify"
	"github.com/jmoiron/sqlx"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// Globals is the resolved global configuration of one invocation.
type Globals struct {
	DB        string        // database URL
	DBDefault bool          // DB is the embedded default
	Env       string        // development, test or production
	LogDir    string        // history, notifications and metrics
	FilesRoot string        // attachment paths are relative to it
	BackupDir string        // where backups are looked for
	Notify    []string      // notification channel URLs
	Format    ip2adb.Format // text or json
	Verbose   bool
	// MetricsFile, when set, receives the metrics (node_exporter textfile
	// format) once the command has run.
	MetricsFile string
}

// JSON reports whether machine output was asked for.
func (g Globals) JSON() bool { return g.Format == ip2adb.JSON }

// Production reports whether the environment is production.
func (g Globals) Production() bool { return g.Env == "production" }

// globalFlags returns fresh copies of the global flags; every command gets
// its own so that they work before or after the command name. Environment
// variables are resolved by resolveGlobals, not by urfave/cli, so that an
// explicit flag always wins at either position.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "db", Usage: "database `URL`: postgres://…, postgresql://…, sqlite:PATH (env IP2ADB_DATABASE_URL, then DATABASE_URL; default " + dbx.DefaultURL + ")"},
		&cli.StringFlag{Name: "env", Usage: "environment `NAME`: development, test or production (env IP2ADB_ENV; default development)"},
		&cli.StringFlag{Name: "log-dir", Usage: "`DIR` for history, notifications and metrics (env IP2ADB_LOG_DIR; default ./logs)"},
		&cli.StringFlag{Name: "files-root", Usage: "`DIR` or s3://BUCKET[/PREFIX] attachment paths are relative to (env IP2ADB_FILES_ROOT; default .; S3 credentials, region and endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL or AWS_PROFILE)"},
		&cli.StringFlag{Name: "backup-dir", Usage: "`DIR` holding database backups (env IP2ADB_BACKUP_DIR; default ./backups)"},
		&cli.StringSliceFlag{Name: "notify", Usage: "notification channel `URL`, repeatable: log:, smtp://…, slack:https://…, https://… (env IP2ADB_NOTIFY, comma-separated)"},
		&cli.StringFlag{Name: "format", Usage: "output `FORMAT`: text or json (default text)"},
		&cli.BoolFlag{Name: "verbose", Usage: "log debug detail to stderr"},
		&cli.StringFlag{Name: "metrics-file", Usage: "after the command, write the Prometheus metrics to `PATH` (node_exporter textfile format, atomically; env IP2ADB_METRICS_FILE)"},
	}
}

// lookup returns the value of a global string flag set explicitly on the
// command or before it, the nearest winning.
func lookup(c *cli.Context, name string) (string, bool) {
	for _, cc := range c.Lineage() {
		if cc == nil || cc.Command == nil && cc.App == nil {
			continue
		}
		if slices.Contains(cc.LocalFlagNames(), name) {
			return cc.String(name), true
		}
	}
	return "", false
}

func lookupSlice(c *cli.Context, name string) ([]string, bool) {
	var out []string
	found := false
	for _, cc := range c.Lineage() {
		if cc == nil {
			continue
		}
		if slices.Contains(cc.LocalFlagNames(), name) {
			out = append(cc.StringSlice(name), out...)
			found = true
		}
	}
	return out, found
}

func lookupBool(c *cli.Context, name string) bool {
	for _, cc := range c.Lineage() {
		if cc != nil && slices.Contains(cc.LocalFlagNames(), name) && cc.Bool(name) {
			return true
		}
	}
	return false
}

// globals resolves the global configuration: flag, then environment, then
// default. It validates what it can without touching anything.
func (a *app) globals(c *cli.Context) (Globals, error) {
	get := func(flag, def string, envs ...string) string {
		if v, ok := lookup(c, flag); ok {
			return v
		}
		for _, e := range envs {
			if v := a.env.Getenv(e); v != "" {
				return v
			}
		}
		return def
	}
	g := Globals{
		DB:        get("db", "", "IP2ADB_DATABASE_URL", "DATABASE_URL"),
		Env:       get("env", "development", "IP2ADB_ENV"),
		LogDir:    get("log-dir", "logs", "IP2ADB_LOG_DIR"),
		FilesRoot: get("files-root", ".", "IP2ADB_FILES_ROOT"),
		BackupDir: get("backup-dir", "backups", "IP2ADB_BACKUP_DIR"),
		Format:    ip2adb.Format(get("format", "text")),
		Verbose:   lookupBool(c, "verbose"),

		MetricsFile: get("metrics-file", "", "IP2ADB_METRICS_FILE"),
	}
	if g.DB == "" {
		g.DB, g.DBDefault = dbx.DefaultURL, true
	}
	// urfave/cli splits --notify values at commas, also inside a URL's
	// query: rejoined, they split as IP2ADB_NOTIFY does.
	if v, ok := lookupSlice(c, "notify"); ok {
		g.Notify = notify.SplitChannelURLs(strings.Join(v, ","))
	} else if v := a.env.Getenv("IP2ADB_NOTIFY"); v != "" {
		g.Notify = notify.SplitChannelURLs(v)
	}
	switch g.Env {
	case "development", "test", "production":
	default:
		return g, usagef("unknown environment %q (want development, test or production)", g.Env)
	}
	if _, err := ip2adb.ParseFormat(string(g.Format)); err != nil {
		return g, err
	}
	return g, nil
}

// header prepares the line that says what the command works on (command,
// environment, redacted database, time); it is printed on stderr in text
// mode once the database has been opened (or by flushHeader), so that bad
// input yields exactly one line on stderr.
func (a *app) header(c *cli.Context, g Globals) {
	if g.JSON() {
		return
	}
	db := dbx.Redact(g.DB)
	if g.DBDefault {
		db += " (embedded default)"
	}
	a.pendingHeader = fmt.Sprintf("ip2adb %s · env %s · db %s · %s\n",
		c.Command.Name, g.Env, db, a.env.Now().UTC().Format("2006-01-02 15:04:05 MST"))
}

// flushHeader prints the prepared header, if any, once.
func (a *app) flushHeader() {
	if a.pendingHeader != "" {
		fmt.Fprint(a.env.Stderr, a.pendingHeader)
		a.pendingHeader = ""
	}
}

// guard refuses destructive work in production without --force.
func (a *app) guard(g Globals, force bool, what string) error {
	if g.Production() && !force {
		return usagef("refusing to %s in production without --force", what)
	}
	return nil
}

// open connects to the configured database; create allows a new SQLite file.
// The prepared header is printed once the connection works.
func (a *app) open(ctx context.Context, g Globals, create bool) (*sqlx.DB, error) {
	db, err := dbx.Open(ctx, g.DB, dbx.OpenOptions{Create: create})
	if err == nil {
		a.flushHeader()
	}
	return db, err
}

// openReadOnly connects to the configured database for a command that only
// reads: a SQLite file is opened read-only (nothing is written to it, not
// even the switch to WAL). The prepared header is printed once the
// connection works.
func (a *app) openReadOnly(ctx context.Context, g Globals) (*sqlx.DB, error) {
	db, err := dbx.Open(ctx, g.DB, dbx.OpenOptions{ReadOnly: true})
	if err == nil {
		a.flushHeader()
	}
	return db, err
}

// writeJSON prints v as the one JSON object on stdout.
func (a *app) writeJSON(v any) error { return ip2adb.WriteJSON(a.env.Stdout, v) }

// openFiles opens --files-root (a directory or s3://BUCKET[/PREFIX], whose
// credentials come from the AWS_* variables) once per invocation and keeps
// it for the run. A root that cannot be opened — no such directory, wrong
// credentials, a missing bucket, an unreachable endpoint — is a usage
// error of one line without secrets, before anything is changed.
func (a *app) openFiles(ctx context.Context, g Globals) (filestore.Handle, error) {
	if a.files != nil {
		return a.files, nil
	}
	if !filestore.IsS3(g.FilesRoot) {
		if err := requireDir("files-root", g.FilesRoot); err != nil {
			return nil, err
		}
	}
	h, err := filestore.Open(ctx, g.FilesRoot, a.env.Getenv)
	if err != nil {
		return nil, usagef("--files-root: %v", err)
	}
	a.files = h
	return h, nil
}

// closeFiles closes the store openFiles opened, if any.
func (a *app) closeFiles() {
	if a.files != nil {
		a.files.Close()
		a.files = nil
	}
}

// requireDir checks that dir exists and is a directory (usage error if not).
func requireDir(flag, dir string) error {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return usagef("--%s %s: no such directory", flag, dir)
	}
	return nil
}

// isTerminal reports whether f is a terminal. A character device is not
// enough: /dev/null is one, and cron jobs and scripts redirect from it.
func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}

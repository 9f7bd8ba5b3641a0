package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/go-logr/logr"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/notify"
	"github.com/ip2adb/ip2adb/resilience"
	"github.com/ip2adb/ip2adb/service"
	"github.com/jmoiron/sqlx"
	"github.com/urfave/cli/v2"
)

func (a *app) serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run auto-heal and resilience on schedules; serve health, metrics and a status page",
		UsageText: `ip2adb serve [--listen 127.0.0.1:8080] [--heal-schedule SPEC] [--resilience-schedule SPEC]
             [--auth-token TOKEN] [auto-heal flags] [resilience flags]

Runs the auto-heal cycle and the resilience report on schedules — the very
runs of "ip2adb auto-heal" and "ip2adb resilience", with the same journal,
history, notifications and run lock — and serves:

   GET  /healthz    200 while the process serves
   GET  /readyz     200 when the database answers, else 503 and why
   GET  /metrics    Prometheus metrics (ip2adb_*, process and Go)
   GET  /           the status page (needs the token when one is set)
   POST /api/runs?kind=heal|resilience
                    runs now and answers the JSON report; needs
                    "Authorization: Bearer TOKEN" (404 without --auth-token)

SPEC is a cron expression in UTC ("0 2 * * *") or @hourly, @daily, @weekly,
@every 6h. A scheduled heal is skipped (logged, counted in
ip2adb_runs_skipped_total) while another run holds the run lock; a cron run
keeps exiting 1 with "another run holds the lock". An unreachable database
at start-up does not stop the service: it retries and /readyz answers 503.

The listener is loopback by default; any other address needs --auth-token
(at least 16 characters; prefer IP2ADB_AUTH_TOKEN to the flag, which other
users can see in the process list). / and /api also accept a Host header
only when it is an IP address, localhost, the --listen host or an
--allowed-host (against DNS rebinding). In a browser, give the token as
the password of the login prompt (any user name).

SIGTERM or SIGINT stops new runs, cancels a run in flight (its transaction
rolls back, the lock is released) and exits 0.

Environment: IP2ADB_LISTEN, IP2ADB_HEAL_SCHEDULE, IP2ADB_RESILIENCE_SCHEDULE,
IP2ADB_AUTH_TOKEN, IP2ADB_ALLOWED_HOSTS (comma-separated), and the global
ones.

Exit codes: 0 stopped by a signal; 1 serving failed; 2 bad input (bad
flag, schedule or URL, non-loopback listener without a token, address in
use).

Examples:
   ip2adb serve
   ip2adb serve --heal-schedule "0 2 * * *" --resilience-schedule @weekly --no-files
   IP2ADB_AUTH_TOKEN=$(cat /etc/ip2adb/token) ip2adb serve --listen 0.0.0.0:8080 --allowed-host ip2adb.local46.org
   curl -X POST -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/runs?kind=heal'`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "listen", Usage: "`HOST:PORT` to serve on (env IP2ADB_LISTEN; default " + service.DefaultListen + ")"},
			&cli.StringFlag{Name: "heal-schedule", Usage: "when auto-heal runs: cron `SPEC` or @daily, @every 6h … (env IP2ADB_HEAL_SCHEDULE; default " + service.DefaultHealSchedule + ")"},
			&cli.StringFlag{Name: "resilience-schedule", Usage: "when the resilience report runs: cron `SPEC` (env IP2ADB_RESILIENCE_SCHEDULE; default " + service.DefaultResilienceSchedule + ")"},
			&cli.StringFlag{Name: "auth-token", Usage: "`TOKEN` that / and /api require; needed for a non-loopback --listen (env IP2ADB_AUTH_TOKEN)"},
			&cli.StringSliceFlag{Name: "allowed-host", Usage: "host `NAME` the status page may be reached by, besides IP addresses and localhost (repeatable; env IP2ADB_ALLOWED_HOSTS)"},
			&cli.BoolFlag{Name: "no-files", Usage: "scheduled heals skip the check that reads the file store (attachment.file_missing)"},
			&cli.IntFlag{Name: "max-issues", Value: integrity.DefaultMaxIssues, Usage: "sample issues kept per check (`N`; counts stay full)"},
			&cli.DurationFlag{Name: "repeat-interval", Value: notify.DefaultRepeatInterval, Usage: "re-send an unchanged notification after `D`"},
			notifyMaxIssuesFlag(),
		}, append(timeoutFlags(), resilienceFlags()...)...),
		Action: a.serveAction,
	}
}

// flagOrEnv is the value of a command flag when set, else of the
// environment variable env, else def.
func (a *app) flagOrEnv(c *cli.Context, name, env, def string) string {
	if c.IsSet(name) {
		return c.String(name)
	}
	if v := a.env.Getenv(env); v != "" {
		return v
	}
	return def
}

func (a *app) serveAction(c *cli.Context) error {
	g, err := a.globals(c)
	if err != nil {
		return err
	}
	if c.Int("max-issues") < 0 {
		return usagef("--max-issues must be 0 or more, not %d", c.Int("max-issues"))
	}
	if c.Duration("repeat-interval") <= 0 {
		return usagef("--repeat-interval must be positive, not %s", c.Duration("repeat-interval"))
	}
	tmo, err := a.timeouts(c)
	if err != nil {
		return err
	}
	opt, err := resilienceOptions(c)
	if err != nil {
		return err
	}
	if _, err := resilience.Probes(opt); err != nil {
		return err
	}
	if _, err := a.openFiles(c.Context, g); err != nil {
		return err
	}
	if err := heal.CheckLogDir(g.LogDir); err != nil {
		return err
	}
	listen := a.flagOrEnv(c, "listen", "IP2ADB_LISTEN", service.DefaultListen)
	token := a.flagOrEnv(c, "auth-token", "IP2ADB_AUTH_TOKEN", "")
	if err := service.CheckListen(listen, token); err != nil {
		return err
	}
	hosts := c.StringSlice("allowed-host")
	if !c.IsSet("allowed-host") && a.env.Getenv("IP2ADB_ALLOWED_HOSTS") != "" {
		hosts = strings.Split(a.env.Getenv("IP2ADB_ALLOWED_HOSTS"), ",")
	}
	if err := dbx.Validate(g.DB); err != nil {
		return err
	}
	alerter, err := a.alerter(c, g, c.Duration("repeat-interval"))
	if err != nil {
		return err
	}
	noFiles, maxIssuesFlag, probeTimeout := c.Bool("no-files"), c.Int("max-issues"), c.Duration("probe-timeout")
	cfg := service.Config{
		Connect: func(ctx context.Context) (*sqlx.DB, error) {
			return dbx.Open(ctx, g.DB, dbx.OpenOptions{})
		},
		Heal: func(ctx context.Context, db *sqlx.DB) (heal.Result, error) {
			cy := a.autoHealCycle(g, db, noFiles, maxIssuesFlag, tmo, alerter)
			m, err := schemaModel(ctx, db, cy.Checks)
			if err != nil {
				return heal.Result{Started: a.env.Now().UTC()}, fmt.Errorf("read the schema: %w", err)
			}
			cy.Model = m
			return cy.Run(ctx)
		},
		Resilience: func(ctx context.Context, db *sqlx.DB) (resilience.Report, error) {
			return runResilience(ctx, a.resilienceEnv(g, db, nil), opt, probeTimeout)
		},
		HealSchedule:       a.flagOrEnv(c, "heal-schedule", "IP2ADB_HEAL_SCHEDULE", service.DefaultHealSchedule),
		ResilienceSchedule: a.flagOrEnv(c, "resilience-schedule", "IP2ADB_RESILIENCE_SCHEDULE", service.DefaultResilienceSchedule),
		LogDir:             g.LogDir,
		MetricsFile:        g.MetricsFile,
		Listen:             listen,
		AuthToken:          token,
		AllowedHosts:       hosts,
		Info:               service.PageInfo{Database: dbx.Redact(g.DB), Environment: g.Env, Version: buildVersion()},
		Now:                a.env.Now,
		Log:                a.serviceLogger(g),
	}
	svc, err := service.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return usagef("listen on %s: %v", listen, err)
	}
	a.header(c, g)
	a.flushHeader()
	fmt.Fprintf(a.env.Stderr, "serving on http://%s · heal %s · resilience %s\n", ln.Addr(), cfg.HealSchedule, cfg.ResilienceSchedule)
	if err := svc.Serve(c.Context, ln); err != nil {
		return err
	}
	fmt.Fprintln(a.env.Stderr, "stopped")
	return nil
}

// serviceLogger is the service's log on stderr: what it does at info
// level (a service has no report to print), debug detail with --verbose.
func (a *app) serviceLogger(g Globals) logr.Logger {
	level := slog.LevelInfo
	if g.Verbose {
		level = slog.LevelDebug
	}
	return logr.FromSlogHandler(slog.NewTextHandler(a.env.Stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: debugLevelName}))
}

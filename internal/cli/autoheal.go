package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/notify"
	"github.com/jmoiron/sqlx"
	"github.com/urfave/cli/v2"
)

// pauseEnv names the crash-test hook: with IP2ADB_TEST_PAUSE_AFTER_STEP=N a
// repair run prints "paused after repair step N" on stderr once step N has
// executed (inside the still-open transaction) and waits until it is
// killed or interrupted. The crash tests use it to SIGKILL the process
// mid-transaction deterministically; it changes nothing else. Only a
// binary built with -tags ip2adb_crashtest has the hook (pause_hook.go):
// the release binary ignores the variable.
const pauseEnv = "IP2ADB_TEST_PAUSE_AFTER_STEP"

func (a *app) autoHealCommand() *cli.Command {
	return &cli.Command{
		Name:  "auto-heal",
		Usage: "one auto-heal cycle: check, repair what is safe (journaled), alert about the rest",
		UsageText: `ip2adb auto-heal [--dry-run] [--no-files] [--max-issues N] [--if-due D] [--repeat-interval D] [--notify-max-issues N]
ip2adb auto-heal --summary [--days 7]

Takes the run lock, runs the 22 integrity checks, repairs every auto-fixable
rule in one transaction together with its journal (undo it with
"ip2adb undo RUN_ID"), re-checks the repaired rules, notifies the configured
channels about what remains and appends the run to
<log-dir>/auto_heal/YYYY-MM-DD_auto_heal.jsonl. --dry-run executes the same
statements and rolls back: true counts, nothing changed, nothing sent.
A notification carries at most --notify-max-issues issues (default 100):
issue_count stays the full count, issues_truncated says how many were left
out. Dedup is kept per channel: a channel that failed is retried on the next
run, those that delivered stay quiet until the repeat interval.
Allowed in production (every change is journaled).

Exit codes: 0 no critical issue remains; 1 critical issues remain, a check
failed, the run failed, a notification could not be delivered (the next run
retries that channel) or another run holds the lock; 2 bad input.

Examples:
   ip2adb auto-heal --dry-run
   ip2adb auto-heal --no-files --format json
   ip2adb auto-heal --if-due 24h --notify slack:https://hooks.slack.com/services/…   # from cron, hourly
   ip2adb auto-heal --summary`,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Usage: "execute the repairs and roll back: report true counts, change nothing"},
			&cli.BoolFlag{Name: "no-files", Usage: "skip the check that reads the file store (attachment.file_missing)"},
			&cli.BoolFlag{Name: "summary", Usage: "print the health summary of recent runs instead of running"},
			&cli.IntFlag{Name: "days", Value: heal.DefaultSummaryDays, Usage: "with --summary: the period in `DAYS`"},
			&cli.DurationFlag{Name: "if-due", Usage: "run only when the last successful run is at least `D` old (e.g. 24h)"},
			&cli.IntFlag{Name: "max-issues", Value: integrity.DefaultMaxIssues, Usage: "sample issues kept per check (`N`; counts stay full)"},
			&cli.DurationFlag{Name: "repeat-interval", Value: notify.DefaultRepeatInterval, Usage: "re-send an unchanged notification after `D`"},
			notifyMaxIssuesFlag(),
		}, timeoutFlags()...),
		Action: func(c *cli.Context) error {
			g, err := a.globals(c)
			if err != nil {
				return err
			}
			if c.Args().Present() {
				return usagef("auto-heal takes no arguments, got %q", c.Args().First())
			}
			if c.Int("max-issues") < 0 {
				return usagef("--max-issues must be 0 or more, not %d", c.Int("max-issues"))
			}
			if c.IsSet("if-due") && c.Duration("if-due") <= 0 {
				return usagef("--if-due must be positive, not %s", c.Duration("if-due"))
			}
			if c.Duration("repeat-interval") <= 0 {
				return usagef("--repeat-interval must be positive, not %s", c.Duration("repeat-interval"))
			}
			tmo, err := a.timeouts(c)
			if err != nil {
				return err
			}
			if c.Bool("summary") {
				return a.printSummary(g, c.Int("days"), nil)
			}
			if !c.Bool("no-files") {
				if _, err := a.openFiles(c.Context, g); err != nil {
					return err
				}
			}
			if err := heal.CheckLogDir(g.LogDir); err != nil {
				return err
			}
			if c.IsSet("if-due") {
				due, err := heal.CheckDue(g.LogDir, c.Duration("if-due"), a.env.Now())
				if err != nil {
					return err
				}
				if due.Warning != "" {
					a.warn(due.Warning)
				}
				if last := due.LastRun; !due.Due {
					next := last.Add(c.Duration("if-due")).UTC()
					if g.JSON() {
						return a.writeJSON(map[string]any{"due": false, "last_run": last.UTC(), "next_due": next})
					}
					fmt.Fprintf(a.env.Stderr, "auto-heal not due: last run %s, next due %s\n",
						last.UTC().Format(time.DateTime+" MST"), next.Format(time.DateTime+" MST"))
					return nil
				}
			}
			alerter, err := a.alerter(c, g, c.Duration("repeat-interval"))
			if err != nil {
				return err
			}
			a.header(c, g)
			db, err := a.open(c.Context, g, false)
			if err != nil {
				return err
			}
			defer db.Close()
			cy := a.autoHealCycle(g, db, c.Bool("no-files"), c.Int("max-issues"), tmo, alerter)
			cy.DryRun = c.Bool("dry-run")
			return a.finishRun(c.Context, g, cy, "auto-heal", "")
		},
	}
}

// newCycle is the heal.Cycle of the CLI's runs over the IP2A rules (kind
// heal.KindHeal or heal.KindRepair): the rules read --files-root unless
// noFiles, and the run uses the app's clock, logger and repairer (with its
// crash-test hook). Callers set the rest (MaxIssues, DryRun, Alerter,
// LogDir, Choose).
func (a *app) newCycle(g Globals, db *sqlx.DB, kind string, noFiles bool) *heal.Cycle {
	return &heal.Cycle{
		DB:       db,
		Checks:   a.rules(g, noFiles),
		Kind:     kind,
		Repairer: a.repairer(),
		Now:      a.env.Now,
		Log:      a.logger(g),
	}
}

// autoHealCycle is the heal.Cycle of one auto-heal run, as the auto-heal
// command and serve's scheduled runs make it: the IP2A rules (without the
// file check when noFiles), maxIssues samples per check (the --max-issues
// flag), the statement and lock timeouts, the alerter, and the history
// under --log-dir.
func (a *app) autoHealCycle(g Globals, db *sqlx.DB, noFiles bool, maxIssuesFlag int, tmo heal.Timeouts, alerter heal.Alerter) *heal.Cycle {
	cy := a.newCycle(g, db, heal.KindHeal, noFiles)
	cy.MaxIssues = maxIssues(maxIssuesFlag)
	cy.Timeouts = tmo
	cy.Alerter = alerter
	cy.LogDir = g.LogDir
	return cy
}

// finishRun runs cy, prints its result and, when export is not empty,
// writes it to that file too; the exit code is 1 when critical issues
// remain or a check failed.
func (a *app) finishRun(ctx context.Context, g Globals, cy *heal.Cycle, what, export string) error {
	if cy.Model == nil {
		m, err := schemaModel(ctx, cy.DB, cy.Checks)
		if err != nil {
			return err
		}
		cy.Model = m
	}
	res, err := cy.Run(ctx)
	if serr := a.recordHeal(g, cy, res, err); serr != nil {
		// The state behind the metrics and the status page is part of
		// the run's record: not saving it is a warning (exit 1), unless
		// the run already failed or warned, for the same full or
		// read-only log dir most likely.
		if err == nil && len(res.Warnings) == 0 {
			res.Warnings = append(res.Warnings, serr.Error())
		} else {
			a.logger(g).V(1).Info("the service state was not saved either", "error", serr.Error())
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := heal.Export(a.env.Stdout, g.Format, res); err != nil {
		return err
	}
	if err := exportFile(export, g, func(w io.Writer, f ip2adb.Format) error { return heal.Export(w, f, res) }); err != nil {
		return err
	}
	if len(res.Warnings) > 0 {
		// The run stands (and is printed with its id), but what went
		// wrong after it — an unwritten history — must not pass as success.
		return exitError{code: ExitCritical, msg: "warning: " + escapeText(strings.Join(res.Warnings, "; "))}
	}
	if res.HasCritical() {
		return exitCode(ExitCritical)
	}
	if res.AlertErr != nil {
		return exitError{code: ExitCritical, msg: "a notification could not be delivered; the next run retries it"}
	}
	return nil
}

// warn prints a warning line on stderr (in either format: stdout holds
// only the report).
func (a *app) warn(msg string) {
	fmt.Fprintln(a.env.Stderr, "ip2adb: warning: "+escapeText(msg))
}

// maxIssues is the MaxIssues of the --max-issues flag: 0 keeps no samples
// (where the library's zero is its default).
func maxIssues(n int) int {
	if n == 0 {
		return integrity.NoSamples
	}
	return n
}

// repairer is the SQL repairer, wrapped by the crash-test pause hook in
// binaries built with -tags ip2adb_crashtest (see pauseEnv).
func (a *app) repairer() heal.Repairer { return a.pauseHook(heal.SQLRepairer{}) }

// alerter is what tells administrators about the issues a run leaves: the
// notification manager (the log channel plus every --notify channel, with
// dedup state under the log dir).
func (a *app) alerter(c *cli.Context, g Globals, repeat time.Duration) (heal.Alerter, error) {
	m, err := a.notifyManager(c, g, repeat)
	if err != nil {
		return nil, err
	}
	return m, nil
}

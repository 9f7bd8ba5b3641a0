package cli

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/ip2adb/ip2adb/heal"
	"github.com/urfave/cli/v2"
)

func (a *app) historyCommand() *cli.Command {
	return &cli.Command{
		Name:  "history",
		Usage: "recent auto-heal runs and the health summary",
		UsageText: `ip2adb history [--days 7]

Reads <log-dir>/auto_heal/YYYY-MM-DD_auto_heal.jsonl and prints the runs of
the last DAYS days (failed and dry runs included) and the health summary:
runs, issues found, fixed and requiring attention, the auto-fix rate and a
status (critical: more than 50 requiring attention; warning: more than 10;
fair: more than 100 found; healthy; unknown: no runs). Dry runs are listed
but not summed. Needs no database.

Examples:
   ip2adb history
   ip2adb history --days 30 --format json
   ip2adb --log-dir /var/log/ip2adb history`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "days", Value: heal.DefaultSummaryDays, Usage: "the period in `DAYS`"},
		},
		Action: func(c *cli.Context) error {
			g, err := a.globals(c)
			if err != nil {
				return err
			}
			if c.Args().Present() {
				return usagef("history takes no arguments, got %q", c.Args().First())
			}
			days := c.Int("days")
			if err := checkDays(days); err != nil {
				return err
			}
			now := a.env.Now()
			recs, err := heal.Records(g.LogDir, now.Add(-time.Duration(days)*24*time.Hour))
			if err != nil {
				return err
			}
			if recs == nil {
				recs = []heal.Record{}
			}
			return a.printSummary(g, days, recs)
		},
	}
}

// maxDays bounds --days (and the forecast days): a century of history is
// more than any log dir holds, and days × 24 h must not overflow a
// time.Duration (about 106,751 days).
const maxDays = 36500

// checkDays validates --days.
func checkDays(days int) error {
	if days <= 0 || days > maxDays {
		return usagef("--days must be between 1 and %d, not %d", maxDays, days)
	}
	return nil
}

// printSummary prints the health summary of the last days days, preceded
// by the runs recs when recs is not nil (history); JSON holds "summary"
// and, for history, "runs".
func (a *app) printSummary(g Globals, days int, recs []heal.Record) error {
	if err := checkDays(days); err != nil {
		return err
	}
	s, err := heal.Summary(g.LogDir, days, a.env.Now())
	if err != nil {
		return err
	}
	for _, w := range s.Warnings {
		a.warn(w)
	}
	if g.JSON() {
		if recs == nil {
			return a.writeJSON(map[string]any{"summary": s})
		}
		return a.writeJSON(map[string]any{"runs": recs, "summary": s})
	}
	w := a.env.Stdout
	if recs != nil {
		fmt.Fprintf(w, "Auto-heal runs, last %d days (%s)\n", days, filepath.Join(g.LogDir, "auto_heal"))
		if err := heal.WriteRecordsText(w, recs); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	return heal.WriteSummaryText(w, s)
}

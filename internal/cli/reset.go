package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/urfave/cli/v2"
)

// resetConfirmation is what a person types to confirm a reset.
const resetConfirmation = "DELETE ALL DATA"

func (a *app) resetCommand() *cli.Command {
	return &cli.Command{
		Name:  "reset",
		Usage: "delete every row of the IP2A tables (typed confirmation on a terminal)",
		UsageText: `ip2adb reset [--force]

Empties every IP2A table in one transaction (PostgreSQL: TRUNCATE … RESTART
IDENTITY) and prints how many rows each held. Tables whose foreign keys
point at them (on the real IP2A database: users, dues payments,
enrollments …) are emptied with them and listed too. On a terminal it asks
you to type DELETE ALL DATA first; anything else changes nothing and exits
1. Without a terminal (scripts, cron) it needs --force, else exits 2. In
production it refuses without --force (exit 2). The journal of repairs is
not touched.

Examples:
   ip2adb reset
   ip2adb --db sqlite:test.db reset --force
   ip2adb --db postgres://ip2a@localhost/ip2a_dev reset --force --format json`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "reset without the typed confirmation (and in production)"},
		},
		Action: a.resetAction,
	}
}

func (a *app) resetAction(c *cli.Context) error {
	g, err := a.globals(c)
	if err != nil {
		return err
	}
	force := c.Bool("force")
	if err := a.guard(g, force, "reset the database"); err != nil {
		return err
	}
	if !force && !a.env.StdinTTY {
		return usagef("reset deletes every row; without a terminal to confirm on, pass --force")
	}
	a.header(c, g)
	db, err := a.open(c.Context, g, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if !force {
		fmt.Fprintf(a.env.Stderr, "This deletes every row of the IP2A tables in %s, and of the tables whose foreign keys point at them.\nType %s to confirm: ",
			dbx.Redact(g.DB), resetConfirmation)
		line, _ := bufio.NewReader(a.env.Stdin).ReadString('\n')
		if strings.TrimSpace(line) != resetConfirmation {
			return exitError{code: ExitCritical, msg: "reset aborted: confirmation did not match; nothing changed"}
		}
	}
	tables, err := seed.Reset(c.Context, db)
	if err != nil {
		return err
	}
	var total int64
	for _, t := range tables {
		total += t.Rows
	}
	if g.JSON() {
		type row struct {
			Table string `json:"table"`
			Rows  int64  `json:"rows_deleted"`
		}
		out := struct {
			Tables []row `json:"tables"`
			Rows   int64 `json:"rows_deleted"`
		}{Tables: []row{}, Rows: total}
		for _, t := range tables {
			out.Tables = append(out.Tables, row{t.Table, t.Rows})
		}
		return a.writeJSON(out)
	}
	w := a.env.Stdout
	fmt.Fprintf(w, "Reset: %d tables emptied, %s rows deleted\n\n", len(tables), groupDigits(total))
	const line = "%-22s %12s\n"
	fmt.Fprintf(w, line, "table", "rows deleted")
	for _, t := range tables {
		fmt.Fprintf(w, line, t.Table, groupDigits(t.Rows))
	}
	return nil
}

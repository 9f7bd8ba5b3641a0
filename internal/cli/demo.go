package cli

import (
	"fmt"
	"os"

	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/urfave/cli/v2"
)

// demoCommand is the quick-start job: a small sample database with planted
// faults of every kind, real attachment files, and one auto-heal cycle.
func (a *app) demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "seed a small sample database with planted faults and files, then heal it",
		UsageText: `ip2adb demo [--faults N] [--seed 42] [--force]

Seeds the quick profile (about 100 members) into the database — by default
the embedded sqlite:ip2adb.db, created when missing — with N faults of each
of the 22 integrity check kinds, writes the attachments' files under
--files-root (default .: ./uploads/…), then runs one auto-heal cycle: check,
repair what is safe in one journaled transaction, re-check, notify (the log
channel plus any --notify), record the run under --log-dir.

The issues a person must decide (duplicate member numbers, missing names,
missing files …) remain afterwards, as they would in production; the demo
still exits 0 when it ran. Undo the repairs with the run id it prints.
Refused in production. Like seed, it never erases rows that ip2adb did not
write: it asks on a terminal (type DELETE ALL DATA), and otherwise exits 2
unless --force.

Examples:
   ip2adb demo
   ip2adb demo --faults 5 --format json
   ip2adb --db postgres://postgres@127.0.0.1/ip2a_demo demo`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "faults", Value: 2, Usage: "plant `N` faults of every kind"},
			&cli.Int64Flag{Name: "seed", Value: seed.DefaultSeed, Usage: "random seed (`N`)"},
			&cli.BoolFlag{Name: "force", Usage: "replace rows that ip2adb did not write without asking"},
		},
		Action: func(c *cli.Context) error {
			g, err := a.globals(c)
			if err != nil {
				return err
			}
			if g.Production() {
				return usagef("refusing to run the demo in production: it replaces the IP2A tables' contents")
			}
			if c.Int("faults") < 0 {
				return usagef("--faults must be 0 or more, not %d", c.Int("faults"))
			}
			files, err := a.openFiles(c.Context, g)
			if err != nil {
				return err
			}
			// The heal records its run under --log-dir: refuse before
			// seeding when it cannot (exit 2), as auto-heal does.
			if err := heal.CheckLogDir(g.LogDir); err != nil {
				return err
			}
			alerter, err := a.alerter(c, g, 0)
			if err != nil {
				return err
			}
			a.header(c, g)
			db, err := a.open(c.Context, g, true)
			if err != nil {
				return err
			}
			defer db.Close()

			force, err := a.confirmErase(c, g, db, c.Bool("force"), "demo")
			if err != nil {
				return err
			}
			bar := a.newProgress()
			st, err := seed.Run(c.Context, db, seed.Options{
				Profile: seed.Quick, Seed: c.Int64("seed"), Faults: c.Int("faults"), Force: force,
				FilesDir: g.FilesRoot, Files: files, Now: a.env.Now, Progress: bar.Update, Log: a.logger(g),
				PostgresURL: dbx.PostgresDSN(g.DB),
			})
			bar.Finish()
			if err != nil {
				return fmt.Errorf("seed: %w", err)
			}
			if !g.JSON() {
				fmt.Fprintf(a.env.Stdout, "Seeded %s rows and %s files, with %d faults of each of the %d check kinds.\n\n",
					groupDigits(st.Rows), groupDigits(st.Files), st.Faults, len(seed.FaultKinds())-len(st.NotPlantable))
			}
			cy := a.newCycle(g, db, heal.KindHeal, false)
			cy.Alerter = alerter
			cy.LogDir = g.LogDir
			res, err := cy.Run(c.Context)
			if err != nil {
				return fmt.Errorf("auto-heal: %w", err)
			}
			if err := heal.Export(a.env.Stdout, g.Format, res); err != nil {
				return err
			}
			if g.JSON() {
				return nil
			}
			fmt.Fprintf(a.env.Stdout, "\nDemo done: %s healed %d rows; what remains needs a person. Try:\n"+
				"   ip2adb integrity           # check again\n"+
				"   ip2adb history             # the run in the health summary\n"+
				"   ip2adb undo %s   # put the faults back\n", dbName(g), res.Summary.Fixed, res.RunID)
			return nil
		},
	}
}

// dbName is how the demo names the database it worked on.
func dbName(g Globals) string {
	if g.DBDefault {
		if wd, err := os.Getwd(); err == nil {
			return "ip2adb.db in " + wd
		}
	}
	return "the database"
}

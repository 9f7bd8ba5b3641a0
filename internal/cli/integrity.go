package cli

import (
	"context"
	"io"
	"path/filepath"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/jmoiron/sqlx"
	"github.com/urfave/cli/v2"
)

func (a *app) integrityCommand() *cli.Command {
	return &cli.Command{
		Name:  "integrity",
		Usage: "check the database (and its file store) for integrity problems",
		UsageText: `ip2adb integrity [--no-files] [--export FILE] [--max-issues N]
ip2adb integrity --repair [--dry-run] [--interactive] [--force] [--no-files]

Runs the 22 IP2A integrity checks and prints a report: counts by severity,
the auto-fixable count, issues grouped by category (first five of each) and
any check that could not run. Exit code 1 when critical issues remain or a
check failed, 0 otherwise, 2 for bad input.

With --repair the auto-fixable issues are repaired in one journaled
transaction (undo with "ip2adb undo RUN_ID"), the repaired rules re-checked
and what remains reported; --dry-run executes and rolls back; --interactive
asks file by file about attachments whose file is missing (delete / keep /
skip / delete all remaining / keep all remaining / abort). In production
--repair needs --force.

Examples:
   ip2adb integrity
   ip2adb integrity --no-files --format json
   ip2adb --db postgres://ip2a@db/ip2a integrity --files-root /srv/ip2a --export report.json
   ip2adb integrity --max-issues 50 --export report.txt
   ip2adb integrity --repair --dry-run --no-files
   ip2adb integrity --repair --interactive --files-root /srv/ip2a`,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "no-files", Usage: "skip the check that reads the file store (attachment.file_missing)"},
			&cli.StringFlag{Name: "export", Usage: "also write the report to `FILE` (JSON with --format json or a .json name, else text)"},
			&cli.IntFlag{Name: "max-issues", Value: integrity.DefaultMaxIssues, Usage: "sample issues kept per check (`N`; counts stay full)"},
		}, repairFlags()...),
		Action: func(c *cli.Context) error {
			g, err := a.globals(c)
			if err != nil {
				return err
			}
			if err := a.checkIntegrityFlags(c, g); err != nil {
				return err
			}
			if err := checkRepairFlags(c); err != nil {
				return err
			}
			if c.Bool("repair") {
				return a.repairIntegrity(c, g)
			}
			a.header(c, g)
			db, err := a.openReadOnly(c.Context, g)
			if err != nil {
				return err
			}
			defer db.Close()
			rep, err := a.runIntegrity(c, g, db)
			if err != nil {
				return err
			}
			if err := a.writeIntegrity(c, g, rep); err != nil {
				return err
			}
			if rep.HasCritical() {
				return exitCode(ExitCritical)
			}
			return nil
		},
	}
}

// checkIntegrityFlags validates the integrity flags before anything is
// changed: a bad --max-issues or a --files-root that cannot be opened
// (unless --no-files) is a usage error.
func (a *app) checkIntegrityFlags(c *cli.Context, g Globals) error {
	if c.Int("max-issues") < 0 {
		return usagef("--max-issues must be 0 or more, not %d", c.Int("max-issues"))
	}
	if f := c.String("export"); f != "" {
		if err := requireDir("export", filepath.Dir(f)); err != nil {
			return usagef("--export %s: directory %s does not exist", f, filepath.Dir(f))
		}
	}
	if !c.Bool("no-files") {
		if _, err := a.openFiles(c.Context, g); err != nil {
			return err
		}
	}
	return nil
}

// rules is the IP2A rule set over --files-root with the app's clock; noFiles
// leaves out the check that reads the file store.
func (a *app) rules(g Globals, noFiles bool) []integrity.Checker {
	var files filestore.Store
	if a.files != nil {
		files = a.files
	}
	return ip2a.Rules(ip2a.RuleOptions{FilesRoot: g.FilesRoot, Files: files, NoFiles: noFiles, Now: a.env.Now})
}

// schemaModel reads the live schema model of db, once per run, and
// refuses (exit 2, nothing changed) a database that holds none of the
// tables checks read: "not an IP2A database: none of members, … exists".
func schemaModel(ctx context.Context, db *sqlx.DB, checks []integrity.Checker) (*catalog.Model, error) {
	m, err := catalog.Read(ctx, db, catalog.Options{})
	if err != nil {
		return nil, err
	}
	if err := ip2a.CheckSchema(m, checks); err != nil {
		return nil, err
	}
	return m, nil
}

// runIntegrity runs the IP2A rules against db as the flags of c ask
// (--no-files, --max-issues) and returns the report.
func (a *app) runIntegrity(c *cli.Context, g Globals, db *sqlx.DB) (integrity.Report, error) {
	checks := a.rules(g, c.Bool("no-files"))
	model, err := schemaModel(c.Context, db, checks)
	if err != nil {
		return integrity.Report{}, err
	}
	rep := integrity.Run(c.Context, db, checks,
		integrity.RunOptions{MaxIssues: maxIssues(c.Int("max-issues")), Log: a.logger(g), Model: model})
	if err := c.Context.Err(); err != nil {
		return rep, err
	}
	return rep, nil
}

// writeIntegrity prints the report (text, or JSON with --format json) on
// stdout and writes it to --export FILE when given.
func (a *app) writeIntegrity(c *cli.Context, g Globals, rep integrity.Report) error {
	if err := integrity.Export(a.env.Stdout, g.Format, rep); err != nil {
		return err
	}
	return exportFile(c.String("export"), g, func(w io.Writer, f ip2adb.Format) error {
		return integrity.Export(w, f, rep)
	})
}

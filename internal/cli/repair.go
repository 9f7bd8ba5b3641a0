package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/urfave/cli/v2"
)

// This file is the repair path of `ip2adb integrity`: --repair [--dry-run]
// [--interactive] [--force]. The integrity command adds repairFlags to its
// flags, calls checkRepairFlags, and hands over to repairIntegrity when
// --repair is set.

// repairFlags are the flags of integrity's repair path.
func repairFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.BoolFlag{Name: "repair", Usage: "repair the auto-fixable issues (journaled; undo with ip2adb undo RUN_ID)"},
		&cli.BoolFlag{Name: "dry-run", Usage: "with --repair: execute the repairs and roll back, change nothing"},
		&cli.BoolFlag{Name: "interactive", Usage: "with --repair: ask, file by file, what to do about attachments whose file is missing"},
		&cli.BoolFlag{Name: "force", Usage: "allow --repair in production"},
	}, timeoutFlags()...)
}

// checkRepairFlags refuses repair-only flags without --repair.
func checkRepairFlags(c *cli.Context) error {
	if c.Bool("repair") {
		return nil
	}
	for _, f := range []string{"dry-run", "interactive"} {
		if c.Bool(f) {
			return usagef("--%s needs --repair", f)
		}
	}
	return nil
}

// repairIntegrity runs integrity --repair: one journaled repair run (kind
// "repair", run ids IR-…) over the IP2A rules, with the interactive choices
// for missing files when asked. It prints the run like auto-heal does and
// exits 1 when critical issues remain.
func (a *app) repairIntegrity(c *cli.Context, g Globals) error {
	if err := a.guard(g, c.Bool("force"), "repair"); err != nil {
		return err
	}
	tmo, err := a.timeouts(c)
	if err != nil {
		return err
	}
	interactive := c.Bool("interactive")
	if interactive {
		if !a.env.StdinTTY {
			return usagef("--interactive needs a terminal on stdin (run it by hand, or drop --interactive)")
		}
		if c.Bool("no-files") {
			return usagef("--interactive decides about missing files; it cannot run with --no-files")
		}
	}
	a.header(c, g)
	db, err := a.open(c.Context, g, false)
	if err != nil {
		return err
	}
	defer db.Close()
	cy := a.newCycle(g, db, heal.KindRepair, c.Bool("no-files"))
	cy.Timeouts = tmo
	cy.MaxIssues = maxIssues(c.Int("max-issues"))
	cy.DryRun = c.Bool("dry-run")
	if interactive {
		cy.Choose = func(ctx context.Context, found integrity.Report) ([]heal.Planned, error) {
			return chooseMissingFiles(ctx, bufio.NewReader(a.env.Stdin), a.env.Stderr, found, cy.Model)
		}
	}
	return a.finishRun(c.Context, g, cy, "integrity --repair", c.String("export"))
}

// chooseMissingFiles asks, for each attachment whose file is missing, what
// to do — the original's six choices: delete the record, keep it, skip it,
// delete all remaining, keep all remaining, or abort (nothing changes).
// Prompts go to w. The chosen deletes come back as journaled repairs of
// attachment.file_missing (integrity.RecordFixes over model: soft deletes
// where the table has a soft-delete column).
func chooseMissingFiles(ctx context.Context, r *bufio.Reader, w io.Writer, found integrity.Report, model *catalog.Model) ([]heal.Planned, error) {
	var missing []ip2adb.Issue
	total := 0
	for _, cr := range found.Checks {
		if cr.Name == ip2a.AttachmentFileMissing && cr.Err == nil {
			missing, total = cr.Issues, cr.Count
		}
	}
	if len(missing) == 0 {
		fmt.Fprintln(w, "No attachments with missing files.")
		return nil, nil
	}
	fmt.Fprintf(w, "%d attachments name a file that is missing", total)
	if total > len(missing) {
		fmt.Fprintf(w, "; deciding about the first %d (run again for the rest)", len(missing))
	}
	fmt.Fprintln(w, ".")
	var del []ip2adb.Issue
	kept, skipped, all := 0, 0, ""
	for i, is := range missing {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if is.RecordKey() == nil {
			continue
		}
		choice := all
		if choice == "" {
			fmt.Fprintf(w, "\n[%d/%d] %s\n", i+1, len(missing), strings.Join(strings.Fields(is.Description), " "))
			var err error
			choice, err = ask(r, w)
			if err != nil {
				return nil, err
			}
		}
		switch choice {
		case "delete all":
			all = "delete"
			choice = "delete"
		case "keep all":
			all = "keep"
			choice = "keep"
		}
		switch choice {
		case "delete":
			del = append(del, is)
		case "keep":
			kept++
		case "skip":
			skipped++
		case "abort":
			fmt.Fprintln(w, "Aborted: nothing was changed.")
			return nil, heal.ErrAborted
		}
	}
	fmt.Fprintf(w, "\nDecided: %d to delete, %d kept, %d skipped.\n", len(del), kept, skipped)
	return heal.Plan(ip2a.AttachmentFileMissing, integrity.RecordFixes(model, ip2adb.ActionDelete, del)...), nil
}

// ask prompts for one of the six choices until it gets one; end of input
// aborts.
func ask(r *bufio.Reader, w io.Writer) (string, error) {
	for {
		fmt.Fprint(w, "  1) delete record  2) keep  3) skip  4) delete all remaining  5) keep all remaining  6) abort\n  choice [1-6]: ")
		line, err := r.ReadString('\n')
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "1", "d", "delete":
			return "delete", nil
		case "2", "k", "keep":
			return "keep", nil
		case "3", "s", "skip":
			return "skip", nil
		case "4", "delete all":
			return "delete all", nil
		case "5", "keep all":
			return "keep all", nil
		case "6", "a", "abort", "q", "quit":
			return "abort", nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				fmt.Fprintln(w)
				return "abort", nil
			}
			return "", err
		}
		fmt.Fprintln(w, "  please answer 1-6")
	}
}

// timeoutFlags bound the waits of a repair or undo transaction on
// PostgreSQL: an application session holding a row lock must not block a
// run for ever.
func timeoutFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "lock-timeout", Value: heal.DefaultLockTimeout,
			Usage: "PostgreSQL: give up (roll back) when one repair statement waits longer than `D` for a row lock held elsewhere; 0 waits for ever (env IP2ADB_LOCK_TIMEOUT)"},
		&cli.DurationFlag{Name: "statement-timeout", Value: heal.DefaultStatementTimeout,
			Usage: "PostgreSQL: give up (roll back) when one repair statement runs longer than `D`; 0 means no limit (env IP2ADB_STATEMENT_TIMEOUT)"},
	}
}

// timeouts reads the timeout flags, then their environment variables
// (0 = no limit, as in PostgreSQL).
func (a *app) timeouts(c *cli.Context) (heal.Timeouts, error) {
	var t heal.Timeouts
	for _, f := range []struct {
		name, env string
		dst       *time.Duration
	}{{"lock-timeout", "IP2ADB_LOCK_TIMEOUT", &t.Lock}, {"statement-timeout", "IP2ADB_STATEMENT_TIMEOUT", &t.Statement}} {
		v := c.Duration(f.name)
		if e := a.env.Getenv(f.env); e != "" && !c.IsSet(f.name) {
			var err error
			if v, err = time.ParseDuration(e); err != nil {
				return t, usagef("%s=%q: want a duration such as 30s or 10m", f.env, e)
			}
		}
		switch {
		case v < 0:
			return t, usagef("--%s must not be negative, not %s", f.name, v)
		case v == 0:
			v = heal.NoTimeout // as in PostgreSQL; the library's zero is its default
		}
		*f.dst = v
	}
	return t, nil
}

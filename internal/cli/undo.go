package cli

import (
	"flag"
	"io"
	"strings"

	"github.com/ip2adb/ip2adb/heal"
	"github.com/urfave/cli/v2"
)

func (a *app) undoCommand() *cli.Command {
	return &cli.Command{
		Name:  "undo",
		Usage: "restore what an auto-heal, repair or undo run changed",
		UsageText: `ip2adb undo RUN_ID [--dry-run] [--force] [--skip-blocked]

Restores every before-image the run journaled, in one transaction under the
run lock: deleted rows come back with their ids, updated rows get their old
values (updated_at included), soft-deleted rows are live again. Only the
tables the run's steps name are written. The undo is itself a run (UN-…)
that can be undone.

Refuses with exit 1, changing nothing, when a row changed after the run
(any column: the whole row is compared with what the run left), unless
--force (then the run's before-images overwrite those later changes).

Undo is all-or-nothing: when restoring a row would violate a constraint
(an orphan whose parent is still missing), it changes nothing and exits 1
naming the constraint and the number of rows; restore the parents first,
then undo again. With --skip-blocked it restores everything else, lists the
blocked rows, exits 1 and records the run as partially_undone; a later undo
of the same run continues with what is left. An unknown run id is exit 2.

Examples:
   ip2adb undo AH-20261128T020000Z-4f3a --dry-run
   ip2adb undo AH-20261128T020000Z-4f3a
   ip2adb undo AH-20261128T020000Z-4f3a --force --format json`,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Usage: "execute the restore and roll back: report true counts, change nothing"},
			&cli.BoolFlag{Name: "force", Usage: "restore even rows changed after the run"},
			&cli.BoolFlag{Name: "skip-blocked", Usage: "restore what can be restored and leave the rows a constraint blocks (exit 1 while any remain)"},
		}, timeoutFlags()...),
		Action: func(c *cli.Context) error {
			args, err := flagsAfterArgs(c)
			if err != nil {
				return err
			}
			g, err := a.globals(c)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return usagef("undo takes exactly one RUN_ID (see ip2adb undo --help)")
			}
			runID := args[0]
			if strings.HasPrefix(runID, "-") {
				return usagef("undo takes exactly one RUN_ID (see ip2adb undo --help)")
			}
			tmo, err := a.timeouts(c)
			if err != nil {
				return err
			}
			a.header(c, g)
			db, err := a.open(c.Context, g, false)
			if err != nil {
				return err
			}
			defer db.Close()
			res, err := heal.Undo(c.Context, db, runID, heal.UndoOptions{
				DryRun: c.Bool("dry-run"), Force: c.Bool("force"), SkipBlocked: c.Bool("skip-blocked"),
				Now: a.env.Now, Log: a.logger(g), Timeouts: tmo})
			if err != nil {
				return err
			}
			if g.JSON() {
				if err := a.writeJSON(res); err != nil {
					return err
				}
			} else if err := writeUndoText(a.env.Stdout, res); err != nil {
				return err
			}
			if len(res.Blocked) > 0 {
				return exitCode(ExitCritical)
			}
			return nil
		},
	}
}

// flagsAfterArgs lets flags follow the positional arguments, as in
// "ip2adb undo RUN_ID --dry-run --db URL": urfave/cli v2 stops parsing flags
// at the first argument, so the rest are parsed here with the command's own
// flags and set on c. It returns the positional arguments.
func flagsAfterArgs(c *cli.Context) ([]string, error) {
	set := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	for _, f := range c.Command.Flags {
		if err := f.Apply(set); err != nil {
			return nil, err
		}
	}
	var pos []string
	rest := c.Args().Slice()
	for len(rest) > 0 {
		switch {
		case rest[0] == "--":
			pos = append(pos, rest[1:]...)
			rest = nil
		case !strings.HasPrefix(rest[0], "-") || rest[0] == "-":
			pos = append(pos, rest[0])
			rest = rest[1:]
		default:
			if err := set.Parse(rest); err != nil {
				return nil, usageError{err}
			}
			rest = set.Args()
		}
	}
	var err error
	set.Visit(func(f *flag.Flag) {
		vals := []string{f.Value.String()}
		if sl, ok := f.Value.(interface{ Value() []string }); ok {
			vals = sl.Value()
		}
		for _, v := range vals {
			if err == nil {
				err = c.Set(f.Name, v)
			}
		}
	})
	if err != nil {
		return nil, usageError{err}
	}
	return pos, nil
}

// writeUndoText prints an undo for people (heal.WriteUndoText): what the
// journal holds (check and table names, run ids) is escaped, since it is
// data and may hold terminal escape codes.
func writeUndoText(out io.Writer, res heal.UndoResult) error { return heal.WriteUndoText(out, res) }

// Package cli is the ip2adb command line: flag parsing, configuration from
// flags and environment, the header, the production guard, output formats and
// the mapping of errors to exit codes. It only wires the library together;
// cmd/ip2adb calls Run.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/urfave/cli/v2"
)

// Exit codes of the command line contract.
const (
	ExitOK       = 0 // ran, and no critical issue remains
	ExitCritical = 1 // critical issues remain, or the run failed part-way
	ExitUsage    = 2 // usage or configuration error; nothing was changed
)

// Env is everything the command line takes from its process, so tests can
// run it in-process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads an environment variable; os.Getenv when nil.
	Getenv func(string) string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// StdinTTY and StderrTTY say whether those streams are terminals
	// (typed confirmations, interactive repair, progress bars).
	StdinTTY, StderrTTY bool
}

// OSEnv is the Env of the running process.
func OSEnv() Env {
	return Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, Now: time.Now,
		StdinTTY: isTerminal(os.Stdin), StderrTTY: isTerminal(os.Stderr),
	}
}

// Run runs the command line args (without the program name) and returns the
// process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	a := &app{env: env}
	err := a.cliApp().RunContext(ctx, append([]string{"ip2adb"}, args...))
	a.closeFiles()
	return a.report(err)
}

// report prints the one line of err, if any, on stderr and returns the
// exit code (see exitStatus).
func (a *app) report(err error) int {
	code, msg := exitStatus(err)
	if msg != "" {
		// One line, escaped: errors may quote data (check names, paths).
		fmt.Fprintln(a.env.Stderr, "ip2adb: "+escapeText(msg))
	}
	return code
}

// app holds the per-invocation state of the command line.
type app struct {
	env           Env
	pendingHeader string           // see header
	files         filestore.Handle // --files-root, once opened (see openFiles)
}

func (a *app) cliApp() *cli.App {
	cmds := a.commands()
	for _, c := range cmds {
		c.Flags = append(c.Flags, globalFlags()...)
		c.OnUsageError = onUsageError
		c.HideHelpCommand = true
		if c.Name != "undo" { // undo RUN_ID is the one command with an argument
			c.Action = noArguments(c.Name, c.Action)
		}
		c.Action = a.withMetricsFile(c.Action)
	}
	return &cli.App{
		Name:  "ip2adb",
		Usage: "keep a union local's membership database healthy",
		Description: `ip2adb finds integrity problems in the IP2A member database, repairs the
ones that are safe to repair (journaled: every repair can be undone), tells an
administrator about the rest, and watches long-term health.

With no --db it uses the embedded default, sqlite:ip2adb.db in the working
directory. Global flags work before or after the command name.

Examples:
   ip2adb demo                                   # sample database with faults, healed
   ip2adb --db postgres://ip2a@db/ip2a integrity --no-files
   ip2adb auto-heal --if-due 24h --notify slack:https://hooks.slack.com/services/…
   ip2adb resilience --format json`,
		Version:              buildVersion(),
		Flags:                globalFlags(),
		Commands:             cmds,
		Writer:               a.env.Stdout,
		ErrWriter:            a.env.Stderr,
		OnUsageError:         onUsageError,
		ExitErrHandler:       func(*cli.Context, error) {},
		EnableBashCompletion: false,
		HideHelpCommand:      true,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("unknown command %q (see ip2adb --help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
}

// commands lists every subcommand; each lives in a file of its own.
func (a *app) commands() []*cli.Command {
	return []*cli.Command{
		a.demoCommand(),
		a.seedCommand(),
		a.integrityCommand(),
		a.autoHealCommand(),
		a.historyCommand(),
		a.undoCommand(),
		a.resilienceCommand(),
		a.serveCommand(),
		a.notifyTestCommand(),
		a.resetCommand(),
		a.versionCommand(),
	}
}

// noArguments refuses positional arguments before running action:
// urfave/cli stops parsing flags at the first argument, so a stray word
// ("ip2adb integrity now --no-files") would silently drop the flags after it.
func noArguments(name string, action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.Args().Present() {
			return usagef("%s takes no arguments, got %q", name, c.Args().First())
		}
		return action(c)
	}
}

func onUsageError(_ *cli.Context, err error, _ bool) error {
	return usageError{err}
}

func (a *app) versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print the version of ip2adb",
		UsageText: "ip2adb version\n\nExamples:\n   ip2adb version\n   ip2adb version --format json",
		Action: func(c *cli.Context) error {
			g, err := a.globals(c)
			if err != nil {
				return err
			}
			if g.JSON() {
				return a.writeJSON(struct {
					Version string `json:"version"`
				}{buildVersion()})
			}
			fmt.Fprintln(a.env.Stdout, "ip2adb "+buildVersion())
			return nil
		},
	}
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// logger builds the logr.Logger handed to the library: slog text on stderr,
// debug with --verbose, warnings and errors otherwise.
func (a *app) logger(g Globals) logr.Logger {
	level := slog.LevelWarn
	if g.Verbose {
		level = slog.LevelDebug
	}
	return logr.FromSlogHandler(slog.NewTextHandler(a.env.Stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: debugLevelName}))
}

// debugLevelName prints logr's V-levels (slog levels between Debug and
// Info, such as V(1) = slog level -1) as plain DEBUG instead of "DEBUG+3".
func debugLevelName(groups []string, attr slog.Attr) slog.Attr {
	if len(groups) == 0 && attr.Key == slog.LevelKey {
		if l, ok := attr.Value.Any().(slog.Level); ok && l < slog.LevelInfo {
			attr.Value = slog.StringValue("DEBUG")
		}
	}
	return attr
}

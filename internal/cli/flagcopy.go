package cli

import (
	"flag"

	"github.com/urfave/cli/v2"
)

// urfave/cli adds its package-level help and version flags to every app it
// runs, and BoolFlag.Apply writes to the flag it applies: two apps running
// at once in one process (the service tests run the command in parallel; a
// program may run two commands) would race on those two shared values. The
// command replaces them, once, with flags that apply a copy of themselves.
func init() {
	if f, ok := cli.HelpFlag.(*cli.BoolFlag); ok {
		cli.HelpFlag = copyOnApply{f}
	}
	if f, ok := cli.VersionFlag.(*cli.BoolFlag); ok {
		cli.VersionFlag = copyOnApply{f}
	}
}

// copyOnApply is a shared boolean flag that applies a copy of itself, so
// that applying it never writes to the shared flag.
type copyOnApply struct{ *cli.BoolFlag }

// Apply registers a copy of the flag with set.
func (f copyOnApply) Apply(set *flag.FlagSet) error {
	c := *f.BoolFlag
	return c.Apply(set)
}

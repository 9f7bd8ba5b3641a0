// Command ip2adb keeps a union local's membership database healthy: it
// checks integrity, repairs what is safe to repair (journaled, undoable),
// notifies administrators and reports long-term health. Run "ip2adb --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ip2adb/ip2adb/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.OSEnv())
	stop()
	os.Exit(code)
}

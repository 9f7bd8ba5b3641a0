//go:build ip2adb_crashtest

package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/jmoiron/sqlx"
)

// pauseHook wraps r with the crash-test pause hook when pauseEnv is set to a
// step number: after that step the repair waits, inside its transaction,
// until the process is killed or interrupted.
func (a *app) pauseHook(r heal.Repairer) heal.Repairer {
	n, err := strconv.Atoi(a.env.Getenv(pauseEnv))
	if err != nil || n <= 0 {
		return r
	}
	return heal.RepairerFunc(func(ctx context.Context, tx *sqlx.Tx, s heal.Step, f ip2adb.Fix) (int64, error) {
		rows, err := r.Repair(ctx, tx, s, f)
		if err == nil && s.Seq == n {
			fmt.Fprintf(a.env.Stderr, "paused after repair step %d\n", n)
			<-ctx.Done()
			return rows, ctx.Err()
		}
		return rows, err
	})
}

package heal

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// Defaults of [Timeouts].
const (
	DefaultLockTimeout      = 30 * time.Second
	DefaultStatementTimeout = 10 * time.Minute
)

// NoTimeout is the [Timeouts] value that sets no limit, as 0 does in
// PostgreSQL's own settings (a zero field takes the default).
const NoTimeout time.Duration = -1

// Timeouts bound the waits of a run's repair (or undo) transaction on
// PostgreSQL, so that an application session holding a row lock
// (SELECT … FOR UPDATE, a long transaction) cannot block a run for ever:
// the statement that waits too long fails and the run rolls back. SQLite
// waits for its write lock at most its busy timeout (10 s).
type Timeouts struct {
	// Lock is the longest one statement waits for a lock (PostgreSQL's
	// lock_timeout): DefaultLockTimeout when zero, no limit when negative.
	Lock time.Duration
	// Statement is the longest one statement runs (statement_timeout):
	// DefaultStatementTimeout when zero, no limit when negative.
	Statement time.Duration
}

// setLocal applies t to tx with SET LOCAL, which ends with the transaction,
// and turns JIT compilation off for the transaction: compiling the set-based
// repair statements cost more than running them. One round trip.
func (t Timeouts) setLocal(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect) error {
	var set []dbx.Setting
	for _, s := range []struct {
		name     string
		v, deflt time.Duration
	}{{"lock_timeout", t.Lock, DefaultLockTimeout}, {"statement_timeout", t.Statement, DefaultStatementTimeout}} {
		v := s.v
		switch {
		case v == 0:
			v = s.deflt
		case v < 0:
			v = 0 // PostgreSQL: 0 turns the limit off
		case v < time.Millisecond:
			v = time.Millisecond
		}
		set = append(set, dbx.Setting{Name: s.name, Value: strconv.FormatInt(v.Milliseconds(), 10)})
	}
	return d.SetLocal(ctx, tx, append(set, dbx.Setting{Name: "jit", Value: "off"})...)
}

// ErrLockLost is returned when the run lock was lost during a run (its
// PostgreSQL session was terminated, by pg_terminate_backend or a restart
// of the connection): another run may have started, so the run's
// transaction is rolled back instead of committed.
var ErrLockLost = errors.New("the run lock was lost (its database session ended); rolled back, nothing was changed")

// Held checks that the lock is still held, as a run does just before it
// commits. On PostgreSQL it asks pg_locks, through the lock's own session,
// for the granted advisory lock of that session; a terminated session or a
// missing lock is [ErrLockLost]. The SQLite locks cannot be lost while the
// process lives.
func (l *Lock) Held(ctx context.Context) error {
	if l.held == nil {
		return nil
	}
	return l.held(ctx)
}

package resilience

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// serverState is when the PostgreSQL postmaster started and whether the
// server is in recovery.
type serverState struct {
	Started    time.Time `db:"started"`
	InRecovery bool      `db:"in_recovery"`
}

// readServerState asks the server for its state; ok is false when the
// database is not PostgreSQL or the server cannot answer.
func readServerState(ctx context.Context, db *sqlx.DB) (serverState, error) {
	var st serverState
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := db.GetContext(ctx, &st, "SELECT pg_postmaster_start_time() AS started, pg_is_in_recovery() AS in_recovery")
	return st, err
}

// ServerGone reports whether err says the database server went away,
// restarted or is in recovery: SQLSTATE 57P01 (admin shutdown), 57P02
// (crash shutdown), 57P03 (cannot connect now: starting up or in recovery),
// class 08 (connection exception), or a broken or refused connection.
func ServerGone(err error) bool {
	if err == nil {
		return false
	}
	if se, ok := dbx.AsServerError(err); ok {
		switch {
		case se.Code == "57P01", se.Code == "57P02", se.Code == "57P03", se.Class() == "08":
			return true
		}
		return false
	}
	var ne *net.OpError
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne):
		return true
	}
	// lib/pq reports some lost connections as plain text.
	msg := err.Error()
	return strings.Contains(msg, "bad connection") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "unexpected EOF")
}

// serverWatch remembers the server's state when a report starts.
type serverWatch struct {
	db     *sqlx.DB
	before serverState
	known  bool
}

func watchServer(ctx context.Context, env Env) *serverWatch {
	if env.DB == nil || !dbx.DialectOf(env.DB).ServerStatistics() {
		return nil
	}
	w := &serverWatch{db: env.DB}
	st, err := readServerState(ctx, env.DB)
	if err == nil {
		w.before, w.known = st, true
	}
	return w
}

// collapse turns the failures of the probes whose errors say the server
// went away, restarted or is in recovery into ONE finding, and adds that
// finding when the server restarted during the report even though every
// probe ran. It returns the finding (nil when nothing happened) and which
// probes' failures it replaces.
func (w *serverWatch) collapse(ctx context.Context, env Env, names []string, errs []error) (*ip2adb.Issue, []bool) {
	replaced := make([]bool, len(errs))
	if w == nil {
		return nil, replaced
	}
	var failed []string
	firstErr := ""
	for i, err := range errs {
		if ServerGone(err) {
			replaced[i] = true
			failed = append(failed, names[i])
			if firstErr == "" {
				firstErr = err.Error()
			}
		}
	}
	after, aerr := readServerState(context.WithoutCancel(ctx), w.db)
	restarted := aerr == nil && w.known && !after.Started.Equal(w.before.Started)
	recovering := aerr == nil && after.InRecovery && (!w.known || !w.before.InRecovery)
	if aerr == nil && !restarted && !recovering {
		// The server is up and did not restart: failures stay as they are
		// (a terminated backend, a network hiccup) — each names its cause.
		return nil, make([]bool, len(errs))
	}
	slices.Sort(failed)
	details := map[string]any{"failed_probes": failed}
	if firstErr != "" {
		details["error"] = firstErr
	}
	var desc string
	switch {
	case aerr != nil:
		at := env.Now().UTC()
		details["unreachable_since"] = at.Format(time.RFC3339)
		details["reachable"] = false
		desc = fmt.Sprintf("The database server went away during the report (unreachable at %s)", at.Format(time.RFC3339))
	case restarted:
		details["restarted_at"] = after.Started.UTC().Format(time.RFC3339)
		details["in_recovery"] = after.InRecovery
		desc = fmt.Sprintf("The database server restarted during the report (at %s)", after.Started.UTC().Format(time.RFC3339))
	default: // in recovery now, and was not when the report started
		details["started_at"] = after.Started.UTC().Format(time.RFC3339)
		details["in_recovery"] = after.InRecovery
		desc = fmt.Sprintf("The database server is in recovery (server started at %s)", after.Started.UTC().Format(time.RFC3339))
	}
	if len(failed) > 0 {
		desc += fmt.Sprintf(": %d probes could not run (%s)", len(failed), strings.Join(failed, ", "))
	}
	is := finding(ip2adb.CategoryServer, ip2adb.Critical, "", desc,
		"Find out why the server restarted (its log: a crash, an out-of-memory kill, a restart by an administrator or a failover), then run the report again: until then the health of what those probes watch is unknown.",
		details)
	is.Key = map[string]any{"event": "restart_or_recovery"}
	return &is, replaced
}

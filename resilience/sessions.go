package resilience

import (
	"context"
	"fmt"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/jmoiron/sqlx"
)

// session is one client backend of the current database.
type session struct {
	PID       int64    `db:"pid" json:"pid"`
	User      string   `db:"usename" json:"user"`
	State     string   `db:"state" json:"state"`
	XactSecs  *float64 `db:"xact_s" json:"transaction_seconds"`
	QuerySecs *float64 `db:"query_s" json:"query_seconds"`
	StateSecs *float64 `db:"state_s" json:"state_seconds"`
	WaitSecs  *float64 `db:"wait_s" json:"lock_wait_seconds"`
	Blockers  string   `db:"blockers" json:"blocked_by"`
	Query     string   `db:"query" json:"query"`
}

// hazard is one kind of session hazard: which sessions show it and for how
// long.
type hazard struct {
	kind, what, rec string
	limit           time.Duration
	secs            func(s session) *float64
}

// Sessions returns the sessions probe, limited to the client sessions of
// the current database (other databases on the server are not its
// business): sessions idle in a transaction longer than IdleInTransaction,
// transactions open longer than LongTransaction, statements running longer
// than LongQuery and lock waits longer than LockWait are one warning per
// kind, naming the longest and listing the others. Connections in use on
// the whole server against max_connections (less
// superuser_reserved_connections) above ConnectionsWarnPercent or
// ConnectionsCriticalPercent are a warning or critical. Not supported on
// SQLite (info).
func Sessions(opt Options) Probe {
	o := opt.withDefaults()
	const name = ip2adb.CategorySessions
	return postgresOnly(name, "Session monitoring", func(ctx context.Context, env Env, db *sqlx.DB) (Result, error) {
		var res Result
		var ss []session
		if err := db.SelectContext(ctx, &ss, `SELECT a.pid, coalesce(a.usename, '') AS usename, coalesce(a.state, '') AS state,
			extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS xact_s,
			CASE WHEN a.state = 'active' THEN extract(epoch FROM clock_timestamp() - a.query_start)::float8 END AS query_s,
			extract(epoch FROM clock_timestamp() - a.state_change)::float8 AS state_s,
			(SELECT extract(epoch FROM clock_timestamp() - min(l.waitstart))::float8 FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted) AS wait_s,
			array_to_string(pg_blocking_pids(a.pid), ',') AS blockers,
			left(coalesce(a.query, ''), 200) AS query
			FROM pg_stat_activity a
			WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
			ORDER BY a.pid`); err != nil {
			return res, fmt.Errorf("sessions: %w", err)
		}
		var conn struct {
			Used     int64 `db:"used"`
			Max      int64 `db:"max_conn"`
			Reserved int64 `db:"reserved"`
		}
		if err := db.GetContext(ctx, &conn, `SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS used,
			current_setting('max_connections')::bigint AS max_conn,
			current_setting('superuser_reserved_connections')::bigint AS reserved`); err != nil {
			return res, fmt.Errorf("connections: %w", err)
		}
		hazards := []hazard{
			{"idle_in_transaction", "idle in a transaction", "Find the application code that leaves transactions open (the query shown is the last one it ran) and end them (commit or roll back); set idle_in_transaction_session_timeout; pg_terminate_backend(pid) ends a stuck one.",
				o.IdleInTransaction, func(s session) *float64 {
					if s.State == "idle in transaction" || s.State == "idle in transaction (aborted)" {
						return s.StateSecs
					}
					return nil
				}},
			{"long_transaction", "in a transaction open", "Long transactions hold back vacuum (dead tuples, freezing) and hold locks: end them or split the work; set transaction_timeout or statement_timeout.",
				o.LongTransaction, func(s session) *float64 { return s.XactSecs }},
			{"long_query", "running one statement", "EXPLAIN the statement; cancel it with pg_cancel_backend(pid) if it is stuck; set statement_timeout.",
				o.LongQuery, func(s session) *float64 { return s.QuerySecs }},
			{"lock_wait", "waiting for a lock", "Look at the blocking sessions (blocked_by) and end the transaction that holds the lock; keep transactions short.",
				o.LockWait, func(s session) *float64 {
					if s.Blockers == "" && s.WaitSecs == nil {
						return nil
					}
					return s.WaitSecs
				}},
		}
		counts := map[string]any{}
		for _, h := range hazards {
			var hit []session
			var worst session
			var worstSecs float64
			for _, s := range ss {
				v := h.secs(s)
				if v == nil || *v <= h.limit.Seconds() {
					continue
				}
				hit = append(hit, s)
				if len(hit) == 1 || *v > worstSecs {
					worst, worstSecs = s, *v
				}
			}
			counts[h.kind] = len(hit)
			if len(hit) == 0 {
				continue
			}
			pids := make([]int64, len(hit))
			for i, s := range hit {
				pids[i] = s.PID
			}
			desc := fmt.Sprintf("%d sessions of this database have been %s for more than %s; the longest, pid %d (%s), for %s",
				len(hit), h.what, h.limit, worst.PID, worst.User, (time.Duration(worstSecs) * time.Second).String())
			if len(hit) == 1 {
				desc = fmt.Sprintf("Session pid %d (%s) has been %s for %s (over %s)", worst.PID, worst.User, h.what,
					(time.Duration(worstSecs) * time.Second).String(), h.limit)
			}
			details := map[string]any{"count": len(hit), "pids": pids, "pid": worst.PID, "seconds": round(worstSecs, 1),
				"threshold_seconds": h.limit.Seconds(), "query": worst.Query}
			if h.kind == "lock_wait" {
				details["blocked_by"] = worst.Blockers
			}
			is := finding(name, ip2adb.Warning, "", desc, h.rec, details)
			is.Key = map[string]any{"kind": h.kind}
			res.Findings = append(res.Findings, is)
		}
		avail := max(conn.Max-conn.Reserved, 1)
		pct := round(float64(conn.Used)/float64(avail)*100, 1)
		sev := ip2adb.Severity("")
		limit := 0.0
		switch {
		case pct > o.ConnectionsCriticalPercent:
			sev, limit = ip2adb.Critical, o.ConnectionsCriticalPercent
		case pct > o.ConnectionsWarnPercent:
			sev, limit = ip2adb.Warning, o.ConnectionsWarnPercent
		}
		if sev != "" {
			is := finding(name, sev, "",
				fmt.Sprintf("%d of %d connections are in use (%.1f%%, over %.0f%%); %d of them on this database", conn.Used, avail, pct, limit, len(ss)+1),
				"Put a connection pooler (PgBouncer) in front of the server or lower the applications' pool sizes; raising max_connections costs memory per connection.",
				map[string]any{"used": conn.Used, "available": avail, "max_connections": conn.Max,
					"superuser_reserved_connections": conn.Reserved, "percent": pct, "threshold_percent": limit, "this_database": len(ss) + 1})
			is.Key = map[string]any{"kind": "connections"}
			res.Findings = append(res.Findings, is)
		}
		res.Metrics = map[string]any{"sessions": len(ss) + 1, "connections_used": conn.Used, "connections_available": avail,
			"connections_percent": pct, "hazards": counts}
		res.Summary = fmt.Sprintf("%d sessions on this database; %d of %d connections in use (%.1f%%)", len(ss)+1, conn.Used, avail, pct)
		return res, nil
	})
}

package resilience

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
)

// defaultQueryAdvice is the recommendation for a slow timed query without
// an Advice of its own.
const defaultQueryAdvice = "Run ANALYZE, check that the tables it reads are indexed and that the server has enough memory; see index_health for missing or invalid indexes."

// timedPhrase says how many timed queries were measured: "only the three
// timed queries were measured".
func timedPhrase(n int) string {
	numberWords := [...]string{"no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}
	word := fmt.Sprint(n)
	if n < len(numberWords) {
		word = numberWords[n]
	}
	switch n {
	case 0:
		return "no query was timed"
	case 1:
		return "only the one timed query was measured"
	}
	return "only the " + word + " timed queries were measured"
}

// slowStatement is one row of pg_stat_statements.
type slowStatement struct {
	Query  string  `db:"query" json:"query"`
	Calls  int64   `db:"calls" json:"calls"`
	MeanMS float64 `db:"mean_ms" json:"mean_ms"`
	MaxMS  float64 `db:"max_ms" json:"max_ms"`
	TotMS  float64 `db:"total_ms" json:"total_ms"`
	// Share is the statement's share of all statement time in this
	// database.
	Share float64 `db:"share" json:"share"`
}

// QueryPerformance returns the query_performance probe: it times
// TimedQueries and warns about each slower than SlowQuery. On
// PostgreSQL it also lists the slowest statements by mean time from
// pg_stat_statements when that extension is installed, warning about those
// whose mean or longest call exceeds SlowQuery or whose share of all
// statement time exceeds SlowQueryShare (with a total over SlowQuery), and
// says so as info when it is not; it also reports a buffer cache hit ratio
// below CacheHitRatio as info. On SQLite it says that statement statistics
// are not supported.
func QueryPerformance(opt Options) Probe {
	o := opt.withDefaults()
	return standard(ip2adb.CategoryQueryPerformance, func(ctx context.Context, env Env) (Result, error) {
		const name = ip2adb.CategoryQueryPerformance
		db, err := env.db()
		if err != nil {
			return Result{}, err
		}
		var res Result
		timings := map[string]any{}
		var parts []string
		for _, q := range o.TimedQueries {
			var n int64
			start := time.Now()
			if err := db.GetContext(ctx, &n, q.SQL); err != nil {
				return res, fmt.Errorf("%s: %w", q.Name, err)
			}
			d := time.Since(start)
			ms := round(float64(d.Microseconds())/1000, 3)
			timings[q.Name] = ms
			parts = append(parts, fmt.Sprintf("%s %.1f ms", q.Name, ms))
			if d > o.SlowQuery {
				is := finding(name, ip2adb.Warning, "",
					fmt.Sprintf("Query %s took %s (over %s)", q.Name, d.Round(time.Millisecond), o.SlowQuery),
					cmp.Or(q.Advice, defaultQueryAdvice),
					map[string]any{"query": q.Name, "sql": q.SQL, "duration_ms": ms, "threshold_ms": o.SlowQuery.Milliseconds(), "rows": n})
				is.Key = map[string]any{"query": q.Name}
				res.Findings = append(res.Findings, is)
			}
		}
		res.Metrics = map[string]any{"timings_ms": timings, "threshold_ms": o.SlowQuery.Milliseconds()}
		res.Summary = strings.Join(parts, ", ")
		if !dbx.DialectOf(db).ServerStatistics() {
			res.Findings = append(res.Findings, finding(name, ip2adb.Info, "",
				"Statement statistics (pg_stat_statements) are not supported on sqlite; "+timedPhrase(len(o.TimedQueries)),
				"Nothing to do on SQLite; on PostgreSQL install pg_stat_statements to see the slowest statements.",
				map[string]any{"supported": false, "dialect": "sqlite"}))
			return res, nil
		}
		hit, err := cacheHit(ctx, db, o)
		if err != nil {
			return res, err
		}
		res.Metrics["cache"] = hit.metrics
		res.Findings = append(res.Findings, hit.findings...)
		var installed bool
		if err := db.GetContext(ctx, &installed, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')"); err != nil {
			return res, fmt.Errorf("look for pg_stat_statements: %w", err)
		}
		if !installed {
			res.Metrics["pg_stat_statements"] = "not installed"
			res.Findings = append(res.Findings, finding(name, ip2adb.Info, "",
				"pg_stat_statements is not installed, so the slowest statements cannot be listed",
				"Add pg_stat_statements to shared_preload_libraries, restart PostgreSQL and run CREATE EXTENSION pg_stat_statements in this database.",
				map[string]any{"extension": "pg_stat_statements", "installed": false}))
			return res, nil
		}
		var top []slowStatement
		err = db.SelectContext(ctx, &top, `WITH s AS (
				SELECT query, calls, mean_exec_time, max_exec_time, total_exec_time,
					total_exec_time / nullif(sum(total_exec_time) OVER (), 0) AS share
				FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
			)
			SELECT query, calls, mean_exec_time AS mean_ms, max_exec_time AS max_ms, total_exec_time AS total_ms,
				coalesce(share, 0) AS share
			FROM s ORDER BY greatest(mean_exec_time / $1, max_exec_time / $1, share / $2) DESC, query LIMIT 10`,
			float64(max(o.SlowQuery.Milliseconds(), 1)), o.SlowQueryShare)
		if err != nil {
			res.Metrics["pg_stat_statements"] = "unreadable"
			res.Findings = append(res.Findings, finding(name, ip2adb.Info, "",
				"pg_stat_statements is installed but cannot be read: "+err.Error(),
				"Add pg_stat_statements to shared_preload_libraries and restart PostgreSQL (or grant pg_read_all_stats to this role).",
				map[string]any{"extension": "pg_stat_statements", "installed": true, "error": err.Error()}))
			return res, nil
		}
		res.Metrics["pg_stat_statements"] = "read"
		res.Metrics["slowest_statements"] = top
		slow := float64(o.SlowQuery.Milliseconds())
		for _, s := range top {
			q := s.Query
			if len(q) > 200 {
				q = q[:200] + "…"
			}
			var why string
			switch {
			case s.MeanMS > slow:
				why = fmt.Sprintf("averages %.0f ms over %d calls (over %s)", s.MeanMS, s.Calls, o.SlowQuery)
			case s.MaxMS > slow:
				why = fmt.Sprintf("took up to %.0f ms in one call (over %s; mean %.0f ms over %d calls)", s.MaxMS, o.SlowQuery, s.MeanMS, s.Calls)
			case s.Share > o.SlowQueryShare && s.TotMS > slow:
				why = fmt.Sprintf("uses %.0f%% of all statement time in this database (%.0f ms over %d calls; over %.0f%%)", s.Share*100, s.TotMS, s.Calls, o.SlowQueryShare*100)
			default:
				continue
			}
			is := finding(name, ip2adb.Warning, "",
				fmt.Sprintf("A statement %s: %s", why, q),
				"EXPLAIN ANALYZE the statement; add the index it lacks or rewrite it.",
				map[string]any{"query": s.Query, "calls": s.Calls, "mean_ms": round(s.MeanMS, 3), "max_ms": round(s.MaxMS, 3),
					"total_ms": round(s.TotMS, 3), "share": round(s.Share, 4)})
			is.Key = map[string]any{"statement": q}
			res.Findings = append(res.Findings, is)
		}
		return res, nil
	})
}

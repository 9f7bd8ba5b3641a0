package resilience

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// postgresOnly wraps a probe that only PostgreSQL can answer: on SQLite it
// says so as one info finding of its own.
func postgresOnly(name, what string, fn func(ctx context.Context, env Env, db *sqlx.DB) (Result, error)) Probe {
	return standard(name, func(ctx context.Context, env Env) (Result, error) {
		db, err := env.db()
		if err != nil {
			return Result{}, err
		}
		if !dbx.DialectOf(db).ServerStatistics() {
			return Result{
				Summary: "not supported on sqlite",
				Findings: []ip2adb.Issue{finding(name, ip2adb.Info, "",
					what+" is not supported on sqlite",
					"Nothing to do on SQLite; on PostgreSQL this probe reports it.",
					map[string]any{"supported": false, "dialect": "sqlite"})},
				Metrics: map[string]any{"supported": false},
			}, nil
		}
		return fn(ctx, env, db)
	})
}

// wraparoundLimit is the distance at which transaction IDs wrap around.
const wraparoundLimit = 1 << 31

// TransactionWraparound returns the transaction_wraparound probe: the
// freeze age (age(datfrozenxid)) of every database of the server against
// autovacuum_freeze_max_age. An age above WraparoundCriticalAge is
// critical; above autovacuum_freeze_max_age × FreezeAgeWarnFactor a
// warning. One finding names the oldest database and lists the others over
// the line; its details name the oldest table of the current database.
// Multixact ages are measured too. Not supported on SQLite (info).
func TransactionWraparound(opt Options) Probe {
	o := opt.withDefaults()
	const name = ip2adb.CategoryTransactionWraparound
	return postgresOnly(name, "Transaction-ID wraparound monitoring", func(ctx context.Context, env Env, db *sqlx.DB) (Result, error) {
		var res Result
		var dbs []struct {
			Name    string `db:"datname"`
			Age     int64  `db:"age"`
			MxidAge int64  `db:"mxid_age"`
		}
		if err := db.SelectContext(ctx, &dbs, `SELECT datname, age(datfrozenxid)::bigint AS age, mxid_age(datminmxid)::bigint AS mxid_age
			FROM pg_database ORDER BY age(datfrozenxid) DESC, datname`); err != nil {
			return res, fmt.Errorf("database freeze ages: %w", err)
		}
		var set struct {
			FreezeMax int64 `db:"freeze_max"`
			MxidMax   int64 `db:"mxid_max"`
		}
		if err := db.GetContext(ctx, &set, `SELECT current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max,
			current_setting('autovacuum_multixact_freeze_max_age')::bigint AS mxid_max`); err != nil {
			return res, fmt.Errorf("freeze settings: %w", err)
		}
		var oldest struct {
			Table sql.NullString `db:"relname"`
			Age   sql.NullInt64  `db:"age"`
		}
		if err := db.GetContext(ctx, &oldest, `SELECT c.relname, age(c.relfrozenxid)::bigint AS age FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'm', 't') AND n.nspname = current_schema()
			ORDER BY age(c.relfrozenxid) DESC, c.relname LIMIT 1`); err != nil && err != sql.ErrNoRows {
			return res, fmt.Errorf("oldest table: %w", err)
		}
		warnAt := int64(math.Min(float64(set.FreezeMax)*o.FreezeAgeWarnFactor, float64(o.WraparoundCriticalAge)))
		ages := map[string]any{}
		var over []string
		var maxAge, maxMxid int64
		for _, d := range dbs {
			ages[d.Name] = d.Age
			maxAge = max(maxAge, d.Age)
			maxMxid = max(maxMxid, d.MxidAge)
			if d.Age > warnAt {
				over = append(over, d.Name)
			}
		}
		pct := round(float64(maxAge)/wraparoundLimit*100, 1)
		res.Metrics = map[string]any{"max_age": maxAge, "percent_toward_wraparound": pct, "ages": ages,
			"autovacuum_freeze_max_age": set.FreezeMax, "max_multixact_age": maxMxid,
			"autovacuum_multixact_freeze_max_age": set.MxidMax, "warn_age": warnAt, "critical_age": o.WraparoundCriticalAge}
		res.Summary = fmt.Sprintf("oldest freeze age %d (%.1f%% of the way to wraparound; autovacuum_freeze_max_age %d)", maxAge, pct, set.FreezeMax)
		if len(dbs) == 0 || maxAge <= warnAt {
			return res, nil
		}
		top := dbs[0]
		sev, limit := ip2adb.Warning, warnAt
		if top.Age > o.WraparoundCriticalAge {
			sev, limit = ip2adb.Critical, o.WraparoundCriticalAge
		}
		details := map[string]any{"database": top.Name, "age": top.Age, "threshold": limit,
			"autovacuum_freeze_max_age": set.FreezeMax, "percent_toward_wraparound": pct,
			"transactions_left": wraparoundLimit - top.Age, "databases_over": over}
		if oldest.Table.Valid {
			details["oldest_table"] = oldest.Table.String
			details["oldest_table_age"] = oldest.Age.Int64
		}
		desc := fmt.Sprintf("Database %s has a transaction-ID freeze age of %d (over %d; autovacuum_freeze_max_age %d): %.1f%% of the way to wraparound, when PostgreSQL stops accepting writes",
			top.Name, top.Age, limit, set.FreezeMax, pct)
		if len(over) > 1 {
			desc += fmt.Sprintf("; %d databases are over (%s)", len(over), strings.Join(over, ", "))
		}
		is := finding(name, sev, "", desc,
			fmt.Sprintf("Run VACUUM (FREEZE, VERBOSE) in %s now, oldest tables first (SELECT relname, age(relfrozenxid) FROM pg_class ORDER BY 2 DESC); find what holds autovacuum back: long or idle-in-transaction sessions, prepared transactions (pg_prepared_xacts), inactive replication slots.", top.Name),
			details)
		is.Key = map[string]any{"database": top.Name}
		res.Findings = append(res.Findings, is)
		return res, nil
	})
}

// tableVacuum is one table's vacuum and analyze statistics.
type tableVacuum struct {
	Table           string     `db:"relname" json:"table"`
	Live            int64      `db:"n_live_tup" json:"live_tuples"`
	Dead            int64      `db:"n_dead_tup" json:"dead_tuples"`
	ModSinceAnalyze int64      `db:"n_mod_since_analyze" json:"modified_since_analyze"`
	LastVacuum      *time.Time `db:"last_vacuum" json:"last_vacuum"`
	LastAutovacuum  *time.Time `db:"last_autovacuum" json:"last_autovacuum"`
	LastAnalyze     *time.Time `db:"last_analyze" json:"last_analyze"`
	LastAutoanalyze *time.Time `db:"last_autoanalyze" json:"last_autoanalyze"`
}

// VacuumHealth returns the vacuum_health probe: for every table of the
// current schema, the last vacuum, autovacuum, analyze and autoanalyze and
// the dead-tuple ratio (in the metrics). A table whose dead tuples exceed
// DeadTupleRatio of its tuples (and number at least DeadTupleFloor) is a
// warning; tables with at least DeadTupleFloor rows (or changes) that were
// never analyzed are one info finding. Not supported on SQLite (info).
func VacuumHealth(opt Options) Probe {
	o := opt.withDefaults()
	const name = ip2adb.CategoryVacuumHealth
	return postgresOnly(name, "Vacuum health (dead tuples, last vacuum and analyze)", func(ctx context.Context, env Env, db *sqlx.DB) (Result, error) {
		var res Result
		var tables []tableVacuum
		if err := db.SelectContext(ctx, &tables, `SELECT relname, n_live_tup, n_dead_tup, n_mod_since_analyze,
			last_vacuum, last_autovacuum, last_analyze, last_autoanalyze
			FROM pg_stat_user_tables WHERE schemaname = current_schema() ORDER BY relname`); err != nil {
			return res, fmt.Errorf("vacuum statistics: %w", err)
		}
		var never []string
		var worst float64
		for _, t := range tables {
			total := t.Live + t.Dead
			ratio := 0.0
			if total > 0 {
				ratio = float64(t.Dead) / float64(total)
			}
			worst = max(worst, ratio)
			if t.Dead >= o.DeadTupleFloor && ratio > o.DeadTupleRatio {
				last := lastOf(t.LastVacuum, t.LastAutovacuum)
				lastText := "never vacuumed"
				if last != nil {
					lastText = "last vacuumed " + last.UTC().Format(time.RFC3339)
				}
				is := finding(name, ip2adb.Warning, t.Table,
					fmt.Sprintf("Table %s is %.0f%% dead tuples (%d dead, %d live; over %.0f%%), %s", t.Table, ratio*100, t.Dead, t.Live, o.DeadTupleRatio*100, lastText),
					fmt.Sprintf("Run VACUUM (VERBOSE, ANALYZE) %s; if autovacuum cannot keep up, lower autovacuum_vacuum_scale_factor for this table and look for long transactions holding old rows visible.", t.Table),
					map[string]any{"dead_tuples": t.Dead, "live_tuples": t.Live, "dead_ratio": round(ratio, 4),
						"threshold": o.DeadTupleRatio, "last_vacuum": timeText(t.LastVacuum), "last_autovacuum": timeText(t.LastAutovacuum)})
				is.Key = map[string]any{"table": t.Table}
				res.Findings = append(res.Findings, is)
			}
			if t.LastAnalyze == nil && t.LastAutoanalyze == nil && max(total, t.ModSinceAnalyze) >= o.DeadTupleFloor {
				never = append(never, t.Table)
			}
		}
		if len(never) > 0 {
			res.Findings = append(res.Findings, finding(name, ip2adb.Info, "",
				fmt.Sprintf("%d tables hold rows but were never analyzed (at least %d rows or changes each): %s", len(never), o.DeadTupleFloor, strings.Join(never, ", ")),
				"Run ANALYZE (the planner guesses without statistics); check that autovacuum is on (SHOW autovacuum).",
				map[string]any{"tables": never, "count": len(never)}))
		}
		res.Metrics = map[string]any{"tables": tables, "worst_dead_ratio": round(worst, 4)}
		res.Summary = fmt.Sprintf("%d tables; worst dead-tuple ratio %.1f%%; %d never analyzed", len(tables), worst*100, len(never))
		return res, nil
	})
}

func lastOf(a, b *time.Time) *time.Time {
	switch {
	case a == nil:
		return b
	case b == nil || a.After(*b):
		return a
	}
	return b
}

func timeText(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

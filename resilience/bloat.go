package resilience

import (
	"context"
	"fmt"
	"math"

	"github.com/ip2adb/ip2adb"
	"github.com/jmoiron/sqlx"
)

// relStats is what the statistics say about one table or B-tree index.
type relStats struct {
	Kind     string  `db:"kind"`
	Table    string  `db:"table_name"`
	Name     string  `db:"rel_name"`
	OID      int64   `db:"oid"`
	Pages    int64   `db:"pages"`
	Tuples   float64 `db:"tuples"`
	Width    float64 `db:"width"`
	Fill     float64 `db:"fill"`
	HasStats bool    `db:"has_stats"`
}

// bloatSizes is a relation's actual and expected size.
type bloatSizes struct {
	actual, useful int64
}

func align8(v float64) float64 { return math.Ceil(v/8) * 8 }

// estimate is the size the relation would have if freshly built from its
// live tuples: tuple or index-entry headers, average widths from pg_stats,
// line pointers, page headers and fill factor.
func (r relStats) estimate(block int64) int64 {
	var per, usable float64
	if r.Kind == "table" {
		per = 24 + align8(r.Width) + 4
		usable = float64(block-24) * r.Fill / 100
	} else {
		per = 8 + align8(r.Width) + 4
		usable = float64(block-24-16) * r.Fill / 100
	}
	pages := math.Ceil(r.Tuples * per / usable)
	if r.Kind == "index" {
		pages++ // the metapage
	}
	return int64(max(pages, 1)) * block
}

// Bloat returns the bloat probe: each table and B-tree index of the
// current schema whose size is more than BloatRatio times the size its live
// rows need (estimated from pg_class and pg_stats, as check_postgres does)
// and wastes at least BloatMinBytes is a warning. Relations never analyzed
// are skipped (no statistics). With ExactBloat the relations are measured
// with pgstattuple instead (a full read of each; the extension is installed
// only with CreateExtension, and its absence is an info finding, the
// estimate then stands). Not supported on SQLite (info).
func Bloat(opt Options) Probe {
	o := opt.withDefaults()
	const name = ip2adb.CategoryBloat
	return postgresOnly(name, "Table and index bloat estimation", func(ctx context.Context, env Env, db *sqlx.DB) (Result, error) {
		var res Result
		var block int64
		if err := db.GetContext(ctx, &block, "SELECT current_setting('block_size')::bigint"); err != nil {
			return res, fmt.Errorf("block size: %w", err)
		}
		var rels []relStats
		if err := db.SelectContext(ctx, &rels, `WITH cols AS (
				SELECT tablename, attname, avg_width FROM pg_stats WHERE schemaname = current_schema()
			)
			SELECT 'table' AS kind, c.relname AS table_name, c.relname AS rel_name, c.oid::bigint AS oid,
				c.relpages::bigint AS pages, c.reltuples::float8 AS tuples,
				(SELECT coalesce(sum(avg_width), 0) FROM cols WHERE cols.tablename = c.relname)::float8 AS width,
				coalesce((SELECT substring(x FROM 'fillfactor=([0-9]+)')::float8 FROM unnest(c.reloptions) x WHERE x LIKE 'fillfactor=%'), 100) AS fill,
				EXISTS (SELECT 1 FROM cols WHERE cols.tablename = c.relname) AS has_stats
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'm') AND c.relpersistence <> 't' AND n.nspname = current_schema()
			UNION ALL
			SELECT 'index', t.relname, c.relname, c.oid::bigint, c.relpages::bigint, c.reltuples::float8,
				(SELECT coalesce(sum(cols.avg_width), 0) FROM pg_attribute a JOIN cols ON cols.tablename = t.relname AND cols.attname = a.attname
					WHERE a.attrelid = t.oid AND a.attnum = ANY (i.indkey::int2[]))::float8,
				coalesce((SELECT substring(x FROM 'fillfactor=([0-9]+)')::float8 FROM unnest(c.reloptions) x WHERE x LIKE 'fillfactor=%'), 90),
				i.indexprs IS NULL AND EXISTS (SELECT 1 FROM cols WHERE cols.tablename = t.relname)
			FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = c.relam
			WHERE am.amname = 'btree' AND i.indisvalid AND c.relpersistence <> 't' AND n.nspname = current_schema()
			ORDER BY 1 DESC, 2, 3`); err != nil {
			return res, fmt.Errorf("relation statistics: %w", err)
		}
		method := "estimated from statistics"
		exact := false
		if o.ExactBloat {
			ok, note, err := ensureExtension(ctx, db, "pgstattuple", o.CreateExtension)
			if err != nil {
				return res, err
			}
			if ok {
				exact, method = true, "measured with pgstattuple"
			} else {
				res.Findings = append(res.Findings, finding(name, ip2adb.Info, "",
					"Exact bloat was asked for but pgstattuple is "+note+"; the figures are estimated from statistics",
					"Run as a role allowed to: CREATE EXTENSION pgstattuple; (or ip2adb resilience --exact-bloat --create-extension).",
					map[string]any{"extension": "pgstattuple", "reason": note, "command": "CREATE EXTENSION pgstattuple;"}))
			}
		}
		measured := map[string]any{}
		skipped := 0
		var worst float64
		for _, r := range rels {
			var sz bloatSizes
			if exact {
				var m struct {
					Len  int64 `db:"table_len"`
					Dead int64 `db:"dead_tuple_len"`
					Free int64 `db:"free_space"`
				}
				if err := db.GetContext(ctx, &m, "SELECT table_len, dead_tuple_len, free_space FROM pgstattuple($1::oid::regclass)", r.OID); err != nil {
					return res, fmt.Errorf("pgstattuple %s: %w", r.Name, err)
				}
				sz = bloatSizes{actual: m.Len, useful: max(m.Len-m.Dead-m.Free, 0)}
			} else {
				if !r.HasStats || r.Tuples < 0 || r.Pages == 0 {
					skipped++
					continue
				}
				sz = bloatSizes{actual: r.Pages * block, useful: r.estimate(block)}
			}
			if sz.actual == 0 {
				continue
			}
			wasted := max(sz.actual-sz.useful, 0)
			ratio := float64(sz.actual) / float64(max(sz.useful, block))
			worst = max(worst, ratio)
			measured[r.Kind+":"+r.Name] = map[string]any{"bytes": sz.actual, "wasted_bytes": wasted, "ratio": round(ratio, 2)}
			if ratio <= o.BloatRatio || wasted < o.BloatMinBytes {
				continue
			}
			kind, rec := "Table", fmt.Sprintf("Rewrite the table to give the space back: VACUUM FULL %s (locks it; pg_repack does it online), then find why it bloated (mass deletes or updates, autovacuum behind).", r.Name)
			if r.Kind == "index" {
				kind, rec = "Index", fmt.Sprintf("Rebuild it: REINDEX INDEX CONCURRENTLY %s.", r.Name)
			}
			is := finding(name, ip2adb.Warning, r.Table,
				fmt.Sprintf("%s %s is %.1f× the size its live rows need (%s, about %s wasted; %s)", kind, r.Name, ratio, humanBytes(sz.actual), humanBytes(wasted), method),
				rec, map[string]any{"relation": r.Name, "kind": r.Kind, "bytes": sz.actual, "wasted_bytes": wasted,
					"ratio": round(ratio, 2), "threshold_ratio": o.BloatRatio, "min_wasted_bytes": o.BloatMinBytes, "method": method})
			is.Key = map[string]any{"relation": r.Name}
			res.Findings = append(res.Findings, is)
		}
		res.Metrics = map[string]any{"relations": measured, "method": method, "worst_ratio": round(worst, 2), "not_analyzed": skipped}
		res.Summary = fmt.Sprintf("%d relations %s; worst %.1f×; %d not yet analyzed", len(measured), method, worst, skipped)
		return res, nil
	})
}

// ensureExtension reports whether extension ext is installed, installing
// it first when create is set; note says why it is not usable.
func ensureExtension(ctx context.Context, db *sqlx.DB, ext string, create bool) (bool, string, error) {
	var installed bool
	if err := db.GetContext(ctx, &installed, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = $1)", ext); err != nil {
		return false, "", fmt.Errorf("look for %s: %w", ext, err)
	}
	if installed {
		return true, "installed", nil
	}
	if !create {
		return false, "not installed", nil
	}
	if _, err := db.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS "+ext); err != nil {
		return false, "not installed and cannot be installed: " + err.Error(), nil
	}
	return true, "installed by this run", nil
}

package resilience

import (
	"context"
	"fmt"

	"github.com/ip2adb/ip2adb"
	"github.com/jmoiron/sqlx"
)

type cacheResult struct {
	findings []ip2adb.Issue
	metrics  map[string]any
}

// cacheHit reads the buffer cache hit ratio of the current database from
// pg_stat_database; below CacheHitRatio, with at least CacheMinReads block
// accesses, it is an info finding.
func cacheHit(ctx context.Context, db *sqlx.DB, o Options) (cacheResult, error) {
	var st struct {
		Hit  int64 `db:"blks_hit"`
		Read int64 `db:"blks_read"`
	}
	if err := db.GetContext(ctx, &st, "SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()"); err != nil {
		return cacheResult{}, fmt.Errorf("cache hit ratio: %w", err)
	}
	total := st.Hit + st.Read
	ratio := 1.0
	if total > 0 {
		ratio = float64(st.Hit) / float64(total)
	}
	res := cacheResult{metrics: map[string]any{"blocks_hit": st.Hit, "blocks_read": st.Read, "hit_ratio": round(ratio, 4)}}
	if total >= o.CacheMinReads && ratio < o.CacheHitRatio {
		is := finding(ip2adb.CategoryQueryPerformance, ip2adb.Info, "",
			fmt.Sprintf("The buffer cache hit ratio of this database is %.1f%% (under %.0f%%): %d of %d block reads went past shared_buffers", ratio*100, o.CacheHitRatio*100, st.Read, total),
			"If queries are slow, raise shared_buffers (about a quarter of RAM) or add memory; a low ratio right after a restart or a one-off full scan is normal.",
			map[string]any{"hit_ratio": round(ratio, 4), "blocks_hit": st.Hit, "blocks_read": st.Read, "threshold": o.CacheHitRatio})
		is.Key = map[string]any{"metric": "cache_hit_ratio"}
		res.findings = append(res.findings, is)
	}
	return res, nil
}

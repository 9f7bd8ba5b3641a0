package resilience

import (
	"context"
	"database/sql"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
)

// DataStaleness returns the data_staleness probe: the rows of
// Staleness.Table (not soft-deleted) not updated for longer than
// StaleAfter and, when Staleness.Ended names a table, its rows that ended
// more than ArchiveYears ago (archive candidates). More than
// StaleThreshold stale rows, or at least StaleRatio of them (and at
// least StaleRatioFloor), is an info finding whose details carry both
// counts. With no Staleness.Table it measures nothing.
func DataStaleness(opt Options) Probe {
	o := opt.withDefaults()
	return standard(ip2adb.CategoryDataStaleness, func(ctx context.Context, env Env) (Result, error) {
		const name = ip2adb.CategoryDataStaleness
		s := o.Staleness
		if s.Table == "" {
			return Result{Summary: notNamed("Staleness")}, nil
		}
		db, err := env.db()
		if err != nil {
			return Result{}, err
		}
		d := dbx.DialectOf(db)
		now := env.Now().UTC()
		// Text bounds compare correctly with both dialects' timestamp and
		// date storage ('YYYY-MM-DD HH:MM:SS…' and 'YYYY-MM-DD').
		staleBefore := now.Add(-o.StaleAfter).Format(time.DateTime)
		endedBefore := now.AddDate(-o.ArchiveYears, 0, 0).Format(time.DateOnly)
		var stale, old, rows int64
		from := "SELECT count(*) FROM " + d.Quote(s.Table) + " WHERE TRUE" + notDeleted(d, "", s.Deleted, s.DeletedAt)
		if err := db.GetContext(ctx, &rows, from); err != nil {
			return Result{}, fmt.Errorf("count %s: %w", s.Noun, err)
		}
		if err := db.GetContext(ctx, &stale, d.Rebind(from+" AND "+d.Quote(s.Updated)+" < ?"), staleBefore); err != nil {
			return Result{}, fmt.Errorf("count stale %s: %w", s.Noun, err)
		}
		details := map[string]any{"stale_" + s.Noun: stale, s.Noun: rows, "not_updated_since": staleBefore}
		summary := fmt.Sprintf("%d of %d %s not updated since %s", stale, rows, s.Noun, staleBefore[:10])
		advice := s.Advice + "."
		if e := s.Ended; e.Table != "" {
			q := "SELECT count(*) FROM " + d.Quote(e.Table) + " WHERE " + d.Quote(e.Column) + " < ?"
			if err := db.GetContext(ctx, &old, d.Rebind(q), endedBefore); err != nil {
				return Result{}, fmt.Errorf("count old %s: %w", e.Noun, err)
			}
			details["old_"+e.Noun] = old
			details["ended_before"] = endedBefore
			summary += fmt.Sprintf("; %d %s ended before %s", old, e.Noun, endedBefore)
			advice = fmt.Sprintf("%s; consider archiving the %d %s that ended before %s.", s.Advice, old, e.Noun, endedBefore)
		}
		res := Result{Metrics: clone(details), Summary: summary}
		ratio := 0.0
		if rows > 0 {
			ratio = float64(stale) / float64(rows)
		}
		res.Metrics["stale_ratio"] = round(ratio, 4)
		byRatio := stale >= o.StaleRatioFloor && ratio >= o.StaleRatio
		if stale > o.StaleThreshold || byRatio {
			details["threshold"] = o.StaleThreshold
			details["stale_ratio"] = round(ratio, 4)
			details["ratio_threshold"] = o.StaleRatio
			why := fmt.Sprintf("over %d", o.StaleThreshold)
			if stale <= o.StaleThreshold {
				why = fmt.Sprintf("%.0f%% of the %s, at least %.0f%%", ratio*100, s.Noun, o.StaleRatio*100)
			}
			res.Findings = append(res.Findings, finding(name, ip2adb.Info, s.Table,
				fmt.Sprintf("%d %s have not been updated since %s (%s)", stale, s.Noun, staleBefore[:10], why),
				advice, details))
		}
		return res, nil
	})
}

// DataDistribution returns the data_distribution probe: the minimum,
// maximum and average number of rows of Distribution.Table per parent row
// (over the parents with any). A maximum above MaxChildrenPerParent is
// an info finding naming the parent. With no Distribution.Table it
// measures nothing.
func DataDistribution(opt Options) Probe {
	o := opt.withDefaults()
	return standard(ip2adb.CategoryDataDistribution, func(ctx context.Context, env Env) (Result, error) {
		const name = ip2adb.CategoryDataDistribution
		dist := o.Distribution
		if dist.Table == "" {
			return Result{Summary: notNamed("Distribution")}, nil
		}
		db, err := env.db()
		if err != nil {
			return Result{}, err
		}
		d := dbx.DialectOf(db)
		col, table := d.Quote(dist.Column), d.Quote(dist.Table)
		perParent := "SELECT " + col + " AS parent, count(*) AS n FROM " + table + " WHERE " + col + " IS NOT NULL GROUP BY " + col
		var agg struct {
			Parents int64           `db:"parents"`
			Min     sql.NullInt64   `db:"min_n"`
			Max     sql.NullInt64   `db:"max_n"`
			Avg     sql.NullFloat64 `db:"avg_n"`
		}
		err = db.GetContext(ctx, &agg, `SELECT count(*) AS parents, min(n) AS min_n, max(n) AS max_n, avg(n) AS avg_n
			FROM (`+perParent+`) t`)
		if err != nil {
			return Result{}, fmt.Errorf("%s per %s: %w", dist.Children, dist.Parent, err)
		}
		res := Result{Metrics: map[string]any{dist.Parents + "_with_" + dist.Children: agg.Parents,
			"min": agg.Min.Int64, "max": agg.Max.Int64, "avg": round(agg.Avg.Float64, 2)}}
		res.Summary = fmt.Sprintf("%s per %s: min %d, max %d, avg %.2f over %d %s",
			dist.Children, dist.Parent, agg.Min.Int64, agg.Max.Int64, round(agg.Avg.Float64, 2), agg.Parents, dist.Parents)
		if agg.Max.Int64 > o.MaxChildrenPerParent {
			var top struct {
				Parent int64 `db:"parent"`
				N      int64 `db:"n"`
			}
			if err := db.GetContext(ctx, &top, perParent+" ORDER BY count(*) DESC, "+col+" LIMIT 1"); err != nil {
				return res, fmt.Errorf("%s with most %s: %w", dist.Parent, dist.Children, err)
			}
			var over int64
			if err := db.GetContext(ctx, &over, d.Rebind(`SELECT count(*) FROM (`+perParent+` HAVING count(*) > ?) t`), o.MaxChildrenPerParent); err != nil {
				return res, fmt.Errorf("%s over the threshold: %w", dist.Parents, err)
			}
			is := finding(name, ip2adb.Info, dist.Table,
				fmt.Sprintf("%s %d has %d %s (over %d); %d %s are over", capitalize(dist.Parent), top.Parent, top.N, dist.Children,
					o.MaxChildrenPerParent, over, dist.Parents),
				dist.Advice,
				map[string]any{dist.Column: top.Parent, "max": agg.Max.Int64, "min": agg.Min.Int64,
					"avg": round(agg.Avg.Float64, 2), dist.Parents + "_over": over, "threshold": o.MaxChildrenPerParent})
			is.Key = map[string]any{dist.Column: top.Parent}
			res.Findings = append(res.Findings, is)
		}
		return res, nil
	})
}

// capitalize upper-cases the first letter of s.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

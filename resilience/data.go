package resilience

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
)

// DataStaleness returns the data_staleness probe: members (not deleted) not
// updated for longer than StaleAfter, and employments that ended more than
// OldEmploymentYears ago (archive candidates). More than
// StaleMembersThreshold stale members, or at least StaleRatio of the
// members (and at least StaleRatioFloor of them), is an info finding whose
// details carry both counts.
func DataStaleness(opt Options) Probe {
	o := opt.withDefaults()
	return standard(ip2adb.CategoryDataStaleness, func(ctx context.Context, env Env) (Result, error) {
		const name = ip2adb.CategoryDataStaleness
		db, err := env.db()
		if err != nil {
			return Result{}, err
		}
		d := dbx.DialectOf(db)
		now := env.Now().UTC()
		// Text bounds compare correctly with both dialects' timestamp and
		// date storage ('YYYY-MM-DD HH:MM:SS…' and 'YYYY-MM-DD').
		staleBefore := now.Add(-o.StaleAfter).Format(time.DateTime)
		endedBefore := now.AddDate(-o.OldEmploymentYears, 0, 0).Format(time.DateOnly)
		var stale, old, members int64
		if err := db.GetContext(ctx, &members, "SELECT count(*) FROM members WHERE NOT is_deleted"); err != nil {
			return Result{}, fmt.Errorf("count members: %w", err)
		}
		if err := db.GetContext(ctx, &stale, d.Rebind("SELECT count(*) FROM members WHERE NOT is_deleted AND updated_at < ?"), staleBefore); err != nil {
			return Result{}, fmt.Errorf("count stale members: %w", err)
		}
		if err := db.GetContext(ctx, &old, d.Rebind("SELECT count(*) FROM member_employments WHERE end_date < ?"), endedBefore); err != nil {
			return Result{}, fmt.Errorf("count old employments: %w", err)
		}
		details := map[string]any{
			"stale_members": stale, "members": members, "not_updated_since": staleBefore,
			"old_employments": old, "ended_before": endedBefore,
		}
		res := Result{Metrics: clone(details)}
		res.Summary = fmt.Sprintf("%d of %d members not updated since %s; %d employments ended before %s",
			stale, members, staleBefore[:10], old, endedBefore)
		ratio := 0.0
		if members > 0 {
			ratio = float64(stale) / float64(members)
		}
		res.Metrics["stale_ratio"] = round(ratio, 4)
		byRatio := stale >= o.StaleRatioFloor && ratio >= o.StaleRatio
		if stale > o.StaleMembersThreshold || byRatio {
			details["threshold"] = o.StaleMembersThreshold
			details["stale_ratio"] = round(ratio, 4)
			details["ratio_threshold"] = o.StaleRatio
			why := fmt.Sprintf("over %d", o.StaleMembersThreshold)
			if stale <= o.StaleMembersThreshold {
				why = fmt.Sprintf("%.0f%% of the members, at least %.0f%%", ratio*100, o.StaleRatio*100)
			}
			res.Findings = append(res.Findings, finding(name, ip2adb.Info, "members",
				fmt.Sprintf("%d members have not been updated since %s (%s)", stale, staleBefore[:10], why),
				fmt.Sprintf("Review whether these members' status and contact data are still true (a yearly roll call); consider archiving the %d employments that ended before %s.", old, endedBefore),
				details))
		}
		return res, nil
	})
}

// DataDistribution returns the data_distribution probe: the minimum,
// maximum and average number of employments per member (over members with
// employments). A maximum above MaxEmploymentsPerMember is an info finding
// naming the member.
func DataDistribution(opt Options) Probe {
	o := opt.withDefaults()
	return standard(ip2adb.CategoryDataDistribution, func(ctx context.Context, env Env) (Result, error) {
		const name = ip2adb.CategoryDataDistribution
		db, err := env.db()
		if err != nil {
			return Result{}, err
		}
		var agg struct {
			Members int64           `db:"members"`
			Min     sql.NullInt64   `db:"min_n"`
			Max     sql.NullInt64   `db:"max_n"`
			Avg     sql.NullFloat64 `db:"avg_n"`
		}
		err = db.GetContext(ctx, &agg, `SELECT count(*) AS members, min(n) AS min_n, max(n) AS max_n, avg(n) AS avg_n
			FROM (SELECT member_id, count(*) AS n FROM member_employments WHERE member_id IS NOT NULL GROUP BY member_id) t`)
		if err != nil {
			return Result{}, fmt.Errorf("employments per member: %w", err)
		}
		res := Result{Metrics: map[string]any{"members_with_employments": agg.Members,
			"min": agg.Min.Int64, "max": agg.Max.Int64, "avg": round(agg.Avg.Float64, 2)}}
		res.Summary = fmt.Sprintf("employments per member: min %d, max %d, avg %.2f over %d members",
			agg.Min.Int64, agg.Max.Int64, round(agg.Avg.Float64, 2), agg.Members)
		if agg.Max.Int64 > o.MaxEmploymentsPerMember {
			var top struct {
				MemberID int64 `db:"member_id"`
				N        int64 `db:"n"`
			}
			if err := db.GetContext(ctx, &top, `SELECT member_id, count(*) AS n FROM member_employments
				WHERE member_id IS NOT NULL GROUP BY member_id ORDER BY count(*) DESC, member_id LIMIT 1`); err != nil {
				return res, fmt.Errorf("member with most employments: %w", err)
			}
			var over int64
			if err := db.GetContext(ctx, &over, dbx.DialectOf(db).Rebind(`SELECT count(*) FROM (SELECT member_id FROM member_employments
				WHERE member_id IS NOT NULL GROUP BY member_id HAVING count(*) > ?) t`), o.MaxEmploymentsPerMember); err != nil {
				return res, fmt.Errorf("members over the threshold: %w", err)
			}
			is := finding(name, ip2adb.Info, "member_employments",
				fmt.Sprintf("Member %d has %d employments (over %d); %d members are over", top.MemberID, top.N, o.MaxEmploymentsPerMember, over),
				"Check these members for duplicated employment imports; legitimate long careers are fine.",
				map[string]any{"member_id": top.MemberID, "max": agg.Max.Int64, "min": agg.Min.Int64,
					"avg": round(agg.Avg.Float64, 2), "members_over": over, "threshold": o.MaxEmploymentsPerMember})
			is.Key = map[string]any{"member_id": top.MemberID}
			res.Findings = append(res.Findings, is)
		}
		return res, nil
	})
}

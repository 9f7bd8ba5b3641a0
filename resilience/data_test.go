package resilience

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

func TestDataStaleness(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		env := testEnv(t, db)
		for i, upd := range []string{"2024-01-01 00:00:00", "2025-11-27 23:00:00", "2025-11-28 01:59:59", "2025-11-28 02:00:00", "2026-11-01 00:00:00"} {
			testdb.MustExec(t, db, "INSERT INTO members (member_number, last_name, classification, updated_at) VALUES (?, 'Doe', 'journeyman', ?)", i, upd)
		}
		// Deleted members are not counted.
		testdb.MustExec(t, db, "INSERT INTO members (member_number, last_name, classification, updated_at, is_deleted) VALUES ('x', 'Doe', 'journeyman', '2000-01-01', TRUE)")
		for _, end := range []any{"2010-01-01", "2016-11-27", "2016-11-28", "2020-01-01", nil} {
			testdb.MustExec(t, db, "INSERT INTO member_employments (member_id, organization_id, start_date, end_date) VALUES (1, 1, '2005-01-01', ?)", end)
		}
		details := map[string]any{"stale_members": int64(3), "members": int64(5), "not_updated_since": "2025-11-28 02:00:00",
			"old_employments": int64(2), "ended_before": "2016-11-28"}
		metrics := withKey(details, "stale_ratio", 0.6)
		found := func(desc string, threshold int64, ratio float64) []ip2adb.Issue {
			d := withKey(metrics, "threshold", threshold)
			d["ratio_threshold"] = ratio
			return []ip2adb.Issue{issue("data_staleness", ip2adb.Info, "members", desc, "", d)}
		}
		for _, tc := range []struct {
			name string
			opt  Options
			want []ip2adb.Issue
		}{
			// 3 of 5 members stale is 60 %, but under the default floor of 10.
			{name: "under both", opt: withTables(Options{StaleThreshold: 3})},
			{name: "over the count", opt: withTables(Options{StaleThreshold: 2}),
				want: found("3 members have not been updated since 2025-11-28 (over 2)", 2, 0.5)},
			{name: "over the ratio", opt: withTables(Options{StaleThreshold: 3, Depth: Depth{StaleRatioFloor: 3}}),
				want: found("3 members have not been updated since 2025-11-28 (60% of the members, at least 50%)", 3, 0.5)},
			{name: "exactly the ratio", opt: withTables(Options{StaleThreshold: 3, Depth: Depth{StaleRatioFloor: 3, StaleRatio: 0.6}}),
				want: found("3 members have not been updated since 2025-11-28 (60% of the members, at least 60%)", 3, 0.6)},
			{name: "under the ratio", opt: withTables(Options{StaleThreshold: 3, Depth: Depth{StaleRatioFloor: 3, StaleRatio: 0.61}})},
			{name: "under the floor", opt: withTables(Options{StaleThreshold: 3, Depth: Depth{StaleRatioFloor: 4}})},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := probeOnce(t, DataStaleness(tc.opt), env)
				if d := cmp.Diff(tc.want, res.Findings, ignoreRec); d != "" {
					t.Errorf("findings (-want +got):\n%s", d)
				}
				checkRecs(t, res.Findings)
				if d := cmp.Diff(metrics, res.Metrics); d != "" {
					t.Errorf("metrics (-want +got):\n%s", d)
				}
			})
		}
		// Configurable ages: two years and five years.
		res := probeOnce(t, DataStaleness(withTables(Options{StaleAfter: 2 * 365 * 24 * time.Hour, ArchiveYears: 5})), env)
		if res.Metrics["stale_members"] != int64(1) || res.Metrics["old_employments"] != int64(4) {
			t.Errorf("custom ages: %v", res.Metrics)
		}
	}, testdb.WithSchema())
}

func withKey(m map[string]any, k string, v any) map[string]any {
	out := clone(m)
	out[k] = v
	return out
}

func TestDataDistribution(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		env := testEnv(t, db)
		res := probeOnce(t, DataDistribution(withTables(Options{})), env)
		if len(res.Findings) != 0 || res.Metrics["members_with_employments"] != int64(0) {
			t.Errorf("empty table: %v %v", res.Findings, res.Metrics)
		}
		for member, n := range map[int]int{1: 1, 2: 5, 3: 5, 4: 3} {
			for range n {
				testdb.MustExec(t, db, "INSERT INTO member_employments (member_id, organization_id, start_date) VALUES (?, 1, '2020-01-01')", member)
			}
		}
		testdb.MustExec(t, db, "INSERT INTO member_employments (member_id, organization_id, start_date) VALUES (NULL, 1, '2020-01-01')")
		wantMetrics := map[string]any{"members_with_employments": int64(4), "min": int64(1), "max": int64(5), "avg": 3.5}
		for _, tc := range []struct {
			threshold int64
			want      []ip2adb.Issue
		}{
			{threshold: 5},
			{threshold: 4, want: []ip2adb.Issue{{Check: "resilience.data_distribution", Category: "data_distribution",
				Severity: ip2adb.Info, Table: "member_employments", Key: map[string]any{"member_id": int64(2)},
				Description: "Member 2 has 5 employments (over 4); 2 members are over",
				Details: map[string]any{"member_id": int64(2), "max": int64(5), "min": int64(1), "avg": 3.5,
					"members_over": int64(2), "threshold": int64(4)}}}},
		} {
			t.Run(fmt.Sprint(tc.threshold), func(t *testing.T) {
				res := probeOnce(t, DataDistribution(withTables(Options{MaxChildrenPerParent: tc.threshold})), env)
				if d := cmp.Diff(tc.want, res.Findings, ignoreRec); d != "" {
					t.Errorf("findings (-want +got):\n%s", d)
				}
				checkRecs(t, res.Findings)
				if d := cmp.Diff(wantMetrics, res.Metrics); d != "" {
					t.Errorf("metrics (-want +got):\n%s", d)
				}
			})
		}
	}, testdb.WithSchema())
}

package resilience

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// TestNoTablesNamed: resilience knows no schema. With no table named, the
// probes that read the application's tables measure nothing and say so,
// RecordChecksums refuses, and database_growth counts every table but
// ip2adb's own.
func TestNoTablesNamed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		env := testEnv(t, db)
		seedRows(t, db)
		for _, tc := range []struct {
			probe Probe
			want  string
		}{
			{DataStaleness(Options{}), "nothing measured: no table named (Options.Staleness)"},
			{DataDistribution(Options{}), "nothing measured: no table named (Options.Distribution)"},
			{FileCorruption(Options{}), "nothing measured: no table named (Options.Attachments)"},
			{OrphanedFiles(Options{}), "nothing measured: no table named (Options.Attachments)"},
		} {
			res := probeOnce(t, tc.probe, env)
			if res.Summary != tc.want || len(res.Findings) != 0 {
				t.Errorf("%s: summary %q, findings %v; want %q and none", tc.probe.Name(), res.Summary, res.Findings, tc.want)
			}
		}
		res := probeOnce(t, QueryPerformance(Options{}), env)
		if res.Summary != "" || len(res.Metrics["timings_ms"].(map[string]any)) != 0 {
			t.Errorf("query_performance without timed queries: %q %v", res.Summary, res.Metrics)
		}
		if _, err := RecordChecksums(context.Background(), env, RecordOptions{}); err == nil {
			t.Error("RecordChecksums without an attachments table: no error")
		}

		probeOnce(t, DatabaseGrowth(Options{}), env)
		b, err := os.ReadFile(filepath.Join(env.LogDir, MetricsDir, env.Now().UTC().Format("2006-01-02")+growthSuffix))
		if err != nil {
			t.Fatal(err)
		}
		var snap GrowthSnapshot
		if err := json.Unmarshal(b, &snap); err != nil {
			t.Fatal(err)
		}
		var got []string
		for table := range snap.Tables {
			got = append(got, table)
		}
		slices.Sort(got)
		want := []string{"file_attachments", "grievances", "instructors", "locations", "member_employments",
			"members", "organization_contacts", "organizations", "students"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tables counted with no GrowthTables (-want +got):\n%s", diff)
		}
		if snap.Tables["members"].Rows != 4 || snap.TotalRows != 4+1+3 {
			t.Errorf("rows: members %d, total %d; want 4 and 8", snap.Tables["members"].Rows, snap.TotalRows)
		}
	}, testdb.WithSchema())
}

// TestTablesValidate: a named table without the columns its probe needs is
// refused up front.
func TestTablesValidate(t *testing.T) {
	for _, tc := range []struct {
		opt  Options
		want string
	}{
		{Options{Attachments: Attachments{Table: "files"}}, "attachments table files: no path column named"},
		{Options{Staleness: Staleness{Table: "people"}}, "staleness table people: no updated column named"},
		{Options{Staleness: Staleness{Table: "people", Updated: "changed_at", Ended: Ended{Table: "jobs"}}},
			"staleness ended table jobs: no end column named"},
		{Options{Distribution: Distribution{Table: "jobs"}}, "distribution table jobs: no parent column named"},
		{Options{TimedQueries: []TimedQuery{{Name: "count"}}}, "a timed query needs a name and SQL"},
	} {
		if err := tc.opt.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("Validate(%+v) = %v, want %q", tc.opt, err, tc.want)
		}
	}
}

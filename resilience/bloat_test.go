package resilience

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/testdb"
)

// TestBloat: a table of which one row in 70 is left (and its primary key)
// is about 70 times the size its rows need; a dense table is not bloated.
func TestBloat(t *testing.T) {
	db := testdb.Postgres(t)
	testdb.MustExec(t, db, "CREATE TABLE sparse (id int PRIMARY KEY, pad text)")
	testdb.MustExec(t, db, "INSERT INTO sparse SELECT i, repeat('x', 100) FROM generate_series(1, 70000) i")
	testdb.MustExec(t, db, "DELETE FROM sparse WHERE id % 70 <> 0")
	testdb.MustExec(t, db, "CREATE TABLE dense (id int PRIMARY KEY, pad text)")
	testdb.MustExec(t, db, "INSERT INTO dense SELECT i, repeat('x', 100) FROM generate_series(1, 20000) i")
	testdb.MustExec(t, db, "VACUUM ANALYZE sparse")
	testdb.MustExec(t, db, "VACUUM ANALYZE dense")
	env := testEnv(t, db)
	type rel struct {
		Severity ip2adb.Severity
		Table    string
		Key      map[string]any
		Method   any
		Big      bool // ratio over 30
	}
	summarize := func(fs []ip2adb.Issue) []rel {
		var out []rel
		for _, f := range fs {
			r, _ := f.Details["ratio"].(float64)
			out = append(out, rel{f.Severity, f.Table, f.Key, f.Details["method"], r > 30})
		}
		return out
	}
	opt := Options{Depth: Depth{BloatMinBytes: 1 << 20}}
	res := probeOnce(t, Bloat(opt), env)
	est := "estimated from statistics"
	want := []rel{
		{ip2adb.Warning, "sparse", map[string]any{"relation": "sparse"}, est, true},
		{ip2adb.Warning, "sparse", map[string]any{"relation": "sparse_pkey"}, est, true},
	}
	if d := cmp.Diff(want, summarize(res.Findings)); d != "" {
		t.Errorf("estimated (-want +got):\n%s\n%+v", d, res.Findings)
	}
	checkRecs(t, res.Findings)
	// The default floor of 64 MiB wasted hides these small tables.
	if res := probeOnce(t, Bloat(Options{}), env); len(res.Findings) != 0 {
		t.Errorf("default floor: %+v", res.Findings)
	}

	// Exact figures need pgstattuple: without --create-extension, an info
	// finding and the estimate; with it, measured.
	exact := opt
	exact.ExactBloat = true
	res = probeOnce(t, Bloat(exact), env)
	note := issue("bloat", ip2adb.Info, "", "Exact bloat was asked for but pgstattuple is not installed; the figures are estimated from statistics", "",
		map[string]any{"extension": "pgstattuple", "reason": "not installed", "command": "CREATE EXTENSION pgstattuple;"})
	if d := cmp.Diff(note, res.Findings[0], ignoreRec); d != "" || len(res.Findings) != 3 {
		t.Errorf("exact without the extension (-want +got):\n%s\n%+v", d, res.Findings)
	}
	exact.CreateExtension = true
	res = probeOnce(t, Bloat(exact), env)
	meas := "measured with pgstattuple"
	want = []rel{
		{ip2adb.Warning, "sparse", map[string]any{"relation": "sparse"}, meas, true},
		{ip2adb.Warning, "sparse", map[string]any{"relation": "sparse_pkey"}, meas, true},
	}
	if d := cmp.Diff(want, summarize(res.Findings)); d != "" {
		t.Errorf("measured (-want +got):\n%s\n%+v", d, res.Findings)
	}
}

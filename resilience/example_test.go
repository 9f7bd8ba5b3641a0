package resilience_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/dburl"
	_ "github.com/ip2adb/ip2adb/dburl/sqlite" // registers the SQLite driver
	"github.com/ip2adb/ip2adb/resilience"
)

// A custom probe joins the standard ones through NewProbe; Run turns a
// probe's error into a critical finding of its own.
func ExampleRun() {
	replication := resilience.NewProbe("replication_lag", func(ctx context.Context, env resilience.Env) (resilience.Result, error) {
		lag := 90 * time.Second // measured from the replica in a real probe
		res := resilience.Result{Summary: fmt.Sprintf("replica %s behind", lag)}
		if lag > time.Minute {
			res.Findings = append(res.Findings, ip2adb.Issue{
				Check: resilience.Check("replication_lag"), Category: "replication_lag", Severity: ip2adb.Warning,
				Description: "The replica is 1m30s behind", Recommendation: "Check the replica's network and disk.",
			})
		}
		return res, nil
	})
	broken := resilience.NewProbe("archive", func(context.Context, resilience.Env) (resilience.Result, error) {
		return resilience.Result{}, fmt.Errorf("archive dir unreadable")
	})
	now := func() time.Time { return time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC) }
	rep := resilience.Run(context.Background(), resilience.Env{Now: now}, []resilience.Probe{replication, broken}, resilience.RunOptions{})
	fmt.Printf("%+v\n", rep.Summary)
	for _, f := range rep.Findings {
		fmt.Println(f.Severity, f.Check, "-", f.Description)
	}
	if rep.HasCritical() {
		fmt.Println("exit 1")
	}
	// Output:
	// {Critical:1 Warning:1 Info:0 FailedProbes:1}
	// warning resilience.replication_lag - The replica is 1m30s behind
	// critical resilience.archive - The archive probe could not run: archive dir unreadable
	// exit 1
}

// The data probes read the tables Options names, of any schema: here a
// hiring hall's contractors (soft-deleted by a timestamp) and their
// dispatches.
func ExampleDataStaleness() {
	ctx := context.Background()
	db, err := dburl.Open(ctx, "sqlite::memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE contractors (card TEXT PRIMARY KEY, modified_at TEXT, deleted_at TEXT)`,
		`CREATE TABLE dispatches (id INTEGER PRIMARY KEY, card TEXT, ended_on TEXT)`,
		`INSERT INTO contractors VALUES ('C-1', '2026-11-01 08:00:00', NULL), ('C-2', '2019-05-01 08:00:00', NULL),
			('C-3', '2018-01-01 08:00:00', '2020-01-01 08:00:00')`,
		`INSERT INTO dispatches (card, ended_on) VALUES ('C-1', '2012-03-31'), ('C-1', '2025-06-30'), ('C-2', '2019-04-30')`,
	} {
		if _, err := db.Exec(q); err != nil {
			panic(err)
		}
	}
	opt := resilience.Options{
		Staleness: resilience.Staleness{Table: "contractors", Updated: "modified_at", DeletedAt: "deleted_at", Noun: "contractors",
			Ended: resilience.Ended{Table: "dispatches", Column: "ended_on", Noun: "dispatches"}},
		Distribution: resilience.Distribution{Table: "dispatches", Column: "card", Parent: "contractor", Parents: "contractors",
			Children: "dispatches"},
		Depth: resilience.Depth{StaleRatio: 0.5, StaleRatioFloor: 1}, // half of them stale is worth a finding
	}
	now := func() time.Time { return time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC) }
	env := resilience.Env{DB: db, Now: now}
	rep := resilience.Run(ctx, env, []resilience.Probe{resilience.DataStaleness(opt), resilience.DataDistribution(opt)}, resilience.RunOptions{})
	for _, p := range rep.Probes {
		fmt.Println(p.Name+":", p.Summary)
	}
	for _, f := range rep.Findings {
		fmt.Println(f.Severity, f.Table, "-", f.Description)
	}
	// Output:
	// data_staleness: 1 of 2 contractors not updated since 2025-11-28; 1 dispatches ended before 2016-11-28
	// data_distribution: dispatches per contractor: min 1, max 2, avg 1.50 over 2 contractors
	// info contractors - 1 contractors have not been updated since 2025-11-28 (50% of the contractors, at least 50%)
}

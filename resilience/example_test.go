package resilience_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ip2adb/ip2adb"
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

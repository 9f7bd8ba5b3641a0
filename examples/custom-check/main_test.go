package main

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/dbtest"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/integrity/integritytest"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/jmoiron/sqlx"
)

func TestApprenticeAboveScale(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		if err := sample(ctx, db); err != nil {
			t.Fatal(err)
		}
		// The check keeps the Checker contract on both databases.
		integritytest.Run(t, db, ApprenticeAboveScale{Scale: 52.40})
		checks := append(ip2a.Rules(ip2a.RuleOptions{NoFiles: true}), ApprenticeAboveScale{Scale: 52.40})
		rep := integrity.Run(ctx, db, checks, integrity.RunOptions{})
		type got struct {
			Check    string
			RecordID int64
			Severity ip2adb.Severity
		}
		var out []got
		for _, is := range rep.Issues {
			out = append(out, got{is.Check, *is.RecordID, is.Severity})
		}
		want := []got{{"local.apprentice_above_journeyman_scale", 3, ip2adb.Warning}}
		if d := cmp.Diff(want, out); d != "" || rep.Summary.FailedChecks != 0 {
			t.Errorf("failed %d, issues (-want +got):\n%s", rep.Summary.FailedChecks, d)
		}
		// A lower scale flags both apprentices.
		res, err := ApprenticeAboveScale{Scale: 20}.Check(ctx, db, 1)
		if err != nil || res.Count != 2 || len(res.Issues) != 1 {
			t.Errorf("scale 20: count %d, %d issues, err %v", res.Count, len(res.Issues), err)
		}
	})
}

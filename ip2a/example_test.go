package ip2a_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ip2adb/ip2adb/dburl"
	_ "github.com/ip2adb/ip2adb/dburl/sqlite" // registers the SQLite driver
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/seed"
)

// Run the IP2A rule set (without the file store) and print what it found.
func ExampleRules() {
	ctx := context.Background()
	db, err := dburl.Open(ctx, "sqlite::memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := seed.Schema(ctx, db); err != nil {
		panic(err)
	}
	// One clean member, a member with an invalid status, an orphaned
	// employment.
	for _, q := range []string{
		`INSERT INTO organizations (id, name, org_type) VALUES (1, 'Acme Electric', 'employer')`,
		`INSERT INTO organization_contacts (id, organization_id, is_primary) VALUES (1, 1, TRUE)`,
		`INSERT INTO members (id, member_number, first_name, last_name, status, classification) VALUES
			(1, '7000001', 'Alice', 'Watts', 'active', 'journeyman'),
			(2, '7000002', 'Bob', 'Ohm', 'on_leave', 'apprentice_2')`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, hourly_rate) VALUES
			(1, 1, 1, '2020-01-01', 52.40),
			(2, 2, 1, '2024-01-01', 61.00),
			(3, 99, 1, '2024-01-01', 30.00)`,
	} {
		if _, err := db.Exec(q); err != nil {
			panic(err)
		}
	}
	checks := ip2a.Rules(ip2a.RuleOptions{NoFiles: true,
		Now: func() time.Time { return time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC) }})
	rep := integrity.Run(ctx, db, checks, integrity.RunOptions{})
	for _, is := range rep.Issues {
		fmt.Printf("%s %s %s #%d fixable=%v\n", is.Severity, is.Check, is.Table, *is.RecordID, is.AutoFixable())
	}
	fmt.Printf("%+v exit1=%v\n", rep.Summary, rep.HasCritical())
	// Output:
	// critical employment.orphan_member member_employments #3 fixable=true
	// critical member.invalid_status members #2 fixable=true
	// {Critical:2 Warning:0 Info:0 AutoFixable:2 Fixed:0 Remaining:2 FailedChecks:0} exit1=true
}

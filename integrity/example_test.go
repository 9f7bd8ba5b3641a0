package integrity_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/dburl"
	_ "github.com/ip2adb/ip2adb/dburl/sqlite" // registers the SQLite driver
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/jmoiron/sqlx"
)

// exampleDB opens an in-memory SQLite database with a member schema (the
// IP2A schema of package seed) and a few rows: one clean member, a member with an invalid status, an orphaned
// employment and an apprentice paid like a foreman.
func exampleDB() *sqlx.DB {
	ctx := context.Background()
	db, err := dburl.Open(ctx, "sqlite::memory:")
	if err != nil {
		panic(err)
	}
	if err := seed.Schema(ctx, db); err != nil {
		panic(err)
	}
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
	return db
}

// Run two declarative checks and print what they found: an orphaned
// employment (repairable: WithFix deletes it) and an invalid status.
func ExampleRun() {
	db := exampleDB()
	defer db.Close()
	checks := []integrity.Checker{
		integrity.WithFix(integrity.ForeignKey{Meta: integrity.Meta{Name: "employment.orphan_member",
			Category: ip2adb.CategoryForeignKey, Severity: ip2adb.Critical, Table: "member_employments"},
			Column: "member_id", References: "members"}, integrity.Repair{Action: ip2adb.ActionDelete}),
		integrity.OneOf{Meta: integrity.Meta{Name: "member.invalid_status",
			Category: ip2adb.CategoryEnumValue, Severity: ip2adb.Critical, Table: "members"},
			Column: "status", Values: []string{"active", "inactive", "retired"}},
	}
	rep := integrity.Run(context.Background(), db, checks, integrity.RunOptions{})
	for _, is := range rep.Issues {
		fmt.Printf("%s %s %s #%d fixable=%v\n", is.Severity, is.Check, is.Table, *is.RecordID, is.AutoFixable())
	}
	fmt.Printf("%+v exit1=%v\n", rep.Summary, rep.HasCritical())
	// Output:
	// critical employment.orphan_member member_employments #3 fixable=true
	// critical member.invalid_status members #2 fixable=false
	// {Critical:2 Warning:0 Info:0 AutoFixable:1 Fixed:0 Remaining:2 FailedChecks:0} exit1=true
}

// A union-specific rule as a declarative SQL check.
// WithFix would make it repairable; this one needs a person.
func ExampleSQL() {
	db := exampleDB()
	defer db.Close()
	apprenticeScale := integrity.SQL{
		Meta: integrity.Meta{Name: "local46.apprentice_above_journeyman_scale", Category: ip2adb.CategoryEmploymentLogic,
			Severity: ip2adb.Warning, Table: "member_employments",
			Reads: map[string][]string{"member_employments": {"is_current", "hourly_rate", "member_id"},
				"members": {"id", "classification"}},
			Recommendation: "Check the apprentice's rate against the JATC wage sheet."},
		Where: `is_current AND hourly_rate > ? AND EXISTS (SELECT 1 FROM members m
			WHERE m.id = member_employments.member_id AND m.classification LIKE 'apprentice%')`,
		Args: []any{52.40},
		Show: []string{"member_id", "hourly_rate"},
	}
	rep := integrity.Run(context.Background(), db, []integrity.Checker{apprenticeScale}, integrity.RunOptions{})
	last := rep.Checks[len(rep.Checks)-1]
	fmt.Println(last.Name, last.Count)
	fmt.Println(last.Issues[0].Description)
	// Output:
	// local46.apprentice_above_journeyman_scale 1
	// member_employments 2: member_id 2, hourly_rate 61
}

// Any function can be a check; its panics and errors become failed checks.
func ExampleNewCheck() {
	db := exampleDB()
	defer db.Close()
	members := integrity.NewCheck(
		integrity.Meta{Name: "local46.too_few_members", Category: ip2adb.CategoryDataAnomaly, Severity: ip2adb.Info, Table: "members"},
		func(ctx context.Context, db *sqlx.DB, limit int) (integrity.Result, error) {
			var n int
			if err := db.GetContext(ctx, &n, "SELECT count(*) FROM members"); err != nil {
				return integrity.Result{}, err
			}
			if n >= 100 {
				return integrity.Result{}, nil
			}
			return integrity.Result{Count: 1, Issues: []ip2adb.Issue{{Description: fmt.Sprintf("only %d members", n)}}}, nil
		})
	broken := integrity.SQL{Meta: integrity.Meta{Name: "broken", Category: ip2adb.CategoryDataAnomaly, Table: "members"},
		Where: "no_such_column > 0"}
	// A check whose table the schema lacks does not apply: not a failure.
	backlog := integrity.NewCheck(
		integrity.Meta{Name: "local46.grievance_backlog", Category: ip2adb.CategoryDataAnomaly, Severity: ip2adb.Info,
			Table: "grievance_steps", Reads: map[string][]string{"grievance_steps": {"opened_at"}}},
		func(context.Context, *sqlx.DB, int) (integrity.Result, error) { return integrity.Result{}, nil })
	rep := integrity.Run(context.Background(), db, []integrity.Checker{members, broken, backlog}, integrity.RunOptions{})
	integrity.WriteText(os.Stdout, rep)
	// Output:
	// Integrity report: 3 checks, 1 failed, 1 not applicable
	//   critical 0 · warning 0 · info 1 · auto-fixable 0
	//
	// data_anomaly (1)
	//   info     local46.too_few_members: only 2 members
	//
	// Failed checks (1):
	//   broken (data_anomaly): query members: SQL logic error: no such column: no_such_column (1)
	//
	// Not applicable to this schema (1):
	//   local46.grievance_backlog: no table grievance_steps
}

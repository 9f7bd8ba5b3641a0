package heal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/dburl"
	_ "github.com/ip2adb/ip2adb/dburl/sqlite" // registers the SQLite driver
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/jmoiron/sqlx"
)

// A service runs the auto-heal cycle with its own database handle, then
// undoes the run.
func ExampleCycle() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "heal-example")
	defer os.RemoveAll(dir)
	db, err := dburl.Open(ctx, "sqlite:"+filepath.Join(dir, "ip2a.db"), dburl.WithCreate())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	seed.Schema(ctx, db)
	// An employment of a member that does not exist, and one that ends
	// before it starts.
	db.MustExec(`INSERT INTO members (id, member_number, first_name, last_name, classification) VALUES (1, '7000001', 'Ann', 'Lee', 'journeyman')`)
	db.MustExec(`INSERT INTO member_employments (id, member_id, start_date, end_date, is_current) VALUES (1, 99, '2020-01-01', NULL, TRUE)`)
	db.MustExec(`INSERT INTO member_employments (id, member_id, start_date, end_date, is_current) VALUES (2, 1, '2020-06-01', '2020-01-01', FALSE)`)

	c := &heal.Cycle{
		DB:     db,
		Checks: ip2a.Rules(ip2a.RuleOptions{NoFiles: true}),
		LogDir: filepath.Join(dir, "logs"),
	}
	res, err := c.Run(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res.Repairs {
		fmt.Printf("%s: %s %d row(s) of %s\n", r.Check, r.Action, r.Rows, r.Table)
	}
	fmt.Println("remaining:", res.Summary.Remaining)

	u, err := heal.Undo(ctx, db, res.RunID, heal.UndoOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("undo restored", u.Rows, "rows")
	// Output:
	// employment.orphan_member: delete 1 row(s) of member_employments
	// employment.end_before_start: set_null 1 row(s) of member_employments
	// remaining: 0
	// undo restored 2 rows
}

// A custom Repairer journals its change with Step.Record, so that Undo
// restores it, without SQL of its own for the journal: here it trims the
// names a fix selects and stamps the table's modified_at, on a schema keyed
// by a text code, with the journal in tables of the program's own.
func ExampleStep_Record() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "heal-example")
	defer os.RemoveAll(dir)
	db, err := dburl.Open(ctx, "sqlite:"+filepath.Join(dir, "hall.db"), dburl.WithCreate())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	db.MustExec(`CREATE TABLE contractors (code TEXT PRIMARY KEY, name TEXT NOT NULL, modified_at TIMESTAMP)`)
	db.MustExec(`INSERT INTO contractors VALUES ('C-1', '  Ana Alvarez ', NULL), ('C-2', 'Ben Brooks', NULL)`)

	trim := heal.RepairerFunc(func(ctx context.Context, tx *sqlx.Tx, step heal.Step, fix ip2adb.Fix) (int64, error) {
		change := heal.Change{Table: fix.Table, Action: "trim", Where: fix.Where, Args: fix.Args}
		return step.Record(ctx, tx, change, func(ctx context.Context, tx *sqlx.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE contractors SET name = trim(name), modified_at = ? WHERE `+fix.Where,
				append([]any{step.Stamp}, fix.Args...)...)
			return err
		})
	})
	tables := heal.JournalTables{Prefix: "hall_"}
	c := &heal.Cycle{
		DB:            db,
		Repairer:      trim,
		JournalTables: tables,
		Choose: func(context.Context, integrity.Report) ([]heal.Planned, error) {
			return []heal.Planned{{Check: "contractor.untrimmed_name",
				Fix: ip2adb.Fix{Table: "contractors", Where: "name <> trim(name)"}}}, nil
		},
	}
	res, err := c.Run(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	names := func() (out []string) {
		db.Select(&out, `SELECT '[' || name || ']' FROM contractors ORDER BY code`)
		return out
	}
	fmt.Println("repaired", res.Repairs[0].Rows, "row(s):", names())

	u, err := heal.Undo(ctx, db, res.RunID, heal.UndoOptions{JournalTables: tables})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("undo restored", u.Rows, "row(s):", names())
	// Output:
	// repaired 1 row(s): [[Ana Alvarez] [Ben Brooks]]
	// undo restored 1 row(s): [[  Ana Alvarez ] [Ben Brooks]]
}

// Migration tools create the journal's tables from JournalDDL; runs and
// undos then find them in place and run no DDL.
func ExampleJournalDDL() {
	stmts, err := heal.JournalDDL("postgres", heal.JournalTables{Schema: "hall"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range stmts {
		fmt.Println(strings.SplitN(s, " (", 2)[0])
	}
	// Output:
	// CREATE SCHEMA IF NOT EXISTS hall
	// CREATE TABLE hall.runs
	// CREATE TABLE hall.run_steps
	// CREATE TABLE hall.journal
}

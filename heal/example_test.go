package heal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ip2adb/ip2adb/dburl"
	_ "github.com/ip2adb/ip2adb/dburl/sqlite" // registers the SQLite driver
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/seed"
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

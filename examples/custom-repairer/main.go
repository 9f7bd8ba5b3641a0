// Command custom-repairer shows how a local repairs a problem of its own
// with undo support, through public packages only: a custom check finds
// member names with stray spaces (the office's old import left them), a
// custom heal.Repairer trims them, journaled with heal.Step.Record so that
// heal.Undo restores them, and the IP2A rule set's own repairs run beside
// it through the default heal.SQLRepairer.
//
//	go run ./examples/custom-repairer                       # a temp SQLite database with sample rows
//	go run ./examples/custom-repairer --db postgres://ip2a@db/ip2a --undo
//
// The check is written once: its predicate selects the offending rows for
// the report and is the Where of the fix the repairer receives.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/dburl"
	_ "github.com/ip2adb/ip2adb/dburl/postgres" // registers the PostgreSQL driver
	_ "github.com/ip2adb/ip2adb/dburl/sqlite"   // registers the SQLite driver
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/jmoiron/sqlx"
)

// ActionTrim is the repair action of [UntrimmedNames]: trim the names.
const ActionTrim ip2adb.Action = "trim"

// UntrimmedNames finds members whose first or last name begins or ends
// with spaces, and repairs them with [ActionTrim].
func UntrimmedNames() integrity.Repairable {
	return integrity.WithFix(integrity.SQL{
		Meta: integrity.Meta{
			Name: "local.member_untrimmed_name", Category: ip2adb.CategoryDataAnomaly, Severity: ip2adb.Warning,
			Table: "members", SoftDelete: true,
			Reads:          map[string][]string{"members": {"first_name", "last_name"}},
			Description:    "member name has leading or trailing spaces",
			Recommendation: "Trimmed automatically; re-run the import with trimming on",
		},
		Where: "first_name <> trim(first_name) OR last_name <> trim(last_name)",
		Show:  []string{"first_name", "last_name"},
	}, integrity.Repair{Action: ActionTrim})
}

// Repairer trims names for [ActionTrim] and leaves every other action to
// heal.SQLRepairer. It journals its change with heal.Step.Record: the
// before-image of every row the fix selects, the after-image of every row
// it changed, and the run's step, in the run's transaction.
type Repairer struct{}

// Repair implements heal.Repairer.
func (Repairer) Repair(ctx context.Context, tx *sqlx.Tx, step heal.Step, fix ip2adb.Fix) (int64, error) {
	if fix.Action != ActionTrim {
		return heal.SQLRepairer{}.Repair(ctx, tx, step, fix)
	}
	change := heal.Change{Table: fix.Table, Action: string(fix.Action), Where: fix.Where, Args: fix.Args}
	return step.Record(ctx, tx, change, func(ctx context.Context, tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE members SET first_name = trim(first_name), last_name = trim(last_name),
			updated_at = ? WHERE `+fix.Where), append([]any{step.Stamp.UTC()}, fix.Args...)...)
		return err
	})
}

// Cycle is the auto-heal cycle over the IP2A rules (without the file
// store) and the local's own check, with the custom repairer.
func Cycle(db *sqlx.DB, logDir string) *heal.Cycle {
	checks := append(ip2a.Rules(ip2a.RuleOptions{NoFiles: true}), UntrimmedNames())
	return &heal.Cycle{DB: db, Checks: checks, Repairer: Repairer{}, LogDir: logDir}
}

// sample creates the IP2A schema and three members, two with stray spaces,
// and an employment that ends before it starts (an IP2A rule the default
// repairer fixes in the same run).
func sample(ctx context.Context, db *sqlx.DB) error {
	if err := seed.Schema(ctx, db); err != nil {
		return err
	}
	for _, q := range []string{
		`INSERT INTO members (id, member_number, first_name, last_name, classification) VALUES (1, '7000001', ' Ann', 'Lee ', 'journeyman')`,
		`INSERT INTO members (id, member_number, first_name, last_name, classification) VALUES (2, '7000002', 'Bo', 'Diaz', 'journeyman')`,
		`INSERT INTO members (id, member_number, first_name, last_name, classification) VALUES (3, '7000003', 'Cy  ', 'Ng', 'apprentice_1')`,
		`INSERT INTO organizations (id, name, org_type) VALUES (1, 'Acme Electric', 'employer')`,
		`INSERT INTO organization_contacts (id, organization_id, first_name, last_name, is_primary) VALUES (1, 1, 'Dee', 'Park', TRUE)`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, end_date, is_current) VALUES (1, 2, 1, '2024-06-01', '2024-01-01', FALSE)`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, is_current) VALUES (2, 1, 1, '2020-01-01', TRUE)`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, is_current) VALUES (3, 2, 1, '2021-01-01', TRUE)`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, is_current) VALUES (4, 3, 1, '2022-01-01', TRUE)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	dbURL := flag.String("db", "", "database: postgres://… or sqlite:PATH (default: a temporary SQLite file with sample rows)")
	logDir := flag.String("log-dir", "", "history directory (default: a temporary directory)")
	undo := flag.Bool("undo", false, "undo the run after it")
	flag.Parse()
	if err := run(*dbURL, *logDir, *undo); err != nil {
		fmt.Fprintln(os.Stderr, "custom-repairer:", err)
		os.Exit(1)
	}
}

func run(dbURL, logDir string, undo bool) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "custom-repairer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fresh := dbURL == ""
	if fresh {
		dbURL = "sqlite:" + filepath.Join(tmp, "ip2a.db")
		undo = true
	}
	if logDir == "" {
		logDir = filepath.Join(tmp, "logs")
	}
	db, err := dburl.Open(ctx, dbURL, dburl.WithCreate())
	if err != nil {
		return err
	}
	defer db.Close()
	if fresh {
		if err := sample(ctx, db); err != nil {
			return err
		}
	}
	res, err := Cycle(db, logDir).Run(ctx)
	if err != nil {
		return err
	}
	for _, r := range res.Repairs {
		fmt.Printf("%s: %s %d row(s) of %s\n", r.Check, r.Action, r.Rows, r.Table)
	}
	fmt.Println("run", res.RunID, "remaining:", res.Summary.Remaining)
	if !undo {
		return nil
	}
	u, err := heal.Undo(ctx, db, res.RunID, heal.UndoOptions{})
	if err != nil {
		return err
	}
	fmt.Println("undo", u.RunID, "restored", u.Rows, "row(s)")
	return nil
}

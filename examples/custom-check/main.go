// Command custom-check shows how a local adds its own integrity rule to the
// IP2A rule set through the integrity.Checker interface: an apprentice whose
// current hourly rate is above the journeyman scale is flagged for review.
//
//	go run ./examples/custom-check                      # a temp SQLite database with a few rows
//	go run ./examples/custom-check --db postgres://ip2a@db/ip2a --scale 52.40 --files-root /srv/ip2a
//
// It prints the text report and exits 1 when critical issues remain, like
// `ip2adb integrity`.
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
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/jmoiron/sqlx"
)

// ApprenticeAboveScale flags current employments of apprentices paid more
// than Scale, the journeyman hourly rate. It is a plain Checker written by
// hand; integrity.SQL would express the same rule declaratively.
type ApprenticeAboveScale struct {
	// Scale is the journeyman hourly rate.
	Scale float64
}

// Name is the check's stable name.
func (ApprenticeAboveScale) Name() string { return "local.apprentice_above_journeyman_scale" }

// Describe classifies the check, so a failure is reported under its
// category, and declares what it reads: on a database that lacks one of
// these columns the check is reported not_applicable instead of failing.
func (ApprenticeAboveScale) Describe() integrity.Meta {
	return integrity.Meta{Name: "local.apprentice_above_journeyman_scale", Category: ip2adb.CategoryEmploymentLogic,
		Severity: ip2adb.Warning, Table: "member_employments",
		Reads: map[string][]string{
			"member_employments": {"id", "member_id", "hourly_rate", "is_current"},
			"members":            {"id", "classification", "is_deleted"},
		}}
}

// Check runs one query: the full count next to at most limit sample rows.
// The classification is compared as lower-case text, so that the rule
// holds on the real IP2A schema too, where it is an enum type whose labels
// are APPRENTICE_1ST_YEAR … .
func (c ApprenticeAboveScale) Check(ctx context.Context, db *sqlx.DB, limit int) (integrity.Result, error) {
	q := db.Rebind(`SELECT e.id, e.member_id, m.classification, e.hourly_rate, count(*) OVER ()
		FROM member_employments e JOIN members m ON m.id = e.member_id
		WHERE e.is_current AND NOT m.is_deleted AND lower(CAST(m.classification AS TEXT)) LIKE 'apprentice%' AND e.hourly_rate > ?
		ORDER BY e.id LIMIT ?`)
	rows, err := db.QueryContext(ctx, q, c.Scale, max(limit, 1))
	if err != nil {
		return integrity.Result{}, fmt.Errorf("query member_employments: %w", err)
	}
	defer rows.Close()
	var res integrity.Result
	for rows.Next() {
		var id, member int64
		var class string
		var rate float64
		if err := rows.Scan(&id, &member, &class, &rate, &res.Count); err != nil {
			return integrity.Result{}, err
		}
		if len(res.Issues) >= limit {
			continue
		}
		res.Issues = append(res.Issues, ip2adb.Issue{
			Check: c.Name(), Category: ip2adb.CategoryEmploymentLogic, Severity: ip2adb.Warning,
			Table: "member_employments", RecordID: ip2adb.Ptr(id),
			Description:    fmt.Sprintf("member %d (%s) is paid %.2f/h, above the journeyman scale of %.2f", member, class, rate, c.Scale),
			Details:        map[string]any{"member_id": member, "hourly_rate": rate, "scale": c.Scale},
			Recommendation: "Check the rate against the JATC wage sheet.",
		})
	}
	return res, rows.Err()
}

func main() {
	os.Exit(run())
}

func run() int {
	dbURL := flag.String("db", "", "database URL (default: a temp SQLite database with sample rows)")
	scale := flag.Float64("scale", 52.40, "journeyman hourly rate")
	filesRoot := flag.String("files-root", "", "attachment files root (default: skip the file check)")
	flag.Parse()
	ctx := context.Background()

	url := *dbURL
	if url == "" {
		dir, err := os.MkdirTemp("", "custom-check-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer os.RemoveAll(dir)
		url = "sqlite:" + filepath.Join(dir, "sample.db")
	}
	var opts []dburl.Option
	if *dbURL == "" {
		opts = append(opts, dburl.WithCreate())
	}
	db, err := dburl.Open(ctx, url, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "custom-check:", err)
		return 2
	}
	defer db.Close()
	if *dbURL == "" {
		if err := sample(ctx, db); err != nil {
			fmt.Fprintln(os.Stderr, "custom-check:", err)
			return 1
		}
	}

	checks := ip2a.Rules(ip2a.RuleOptions{FilesRoot: *filesRoot, NoFiles: *filesRoot == ""})
	checks = append(checks, ApprenticeAboveScale{Scale: *scale})
	rep := integrity.Run(ctx, db, checks, integrity.RunOptions{MaxIssues: 100})
	if err := integrity.WriteText(os.Stdout, rep); err != nil {
		fmt.Fprintln(os.Stderr, "custom-check:", err)
		return 1
	}
	if rep.HasCritical() {
		return 1
	}
	return 0
}

// sample creates the schema and a few rows: a journeyman at scale, an
// apprentice on an apprentice rate and one paid above the journeyman scale.
func sample(ctx context.Context, db *sqlx.DB) error {
	if err := seed.Schema(ctx, db); err != nil {
		return err
	}
	for _, q := range []string{
		`INSERT INTO organizations (id, name, org_type) VALUES (1, 'Acme Electric', 'employer')`,
		`INSERT INTO organization_contacts (id, organization_id, first_name, is_primary) VALUES (1, 1, 'Dana', TRUE)`,
		`INSERT INTO members (id, member_number, first_name, last_name, status, classification) VALUES
			(1, '7000001', 'Alice', 'Watts', 'active', 'journeyman'),
			(2, '7000002', 'Bob', 'Ohm', 'active', 'apprentice_2'),
			(3, '7000003', 'Cora', 'Volt', 'active', 'apprentice_4')`,
		`INSERT INTO member_employments (id, member_id, organization_id, start_date, hourly_rate, is_current) VALUES
			(1, 1, 1, '2019-03-01', 52.40, TRUE),
			(2, 2, 1, '2024-09-01', 26.20, TRUE),
			(3, 3, 1, '2023-02-01', 58.75, TRUE)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

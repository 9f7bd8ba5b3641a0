// Command hiring-hall shows ip2adb's packages on a schema that is not
// IP2A's: a hiring hall's contractors (keyed by a text code) and their
// dispatches, soft-deleted by a deleted_at timestamp and stamped with
// modified_at. One run checks the rules, repairs what is safe (journaled),
// verifies, notifies through the notification log, and can be undone.
//
//	go run ./examples/hiring-hall                      # a temp SQLite database with sample rows
//	go run ./examples/hiring-hall --db postgres://hall@db/hall --log-dir /var/log/hall
//
// It uses public packages only. What the current API still asks of such a
// schema is listed in the README beside this file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/dburl"
	_ "github.com/ip2adb/ip2adb/dburl/postgres" // registers the PostgreSQL driver
	_ "github.com/ip2adb/ip2adb/dburl/sqlite"   // registers the SQLite driver
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/notify"
	"github.com/jmoiron/sqlx"
)

// Schema is the hiring hall's schema, in SQL that PostgreSQL and SQLite
// both take. Each table is keyed by a text code.
var Schema = []string{
	`CREATE TABLE contractors (
		code        TEXT PRIMARY KEY,
		name        TEXT NOT NULL,
		trade       TEXT,
		deleted_at  TIMESTAMP,
		modified_at TIMESTAMP
	)`,
	`CREATE TABLE dispatches (
		ref             TEXT PRIMARY KEY,
		contractor_code TEXT,
		starts_on       DATE NOT NULL,
		ends_on         DATE,
		deleted_at      TIMESTAMP,
		modified_at     TIMESTAMP
	)`,
}

// Conventions name the hall's soft-delete and update columns.
var Conventions = catalog.Conventions{DeletedAt: []string{"deleted_at"}, UpdatedAt: []string{"modified_at"}}

// Wording makes the notifications speak of the hall's own tool.
var Wording = notify.Wording{Product: "hall-check", CheckCommand: "hall-check report"}

// JournalTables are where the hall's runs are journaled for undo:
// schema hall (hall.hall_runs, hall.hall_journal, …) on PostgreSQL, tables
// hall_runs, hall_journal, … on SQLite.
var JournalTables = heal.JournalTables{Schema: "hall", Prefix: "hall_"}

// Rules are the hall's integrity rules. An orphaned dispatch is deleted,
// which soft-deletes it: the conventions say the table soft-deletes by
// deleted_at.
func Rules() []integrity.Checker {
	return []integrity.Checker{
		integrity.WithFix(integrity.OneOf{
			Meta: integrity.Meta{Name: "hall.contractor_unknown_trade", Category: ip2adb.CategoryEnumValue,
				Severity: ip2adb.Warning, Table: "contractors", SoftDelete: true,
				Recommendation: "Set the contractor's trade."},
			Column: "trade", Values: []string{"electrician", "lineworker", "apprentice"},
		}, integrity.Repair{Action: ip2adb.ActionSetNull, Column: "trade"}),
		integrity.WithFix(integrity.ForeignKey{
			Meta: integrity.Meta{Name: "hall.dispatch_orphan_contractor", Category: ip2adb.CategoryForeignKey,
				Severity: ip2adb.Critical, Table: "dispatches", SoftDelete: true},
			Column: "contractor_code", References: "contractors", RefColumn: "code",
		}, integrity.Repair{Action: ip2adb.ActionDelete}),
		integrity.DateOrder{
			Meta: integrity.Meta{Name: "hall.dispatch_ends_before_start", Category: ip2adb.CategoryDateLogic,
				Severity: ip2adb.Critical, Table: "dispatches", SoftDelete: true,
				Recommendation: "Correct the dispatch's dates."},
			Start: "starts_on", End: "ends_on",
		},
	}
}

// CreateSchema creates the hall's tables.
func CreateSchema(ctx context.Context, db *sqlx.DB) error {
	for _, q := range Schema {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	return nil
}

// Sample writes a few rows, three of them wrong: a contractor with an
// unknown trade, a dispatch of a contractor that does not exist, and a
// dispatch that ends before it starts. A soft-deleted contractor with an
// unknown trade is not reported.
func Sample(ctx context.Context, db *sqlx.DB) error {
	for _, q := range []string{
		`INSERT INTO contractors (code, name, trade, modified_at) VALUES
			('C-ALVAREZ', 'Ana Alvarez', 'electrician', '2026-01-05 08:00:00'),
			('C-BROOKS', 'Ben Brooks', 'plumber', '2026-01-05 08:00:00'),
			('C-CHEN', 'Chen Wei', 'lineworker', '2026-01-05 08:00:00')`,
		`INSERT INTO contractors (code, name, trade, deleted_at, modified_at) VALUES
			('C-DOYLE', 'Dee Doyle', 'welder', '2025-12-01 00:00:00', '2025-12-01 00:00:00')`,
		`INSERT INTO dispatches (ref, contractor_code, starts_on, ends_on, modified_at) VALUES
			('D-100', 'C-ALVAREZ', '2026-02-01', '2026-03-01', '2026-01-05 08:00:00'),
			('D-101', 'C-NOBODY', '2026-02-01', NULL, '2026-01-05 08:00:00'),
			('D-102', 'C-CHEN', '2026-04-01', '2026-03-01', '2026-01-05 08:00:00')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sample rows: %w", err)
		}
	}
	return nil
}

// Cycle is one auto-heal run over the hall's rules at the clock now: the
// schema model read with the hall's conventions, the journal, the run
// history and the notifications' dedup state in the hall's own tables,
// alerts through the notification log under logDir (add Slack, SMTP or
// webhook URLs to ParseChannels). It is validated before it is returned.
func Cycle(ctx context.Context, db *sqlx.DB, logDir string, now func() time.Time) (*heal.Cycle, error) {
	chans, err := notify.ParseChannels([]string{"log:"}, notify.ChannelOptions{LogDir: logDir, Now: now, Wording: Wording})
	if err != nil {
		return nil, err
	}
	c := &heal.Cycle{
		DB: db, Catalog: catalog.Options{Conventions: Conventions}, JournalTables: JournalTables,
		Checks: Rules(), Now: now,
		// The run history and the notifications' dedup state live beside
		// the journal, in the hall's own tables.
		History: heal.DBHistory{DB: db, Tables: JournalTables},
		Alerter: &notify.Manager{Channels: chans, Now: now, Policy: notify.Policy{Wording: Wording},
			Store: notify.DBDedup{DB: db, Schema: JournalTables.Schema, Prefix: JournalTables.Prefix}},
	}
	// The rules, their repairs, the driver and the pool, checked before
	// anything runs.
	if err := c.Validate(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hiring-hall:", err)
		os.Exit(1)
	}
}

func run() error {
	dbURL := flag.String("db", "", "database: postgres://… or sqlite:PATH (default: a temp SQLite database with sample rows)")
	logDir := flag.String("log-dir", "", "history and notification log directory (default: a temp directory)")
	undo := flag.Bool("undo", true, "undo the run's repairs afterwards")
	flag.Parse()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "hiring-hall-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if *logDir == "" {
		*logDir = dir
	}
	url := *dbURL
	var opts []dburl.Option
	if url == "" {
		url, opts = "sqlite:"+filepath.Join(dir, "hall.db"), []dburl.Option{dburl.WithCreate()}
	}
	db, err := dburl.Open(ctx, url, opts...)
	if err != nil {
		return err
	}
	defer db.Close()
	if *dbURL == "" {
		if err := errors.Join(CreateSchema(ctx, db), Sample(ctx, db)); err != nil {
			return err
		}
	}
	cy, err := Cycle(ctx, db, *logDir, time.Now)
	if err != nil {
		return err
	}
	res, err := cy.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("run %s: %d found, %d fixed, %d remaining, %d notifications\n",
		res.RunID, res.Found.Summary.Critical+res.Found.Summary.Warning+res.Found.Summary.Info, res.Summary.Fixed, res.Summary.Remaining, res.NotificationsSent)
	for _, r := range res.Repairs {
		fmt.Printf("  repaired %s: %d rows\n", r.Check, r.Rows)
	}
	if !*undo || res.Summary.Fixed == 0 {
		return nil
	}
	u, err := heal.Undo(ctx, db, res.RunID, heal.UndoOptions{JournalTables: JournalTables})
	if err != nil {
		return err
	}
	fmt.Printf("undo %s: %d rows restored\n", u.RunID, u.Rows)
	return nil
}

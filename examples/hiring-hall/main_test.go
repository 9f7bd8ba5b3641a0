package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/dbtest"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/integrity/integritytest"
	"github.com/ip2adb/ip2adb/notify"
	"github.com/jmoiron/sqlx"
)

// state lists the rows of both tables as text: code or ref, trade, whether
// deleted, and when deleted and modified.
func state(t *testing.T, db *sqlx.DB) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT code, COALESCE(trade, '-'), deleted_at, modified_at FROM contractors ORDER BY code`,
		`SELECT ref, COALESCE(contractor_code, '-'), deleted_at, modified_at FROM dispatches ORDER BY ref`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var key, val string
			var deleted, modified *time.Time
			if err := rows.Scan(&key, &val, &deleted, &modified); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %s deleted=%s modified=%s", key, val, stamp(deleted), stamp(modified)))
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// readAll returns the text of every file under dir.
func readAll(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		b.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.DateTime)
}

// TestCheckRepairVerifyNotifyUndo takes the hall's schema through a whole
// run and its undo, on PostgreSQL and SQLite, with public packages only.
func TestCheckRepairVerifyNotifyUndo(t *testing.T) {
	at := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	dbtest.Each(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		if err := CreateSchema(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := Sample(ctx, db); err != nil {
			t.Fatal(err)
		}
		// Every rule keeps the Checker contract.
		for _, c := range Rules() {
			integritytest.Run(t, db, c)
		}
		before := state(t, db)
		logDir := t.TempDir()
		cy, err := Cycle(ctx, db, logDir, now)
		if err != nil {
			t.Fatal(err)
		}
		res, err := cy.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}

		// Issues name their rows by the tables' text keys.
		type found struct {
			Check string
			Row   map[string]any
		}
		issues := func(list []ip2adb.Issue) []found {
			var out []found
			for _, is := range list {
				out = append(out, found{is.Check, is.RecordKey()})
			}
			return out
		}
		ref := func(r string) map[string]any { return map[string]any{"ref": r} }
		// Check: the soft-deleted contractor C-DOYLE (a welder) is not
		// reported.
		if d := cmp.Diff([]found{{"hall.contractor_unknown_trade", map[string]any{"code": "C-BROOKS"}},
			{"hall.dispatch_orphan_contractor", ref("D-101")}, {"hall.dispatch_ends_before_start", ref("D-102")}},
			issues(res.Found.Issues)); d != "" {
			t.Errorf("found (-want +got):\n%s", d)
		}
		// Repair, journaled.
		if d := cmp.Diff([]heal.RepairResult{
			{Check: "hall.contractor_unknown_trade", Action: ip2adb.ActionSetNull, Table: "contractors", Rows: 1},
			{Check: "hall.dispatch_orphan_contractor", Action: ip2adb.ActionSoftDelete, Table: "dispatches", Rows: 1},
		}, res.Repairs); d != "" {
			t.Errorf("repairs (-want +got):\n%s", d)
		}
		// Verify: only the dispatch whose dates need a person remains.
		if d := cmp.Diff([]found{{"hall.dispatch_ends_before_start", ref("D-102")}}, issues(res.Issues)); d != "" {
			t.Errorf("remaining (-want +got):\n%s", d)
		}
		if d := cmp.Diff(integrity.Summary{Critical: 1, AutoFixable: 2, Fixed: 2, Remaining: 1}, res.Summary); d != "" {
			t.Errorf("summary (-want +got):\n%s", d)
		}
		// Notify: the remaining critical issue went to the log channel.
		if d := cmp.Diff([]notify.Delivery{{Channel: "log", Outcome: "sent"}}, res.Notifications); d != "" || res.AlertErr != nil {
			t.Errorf("notifications (-want +got):\n%s\nalert error: %v", d, res.AlertErr)
		}
		// …in the hall's words.
		if log := readAll(t, logDir); !strings.Contains(log, "hall-check report") || strings.Contains(log, "ip2adb integrity") {
			t.Errorf("the notification log does not speak of hall-check:\n%s", log)
		}
		// The history and the dedup state are in the hall's tables.
		hist, _, err := heal.DBHistory{DB: db, Tables: JournalTables}.Read(ctx, time.Time{})
		if err != nil || len(hist) != 1 || hist[0].RunID != res.RunID {
			t.Errorf("history: %d records (%v), want the run %s", len(hist), err, res.RunID)
		}
		dedup, err := notify.DBDedup{DB: db, Schema: JournalTables.Schema, Prefix: JournalTables.Prefix}.Load(ctx, nil)
		if err != nil || len(dedup) != 1 || dedup["log"].Priority != notify.Critical {
			t.Errorf("dedup state: %+v (%v), want the log channel told of a critical issue", dedup, err)
		}
		// The orphaned dispatch is soft-deleted by deleted_at; the
		// repaired rows carry the run's time in modified_at.
		if d := cmp.Diff([]string{
			"C-ALVAREZ electrician deleted=- modified=2026-01-05 08:00:00",
			"C-BROOKS - deleted=- modified=2026-11-30 02:00:00",
			"C-CHEN lineworker deleted=- modified=2026-01-05 08:00:00",
			"C-DOYLE welder deleted=2025-12-01 00:00:00 modified=2025-12-01 00:00:00",
			"D-100 C-ALVAREZ deleted=- modified=2026-01-05 08:00:00",
			"D-101 C-NOBODY deleted=2026-11-30 02:00:00 modified=2026-11-30 02:00:00",
			"D-102 C-CHEN deleted=- modified=2026-01-05 08:00:00",
		}, state(t, db)); d != "" {
			t.Errorf("rows after the run (-want +got):\n%s", d)
		}

		// Undo, from Go: every row as before.
		u, err := heal.Undo(ctx, db, res.RunID, heal.UndoOptions{Now: now, JournalTables: JournalTables})
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != "undone" || u.Rows != 2 {
			t.Errorf("undo: status %q, %d rows; want undone, 2", u.Status, u.Rows)
		}
		if d := cmp.Diff(before, state(t, db)); d != "" {
			t.Errorf("rows after the undo (-before +after):\n%s", d)
		}
	})
}

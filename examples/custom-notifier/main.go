// Command custom-notifier shows how a local delivers ip2adb's notifications
// through a channel of its own, by implementing notify.Notifier: here every
// notification becomes a ticket in the local's own work queue, a table
// admin_tickets in its database, which the office's intranet lists.
//
//	go run ./examples/custom-notifier                           # a temp SQLite database
//	go run ./examples/custom-notifier --db postgres://ip2a@db/ip2a
//
// The ticket queue sits beside the shipped channels (the JSONL log here)
// behind notify.Manager, which decides what is worth telling and keeps
// each channel from being told the same thing twice. The example alerts
// twice with the same issues: the first alert opens one ticket, the
// second is suppressed.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/dburl"
	_ "github.com/ip2adb/ip2adb/dburl/postgres" // registers the PostgreSQL driver
	_ "github.com/ip2adb/ip2adb/dburl/sqlite"   // registers the SQLite driver
	"github.com/ip2adb/ip2adb/notify"
	"github.com/jmoiron/sqlx"
)

// TicketQueue is a notify.Notifier that files each notification as one row
// of the table admin_tickets. It is safe for concurrent use (the database
// handle is) and honours the context's deadline (the insert does).
type TicketQueue struct {
	// DB holds the admin_tickets table; see [TicketQueue.Ensure].
	DB *sqlx.DB
}

// Name identifies the channel in reports, logs and the dedup state. It
// names no host or credential.
func (TicketQueue) Name() string { return "tickets" }

// Ensure creates admin_tickets when it is missing.
func (q TicketQueue) Ensure(ctx context.Context) error {
	d, err := dburl.DialectFor(q.DB.DriverName())
	if err != nil {
		return err
	}
	_, err = q.DB.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS admin_tickets (
	id `+d.SerialKey()+`,
	notification_id TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	priority TEXT NOT NULL,
	title TEXT NOT NULL,
	body TEXT NOT NULL,
	issues TEXT NOT NULL,
	opened_at TIMESTAMP NOT NULL
)`)
	return err
}

// Notify opens one ticket for n: its title, a body a person can read (the
// message and the recommended actions) and the attached issues as JSON.
func (q TicketQueue) Notify(ctx context.Context, n notify.Notification) error {
	issues, err := json.Marshal(n.Issues)
	if err != nil {
		return fmt.Errorf("tickets: encode issues: %w", err)
	}
	body := n.Message
	if len(n.RecommendedAction) > 0 {
		body += "\n\nWhat to do:\n- " + strings.Join(n.RecommendedAction, "\n- ")
	}
	_, err = q.DB.ExecContext(ctx, q.DB.Rebind(`INSERT INTO admin_tickets
	(notification_id, fingerprint, priority, title, body, issues, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		n.ID, n.Fingerprint, string(n.Priority), n.Title, body, string(issues), n.Timestamp.UTC())
	if err != nil {
		return fmt.Errorf("tickets: open ticket: %w", err)
	}
	return nil
}

// Ticket is one row of admin_tickets.
type Ticket struct {
	ID       int64  `db:"id"`
	Priority string `db:"priority"`
	Title    string `db:"title"`
}

// Tickets lists the tickets in the order they were opened.
func (q TicketQueue) Tickets(ctx context.Context) ([]Ticket, error) {
	var out []Ticket
	err := q.DB.SelectContext(ctx, &out, "SELECT id, priority, title FROM admin_tickets ORDER BY id")
	return out, err
}

// sampleIssues are two issues no repair can fix: two members share a
// member number, and one member has no last name.
func sampleIssues() []ip2adb.Issue {
	return []ip2adb.Issue{
		{Check: "member.duplicate_number", Category: ip2adb.CategoryDuplicate, Severity: ip2adb.Critical,
			Table: "members", Key: map[string]any{"member_number": "7000001"},
			Description:    "2 members share member number 7000001",
			Recommendation: "Merge the duplicate member records"},
		{Check: "member.missing_required", Category: ip2adb.CategoryRequiredField, Severity: ip2adb.Critical,
			Table: "members", RecordID: ip2adb.Ptr[int64](42),
			Description: "member 42 has no last_name", Recommendation: "Enter the member's last name"},
	}
}

// alertTwice alerts the same issues twice through a Manager with the ticket
// queue and the log channel under logDir, and returns both reports.
func alertTwice(ctx context.Context, db *sqlx.DB, logDir string, now time.Time) ([2]notify.Report, error) {
	var reps [2]notify.Report
	q := TicketQueue{DB: db}
	if err := q.Ensure(ctx); err != nil {
		return reps, err
	}
	chans, err := notify.ParseChannels(nil, notify.ChannelOptions{LogDir: logDir}) // the log channel
	if err != nil {
		return reps, err
	}
	m := &notify.Manager{
		Channels: append(chans, q),
		StateDir: logDir,
		Now:      func() time.Time { return now },
	}
	for i := range reps {
		if reps[i], err = m.Alert(ctx, sampleIssues()); err != nil {
			return reps, err
		}
	}
	return reps, nil
}

func main() {
	dbURL := flag.String("db", "", "database: postgres://… or sqlite:PATH (default: a temporary SQLite file)")
	logDir := flag.String("log-dir", "", "notification log and dedup state (default: a temporary directory)")
	flag.Parse()
	if err := run(*dbURL, *logDir); err != nil {
		fmt.Fprintln(os.Stderr, "custom-notifier:", err)
		os.Exit(1)
	}
}

func run(dbURL, logDir string) error {
	ctx := context.Background()
	if dbURL == "" || logDir == "" {
		tmp, err := os.MkdirTemp("", "custom-notifier-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if dbURL == "" {
			dbURL = "sqlite:" + filepath.Join(tmp, "local.db")
		}
		if logDir == "" {
			logDir = filepath.Join(tmp, "logs")
		}
	}
	db, err := dburl.Open(ctx, dbURL, dburl.WithCreate())
	if err != nil {
		return err
	}
	defer db.Close()
	reps, err := alertTwice(ctx, db, logDir, time.Now())
	if err != nil {
		return err
	}
	for i, rep := range reps {
		for _, d := range rep.Deliveries {
			fmt.Printf("alert %d: %-8s %s\n", i+1, d.Channel, d.Outcome)
		}
	}
	tickets, err := TicketQueue{DB: db}.Tickets(ctx)
	if err != nil {
		return err
	}
	for _, t := range tickets {
		fmt.Printf("ticket #%d [%s] %s\n", t.ID, t.Priority, t.Title)
	}
	return nil
}

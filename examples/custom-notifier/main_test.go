package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/dbtest"
	"github.com/ip2adb/ip2adb/notify"
	"github.com/ip2adb/ip2adb/notify/notifytest"
	"github.com/jmoiron/sqlx"
)

// TestTicketQueueConforms runs notify's conformance suite on the ticket
// queue: a name without secrets, one ticket per delivery, safe for
// concurrent use, and no ticket when the context has already ended.
func TestTicketQueueConforms(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *sqlx.DB) {
		q := TicketQueue{DB: db}
		if err := q.Ensure(context.Background()); err != nil {
			t.Fatal(err)
		}
		notifytest.Run(t, notifytest.Target{
			Notifier: q,
			Received: func() int { return dbtest.Count(t, db, "admin_tickets", "") },
		})
	})
}

// TestManagerDedupsTickets alerts the same issues twice: the first alert
// opens one critical ticket and writes the log; the second is suppressed
// on both channels.
func TestManagerDedupsTickets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
		reps, err := alertTwice(ctx, db, t.TempDir(), now)
		if err != nil {
			t.Fatal(err)
		}
		type delivery struct {
			Channel string
			Outcome notify.Outcome
		}
		var got [2][]delivery
		for i, rep := range reps {
			for _, d := range rep.Deliveries {
				got[i] = append(got[i], delivery{d.Channel, d.Outcome})
			}
		}
		want := [2][]delivery{
			{{"log", notify.Sent}, {"tickets", notify.Sent}},
			{{"log", notify.Suppressed}, {"tickets", notify.Suppressed}},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("deliveries (-want +got):\n%s", d)
		}
		tickets, err := TicketQueue{DB: db}.Tickets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(tickets) != 1 || tickets[0].Priority != string(notify.Critical) || tickets[0].Title == "" {
			t.Errorf("tickets = %+v, want one critical ticket with a title", tickets)
		}
	})
}

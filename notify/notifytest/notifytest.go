// Package notifytest is a conformance suite for implementations of
// [notify.Notifier], in the manner of testing/slogtest: whoever writes a
// channel runs [Run] in its tests, with the channel pointed at a test
// endpoint that accepts notifications and at one that never answers.
package notifytest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/notify"
)

// Concurrency is the number of notifications Verify sends at once to test
// that a channel is safe for concurrent use.
const Concurrency = 8

// Deadline is the deadline Verify gives a delivery to an endpoint that
// never answers.
const Deadline = 200 * time.Millisecond

// Target is a channel under test.
type Target struct {
	// Notifier delivers to a test endpoint that accepts every
	// notification.
	Notifier notify.Notifier
	// Stalled is the same kind of channel delivering to an endpoint that
	// accepts connections and never answers (an HTTP handler that blocks,
	// a TCP listener that never writes). It is nil only for a channel
	// without a remote endpoint (a file, a queue in memory): the deadline
	// is then tested on Notifier with a context that has already expired.
	Stalled notify.Notifier
	// Secrets are the passwords, tokens and URL paths the channel was
	// configured with: none may appear in a Name.
	Secrets []string
	// Received, when set, returns how many notifications the endpoint
	// behind Notifier has received so far.
	Received func() int
}

// Sample returns the notification Verify delivers: two critical issues.
func Sample() notify.Notification {
	at := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	n, _ := notify.Decide([]ip2adb.Issue{
		{Check: "member.missing_name", Category: ip2adb.CategoryRequiredField, Severity: ip2adb.Critical,
			Table: "members", RecordID: ip2adb.Ptr[int64](7), Description: "member 7 has no last name"},
		{Check: "employment.end_before_start", Category: ip2adb.CategoryDateLogic, Severity: ip2adb.Critical,
			Table: "member_employments", RecordID: ip2adb.Ptr[int64](42), Description: "employment 42 ends before it starts"},
	}, notify.Policy{}, at)
	return n
}

// Run reports, as errors of t, every way in which tg breaks the contract of
// notify.Notifier (see [Verify]).
func Run(t *testing.T, tg Target) {
	t.Helper()
	if err := Verify(context.Background(), tg); err != nil {
		name := "<nil>"
		if tg.Notifier != nil {
			name = tg.Notifier.Name()
		}
		t.Errorf("channel %s does not conform to notify.Notifier:\n%v", name, err)
	}
}

// Verify tests tg and returns every violation of the Notifier contract it
// finds, joined, or nil:
//
//   - Name is not empty and holds no URL ("://") and none of tg.Secrets;
//   - Notify delivers [Sample] (the endpoint receives it once);
//   - [Concurrency] deliveries at once all succeed (and are all received);
//   - Notify honours ctx: to the stalled endpoint with a [Deadline], it
//     returns an error that wraps context.DeadlineExceeded; with a context
//     cancelled before the call it returns an error and delivers nothing.
func Verify(ctx context.Context, tg Target) error {
	if tg.Notifier == nil {
		return errors.New("Target.Notifier is nil")
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, n := range []notify.Notifier{tg.Notifier, tg.Stalled} {
		if n == nil {
			continue
		}
		name := n.Name()
		switch {
		case name == "":
			fail("Name() is empty")
		case strings.Contains(name, "://"):
			fail("Name() %q holds a URL", name)
		}
		for _, s := range tg.Secrets {
			if s != "" && strings.Contains(name, s) {
				fail("Name() %q holds one of the channel's secrets", name)
			}
		}
	}
	received := func() int {
		if tg.Received == nil {
			return 0
		}
		return tg.Received()
	}
	expect := func(what string, before, want int) {
		if tg.Received == nil {
			return
		}
		if got := received() - before; got != want {
			fail("%s: the endpoint received %d notifications, want %d", what, got, want)
		}
	}

	before := received()
	if err := tg.Notifier.Notify(ctx, Sample()); err != nil {
		fail("Notify: %v", err)
	}
	expect("Notify", before, 1)

	before = received()
	nerrs := make([]error, Concurrency)
	var wg sync.WaitGroup
	for i := range Concurrency {
		wg.Go(func() { nerrs[i] = tg.Notifier.Notify(ctx, Sample()) })
	}
	wg.Wait()
	for i, err := range nerrs {
		if err != nil {
			fail("concurrent Notify %d: %v", i, err)
		}
	}
	expect(fmt.Sprintf("%d concurrent Notify calls", Concurrency), before, Concurrency)

	if tg.Stalled != nil {
		dctx, cancel := context.WithTimeout(ctx, Deadline)
		err := tg.Stalled.Notify(dctx, Sample())
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			fail("Notify to an endpoint that never answers, with a deadline: error %v, want one wrapping context.DeadlineExceeded", err)
		}
	} else {
		dctx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
		err := tg.Notifier.Notify(dctx, Sample())
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			fail("Notify with an expired deadline: error %v, want one wrapping context.DeadlineExceeded", err)
		}
	}

	before = received()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := tg.Notifier.Notify(cctx, Sample()); err == nil {
		fail("Notify with a cancelled context returned no error")
	}
	expect("Notify with a cancelled context", before, 0)
	return errors.Join(errs...)
}

package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Result is the outcome of one channel of a fan-out.
type Result struct {
	// Channel is the channel's Name.
	Channel string
	// Err is nil when the channel delivered the notification.
	Err error
	// Duration is how long the channel took, retries included.
	Duration time.Duration
}

// OK reports whether the channel delivered the notification.
func (r Result) OK() bool { return r.Err == nil }

// Multi is a [Notifier] that fans a notification out to several channels in
// parallel. One failing (or panicking) channel never stops the others.
type Multi []Notifier

// Name lists the names of the channels, such as "multi(log,slack)".
func (m Multi) Name() string {
	names := make([]string, len(m))
	for i, n := range m {
		names[i] = n.Name()
	}
	return "multi(" + strings.Join(names, ",") + ")"
}

// Notify delivers n through every channel and joins the errors of those that
// failed, each prefixed with its channel's name.
func (m Multi) Notify(ctx context.Context, n Notification) error {
	return JoinResults(m.NotifyAll(ctx, n))
}

// NotifyAll delivers n through every channel in parallel and returns each
// channel's result, in the order of the channels.
func (m Multi) NotifyAll(ctx context.Context, n Notification) []Result {
	results := make([]Result, len(m))
	var wg sync.WaitGroup
	for i, ch := range m {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := safeNotify(ctx, ch, n)
			results[i] = Result{Channel: ch.Name(), Err: err, Duration: time.Since(start)}
		}()
	}
	wg.Wait()
	return results
}

// JoinResults joins the errors of the failed results, each prefixed with its
// channel's name; nil when every channel delivered.
func JoinResults(results []Result) error {
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Channel, r.Err))
		}
	}
	return errors.Join(errs...)
}

// safeNotify calls ch.Notify and turns a panic into an error.
func safeNotify(ctx context.Context, ch Notifier, n Notification) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("channel panicked: %v", p)
		}
	}()
	return ch.Notify(ctx, n)
}

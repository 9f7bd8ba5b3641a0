package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// DeliveryError is a delivery that failed for good: the last attempt's
// error (with secrets redacted), its status and how many attempts were made.
type DeliveryError struct {
	// Attempts is how many attempts were made.
	Attempts int
	// Status is the last HTTP status or SMTP reply code, 0 when none.
	Status int
	// Permanent is true when the failure was not worth retrying.
	Permanent bool
	// Err is the last attempt's error, redacted.
	Err error
}

// Error says what failed, after how many attempts, and whether it was
// permanent.
func (e *DeliveryError) Error() string {
	how := "gave up"
	if e.Permanent {
		how = "permanent"
	}
	s := "s"
	if e.Attempts == 1 {
		s = ""
	}
	return fmt.Sprintf("%v (%d attempt%s, %s)", e.Err, e.Attempts, s, how)
}

// Unwrap returns the last attempt's (redacted) error.
func (e *DeliveryError) Unwrap() error { return e.Err }

// outcome is the result of one attempt.
type outcome struct {
	status     int
	retry      bool          // worth another attempt
	retryAfter time.Duration // what the server asked for (429), 0 when it did not
	err        error         // nil when delivered
}

// sender runs the delivery discipline of one channel: a timeout per attempt,
// exponential backoff with jitter, Retry-After, and a record of every attempt
// in the notification log.
type sender struct {
	name          string
	journal       *Journal
	timeout       time.Duration
	attempts      int
	base, max     time.Duration
	maxRetryAfter time.Duration
	sleep         func(context.Context, time.Duration) error
	jitter        func(time.Duration) time.Duration
	now           func() time.Time
	log           logr.Logger
	red           redactor
}

func newSender(name string, opt ChannelOptions, j *Journal, red redactor) *sender {
	return &sender{
		name: name, journal: j, timeout: opt.Timeout, attempts: opt.Attempts,
		base: opt.BaseDelay, max: opt.MaxDelay, maxRetryAfter: opt.MaxRetryAfter,
		sleep: opt.Sleep, jitter: opt.Jitter, now: opt.Now, log: opt.Log.WithValues("channel", name),
		red: red,
	}
}

// backoff is the wait before attempt+1: base·2^(attempt-1), at most max,
// with jitter.
func (s *sender) backoff(attempt int) time.Duration {
	d := s.base
	for i := 1; i < attempt && d < s.max; i++ {
		d *= 2
	}
	d = min(d, s.max)
	return s.jitter(d)
}

// deliver runs try until it succeeds, fails permanently, or the attempts
// are used up.
func (s *sender) deliver(ctx context.Context, n Notification, try func(context.Context) outcome) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, s.timeout)
		start := time.Now()
		o := try(actx)
		cancel()
		dur := time.Since(start)
		rec := AttemptRecord{
			Type: RecordAttempt, Time: s.now().UTC(), NotificationID: n.ID, Channel: s.name,
			Attempt: attempt, Status: o.status, DurationMS: float64(dur.Microseconds()) / 1000,
		}
		if o.err == nil {
			rec.Outcome = OutcomeDelivered
			s.record(rec)
			s.log.V(1).Info("notification delivered", "id", n.ID, "attempt", attempt, "status", o.status)
			return nil
		}
		err := s.red.Error(o.err)
		if errors.Is(o.err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("timed out after %v: %w", s.timeout, err)
		}
		final := !o.retry || attempt >= s.attempts || ctx.Err() != nil
		wait := s.backoff(attempt)
		if o.retryAfter > 0 {
			wait = o.retryAfter
			if wait > s.maxRetryAfter {
				err = fmt.Errorf("%w; server asked to retry after %v (more than %v)", err, wait, s.maxRetryAfter)
				final = true
			}
		}
		rec.Error = err.Error()
		rec.Outcome = OutcomeRetry
		if final {
			rec.Outcome = OutcomeFailed
		}
		s.record(rec)
		if final {
			s.log.Info("notification failed", "id", n.ID, "attempt", attempt, "error", rec.Error)
			return &DeliveryError{Attempts: attempt, Status: o.status, Permanent: !o.retry, Err: err}
		}
		s.log.V(1).Info("notification attempt failed; retrying", "id", n.ID, "attempt", attempt, "error", rec.Error, "wait", wait)
		if serr := s.sleep(ctx, wait); serr != nil {
			return &DeliveryError{Attempts: attempt, Status: o.status, Err: fmt.Errorf("%w; %w", err, serr)}
		}
	}
}

func (s *sender) record(rec AttemptRecord) {
	if s.journal == nil {
		return
	}
	if err := s.journal.Append(rec); err != nil {
		s.log.Error(err, "cannot record a delivery attempt")
	}
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// equalJitter returns a random duration in [d/2, d].
func equalJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// postJSON posts body to a URL and classifies the answer: 2xx delivered;
// 429 retried after Retry-After; 5xx and network errors retried; other
// statuses permanent (a 3xx names its Location: redirects are not
// followed).
func postJSON(ctx context.Context, client *http.Client, target string, body []byte, header http.Header, now func() time.Time) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(string(body)))
	if err != nil {
		return outcome{err: err}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", Wording{}.userAgent())
	}
	resp, err := client.Do(req)
	if err != nil {
		return outcome{retry: true, err: err}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return outcome{status: resp.StatusCode}
	}
	msg := "HTTP " + resp.Status
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		// Redirects are not followed (a POST would turn into a GET, or the
		// body would go to another host): say where it points, so the URL
		// can be fixed.
		if loc := resp.Header.Get("Location"); loc != "" {
			msg += " to " + truncate(strings.Join(strings.Fields(loc), ""), 200)
		} else {
			msg += " without a Location"
		}
	}
	if text := strings.Join(strings.Fields(string(snippet)), " "); text != "" {
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		msg += ": " + text
	}
	o := outcome{status: resp.StatusCode, err: errors.New(msg)}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		o.retry = true
		o.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now())
	case resp.StatusCode >= 500:
		o.retry = true
	}
	return o
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
// It returns 0 when the header is missing or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// Package notify tells administrators about the issues that cannot be
// repaired automatically: a priority policy turns issues into notifications,
// and channels deliver them — a JSONL log, email over SMTP, Slack incoming
// webhooks and signed HTTP webhooks — with timeouts, retries and dedup.
package notify

import (
	"context"
	"time"

	"github.com/ip2adb/ip2adb"
)

// Priority is how urgently a notification wants attention.
type Priority string

// The four priorities, in rising order.
const (
	Low      Priority = "low"
	Medium   Priority = "medium"
	High     Priority = "high"
	Critical Priority = "critical"
)

// Notification is one message to administrators. Its JSON form is the body
// that webhooks receive and the line the log channel writes.
type Notification struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Message     string    `json:"message"`
	Priority    Priority  `json:"priority"`
	Timestamp   time.Time `json:"timestamp"`
	Fingerprint string    `json:"fingerprint"`
	// IssueCount is how many issues the notification is about.
	IssueCount int `json:"issue_count"`
	// Issues are those attached: at most Policy.MaxIssues of them.
	Issues []ip2adb.Issue `json:"issues"`
	// IssuesTruncated is how many of the IssueCount issues are not
	// attached.
	IssuesTruncated   int      `json:"issues_truncated"`
	RecommendedAction []string `json:"recommended_action"`
}

// Notifier delivers notifications through one channel. Implementations must
// be safe for concurrent use.
type Notifier interface {
	// Name identifies the channel in reports and logs; it never contains a
	// URL, password or secret.
	Name() string
	// Notify delivers n, honouring ctx's deadline.
	Notify(ctx context.Context, n Notification) error
}

// Func adapts a function to [Notifier]. Its Name is "func"; wrap it with
// [Named] to give it another.
type Func func(ctx context.Context, n Notification) error

// Name returns "func".
func (f Func) Name() string { return "func" }

// Notify calls f.
func (f Func) Notify(ctx context.Context, n Notification) error { return f(ctx, n) }

// Nop is a [Notifier] that delivers nothing and always succeeds.
type Nop struct{}

// Name returns "nop".
func (Nop) Name() string { return "nop" }

// Notify does nothing.
func (Nop) Notify(context.Context, Notification) error { return nil }

// Named returns a [Notifier] that delivers through n under the name name.
func Named(name string, n Notifier) Notifier { return named{name, n} }

type named struct {
	name string
	Notifier
}

func (n named) Name() string { return n.name }

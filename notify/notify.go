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
// that webhooks receive.
type Notification struct {
	ID                string         `json:"id"`
	Title             string         `json:"title"`
	Message           string         `json:"message"`
	Priority          Priority       `json:"priority"`
	Timestamp         time.Time      `json:"timestamp"`
	Fingerprint       string         `json:"fingerprint"`
	IssueCount        int            `json:"issue_count"`
	Issues            []ip2adb.Issue `json:"issues"`
	RecommendedAction []string       `json:"recommended_action"`
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

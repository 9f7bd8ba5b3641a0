package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// LogSubdir is the directory under the log dir that holds the notification
// log: one JSONL file a day, YYYY-MM-DD_notifications.jsonl.
const LogSubdir = "admin_notifications"

// LogPath returns the notification log file of day t under logDir.
func LogPath(logDir string, t time.Time) string {
	return filepath.Join(logDir, LogSubdir, t.UTC().Format("2006-01-02")+"_notifications.jsonl")
}

// Journal appends records to the notification log under a log dir: the
// notifications themselves (written by the log: channel) and one record per
// delivery attempt of every other channel. Files are created with mode 0600.
// A Journal is safe for concurrent use.
type Journal struct {
	dir string
	now func() time.Time
	mu  sync.Mutex
}

// NewJournal returns a Journal writing under logDir; now is the clock
// (time.Now when nil) that picks the day's file.
func NewJournal(logDir string, now func() time.Time) *Journal {
	if now == nil {
		now = time.Now
	}
	return &Journal{dir: logDir, now: now}
}

// Append writes v as one JSON line to the day's file.
func (j *Journal) Append(v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode notification log record: %w", err)
	}
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	path := LogPath(j.dir, j.now())
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("notification log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("notification log: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return fmt.Errorf("notification log: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("notification log: %w", err)
	}
	return nil
}

// Record types of the notification log.
const (
	RecordNotification = "notification"
	RecordAttempt      = "attempt"
)

// LogRecord is a notification as the log: channel writes it: the JSON body
// of the notification with "type": "notification".
type LogRecord struct {
	Type string `json:"type"`
	Notification
}

// Attempt outcomes.
const (
	OutcomeDelivered = "delivered" // the channel accepted the notification
	OutcomeRetry     = "retry"     // failed; another attempt follows
	OutcomeFailed    = "failed"    // failed; no more attempts
)

// AttemptRecord is one delivery attempt in the notification log.
type AttemptRecord struct {
	Type           string    `json:"type"` // "attempt"
	Time           time.Time `json:"time"`
	NotificationID string    `json:"notification_id"`
	Channel        string    `json:"channel"`
	Attempt        int       `json:"attempt"`
	Outcome        string    `json:"outcome"`
	// Status is the HTTP status or SMTP reply code, 0 when none came back.
	Status int `json:"status,omitempty"`
	// Error is the redacted error of a failed attempt.
	Error      string  `json:"error,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// LogChannel is the log: channel. It appends each notification to the
// notification log; it is always on.
type LogChannel struct {
	j *Journal
}

// NewLogChannel returns the log: channel writing through j.
func NewLogChannel(j *Journal) *LogChannel { return &LogChannel{j: j} }

// Name returns "log".
func (l *LogChannel) Name() string { return "log" }

// Notify appends n to the notification log.
func (l *LogChannel) Notify(ctx context.Context, n Notification) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.j.Append(LogRecord{Type: RecordNotification, Notification: n})
}

package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"github.com/ip2adb/ip2adb"
)

// DefaultRepeatInterval is how long an unchanged notification stays quiet.
const DefaultRepeatInterval = 24 * time.Hour

// StateFile is the dedup state's file name under the log dir's
// admin_notifications directory.
const StateFile = "dedup_state.json"

// Manager applies the policy, dedup and fan-out; the auto-heal cycle calls
// Alert with the issues it could not fix.
//
// Dedup follows Alertmanager: a notification goes out when it carries an
// issue fingerprint not sent before, when its priority rises above the last
// one sent, or when RepeatInterval has passed since the last send. The state
// (hashed fingerprints, priority, time) is saved only after a successful
// send, so a failed send is retried on the next run.
type Manager struct {
	Channels       []Notifier       // always include the log channel
	Policy         Policy           // thresholds; zero value = the original's (DefaultPolicy())
	StateDir       string           // dedup state lives here (the log dir)
	RepeatInterval time.Duration    // default 24h
	Now            func() time.Time // default time.Now
	Log            logr.Logger      // zero value discards
}

// DedupState is what the Manager remembers of the last notification sent.
type DedupState struct {
	// Fingerprint is the last notification's fingerprint.
	Fingerprint string `json:"fingerprint"`
	// Priority is the last notification's priority.
	Priority Priority `json:"priority"`
	// SentAt is when it went out.
	SentAt time.Time `json:"sent_at"`
	// NotificationID is its id.
	NotificationID string `json:"notification_id"`
	// Issues are the hashed fingerprints of the issues the administrator
	// has been told about and that were still present at the last send,
	// sorted.
	Issues []string `json:"issues"`
}

// Alert decides whether issues call for a notification (see [Decide]),
// suppresses it when dedup says so, and otherwise sends it through every
// channel in parallel. sent counts the channels that delivered it; err joins
// the failures of the others (one failing channel never stops the rest).
func (m *Manager) Alert(ctx context.Context, issues []ip2adb.Issue) (sent int, err error) {
	now := m.now()
	n, fps, ok := decide(issues, m.Policy, now)
	if !ok {
		m.Log.V(1).Info("no notification needed", "issues", len(issues))
		return 0, nil
	}
	hashed := hashFingerprints(fps)
	prev, err := m.loadState()
	if err != nil {
		m.Log.Error(err, "dedup state unreadable; sending as if nothing was sent before")
		prev = nil
	}
	send, why := shouldSend(prev, n, hashed, now, m.repeat())
	if !send {
		m.Log.Info("notification suppressed", "reason", why, "fingerprint", n.Fingerprint, "priority", n.Priority)
		return 0, nil
	}
	m.Log.V(1).Info("sending notification", "reason", why, "id", n.ID, "priority", n.Priority)
	results := Multi(m.Channels).NotifyAll(ctx, n)
	var other, otherOK, logOK bool
	for i, r := range results {
		if r.Err == nil {
			sent++
		}
		if _, isLog := m.Channels[i].(*LogChannel); isLog {
			logOK = logOK || r.Err == nil
			continue
		}
		other = true
		otherOK = otherOK || r.Err == nil
	}
	err = JoinResults(results)
	if otherOK || (!other && logOK) {
		st := DedupState{Fingerprint: n.Fingerprint, Priority: n.Priority, SentAt: now.UTC(), NotificationID: n.ID,
			Issues: remembered(prev, hashFingerprints(fingerprints(issues)), hashed)}
		if serr := m.saveState(st); serr != nil {
			err = errors.Join(err, serr)
		}
	}
	return sent, err
}

// shouldSend is the dedup decision; why says what made it.
func shouldSend(prev *DedupState, n Notification, hashed []string, now time.Time, repeat time.Duration) (bool, string) {
	if prev == nil {
		return true, "first notification"
	}
	for _, h := range hashed {
		if _, found := slices.BinarySearch(prev.Issues, h); !found {
			return true, "new issue"
		}
	}
	if n.Priority.Rank() > prev.Priority.Rank() {
		return true, "priority rose"
	}
	if now.Sub(prev.SentAt) >= repeat {
		return true, "repeat interval passed"
	}
	return false, "already sent within the repeat interval"
}

// remembered is the set of issue hashes the administrator has been told
// about after a send: those of this notification, and those told before that
// are still present (so an issue that went away and comes back is new).
func remembered(prev *DedupState, current, sent []string) []string {
	out := slices.Clone(sent)
	if prev != nil {
		for _, h := range prev.Issues {
			if _, ok := slices.BinarySearch(current, h); ok {
				out = append(out, h)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// hashFingerprints hashes each issue fingerprint (so the state file holds
// no record data) and returns them sorted and unique.
func hashFingerprints(fps []string) []string {
	out := make([]string, len(fps))
	for i, fp := range fps {
		sum := sha256.Sum256([]byte(fp))
		out[i] = hex.EncodeToString(sum[:12])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) repeat() time.Duration {
	if m.RepeatInterval > 0 {
		return m.RepeatInterval
	}
	return DefaultRepeatInterval
}

// StatePath is the dedup state file under stateDir.
func StatePath(stateDir string) string {
	return filepath.Join(stateDir, LogSubdir, StateFile)
}

func (m *Manager) loadState() (*DedupState, error) {
	if m.StateDir == "" {
		return nil, nil
	}
	b, err := os.ReadFile(StatePath(m.StateDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dedup state: %w", err)
	}
	var st DedupState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("read dedup state %s: %w", StatePath(m.StateDir), err)
	}
	slices.Sort(st.Issues)
	return &st, nil
}

// saveState writes the state atomically (a temporary file renamed over it).
func (m *Manager) saveState(st DedupState) error {
	if m.StateDir == "" {
		return nil
	}
	path := StatePath(m.StateDir)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save dedup state: %w", err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("save dedup state: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".dedup-*.tmp")
	if err != nil {
		return fmt.Errorf("save dedup state: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("save dedup state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save dedup state: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("save dedup state: %w", err)
	}
	return nil
}

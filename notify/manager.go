package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"slices"
	"strings"
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
// Dedup follows Alertmanager, per channel as Alertmanager keeps it per
// receiver: a channel is sent a notification when it carries an issue
// fingerprint not sent to that channel before, when its priority rises
// above the last one that channel got, or when RepeatInterval has passed
// since that channel's last send. Each channel's state (hashed
// fingerprints, priority, time), keyed by the channel's Name, is saved only
// after that channel delivered, so a channel that failed is retried on the
// next run while those that delivered stay quiet. A new channel name is a
// new receiver, told at once; the names of [ParseChannels] name the host
// (and number repeats of one kind in order, "slack#2").
type Manager struct {
	Channels       []Notifier       // always include the log channel
	Policy         Policy           // thresholds and the issue cap; zero value = the original's (DefaultPolicy())
	StateDir       string           // dedup state lives here (the log dir) when Store is nil; none kept when both are unset
	Store          DedupStore       // keeps the dedup state instead of StateDir (for example a DBDedup)
	RepeatInterval time.Duration    // default 24h
	Now            func() time.Time // default time.Now
	Log            logr.Logger      // zero value discards
}

// Outcome is what became of a notification on one channel. Its words are
// those of auto-heal's JSON report and of the service's metric label
// ip2adb_notifications_total{channel,outcome}.
type Outcome string

// The outcomes of a notification on a channel.
const (
	// Sent: the channel accepted the notification.
	Sent Outcome = "sent"
	// Failed: the channel failed for good (after its retries); the next
	// run tries it again.
	Failed Outcome = "failed"
	// Suppressed: dedup kept the notification from the channel, which had
	// already been told.
	Suppressed Outcome = "suppressed"
)

// Delivery is the outcome of one notification on one channel.
type Delivery struct {
	// Channel is the channel's Name.
	Channel string `json:"channel"`
	// Outcome is sent, failed or suppressed.
	Outcome Outcome `json:"outcome"`
	// Error is the redacted error of a failed delivery, on one line; ""
	// otherwise.
	Error string `json:"error"`
}

// Report is what one [Manager.Alert] did.
type Report struct {
	// NotificationID is the id of the notification the policy called for;
	// "" when it called for none.
	NotificationID string
	// Sent counts the notifications that at least one channel delivered
	// (0 or 1 for one Manager): notifications, not channel deliveries.
	Sent int
	// Deliveries holds each channel's outcome, in the order of the
	// channels; empty when no notification was called for.
	Deliveries []Delivery
}

// Failed reports whether a channel failed to deliver.
func (r Report) Failed() bool {
	for _, d := range r.Deliveries {
		if d.Outcome == Failed {
			return true
		}
	}
	return false
}

// DedupState is what the Manager remembers of the last notification one
// channel delivered.
type DedupState struct {
	// Fingerprint is the last notification's fingerprint.
	Fingerprint string `json:"fingerprint"`
	// Priority is the last notification's priority.
	Priority Priority `json:"priority"`
	// SentAt is when it went out.
	SentAt time.Time `json:"sent_at"`
	// NotificationID is its id.
	NotificationID string `json:"notification_id"`
	// Issues are the hashed fingerprints of the issues the channel has
	// been told about and that were still present at its last send,
	// sorted.
	Issues []string `json:"issues"`
}

// stateVersion is the version of the state file holding one DedupState per
// channel. The file of earlier versions held one DedupState for all
// channels; it is read as the state of every channel.
const stateVersion = 2

// stateFile is the dedup state file.
type stateFile struct {
	Version  int                    `json:"version"`
	Channels map[string]*DedupState `json:"channels"`
}

// Alert decides whether issues call for a notification (see [Decide]),
// suppresses it on the channels that dedup says were already told, and
// sends it through the others in parallel. The report holds each channel's
// outcome; err joins the failures of the channels that failed (one failing
// channel never stops the rest) and a failure to save the dedup state. An
// invalid Policy.Wording is an error before anything is decided or sent.
func (m *Manager) Alert(ctx context.Context, issues []ip2adb.Issue) (Report, error) {
	if err := m.Policy.Wording.Validate(); err != nil {
		return Report{Deliveries: []Delivery{}}, err
	}
	now := m.now()
	n, fps, ok := decide(issues, m.Policy, now)
	if !ok {
		m.Log.V(1).Info("no notification needed", "issues", len(issues))
		return Report{Deliveries: []Delivery{}}, nil
	}
	hashed := hashFingerprints(fps)
	current := hashFingerprints(fingerprints(issues))
	st, err := m.loadState(ctx)
	if err != nil {
		m.Log.Error(err, "dedup state unreadable; sending as if nothing was sent before")
	}
	rep := Report{NotificationID: n.ID, Deliveries: make([]Delivery, len(m.Channels))}
	var (
		send Multi
		idx  []int
	)
	for i, ch := range m.Channels {
		name := ch.Name()
		yes, why := shouldSend(st.Channels[name], n, hashed, now, m.repeat())
		if !yes {
			rep.Deliveries[i] = Delivery{Channel: name, Outcome: Suppressed}
			m.Log.Info("notification suppressed", "channel", name, "reason", why, "fingerprint", n.Fingerprint, "priority", n.Priority)
			continue
		}
		m.Log.V(1).Info("sending notification", "channel", name, "reason", why, "id", n.ID, "priority", n.Priority)
		send = append(send, ch)
		idx = append(idx, i)
	}
	if len(send) == 0 {
		return rep, nil
	}
	results := send.NotifyAll(ctx, n)
	for k, r := range results {
		i := idx[k]
		if r.Err != nil {
			rep.Deliveries[i] = Delivery{Channel: r.Channel, Outcome: Failed, Error: oneLine(r.Err.Error())}
			continue
		}
		rep.Deliveries[i] = Delivery{Channel: r.Channel, Outcome: Sent}
		rep.Sent = 1
		st.Channels[r.Channel] = &DedupState{Fingerprint: n.Fingerprint, Priority: n.Priority, SentAt: now.UTC(),
			NotificationID: n.ID, Issues: remembered(st.Channels[r.Channel], current, hashed)}
	}
	err = JoinResults(results)
	if rep.Sent > 0 {
		if serr := m.saveState(context.WithoutCancel(ctx), st); serr != nil {
			err = errors.Join(err, serr)
		}
	}
	return rep, err
}

// oneLine joins the lines of a (joined) error message.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

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

// store is the dedup store: Store, else the file under StateDir, else
// none.
func (m *Manager) store() DedupStore {
	switch {
	case m.Store != nil:
		return m.Store
	case m.StateDir != "":
		return FileDedup{Dir: m.StateDir}
	}
	return nil
}

// loadState reads the dedup state. It always returns a usable state (with
// a non-nil map): an empty one when there is none, or when it cannot be
// read (the error says why).
func (m *Manager) loadState(ctx context.Context) (*stateFile, error) {
	st := &stateFile{Version: stateVersion, Channels: map[string]*DedupState{}}
	s := m.store()
	if s == nil {
		return st, nil
	}
	names := make([]string, len(m.Channels))
	for i, ch := range m.Channels {
		names[i] = ch.Name()
	}
	got, err := s.Load(ctx, names)
	if err != nil {
		return st, err
	}
	for name, cs := range got {
		cs.Issues = slices.Clone(cs.Issues)
		slices.Sort(cs.Issues)
		st.Channels[name] = &cs
	}
	return st, nil
}

// saveState saves the state of every channel.
func (m *Manager) saveState(ctx context.Context, st *stateFile) error {
	s := m.store()
	if s == nil {
		return nil
	}
	out := make(map[string]DedupState, len(st.Channels))
	for name, cs := range st.Channels {
		out[name] = *cs
	}
	return s.Save(ctx, out)
}

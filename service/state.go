package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/resilience"
)

// The kinds of run the state and the metrics know. KindHeal and KindRepair
// are heal.KindHeal and heal.KindRepair (auto-heal and integrity --repair).
const (
	KindHeal       = heal.KindHeal
	KindRepair     = heal.KindRepair
	KindResilience = "resilience"
)

// The reasons a scheduled run is skipped (ip2adb_runs_skipped_total).
const (
	SkipLocked      = "locked"        // another run holds the run lock
	SkipRunning     = "running"       // the same kind of run is still running here
	SkipUnreachable = "no_database"   // the database has not answered yet
	SkipShutdown    = "shutting_down" // the service is stopping
)

// Limits of what the state keeps.
const (
	// MaxRuns is how many recent runs the state keeps.
	MaxRuns = 20
	// MaxExamples is how many sample issues per check the state keeps.
	MaxExamples = 3
)

// StateDir is the directory under the log dir that holds the state file.
const StateDir = "status"

// StateFile is the state's file name in StateDir.
const StateFile = "state.json"

// State is what the metrics and the status page show: the last run of each
// kind, what the last check left open, the recent runs with their repairs,
// the latest resilience findings and the running totals of repairs,
// notifications and skipped runs. Every command that runs a check, a repair
// or a resilience report updates it (see [Store]), so that the service, a
// cron job and the metrics file agree.
type State struct {
	// LastRuns holds the last run of each kind, sorted by kind.
	LastRuns []RunStatus `json:"last_runs"`
	// Checks is what the last heal or repair run left open, one entry per
	// check that ran, in check order.
	Checks []CheckStatus `json:"checks"`
	// ChecksRunID and ChecksAt name the run Checks come from.
	ChecksRunID string    `json:"checks_run_id,omitempty"`
	ChecksAt    time.Time `json:"checks_at,omitzero"`
	// Runs are the recent runs, newest first, at most MaxRuns.
	Runs []RunSummary `json:"runs"`
	// LastRepairs is the last run that repaired rows (and can be undone);
	// it outlives the MaxRuns window of Runs.
	LastRepairs *RunSummary `json:"last_repairs,omitempty"`
	// Resilience is the latest resilience report; nil before the first.
	Resilience *ResilienceStatus `json:"resilience,omitempty"`
	// Repairs, Notifications and Skipped are running totals.
	Repairs       []RepairTotal       `json:"repairs_total"`
	Notifications []NotificationTotal `json:"notifications_total"`
	Skipped       []SkipTotal         `json:"skipped_total"`
}

// RunStatus is the last run of one kind.
type RunStatus struct {
	Kind  string    `json:"kind"`
	RunID string    `json:"run_id,omitempty"`
	Time  time.Time `json:"time"`
	// DurationSeconds is how long the run took.
	DurationSeconds float64 `json:"duration_seconds"`
	// Success is false when the run failed or a check or probe could not
	// run.
	Success bool `json:"success"`
	// LastSuccess is the time of the last successful run of this kind
	// (zero when none).
	LastSuccess time.Time `json:"last_success,omitzero"`
}

// CheckStatus is one check of the last heal or repair run: what remains
// after the repairs.
type CheckStatus struct {
	Name     string          `json:"name"`
	Category string          `json:"category"`
	Severity ip2adb.Severity `json:"severity,omitempty"`
	// Count is the full number of offending rows or groups left.
	Count int `json:"count"`
	// Error is why the check could not run; "" when it ran.
	Error string `json:"error,omitempty"`
	// AutoFixable says the check repairs its issues.
	AutoFixable bool `json:"auto_fixable,omitempty"`
	// NotApplicable says the check does not apply to the live schema
	// (Reason says why); it has no count then.
	NotApplicable bool   `json:"not_applicable,omitempty"`
	Reason        string `json:"reason,omitempty"`
	// Examples are up to MaxExamples of its remaining issues.
	Examples []Example `json:"examples,omitempty"`
}

// Example is one sample issue of a check.
type Example struct {
	Table       string         `json:"table"`
	RecordID    *int64         `json:"record_id,omitempty"`
	Key         map[string]any `json:"key,omitempty"`
	Description string         `json:"description"`
}

// RunSummary is one recent run.
type RunSummary struct {
	RunID string    `json:"run_id,omitempty"`
	Kind  string    `json:"kind"`
	Time  time.Time `json:"time"`
	// Trigger says what started the run: "schedule", "api" or "cli".
	Trigger         string  `json:"trigger"`
	DurationSeconds float64 `json:"duration_seconds"`
	Success         bool    `json:"success"`
	// Error is why the run failed, or which checks or probes failed.
	Error string `json:"error,omitempty"`
	// Found, Fixed and Remaining count rows and groups (heal and repair
	// runs); Critical counts the critical issues or findings left.
	Found     int `json:"found"`
	Fixed     int `json:"fixed"`
	Remaining int `json:"remaining"`
	Critical  int `json:"critical"`
	// Repairs are the run's repairs (heal and repair runs).
	Repairs []heal.RepairResult `json:"repairs,omitempty"`
	// Notifications are the notification outcomes of the run.
	Notifications []NotificationTotal `json:"notifications,omitempty"`
}

// Undoable reports whether the run changed rows that `ip2adb undo` can
// restore.
func (r RunSummary) Undoable() bool {
	if r.RunID == "" || r.Kind == KindResilience {
		return false
	}
	for _, rp := range r.Repairs {
		if rp.Rows > 0 && !rp.DryRun {
			return true
		}
	}
	return false
}

// ResilienceStatus is the latest resilience report.
type ResilienceStatus struct {
	Time     time.Time          `json:"time"`
	Summary  resilience.Summary `json:"summary"`
	Findings []Finding          `json:"findings"`
	// DatabaseBytes and TotalRows are the growth probe's measurements (nil
	// when it did not run).
	DatabaseBytes *int64 `json:"database_bytes,omitempty"`
	TotalRows     *int64 `json:"total_rows,omitempty"`
	// DaysUntilFull is the disk-full forecast; nil when there is none yet
	// (fewer than two days of history). NotGrowing is set when the
	// database does not grow, so the disk never fills.
	DaysUntilFull *float64 `json:"days_until_full,omitempty"`
	NotGrowing    bool     `json:"not_growing,omitempty"`
	// BytesPerDay is the database's growth per day (nil without history).
	BytesPerDay *float64 `json:"bytes_per_day,omitempty"`
}

// Finding is one resilience finding.
type Finding struct {
	Check          string          `json:"check"`
	Category       string          `json:"category"`
	Severity       ip2adb.Severity `json:"severity"`
	Description    string          `json:"description"`
	Recommendation string          `json:"recommendation,omitempty"`
}

// RepairTotal counts the rows repaired by one check with one action.
type RepairTotal struct {
	Check  string        `json:"check"`
	Action ip2adb.Action `json:"action"`
	Rows   float64       `json:"rows"`
}

// NotificationTotal counts the notifications of one channel with one
// outcome.
type NotificationTotal struct {
	Channel string  `json:"channel"`
	Outcome string  `json:"outcome"`
	Count   float64 `json:"count"`
}

// SkipTotal counts the scheduled runs of one kind skipped for one reason.
type SkipTotal struct {
	Kind   string  `json:"kind"`
	Reason string  `json:"reason"`
	Count  float64 `json:"count"`
}

// LastRun returns the last run of kind and whether there was one.
func (s *State) LastRun(kind string) (RunStatus, bool) {
	for _, r := range s.LastRuns {
		if r.Kind == kind {
			return r, true
		}
	}
	return RunStatus{}, false
}

// setLastRun records the last run of a kind.
func (s *State) setLastRun(r RunStatus) {
	prev, ok := s.LastRun(r.Kind)
	if r.Success {
		r.LastSuccess = r.Time
	} else if ok {
		r.LastSuccess = prev.LastSuccess
	}
	s.LastRuns = slices.DeleteFunc(s.LastRuns, func(x RunStatus) bool { return x.Kind == r.Kind })
	s.LastRuns = append(s.LastRuns, r)
	slices.SortFunc(s.LastRuns, func(a, b RunStatus) int { return strings.Compare(a.Kind, b.Kind) })
}

// addRun puts r first in the recent runs.
func (s *State) addRun(r RunSummary) {
	s.Runs = append([]RunSummary{r}, s.Runs...)
	if len(s.Runs) > MaxRuns {
		s.Runs = s.Runs[:MaxRuns]
	}
}

// RecordHeal records a heal or repair run (res.DryRun runs are ignored:
// they changed nothing). A run that could not take the lock
// (heal.ErrLocked) is counted as skipped, not as a run. trigger says what
// started it: "schedule", "api" or "cli". Its notification outcomes
// (res.Notifications) add to the notification totals.
func (s *State) RecordHeal(kind, trigger string, res heal.Result, runErr error) {
	if res.DryRun {
		return
	}
	if errors.Is(runErr, heal.ErrLocked) {
		s.RecordSkip(kind, SkipLocked)
		return
	}
	// As in the history: a failed check or a failed notification is not
	// a successful run.
	success := runErr == nil && res.Summary.FailedChecks == 0 && res.AlertErr == nil
	var msgs []string
	if runErr != nil {
		msgs = append(msgs, runErr.Error())
	}
	for _, f := range res.Found.Failed() {
		msgs = append(msgs, fmt.Sprintf("check %s failed: %s", f.Name, f.Error))
	}
	if res.AlertErr != nil {
		msgs = append(msgs, "alert: "+res.AlertErr.Error())
	}
	var notes []NotificationTotal
	for _, d := range res.Notifications {
		notes = append(notes, NotificationTotal{Channel: d.Channel, Outcome: string(d.Outcome), Count: 1})
	}
	dur := res.Duration.Seconds()
	s.setLastRun(RunStatus{Kind: kind, RunID: res.RunID, Time: res.Started.UTC(), DurationSeconds: dur, Success: success})
	sum := RunSummary{RunID: res.RunID, Kind: kind, Time: res.Started.UTC(), Trigger: trigger, DurationSeconds: dur,
		Success: success, Error: strings.Join(msgs, "; "),
		Found: res.Found.Summary.Critical + res.Found.Summary.Warning + res.Found.Summary.Info,
		Fixed: res.Summary.Fixed, Remaining: res.Summary.Remaining, Critical: res.Summary.Critical,
		Repairs: slices.Clone(res.Repairs), Notifications: notes}
	s.addRun(sum)
	if sum.Undoable() {
		s.LastRepairs = &sum
	}
	for _, rp := range res.Repairs {
		if rp.DryRun || rp.Rows == 0 {
			continue
		}
		i := slices.IndexFunc(s.Repairs, func(t RepairTotal) bool { return t.Check == rp.Check && t.Action == rp.Action })
		if i < 0 {
			s.Repairs = append(s.Repairs, RepairTotal{Check: rp.Check, Action: rp.Action})
			i = len(s.Repairs) - 1
		}
		s.Repairs[i].Rows += float64(rp.Rows)
	}
	for _, n := range notes {
		i := slices.IndexFunc(s.Notifications, func(t NotificationTotal) bool { return t.Channel == n.Channel && t.Outcome == n.Outcome })
		if i < 0 {
			s.Notifications = append(s.Notifications, NotificationTotal{Channel: n.Channel, Outcome: n.Outcome})
			i = len(s.Notifications) - 1
		}
		s.Notifications[i].Count += n.Count
	}
	// What the run's check left open; a run that failed before checking
	// leaves the previous picture.
	if len(res.Remaining.Checks) > 0 {
		s.Checks = checkStatuses(res.Remaining.Checks)
		s.ChecksRunID, s.ChecksAt = res.RunID, res.Started.UTC()
	}
}

// checkStatuses condenses check results for the state.
func checkStatuses(crs []integrity.CheckResult) []CheckStatus {
	out := make([]CheckStatus, 0, len(crs))
	for _, cr := range crs {
		cs := CheckStatus{Name: cr.Name, Category: cr.Category, Severity: cr.Severity, Count: cr.Count,
			Error: cr.Error, AutoFixable: cr.AutoFixable, Reason: oneLine(cr.Reason),
			NotApplicable: cr.Status == integrity.StatusNotApplicable}
		if cs.Severity == "" && len(cr.Issues) > 0 {
			cs.Severity = cr.Issues[0].Severity
		}
		for _, is := range cr.Issues[:min(len(cr.Issues), MaxExamples)] {
			cs.Examples = append(cs.Examples, Example{Table: is.Table, RecordID: is.RecordID, Key: is.Key,
				Description: strings.Join(strings.Fields(is.Description), " ")})
		}
		out = append(out, cs)
	}
	return out
}

// RecordResilience records a resilience report; runErr is set when the
// report could not be made at all (the database went away, the run was
// cancelled).
func (s *State) RecordResilience(trigger string, rep resilience.Report, dur time.Duration, runErr error) {
	at := rep.Time.UTC()
	success := runErr == nil && rep.Summary.FailedProbes == 0
	var msgs []string
	if runErr != nil {
		msgs = append(msgs, runErr.Error())
	}
	for _, p := range rep.Probes {
		if p.Error != "" {
			msgs = append(msgs, fmt.Sprintf("probe %s failed: %s", p.Name, p.Error))
		}
	}
	s.setLastRun(RunStatus{Kind: KindResilience, Time: at, DurationSeconds: dur.Seconds(), Success: success})
	s.addRun(RunSummary{Kind: KindResilience, Time: at, Trigger: trigger, DurationSeconds: dur.Seconds(),
		Success: success, Error: strings.Join(msgs, "; "), Critical: rep.Summary.Critical})
	if runErr != nil {
		return
	}
	rs := &ResilienceStatus{Time: at, Summary: rep.Summary, Findings: []Finding{}}
	for _, f := range rep.Findings {
		rs.Findings = append(rs.Findings, Finding{Check: f.Check, Category: f.Category, Severity: f.Severity,
			Description: strings.Join(strings.Fields(f.Description), " "), Recommendation: f.Recommendation})
	}
	for _, p := range rep.Probes {
		if p.Name != ip2adb.CategoryDatabaseGrowth || p.Error != "" {
			continue
		}
		rs.DatabaseBytes = int64Metric(p.Metrics["database_bytes"])
		rs.TotalRows = int64Metric(p.Metrics["total_rows"])
		rs.BytesPerDay = floatMetric(p.Metrics["bytes_per_day"])
		if v, ok := p.Metrics["days_until_full"]; ok {
			rs.DaysUntilFull = floatMetric(v)
			rs.NotGrowing = v == nil
		}
	}
	s.Resilience = rs
}

// RecordSkip counts a skipped run of kind for reason.
func (s *State) RecordSkip(kind, reason string) {
	i := slices.IndexFunc(s.Skipped, func(t SkipTotal) bool { return t.Kind == kind && t.Reason == reason })
	if i < 0 {
		s.Skipped = append(s.Skipped, SkipTotal{Kind: kind, Reason: reason})
		i = len(s.Skipped) - 1
	}
	s.Skipped[i].Count++
}

// floatMetric reads a probe measurement as a number (nil when it is none).
func floatMetric(v any) *float64 {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return nil
		}
	default:
		return nil
	}
	if math.IsNaN(f) {
		return nil
	}
	return &f
}

func int64Metric(v any) *int64 {
	f := floatMetric(v)
	if f == nil {
		return nil
	}
	n := int64(*f)
	return &n
}

// Store keeps the [State] in LogDir/status/state.json. Every update is a
// read-modify-write under an exclusive file lock, written atomically
// (temporary file and rename), so the service and cron runs of the command
// line can update it at the same time.
type Store struct {
	// LogDir is the log dir (--log-dir).
	LogDir string
}

// Path is the state file's path.
func (st Store) Path() string { return filepath.Join(st.LogDir, StateDir, StateFile) }

// Load reads the state; a missing file is the empty state.
func (st Store) Load() (State, error) {
	var s State
	b, err := os.ReadFile(st.Path())
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("read state %s: %w", st.Path(), err)
	}
	return s, nil
}

// Update applies fn to the stored state and saves it. An unreadable state
// file is replaced by fn applied to the empty state (the error is
// returned alongside, after saving).
func (st Store) Update(fn func(*State)) error {
	if st.LogDir == "" {
		return errors.New("state: no log dir")
	}
	dir := filepath.Join(st.LogDir, StateDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	unlock, err := lockFile(filepath.Join(dir, StateFile+".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	s, loadErr := st.Load()
	fn(&s)
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, StateFile+".tmp*")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), st.Path())
	}
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return loadErr
}

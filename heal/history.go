package heal

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Record is one line of the auto-heal history,
// <log dir>/auto_heal/YYYY-MM-DD_auto_heal.jsonl: the original system's
// fields plus dry_run and duration_ms. Failed runs are recorded too.
type Record struct {
	RunID                    string    `json:"run_id"`
	Timestamp                time.Time `json:"timestamp"`
	IssuesFound              int       `json:"issues_found"`
	IssuesFixed              int       `json:"issues_fixed"`
	IssuesRequiringAttention int       `json:"issues_requiring_attention"`
	NotificationsSent        int       `json:"notifications_sent"`
	Success                  bool      `json:"success"`
	ErrorMessage             *string   `json:"error_message"`
	DryRun                   bool      `json:"dry_run"`
	DurationMS               int64     `json:"duration_ms"`
}

// historyDir is where the auto-heal history lives under the log dir.
func historyDir(logDir string) string { return filepath.Join(logDir, "auto_heal") }

// AppendRecord appends r to the history file of r's UTC day under logDir,
// creating directories as needed. A successful run that is not a dry run
// also writes its time to auto_heal/.last_run (see [Due]).
func AppendRecord(logDir string, r Record) error {
	dir := historyDir(logDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	name := filepath.Join(dir, r.Timestamp.UTC().Format("2006-01-02")+"_auto_heal.jsonl")
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if r.Success && !r.DryRun {
		tmp := filepath.Join(dir, ".last_run.tmp")
		if err := os.WriteFile(tmp, []byte(r.Timestamp.UTC().Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
			return fmt.Errorf("history: %w", err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, ".last_run")); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	return nil
}

// Records returns the history records with a timestamp at or after since,
// oldest first. A missing history is no records; a malformed line is an
// error naming its file and line.
func Records(logDir string, since time.Time) ([]Record, error) {
	files, err := filepath.Glob(filepath.Join(historyDir(logDir), "*_auto_heal.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	sort.Strings(files)
	first := since.UTC().Format("2006-01-02")
	var out []Record
	for _, name := range files {
		if day := strings.TrimSuffix(filepath.Base(name), "_auto_heal.jsonl"); day < first {
			continue
		}
		if err := readRecords(name, since, &out); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Timestamp.Before(out[j].Timestamp) })
	return out, nil
}

func readRecords(name string, since time.Time, out *[]Record) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("history %s line %d: %w", name, n, err)
		}
		if !r.Timestamp.Before(since) {
			*out = append(*out, r)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("history %s: %w", name, err)
	}
	return nil
}

// The health statuses of [HealthSummary], after the original system.
const (
	StatusCritical = "critical" // more than 50 issues requiring attention
	StatusWarning  = "warning"  // more than 10 requiring attention
	StatusFair     = "fair"     // more than 100 issues found
	StatusHealthy  = "healthy"
	StatusUnknown  = "unknown" // no runs in the period
)

// HealthSummary sums the auto-heal history of a period. Dry runs are not
// counted: they changed nothing.
type HealthSummary struct {
	PeriodDays               int     `json:"period_days"`
	TotalRuns                int     `json:"total_runs"`
	SuccessfulRuns           int     `json:"successful_runs"`
	IssuesFound              int     `json:"total_issues_found"`
	IssuesFixed              int     `json:"total_issues_fixed"`
	IssuesRequiringAttention int     `json:"total_requiring_attention"`
	AutoFixRate              float64 `json:"auto_fix_rate"` // percent, one decimal
	MostRecentRun            *Record `json:"most_recent_run"`
	Status                   string  `json:"health_status"`
}

// Summary reads the history of the last days days up to now and sums it:
// totals, the auto-fix rate (fixed / found, percent, one decimal) and the
// status — critical when more than 50 issues required attention, else
// warning when more than 10, else fair when more than 100 were found, else
// healthy; unknown when there were no runs.
func Summary(logDir string, days int, now time.Time) (HealthSummary, error) {
	if days <= 0 || int64(days) > math.MaxInt64/int64(24*time.Hour) {
		return HealthSummary{}, fmt.Errorf("summary: days must be between 1 and %d, got %d", math.MaxInt64/int64(24*time.Hour), days)
	}
	recs, err := Records(logDir, now.Add(-time.Duration(days)*24*time.Hour))
	if err != nil {
		return HealthSummary{}, err
	}
	s := HealthSummary{PeriodDays: days, Status: StatusUnknown}
	for i := range recs {
		r := recs[i]
		if r.DryRun || r.Timestamp.After(now) {
			continue
		}
		s.TotalRuns++
		if r.Success {
			s.SuccessfulRuns++
		}
		s.IssuesFound += r.IssuesFound
		s.IssuesFixed += r.IssuesFixed
		s.IssuesRequiringAttention += r.IssuesRequiringAttention
		if s.MostRecentRun == nil || !r.Timestamp.Before(s.MostRecentRun.Timestamp) {
			s.MostRecentRun = &r
		}
	}
	if s.IssuesFound > 0 {
		s.AutoFixRate = math.Round(float64(s.IssuesFixed)/float64(s.IssuesFound)*1000) / 10
	}
	switch {
	case s.TotalRuns == 0:
		s.Status = StatusUnknown
	case s.IssuesRequiringAttention > 50:
		s.Status = StatusCritical
	case s.IssuesRequiringAttention > 10:
		s.Status = StatusWarning
	case s.IssuesFound > 100:
		s.Status = StatusFair
	default:
		s.Status = StatusHealthy
	}
	return s, nil
}

// LastRun returns the time in auto_heal/.last_run, or the zero time when
// there is none.
func LastRun(logDir string) (time.Time, error) {
	b, err := os.ReadFile(filepath.Join(historyDir(logDir), ".last_run"))
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("last run: %w", err)
	}
	s := strings.TrimSpace(string(b))
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02 15:04:05.999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("last run: %s holds %q, not a time", filepath.Join(historyDir(logDir), ".last_run"), s)
}

// Due reports whether a run is due at now: when auto_heal/.last_run is
// missing or at least interval old. It also returns the last run's time
// (zero when none).
func Due(logDir string, interval time.Duration, now time.Time) (bool, time.Time, error) {
	last, err := LastRun(logDir)
	if err != nil {
		return false, last, err
	}
	return last.IsZero() || now.Sub(last) >= interval, last, nil
}

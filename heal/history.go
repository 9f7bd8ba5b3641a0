package heal

import (
	"bufio"
	"context"
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
// creating directories as needed (mode 0700; files 0600: the history names
// what was repaired). A successful run that is not a dry run also writes
// its time to auto_heal/.last_run (see [Due]) — first, through a temporary
// file of a fresh name renamed into place, so that a symlink planted in
// the directory is never followed and a failed write leaves nothing
// behind. When that fails the record is appended as failed (a full disk
// never records success), and the error is returned. A line cut short by a
// failed write is removed again.
func AppendRecord(logDir string, r Record) error {
	dir := historyDir(logDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	var errs []error
	if r.Success && !r.DryRun {
		if err := writeLastRun(dir, r.Timestamp); err != nil {
			err = fmt.Errorf("history: record the last run: %w", err)
			errs = append(errs, err)
			msg := err.Error()
			if r.ErrorMessage != nil && *r.ErrorMessage != "" {
				msg = *r.ErrorMessage + "\n" + msg
			}
			r.Success, r.ErrorMessage = false, &msg
		}
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	name := r.Timestamp.UTC().Format("2006-01-02") + "_auto_heal.jsonl"
	if err := appendLine(dir, name, line); err != nil {
		errs = append(errs, fmt.Errorf("history: %w", err))
	}
	return errors.Join(errs...)
}

// appendLine appends line and a newline to dir/name (mode 0600 when new)
// through an os.Root, so that a symlink cannot lead the write out of dir.
// A previous line without its newline is ended first; a write that fails
// part-way is truncated away.
func appendLine(dir, name string, line []byte) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	f, err := root.OpenFile(name, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	size := st.Size()
	buf := make([]byte, 0, len(line)+2)
	if size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err == nil && last[0] != '\n' {
			buf = append(buf, '\n')
		}
	}
	buf = append(append(buf, line...), '\n')
	if _, err = f.Write(buf); err != nil {
		_ = f.Truncate(size)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeLastRun replaces dir/.last_run with t: written to a temporary file
// of a fresh name (os.CreateTemp: O_EXCL, mode 0600) in dir, synced and
// renamed over the old one. The temporary file is removed on failure.
func writeLastRun(dir string, t time.Time) error {
	f, err := os.CreateTemp(dir, ".last_run-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.WriteString(t.UTC().Format(time.RFC3339Nano) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, ".last_run"))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// Records returns the history records with a timestamp at or after since,
// oldest first. A missing history is no records. A malformed line is
// skipped; [ReadHistory] names each one.
func Records(logDir string, since time.Time) ([]Record, error) {
	recs, _, err := ReadHistory(logDir, since)
	return recs, err
}

// ReadHistory returns the history records with a timestamp at or after
// since, oldest first, and a warning for each line that is not a record
// (naming its file and line), which is skipped: one bad line (a write cut
// short, a hand edit) does not hide the rest of the history. A missing
// history is no records; an unreadable file is an error.
func ReadHistory(logDir string, since time.Time) ([]Record, []string, error) {
	files, err := filepath.Glob(filepath.Join(historyDir(logDir), "*_auto_heal.jsonl"))
	if err != nil {
		return nil, nil, fmt.Errorf("history: %w", err)
	}
	sort.Strings(files)
	first := since.UTC().Format("2006-01-02")
	var out []Record
	var warnings []string
	for _, name := range files {
		if day := strings.TrimSuffix(filepath.Base(name), "_auto_heal.jsonl"); day < first {
			continue
		}
		if err := readRecords(name, since, &out, &warnings); err != nil {
			return nil, nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Timestamp.Before(out[j].Timestamp) })
	return out, warnings, nil
}

func readRecords(name string, since time.Time, out *[]Record, warnings *[]string) error {
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
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.RunID == "" || r.Timestamp.IsZero() {
			*warnings = append(*warnings, fmt.Sprintf("history %s line %d is not a run record; skipped", name, n))
			continue
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
	// Warnings name the history lines that were skipped (see
	// [ReadHistory]).
	Warnings []string `json:"warnings,omitempty"`
}

// Summary reads the history of the last days days up to now and sums it:
// totals, the auto-fix rate (fixed / found, percent, one decimal) and the
// status — critical when more than 50 issues required attention, else
// warning when more than 10, else fair when more than 100 were found, else
// healthy; unknown when there were no runs.
func Summary(logDir string, days int, now time.Time) (HealthSummary, error) {
	return SummaryOf(context.Background(), FileHistory{LogDir: logDir}, days, now)
}

// SummaryOf is [Summary] of the history that store holds.
func SummaryOf(ctx context.Context, store HistoryStore, days int, now time.Time) (HealthSummary, error) {
	if days <= 0 || int64(days) > math.MaxInt64/int64(24*time.Hour) {
		return HealthSummary{}, fmt.Errorf("summary: days must be between 1 and %d, got %d", math.MaxInt64/int64(24*time.Hour), days)
	}
	recs, warnings, err := store.Read(ctx, now.Add(-time.Duration(days)*24*time.Hour))
	if err != nil {
		return HealthSummary{}, err
	}
	s := HealthSummary{PeriodDays: days, Status: StatusUnknown, Warnings: warnings}
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
// there is none. A file that holds no time is an error.
func LastRun(logDir string) (time.Time, error) {
	name := filepath.Join(historyDir(logDir), ".last_run")
	b, err := os.ReadFile(name)
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
	return time.Time{}, &CorruptLastRunError{File: name}
}

// CorruptLastRunError is returned by [LastRun] when auto_heal/.last_run
// holds no time.
type CorruptLastRunError struct{ File string }

// Error names the file.
func (e *CorruptLastRunError) Error() string {
	return fmt.Sprintf("last run: %s does not hold a time", e.File)
}

// DueStatus is the answer of [CheckDue].
type DueStatus struct {
	// Due says a run is due.
	Due bool
	// LastRun is the time in auto_heal/.last_run; zero when there is none
	// or it was not believed (see Warning).
	LastRun time.Time
	// Warning, when not empty, says why auto_heal/.last_run was not
	// believed — it holds no time, or a time after now — so that the run
	// is due: a corrupt or future stamp must not stop runs forever.
	Warning string
}

// CheckDue reports whether a run is due at now: when auto_heal/.last_run
// is missing, at least interval old, corrupt or in the future (the last
// two with a warning). Only an unreadable .last_run is an error, a
// *[LogDirError].
func CheckDue(logDir string, interval time.Duration, now time.Time) (DueStatus, error) {
	s, err := CheckDueIn(context.Background(), FileHistory{LogDir: logDir}, interval, now)
	if err != nil {
		return s, &LogDirError{Dir: logDir, Err: err}
	}
	return s, nil
}

// Due is [CheckDue] without its warning: it reports whether a run is due
// at now and the last run's time (zero when none or not believed).
func Due(logDir string, interval time.Duration, now time.Time) (bool, time.Time, error) {
	s, err := CheckDue(logDir, interval, now)
	return s.Due, s.LastRun, err
}

// CheckLogDir reports, before a run changes anything, whether its history
// can be written under logDir: auto_heal there must be a directory that
// takes a new file or, when it does not exist yet, its nearest existing
// ancestor must. It creates nothing that stays (a probe file is removed at
// once). A full disk can still fail the write later; [Cycle.Run] reports
// that as a warning. Every error is a *[LogDirError].
func CheckLogDir(logDir string) (err error) {
	defer func() {
		if err != nil {
			err = &LogDirError{Dir: logDir, Err: err}
		}
	}()
	p := historyDir(logDir)
	for {
		st, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			parent := filepath.Dir(p)
			if parent == p {
				return fmt.Errorf("log dir %s: no existing directory above it", logDir)
			}
			p = parent
			continue
		}
		if err != nil {
			return fmt.Errorf("log dir %s: %w", logDir, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("log dir %s: %s is not a directory", logDir, p)
		}
		f, err := os.CreateTemp(p, ".ip2adb-probe-*")
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the probe's random name says nothing
			}
			return fmt.Errorf("log dir %s is not writable: %w", logDir, err)
		}
		f.Close()
		os.Remove(f.Name())
		return nil
	}
}

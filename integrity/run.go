package integrity

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/ip2adb/ip2adb"
	"github.com/jmoiron/sqlx"
)

// DefaultMaxIssues is the number of sample issues kept per check when
// RunOptions.MaxIssues is zero.
const DefaultMaxIssues = 1000

// DefaultConcurrency is the number of checks run at once when
// RunOptions.Concurrency is zero.
const DefaultConcurrency = 4

// RunOptions tune [Run].
type RunOptions struct {
	// MaxIssues is the number of sample issues kept per check;
	// DefaultMaxIssues (1000) when zero, none when negative. Counts are
	// always full.
	MaxIssues int
	// Concurrency is the number of checks run at once; DefaultConcurrency
	// (4) when zero or negative.
	Concurrency int
	// Log receives a line per check (V(1)) and per failed check; the zero
	// value discards.
	Log logr.Logger
}

// CheckResult is the outcome of one check in a [Report].
type CheckResult struct {
	// Name is the check's name.
	Name string `json:"name"`
	// Category is the check's category, also when it failed.
	Category string `json:"category"`
	// Count is the full number of offending rows or groups.
	Count int `json:"count"`
	// DurationMS is how long the check ran, in milliseconds.
	DurationMS int64 `json:"duration_ms"`
	// Error says why the check could not run; "" when it ran.
	Error string `json:"error"`
	// Err is the error behind Error.
	Err error `json:"-"`
	// Issues are the check's sample issues.
	Issues []ip2adb.Issue `json:"-"`
	// Severity is the check's severity (from its Meta, else from its
	// issues), used for the summary.
	Severity ip2adb.Severity `json:"-"`
	// AutoFixable says the check's issues carry an automatic fix.
	AutoFixable bool `json:"-"`
}

// Summary counts a report's offending rows and groups (full counts, not
// just the samples).
type Summary struct {
	// Critical, Warning and Info count offending rows or groups by severity.
	Critical int `json:"critical"`
	Warning  int `json:"warning"`
	Info     int `json:"info"`
	// AutoFixable counts those with an automatic fix.
	AutoFixable int `json:"auto_fixable"`
	// Fixed counts repaired rows; filled in by the repairer, 0 here.
	Fixed int `json:"fixed"`
	// Remaining is Critical+Warning+Info here; the repairer recomputes it.
	Remaining int `json:"remaining"`
	// FailedChecks counts checks that could not run.
	FailedChecks int `json:"failed_checks"`
}

// Report is the outcome of [Run].
type Report struct {
	// Checks holds one result per check, in the order the checks were
	// given.
	Checks []CheckResult
	// Issues are the sample issues of all checks, in check order.
	Issues []ip2adb.Issue
	// Summary counts everything found.
	Summary Summary
}

// HasCritical reports whether critical issues remain or a check failed —
// the condition for exit code 1.
func (r Report) HasCritical() bool { return r.Summary.Critical > 0 || r.Summary.FailedChecks > 0 }

// Failed returns the results of the checks that could not run.
func (r Report) Failed() []CheckResult {
	var out []CheckResult
	for _, c := range r.Checks {
		if c.Err != nil {
			out = append(out, c)
		}
	}
	return out
}

// Run runs checks against db, at most opt.Concurrency at once, each timed.
// A check that returns an error or panics is reported as failed (Error,
// FailedChecks) and never stops the others. Cancelling ctx fails the checks
// that have not finished.
func Run(ctx context.Context, db *sqlx.DB, checks []Checker, opt RunOptions) Report {
	limit := opt.MaxIssues
	if limit == 0 {
		limit = DefaultMaxIssues
	}
	if limit < 0 {
		limit = 0
	}
	workers := opt.Concurrency
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	results := make([]CheckResult, len(checks))
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = runOne(ctx, db, c, limit, opt.Log)
		})
	}
	wg.Wait()
	return NewReport(results)
}

// runOne runs one check, recovering a panic into an error.
func runOne(ctx context.Context, db *sqlx.DB, c Checker, limit int, log logr.Logger) (cr CheckResult) {
	meta := Describe(c)
	cr = CheckResult{Name: meta.Name, Category: meta.Category, Severity: meta.Severity}
	_, cr.AutoFixable = c.(Repairable)
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			cr.Err = fmt.Errorf("check panicked: %v", p)
			log.V(1).Info("check panic", "check", meta.Name, "stack", string(debug.Stack()))
		}
		cr.DurationMS = time.Since(start).Milliseconds()
		if cr.Err != nil {
			cr.Error = cr.Err.Error()
			cr.Count, cr.Issues = 0, nil
			log.Info("check failed", "check", meta.Name, "error", cr.Error)
			return
		}
		log.V(1).Info("check done", "check", meta.Name, "count", cr.Count, "ms", cr.DurationMS)
	}()
	if err := ctx.Err(); err != nil {
		cr.Err = err
		return cr
	}
	res, err := c.Check(ctx, db, limit)
	if err != nil {
		cr.Err = err
		return cr
	}
	if len(res.Issues) > limit {
		res.Issues = res.Issues[:limit]
	}
	cr.Count, cr.Issues = res.Count, res.Issues
	if cr.Count < len(cr.Issues) {
		cr.Count = len(cr.Issues)
	}
	if len(res.Issues) > 0 {
		if cr.Severity == "" {
			cr.Severity = res.Issues[0].Severity
		}
		if cr.Category == "" {
			cr.Category = res.Issues[0].Category
		}
		if res.Issues[0].AutoFixable() {
			cr.AutoFixable = true
		}
	}
	return cr
}

// NewReport builds a report (its issue list and summary) from check results.
func NewReport(results []CheckResult) Report {
	r := Report{Checks: results}
	for _, c := range results {
		if c.Err != nil {
			r.Summary.FailedChecks++
			continue
		}
		r.Issues = append(r.Issues, c.Issues...)
		switch c.Severity {
		case ip2adb.Critical:
			r.Summary.Critical += c.Count
		case ip2adb.Warning:
			r.Summary.Warning += c.Count
		default:
			r.Summary.Info += c.Count
		}
		if c.AutoFixable {
			r.Summary.AutoFixable += c.Count
		}
	}
	r.Summary.Remaining = r.Summary.Critical + r.Summary.Warning + r.Summary.Info
	return r
}

package integrity

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// DefaultMaxIssues is the number of sample issues kept per check when
// RunOptions.MaxIssues is zero.
const DefaultMaxIssues = 1000

// NoSamples is the RunOptions.MaxIssues (and heal.Cycle.MaxIssues) that
// keeps no sample issues: the counts stay full, the report lists none.
const NoSamples = -1

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
	// Model is the live schema the checks are bound to ([Prepare]); Run
	// reads it from db (once per call) when nil. Pass the model of the run
	// to check several times against one reading, or one you changed.
	Model *catalog.Model

	// separate turns the fused pass off (tests compare both ways).
	separate bool
}

// The statuses of a check in a [Report].
const (
	// StatusOK: the check ran (whatever it found).
	StatusOK = "ok"
	// StatusFailed: the check could not run (Error says why); counted in
	// FailedChecks and exit code 1.
	StatusFailed = "failed"
	// StatusNotApplicable: the live schema lacks a table or column the
	// check reads (Reason says which); not a failure.
	StatusNotApplicable = "not_applicable"
)

// CheckResult is the outcome of one check in a [Report].
type CheckResult struct {
	// Name is the check's name.
	Name string `json:"name"`
	// Category is the check's category, also when it failed.
	Category string `json:"category"`
	// Status is StatusOK, StatusFailed or StatusNotApplicable.
	Status string `json:"status"`
	// Count is the full number of offending rows or groups.
	Count int `json:"count"`
	// DurationMS is how long the check ran, in milliseconds.
	DurationMS int64 `json:"duration_ms"`
	// Error says why the check could not run; "" when it ran.
	Error string `json:"error"`
	// Reason says why the check does not apply to the live schema, or how
	// it adapted to it (such as record types it could not judge); "" when
	// there is nothing to say.
	Reason string `json:"reason"`
	// EnforcedBy names the constraints that already enforce the check's
	// rule in the live schema (a foreign key, unique index, enum type, NOT
	// NULL or CHECK constraint), comma-separated; "" when none does. The
	// check runs anyway: rows loaded past a constraint are still found.
	EnforcedBy string `json:"enforced_by"`
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

// NotApplicable returns the results of the checks that do not apply to the
// live schema.
func (r Report) NotApplicable() []CheckResult {
	var out []CheckResult
	for _, c := range r.Checks {
		if c.Status == StatusNotApplicable {
			out = append(out, c)
		}
	}
	return out
}

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
// First it binds them to the live schema (opt.Model, else read from db):
// a check whose tables or columns are absent is reported not applicable.
// A check that returns an error or panics is reported as failed (Error,
// FailedChecks) and never stops the others. Cancelling ctx fails the checks
// that have not finished.
func Run(ctx context.Context, db *sqlx.DB, checks []Checker, opt RunOptions) Report {
	m := opt.Model
	var bound []Checker
	if m == nil {
		var err error
		if m, err = catalog.Read(ctx, db, catalog.Options{}); err != nil {
			for _, c := range checks {
				bound = append(bound, unbindable{meta: Describe(c), err: err})
			}
		}
	}
	if bound == nil {
		bound = Prepare(m, checks)
	}
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
	// One pass per table counts its plain row checks (and an at-most-one
	// rule) together, a probe per foreign key tells whether it can find
	// anything; only the checks that may have found something (or could
	// not be counted so) run alone. The passes share the workers with the
	// other checks and start first: they are the longest statements.
	var passes []*fusedPass
	var st stats
	grouped := make([]bool, len(checks))
	if !opt.separate {
		st = readStats(ctx, db, m, bound)
		passes = fusedPasses(bound, dbx.DialectOf(db), st)
		// A foreign key probed through the parent's gaps reads its orphans
		// through them too, should it run alone.
		markGaps(bound, st)
		for _, p := range passes {
			for _, i := range p.idx {
				grouped[i] = true
			}
		}
	}
	// The other checks, those of the largest tables first (in the order
	// given without statistics): the longest start early, the short ones
	// fill in at the end.
	var others []int
	for i := range checks {
		if !grouped[i] {
			others = append(others, i)
		}
	}
	slices.SortStableFunc(others, func(a, b int) int {
		return cmp.Compare(st.pages[Describe(bound[b]).Table], st.pages[Describe(bound[a]).Table])
	})
	results := make([]CheckResult, len(checks))
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	runAlone := func(i int, f *fusedResult) {
		sem <- struct{}{}
		defer func() { <-sem }()
		results[i] = runOne(ctx, db, bound[i], limit, opt.Log, f)
	}
	// The first pass — the largest table's — takes the connection the
	// catalog and the statistics were read on, whose backend is started
	// and warm; the others open theirs meanwhile instead of racing it for
	// that one.
	if len(passes) > 0 {
		if c, err := db.Conn(ctx); err == nil {
			passes[0].on = c
		}
	}
	// Work starts in order — the passes, then the other checks — each
	// as soon as a worker is free; a check a pass did not settle runs
	// next to them.
	for _, p := range passes {
		sem <- struct{}{}
		wg.Go(func() {
			found, err := p.count(ctx, db)
			<-sem
			for k, i := range p.idx {
				if err != nil { // run alone: each reports its own error
					wg.Go(func() { runAlone(i, nil) })
					continue
				}
				if f := found[k]; f.clean {
					results[i] = runOne(ctx, db, bound[i], limit, opt.Log, f)
				} else {
					wg.Go(func() { runAlone(i, f) })
				}
			}
		})
	}
	for _, i := range others {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = runOne(ctx, db, bound[i], limit, opt.Log, nil)
		})
	}
	wg.Wait()
	return NewReport(results)
}

// runOne runs one check, recovering a panic into an error. With f from the
// fused pass, the check's duration includes its share of the pass, and a
// check the pass found clean is not run again: its result is that of a
// check that found nothing.
func runOne(ctx context.Context, db *sqlx.DB, c Checker, limit int, log logr.Logger, f *fusedResult) (cr CheckResult) {
	meta := Describe(c)
	cr = CheckResult{Name: meta.Name, Category: meta.Category, Severity: meta.Severity, Status: StatusOK}
	_, cr.AutoFixable = c.(Repairable)
	if e, ok := c.(enforcer); ok {
		cr.EnforcedBy, cr.Reason = e.enforcedBy(), e.note()
	}
	start := time.Now()
	if f != nil {
		start = start.Add(-f.share)
	}
	defer func() {
		if p := recover(); p != nil {
			cr.Err = fmt.Errorf("check panicked: %v", p)
			log.V(1).Info("check panic", "check", meta.Name, "stack", string(debug.Stack()))
		}
		cr.DurationMS = time.Since(start).Milliseconds()
		var na *NotApplicableError
		if errors.As(cr.Err, &na) {
			cr.Err, cr.Status, cr.Reason = nil, StatusNotApplicable, na.Reason
			cr.Count, cr.Issues, cr.AutoFixable, cr.EnforcedBy = 0, nil, false, ""
			log.V(1).Info("check not applicable", "check", meta.Name, "reason", na.Reason)
			return
		}
		if cr.Err != nil {
			cr.Status = StatusFailed
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
	var res Result
	var err error
	if f == nil || !f.clean {
		if f != nil && f.exact {
			ctx = context.WithValue(ctx, knownCount{}, f.count)
		}
		res, err = c.Check(ctx, db, limit)
	}
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

// knownCount is the context key under which runOne hands a check the
// count its fused pass made of the rows the check's own predicate selects
// (an int64): the check's statement then reads only its sample rows.
type knownCount struct{}

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

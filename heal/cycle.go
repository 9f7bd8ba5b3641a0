// Package heal repairs what is safe to repair in a checked database, and
// keeps every repair undoable. A [Cycle] is one auto-heal run: take the run
// lock, check, repair every auto-fixable rule in one transaction together
// with its journal (the before-image of each changed row), commit, re-check
// the repaired rules, alert about what remains and record the run in the
// history under the log dir. [Undo] restores a run from its journal;
// [Summary] and [Due] read the history.
package heal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/notify"
	"github.com/jmoiron/sqlx"
)

// Alerter tells administrators about the issues a run could not fix and
// reports what became of the notification on each channel.
// notify.Manager implements it. Implementations must honour ctx.
type Alerter interface {
	Alert(ctx context.Context, issues []ip2adb.Issue) (notify.Report, error)
}

// AlerterFunc adapts a function to [Alerter].
type AlerterFunc func(ctx context.Context, issues []ip2adb.Issue) (notify.Report, error)

// Alert calls f.
func (f AlerterFunc) Alert(ctx context.Context, issues []ip2adb.Issue) (notify.Report, error) {
	return f(ctx, issues)
}

// NopAlerter returns an Alerter that sends nothing.
func NopAlerter() Alerter {
	return AlerterFunc(func(context.Context, []ip2adb.Issue) (notify.Report, error) {
		return notify.Report{Deliveries: []notify.Delivery{}}, nil
	})
}

// MultiAlerter alerts through every alerter in turn; one failing does not
// stop the others. Its report sums the notifications sent and lists every
// alerter's deliveries in turn; its error joins theirs.
type MultiAlerter []Alerter

// Alert implements [Alerter].
func (m MultiAlerter) Alert(ctx context.Context, issues []ip2adb.Issue) (notify.Report, error) {
	out := notify.Report{Deliveries: []notify.Delivery{}}
	var errs []error
	for _, a := range m {
		r, err := a.Alert(ctx, issues)
		out.Sent += r.Sent
		out.Deliveries = append(out.Deliveries, r.Deliveries...)
		if out.NotificationID == "" {
			out.NotificationID = r.NotificationID
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// Planned is one repair of a run: a fix attributed to the check it repairs.
type Planned struct {
	Check string
	Fix   ip2adb.Fix
}

// ErrAborted is returned when a [Cycle.Choose] function aborts the run;
// nothing was changed.
var ErrAborted = errors.New("aborted; nothing was changed")

// RepairResult reports one repair of a run (one step).
type RepairResult struct {
	Check  string        `json:"check"`
	Action ip2adb.Action `json:"action"` // as executed: delete on a soft-delete table is soft_delete
	Table  string        `json:"table"`
	Rows   int64         `json:"rows"`
	DryRun bool          `json:"dry_run"`
}

// Result is the outcome of a run, in the JSON form of DESIGN.md.
//
// Checks are the checks as first run (count = what was found). Issues and
// the summary's severity counts are what remains after the run: the sample
// issues of the checks that were not repaired plus whatever the re-check of
// the repaired rules still finds (in a dry run the repaired rules are
// assumed clean, since nothing was committed to re-check). Summary.
// AutoFixable counts what was found auto-fixable, Fixed the rows repaired
// (would be repaired, in a dry run), Remaining what remains.
type Result struct {
	RunID   string                  `json:"run_id"`
	DryRun  bool                    `json:"dry_run"`
	Checks  []integrity.CheckResult `json:"checks"`
	Issues  []ip2adb.Issue          `json:"issues"`
	Repairs []RepairResult          `json:"repairs"`
	Summary integrity.Summary       `json:"summary"`
	// Notifications is what became of the notification about the
	// remaining issues on each channel (sent, failed or suppressed); empty
	// when none was called for, in a dry run and without an Alerter.
	Notifications []notify.Delivery `json:"notifications"`
	// Warnings are failures after the repairs committed that did not
	// undo them, such as a history that could not be written; none when
	// empty.
	Warnings []string `json:"warnings,omitempty"`

	// Found is the first check's report.
	Found integrity.Report `json:"-"`
	// Remaining is the report of what remains (the source of Issues and
	// of the summary's severity counts).
	Remaining integrity.Report `json:"-"`
	// NotificationsSent counts the notifications about the remaining
	// issues that at least one channel delivered — notifications, not
	// channel deliveries.
	NotificationsSent int `json:"-"`
	// AlertErr is why alerting failed (a channel failed to deliver, or the
	// dedup state could not be saved), if it did: the repairs still stand,
	// but the run is not recorded as a success.
	AlertErr error `json:"-"`
	// Started and Duration time the run.
	Started  time.Time     `json:"-"`
	Duration time.Duration `json:"-"`
}

// HasCritical reports whether critical issues remain or a check failed —
// exit code 1.
func (r Result) HasCritical() bool { return r.Summary.Critical > 0 || r.Summary.FailedChecks > 0 }

// Found counts every offending row or group of the first check.
func found(s integrity.Summary) int { return s.Critical + s.Warning + s.Info }

// Cycle is one auto-heal run (or, with Kind KindRepair, one
// integrity --repair). Set the fields and call Run; a Cycle may be run
// again.
type Cycle struct {
	// DB is the database to heal.
	DB *sqlx.DB
	// Model is the live schema the checks are bound to and the repairs
	// and their journal follow (primary keys, soft-delete and touched
	// columns); Run reads it from DB (once per run, with Catalog) when
	// nil. A database holding none of the tables the checks read fails
	// the run with an *integrity.SchemaError.
	Model *catalog.Model
	// Catalog are the options the model is read with when Model is nil:
	// the conventions naming soft-delete and timestamp columns (such as
	// deleted_at alone, or modified_at), per-table overrides (a primary
	// key, soft-delete or timestamp columns) and the PostgreSQL schema.
	// The zero value reads the current schema with
	// catalog.DefaultConventions.
	Catalog catalog.Options
	// Checks are the rules; those implementing integrity.Repairable are
	// repaired when they find something.
	Checks []integrity.Checker
	// MaxIssues is the number of sample issues per check
	// (integrity.DefaultMaxIssues when zero).
	MaxIssues int
	// Concurrency is the number of checks run at once (integrity's default
	// when zero).
	Concurrency int
	// DryRun executes every repair and rolls back: true counts, no change,
	// no alert. Dry runs are recorded in the history as such.
	DryRun bool
	// Kind is KindHeal (run ids "AH-…") or KindRepair ("IR-…"); KindHeal
	// when empty.
	Kind string
	// Choose, when set, is asked after the check for further repairs (the
	// interactive repair of missing files). Returning ErrAborted ends the
	// run with nothing changed.
	Choose func(ctx context.Context, found integrity.Report) ([]Planned, error)
	// Repairer applies the repairs; SQLRepairer when nil. Each repair's
	// Step carries the run's Journal (JournalTables and the model).
	Repairer Repairer
	// JournalTables are where the run is journaled; the zero value is
	// ip2adb's own tables (see [JournalTables]). Undo the run with the
	// same value in UndoOptions.
	JournalTables JournalTables
	// Timeouts bound the lock waits and statements of the repair
	// transaction on PostgreSQL (the zero value: the defaults).
	Timeouts Timeouts
	// Alerter is told about the issues that remain; none when nil.
	Alerter Alerter
	// LogDir is where the history is written (auto_heal/…) when History
	// is nil; no history when both are unset.
	LogDir string
	// History keeps the run history instead of files under LogDir (for
	// example a [DBHistory]).
	History HistoryStore
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives progress at V(1) and failures; the zero value discards.
	Log logr.Logger
}

func (c *Cycle) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Run runs the cycle: lock → check → repair (one transaction, journaled) →
// commit (dry run: roll back) → re-check the repaired rules → alert →
// record. An error means the run failed (lock held by another run, a repair
// failed, the commit failed): the database is unchanged, and the failure is
// recorded in the history. Failed checks are not run errors: they are
// counted in Summary.FailedChecks. When LogDir is set it must be writable
// (see [CheckLogDir]) — or, with History set, the store's CheckWritable
// must pass when it has one — or Run returns an error before doing anything; a
// history write that fails afterwards (a full disk) is one of
// Result.Warnings, not an error: the run itself stands.
func (c *Cycle) Run(ctx context.Context) (res Result, err error) {
	start := c.now().UTC()
	kind, prefix := KindHeal, "AH"
	if c.Kind == KindRepair {
		kind, prefix = KindRepair, "IR"
	}
	res = Result{RunID: NewRunID(prefix, start), DryRun: c.DryRun, Started: start,
		Checks: []integrity.CheckResult{}, Issues: []ip2adb.Issue{}, Repairs: []RepairResult{},
		Notifications: []notify.Delivery{}}
	history := c.History
	if history == nil && c.LogDir != "" {
		history = FileHistory{LogDir: c.LogDir}
	}
	if w, ok := history.(interface{ CheckWritable(context.Context) error }); ok {
		// Refuse before changing anything when the history cannot be
		// written (read-only, not a directory).
		if err := w.CheckWritable(ctx); err != nil {
			return res, err
		}
	}
	defer func() {
		res.Duration = c.now().Sub(start)
		if history == nil {
			return
		}
		rec := Record{RunID: res.RunID, Timestamp: start, IssuesFound: found(res.Found.Summary),
			IssuesFixed: res.Summary.Fixed, IssuesRequiringAttention: res.Summary.Remaining,
			NotificationsSent: res.NotificationsSent, Success: err == nil && res.Summary.FailedChecks == 0 && res.AlertErr == nil,
			DryRun: c.DryRun, DurationMS: res.Duration.Milliseconds()}
		var msgs []error
		if err != nil {
			msgs = append(msgs, err)
		}
		for _, f := range res.Found.Failed() {
			msgs = append(msgs, fmt.Errorf("check %s failed: %s", f.Name, f.Error))
		}
		if res.AlertErr != nil {
			msgs = append(msgs, fmt.Errorf("alert: %w", res.AlertErr))
		}
		if len(msgs) > 0 {
			s := errors.Join(msgs...).Error()
			rec.ErrorMessage = &s
		}
		// The record is kept even when ctx ended (a cancelled run is
		// recorded as failed).
		if herr := history.Append(context.WithoutCancel(ctx), rec); herr != nil {
			// The run's outcome stands (its repairs are committed); the
			// failure to record it is a warning of the result.
			c.Log.V(1).Info("history not recorded", "run", res.RunID, "err", herr.Error())
			res.Warnings = append(res.Warnings, strings.ReplaceAll(herr.Error(), "\n", "; "))
		}
	}()
	// The schema model, read once per run: the checks, their fixes and
	// the re-check are bound to it.
	model, err := c.validate(ctx, false)
	if err != nil {
		return res, err
	}
	lock, err := AcquireLock(ctx, c.DB)
	if err != nil {
		return res, err
	}
	defer lock.Release()

	checks := integrity.Prepare(model, c.Checks)
	opt := integrity.RunOptions{MaxIssues: c.MaxIssues, Concurrency: c.Concurrency, Log: c.Log, Model: model}
	rep := integrity.Run(ctx, c.DB, checks, opt)
	res.Found = rep
	res.Checks = rep.Checks

	// Each repair runs its check's fix as integrity.RepairFixes words it
	// (an orphan repair reads the parent's gaps, as the check did, where
	// that pays), read only when something is to be repaired.
	var plan []Planned
	var fixes []ip2adb.Fix
	for i, cr := range rep.Checks {
		if _, ok := checks[i].(integrity.Repairable); ok && cr.Err == nil && cr.Count > 0 {
			if fixes == nil {
				fixes = integrity.RepairFixes(ctx, c.DB, model, checks)
			}
			plan = append(plan, Planned{Check: cr.Name, Fix: fixes[i]})
		}
	}
	autoPlanned := len(plan)
	if c.Choose != nil {
		more, err := c.Choose(ctx, rep)
		if err != nil {
			return res, err
		}
		plan = append(plan, more...)
	}

	stamp := start.Truncate(time.Microsecond)
	if len(plan) > 0 {
		repairs, err := c.repair(ctx, lock, model, res.RunID, kind, stamp, plan)
		if err != nil {
			return res, err
		}
		res.Repairs = repairs
	}

	// What remains: re-check the repaired rules (dry run: assume the auto
	// repairs worked; chosen repairs remove one issue per row).
	remaining := append([]integrity.CheckResult(nil), rep.Checks...)
	rows := map[string]int64{}
	for _, r := range res.Repairs {
		rows[r.Check] += r.Rows
		res.Summary.Fixed += int(r.Rows)
	}
	if len(plan) > 0 {
		auto := map[string]bool{}
		for _, p := range plan[:autoPlanned] {
			auto[p.Check] = true
		}
		var again []integrity.Checker
		var idx []int
		for i, cr := range rep.Checks {
			if _, ok := rows[cr.Name]; ok {
				again = append(again, checks[i])
				idx = append(idx, i)
			}
		}
		if c.DryRun {
			for _, i := range idx {
				cr := &remaining[i]
				if auto[cr.Name] {
					cr.Count, cr.Issues = 0, nil
				} else if cr.Count = max(0, cr.Count-int(rows[cr.Name])); cr.Count == 0 {
					cr.Issues = nil
				}
			}
		} else {
			ver := integrity.Run(ctx, c.DB, again, opt)
			for k, i := range idx {
				remaining[i] = ver.Checks[k]
			}
		}
	}
	after := integrity.NewReport(remaining)
	res.Remaining = after
	res.Issues = after.Issues
	if res.Issues == nil {
		res.Issues = []ip2adb.Issue{}
	}
	fixed := res.Summary.Fixed
	res.Summary = after.Summary
	res.Summary.Fixed = fixed
	res.Summary.AutoFixable = rep.Summary.AutoFixable
	res.Summary.FailedChecks = max(rep.Summary.FailedChecks, after.Summary.FailedChecks)

	if !c.DryRun && c.Alerter != nil && len(res.Issues) > 0 {
		rep, aerr := c.Alerter.Alert(ctx, res.Issues)
		res.NotificationsSent = rep.Sent
		if rep.Deliveries != nil {
			res.Notifications = rep.Deliveries
		}
		if aerr != nil {
			res.AlertErr = aerr
			c.Log.Error(aerr, "alert about remaining issues", "run", res.RunID)
		}
	}
	c.Log.V(1).Info("run done", "run", res.RunID, "dry_run", c.DryRun, "fixed", res.Summary.Fixed, "remaining", res.Summary.Remaining)
	return res, nil
}

// repair applies plan in one transaction (rolled back in a dry run).
func (c *Cycle) repair(ctx context.Context, lock *Lock, model *catalog.Model, runID, kind string, stamp time.Time, plan []Planned) ([]RepairResult, error) {
	d := dbx.DialectOf(c.DB)
	rp := c.Repairer
	if rp == nil {
		rp = SQLRepairer{}
	}
	tx, err := beginTx(ctx, c.DB, d)
	if err != nil {
		return nil, fmt.Errorf("begin repair: %w", err)
	}
	defer tx.Rollback()
	if err := c.Timeouts.setLocal(ctx, tx, d); err != nil {
		return nil, fmt.Errorf("begin repair: %w", err)
	}
	jt := c.JournalTables
	if err := jt.Ensure(ctx, tx); err != nil {
		return nil, err
	}
	if err := beginRunRow(ctx, tx, d, jt, runID, kind, stamp, ""); err != nil {
		return nil, err
	}
	out := make([]RepairResult, 0, len(plan))
	var total int64
	for i, p := range plan {
		action, err := effectiveAction(model, p.Fix)
		if err != nil {
			return nil, fmt.Errorf("repair %s: %w", p.Check, err)
		}
		step := Step{RunID: runID, Seq: i + 1, Check: p.Check, Stamp: stamp, Journal: Journal{Tables: jt, Model: model}}
		n, err := rp.Repair(ctx, tx, step, p.Fix)
		if err != nil {
			return nil, err
		}
		c.Log.V(1).Info("repaired", "run", runID, "check", p.Check, "action", action, "table", p.Fix.Table, "rows", n, "dry_run", c.DryRun)
		out = append(out, RepairResult{Check: p.Check, Action: action, Table: p.Fix.Table, Rows: n, DryRun: c.DryRun})
		total += n
	}
	if err := finishRunRow(ctx, tx, d, jt, runID, total, c.now()); err != nil {
		return nil, err
	}
	if c.DryRun {
		if err := tx.Rollback(); err != nil {
			return nil, fmt.Errorf("roll back dry run: %w", err)
		}
		return out, nil
	}
	if err := lock.Held(ctx); err != nil {
		return nil, fmt.Errorf("commit repairs: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit repairs: %w", err)
	}
	return out, nil
}

// effectiveAction is the action SQLRepairer executes for fix: delete on a
// table that soft-deletes is a soft delete.
func effectiveAction(m *catalog.Model, fix ip2adb.Fix) (ip2adb.Action, error) {
	t, err := columnsOf(m, fix.Table)
	if err != nil {
		return "", err
	}
	return t.action(fix.Action), nil
}

// Package resilience watches the long-term health of a database, its
// file store and its backups: attachment checksums, disk capacity, orphaned
// files, growth trends with a disk-full forecast, stale and skewed data, slow
// queries, index and heap corruption (amcheck), backup freshness and
// contents, and on PostgreSQL transaction-ID wraparound, vacuum health,
// session hazards, replication slots and WAL, and bloat.
//
// Each concern is a [Probe]; [Probes] returns the fourteen standard ones and
// [Run] runs a list of probes concurrently, timing each. A probe that cannot
// run becomes a critical finding of its own, never a silent skip, and what a
// database cannot tell (index usage on SQLite) is said as an info finding.
// Every threshold reads the clock, the file store and the disk usage through
// [Env], so all of them can be tested with fakes.
package resilience

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/jmoiron/sqlx"
)

// Probe is one long-term health check. Probe must be safe to call
// concurrently with other probes on the same Env; it reports what it finds
// in Result and returns an error only when it cannot do its work at all
// (missing table, unreadable directory), which [Run] turns into a finding.
type Probe interface {
	// Name names the probe; it is also the category of the findings it
	// makes when it fails (the standard probes use the Category* words).
	Name() string
	// Probe inspects env and reports its findings and measurements.
	Probe(ctx context.Context, env Env) (Result, error)
}

// ProbeFunc is a probe written as a function. [NewProbe] gives it a name.
type ProbeFunc func(ctx context.Context, env Env) (Result, error)

// NewProbe returns the [Probe] named name that calls fn.
func NewProbe(name string, fn ProbeFunc) Probe { return funcProbe{name: name, fn: fn} }

// funcProbe is the Probe of NewProbe.
type funcProbe struct {
	name string
	fn   ProbeFunc
}

// Name returns the probe's name.
func (p funcProbe) Name() string { return p.name }

// Probe calls the probe's function.
func (p funcProbe) Probe(ctx context.Context, env Env) (Result, error) { return p.fn(ctx, env) }

// Result is what one probe found.
type Result struct {
	// Findings are the problems found, as shared issues.
	Findings []ip2adb.Issue
	// Summary is one line for people ("verified 120 files, 1.2 GB").
	Summary string
	// Metrics are the measurements behind the findings (counts, sizes,
	// percentages), for the JSON report and trend tooling.
	Metrics map[string]any
}

// DiskUsageFunc reports the total and available bytes of the file system
// holding path.
type DiskUsageFunc func(path string) (total, free uint64, err error)

// Env is what probes inspect. The zero value of every optional field takes
// its documented default (see [Env.WithDefaults]).
type Env struct {
	// DB is the database watched.
	DB *sqlx.DB
	// FilesRoot is the root attachment paths are relative to: a directory
	// or "s3://BUCKET[/PREFIX]".
	FilesRoot string
	// Files is the file store at FilesRoot. When nil, [Run] (or a probe
	// called on its own) opens FilesRoot with [filestore.Open] — a
	// directory as an os.Root, so neither ".." nor a symlink leads outside
	// it; an s3:// root with the AWS_* environment variables — and closes
	// it afterwards. A root that cannot be opened fails the file probes
	// instead of reporting every file missing.
	Files filestore.Store
	// BackupDir is where database backups are looked for.
	BackupDir string
	// LogDir holds metrics history (resilience_metrics/) and the checksum
	// verification state. Empty means no history is kept: the growth probe
	// then fails and checksums are verified without memory of past runs.
	LogDir string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// DiskUsage measures file systems; [StatFS] when nil.
	DiskUsage DiskUsageFunc
	// Log receives debug detail; the zero value discards.
	Log logr.Logger
	// Progress, when set, is told how the long file work advances: phase
	// "verify checksums" (file_corruption) or "record checksums"
	// ([RecordChecksums]), done of total files. It is called from one
	// goroutine at a time.
	Progress func(phase string, done, total int64)

	filesErr error     // why FilesRoot could not be opened
	listings *listings // the store listings shared by the probes of a run
}

// progress reports done of total files for phase, when Progress is set.
func (e Env) progress(phase string, done, total int) {
	if e.Progress != nil {
		e.Progress(phase, int64(done), int64(total))
	}
}

// WithDefaults returns env with Now and DiskUsage filled in when nil.
func (e Env) WithDefaults() Env {
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.DiskUsage == nil {
		e.DiskUsage = StatFS
	}
	return e
}

// withFiles fills in Files by opening FilesRoot, and prepares the
// listings the file probes share; call the returned function when done.
// When the root cannot be opened, Files stays nil and files() reports why.
func (e Env) withFiles(ctx context.Context) (Env, func()) {
	if e.listings == nil {
		e.listings = &listings{}
	}
	if e.Files != nil || e.FilesRoot == "" || e.filesErr != nil {
		return e, func() {}
	}
	h, err := filestore.Open(ctx, e.FilesRoot, nil)
	if err != nil {
		e.filesErr = err
		return e, func() {}
	}
	e.Files = h
	return e, func() { h.Close() }
}

// files returns the file store or why there is none.
func (e Env) files() (filestore.Store, error) {
	switch {
	case e.Files != nil:
		return e.Files, nil
	case e.filesErr != nil:
		return nil, e.filesErr
	}
	return nil, errors.New("no files root configured")
}

// db returns the database or an error when none is configured.
func (e Env) db() (*sqlx.DB, error) {
	if e.DB == nil {
		return nil, errors.New("no database configured")
	}
	return e.DB, nil
}

// RunOptions tune [Run].
type RunOptions struct {
	// Concurrency bounds how many probes run at once; 4 when zero.
	Concurrency int
	// ProbeTimeout bounds each probe; no bound when zero.
	ProbeTimeout time.Duration
}

// ProbeReport is how one probe went.
type ProbeReport struct {
	// Name is the probe's name.
	Name string `json:"name"`
	// DurationMS is Duration in whole milliseconds.
	DurationMS int64 `json:"duration_ms"`
	// Findings counts the probe's findings (its failure included).
	Findings int `json:"findings"`
	// Summary is the probe's one line for people.
	Summary string `json:"summary,omitempty"`
	// Error is why the probe could not run; empty when it ran.
	Error string `json:"error"`
	// Metrics are the probe's measurements.
	Metrics map[string]any `json:"metrics,omitempty"`
	// Duration is the wall time the probe took.
	Duration time.Duration `json:"-"`
}

// Summary counts a report's findings.
type Summary struct {
	// Critical, Warning and Info count the findings by severity.
	Critical int `json:"critical"`
	Warning  int `json:"warning"`
	Info     int `json:"info"`
	// FailedProbes counts the probes that could not run (each is also a
	// critical finding).
	FailedProbes int `json:"failed_probes"`
}

// Report is the outcome of [Run]: every finding in probe order, how each
// probe went, and the counts.
type Report struct {
	// Time is when the run started (Env.Now).
	Time time.Time `json:"time"`
	// Findings of every probe, in the order the probes were given.
	Findings []ip2adb.Issue `json:"findings"`
	// Probes says how each probe went, in the order given.
	Probes []ProbeReport `json:"probes"`
	// Summary counts the findings by severity and the failed probes.
	Summary Summary `json:"summary"`
}

// HasCritical reports whether any finding is critical.
func (r Report) HasCritical() bool { return r.Summary.Critical > 0 }

// Check returns the Check name of a probe's findings: "resilience.<name>".
func Check(name string) string { return "resilience." + name }

// Run runs probes against env, at most opt.Concurrency at a time, and
// collects their findings. A probe that returns an error or panics becomes a
// critical finding in its own category naming the error, and counts as a
// failed probe; Run itself never fails. On PostgreSQL, when the server
// restarts, goes away or enters recovery during the run, the failures that
// causes (see [ServerGone]) become one critical finding of category
// "server" (first in the report), naming the time and the probes affected.
func Run(ctx context.Context, env Env, probes []Probe, opt RunOptions) Report {
	env, done := env.WithDefaults().withFiles(ctx)
	defer done()
	if opt.Concurrency <= 0 {
		opt.Concurrency = 4
	}
	rep := Report{Time: env.Now(), Probes: make([]ProbeReport, len(probes))}
	results := make([]Result, len(probes))
	errs := make([]error, len(probes))
	watch := watchServer(ctx, env)
	sem := make(chan struct{}, opt.Concurrency)
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			pctx := ctx
			if opt.ProbeTimeout > 0 {
				var cancel context.CancelFunc
				pctx, cancel = context.WithTimeout(ctx, opt.ProbeTimeout)
				defer cancel()
			}
			start := time.Now()
			res, err := runOne(pctx, env, p)
			d := time.Since(start)
			pr := ProbeReport{Name: p.Name(), Duration: d, DurationMS: d.Milliseconds(),
				Summary: res.Summary, Metrics: res.Metrics}
			if err != nil {
				pr.Error = err.Error()
				errs[i] = err
			}
			pr.Findings = len(res.Findings)
			if err != nil {
				pr.Findings++
			}
			env.Log.V(1).Info("probe done", "probe", p.Name(), "duration", d, "findings", pr.Findings, "error", pr.Error)
			results[i] = res
			rep.Probes[i] = pr
		}()
	}
	wg.Wait()
	names := make([]string, len(probes))
	for i, p := range probes {
		names[i] = p.Name()
	}
	// A restart or recovery of the server makes every probe that was
	// talking to it fail: that is one finding, not one per probe.
	server, replaced := watch.collapse(ctx, env, names, errs)
	rep.Findings = []ip2adb.Issue{}
	if server != nil {
		rep.Findings = append(rep.Findings, *server)
	}
	for i, res := range results {
		rep.Findings = append(rep.Findings, res.Findings...)
		if errs[i] != nil {
			rep.Summary.FailedProbes++
			if !replaced[i] {
				rep.Findings = append(rep.Findings, failure(names[i], errs[i]))
			}
		}
	}
	for _, f := range rep.Findings {
		switch f.Severity {
		case ip2adb.Critical:
			rep.Summary.Critical++
		case ip2adb.Warning:
			rep.Summary.Warning++
		case ip2adb.Info:
			rep.Summary.Info++
		}
	}
	return rep
}

// runOne calls p, turning a panic into an error.
func runOne(ctx context.Context, env Env, p Probe) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			buf := make([]byte, 4096)
			buf = buf[:runtime.Stack(buf, false)]
			env.Log.Error(fmt.Errorf("panic: %v", r), "probe panicked", "probe", p.Name(), "stack", string(buf))
			res, err = Result{}, fmt.Errorf("panic: %v", r)
		}
	}()
	return p.Probe(ctx, env)
}

// failure is the finding for a probe that could not run.
func failure(name string, err error) ip2adb.Issue {
	return ip2adb.Issue{
		Check:          Check(name),
		Category:       name,
		Severity:       ip2adb.Critical,
		Description:    fmt.Sprintf("The %s probe could not run: %v", name, err),
		Details:        map[string]any{"error": err.Error(), "probe_failed": true},
		Recommendation: "Fix the cause named in the error (missing table, unreadable directory, lost connection) and run the report again; until then this aspect of health is unknown.",
	}
}

// finding builds an aggregate issue of probe name.
func finding(name string, sev ip2adb.Severity, table, desc, rec string, details map[string]any) ip2adb.Issue {
	return ip2adb.Issue{
		Check: Check(name), Category: name, Severity: sev, Table: table,
		Description: desc, Details: details, Recommendation: rec,
	}
}

// standard wraps the function of a standard probe so that it sees env with
// its defaults filled in, whether called through [Run] or directly.
func standard(name string, fn func(ctx context.Context, env Env) (Result, error)) Probe {
	return NewProbe(name, func(ctx context.Context, env Env) (Result, error) {
		env, done := env.WithDefaults().withFiles(ctx)
		defer done()
		return fn(ctx, env)
	})
}

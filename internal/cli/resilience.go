package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/resilience"
	"github.com/jmoiron/sqlx"
	"github.com/urfave/cli/v2"
)

func (a *app) resilienceCommand() *cli.Command {
	return &cli.Command{
		Name:  "resilience",
		Usage: "report the long-term health of the database, its file store and its backups",
		UsageText: `ip2adb resilience [--export FILE] [--record-checksums] [thresholds]

Runs fourteen probes and prints what they found, grouped by category with a
recommended action each:
   file_corruption    SHA-256 of each attachment against its stored checksum
                      (within --verify-bytes / --verify-time per run, least
                      recently verified first); missing and unverifiable files
   storage_capacity   use of the disk holding --files-root; files under uploads/
   orphaned_files     files under uploads/ no attachment names
   database_growth    row counts and sizes saved daily under
                      LOG_DIR/resilience_metrics/; growth per day, days until
                      the database's disk is full
   data_staleness     members not updated for a year; employments ended 10+ years ago
   data_distribution  employments per member (min / max / avg)
   query_performance  three timed queries; pg_stat_statements on PostgreSQL
   index_health       unused, invalid and duplicate indexes; amcheck of table
                      heaps (verify_heapam) and B-tree indexes (heapallindexed)
                      within --amcheck-bytes / --amcheck-time per run, resuming
                      next run (PostgreSQL); PRAGMA integrity_check (SQLite)
   backup_status      newest dump in --backup-dir (.sql, .dump, .backup, .tar,
                      directory format, .gz, .zst): age, whether it can be read
                      to its end, whether it holds the IP2A tables and is not
                      implausibly small
   transaction_wraparound  freeze age against autovacuum_freeze_max_age
   vacuum_health      dead tuples, last vacuum and analyze per table
   sessions           idle-in-transaction, long transactions and queries, lock
                      waits (this database only); connections in use
   replication        inactive replication slots holding WAL; WAL size
   bloat              table and index bloat estimated from statistics
                      (--exact-bloat: measured with pgstattuple)

The report writes nothing to the watched database: amcheck and pgstattuple
are used when installed, and installed only with --create-extension.

A probe that cannot run is a critical finding. Exit code 1 when any finding
is critical, 0 otherwise, 2 for bad input (bad flag, missing --files-root,
unreachable database).

With --record-checksums the SHA-256 of every attachment without a checksum
is computed and stored first (the only change this command makes to the
database), then the report runs.

Examples:
   ip2adb resilience
   ip2adb resilience --format json --export resilience.json
   ip2adb --db postgres://ip2a@db/ip2a resilience --files-root /srv/ip2a --backup-dir /srv/backups
   ip2adb resilience --record-checksums --files-root /srv/ip2a
   ip2adb resilience --verify-bytes 20GiB --verify-time 10m --workers 4
   ip2adb resilience --disk-warn 70 --disk-critical 85 --orphan-threshold 0 --slow-query 2s
   ip2adb resilience --backup-warn-age 26h --backup-critical-age 72h --db-disk /var/lib/postgresql
   ip2adb resilience --create-extension --amcheck-bytes 50GiB --amcheck-time 30m
   ip2adb resilience --idle-in-transaction 1m --long-query 30s --exact-bloat`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "export", Usage: "also write the report to `FILE` (JSON with --format json or a .json name, else text)"},
			&cli.BoolFlag{Name: "record-checksums", Usage: "first compute and store the checksums of attachments that have none"},
		}, resilienceFlags()...),
		Action: a.resilienceAction,
	}
}

// maxWorkers bounds --workers: each worker holds a buffer and a file
// descriptor, and hashing is bound by the disk long before this.
const maxWorkers = 256

// resilienceFlags are the thresholds and budgets of the resilience probes,
// shared by the resilience and serve commands. Their defaults are the
// library's (resilience.Options.WithDefaults).
func resilienceFlags() []cli.Flag {
	def := resilience.Options{}.WithDefaults()
	return []cli.Flag{
		&cli.StringFlag{Name: "verify-bytes", Value: sizeText(def.VerifyBytes), Usage: "checksum budget per run, a `SIZE` such as 500MB or 20GiB"},
		&cli.DurationFlag{Name: "verify-time", Value: def.VerifyTime, Usage: "checksum time budget per run (`DURATION`)"},
		&cli.IntFlag{Name: "workers", DefaultText: "number of CPUs", Usage: "`N` files hashed at once"},
		&cli.StringFlag{Name: "uploads-dir", Value: def.UploadsDir, Usage: "attachment store `DIR` under --files-root that is sized and searched for orphans"},
		&cli.Float64Flag{Name: "disk-warn", Value: def.DiskWarnPercent, Usage: "warn above this disk use (`PERCENT`)"},
		&cli.Float64Flag{Name: "disk-critical", Value: def.DiskCriticalPercent, Usage: "critical above this disk use (`PERCENT`)"},
		&cli.IntFlag{Name: "orphan-threshold", Value: def.OrphanThreshold, Usage: "report orphaned files when more than `N`"},
		&cli.Int64Flag{Name: "growth-info-rows", Value: def.GrowthInfoRows, Usage: "report the row count when the core tables hold more than `N` rows"},
		&cli.Float64Flag{Name: "forecast-warn-days", Value: def.ForecastWarnDays, Usage: "warn when the database's disk is forecast full within `DAYS`"},
		&cli.Float64Flag{Name: "forecast-critical-days", Value: def.ForecastCriticalDays, Usage: "critical when the database's disk is forecast full within `DAYS`"},
		&cli.StringFlag{Name: "db-disk", DefaultText: "the SQLite file's directory; PostgreSQL's data_directory when visible here, else --log-dir", Usage: "a `PATH` on the disk holding the database, for the disk-full forecast"},
		&cli.IntFlag{Name: "stale-days", Value: int(def.StaleAfter / day), Usage: "members not updated for more than `DAYS` are stale"},
		&cli.Int64Flag{Name: "stale-members", Value: def.StaleThreshold, Usage: "report stale members when more than `N`"},
		&cli.IntFlag{Name: "old-employment-years", Value: def.ArchiveYears, Usage: "count employments that ended more than `YEARS` ago"},
		&cli.Int64Flag{Name: "max-employments", Value: def.MaxChildrenPerParent, Usage: "report members with more than `N` employments"},
		&cli.DurationFlag{Name: "slow-query", Value: def.SlowQuery, Usage: "warn about queries slower than `DURATION`"},
		&cli.BoolFlag{Name: "create-extension", Usage: "install amcheck (and pgstattuple with --exact-bloat) when available but not installed — the only write to the watched database besides --record-checksums"},
		&cli.BoolFlag{Name: "no-create-extension", Usage: "accepted for compatibility; extensions are only installed with --create-extension"},
		&cli.StringFlag{Name: "amcheck-bytes", Value: sizeText(def.AmcheckBytes), Usage: "amcheck budget per run in relation bytes, a `SIZE`"},
		&cli.DurationFlag{Name: "amcheck-time", Value: def.AmcheckTime, Usage: "amcheck time budget per run (`DURATION`)"},
		&cli.Float64Flag{Name: "freeze-age-warn-factor", Value: def.FreezeAgeWarnFactor, Usage: "warn when a database's freeze age exceeds autovacuum_freeze_max_age times `F`"},
		&cli.Int64Flag{Name: "wraparound-critical-age", Value: def.WraparoundCriticalAge, Usage: "critical when a database's freeze age exceeds `N` transactions"},
		&cli.Float64Flag{Name: "dead-tuple-ratio", Value: def.DeadTupleRatio, Usage: "warn when dead tuples exceed this `SHARE` of a table's tuples"},
		&cli.Int64Flag{Name: "dead-tuple-floor", Value: def.DeadTupleFloor, Usage: "the dead-tuple warning needs at least `N` dead tuples"},
		&cli.DurationFlag{Name: "idle-in-transaction", Value: def.IdleInTransaction, Usage: "warn about sessions idle in a transaction longer than `DURATION`"},
		&cli.DurationFlag{Name: "long-transaction", Value: def.LongTransaction, Usage: "warn about transactions open longer than `DURATION`"},
		&cli.DurationFlag{Name: "long-query", Value: def.LongQuery, Usage: "warn about statements running longer than `DURATION`"},
		&cli.DurationFlag{Name: "lock-wait", Value: def.LockWait, Usage: "warn about lock waits longer than `DURATION`"},
		&cli.Float64Flag{Name: "connections-warn", Value: def.ConnectionsWarnPercent, Usage: "warn above this use of max_connections (`PERCENT`)"},
		&cli.Float64Flag{Name: "connections-critical", Value: def.ConnectionsCriticalPercent, Usage: "critical above this use of max_connections (`PERCENT`)"},
		&cli.StringFlag{Name: "slot-critical-bytes", Value: sizeText(def.SlotCriticalBytes), Usage: "critical when an inactive replication slot holds more WAL than `SIZE`"},
		&cli.Float64Flag{Name: "wal-warn-factor", Value: def.WALWarnFactor, Usage: "warn when the WAL directory exceeds max_wal_size times `F`"},
		&cli.Float64Flag{Name: "bloat-ratio", Value: def.BloatRatio, Usage: "warn when a table or index is more than `R` times the size its rows need"},
		&cli.StringFlag{Name: "bloat-min-bytes", Value: sizeText(def.BloatMinBytes), Usage: "the bloat warning needs at least `SIZE` wasted"},
		&cli.BoolFlag{Name: "exact-bloat", Usage: "measure bloat with pgstattuple (reads every table and index in full)"},
		&cli.Float64Flag{Name: "cache-hit-ratio", Value: def.CacheHitRatio, Usage: "report a buffer cache hit ratio below `SHARE`"},
		&cli.Float64Flag{Name: "slow-query-share", Value: def.SlowQueryShare, Usage: "warn about a statement using more than this `SHARE` of all statement time"},
		&cli.Float64Flag{Name: "stale-ratio", Value: def.StaleRatio, Usage: "report stale members when at least this `SHARE` of the members is stale (and at least --stale-ratio-floor)"},
		&cli.Int64Flag{Name: "stale-ratio-floor", Value: def.StaleRatioFloor, Usage: "the stale ratio applies from `N` stale members"},
		&cli.Float64Flag{Name: "backup-min-db-ratio", Value: def.BackupMinDatabaseRatio, Usage: "warn when the newest dump is smaller than this `SHARE` of the size of the database's tables"},
		&cli.Float64Flag{Name: "backup-min-previous-ratio", Value: def.BackupMinPreviousRatio, Usage: "warn when the newest dump is smaller than this `SHARE` of the previous one"},
		&cli.DurationFlag{Name: "backup-warn-age", Value: def.BackupWarnAge, Usage: "warn when the newest backup is older than `DURATION`"},
		&cli.DurationFlag{Name: "backup-critical-age", Value: def.BackupCriticalAge, Usage: "critical when the newest backup is older than `DURATION`"},
		&cli.DurationFlag{Name: "probe-timeout", DefaultText: "no limit", Usage: "give up on a probe after `DURATION` (it then counts as failed)"},
	}
}

// resilienceOptions turns the flags into probe options.
func resilienceOptions(c *cli.Context) (resilience.Options, error) {
	vb, err := humanize.ParseBytes(c.String("verify-bytes"))
	if err != nil || vb == 0 || vb > 1<<62 {
		return resilience.Options{}, usagef("--verify-bytes %q: want a size such as 500MB or 20GiB", c.String("verify-bytes"))
	}
	if c.Duration("verify-time") <= 0 {
		return resilience.Options{}, usagef("--verify-time must be positive")
	}
	if c.Duration("probe-timeout") < 0 {
		return resilience.Options{}, usagef("--probe-timeout must not be negative")
	}
	if w := c.Int("workers"); w < 0 || w > maxWorkers {
		return resilience.Options{}, usagef("--workers must be between 0 and %d, not %d", maxWorkers, w)
	}
	if d := c.String("uploads-dir"); !filepath.IsLocal(filepath.FromSlash(d)) {
		return resilience.Options{}, usagef("--uploads-dir %q: want a relative path inside --files-root", d)
	}
	if c.Int("stale-days") <= 0 || c.Int("old-employment-years") <= 0 {
		return resilience.Options{}, usagef("--stale-days and --old-employment-years must be positive")
	}
	if c.Duration("slow-query") <= 0 || c.Duration("backup-warn-age") <= 0 || c.Duration("backup-critical-age") <= 0 {
		return resilience.Options{}, usagef("--slow-query, --backup-warn-age and --backup-critical-age must be positive")
	}
	for _, f := range []string{"disk-warn", "disk-critical"} {
		// Written so that NaN fails too (every comparison with NaN is false).
		if v := c.Float64(f); !(v > 0 && v <= 100) {
			return resilience.Options{}, usagef("--%s must be a percentage in (0, 100], not %g", f, v)
		}
	}
	for _, f := range []string{"forecast-warn-days", "forecast-critical-days"} {
		if v := c.Float64(f); !(v > 0 && v <= maxDays) {
			return resilience.Options{}, usagef("--%s must be in (0, %d], not %g", f, maxDays, v)
		}
	}
	orphans := c.Int("orphan-threshold")
	if orphans < 0 {
		return resilience.Options{}, usagef("--orphan-threshold must be 0 or more")
	}
	if orphans == 0 {
		orphans = resilience.AnyOrphans // "more than 0"
	}
	opt := resilience.Options{
		VerifyBytes: int64(vb), VerifyTime: c.Duration("verify-time"), Workers: c.Int("workers"),
		UploadsDir:      c.String("uploads-dir"),
		DiskWarnPercent: c.Float64("disk-warn"), DiskCriticalPercent: c.Float64("disk-critical"),
		GrowthInfoRows:   c.Int64("growth-info-rows"),
		ForecastWarnDays: c.Float64("forecast-warn-days"), ForecastCriticalDays: c.Float64("forecast-critical-days"),
		DatabaseDisk:   c.String("db-disk"),
		StaleAfter:     time.Duration(c.Int("stale-days")) * day,
		StaleThreshold: c.Int64("stale-members"), ArchiveYears: c.Int("old-employment-years"),
		MaxChildrenPerParent: c.Int64("max-employments"),
		SlowQuery:            c.Duration("slow-query"),
		BackupWarnAge:        c.Duration("backup-warn-age"), BackupCriticalAge: c.Duration("backup-critical-age"),
	}
	opt.OrphanThreshold = orphans
	opt.CreateExtension = c.Bool("create-extension")
	depth, err := depthOptions(c)
	if err != nil {
		return opt, err
	}
	opt.Depth = depth
	opt = ip2a.ResilienceOptions(opt)
	if err := opt.Validate(); err != nil {
		return opt, err
	}
	return opt, nil
}

// resilienceEnv is what the probes of a resilience run inspect: db, the
// file store under --files-root, --backup-dir and the history under
// --log-dir, with the app's clock and logger; progress (may be nil) hears
// about the long file work.
func (a *app) resilienceEnv(g Globals, db *sqlx.DB, progress func(string, int64, int64)) resilience.Env {
	env := resilience.Env{
		DB: db, FilesRoot: g.FilesRoot, BackupDir: g.BackupDir, LogDir: g.LogDir,
		Now: a.env.Now, Log: a.logger(g), Progress: progress,
	}
	if a.files != nil { // opened by openFiles; otherwise each run opens FilesRoot
		env.Files = a.files
	}
	return env
}

// runResilience is one resilience report: the standard probes with opt,
// each bounded by probeTimeout (none when zero). The resilience command
// and serve's scheduled reports both run it. The error is ctx's when the
// run was cancelled (the report is then incomplete).
func runResilience(ctx context.Context, env resilience.Env, opt resilience.Options, probeTimeout time.Duration) (resilience.Report, error) {
	probes, err := resilience.Probes(opt)
	if err != nil {
		return resilience.Report{}, err
	}
	rep := resilience.Run(ctx, env, probes, resilience.RunOptions{ProbeTimeout: probeTimeout})
	return rep, ctx.Err()
}

func (a *app) resilienceAction(c *cli.Context) error {
	g, err := a.globals(c)
	if err != nil {
		return err
	}
	opt, err := resilienceOptions(c)
	if err != nil {
		return err
	}
	if _, err := a.openFiles(c.Context, g); err != nil {
		return err
	}
	if f := c.String("export"); f != "" {
		if err := requireDir("export", filepath.Dir(f)); err != nil {
			return usagef("--export %s: directory %s does not exist", f, filepath.Dir(f))
		}
	}
	a.header(c, g)
	open := a.openReadOnly
	if c.Bool("record-checksums") { // the one change resilience makes
		open = func(ctx context.Context, g Globals) (*sqlx.DB, error) { return a.open(ctx, g, false) }
	}
	db, err := open(c.Context, g)
	if err != nil {
		return err
	}
	defer db.Close()
	bar := a.newProgress()
	bar.unit = "files"
	env := a.resilienceEnv(g, db, bar.Update)
	doc := resilience.Document{}
	if c.Bool("record-checksums") {
		rec, err := resilience.RecordChecksums(c.Context, env, resilience.RecordOptions{Workers: opt.Workers, Attachments: opt.Attachments})
		bar.Finish()
		if err != nil {
			return fmt.Errorf("record checksums: %w", err)
		}
		doc.RecordedChecksums = &rec
		if !g.JSON() {
			fmt.Fprintf(a.env.Stderr, "recorded %d checksums (%s hashed); %d files missing, %d unreadable, %d skipped (URLs, empty paths or outside the files root)\n",
				rec.Recorded, humanize.IBytes(uint64(rec.Bytes)), rec.Missing, rec.Unreadable, rec.Skipped)
		}
	}
	start := a.env.Now()
	doc.Report, err = runResilience(c.Context, env, opt, c.Duration("probe-timeout"))
	bar.Finish()
	if badInput(err) {
		return err
	}
	a.recordResilience(g, "cli", doc.Report, a.env.Now().Sub(start), err)
	if err != nil {
		return err
	}
	if err := resilience.Export(a.env.Stdout, g.Format, doc); err != nil {
		return err
	}
	if err := exportFile(c.String("export"), g, func(w io.Writer, f ip2adb.Format) error {
		return resilience.Export(w, f, doc)
	}); err != nil {
		return err
	}
	if doc.Report.HasCritical() {
		return exitCode(ExitCritical)
	}
	return nil
}

// day is the unit of the --stale-days flag.
const day = 24 * time.Hour

// sizeText writes a size in bytes as the size flags take it: "2GiB",
// "64MiB", or in plain bytes when it is no whole number of either.
func sizeText(n int64) string {
	switch {
	case n > 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n > 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	}
	return strconv.FormatInt(n, 10)
}

// depthOptions reads the thresholds of the in-depth probes. Zero would mean
// "the library's default" there, so the command refuses it as it refuses
// negative values.
func depthOptions(c *cli.Context) (resilience.Depth, error) {
	size := func(name string) (int64, error) {
		v, err := humanize.ParseBytes(c.String(name))
		if err != nil || v == 0 || v > 1<<62 {
			return 0, usagef("--%s %q: want a size such as 500MB or 20GiB", name, c.String(name))
		}
		return int64(v), nil
	}
	var d resilience.Depth
	var err error
	if d.AmcheckBytes, err = size("amcheck-bytes"); err != nil {
		return d, err
	}
	if d.SlotCriticalBytes, err = size("slot-critical-bytes"); err != nil {
		return d, err
	}
	if d.BloatMinBytes, err = size("bloat-min-bytes"); err != nil {
		return d, err
	}
	for _, n := range []string{"amcheck-time", "idle-in-transaction", "long-transaction", "long-query", "lock-wait"} {
		if c.Duration(n) <= 0 {
			return d, usagef("--%s must be positive", n)
		}
	}
	for _, n := range []string{"dead-tuple-ratio", "cache-hit-ratio", "slow-query-share", "stale-ratio", "backup-min-db-ratio", "backup-min-previous-ratio"} {
		if v := c.Float64(n); v <= 0 || v > 1 {
			return d, usagef("--%s %v: want a share above 0 and at most 1", n, v)
		}
	}
	for _, n := range []string{"freeze-age-warn-factor", "wal-warn-factor", "connections-warn", "connections-critical"} {
		if c.Float64(n) <= 0 {
			return d, usagef("--%s must be positive", n)
		}
	}
	if c.Float64("bloat-ratio") < 1 {
		return d, usagef("--bloat-ratio must be at least 1")
	}
	for _, n := range []string{"wraparound-critical-age", "dead-tuple-floor", "stale-ratio-floor"} {
		if c.Int64(n) <= 0 {
			return d, usagef("--%s must be positive", n)
		}
	}
	d.AmcheckTime = c.Duration("amcheck-time")
	d.FreezeAgeWarnFactor = c.Float64("freeze-age-warn-factor")
	d.WraparoundCriticalAge = c.Int64("wraparound-critical-age")
	d.DeadTupleRatio, d.DeadTupleFloor = c.Float64("dead-tuple-ratio"), c.Int64("dead-tuple-floor")
	d.IdleInTransaction, d.LongTransaction = c.Duration("idle-in-transaction"), c.Duration("long-transaction")
	d.LongQuery, d.LockWait = c.Duration("long-query"), c.Duration("lock-wait")
	d.ConnectionsWarnPercent, d.ConnectionsCriticalPercent = c.Float64("connections-warn"), c.Float64("connections-critical")
	d.WALWarnFactor = c.Float64("wal-warn-factor")
	d.BloatRatio, d.ExactBloat = c.Float64("bloat-ratio"), c.Bool("exact-bloat")
	d.CacheHitRatio = c.Float64("cache-hit-ratio")
	d.SlowQueryShare = c.Float64("slow-query-share")
	d.StaleRatio, d.StaleRatioFloor = c.Float64("stale-ratio"), c.Int64("stale-ratio-floor")
	d.BackupMinDatabaseRatio, d.BackupMinPreviousRatio = c.Float64("backup-min-db-ratio"), c.Float64("backup-min-previous-ratio")
	return d, nil
}

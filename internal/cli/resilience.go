package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/ip2adb/ip2adb/resilience"
	"github.com/urfave/cli/v2"
)

func (a *app) resilienceCommand() *cli.Command {
	return &cli.Command{
		Name:  "resilience",
		Usage: "report the long-term health of the database, its file store and its backups",
		UsageText: `ip2adb resilience [--export FILE] [--record-checksums] [thresholds]

Runs nine probes and prints what they found, grouped by category with a
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
   index_health       unused, invalid and duplicate indexes, amcheck
                      (PostgreSQL); PRAGMA integrity_check (SQLite)
   backup_status      newest *.sql / *.dump / *.backup in --backup-dir: age
                      and whether it can be read to its end

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
   ip2adb resilience --backup-warn-age 26h --backup-critical-age 72h --db-disk /var/lib/postgresql`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "export", Usage: "also write the report to `FILE` (JSON with --format json or a .json name, else text)"},
			&cli.BoolFlag{Name: "record-checksums", Usage: "first compute and store the checksums of attachments that have none"},
			&cli.StringFlag{Name: "verify-bytes", Value: "2GiB", Usage: "checksum budget per run, a `SIZE` such as 500MB or 20GiB"},
			&cli.DurationFlag{Name: "verify-time", Value: time.Minute, Usage: "checksum time budget per run (`DURATION`)"},
			&cli.IntFlag{Name: "workers", DefaultText: "number of CPUs", Usage: "`N` files hashed at once"},
			&cli.StringFlag{Name: "uploads-dir", Value: "uploads", Usage: "attachment store `DIR` under --files-root that is sized and searched for orphans"},
			&cli.Float64Flag{Name: "disk-warn", Value: 80, Usage: "warn above this disk use (`PERCENT`)"},
			&cli.Float64Flag{Name: "disk-critical", Value: 90, Usage: "critical above this disk use (`PERCENT`)"},
			&cli.IntFlag{Name: "orphan-threshold", Value: 100, Usage: "report orphaned files when more than `N`"},
			&cli.Int64Flag{Name: "growth-info-rows", Value: 1_000_000, Usage: "report the row count when the core tables hold more than `N` rows"},
			&cli.Float64Flag{Name: "forecast-warn-days", Value: 90, Usage: "warn when the database's disk is forecast full within `DAYS`"},
			&cli.Float64Flag{Name: "forecast-critical-days", Value: 30, Usage: "critical when the database's disk is forecast full within `DAYS`"},
			&cli.StringFlag{Name: "db-disk", DefaultText: "the SQLite file's directory; PostgreSQL's data_directory when visible here, else --log-dir", Usage: "a `PATH` on the disk holding the database, for the disk-full forecast"},
			&cli.IntFlag{Name: "stale-days", Value: 365, Usage: "members not updated for more than `DAYS` are stale"},
			&cli.Int64Flag{Name: "stale-members", Value: 1000, Usage: "report stale members when more than `N`"},
			&cli.IntFlag{Name: "old-employment-years", Value: 10, Usage: "count employments that ended more than `YEARS` ago"},
			&cli.Int64Flag{Name: "max-employments", Value: 200, Usage: "report members with more than `N` employments"},
			&cli.DurationFlag{Name: "slow-query", Value: 5 * time.Second, Usage: "warn about queries slower than `DURATION`"},
			&cli.BoolFlag{Name: "no-create-extension", Usage: "do not run CREATE EXTENSION amcheck (PostgreSQL) when it is not installed"},
			&cli.DurationFlag{Name: "backup-warn-age", Value: 48 * time.Hour, Usage: "warn when the newest backup is older than `DURATION`"},
			&cli.DurationFlag{Name: "backup-critical-age", Value: 168 * time.Hour, Usage: "critical when the newest backup is older than `DURATION`"},
			&cli.DurationFlag{Name: "probe-timeout", DefaultText: "no limit", Usage: "give up on a probe after `DURATION` (it then counts as failed)"},
		},
		Action: a.resilienceAction,
	}
}

// maxWorkers bounds --workers: each worker holds a buffer and a file
// descriptor, and hashing is bound by the disk long before this.
const maxWorkers = 256

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
		orphans = -1 // "more than 0": the library reads 0 as its default of 100
	}
	opt := resilience.Options{
		VerifyBytes: int64(vb), VerifyTime: c.Duration("verify-time"), Workers: c.Int("workers"),
		UploadsDir:      c.String("uploads-dir"),
		DiskWarnPercent: c.Float64("disk-warn"), DiskCriticalPercent: c.Float64("disk-critical"),
		GrowthInfoRows:   c.Int64("growth-info-rows"),
		ForecastWarnDays: c.Float64("forecast-warn-days"), ForecastCriticalDays: c.Float64("forecast-critical-days"),
		DatabaseDisk:          c.String("db-disk"),
		StaleAfter:            time.Duration(c.Int("stale-days")) * 24 * time.Hour,
		StaleMembersThreshold: c.Int64("stale-members"), OldEmploymentYears: c.Int("old-employment-years"),
		MaxEmploymentsPerMember: c.Int64("max-employments"),
		SlowQuery:               c.Duration("slow-query"),
		NoCreateExtension:       c.Bool("no-create-extension"),
		BackupWarnAge:           c.Duration("backup-warn-age"), BackupCriticalAge: c.Duration("backup-critical-age"),
	}
	opt.OrphanThreshold = orphans
	if err := opt.Validate(); err != nil {
		return opt, usagef("%v", err)
	}
	return opt, nil
}

// resilienceDocument is the JSON report: DESIGN.md's findings and summary,
// plus how each probe went and, with --record-checksums, what was recorded.
type resilienceDocument struct {
	resilience.Report
	RecordedChecksums *resilience.RecordResult `json:"recorded_checksums,omitempty"`
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
	if err := requireDir("files-root", g.FilesRoot); err != nil {
		return err
	}
	if f := c.String("export"); f != "" {
		if err := requireDir("export", filepath.Dir(f)); err != nil {
			return usagef("--export %s: directory %s does not exist", f, filepath.Dir(f))
		}
	}
	a.header(c, g)
	db, err := a.open(c.Context, g, false)
	if err != nil {
		return err
	}
	defer db.Close()
	log := a.logger(g)
	bar := a.newProgress()
	bar.unit = "files"
	env := resilience.Env{
		DB: db, FilesRoot: g.FilesRoot, BackupDir: g.BackupDir, LogDir: g.LogDir,
		Now: a.env.Now, Log: log, Progress: bar.Update,
	}
	doc := resilienceDocument{}
	if c.Bool("record-checksums") {
		rec, err := resilience.RecordChecksums(c.Context, env, resilience.RecordOptions{Workers: opt.Workers})
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
	probes, err := resilience.Probes(opt)
	if err != nil {
		return usagef("%v", err)
	}
	doc.Report = resilience.Run(c.Context, env, probes, resilience.RunOptions{ProbeTimeout: c.Duration("probe-timeout")})
	bar.Finish()
	if err := c.Context.Err(); err != nil {
		return err
	}
	if g.JSON() {
		if err := a.writeJSON(doc); err != nil {
			return err
		}
	} else if err := doc.Report.WriteText(a.env.Stdout); err != nil {
		return err
	}
	if file := c.String("export"); file != "" {
		var buf bytes.Buffer
		if g.JSON() || strings.HasSuffix(strings.ToLower(file), ".json") {
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			if err := enc.Encode(doc); err != nil {
				return err
			}
		} else if err := doc.Report.WriteText(&buf); err != nil {
			return err
		}
		if err := writePrivateFile(file, buf.Bytes()); err != nil {
			return fmt.Errorf("export report: %w", err)
		}
	}
	if doc.Report.HasCritical() {
		return exitCode(ExitCritical)
	}
	return nil
}

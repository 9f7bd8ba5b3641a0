package resilience

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// Options configure the standard probes. Every zero field takes the default
// written on it; negative values are refused by [Options.Validate].
type Options struct {
	// VerifyBytes is the checksum budget per run in bytes; 2 GiB when zero.
	// The first file of a run is always verified, whatever its size.
	VerifyBytes int64
	// VerifyTime is the checksum time budget per run; 60 s when zero. Files
	// started before it runs out are finished.
	VerifyTime time.Duration
	// Workers is the number of files hashed at once; GOMAXPROCS when zero
	// ([S3Workers] for an S3 store).
	Workers int
	// MaxFindings caps the per-attachment findings (checksum mismatches,
	// unreadable files) of one run; 100 when zero. Counts stay exact.
	MaxFindings int

	// UploadsDir is the attachment store under the files root that
	// storage_capacity sizes and orphaned_files walks; "uploads" when empty.
	UploadsDir string
	// DiskWarnPercent and DiskCriticalPercent are the disk-use thresholds of
	// storage_capacity: above them a warning or critical; 80 and 90 when zero.
	DiskWarnPercent, DiskCriticalPercent float64
	// OrphanThreshold: more orphaned files than this is an info finding;
	// 100 when zero; negative means any orphaned file is reported.
	OrphanThreshold int

	// GrowthTables are the tables database_growth counts and sizes; every
	// table of the database (ip2adb's own aside) when empty.
	GrowthTables []string
	// GrowthInfoRows: more rows than this in GrowthTables together is an
	// info finding; 1,000,000 when zero.
	GrowthInfoRows int64
	// ForecastWarnDays and ForecastCriticalDays: a disk-full forecast within
	// that many days is a warning or critical; 90 and 30 when zero.
	ForecastWarnDays, ForecastCriticalDays float64
	// GrowthWindow is how much saved history the growth rate is computed
	// over; 90 days when zero.
	GrowthWindow time.Duration
	// DatabaseDisk is a path on the disk that holds the database, for the
	// disk-full forecast. Empty: the SQLite file's directory; on PostgreSQL
	// the server's data_directory when it is visible on this machine, else
	// the log dir (stated in the forecast's details).
	DatabaseDisk string

	// Attachments names the table of file records file_corruption and
	// orphaned_files compare with the file store; neither measures anything
	// without it.
	Attachments Attachments

	// Staleness names what data_staleness counts; nothing without it.
	Staleness Staleness
	// StaleAfter: rows of Staleness.Table not updated for longer are
	// stale; one year (365 days) when zero.
	StaleAfter time.Duration
	// StaleThreshold: more stale rows than this is an info finding;
	// 1,000 when zero.
	StaleThreshold int64
	// ArchiveYears: rows of Staleness.Ended that ended longer ago are
	// counted as archive candidates; 10 when zero.
	ArchiveYears int
	// Distribution names what data_distribution counts; nothing without
	// it.
	Distribution Distribution
	// MaxChildrenPerParent: a parent row with more child rows (see
	// Distribution) is an info finding; 200 when zero.
	MaxChildrenPerParent int64

	// TimedQueries are the queries query_performance times; none when
	// empty.
	TimedQueries []TimedQuery
	// SlowQuery: a timed query (or a pg_stat_statements mean) slower than
	// this is a warning; 5 s when zero.
	SlowQuery time.Duration

	// CreateExtension lets index_health run CREATE EXTENSION amcheck (and
	// bloat, with ExactBloat, CREATE EXTENSION pgstattuple) when the
	// extension is available but not installed. Off by default: the report
	// writes nothing to the watched database.
	CreateExtension bool
	// NoCreateExtension is accepted for compatibility and ignored:
	// extensions are only created with CreateExtension.
	NoCreateExtension bool

	Depth

	// BackupWarnAge and BackupCriticalAge: a newest backup older than these
	// is a warning or critical; 48 h and 168 h when zero.
	BackupWarnAge, BackupCriticalAge time.Duration
	// PgRestore is accepted for compatibility and ignored: backups are
	// read in Go, so that no client tools are needed.
	PgRestore string
}

// Validate refuses negative or inconsistent values with an
// *[OptionsError].
func (o Options) Validate() (err error) {
	defer func() {
		if err != nil {
			err = &OptionsError{Err: err}
		}
	}()
	switch {
	case o.VerifyBytes < 0:
		return errors.New("verify bytes must not be negative")
	case o.VerifyTime < 0:
		return errors.New("verify time must not be negative")
	case o.Workers < 0:
		return errors.New("workers must not be negative")
	case o.MaxFindings < 0:
		return errors.New("max findings must not be negative")
	case o.DiskWarnPercent < 0 || o.DiskWarnPercent > 100 || o.DiskCriticalPercent < 0 || o.DiskCriticalPercent > 100:
		return errors.New("disk thresholds must be percentages between 0 and 100")
	case o.GrowthInfoRows < 0 || o.ForecastWarnDays < 0 || o.ForecastCriticalDays < 0 || o.GrowthWindow < 0:
		return errors.New("growth thresholds must not be negative")
	case o.StaleAfter < 0 || o.StaleThreshold < 0 || o.ArchiveYears < 0 || o.MaxChildrenPerParent < 0:
		return errors.New("staleness and distribution thresholds must not be negative")
	case o.SlowQuery < 0:
		return errors.New("slow query threshold must not be negative")
	case o.BackupWarnAge < 0 || o.BackupCriticalAge < 0:
		return errors.New("backup ages must not be negative")
	}
	if err := o.Depth.validate(); err != nil {
		return err
	}
	if err := o.validateTables(); err != nil {
		return err
	}
	d := o.withDefaults()
	if d.DiskWarnPercent > d.DiskCriticalPercent {
		return fmt.Errorf("disk warning threshold %.0f%% is above the critical one %.0f%%", d.DiskWarnPercent, d.DiskCriticalPercent)
	}
	if d.BackupWarnAge > d.BackupCriticalAge {
		return fmt.Errorf("backup warning age %s is above the critical age %s", d.BackupWarnAge, d.BackupCriticalAge)
	}
	return nil
}

func (o Options) withDefaults() Options {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	if o.VerifyBytes == 0 {
		o.VerifyBytes = 2 << 30
	}
	if o.VerifyTime == 0 {
		o.VerifyTime = time.Minute
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxFindings == 0 {
		o.MaxFindings = 100
	}
	if o.UploadsDir == "" {
		o.UploadsDir = "uploads"
	}
	def(&o.DiskWarnPercent, 80)
	def(&o.DiskCriticalPercent, 90)
	if o.OrphanThreshold == 0 {
		o.OrphanThreshold = 100
	}
	if o.GrowthInfoRows == 0 {
		o.GrowthInfoRows = 1_000_000
	}
	def(&o.ForecastWarnDays, 90)
	def(&o.ForecastCriticalDays, 30)
	if o.GrowthWindow == 0 {
		o.GrowthWindow = 90 * 24 * time.Hour
	}
	if o.StaleAfter == 0 {
		o.StaleAfter = 365 * 24 * time.Hour
	}
	if o.StaleThreshold == 0 {
		o.StaleThreshold = 1000
	}
	if o.ArchiveYears == 0 {
		o.ArchiveYears = 10
	}
	if o.MaxChildrenPerParent == 0 {
		o.MaxChildrenPerParent = 200
	}
	if o.SlowQuery == 0 {
		o.SlowQuery = 5 * time.Second
	}
	if o.BackupWarnAge == 0 {
		o.BackupWarnAge = 48 * time.Hour
	}
	if o.BackupCriticalAge == 0 {
		o.BackupCriticalAge = 168 * time.Hour
	}
	o.Depth = o.Depth.withDefaults()
	o.Attachments = o.Attachments.withDefaults()
	o.Staleness = o.Staleness.withDefaults()
	o.Distribution = o.Distribution.withDefaults()
	return o
}

// Probes returns the fourteen standard probes configured by opt, in report
// order: file_corruption, storage_capacity, orphaned_files,
// database_growth, data_staleness, data_distribution, query_performance,
// index_health, backup_status (the nine of the original), then
// transaction_wraparound, vacuum_health, sessions, replication and bloat.
func Probes(opt Options) ([]Probe, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	return []Probe{
		FileCorruption(opt), StorageCapacity(opt), OrphanedFiles(opt),
		DatabaseGrowth(opt), DataStaleness(opt), DataDistribution(opt),
		QueryPerformance(opt), IndexHealth(opt), BackupStatus(opt),
		TransactionWraparound(opt), VacuumHealth(opt), Sessions(opt), Replication(opt), Bloat(opt),
	}, nil
}

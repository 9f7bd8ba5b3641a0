package resilience

import (
	"errors"
	"fmt"
	"time"
)

// Depth holds the thresholds of the in-depth probes (transaction
// wraparound, vacuum health, sessions, replication, bloat, heap
// verification, cache hits, dump contents, relative staleness). It is
// embedded in [Options]. Every zero field takes the default written on it;
// [Options.Validate] refuses negative values, ratios outside 0..1 and a
// warning level above its critical level.
type Depth struct {
	// AmcheckBytes is the amcheck budget per run (verify_heapam on each
	// table, bt_index_check with heapallindexed on each B-tree index), in
	// relation bytes; 1 GiB when zero. The first relation of a run is
	// always verified, whatever its size.
	AmcheckBytes int64
	// AmcheckTime is the amcheck time budget per run; 60 s when zero.
	// Relations not reached are verified first by the next run: the resume
	// position is kept under the log dir.
	AmcheckTime time.Duration

	// FreezeAgeWarnFactor: a database whose age(datfrozenxid) exceeds
	// autovacuum_freeze_max_age times this is a warning (autovacuum is not
	// keeping up); 1.5 when zero.
	FreezeAgeWarnFactor float64
	// WraparoundCriticalAge: an age(datfrozenxid) above this many
	// transactions is critical, whatever the settings; 1.4 billion when
	// zero (about 65 % of the 2^31 limit, check_postgres's critical level).
	WraparoundCriticalAge int64

	// DeadTupleRatio: a table whose dead tuples make up more than this share
	// of its tuples is a warning; 0.2 when zero.
	DeadTupleRatio float64
	// DeadTupleFloor: the dead-tuple warning needs at least this many dead
	// tuples; 1,000 when zero.
	DeadTupleFloor int64

	// IdleInTransaction: a session of this database idle in a transaction
	// for longer is a warning; 5 min when zero.
	IdleInTransaction time.Duration
	// LongTransaction: a transaction of this database open for longer is a
	// warning; 1 h when zero.
	LongTransaction time.Duration
	// LongQuery: a statement of this database running for longer is a
	// warning; 5 min when zero.
	LongQuery time.Duration
	// LockWait: a session of this database waiting for a lock for longer is
	// a warning; 1 min when zero.
	LockWait time.Duration
	// ConnectionsWarnPercent and ConnectionsCriticalPercent: connections in
	// use against max_connections (less the superuser reserve) above these
	// are a warning or critical; 80 and 95 when zero.
	ConnectionsWarnPercent, ConnectionsCriticalPercent float64

	// SlotCriticalBytes: an inactive replication slot holding back more
	// WAL than this is critical (it is a warning from the first byte);
	// 10 GiB when zero.
	SlotCriticalBytes int64
	// WALWarnFactor: a WAL directory larger than max_wal_size times this is
	// a warning (WAL is not being recycled); 2 when zero.
	WALWarnFactor float64

	// BloatRatio: a table or index whose size is more than this many times
	// its size estimated from statistics is a warning; 3 when zero.
	BloatRatio float64
	// BloatMinBytes: the bloat warning needs at least this many wasted
	// bytes; 64 MiB when zero.
	BloatMinBytes int64
	// ExactBloat measures the flagged relations with pgstattuple (a full
	// read of each) instead of trusting the estimate.
	ExactBloat bool

	// CacheHitRatio: a buffer cache hit ratio of this database below this
	// is an info finding; 0.9 when zero.
	CacheHitRatio float64
	// CacheMinReads: the cache finding needs at least this many block
	// accesses (hits + reads); 10,000 when zero.
	CacheMinReads int64

	// SlowQueryShare: a statement using more than this share of all
	// statement time of the database (and more than SlowQuery in all) is a
	// warning; 0.5 when zero.
	SlowQueryShare float64

	// StaleRatio: when at least this share of the rows of
	// Options.Staleness is stale (and at least StaleRatioFloor rows),
	// data_staleness reports it even below StaleThreshold; 0.5 when zero.
	StaleRatio float64
	// StaleRatioFloor is the smallest stale count the ratio applies to;
	// 10 when zero.
	StaleRatioFloor int64

	// BackupMinDatabaseRatio: a newest dump smaller than this share of the
	// size of the tables of the current schema (heap and TOAST, without
	// indexes) is implausibly small (a warning); 0.01 when zero.
	BackupMinDatabaseRatio float64
	// BackupMinPreviousRatio: a newest dump smaller than this share of the
	// previous dump is a warning; 0.5 when zero.
	BackupMinPreviousRatio float64
}

func (d Depth) validate() error {
	ratio := func(v float64) bool { return v < 0 || v > 1 }
	switch {
	case d.AmcheckBytes < 0 || d.AmcheckTime < 0:
		return errors.New("amcheck budgets must not be negative")
	case d.FreezeAgeWarnFactor < 0 || d.WraparoundCriticalAge < 0 || d.WraparoundCriticalAge > 1<<31:
		return errors.New("wraparound thresholds must be positive (critical age at most 2^31)")
	case ratio(d.DeadTupleRatio) || d.DeadTupleFloor < 0:
		return errors.New("dead tuple ratio must be between 0 and 1 and its floor not negative")
	case d.IdleInTransaction < 0 || d.LongTransaction < 0 || d.LongQuery < 0 || d.LockWait < 0:
		return errors.New("session durations must not be negative")
	case d.ConnectionsWarnPercent < 0 || d.ConnectionsWarnPercent > 100 || d.ConnectionsCriticalPercent < 0 || d.ConnectionsCriticalPercent > 100:
		return errors.New("connection thresholds must be percentages between 0 and 100")
	case d.SlotCriticalBytes < 0 || d.WALWarnFactor < 0:
		return errors.New("replication thresholds must not be negative")
	case d.BloatRatio < 0 || (d.BloatRatio > 0 && d.BloatRatio < 1) || d.BloatMinBytes < 0:
		return errors.New("bloat ratio must be at least 1 and the bloat floor not negative")
	case ratio(d.CacheHitRatio) || d.CacheMinReads < 0:
		return errors.New("cache hit ratio must be between 0 and 1 and its floor not negative")
	case ratio(d.SlowQueryShare):
		return errors.New("slow query share must be between 0 and 1")
	case ratio(d.StaleRatio) || d.StaleRatioFloor < 0:
		return errors.New("stale ratio must be between 0 and 1 and its floor not negative")
	case ratio(d.BackupMinDatabaseRatio) || ratio(d.BackupMinPreviousRatio):
		return errors.New("backup size ratios must be between 0 and 1")
	}
	w := d.withDefaults()
	if w.ConnectionsWarnPercent > w.ConnectionsCriticalPercent {
		return fmt.Errorf("connection warning threshold %.0f%% is above the critical one %.0f%%", w.ConnectionsWarnPercent, w.ConnectionsCriticalPercent)
	}
	return nil
}

func (d Depth) withDefaults() Depth {
	f := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	i := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	t := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	i(&d.AmcheckBytes, 1<<30)
	t(&d.AmcheckTime, time.Minute)
	f(&d.FreezeAgeWarnFactor, 1.5)
	i(&d.WraparoundCriticalAge, 1_400_000_000)
	f(&d.DeadTupleRatio, 0.2)
	i(&d.DeadTupleFloor, 1000)
	t(&d.IdleInTransaction, 5*time.Minute)
	t(&d.LongTransaction, time.Hour)
	t(&d.LongQuery, 5*time.Minute)
	t(&d.LockWait, time.Minute)
	f(&d.ConnectionsWarnPercent, 80)
	f(&d.ConnectionsCriticalPercent, 95)
	i(&d.SlotCriticalBytes, 10<<30)
	f(&d.WALWarnFactor, 2)
	f(&d.BloatRatio, 3)
	i(&d.BloatMinBytes, 64<<20)
	f(&d.CacheHitRatio, 0.9)
	i(&d.CacheMinReads, 10_000)
	f(&d.SlowQueryShare, 0.5)
	f(&d.StaleRatio, 0.5)
	i(&d.StaleRatioFloor, 10)
	f(&d.BackupMinDatabaseRatio, 0.01)
	f(&d.BackupMinPreviousRatio, 0.5)
	return d
}

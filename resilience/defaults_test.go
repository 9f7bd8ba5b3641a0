package resilience_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/resilience"
)

// TestWithDefaults pins the defaults the Options and Depth fields document,
// which the command shows as its flags' defaults.
func TestWithDefaults(t *testing.T) {
	want := resilience.Options{
		VerifyBytes: 2 << 30, VerifyTime: time.Minute, Workers: runtime.GOMAXPROCS(0), MaxFindings: 100,
		UploadsDir: "uploads", DiskWarnPercent: 80, DiskCriticalPercent: 90, OrphanThreshold: 100,
		GrowthInfoRows: 1_000_000, ForecastWarnDays: 90, ForecastCriticalDays: 30, GrowthWindow: 90 * 24 * time.Hour,
		StaleAfter: 365 * 24 * time.Hour, StaleThreshold: 1000, ArchiveYears: 10, MaxChildrenPerParent: 200,
		SlowQuery: 5 * time.Second, BackupWarnAge: 48 * time.Hour, BackupCriticalAge: 168 * time.Hour,
		Depth: resilience.Depth{
			AmcheckBytes: 1 << 30, AmcheckTime: time.Minute,
			FreezeAgeWarnFactor: 1.5, WraparoundCriticalAge: 1_400_000_000,
			DeadTupleRatio: 0.2, DeadTupleFloor: 1000,
			IdleInTransaction: 5 * time.Minute, LongTransaction: time.Hour, LongQuery: 5 * time.Minute, LockWait: time.Minute,
			ConnectionsWarnPercent: 80, ConnectionsCriticalPercent: 95,
			SlotCriticalBytes: 10 << 30, WALWarnFactor: 2, BloatRatio: 3, BloatMinBytes: 64 << 20,
			CacheHitRatio: 0.9, CacheMinReads: 10_000, SlowQueryShare: 0.5, StaleRatio: 0.5, StaleRatioFloor: 10,
			BackupMinDatabaseRatio: 0.01, BackupMinPreviousRatio: 0.5,
		},
	}
	if diff := cmp.Diff(want, resilience.Options{}.WithDefaults()); diff != "" {
		t.Errorf("Options{}.WithDefaults() (-want +got):\n%s", diff)
	}
	// Set fields stay; AnyOrphans is no zero, so it stays too.
	set := resilience.Options{DiskWarnPercent: 70, OrphanThreshold: resilience.AnyOrphans, Depth: resilience.Depth{BloatRatio: 5}}.WithDefaults()
	if set.DiskWarnPercent != 70 || set.OrphanThreshold != resilience.AnyOrphans || set.BloatRatio != 5 || set.DiskCriticalPercent != 90 {
		t.Errorf("WithDefaults changed set fields or missed a default: %+v", set)
	}
	if err := set.Validate(); err != nil {
		t.Errorf("Validate of the defaults with AnyOrphans: %v", err)
	}
}

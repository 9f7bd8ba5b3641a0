// Package integrity finds integrity problems in the IP2A member database.
//
// A [Checker] is one kind of problem; most are declarative (foreign key, not
// null, one-of, unique, date order …) and run as a single SQL statement on
// PostgreSQL or SQLite. [Rules] is the IP2A rule set (all 22 checks of the
// original system). [Run] runs checks concurrently, times each one and
// collects failures as results, never skipping a check in silence.
package integrity

import (
	"context"

	"github.com/ip2adb/ip2adb"
	"github.com/jmoiron/sqlx"
)

// Checker finds one kind of problem. Implementations must be safe for
// concurrent use and honour ctx.
type Checker interface {
	// Name is the check's stable name, such as "employment.end_before_start".
	Name() string
	// Check returns the full count of offending rows (or groups) and at most
	// limit sample issues. An error means the check could not run.
	Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error)
}

// Result is what one check found.
type Result struct {
	// Count is the full number of offending rows or groups.
	Count int
	// Issues are at most limit sample issues.
	Issues []ip2adb.Issue
}

// Repairable is a Checker whose offending rows one set-based statement can
// repair. Fix's Where is the check's own predicate, written in SQL that runs
// on PostgreSQL and SQLite alike, with "?" placeholders.
type Repairable interface {
	Checker
	// Fix is the repair over every row the check reports.
	Fix() ip2adb.Fix
}

// Package integrity finds integrity problems in a relational database, by
// rules the caller gives.
//
// A [Checker] is one kind of problem; most are declarative (foreign key, not
// null, one-of, unique, date order …) and run as a single SQL statement on
// PostgreSQL or SQLite. [Run] runs checks concurrently, times each one and
// collects failures as results, never skipping a check in silence. A rule
// set is a list of checks, such as package ip2a's for the IP2A member
// database.
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

// Meta describes a check: its name, how its issues are classified and what
// it reads. Every declarative check embeds it.
type Meta struct {
	// Name is the check's stable name, such as "member.invalid_status".
	Name string
	// Category is one of the ip2adb.Category* constants.
	Category string
	// Severity of every issue the check reports.
	Severity ip2adb.Severity
	// Table is the checked table; issues name it and fixes change it. A
	// check whose Table the live schema lacks is not applicable.
	Table string
	// SoftDelete ignores Table's soft-deleted rows: bound to a schema, by
	// the soft-delete columns the table actually has (none: no filter);
	// unbound, rows with is_deleted = true.
	SoftDelete bool
	// Reads names what the check reads beyond what its own fields name:
	// tables and, per table, their columns, such as
	// {"members": {"email"}}. A custom check lists everything it reads.
	// Where the live schema lacks one of them the check is reported
	// not_applicable instead of failing.
	Reads map[string][]string
	// Description, when set, is the description of every issue; otherwise
	// the check writes one from the offending values.
	Description string
	// Recommendation tells an administrator what to do about an issue.
	Recommendation string
}

// Describe returns m. Declarative checks embed Meta and so implement
// [Describer].
func (m Meta) Describe() Meta { return m }

// Describer is implemented by checks that know their category, severity and
// table before they run, so that a check that fails can still be reported
// under its category. Every check of this package implements it.
type Describer interface {
	Describe() Meta
}

// Describe returns the Meta of c when c is a [Describer], else a Meta holding
// only its name.
func Describe(c Checker) Meta {
	if d, ok := c.(Describer); ok {
		m := d.Describe()
		if m.Name == "" {
			m.Name = c.Name()
		}
		return m
	}
	return Meta{Name: c.Name()}
}

// CheckFunc is a check written as a function: the plug point for checks
// that are not one SQL predicate. It gets the limit of sample issues it
// may return. [NewCheck] gives it a name and a classification.
type CheckFunc func(ctx context.Context, db *sqlx.DB, limit int) (Result, error)

// NewCheck returns the [Checker] that runs fn under meta. It is also a
// [Describer]: Name is meta.Name and Describe returns meta, so that the
// check is reported under its category (and is not applicable where the
// live schema lacks meta.Table or what meta.Reads names) even when it
// fails. Issues fn returns without Check, Category, Severity or Table get
// them from meta.
func NewCheck(meta Meta, fn CheckFunc) Checker { return funcCheck{Meta: meta, fn: fn} }

// funcCheck is the Checker of NewCheck.
type funcCheck struct {
	Meta
	fn CheckFunc
}

// Name returns c.Meta.Name.
func (c funcCheck) Name() string { return c.Meta.Name }

// Check calls c.fn and fills in the issues' classification from Meta.
func (c funcCheck) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	r, err := c.fn(ctx, db, limit)
	for i := range r.Issues {
		is := &r.Issues[i]
		if is.Check == "" {
			is.Check = c.Meta.Name
		}
		if is.Category == "" {
			is.Category = c.Category
		}
		if is.Severity == "" {
			is.Severity = c.Severity
		}
		if is.Table == "" {
			is.Table = c.Table
		}
	}
	return r, err
}

// Package integritytest is a conformance suite for implementations of
// [integrity.Checker], in the manner of testing/slogtest: whoever writes a
// check — for the IP2A schema or for another one — runs [Run] in the
// check's own tests, against each database the check must work on (ip2adb
// runs it on PostgreSQL and SQLite), holding at least one row or group the
// check reports.
package integritytest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/jmoiron/sqlx"
)

// Concurrency is the number of concurrent Check calls Verify makes to test
// that a check is safe for concurrent use.
const Concurrency = 4

// KeyedRows is the number of row issues whose row Verify looks up.
const KeyedRows = 20

// Run reports, as errors of t, every way in which c breaks the contract of
// integrity.Checker on db (see [Verify]).
func Run(t *testing.T, db *sqlx.DB, c integrity.Checker) {
	t.Helper()
	if err := Verify(context.Background(), db, c); err != nil {
		t.Errorf("%s does not conform to integrity.Checker:\n%v", name(c), err)
	}
}

// Verify tests c against db and returns every violation of the Checker
// contract it finds, joined, or nil. db must hold at least one row or group
// that c reports. c is first bound to db's schema, as [integrity.Run] binds
// it (a check that does not apply is a violation here). Then:
//
//   - Name is not empty, and equals the Name of [integrity.Describe];
//   - for the limits 0, 1, Count and Count+1, Check returns the same Count,
//     at most limit issues and never more than Count, and at least one
//     issue when both are positive (limit 0 asks for the count alone);
//   - every issue carries the check's name, and the category, severity and
//     table its Meta declares (where it declares them);
//   - a row issue (one whose [ip2adb.Issue.RecordKey] is not nil) names its
//     row by the columns of its table's key ([catalog.Table.RowKey]), and
//     exactly one row has that key (checked for the first [KeyedRows]
//     row issues);
//   - two calls return the same result, and so do [Concurrency] calls made
//     at once (checks must be safe for concurrent use);
//   - with a cancelled context Check returns an error.
func Verify(ctx context.Context, db *sqlx.DB, c integrity.Checker) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	meta := integrity.Describe(c)
	if c.Name() == "" {
		fail("Name() is empty")
	}
	if meta.Name != c.Name() {
		fail("Describe().Name is %q but Name() is %q", meta.Name, c.Name())
	}

	m, err := catalog.Read(ctx, db, catalog.Options{})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("read the schema of the database: %w", err))...)
	}
	bound, err := integrity.Bind(m, c)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("bind to the database's schema: %w", err))...)
	}

	full, err := bound.Check(ctx, db, 1000)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("Check(limit 1000): %w", err))...)
	}
	if full.Count == 0 {
		return errors.Join(append(errs, errors.New("the check found nothing: the database must hold at least one row or group the check reports"))...)
	}
	for _, limit := range slices.Compact([]int{0, 1, full.Count, full.Count + 1}) {
		res, err := bound.Check(ctx, db, limit)
		if err != nil {
			fail("Check(limit %d): %v", limit, err)
			continue
		}
		if res.Count != full.Count {
			fail("Check(limit %d): Count %d, but %d with limit 1000", limit, res.Count, full.Count)
		}
		if n := len(res.Issues); n > limit || n > res.Count || (limit > 0 && res.Count > 0 && n == 0) {
			fail("Check(limit %d): %d issues for a count of %d (want at most the limit and the count, and at least one when both are positive)", limit, n, res.Count)
		}
		for i, is := range res.Issues {
			if is.Check != c.Name() {
				fail("Check(limit %d): issue %d names check %q, want %q", limit, i, is.Check, c.Name())
			}
			if meta.Category != "" && is.Category != meta.Category {
				fail("Check(limit %d): issue %d has category %q, want %q as Describe says", limit, i, is.Category, meta.Category)
			}
			if meta.Severity != "" && is.Severity != meta.Severity {
				fail("Check(limit %d): issue %d has severity %q, want %q as Describe says", limit, i, is.Severity, meta.Severity)
			}
			if meta.Table != "" && is.Table != meta.Table {
				fail("Check(limit %d): issue %d is on table %q, want %q as Describe says", limit, i, is.Table, meta.Table)
			}
		}
	}

	errs = append(errs, verifyRows(ctx, db, m, full.Issues)...)

	again, err := bound.Check(ctx, db, 1000)
	if err != nil {
		fail("second Check(limit 1000): %v", err)
	} else if d := diff(full, again); d != "" {
		fail("two calls differ (-first +second):\n%s", d)
	}
	results := make([]integrity.Result, Concurrency)
	cerrs := make([]error, Concurrency)
	var wg sync.WaitGroup
	for i := range Concurrency {
		wg.Go(func() { results[i], cerrs[i] = bound.Check(ctx, db, 1000) })
	}
	wg.Wait()
	for i := range Concurrency {
		if cerrs[i] != nil {
			fail("concurrent Check %d: %v", i, cerrs[i])
		} else if d := diff(full, results[i]); d != "" {
			fail("concurrent Check %d differs from a sequential one (-sequential +concurrent):\n%s", i, d)
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := bound.Check(cctx, db, 1000); err == nil {
		fail("Check with a cancelled context returned no error")
	}
	return errors.Join(errs...)
}

// verifyRows checks that the row issues among issues name one existing
// row each, by their table's key.
func verifyRows(ctx context.Context, db *sqlx.DB, m *catalog.Model, issues []ip2adb.Issue) []error {
	var errs []error
	looked := 0
	for i, is := range issues {
		key := is.RecordKey()
		if key == nil || looked == KeyedRows {
			continue
		}
		looked++
		t := m.Table(is.Table)
		if t == nil {
			errs = append(errs, fmt.Errorf("issue %d names a row of table %q, which the schema lacks", i, is.Table))
			continue
		}
		cols := slices.Sorted(maps.Keys(key))
		if want := slices.Sorted(slices.Values(t.RowKey())); !slices.Equal(cols, want) {
			errs = append(errs, fmt.Errorf("issue %d names its row by %s, but table %s is keyed by %s",
				i, strings.Join(cols, ", "), is.Table, strings.Join(want, ", ")))
			continue
		}
		where := make([]string, len(cols))
		args := make([]any, len(cols))
		for k, c := range cols {
			where[k], args[k] = c+" = ?", key[c]
		}
		var n int
		if err := db.GetContext(ctx, &n, db.Rebind("SELECT count(*) FROM "+is.Table+" WHERE "+strings.Join(where, " AND ")), args...); err != nil {
			errs = append(errs, fmt.Errorf("issue %d: look up its row: %w", i, err))
			continue
		}
		if n != 1 {
			errs = append(errs, fmt.Errorf("issue %d names row %v of %s, but %d rows have that key", i, key, is.Table, n))
		}
	}
	return errs
}

func diff(a, b integrity.Result) string {
	return cmp.Diff(a, b, cmpopts.EquateEmpty())
}

func name(c integrity.Checker) string {
	if n := c.Name(); n != "" {
		return n
	}
	return fmt.Sprintf("%T", c)
}

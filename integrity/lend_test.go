package integrity

import (
	"context"
	"errors"
	"github.com/ip2adb/ip2adb/catalog"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// This file lends the external tests (package integrity_test, which may
// import the IP2A rule set: package ip2a imports integrity) what they need
// of the fused pass.

// RunSeparately is Run with the fused pass turned off: every check runs
// alone.
func RunSeparately(ctx context.Context, db *sqlx.DB, checks []Checker, opt RunOptions) Report {
	opt.separate = true
	return Run(ctx, db, checks, opt)
}

// FusedPasses runs each fused pass of the bound checks on db and returns
// its error by table.
func FusedPasses(ctx context.Context, db *sqlx.DB, bound []Checker) map[string]error {
	out := map[string]error{}
	for _, p := range fusedPasses(bound, dbx.DialectOf(db), readStats(ctx, db, modelOf(bound), bound)) {
		_, err := p.count(ctx, db)
		out[p.table] = errors.Join(out[p.table], err)
	}
	return out
}

// Fusable reports whether c is counted in the fused pass on dialect d.
func Fusable(c Checker, d dbx.Dialect) bool {
	_, ok := fusable(c, d, nil)
	return ok
}

// modelOf returns the model the first bound declarative check of bound
// was bound to; nil when there is none.
func modelOf(bound []Checker) *catalog.Model {
	for _, c := range bound {
		if b, ok := unfixed(c).(interface{ bindingOf() *binding }); ok && b.bindingOf() != nil {
			return b.bindingOf().model
		}
	}
	return nil
}

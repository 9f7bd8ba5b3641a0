package integrity

import (
	"context"
	"slices"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/jmoiron/sqlx"
)

// RepairFixes returns the fix of each check as a repair should execute
// it, by position in checks (bound to m, as [Prepare] returns them; the
// zero Fix for a check that is not [Repairable]). It is the check's own
// Fix, with one exception on PostgreSQL: a plain foreign key that [Run]
// probes through the gaps between its parent's integer keys (a child
// indexed on the reference, with many times its parent's rows) has its
// predicate narrowed to the child's rows whose reference lies below the
// parent's least key, above its greatest, in a gap between two of them,
// or anywhere when the parent is empty. Every orphan is such a row, so the
// fix selects the same rows; the repair reads them by row id instead of
// anti-joining the whole child table, and costs what the orphans cost,
// not what the table does. The statistics deciding it are those [Run]
// reads, read again here (nothing on SQLite).
func RepairFixes(ctx context.Context, db *sqlx.DB, m *catalog.Model, checks []Checker) []ip2adb.Fix {
	marked := slices.Clone(checks)
	markGaps(marked, readStats(ctx, db, m, marked))
	out := make([]ip2adb.Fix, len(marked))
	for i, c := range marked {
		r, ok := c.(Repairable)
		if !ok {
			continue
		}
		out[i] = r.Fix()
		if fk, ok := unfixed(c).(ForeignKey); ok && fk.gaps {
			out[i].Where = and(out[i].Where, fk.gapRestriction())
		}
	}
	return out
}

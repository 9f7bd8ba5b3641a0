package heal

import (
	"fmt"
	"strings"

	"github.com/ip2adb/ip2adb"
)

// KeepNewest builds the set-based fix for "at most one row per group": on
// every row of table matching filter whose group (the groupBy columns, none
// NULL) holds more than one such row, set column to value — except on the
// row that comes first by keep (for example "created_at DESC, id DESC", the
// most recently created). It is the repair of the original's "more than one
// primary contact": KeepNewest("organization_contacts",
// []string{"organization_id"}, "is_primary AND NOT is_deleted",
// "created_at DESC, id DESC", "is_primary", false).
//
// table, groupBy and column must be plain identifiers; filter and keep are
// SQL over table's unqualified columns and must be trusted text.
func KeepNewest(table string, groupBy []string, filter, keep, column string, value any) (ip2adb.Fix, error) {
	for _, id := range append([]string{table, column}, groupBy...) {
		if !identRE.MatchString(id) {
			return ip2adb.Fix{}, fmt.Errorf("keep newest: invalid identifier %q", id)
		}
	}
	if len(groupBy) == 0 || strings.TrimSpace(filter) == "" || strings.TrimSpace(keep) == "" {
		return ip2adb.Fix{}, fmt.Errorf("keep newest: groupBy, filter and keep are required")
	}
	var outer, same []string
	outer = append(outer, "("+filter+")")
	inner := []string{"(" + filter + ")"}
	for _, g := range groupBy {
		outer = append(outer, table+"."+g+" IS NOT NULL")
		same = append(same, fmt.Sprintf("ip2adb_k.%s = %s.%s", g, table, g))
	}
	inner = append(inner, same...)
	// Unqualified columns in the subquery resolve to its own table.
	where := strings.Join(outer, " AND ") + fmt.Sprintf(" AND %s.id <> (SELECT ip2adb_k.id FROM %s ip2adb_k WHERE %s ORDER BY %s LIMIT 1)",
		table, table, strings.Join(inner, " AND "), keep)
	action := ip2adb.ActionSetValue
	if value == nil {
		action = ip2adb.ActionSetNull
	}
	return ip2adb.Fix{Action: action, Table: table, Column: column, Value: value, Where: where}, nil
}

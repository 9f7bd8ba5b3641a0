package seed

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/ip2adb/ip2adb/internal/dbx"
)

// The seed marker (ownstate.SeedMarker, ip2adb's own table) records the
// seed that last filled the database; its detail holds, per table, the
// range of ids the seed wrote, so that a later seed can tell its own rows
// from rows it did not write.

// idRangeOf is the first and last id the seed wrote to one table.
type idRangeOf struct{ first, last int64 }

// markerDetail is the JSON of the marker's detail column.
type markerDetail struct {
	// IDs maps a table to the first and last id the seed wrote to it.
	IDs map[string][2]int64 `json:"ids"`
}

// querier runs statements inside the seed's transaction.
type querier interface {
	exec(ctx context.Context, query string) error
	rows(ctx context.Context, query string) ([][]string, error)
}

// queryCount returns the one integer query selects.
func queryCount(ctx context.Context, q querier, query string) (int64, error) {
	rows, err := q.rows(ctx, query)
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, fmt.Errorf("%s: want one value", query)
	}
	return strconv.ParseInt(rows[0][0], 10, 64)
}

// parseMarker returns the id ranges of a marker's detail.
func parseMarker(detail string) (map[string]idRangeOf, error) {
	out := map[string]idRangeOf{}
	if detail == "" {
		return out, nil
	}
	var md markerDetail
	if err := json.Unmarshal([]byte(detail), &md); err != nil {
		return nil, fmt.Errorf("read seed marker: %w", err)
	}
	for t, r := range md.IDs {
		out[t] = idRangeOf{r[0], r[1]}
	}
	return out, nil
}

// readMarker returns the id ranges the marker holds (none without one);
// marker is the marker table's name, "" when it does not exist.
func readMarker(ctx context.Context, q querier, marker string) (map[string]idRangeOf, error) {
	if marker == "" {
		return map[string]idRangeOf{}, nil
	}
	rows, err := q.rows(ctx, "SELECT detail FROM "+marker+" ORDER BY seeded_at DESC LIMIT 1")
	if err != nil {
		return nil, fmt.Errorf("read seed marker: %w", err)
	}
	if len(rows) == 0 {
		return map[string]idRangeOf{}, nil
	}
	return parseMarker(rows[0][0])
}

// writeMarker replaces the marker (table marker, which exists) with one
// that records ranges.
func writeMarker(ctx context.Context, q querier, marker string, opt Options, ranges map[string]idRangeOf) error {
	md := markerDetail{IDs: map[string][2]int64{}}
	for t, r := range ranges {
		md.IDs[t] = [2]int64{r.first, r.last}
	}
	detail, err := json.Marshal(md)
	if err != nil {
		return fmt.Errorf("write seed marker: %w", err)
	}
	if err := q.exec(ctx, "DELETE FROM "+marker); err != nil {
		return fmt.Errorf("write seed marker: %w", err)
	}
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	if err := q.exec(ctx, fmt.Sprintf("INSERT INTO %s (seeded_at, seed, profile, detail) VALUES (%s, %d, %s, %s)",
		marker, lit(opt.Now().UTC().Format("2006-01-02 15:04:05.999999")), opt.Seed, lit(string(opt.Profile)), lit(string(detail)))); err != nil {
		return fmt.Errorf("write seed marker: %w", err)
	}
	return nil
}

// foreignRows counts, per table of tables, the rows the marker does not
// account for: rows whose id lies outside the range the seed wrote, or
// every row of a table the seed did not write. Tables without such rows
// are left out.
func foreignRows(ctx context.Context, q querier, d dbx.Dialect, marker map[string]idRangeOf, live *liveSchema, tables []string) ([]TableStats, error) {
	if len(tables) == 0 {
		return nil, nil
	}
	// One query, one round trip: a count per table.
	counts := make([]string, len(tables))
	for i, t := range tables {
		counts[i] = "(SELECT count(*) FROM " + d.Quote(t)
		if r, ok := marker[t]; ok && live.col(t, "id") != nil {
			counts[i] += fmt.Sprintf(" WHERE id < %d OR id > %d", r.first, r.last)
		}
		counts[i] += ")"
	}
	rows, err := q.rows(ctx, "SELECT "+strings.Join(counts, ", "))
	if err != nil {
		return nil, fmt.Errorf("count the rows of %s: %w", strings.Join(tables, ", "), err)
	}
	if len(rows) != 1 || len(rows[0]) != len(tables) {
		return nil, fmt.Errorf("count the rows of %s: want one row of %d counts", strings.Join(tables, ", "), len(tables))
	}
	var out []TableStats
	for i, t := range tables {
		n, err := strconv.ParseInt(rows[0][i], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("count the rows of %s: %w", t, err)
		}
		if n > 0 {
			out = append(out, TableStats{Table: t, Rows: n})
		}
	}
	return out, nil
}

// NotEmptyError is returned by [Run] without Options.Force when the
// database holds rows that ip2adb's seed did not write and that seeding
// would erase. Nothing was changed.
type NotEmptyError struct {
	// Tables lists the tables holding such rows, with their number.
	Tables []TableStats
}

// Error names the tables and the number of rows.
func (e *NotEmptyError) Error() string {
	var total int64
	parts := make([]string, len(e.Tables))
	for i, t := range e.Tables {
		total += t.Rows
		parts[i] = fmt.Sprintf("%s: %d", t.Table, t.Rows)
	}
	rows := "rows"
	if total == 1 {
		rows = "row"
	}
	return fmt.Sprintf("the database holds %d %s that ip2adb did not write (%s); seeding would erase them",
		total, rows, strings.Join(parts, ", "))
}

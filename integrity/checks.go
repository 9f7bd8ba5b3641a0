package integrity

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// The declarative checks. Each is plain data (a struct literal) and runs as
// one SQL statement that works on PostgreSQL and SQLite. Table, column and
// expression strings are SQL written by the program, never user input.
//
// Row checks (every type with a Predicate method) report one issue per
// offending row with its RecordID; group checks ([Unique], [AtMostOne])
// report one issue per group with its Key; [Aggregate] reports one issue
// with the count. Predicate returns the check's own condition over the
// unaliased table, with "?" placeholders — the Where of its [ip2adb.Fix]
// when wrapped by [WithFix].

// Predicater is a check whose offending rows one SQL condition over its
// table selects. [WithFix] makes it [Repairable].
type Predicater interface {
	Checker
	Describer
	// Predicate is the condition selecting the offending rows of the
	// check's table (soft-deleted rows excluded), over the unaliased table,
	// with "?" placeholders and their arguments.
	Predicate() (where string, args []any)
}

// ForeignKey finds rows whose reference points at no row. A reference that
// is NULL is not an orphan. A parent row counts as present whether or not
// it is soft-deleted (soft delete is reversible).
//
// For a plain foreign key set References; for a polymorphic one set
// TypeColumn and Targets (type value → table): a row whose type is NULL or
// not in Targets is an orphan too.
type ForeignKey struct {
	Meta
	// Column holds the referenced id, such as "member_id".
	Column string
	// References is the parent table of a plain foreign key.
	References string
	// RefColumn is the referenced column; "id" when empty.
	RefColumn string
	// TypeColumn names the parent's kind in a polymorphic reference, such
	// as "record_type".
	TypeColumn string
	// Targets maps each TypeColumn value to its parent table.
	Targets map[string]string
}

// Name returns the check's name.
func (c ForeignKey) Name() string { return c.Meta.Name }

// Predicate selects the orphaned rows.
func (c ForeignKey) Predicate() (string, []any) { return c.predicate(false) }

// predicate writes the parent lookup as EXISTS (a hash anti-join on
// PostgreSQL, safe for parents of any size) or, with in, as IN over the
// parent ids (three to four times faster on SQLite, which builds a
// temporary index once instead of probing per row). The two are equivalent:
// the parent ids are filtered on IS NOT NULL.
func (c ForeignKey) predicate(in bool) (string, []any) {
	ref := c.RefColumn
	if ref == "" {
		ref = "id"
	}
	exists := func(table string) string {
		if in {
			return fmt.Sprintf("%s.%s IN (SELECT ip2adb_p.%s FROM %s ip2adb_p WHERE ip2adb_p.%s IS NOT NULL)", c.Table, c.Column, ref, table, ref)
		}
		return fmt.Sprintf("EXISTS (SELECT 1 FROM %s ip2adb_p WHERE ip2adb_p.%s = %s.%s)", table, ref, c.Table, c.Column)
	}
	col := c.Table + "." + c.Column
	if c.TypeColumn == "" {
		return and(c.live(), col+" IS NOT NULL", "NOT "+exists(c.References)), nil
	}
	typ := c.Table + "." + c.TypeColumn
	var known []string
	for _, t := range slices.Sorted(maps.Keys(c.Targets)) {
		known = append(known, fmt.Sprintf("(%s = %s AND %s)", typ, literal(t), exists(c.Targets[t])))
	}
	parent := "FALSE"
	if len(known) > 0 {
		parent = strings.Join(known, " OR ")
	}
	return and(c.live(), col+" IS NOT NULL", fmt.Sprintf("%s IS NULL OR NOT (%s)", typ, parent)), nil
}

// Check counts the orphans and describes up to limit of them.
func (c ForeignKey) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	where, args := c.predicate(dbx.DialectOf(db) == dbx.SQLite)
	cols := []string{c.Column}
	if c.TypeColumn != "" {
		cols = append(cols, c.TypeColumn)
	}
	return rowQuery{meta: c.Meta, where: where, args: args, cols: cols,
		describe: func(id int64, v map[string]any) (string, map[string]any) {
			if c.TypeColumn == "" {
				return fmt.Sprintf("%s %d: %s %s has no row in %s", c.Table, id, c.Column, show(v[c.Column]), c.References),
					map[string]any{c.Column: v[c.Column], "references": c.References}
			}
			typ, _ := v[c.TypeColumn].(string)
			target, ok := c.Targets[typ]
			if !ok {
				return fmt.Sprintf("%s %d: %s %s is not a known record type", c.Table, id, c.TypeColumn, show(v[c.TypeColumn])),
					map[string]any{c.TypeColumn: v[c.TypeColumn], c.Column: v[c.Column]}
			}
			return fmt.Sprintf("%s %d: %s %s %s has no row in %s", c.Table, id, typ, c.Column, show(v[c.Column]), target),
				map[string]any{c.TypeColumn: v[c.TypeColumn], c.Column: v[c.Column], "references": target}
		}}.run(ctx, db, limit)
}

// Required finds rows with a NULL (or, unless AllowBlank, blank) value in
// any of Columns. Blank means empty or only spaces; leave AllowBlank false
// only for text columns.
type Required struct {
	Meta
	// Columns that must hold a value.
	Columns []string
	// AllowBlank accepts '' and blanks (needed for non-text columns).
	AllowBlank bool
}

// Name returns the check's name.
func (c Required) Name() string { return c.Meta.Name }

func (c Required) missing(col string) string {
	if c.AllowBlank {
		return col + " IS NULL"
	}
	return fmt.Sprintf("%s IS NULL OR trim(%s) = ''", col, col)
}

// Predicate selects rows missing any required value.
func (c Required) Predicate() (string, []any) {
	var missing []string
	for _, col := range c.Columns {
		missing = append(missing, c.missing(col))
	}
	return and(c.live(), strings.Join(missing, " OR ")), nil
}

// Check counts the incomplete rows and describes up to limit of them.
func (c Required) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	where, args := c.Predicate()
	return rowQuery{meta: c.Meta, where: where, args: args, cols: c.Columns,
		describe: func(id int64, v map[string]any) (string, map[string]any) {
			var miss []string
			for _, col := range c.Columns {
				s, isText := v[col].(string)
				if v[col] == nil || (isText && !c.AllowBlank && strings.TrimSpace(s) == "") {
					miss = append(miss, col)
				}
			}
			return fmt.Sprintf("%s %d: missing %s", c.Table, id, strings.Join(miss, ", ")),
				map[string]any{"missing": miss}
		}}.run(ctx, db, limit)
}

// OneOf finds rows whose Column holds a value outside Values. NULL is never
// reported (that is [Required]'s job); blank values are skipped with
// SkipBlank.
type OneOf struct {
	Meta
	// Column is the enum column.
	Column string
	// Values are the valid values.
	Values []string
	// SkipBlank ignores '' and blanks.
	SkipBlank bool
	// NullInvalid reports NULL as an invalid value too (for enum columns
	// that must be set, where no other check looks for NULL).
	NullInvalid bool
}

// Name returns the check's name.
func (c OneOf) Name() string { return c.Meta.Name }

// Predicate selects rows with an invalid value.
func (c OneOf) Predicate() (string, []any) {
	var vals []string
	for _, v := range c.Values {
		vals = append(vals, literal(v))
	}
	blank := ""
	if c.SkipBlank {
		blank = "trim(" + c.Column + ") <> ''"
	}
	in := "FALSE"
	if len(vals) > 0 {
		in = c.Column + " IN (" + strings.Join(vals, ", ") + ")"
	}
	if c.NullInvalid {
		return and(c.live(), blank, "("+c.Column+" IS NULL OR NOT ("+in+"))"), nil
	}
	return and(c.live(), c.Column+" IS NOT NULL", blank, "NOT ("+in+")"), nil
}

// Check counts the invalid values and describes up to limit of them.
func (c OneOf) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	where, args := c.Predicate()
	return rowQuery{meta: c.Meta, where: where, args: args, cols: []string{c.Column},
		describe: func(id int64, v map[string]any) (string, map[string]any) {
			return fmt.Sprintf("%s %d: %s %s is not one of %s", c.Table, id, c.Column, show(v[c.Column]), strings.Join(c.Values, ", ")),
				map[string]any{c.Column: v[c.Column]}
		}}.run(ctx, db, limit)
}

// DateOrder finds rows whose End is before their Start (both set).
type DateOrder struct {
	Meta
	// Start and End are the date columns.
	Start, End string
}

// Name returns the check's name.
func (c DateOrder) Name() string { return c.Meta.Name }

// Predicate selects rows ending before they start.
func (c DateOrder) Predicate() (string, []any) {
	return and(c.live(), c.Start+" IS NOT NULL", c.End+" IS NOT NULL", c.End+" < "+c.Start), nil
}

// Check counts the rows out of order and describes up to limit of them.
func (c DateOrder) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	where, args := c.Predicate()
	return rowQuery{meta: c.Meta, where: where, args: args, cols: []string{c.Start, c.End},
		describe: func(id int64, v map[string]any) (string, map[string]any) {
			return fmt.Sprintf("%s %d: %s %v is before %s %v", c.Table, id, c.End, v[c.End], c.Start, v[c.Start]),
				map[string]any{c.Start: v[c.Start], c.End: v[c.End]}
		}}.run(ctx, db, limit)
}

// Range finds rows whose Column is below Min or above Max (nil bounds are
// open). NULL is not reported.
type Range struct {
	Meta
	// Column is the checked column.
	Column string
	// Min and Max are the inclusive bounds; nil for none.
	Min, Max any
}

// Name returns the check's name.
func (c Range) Name() string { return c.Meta.Name }

// Predicate selects rows outside the range.
func (c Range) Predicate() (string, []any) {
	var outside []string
	var args []any
	if c.Min != nil {
		outside = append(outside, c.Column+" < ?")
		args = append(args, c.Min)
	}
	if c.Max != nil {
		outside = append(outside, c.Column+" > ?")
		args = append(args, c.Max)
	}
	if len(outside) == 0 {
		outside = []string{"FALSE"}
	}
	return and(c.live(), c.Column+" IS NOT NULL", strings.Join(outside, " OR ")), args
}

// Check counts the rows out of range and describes up to limit of them.
func (c Range) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	where, args := c.Predicate()
	return rowQuery{meta: c.Meta, where: where, args: args, cols: []string{c.Column},
		describe: func(id int64, v map[string]any) (string, map[string]any) {
			return fmt.Sprintf("%s %d: %s %v is outside %s", c.Table, id, c.Column, v[c.Column], c.bounds()),
				map[string]any{c.Column: v[c.Column], "min": c.Min, "max": c.Max}
		}}.run(ctx, db, limit)
}

func (c Range) bounds() string {
	switch {
	case c.Min != nil && c.Max != nil:
		return fmt.Sprintf("%v..%v", c.Min, c.Max)
	case c.Min != nil:
		return fmt.Sprintf(">= %v", c.Min)
	case c.Max != nil:
		return fmt.Sprintf("<= %v", c.Max)
	}
	return "any bound"
}

// NotInFuture finds rows whose date Column is after today's date by the
// clock Now (time.Now when nil), in the clock's time zone.
type NotInFuture struct {
	Meta
	// Column is a date column.
	Column string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Name returns the check's name.
func (c NotInFuture) Name() string { return c.Meta.Name }

// tomorrow is the first date in the future, as 'YYYY-MM-DD'. Comparing with
// ">=" tomorrow also works for dates SQLite stores with a time of day.
func (c NotInFuture) tomorrow() string {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	y, m, d := now().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// Predicate selects rows dated after today.
func (c NotInFuture) Predicate() (string, []any) {
	return and(c.live(), c.Column+" IS NOT NULL", c.Column+" >= ?"), []any{c.tomorrow()}
}

// Check counts the future-dated rows and describes up to limit of them.
func (c NotInFuture) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	where, args := c.Predicate()
	return rowQuery{meta: c.Meta, where: where, args: args, cols: []string{c.Column},
		describe: func(id int64, v map[string]any) (string, map[string]any) {
			return fmt.Sprintf("%s %d: %s %v is in the future", c.Table, id, c.Column, v[c.Column]),
				map[string]any{c.Column: v[c.Column]}
		}}.run(ctx, db, limit)
}

// HasChildren finds rows of Table that no (non-deleted) row of ChildTable
// references through ChildColumn.
type HasChildren struct {
	Meta
	// ChildTable and ChildColumn name the referencing rows, such as
	// organization_contacts.organization_id.
	ChildTable, ChildColumn string
	// ChildSoftDelete says ChildTable has is_deleted; soft-deleted children
	// do not count.
	ChildSoftDelete bool
	// Show are columns of Table to put in the details, such as "name".
	Show []string
}

// Name returns the check's name.
func (c HasChildren) Name() string { return c.Meta.Name }

// Predicate selects rows without children.
func (c HasChildren) Predicate() (string, []any) {
	child := ""
	if c.ChildSoftDelete {
		child = " AND NOT ip2adb_c.is_deleted"
	}
	return and(c.live(), fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s ip2adb_c WHERE ip2adb_c.%s = %s.id%s)",
		c.ChildTable, c.ChildColumn, c.Table, child)), nil
}

// Check counts the childless rows and describes up to limit of them.
func (c HasChildren) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	where, args := c.Predicate()
	return rowQuery{meta: c.Meta, where: where, args: args, cols: c.Show,
		describe: func(id int64, v map[string]any) (string, map[string]any) {
			details := map[string]any{}
			label := ""
			for _, s := range c.Show {
				details[s] = v[s]
				label += " " + show(v[s])
			}
			return fmt.Sprintf("%s %d%s has no %s", c.Table, id, label, c.ChildTable), details
		}}.run(ctx, db, limit)
}

// SQL is a custom row check: Where is any SQL condition over the unaliased
// Table (subqueries welcome), with "?" placeholders and Args. Soft-deleted
// rows are excluded when Meta.SoftDelete is set.
type SQL struct {
	Meta
	// Where selects the offending rows.
	Where string
	// Args are Where's arguments.
	Args []any
	// Show are columns of Table to put in the details and description.
	Show []string
}

// Name returns the check's name.
func (c SQL) Name() string { return c.Meta.Name }

// Predicate returns Where (and the soft-delete filter).
func (c SQL) Predicate() (string, []any) { return and(c.live(), c.Where), c.Args }

// Check counts the rows matching Where and describes up to limit of them.
func (c SQL) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	where, args := c.Predicate()
	return rowQuery{meta: c.Meta, where: where, args: args, cols: c.Show,
		describe: func(id int64, v map[string]any) (string, map[string]any) {
			details := map[string]any{}
			var parts []string
			for _, s := range c.Show {
				details[s] = v[s]
				parts = append(parts, fmt.Sprintf("%s %s", s, show(v[s])))
			}
			desc := fmt.Sprintf("%s %d: %s", c.Table, id, c.Where)
			if len(parts) > 0 {
				desc = fmt.Sprintf("%s %d: %s", c.Table, id, strings.Join(parts, ", "))
			}
			return desc, details
		}}.run(ctx, db, limit)
}

// Unique finds groups of rows sharing the same Keys (one issue per group,
// keyed by it). Rows where a key is NULL, or that Where excludes, do not
// take part.
type Unique struct {
	Meta
	// Keys is the (compound) key, such as Columns("member_number") or
	// {Name: "email", Expr: "lower(trim(email))"}.
	Keys []Key
	// Where filters the rows taking part, such as "trim(email) <> ''".
	Where string
	// Args are Where's arguments.
	Args []any
}

// Name returns the check's name.
func (c Unique) Name() string { return c.Meta.Name }

// Check counts the duplicated keys and describes up to limit of them.
func (c Unique) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	preds := []string{c.live(), c.Where}
	for _, k := range c.Keys {
		preds = append(preds, k.expr()+" IS NOT NULL")
	}
	return groupQuery{meta: c.Meta, keys: c.Keys, where: and(preds...), args: c.Args, having: "count(*) > 1",
		describe: func(key map[string]any, n int64) (string, map[string]any) {
			return fmt.Sprintf("%s: %d rows share %s", c.Table, n, showKey(c.Keys, key)), map[string]any{"count": n}
		}}.run(ctx, db, limit)
}

// AtMostOne finds groups (by GroupBy) holding more than one row that Where
// selects, such as more than one current employment per member. Its
// Predicate selects every such row except the one to keep (the first by
// Keep), so that a fix leaves exactly one per group.
type AtMostOne struct {
	Meta
	// GroupBy are the group columns, such as "member_id"; rows with a NULL
	// group column do not take part.
	GroupBy []string
	// Where selects the rows of which at most one may exist per group, such
	// as "is_current". Write its columns unqualified.
	Where string
	// Keep orders a group's rows so that the first is the one to keep;
	// "created_at DESC, id DESC" (the newest) when empty. Unqualified columns.
	Keep string
}

// Name returns the check's name.
func (c AtMostOne) Name() string { return c.Meta.Name }

func (c AtMostOne) filter() []string {
	preds := []string{c.live(), c.Where}
	for _, g := range c.GroupBy {
		preds = append(preds, g+" IS NOT NULL")
	}
	return preds
}

// Predicate selects the rows of an over-full group other than the one to
// keep.
func (c AtMostOne) Predicate() (string, []any) {
	keep := c.Keep
	if keep == "" {
		keep = "created_at DESC, id DESC"
	}
	var same []string
	for _, g := range c.GroupBy {
		same = append(same, fmt.Sprintf("ip2adb_k.%s = %s.%s", g, c.Table, g))
	}
	// Unqualified columns in the subquery resolve to its own table.
	inner := and(append(same, c.filter()...)...)
	return and(append(c.filter(), fmt.Sprintf("id <> (SELECT ip2adb_k.id FROM %s ip2adb_k WHERE %s ORDER BY %s LIMIT 1)",
		c.Table, inner, keep))...), nil
}

// Check counts the over-full groups and describes up to limit of them.
func (c AtMostOne) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	keys := Columns(c.GroupBy...)
	return groupQuery{meta: c.Meta, keys: keys, where: and(c.filter()...), having: "count(*) > 1",
		describe: func(key map[string]any, n int64) (string, map[string]any) {
			return fmt.Sprintf("%s: %d rows with %s for %s (at most one allowed)", c.Table, n, c.Where, showKey(keys, key)),
				map[string]any{"count": n}
		}}.run(ctx, db, limit)
}

// Aggregate reports one issue (with an empty key and details {"count": N})
// when more than Threshold rows match Where: an anomaly worth a look but not
// a per-row problem. The check's Count is then 1 (one issue; N is in the
// details).
type Aggregate struct {
	Meta
	// Where selects the rows counted.
	Where string
	// Args are Where's arguments.
	Args []any
	// Threshold is the count the anomaly must exceed; 0 reports any row.
	Threshold int
	// Text writes the issue's description from the count; a generic
	// sentence when nil.
	Text func(n int) string
}

// Name returns the check's name.
func (c Aggregate) Name() string { return c.Meta.Name }

// Check counts the matching rows.
func (c Aggregate) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	stmt := fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", c.Table, and(c.live(), c.Where))
	rows, done, err := query(ctx, db, stmt, c.Args...)
	if err != nil {
		return Result{}, fmt.Errorf("query %s: %w", c.Table, err)
	}
	defer done()
	var n int
	if rows.Next() {
		err = rows.Scan(&n)
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return Result{}, fmt.Errorf("query %s: %w", c.Table, err)
	}
	if n <= c.Threshold {
		return Result{}, nil
	}
	desc := fmt.Sprintf("%d rows of %s match %s", n, c.Table, c.Where)
	if c.Text != nil {
		desc = c.Text(n)
	}
	res := Result{Count: 1}
	if limit > 0 {
		res.Issues = []ip2adb.Issue{c.issue(nil, map[string]any{}, desc, map[string]any{"count": int64(n)})}
	}
	return res, nil
}

func showKey(keys []Key, key map[string]any) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %s", k.Name, show(key[k.Name])))
	}
	return strings.Join(parts, ", ")
}

// Repair describes the automatic fix of a [Predicater]: Action on the rows
// its Predicate selects (Column and Value for set_value / set_null).
type Repair struct {
	Action ip2adb.Action
	Column string
	Value  any
}

// WithFix makes c repairable: its issues carry the fix, and Fix returns it
// with c's Predicate as Where. Action "delete" on a soft-delete table is
// turned into a soft delete by the repairer.
func WithFix(c Predicater, r Repair) Repairable { return fixed{c, r} }

type fixed struct {
	Predicater
	r Repair
}

func (f fixed) Fix() ip2adb.Fix {
	where, args := f.Predicate()
	return ip2adb.Fix{Action: f.r.Action, Table: f.Describe().Table, Column: f.r.Column, Value: f.r.Value,
		Where: where, Args: args}
}

func (f fixed) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	res, err := f.Predicater.Check(ctx, db, limit)
	if len(res.Issues) > 0 {
		fix := f.Fix()
		for i := range res.Issues {
			fx := fix
			res.Issues[i].Fix = &fx
		}
	}
	return res, err
}

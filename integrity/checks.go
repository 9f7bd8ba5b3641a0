package integrity

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// The declarative checks. Each is plain data (a struct literal) and runs as
// one SQL statement that works on PostgreSQL and SQLite. Table, column and
// expression strings are SQL written by the program, never user input.
//
// Row checks (every type with a Predicate method, and [FileExists]) report
// one issue per offending row with its key — RecordID for a single integer
// column, else Key (see [ip2adb.Issue]) — ordered by it. The key is the
// table's in the bound model ([catalog.Table.RowKey]: the primary key, as
// read or as [catalog.Override] sets it, else an id column); on a table
// with neither, a row check is not applicable. Unbound, rows are named by
// "id". Group checks ([Unique], [AtMostOne]) report one issue per group
// with its Key; [Aggregate] reports one issue with the count. Predicate returns the check's own condition over the
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
	// Column holds the referenced key, such as "member_id".
	Column string
	// References is the parent table of a plain foreign key.
	References string
	// RefColumn is the referenced column. When empty, bound to a schema it
	// is the column a foreign key constraint on Column references, else the
	// parent's primary key (each target's, for a polymorphic reference),
	// which must then be one column; "id" unbound.
	RefColumn string
	// TypeColumn names the parent's kind in a polymorphic reference, such
	// as "record_type".
	TypeColumn string
	// Targets maps each TypeColumn value to its parent table.
	Targets map[string]string

	*binding
	// unchecked are record types whose parent table the schema lacks:
	// their rows are not judged.
	unchecked []string
	// refs are the referenced columns by parent table, once bound.
	refs map[string]string
	// gaps says Run probes the reference through the gaps between the
	// parent's keys ([readStats]): the check then reads its orphans the
	// same way ([ForeignKey.gapRows]).
	gaps bool
}

// Name returns the check's name.
func (c ForeignKey) Name() string { return c.Meta.Name }

// ref is the referenced column of parent.
func (c ForeignKey) ref(parent string) string {
	if r, ok := c.refs[parent]; ok {
		return r
	}
	if c.RefColumn == "" {
		return "id"
	}
	return c.RefColumn
}

func (c ForeignKey) needs() map[string][]string {
	n := map[string][]string{c.Table: {c.Column, c.TypeColumn}}
	if c.TypeColumn == "" {
		n[c.References] = append(n[c.References], c.RefColumn)
	}
	return n
}

// Bind adapts the check to m. The referenced column defaults to what a
// foreign key constraint on Column references, else to the parent's
// primary key; a parent keyed by several columns (or none) needs
// RefColumn, else the check is not applicable. A polymorphic reference
// leaves the record types whose parent table m lacks (or whose key it
// cannot tell) unjudged, named in the note. A plain one is enforced by a
// validated foreign key constraint on Column, where the database enforces
// foreign keys.
func (c ForeignKey) Bind(m *catalog.Model) (Checker, error) {
	b, err := rowBinding(m, c.Table)
	if err != nil {
		return nil, err
	}
	c.binding = b
	c.refs = map[string]string{}
	if c.TypeColumn == "" {
		fk := m.Table(c.Table).ForeignKeyOn(c.Column)
		if fk != nil && fk.RefTable != c.References {
			fk = nil
		}
		ref := c.RefColumn
		if ref == "" && fk != nil && len(fk.RefColumns) == 1 {
			ref = fk.RefColumns[0]
		}
		if ref, err = b.refColumn(c.References, ref); err != nil {
			return nil, err
		}
		c.refs[c.References] = ref
		if fk != nil && m.ForeignKeysEnforced && fk.Validated && slices.Equal(fk.RefColumns, []string{ref}) {
			c.binding.enforced = []string{fkName(c.Table, *fk)}
		}
		return c, nil
	}
	targets := map[string]string{}
	c.unchecked = nil
	var why []string
	for _, typ := range slices.Sorted(maps.Keys(c.Targets)) {
		table := c.Targets[typ]
		r := m.Missing(table)
		if r == "" {
			ref, err := b.refColumn(table, c.RefColumn)
			if na := (*NotApplicableError)(nil); errors.As(err, &na) {
				r = na.Reason
			} else if r = m.Missing(table, ref); r == "" {
				c.refs[table] = ref
			}
		}
		if r != "" {
			c.unchecked = append(c.unchecked, typ)
			why = append(why, r)
			continue
		}
		targets[typ] = table
	}
	c.Targets = targets
	if len(c.unchecked) > 0 {
		c.binding.remark = fmt.Sprintf("record types %s not checked (%s)", strings.Join(c.unchecked, ", "), strings.Join(why, "; "))
	}
	return c, nil
}

// fkName names a foreign key for enforced_by: its constraint name, or on
// SQLite (no names) its definition.
func fkName(table string, fk catalog.ForeignKey) string {
	if fk.Name != "" {
		return fk.Name
	}
	return fmt.Sprintf("FOREIGN KEY %s(%s) REFERENCES %s(%s)", table, strings.Join(fk.Columns, ", "), fk.RefTable, strings.Join(fk.RefColumns, ", "))
}

// Predicate selects the orphaned rows.
func (c ForeignKey) Predicate() (string, []any) { return c.predicate(false) }

// predicate writes the parent lookup as EXISTS (a hash anti-join on
// PostgreSQL, safe for parents of any size) or, with in, as IN over the
// parent ids (three to four times faster on SQLite, which builds a
// temporary index once instead of probing per row). The two are equivalent:
// the parent ids are filtered on IS NOT NULL.
func (c ForeignKey) predicate(in bool) (string, []any) {
	return and(append([]string{c.live(c.Meta, "")}, c.orphan(c.Table, in)...)...), nil
}

// orphan are the conditions (to be joined by AND) that a row whose
// columns q qualifies is an orphan, soft delete aside: a reference and no
// parent.
func (c ForeignKey) orphan(q string, in bool) []string {
	exists := func(table string) string {
		ref := c.ref(table)
		if in {
			return fmt.Sprintf("%s.%s IN (SELECT ip2adb_p.%s FROM %s ip2adb_p WHERE ip2adb_p.%s IS NOT NULL)", q, c.Column, ref, table, ref)
		}
		return fmt.Sprintf("EXISTS (SELECT 1 FROM %s ip2adb_p WHERE ip2adb_p.%s = %s.%s)", table, ref, q, c.Column)
	}
	col := q + "." + c.Column
	if c.TypeColumn == "" {
		return []string{col + " IS NOT NULL", "NOT " + exists(c.References)}
	}
	typ := c.asText(c.Table, c.TypeColumn, q+"."+c.TypeColumn)
	var known []string
	for _, t := range slices.Sorted(maps.Keys(c.Targets)) {
		known = append(known, fmt.Sprintf("(%s = %s AND %s)", typ, literal(t), exists(c.Targets[t])))
	}
	for _, t := range c.unchecked {
		known = append(known, fmt.Sprintf("(%s = %s)", typ, literal(t)))
	}
	parent := "FALSE"
	if len(known) > 0 {
		parent = strings.Join(known, " OR ")
	}
	return []string{col + " IS NOT NULL", fmt.Sprintf("%s IS NULL OR NOT (%s)", typ, parent)}
}

// Check counts the orphans and describes up to limit of them.
func (c ForeignKey) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	if c.binding == nil {
		return bindCheck(ctx, db, c, limit)
	}
	// IN lookups where the planner only nests loops (SQLite).
	where, args := c.predicate(!dbx.DialectOf(db).CostBasedPlanner())
	cols := []string{c.Column}
	if c.TypeColumn != "" {
		cols = append(cols, c.TypeColumn)
	}
	from := ""
	if c.gaps { // set only on plain references (markGaps)
		from = c.gapRows()
	}
	return rowQuery{meta: c.Meta, b: c.binding, from: from, where: where, args: args, cols: cols,
		describe: func(id string, v map[string]any) (string, map[string]any) {
			if c.TypeColumn == "" {
				return fmt.Sprintf("%s %s: %s %s has no row in %s", c.Table, id, c.Column, show(v[c.Column]), c.References),
					map[string]any{c.Column: v[c.Column], "references": c.References}
			}
			typ := fmt.Sprint(v[c.TypeColumn])
			target, ok := c.Targets[typ]
			if !ok {
				return fmt.Sprintf("%s %s: %s %s is not a known record type", c.Table, id, c.TypeColumn, show(v[c.TypeColumn])),
					map[string]any{c.TypeColumn: v[c.TypeColumn], c.Column: v[c.Column]}
			}
			return fmt.Sprintf("%s %s: %s %s %s has no row in %s", c.Table, id, typ, c.Column, show(v[c.Column]), target),
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
	// AllowBlank accepts '' and blanks. Bound to a schema, blanks are only
	// looked for in text columns.
	AllowBlank bool

	*binding
}

// Name returns the check's name.
func (c Required) Name() string { return c.Meta.Name }

func (c Required) needs() map[string][]string {
	return map[string][]string{c.Table: slices.Clone(c.Columns)}
}

// Bind adapts the check to m: blank values are looked for only in text
// columns. NOT NULL constraints enforce the rule when every column has one
// and no column can hold a blank the rule forbids.
func (c Required) Bind(m *catalog.Model) (Checker, error) {
	b, err := rowBinding(m, c.Table)
	if err != nil {
		return nil, err
	}
	c.binding = b
	blanks := false
	for _, col := range c.Columns {
		blanks = blanks || (!c.AllowBlank && c.text(c.Table, col))
	}
	if !blanks {
		c.binding.enforced = c.binding.notNull(c.Table, c.Columns...)
	}
	return c, nil
}

func (c Required) missing(col string) string {
	if c.AllowBlank || !c.text(c.Table, col) {
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
	return and(c.live(c.Meta, ""), strings.Join(missing, " OR ")), nil
}

// Check counts the incomplete rows and describes up to limit of them.
func (c Required) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	if c.binding == nil {
		return bindCheck(ctx, db, c, limit)
	}
	where, args := c.Predicate()
	return rowQuery{meta: c.Meta, b: c.binding, where: where, args: args, cols: c.Columns,
		describe: func(id string, v map[string]any) (string, map[string]any) {
			var miss []string
			for _, col := range c.Columns {
				s, isText := v[col].(string)
				if v[col] == nil || (isText && !c.AllowBlank && c.text(c.Table, col) && strings.TrimSpace(s) == "") {
					miss = append(miss, col)
				}
			}
			return fmt.Sprintf("%s %s: missing %s", c.Table, id, strings.Join(miss, ", ")),
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
	// Labels maps Values to the labels of an enum type that stores them
	// under other names, such as "apprentice_1" → "APPRENTICE_1ST_YEAR";
	// a repair's value is written as its label. Values without a pair
	// match the label equal to them ignoring case.
	Labels map[string]string

	*binding
	// enum is the live enum type of Column; nil when it is not one.
	enum *catalog.Enum
}

// Name returns the check's name.
func (c OneOf) Name() string { return c.Meta.Name }

func (c OneOf) needs() map[string][]string {
	return map[string][]string{c.Table: {c.Column}}
}

// Bind adapts the check to m. When Column is of an enum type the valid
// values are the type's live labels, compared as CAST(Column AS TEXT); the
// type enforces the rule (with a NOT NULL constraint too for NullInvalid).
// On a text column a CHECK constraint that lists only valid values
// enforces it.
func (c OneOf) Bind(m *catalog.Model) (Checker, error) {
	b, err := rowBinding(m, c.Table)
	if err != nil {
		return nil, err
	}
	c.binding = b
	c.enum = m.EnumOf(c.Table, c.Column)
	var enforced []string
	switch {
	case c.enum != nil:
		c.Values = slices.Clone(c.enum.Labels)
		enforced = []string{"enum " + c.enum.Name}
	default:
		if ck := c.checkConstraint(m.Table(c.Table)); ck != "" {
			enforced = []string{ck}
		}
	}
	if c.NullInvalid && enforced != nil {
		nn := c.binding.notNull(c.Table, c.Column)
		if nn == nil {
			enforced = nil
		}
		enforced = append(enforced, nn...)
	}
	c.binding.enforced = enforced
	return c, nil
}

// checkConstraint returns the name of a validated CHECK constraint over
// Column alone that lists values (IN (…) or = ANY (ARRAY[…])), all of them
// valid, with no OR or NOT; "" when there is none.
func (c OneOf) checkConstraint(t *catalog.Table) string {
	if t == nil {
		return ""
	}
	for _, ck := range t.Checks {
		if !ck.Validated || !slices.Equal(ck.Columns, []string{c.Column}) {
			continue
		}
		// Only a plain list: an OR or NOT elsewhere could let other values
		// in, and then the constraint does not enforce the rule.
		bare := quoted.ReplaceAllString(ck.Expr, "''")
		if !valueList.MatchString(bare) || orNot.MatchString(bare) {
			continue
		}
		lits := quoted.FindAllString(ck.Expr, -1)
		ok := len(lits) > 0
		for _, l := range lits {
			ok = ok && slices.Contains(c.Values, strings.ReplaceAll(l[1:len(l)-1], "''", "'"))
		}
		if ok {
			if ck.Name != "" {
				return ck.Name
			}
			return ck.Expr
		}
	}
	return ""
}

// quoted matches an SQL string literal.
var quoted = regexp.MustCompile(`'(?:[^']|'')*'`)

// orNot matches the words OR and NOT.
var orNot = regexp.MustCompile(`(?i)\b(OR|NOT)\b`)

// valueList matches a list of values in a CHECK constraint: "col IN (…)"
// or PostgreSQL's "col = ANY ((ARRAY[…])…)".
var valueList = regexp.MustCompile(`(?i)\bIN\s*\(|=\s*ANY\s*\(+\s*ARRAY\[`)

// Predicate selects rows with an invalid value.
func (c OneOf) Predicate() (string, []any) {
	var vals []string
	for _, v := range c.Values {
		vals = append(vals, literal(v))
	}
	col := c.Column
	if c.enum != nil {
		col = "CAST(" + c.Column + " AS TEXT)"
	}
	blank := ""
	if c.SkipBlank && c.enum == nil && c.text(c.Table, c.Column) {
		blank = "trim(" + c.Column + ") <> ''"
	}
	in := "FALSE"
	if len(vals) > 0 {
		in = c.asText(c.Table, c.Column, col) + " IN (" + strings.Join(vals, ", ") + ")"
	}
	if c.NullInvalid {
		return and(c.live(c.Meta, ""), blank, "("+c.Column+" IS NULL OR NOT ("+in+"))"), nil
	}
	return and(c.live(c.Meta, ""), c.Column+" IS NOT NULL", blank, "NOT ("+in+")"), nil
}

// Check counts the invalid values and describes up to limit of them.
func (c OneOf) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	if c.binding == nil {
		return bindCheck(ctx, db, c, limit)
	}
	where, args := c.Predicate()
	return rowQuery{meta: c.Meta, b: c.binding, where: where, args: args, cols: []string{c.Column},
		describe: func(id string, v map[string]any) (string, map[string]any) {
			return fmt.Sprintf("%s %s: %s %s is not one of %s", c.Table, id, c.Column, show(v[c.Column]), strings.Join(c.Values, ", ")),
				map[string]any{c.Column: v[c.Column]}
		}}.run(ctx, db, limit)
}

// DateOrder finds rows whose End is before their Start (both set).
type DateOrder struct {
	Meta
	// Start and End are the date columns.
	Start, End string

	*binding
}

// Name returns the check's name.
func (c DateOrder) Name() string { return c.Meta.Name }

func (c DateOrder) needs() map[string][]string {
	return map[string][]string{c.Table: {c.Start, c.End}}
}

// Bind adapts the check to m.
func (c DateOrder) Bind(m *catalog.Model) (Checker, error) {
	b, err := rowBinding(m, c.Table)
	if err != nil {
		return nil, err
	}
	c.binding = b
	return c, nil
}

// Predicate selects rows ending before they start.
func (c DateOrder) Predicate() (string, []any) {
	return and(c.live(c.Meta, ""), c.Start+" IS NOT NULL", c.End+" IS NOT NULL", c.End+" < "+c.Start), nil
}

// sieve is the comparison alone: true for every row Predicate selects
// (a NULL date makes it NULL, which no WHERE takes), for a fused pass to
// filter with.
func (c DateOrder) sieve() (string, []any) { return c.End + " < " + c.Start, nil }

// Check counts the rows out of order and describes up to limit of them.
func (c DateOrder) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	if c.binding == nil {
		return bindCheck(ctx, db, c, limit)
	}
	where, args := c.Predicate()
	return rowQuery{meta: c.Meta, b: c.binding, where: where, args: args, cols: []string{c.Start, c.End},
		describe: func(id string, v map[string]any) (string, map[string]any) {
			return fmt.Sprintf("%s %s: %s %v is before %s %v", c.Table, id, c.End, v[c.End], c.Start, v[c.Start]),
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

	*binding
}

// Name returns the check's name.
func (c Range) Name() string { return c.Meta.Name }

func (c Range) needs() map[string][]string { return map[string][]string{c.Table: {c.Column}} }

// Bind adapts the check to m.
func (c Range) Bind(m *catalog.Model) (Checker, error) {
	b, err := rowBinding(m, c.Table)
	if err != nil {
		return nil, err
	}
	c.binding = b
	return c, nil
}

// Predicate selects rows outside the range.
func (c Range) Predicate() (string, []any) {
	outside, args := c.sieve()
	return and(c.live(c.Meta, ""), c.Column+" IS NOT NULL", outside), args
}

// sieve is the bounds' comparisons alone: true for every row Predicate
// selects, for a fused pass to filter with.
func (c Range) sieve() (string, []any) {
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
	return strings.Join(outside, " OR "), args
}

// Check counts the rows out of range and describes up to limit of them.
func (c Range) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	if c.binding == nil {
		return bindCheck(ctx, db, c, limit)
	}
	where, args := c.Predicate()
	return rowQuery{meta: c.Meta, b: c.binding, where: where, args: args, cols: []string{c.Column},
		describe: func(id string, v map[string]any) (string, map[string]any) {
			return fmt.Sprintf("%s %s: %s %v is outside %s", c.Table, id, c.Column, v[c.Column], c.bounds()),
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

	*binding
}

// Name returns the check's name.
func (c NotInFuture) Name() string { return c.Meta.Name }

func (c NotInFuture) needs() map[string][]string {
	return map[string][]string{c.Table: {c.Column}}
}

// Bind adapts the check to m.
func (c NotInFuture) Bind(m *catalog.Model) (Checker, error) {
	b, err := rowBinding(m, c.Table)
	if err != nil {
		return nil, err
	}
	c.binding = b
	return c, nil
}

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
	return and(c.live(c.Meta, ""), c.Column+" IS NOT NULL", c.Column+" >= ?"), []any{c.tomorrow()}
}

// Check counts the future-dated rows and describes up to limit of them.
func (c NotInFuture) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	if c.binding == nil {
		return bindCheck(ctx, db, c, limit)
	}
	where, args := c.Predicate()
	return rowQuery{meta: c.Meta, b: c.binding, where: where, args: args, cols: []string{c.Column},
		describe: func(id string, v map[string]any) (string, map[string]any) {
			return fmt.Sprintf("%s %s: %s %v is in the future", c.Table, id, c.Column, v[c.Column]),
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
	// Column is the column of Table that ChildColumn holds. When empty,
	// bound to a schema it is Table's primary key, which must then be one
	// column; "id" unbound.
	Column string
	// ChildSoftDelete says soft-deleted children do not count (by
	// ChildTable's soft-delete columns; is_deleted when unbound).
	ChildSoftDelete bool
	// Show are columns of Table to put in the details, such as "name".
	Show []string

	*binding
}

// Name returns the check's name.
func (c HasChildren) Name() string { return c.Meta.Name }

func (c HasChildren) needs() map[string][]string {
	n := map[string][]string{c.Table: append([]string{c.Column}, c.Show...)}
	n[c.ChildTable] = append(n[c.ChildTable], c.ChildColumn)
	return n
}

// Bind adapts the check to m: Column defaults to Table's single-column
// primary key.
func (c HasChildren) Bind(m *catalog.Model) (Checker, error) {
	b, err := rowBinding(m, c.Table)
	if err != nil {
		return nil, err
	}
	if c.Column, err = b.refColumn(c.Table, c.Column); err != nil {
		return nil, err
	}
	c.binding = b
	return c, nil
}

// Predicate selects rows without children.
func (c HasChildren) Predicate() (string, []any) {
	child := ""
	if c.ChildSoftDelete {
		if l := c.liveOf(c.ChildTable, "ip2adb_c"); l != "" {
			child = " AND " + l
		}
	}
	col := c.Column
	if col == "" {
		col = "id"
	}
	return and(c.live(c.Meta, ""), fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s ip2adb_c WHERE ip2adb_c.%s = %s.%s%s)",
		c.ChildTable, c.ChildColumn, c.Table, col, child)), nil
}

// Check counts the childless rows and describes up to limit of them.
func (c HasChildren) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	if c.binding == nil {
		return bindCheck(ctx, db, c, limit)
	}
	where, args := c.Predicate()
	return rowQuery{meta: c.Meta, b: c.binding, where: where, args: args, cols: c.Show,
		describe: func(id string, v map[string]any) (string, map[string]any) {
			details := map[string]any{}
			label := ""
			for _, s := range c.Show {
				details[s] = v[s]
				label += " " + show(v[s])
			}
			return fmt.Sprintf("%s %s%s has no %s", c.Table, id, label, c.ChildTable), details
		}}.run(ctx, db, limit)
}

// SQL is a custom row check: Where is any SQL condition over the unaliased
// Table (subqueries welcome), with "?" placeholders and Args. Soft-deleted
// rows are excluded when Meta.SoftDelete is set. List the columns Where
// reads in Meta.Reads, so that the check is not applicable rather than
// failed where they are absent.
type SQL struct {
	Meta
	// Where selects the offending rows.
	Where string
	// Args are Where's arguments; an [EnumValue] becomes the live label.
	Args []any
	// Show are columns of Table to put in the details and description.
	Show []string

	*binding
}

// Name returns the check's name.
func (c SQL) Name() string { return c.Meta.Name }

func (c SQL) needs() map[string][]string {
	return map[string][]string{c.Table: slices.Clone(c.Show)}
}

// Bind adapts the check to m, resolving EnumValue arguments.
func (c SQL) Bind(m *catalog.Model) (Checker, error) {
	b, err := rowBinding(m, c.Table)
	if err != nil {
		return nil, err
	}
	args, err := bindArgs(m, c.Args)
	if err != nil {
		return nil, err
	}
	c.Args = args
	c.binding = b
	return c, nil
}

// Predicate returns Where (and the soft-delete filter).
func (c SQL) Predicate() (string, []any) { return and(c.live(c.Meta, ""), c.Where), c.Args }

// Check counts the rows matching Where and describes up to limit of them.
func (c SQL) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	if c.binding == nil {
		return bindCheck(ctx, db, c, limit)
	}
	where, args := c.Predicate()
	return rowQuery{meta: c.Meta, b: c.binding, where: where, args: args, cols: c.Show,
		describe: func(id string, v map[string]any) (string, map[string]any) {
			details := map[string]any{}
			var parts []string
			for _, s := range c.Show {
				details[s] = v[s]
				parts = append(parts, fmt.Sprintf("%s %s", s, show(v[s])))
			}
			desc := fmt.Sprintf("%s %s: %s", c.Table, id, c.Where)
			if len(parts) > 0 {
				desc = fmt.Sprintf("%s %s: %s", c.Table, id, strings.Join(parts, ", "))
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
	// Args are Where's arguments; an [EnumValue] becomes the live label.
	Args []any
	// Join, when set, joins other tables to Table (which stays unaliased),
	// such as "JOIN members ip2adb_m ON ip2adb_m.id = students.member_id";
	// qualify the columns of Keys and Where then. List the joined tables'
	// columns in Meta.Reads.
	Join string

	*binding
}

// Name returns the check's name.
func (c Unique) Name() string { return c.Meta.Name }

func (c Unique) needs() map[string][]string {
	var cols []string
	for _, k := range c.Keys {
		if k.Expr == "" {
			cols = append(cols, k.Name)
		}
	}
	return map[string][]string{c.Table: cols}
}

// Bind adapts the check to m, resolving EnumValue arguments. A unique
// constraint or index over exactly the key columns (not partial) enforces
// the rule when every key is a plain column.
func (c Unique) Bind(m *catalog.Model) (Checker, error) {
	args, err := bindArgs(m, c.Args)
	if err != nil {
		return nil, err
	}
	c.Args = args
	c.binding = &binding{model: m}
	var cols []string
	for _, k := range c.Keys {
		cols = append(cols, k.expr())
	}
	if c.Join == "" && len(c.needs()[c.Table]) == len(c.Keys) {
		if u := m.Table(c.Table).UniqueOn(cols...); u != nil {
			c.binding.enforced = []string{u.Name}
		}
	}
	return c, nil
}

// Check counts the duplicated keys and describes up to limit of them.
func (c Unique) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	if c.binding == nil {
		return bindCheck(ctx, db, c, limit)
	}
	q := ""
	if c.Join != "" {
		q = c.Table
	}
	preds := []string{c.live(c.Meta, q), c.Where}
	for _, k := range c.Keys {
		preds = append(preds, k.expr()+" IS NOT NULL")
	}
	return groupQuery{meta: c.Meta, from: strings.TrimSpace(c.Table + " " + c.Join), keys: c.Keys, where: and(preds...), args: c.Args, having: "count(*) > 1",
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
	// the newest when empty: bound to a schema, by the table's creation
	// time column (catalog.Table.Timestamps.CreatedAt) and then its primary
	// key, both descending, such as "created_at DESC, id DESC" — by the
	// primary key alone when the table has no creation time column;
	// unbound, "created_at DESC, id DESC". Unqualified columns. Bind
	// refuses a Keep naming a column the table lacks, so that the mistake
	// shows up front rather than as an SQL error when repairing.
	Keep string

	*binding
}

// Name returns the check's name.
func (c AtMostOne) Name() string { return c.Meta.Name }

func (c AtMostOne) needs() map[string][]string {
	return map[string][]string{c.Table: slices.Clone(c.GroupBy)}
}

// Bind adapts the check to m: the default Keep follows the table's
// creation time column and primary key; an explicit Keep must name
// columns the table has (an error otherwise). A table with neither a
// primary key nor an id column cannot tell the row to keep: the check is
// not applicable.
func (c AtMostOne) Bind(m *catalog.Model) (Checker, error) {
	b, err := rowBinding(m, c.Table)
	if err != nil {
		return nil, err
	}
	c.binding = b
	if c.Keep != "" {
		if miss := keepColumns(c.Keep); len(miss) > 0 {
			if r := m.Missing(c.Table, miss...); r != "" {
				return nil, fmt.Errorf("keep order %q: %s", c.Keep, r)
			}
		}
		return c, nil
	}
	var order []string
	if ts := m.Table(c.Table).Timestamps.CreatedAt; ts != "" {
		order = append(order, ts+" DESC")
	}
	for _, k := range b.key {
		order = append(order, k+" DESC")
	}
	c.Keep = strings.Join(order, ", ")
	return c, nil
}

// keepColumns returns the plain columns an ORDER BY list names, such as
// created_at and id of "created_at DESC NULLS LAST, id"; items that are
// expressions are left out (the database judges them).
func keepColumns(order string) []string {
	var cols, items []string
	depth, start := 0, 0
	for i, r := range order {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				items = append(items, order[start:i])
				start = i + 1
			}
		}
	}
	items = append(items, order[start:])
	for _, it := range items {
		f := strings.Fields(it)
		for len(f) > 1 && slices.Contains([]string{"ASC", "DESC", "NULLS", "FIRST", "LAST"}, strings.ToUpper(f[len(f)-1])) {
			f = f[:len(f)-1]
		}
		if len(f) == 1 && identifier.MatchString(f[0]) {
			cols = append(cols, f[0])
		}
	}
	return cols
}

// identifier matches a plain SQL identifier.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (c AtMostOne) filter() []string {
	preds := []string{c.live(c.Meta, ""), c.Where}
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
	key := c.rowKey()
	row, kept := key[0], "ip2adb_k."+key[0]
	if len(key) > 1 {
		row = "(" + strings.Join(key, ", ") + ")"
		kept = "ip2adb_k." + strings.Join(key, ", ip2adb_k.")
	}
	return and(append(c.filter(), fmt.Sprintf("%s <> (SELECT %s FROM %s ip2adb_k WHERE %s ORDER BY %s LIMIT 1)",
		row, kept, c.Table, inner, keep))...), nil
}

// Check counts the over-full groups and describes up to limit of them.
func (c AtMostOne) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	if c.binding == nil {
		return bindCheck(ctx, db, c, limit)
	}
	keys := Columns(c.GroupBy...)
	return groupQuery{meta: c.Meta, from: c.Table, keys: keys, where: and(c.filter()...), having: "count(*) > 1",
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
	// Args are Where's arguments; an [EnumValue] becomes the live label.
	Args []any
	// Threshold is the count the anomaly must exceed; 0 reports any row.
	Threshold int
	// Text writes the issue's description from the count; a generic
	// sentence when nil.
	Text func(n int) string

	*binding
}

// Name returns the check's name.
func (c Aggregate) Name() string { return c.Meta.Name }

// Bind adapts the check to m, resolving EnumValue arguments.
func (c Aggregate) Bind(m *catalog.Model) (Checker, error) {
	args, err := bindArgs(m, c.Args)
	if err != nil {
		return nil, err
	}
	c.Args = args
	c.binding = &binding{model: m}
	return c, nil
}

// Check counts the matching rows.
func (c Aggregate) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	if c.binding == nil {
		return bindCheck(ctx, db, c, limit)
	}
	stmt := fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", c.Table, and(c.live(c.Meta, ""), c.Where))
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
// turned into a soft delete by the repairer. Bound to a schema where the
// repaired column is of an enum type, a string Value is written as the
// live label (by c's Labels when c is a [OneOf] over that column, else the
// label equal to it ignoring case).
func WithFix(c Predicater, r Repair) Repairable { return fixed{Predicater: c, r: r} }

type fixed struct {
	Predicater
	r     Repair
	bound bool
}

func (f fixed) needs() map[string][]string {
	n := Needs(f.Predicater)
	if f.r.Column != "" {
		t := f.Describe().Table
		n[t] = append(n[t], f.r.Column)
	}
	return n
}

// Bind binds the check and the repair's value to m.
func (f fixed) Bind(m *catalog.Model) (Checker, error) {
	b, err := Bind(m, f.Predicater)
	if err != nil {
		return nil, err
	}
	p, ok := b.(Predicater)
	if !ok {
		return nil, fmt.Errorf("bound check %s is not a Predicater", f.Name())
	}
	f.Predicater, f.bound = p, true
	if v, ok := f.r.Value.(string); ok && f.r.Action == ip2adb.ActionSetValue {
		var labels map[string]string
		if o, ok := p.(OneOf); ok && o.Column == f.r.Column {
			labels = o.Labels
		}
		l, err := liveLabel(m, f.Describe().Table, f.r.Column, v, labels)
		if err != nil {
			return nil, fmt.Errorf("repair value: %w", err)
		}
		f.r.Value = l
	}
	return f, nil
}

func (f fixed) enforcedBy() string {
	if e, ok := f.Predicater.(enforcer); ok {
		return e.enforcedBy()
	}
	return ""
}

func (f fixed) note() string {
	if e, ok := f.Predicater.(enforcer); ok {
		return e.note()
	}
	return ""
}

func (f fixed) Fix() ip2adb.Fix {
	where, args := f.Predicate()
	return ip2adb.Fix{Action: f.r.Action, Table: f.Describe().Table, Column: f.r.Column, Value: f.r.Value,
		Where: where, Args: args}
}

func (f fixed) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	if !f.bound {
		return bindCheck(ctx, db, f, limit)
	}
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

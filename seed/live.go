package seed

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb/ip2a"
)

// liveCol is what the seed needs to know of one column of the live schema.
type liveCol struct {
	name string
	// kind is the column's type family: "text", "integer", "numeric",
	// "boolean", "date", "timestamp", "enum" or "other" (with typ naming it).
	kind string
	typ  string
	// labels are the enum's labels in order (kind "enum").
	labels []string
	// maxLen bounds a varchar's characters; 0 is unbounded.
	maxLen     int
	notNull    bool
	hasDefault bool
	// unique: a unique index or constraint covers this column alone.
	unique bool
	// references names the table a single-column foreign key points at.
	references string
}

// liveTable is one table of the live schema, its columns in order.
type liveTable struct {
	name string
	cols []*liveCol
}

func (t *liveTable) col(name string) *liveCol {
	if t == nil {
		return nil
	}
	for _, c := range t.cols {
		if c.name == name {
			return c
		}
	}
	return nil
}

// liveSchema is the part of the database's schema the seed adapts to: the
// tables it fills and, for truncation, every table that references them.
type liveSchema struct {
	tables map[string]*liveTable
	// referencedBy maps a table to the tables whose foreign keys point at it.
	referencedBy map[string][]string
}

func (s *liveSchema) table(name string) *liveTable {
	if s == nil {
		return nil
	}
	return s.tables[name]
}

// col returns table.column, nil when either is absent.
func (s *liveSchema) col(table, column string) *liveCol { return s.table(table).col(column) }

// eraseSet returns tables and, transitively, every table that references
// them: what one TRUNCATE must name to empty tables.
func (s *liveSchema) eraseSet(tables []string) []string {
	out := slices.Clone(tables)
	seen := map[string]bool{}
	for _, t := range tables {
		seen[t] = true
	}
	for i := 0; i < len(out); i++ {
		if s == nil {
			break
		}
		refs := slices.Clone(s.referencedBy[out[i]])
		slices.Sort(refs)
		for _, r := range refs {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// seedSynonyms maps the seed's own words to the words an enum of the live
// schema may use instead: the student and grievance states of the seed.
var seedSynonyms = map[string][]string{
	"active":        {"enrolled"},
	"graduated":     {"completed"},
	"withdrawn":     {"dropped", "withdrawn"},
	"investigating": {"investigation"},
	"resolved":      {"settled", "closed"},
}

// enumLabel returns the label of labels that stands for the seed's value v:
// its IP2A value↔label pair (pairs, such as apprentice_1 ↔
// APPRENTICE_1ST_YEAR), the same word in any case, a synonym, or else one
// label picked by a hash of v (so the same value always gets the same
// label). Integers (a score of 1-5) pick the n-th label.
func enumLabel(labels []string, pairs map[string]string, v any) any {
	if len(labels) == 0 {
		return v
	}
	switch x := v.(type) {
	case int:
		return labels[(max(x, 1)-1)%len(labels)]
	case int64:
		return labels[(max(int(x), 1)-1)%len(labels)]
	case string:
		if l, ok := pairs[x]; ok && slices.Contains(labels, l) {
			return l
		}
		if slices.Contains(labels, x) {
			return x
		}
		for _, l := range labels {
			if strings.EqualFold(l, x) {
				return l
			}
		}
		for _, syn := range seedSynonyms[strings.ToLower(x)] {
			for _, l := range labels {
				if strings.EqualFold(l, syn) {
					return l
				}
			}
		}
		h := fnv.New32a()
		h.Write([]byte(x))
		return labels[int(h.Sum32()%uint32(len(labels)))]
	}
	return v
}

// colOp produces one column of an adapted row.
type colOp struct {
	src    int // index in the generated row; -1 when the seed does not generate it
	labels []string
	pairs  map[string]string
	maxLen int
	// fill gives a value for a NOT NULL column the generated row leaves
	// NULL (or does not have); nil leaves NULL.
	fill func(row []any) any
}

// adapter turns generated rows (columns(table)) into rows of the live
// table (cols): it drops what the table lacks, maps enum values to the
// live labels, fills NOT NULL columns the seed does not generate, and cuts
// text to the column's length.
type adapter struct {
	cols []string
	ops  []colOp
}

func (a *adapter) apply(row []any) []any {
	out := make([]any, len(a.ops))
	for i, op := range a.ops {
		var v any
		if op.src >= 0 {
			v = row[op.src]
		}
		if v == nil {
			if op.fill != nil {
				out[i] = op.fill(row)
			}
			continue
		}
		if op.labels != nil {
			v = enumLabel(op.labels, op.pairs, v)
		}
		if s, ok := v.(string); ok && op.maxLen > 0 && len(s) > op.maxLen {
			if r := []rune(s); len(r) > op.maxLen {
				v = string(r[:op.maxLen])
			}
		}
		out[i] = v
	}
	return out
}

// projectionOnly reports whether a only leaves out generated columns: no
// value is filled in or relabelled.
func (a *adapter) projectionOnly() bool {
	for _, op := range a.ops {
		if op.src < 0 || op.labels != nil {
			return false
		}
	}
	return true
}

// columnAliases maps a generated column to the live column that holds the
// same fact under another name in the real IP2A schema.
var columnAliases = map[string]map[string]string{
	"grievances": {"organization_id": "employer_id", "title": "violation_description"},
	"locations":  {"zip_code": "postal_code"},
}

// newAdapter builds the adapter of table for the live schema; nil when the
// live table takes the generated rows as they are (ip2adb's own schema).
func (p *plan) newAdapter(table string) (*adapter, error) {
	lt := p.live.table(table)
	if lt == nil {
		return nil, nil
	}
	gen := columns(table)
	srcOf := map[string]int{}
	for i, c := range gen {
		srcOf[c] = i
	}
	for from, to := range columnAliases[table] {
		if lt.col(from) == nil && lt.col(to) != nil {
			if i, ok := srcOf[from]; ok {
				srcOf[to] = i
			}
		}
	}
	a := &adapter{}
	identity := len(lt.cols) >= len(gen)
	for _, c := range lt.cols {
		src, generated := srcOf[c.name]
		if !generated {
			src = -1
		}
		op := colOp{src: src, maxLen: c.maxLen}
		if c.kind == "enum" {
			op.labels, op.pairs = c.labels, ip2a.EnumLabels()[table+"."+c.name]
			identity = false
		}
		if c.notNull {
			fill, err := p.filler(table, c)
			if err != nil {
				return nil, err
			}
			op.fill = fill
		}
		if !generated {
			if !c.notNull || c.hasDefault {
				continue // NULL or its default
			}
			identity = false
		}
		a.cols = append(a.cols, c.name)
		a.ops = append(a.ops, op)
	}
	if identity && len(a.cols) == len(gen) {
		for i, c := range a.cols {
			if gen[i] != c {
				identity = false
			}
		}
		if identity {
			return nil, nil
		}
	}
	return a, nil
}

// filler returns how to fill NOT NULL column c of table when the generated
// row leaves it NULL: a parent id for a foreign key, the first enum label,
// the seed's clock for timestamps, and plain values by type.
func (p *plan) filler(table string, c *liveCol) (func([]any) any, error) {
	now := p.now.Format(time.DateTime)
	if c.references != "" {
		base, n, ok := p.idRange(c.references)
		if !ok || n == 0 {
			return nil, fmt.Errorf("%s.%s must reference %s, which the seed does not fill", table, c.name, c.references)
		}
		self, _, _ := p.idRange(table)
		return func(row []any) any { return base + (row[0].(int64)-self-1)%n + 1 }, nil
	}
	switch c.kind {
	case "enum":
		l := c.labels[0]
		return func([]any) any { return l }, nil
	case "timestamp":
		return func([]any) any { return now }, nil
	case "date":
		d := date(p.today)
		return func([]any) any { return d }, nil
	case "boolean":
		v := c.name == "is_active"
		return func([]any) any { return v }, nil
	case "integer", "numeric":
		return func([]any) any { return int64(0) }, nil
	case "text":
		name := c.name
		return func(row []any) any { return name + " " + strconv.FormatInt(row[0].(int64), 10) }, nil
	}
	return nil, fmt.Errorf("seed cannot fill the NOT NULL column %s.%s of type %s", table, c.name, c.typ)
}

// idRange returns the ids the plan gives table: the first is base+1, n rows.
func (p *plan) idRange(table string) (base, n int64, ok bool) {
	switch table {
	case "locations":
		return p.off.locations, int64(p.vol.Locations), true
	case "instructors":
		return p.off.instructors, int64(p.vol.Instructors), true
	case "organizations":
		return p.off.organizations, int64(p.employers), true // employers first
	case "organization_contacts":
		return p.off.contacts, p.totals[table], true
	case "members":
		return p.off.members, int64(p.vol.Members), true
	case "member_employments":
		return p.off.employments, p.totals[table], true
	case "students":
		return p.off.students, int64(p.vol.Students), true
	case "grievances":
		return p.off.grievances, int64(p.grievs), true
	case "file_attachments":
		return p.off.attachments, p.totals[table], true
	}
	return 0, 0, false
}

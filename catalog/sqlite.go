package catalog

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/jmoiron/sqlx"
)

// The SQLite catalog queries: the pragma table-valued functions joined to
// sqlite_schema, one query per kind of object for every table at once.

const sqliteColumns = `
SELECT m.name, m.sql, p.name, p.type, p."notnull", COALESCE(p.dflt_value, ''), p.pk
FROM sqlite_schema m JOIN pragma_table_xinfo(m.name) p
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
  AND m.sql NOT LIKE 'CREATE VIRTUAL%' AND p.hidden <> 1
ORDER BY m.name, p.cid`

const sqliteForeignKeys = `
SELECT m.name, f.id, f."table", f."from", COALESCE(f."to", ''), f.on_delete
FROM sqlite_schema m JOIN pragma_foreign_key_list(m.name) f
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
ORDER BY m.name, f.id, f.seq`

const sqliteIndexes = `
SELECT m.name, il.name, il.origin, COALESCE(ix.sql, ''), COALESCE(ii.name, '')
FROM sqlite_schema m
JOIN pragma_index_list(m.name) il
JOIN pragma_index_info(il.name) ii
LEFT JOIN sqlite_schema ix ON ix.type = 'index' AND ix.name = il.name
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND il."unique" AND il.origin <> 'pk'
ORDER BY m.name, il.name, ii.seqno`

func readSQLite(ctx context.Context, db Queryer, _ string) (*Model, error) {
	m := &Model{Dialect: SQLite, Schema: "main", Tables: map[string]*Table{}, Enums: map[string]*Enum{}}
	var fk int
	if err := sqlx.GetContext(ctx, db, &fk, "PRAGMA foreign_keys"); err != nil {
		return nil, fmt.Errorf("foreign_keys pragma: %w", err)
	}
	m.ForeignKeysEnforced = fk == 1

	rows, err := db.QueryContext(ctx, sqliteColumns)
	if err != nil {
		return nil, fmt.Errorf("columns: %w", err)
	}
	ddl := map[string]string{}
	pk := map[string][]struct {
		n   int
		col string
	}{}
	err = scanAll(rows, func() error {
		var table, create string
		var c Column
		var pos int
		if err := rows.Scan(&table, &create, &c.Name, &c.Type, &c.NotNull, &c.Default, &pos); err != nil {
			return err
		}
		if ownTable(table) {
			return nil
		}
		t := m.Tables[table]
		if t == nil {
			t = &Table{Name: table}
			m.Tables[table] = t
			ddl[table] = create
		}
		c.Text = textAffinity(c.Type)
		t.Columns = append(t.Columns, c)
		if pos > 0 {
			pk[table] = append(pk[table], struct {
				n   int
				col string
			}{pos, c.Name})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("columns: %w", err)
	}
	for table, cols := range pk {
		slices.SortFunc(cols, func(a, b struct {
			n   int
			col string
		}) int {
			return a.n - b.n
		})
		for _, c := range cols {
			m.Tables[table].PrimaryKey.Columns = append(m.Tables[table].PrimaryKey.Columns, c.col)
		}
	}
	for table, create := range ddl {
		t := m.Tables[table]
		t.Checks = parseChecks(create, t)
	}

	rows, err = db.QueryContext(ctx, sqliteForeignKeys)
	if err != nil {
		return nil, fmt.Errorf("foreign keys: %w", err)
	}
	lastID := map[string]int{}
	err = scanAll(rows, func() error {
		var table, ref, from, to, onDelete string
		var id int
		if err := rows.Scan(&table, &id, &ref, &from, &to, &onDelete); err != nil {
			return err
		}
		t := m.Tables[table]
		if t == nil {
			return nil
		}
		if n, ok := lastID[table]; !ok || n != id {
			t.ForeignKeys = append(t.ForeignKeys, ForeignKey{RefTable: ref, OnDelete: onDelete, Validated: true})
			lastID[table] = id
		}
		f := &t.ForeignKeys[len(t.ForeignKeys)-1]
		f.Columns = append(f.Columns, from)
		f.RefColumns = append(f.RefColumns, to)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("foreign keys: %w", err)
	}
	// A reference without columns names the parent's primary key.
	for _, t := range m.Tables {
		for i := range t.ForeignKeys {
			f := &t.ForeignKeys[i]
			if p := m.Tables[f.RefTable]; p != nil && slices.Contains(f.RefColumns, "") {
				f.RefColumns = slices.Clone(p.PrimaryKey.Columns)
			}
		}
	}

	rows, err = db.QueryContext(ctx, sqliteIndexes)
	if err != nil {
		return nil, fmt.Errorf("unique indexes: %w", err)
	}
	err = scanAll(rows, func() error {
		var table, name, origin, create, col string
		if err := rows.Scan(&table, &name, &origin, &create, &col); err != nil {
			return err
		}
		t := m.Tables[table]
		if t == nil {
			return nil
		}
		if n := len(t.Unique); n == 0 || t.Unique[n-1].Name != name {
			t.Unique = append(t.Unique, Unique{Name: name, Constraint: origin == "u", Where: partialWhere(create)})
		}
		u := &t.Unique[len(t.Unique)-1]
		u.Columns = append(u.Columns, col)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("unique indexes: %w", err)
	}
	return m, nil
}

// textAffinity applies SQLite's type affinity rules: a declared type
// containing CHAR, CLOB or TEXT (and not INT) has TEXT affinity.
func textAffinity(typ string) bool {
	t := strings.ToUpper(typ)
	if strings.Contains(t, "INT") {
		return false
	}
	return strings.Contains(t, "CHAR") || strings.Contains(t, "CLOB") || strings.Contains(t, "TEXT")
}

// partialWhere returns the predicate of a CREATE INDEX … WHERE statement;
// "" when it has none.
func partialWhere(create string) string {
	for _, tk := range tokens(create) {
		if tk.word && strings.EqualFold(tk.text, "WHERE") {
			return strings.TrimSpace(create[tk.end:])
		}
	}
	return ""
}

// parseChecks finds the CHECK constraints in a CREATE TABLE statement
// (SQLite keeps no catalog of them): each CHECK (…) with its optional
// CONSTRAINT name, and the table's columns its expression names.
func parseChecks(create string, t *Table) []Check {
	toks := tokens(create)
	var out []Check
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		if !tk.word || !strings.EqualFold(tk.text, "CHECK") || i+1 >= len(toks) || toks[i+1].text != "(" {
			continue
		}
		depth, j := 0, i+1
		for ; j < len(toks); j++ {
			switch toks[j].text {
			case "(":
				depth++
			case ")":
				depth--
			}
			if depth == 0 {
				break
			}
		}
		if j == len(toks) {
			break // unbalanced: not a statement SQLite accepted
		}
		c := Check{Expr: "CHECK " + create[toks[i+1].start:toks[j].end], Validated: true}
		if i >= 2 && toks[i-2].word && strings.EqualFold(toks[i-2].text, "CONSTRAINT") {
			c.Name = toks[i-1].ident()
		}
		var named []string
		for _, e := range toks[i+2 : j] {
			if e.word || e.quoted {
				named = append(named, e.ident())
			}
		}
		for _, col := range t.Columns {
			if slices.ContainsFunc(named, func(n string) bool { return strings.EqualFold(n, col.Name) }) {
				c.Columns = append(c.Columns, col.Name)
			}
		}
		out = append(out, c)
		i = j
	}
	return out
}

// token is one lexical token of an SQL statement.
type token struct {
	text       string
	start, end int
	word       bool // an unquoted identifier or keyword
	quoted     bool // a "quoted", `quoted` or [quoted] identifier
	str        bool // a 'string literal'
}

// ident returns the identifier a word or quoted token names.
func (t token) ident() string {
	if !t.quoted {
		return t.text
	}
	inner := t.text[1 : len(t.text)-1]
	switch t.text[0] {
	case '"':
		return strings.ReplaceAll(inner, `""`, `"`)
	case '`':
		return strings.ReplaceAll(inner, "``", "`")
	}
	return inner
}

// tokens splits an SQL statement into words, quoted identifiers, string
// literals and single punctuation characters, skipping comments.
func tokens(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += end + 4
		case unicode.IsSpace(rune(c)):
			i++
		case c == '\'' || c == '"' || c == '`' || c == '[':
			closer := c
			if c == '[' {
				closer = ']'
			}
			j := i + 1
			for j < len(s) {
				if s[j] == closer {
					if closer != ']' && j+1 < len(s) && s[j+1] == closer {
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(s))
			out = append(out, token{text: s[i:end], start: i, end: end, str: c == '\'', quoted: c != '\''})
			i = end
		case c == '_' || c >= 0x80 || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)):
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] >= 0x80 || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			word := !unicode.IsDigit(rune(c))
			out = append(out, token{text: s[i:j], start: i, end: j, word: word})
			i = j
		default:
			out = append(out, token{text: s[i : i+1], start: i, end: i + 1})
			i++
		}
	}
	return out
}

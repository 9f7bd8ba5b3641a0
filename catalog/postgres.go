package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"
)

// The PostgreSQL catalog queries. Each reads one kind of object for every
// table of the schema at once; arrays come back as JSON text so that any
// driver can scan them.

const pgColumns = `
SELECT c.relname, COALESCE(a.attname, ''), COALESCE(format_type(a.atttypid, a.atttypmod), ''),
       COALESCE(a.attnotnull, FALSE), COALESCE(pg_get_expr(d.adbin, d.adrelid), ''),
       COALESCE(bt.typtype = 'e', FALSE), COALESCE(bt.typcategory = 'S', FALSE),
       COALESCE(btn.nspname, ''), COALESCE(bt.typname, '')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_namespace btn ON btn.oid = bt.typnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname, a.attnum`

const pgEnums = `
SELECT n.nspname, t.typname, e.enumlabel
FROM pg_enum e
JOIN pg_type t ON t.oid = e.enumtypid
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = $1 OR t.oid IN (
    SELECT CASE WHEN ct.typtype = 'd' THEN ct.typbasetype ELSE ct.oid END
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace cn ON cn.oid = c.relnamespace
    JOIN pg_type ct ON ct.oid = a.atttypid
    WHERE cn.nspname = $1 AND a.attnum > 0 AND c.relkind IN ('r', 'p'))
ORDER BY n.nspname, t.typname, e.enumsortorder`

const pgConstraints = `
SELECT c.relname, con.conname, con.contype::text, con.convalidated,
       array_to_json(ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
           JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord))::text,
       COALESCE(fn.nspname, ''), COALESCE(fc.relname, ''),
       array_to_json(ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
           JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.ord))::text,
       con.confdeltype::text, pg_get_constraintdef(con.oid)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE n.nspname = $1 AND con.contype IN ('p', 'u', 'f', 'c') AND c.relkind IN ('r', 'p')
ORDER BY c.relname, con.conname`

// pgUniqueIndexes are the valid unique indexes that back no constraint.
const pgUniqueIndexes = `
SELECT c.relname, i.relname,
       array_to_json(ARRAY(SELECT COALESCE(a.attname, '') FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(num, ord)
           LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.num
           WHERE k.ord <= ix.indnkeyatts ORDER BY k.ord))::text,
       COALESCE(pg_get_expr(ix.indpred, ix.indrelid), '')
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class c ON c.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND ix.indisunique AND ix.indisvalid AND NOT ix.indisprimary AND c.relkind IN ('r', 'p')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid AND con.contype IN ('p', 'u'))
ORDER BY c.relname, i.relname`

func readPostgres(ctx context.Context, db Queryer, schema string) (*Model, error) {
	if schema == "" {
		var cur sql.NullString
		if err := sqlx.GetContext(ctx, db, &cur, "SELECT current_schema()"); err != nil {
			return nil, fmt.Errorf("current schema: %w", err)
		}
		if !cur.Valid {
			return nil, errors.New("no current schema: the search_path names no existing schema")
		}
		schema = cur.String
	}
	m := &Model{Dialect: Postgres, Schema: schema, Tables: map[string]*Table{}, Enums: map[string]*Enum{},
		ForeignKeysEnforced: true}
	enumKey := func(nsp, name string) string {
		if nsp == schema {
			return name
		}
		return nsp + "." + name
	}

	rows, err := db.QueryContext(ctx, pgColumns, schema)
	if err != nil {
		return nil, fmt.Errorf("columns: %w", err)
	}
	err = scanAll(rows, func() error {
		var table, tnsp, tname string
		var c Column
		var enum bool
		if err := rows.Scan(&table, &c.Name, &c.Type, &c.NotNull, &c.Default, &enum, &c.Text, &tnsp, &tname); err != nil {
			return err
		}
		if ownTable(table) {
			return nil
		}
		t := m.Tables[table]
		if t == nil {
			t = &Table{Name: table}
			m.Tables[table] = t
		}
		if c.Name == "" {
			return nil // a table without columns
		}
		if enum {
			c.Enum = enumKey(tnsp, tname)
		}
		t.Columns = append(t.Columns, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("columns: %w", err)
	}

	rows, err = db.QueryContext(ctx, pgEnums, schema)
	if err != nil {
		return nil, fmt.Errorf("enum types: %w", err)
	}
	err = scanAll(rows, func() error {
		var nsp, name, label string
		if err := rows.Scan(&nsp, &name, &label); err != nil {
			return err
		}
		k := enumKey(nsp, name)
		e := m.Enums[k]
		if e == nil {
			e = &Enum{Schema: nsp, Name: name}
			m.Enums[k] = e
		}
		e.Labels = append(e.Labels, label)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("enum types: %w", err)
	}

	rows, err = db.QueryContext(ctx, pgConstraints, schema)
	if err != nil {
		return nil, fmt.Errorf("constraints: %w", err)
	}
	err = scanAll(rows, func() error {
		var table, name, typ, keyJSON, refNsp, refTable, refJSON, onDelete, def string
		var valid bool
		if err := rows.Scan(&table, &name, &typ, &valid, &keyJSON, &refNsp, &refTable, &refJSON, &onDelete, &def); err != nil {
			return err
		}
		t := m.Tables[table]
		if t == nil {
			return nil
		}
		var cols, refCols []string
		if err := json.Unmarshal([]byte(keyJSON), &cols); err != nil {
			return fmt.Errorf("columns of %s: %w", name, err)
		}
		if err := json.Unmarshal([]byte(refJSON), &refCols); err != nil {
			return fmt.Errorf("referenced columns of %s: %w", name, err)
		}
		switch typ {
		case "p":
			t.PrimaryKey = Key{Name: name, Columns: cols}
		case "u":
			t.Unique = append(t.Unique, Unique{Name: name, Columns: cols, Constraint: true})
		case "f":
			if refNsp != schema {
				refTable = refNsp + "." + refTable
			}
			t.ForeignKeys = append(t.ForeignKeys, ForeignKey{Name: name, Columns: cols, RefTable: refTable,
				RefColumns: refCols, OnDelete: pgAction(onDelete), Validated: valid})
		case "c":
			t.Checks = append(t.Checks, Check{Name: name, Columns: t.inTableOrder(cols), Expr: def, Validated: valid})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("constraints: %w", err)
	}

	rows, err = db.QueryContext(ctx, pgUniqueIndexes, schema)
	if err != nil {
		return nil, fmt.Errorf("unique indexes: %w", err)
	}
	err = scanAll(rows, func() error {
		var table, name, colJSON, where string
		if err := rows.Scan(&table, &name, &colJSON, &where); err != nil {
			return err
		}
		t := m.Tables[table]
		if t == nil {
			return nil
		}
		var cols []string
		if err := json.Unmarshal([]byte(colJSON), &cols); err != nil {
			return fmt.Errorf("columns of %s: %w", name, err)
		}
		t.Unique = append(t.Unique, Unique{Name: name, Columns: cols, Where: where})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("unique indexes: %w", err)
	}
	for _, t := range m.Tables {
		slices.SortStableFunc(t.Unique, func(a, b Unique) int {
			switch {
			case a.Name < b.Name:
				return -1
			case a.Name > b.Name:
				return 1
			}
			return 0
		})
	}
	return m, nil
}

// pgAction spells pg_constraint.confdeltype.
func pgAction(c string) string {
	switch c {
	case "r":
		return "RESTRICT"
	case "c":
		return "CASCADE"
	case "n":
		return "SET NULL"
	case "d":
		return "SET DEFAULT"
	}
	return "NO ACTION"
}

// inTableOrder returns cols sorted by their position in t.
func (t *Table) inTableOrder(cols []string) []string {
	var out []string
	for _, c := range t.Columns {
		if slices.Contains(cols, c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

// scanAll calls scan for every row and closes rows.
func scanAll(rows *sql.Rows, scan func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(); err != nil {
			return err
		}
	}
	return rows.Err()
}

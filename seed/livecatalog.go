package seed

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ip2adb/ip2adb/catalog"
	"github.com/jmoiron/sqlx"
)

// readLive reads the live schema from the database's catalog.
func readLive(ctx context.Context, db *sqlx.DB) (*liveSchema, error) {
	m, err := catalog.Read(ctx, db, catalog.Options{})
	if err != nil {
		return nil, fmt.Errorf("seed: read the schema: %w", err)
	}
	return liveFromModel(m), nil
}

var typeLength = regexp.MustCompile(`^(?:character varying|varchar|character|char|nvarchar|nchar)\s*\((\d+)\)`)

// liveFromModel keeps what the seed needs of the schema model m.
func liveFromModel(m *catalog.Model) *liveSchema {
	s := &liveSchema{tables: map[string]*liveTable{}, referencedBy: map[string][]string{}}
	for _, name := range m.TableNames() {
		t := m.Tables[name]
		lt := &liveTable{name: name}
		for _, c := range t.Columns {
			lc := &liveCol{name: c.Name, typ: c.Type, notNull: c.NotNull, hasDefault: c.Default != ""}
			typ := strings.ToLower(strings.TrimSpace(c.Type))
			switch {
			case c.Enum != "":
				lc.kind = "enum"
				if e := m.Enums[c.Enum]; e != nil {
					lc.labels = e.Labels
				}
				if len(lc.labels) == 0 {
					lc.kind = "other"
				}
			case c.Text:
				lc.kind = "text"
				if m.Dialect == catalog.Postgres {
					if g := typeLength.FindStringSubmatch(typ); g != nil {
						lc.maxLen, _ = strconv.Atoi(g[1])
					}
				}
			case strings.HasPrefix(typ, "bool"):
				lc.kind = "boolean"
			case strings.HasPrefix(typ, "timestamp") || strings.HasPrefix(typ, "datetime"):
				lc.kind = "timestamp"
			case typ == "date":
				lc.kind = "date"
			case strings.Contains(typ, "int") || strings.Contains(typ, "serial"):
				lc.kind = "integer"
			case strings.HasPrefix(typ, "numeric") || strings.HasPrefix(typ, "decimal") || strings.HasPrefix(typ, "real") ||
				strings.HasPrefix(typ, "double") || strings.HasPrefix(typ, "float"):
				lc.kind = "numeric"
			case m.Dialect == catalog.SQLite && typ == "":
				lc.kind = "text" // no declared type: SQLite stores anything
			default:
				lc.kind = "other"
			}
			if u := t.UniqueOn(c.Name); u != nil {
				lc.unique = true
			}
			if fk := t.ForeignKeyOn(c.Name); fk != nil && (m.Dialect == catalog.Postgres || m.ForeignKeysEnforced) {
				lc.references = fk.RefTable
			}
			lt.cols = append(lt.cols, lc)
		}
		s.tables[name] = lt
		for _, fk := range t.ForeignKeys {
			if fk.RefTable != name && !slices.Contains(s.referencedBy[fk.RefTable], name) {
				s.referencedBy[fk.RefTable] = append(s.referencedBy[fk.RefTable], name)
			}
		}
	}
	return s
}

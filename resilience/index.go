package resilience

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// IndexRef names an index of a table.
type IndexRef struct {
	Table string `db:"table_name" json:"table"`
	Index string `db:"index_name" json:"index"`
}

// IndexHealth returns the index_health probe.
//
// On PostgreSQL: indexes never scanned (pg_stat_user_indexes.idx_scan = 0;
// primary keys and unique indexes excluded) are info with their count;
// invalid indexes (pg_index.indisvalid = false, e.g. a failed CREATE INDEX
// CONCURRENTLY) are a warning each; duplicate indexes (same table, same
// columns, operator classes, expressions and predicate) are a warning per
// group; and, where amcheck is installed, every table of the schema is
// verified with verify_heapam and every valid B-tree index with
// bt_index_check(…, heapallindexed => true), within AmcheckBytes and
// AmcheckTime per run, resuming next run where this one stopped (the state
// is kept under LogDir/resilience_metrics). Corruption is critical. amcheck
// is installed only with CreateExtension; without it, or without the rights
// to run it, an info finding names the command that makes it usable.
//
// On SQLite: PRAGMA integrity_check (any problem is critical), PRAGMA
// foreign_key_check (violations are a warning), duplicate indexes as
// above, and an info finding that index usage statistics and invalid-index
// detection are not supported on sqlite.
func IndexHealth(opt Options) Probe {
	o := opt.withDefaults()
	return standard(ip2adb.CategoryIndexHealth, func(ctx context.Context, env Env) (Result, error) {
		db, err := env.db()
		if err != nil {
			return Result{}, err
		}
		health := dbx.PerDialect[func() (Result, error)]{
			Postgres: func() (Result, error) { return indexHealthPostgres(ctx, env, db, o) },
			SQLite:   func() (Result, error) { return indexHealthSQLite(ctx, db) },
		}.For(dbx.DialectOf(db))
		return health()
	})
}

const indexName = ip2adb.CategoryIndexHealth

func duplicateFinding(table string, group []string) ip2adb.Issue {
	is := finding(indexName, ip2adb.Warning, table,
		fmt.Sprintf("Indexes %s on %s index the same columns", strings.Join(group, ", "), table),
		"Drop all but one of them (keep a unique or primary one): duplicates slow every write and waste space.",
		map[string]any{"indexes": group})
	is.Key = map[string]any{"indexes": strings.Join(group, ",")}
	return is
}

func indexHealthPostgres(ctx context.Context, env Env, db *sqlx.DB, o Options) (Result, error) {
	var res Result
	var unused []IndexRef
	if err := db.SelectContext(ctx, &unused, `SELECT s.relname AS table_name, s.indexrelname AS index_name
		FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
		WHERE s.idx_scan = 0 AND NOT i.indisprimary AND NOT i.indisunique AND s.schemaname = current_schema()
		ORDER BY s.relname, s.indexrelname`); err != nil {
		return res, fmt.Errorf("unused indexes: %w", err)
	}
	var invalid []IndexRef
	if err := db.SelectContext(ctx, &invalid, `SELECT t.relname AS table_name, c.relname AS index_name
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE NOT i.indisvalid AND n.nspname = current_schema() ORDER BY t.relname, c.relname`); err != nil {
		return res, fmt.Errorf("invalid indexes: %w", err)
	}
	var dups []struct {
		Table   string      `db:"table_name"`
		Indexes jsonStrings `db:"indexes"`
	}
	if err := db.SelectContext(ctx, &dups, `SELECT t.relname AS table_name, json_agg(c.relname::text ORDER BY c.relname)::text AS indexes
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema()
		GROUP BY t.relname, i.indkey::text, i.indclass::text, i.indcollation::text,
			coalesce(pg_get_expr(i.indexprs, i.indrelid), ''), coalesce(pg_get_expr(i.indpred, i.indrelid), '')
		HAVING count(*) > 1 ORDER BY t.relname, 2`); err != nil {
		return res, fmt.Errorf("duplicate indexes: %w", err)
	}
	if len(unused) > 0 {
		res.Findings = append(res.Findings, finding(indexName, ip2adb.Info, "",
			fmt.Sprintf("%d indexes have never been scanned since statistics were last reset", len(unused)),
			"After a representative period of use, drop indexes that stay unused: each one slows writes. Statistics start at zero after a reset or restore.",
			map[string]any{"count": len(unused), "indexes": unused}))
	}
	for _, ix := range invalid {
		is := finding(indexName, ip2adb.Warning, ix.Table,
			fmt.Sprintf("Index %s on %s is invalid (a failed or interrupted build): it is not used and, if unique, enforces nothing", ix.Index, ix.Table),
			fmt.Sprintf("Rebuild it: REINDEX INDEX CONCURRENTLY %s (or DROP INDEX and create it again).", ix.Index),
			map[string]any{"index": ix.Index})
		is.Key = map[string]any{"index": ix.Index}
		res.Findings = append(res.Findings, is)
	}
	for _, d := range dups {
		res.Findings = append(res.Findings, duplicateFinding(d.Table, []string(d.Indexes)))
	}

	am, err := verifyRelations(ctx, env, db, o)
	if err != nil {
		return res, err
	}
	res.Findings = append(res.Findings, am.findings...)
	res.Metrics = map[string]any{"unused": len(unused), "invalid": len(invalid), "duplicate_groups": len(dups)}
	for k, v := range am.metrics {
		res.Metrics[k] = v
	}
	res.Summary = fmt.Sprintf("%d unused, %d invalid, %d duplicate groups; %s",
		len(unused), len(invalid), len(dups), am.summary)
	return res, nil
}

func indexHealthSQLite(ctx context.Context, db *sqlx.DB) (Result, error) {
	var res Result
	var problems []string
	if err := db.SelectContext(ctx, &problems, "PRAGMA integrity_check"); err != nil {
		return res, fmt.Errorf("integrity_check: %w", err)
	}
	if len(problems) == 1 && problems[0] == "ok" {
		problems = nil
	}
	var fk []struct {
		Table  string `db:"table"`
		RowID  *int64 `db:"rowid"`
		Parent string `db:"parent"`
		FKID   int64  `db:"fkid"`
	}
	if err := db.SelectContext(ctx, &fk, "PRAGMA foreign_key_check"); err != nil {
		return res, fmt.Errorf("foreign_key_check: %w", err)
	}
	groups, err := sqliteDuplicateIndexes(ctx, db)
	if err != nil {
		return res, err
	}
	if len(problems) > 0 {
		shown := problems
		if len(shown) > 20 {
			shown = shown[:20]
		}
		res.Findings = append(res.Findings, finding(indexName, ip2adb.Critical, "",
			fmt.Sprintf("PRAGMA integrity_check reports %d problems: %s", len(problems), shown[0]),
			"Stop writes, copy the database file, then REINDEX (index problems) or restore from the latest backup (page or table damage).",
			map[string]any{"count": len(problems), "problems": shown}))
	}
	if len(fk) > 0 {
		res.Findings = append(res.Findings, finding(indexName, ip2adb.Warning, fk[0].Table,
			fmt.Sprintf("PRAGMA foreign_key_check reports %d rows whose parent is missing", len(fk)),
			"Run ip2adb integrity to find and repair the orphaned rows.",
			map[string]any{"count": len(fk)}))
	}
	for _, g := range groups {
		res.Findings = append(res.Findings, duplicateFinding(g.table, g.indexes))
	}
	res.Findings = append(res.Findings, finding(indexName, ip2adb.Info, "",
		"Index usage statistics (unused indexes), invalid-index detection and amcheck are not supported on sqlite; PRAGMA integrity_check and foreign_key_check ran instead",
		"Nothing to do on SQLite; on PostgreSQL the probe also finds unused, invalid and corrupt indexes.",
		map[string]any{"supported": false, "dialect": "sqlite"}))
	res.Metrics = map[string]any{"integrity_problems": len(problems), "foreign_key_violations": len(fk), "duplicate_groups": len(groups)}
	res.Summary = fmt.Sprintf("integrity_check: %d problems; foreign_key_check: %d violations; %d duplicate index groups",
		len(problems), len(fk), len(groups))
	return res, nil
}

type dupGroup struct {
	table   string
	indexes []string
}

// sqliteDuplicateIndexes groups the full, column-only indexes of each table
// by their column list.
func sqliteDuplicateIndexes(ctx context.Context, db *sqlx.DB) ([]dupGroup, error) {
	var tables []string
	if err := db.SelectContext(ctx, &tables, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var out []dupGroup
	for _, t := range tables {
		var idx []struct {
			Name    string `db:"name"`
			Partial int    `db:"partial"`
		}
		if err := db.SelectContext(ctx, &idx, `SELECT name, partial FROM pragma_index_list(?) ORDER BY name`, t); err != nil {
			return nil, fmt.Errorf("indexes of %s: %w", t, err)
		}
		byCols := map[string][]string{}
		var keys []string
		for _, ix := range idx {
			if ix.Partial != 0 {
				continue
			}
			var cols []struct {
				Name *string `db:"name"`
				Desc int     `db:"desc"`
				Coll string  `db:"coll"`
			}
			if err := db.SelectContext(ctx, &cols, `SELECT name, "desc", coll FROM pragma_index_xinfo(?) WHERE key ORDER BY seqno`, ix.Name); err != nil {
				return nil, fmt.Errorf("columns of index %s: %w", ix.Name, err)
			}
			var parts []string
			expr := false
			for _, c := range cols {
				if c.Name == nil {
					expr = true
					break
				}
				parts = append(parts, fmt.Sprintf("%s %d %s", *c.Name, c.Desc, c.Coll))
			}
			if expr || len(parts) == 0 {
				continue
			}
			k := strings.Join(parts, ",")
			if _, ok := byCols[k]; !ok {
				keys = append(keys, k)
			}
			byCols[k] = append(byCols[k], ix.Name)
		}
		for _, k := range keys {
			if g := byCols[k]; len(g) > 1 {
				slices.Sort(g)
				out = append(out, dupGroup{t, g})
			}
		}
	}
	return out, nil
}

// jsonStrings scans a JSON array of strings (json_agg of text), so that
// reading an aggregate needs no driver-specific array type.
type jsonStrings []string

// Scan implements sql.Scanner.
func (j *jsonStrings) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	case nil:
		*j = nil
		return nil
	default:
		return fmt.Errorf("scan %T into a list of names", src)
	}
	return json.Unmarshal(b, (*[]string)(j))
}

package resilience

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// AmcheckStateFile is the name, under LogDir/resilience_metrics, of the file
// that remembers when each table and index was last verified by amcheck, so
// that a budgeted run resumes where the previous one stopped.
const AmcheckStateFile = "amcheck_state.json"

// amcheckState is the JSON form of the amcheck resume state.
type amcheckState struct {
	Version int `json:"version"`
	// Database identifies the cluster and database the state is about.
	Database string `json:"database"`
	// Relations maps "table:NAME" and "index:NAME" to when it was last
	// verified and whether it was corrupt then.
	Relations map[string]amcheckEntry `json:"relations"`
}

type amcheckEntry struct {
	Verified time.Time `json:"verified"`
	Corrupt  bool      `json:"corrupt,omitempty"`
}

func amcheckStatePath(logDir string) string {
	return filepath.Join(logDir, "resilience_metrics", AmcheckStateFile)
}

func loadAmcheckState(logDir, database string) amcheckState {
	empty := amcheckState{Version: 1, Database: database, Relations: map[string]amcheckEntry{}}
	if logDir == "" {
		return empty
	}
	b, err := os.ReadFile(amcheckStatePath(logDir))
	if err != nil {
		return empty
	}
	var st amcheckState
	if json.Unmarshal(b, &st) != nil || st.Database != database || st.Relations == nil {
		return empty
	}
	return st
}

func saveAmcheckState(logDir string, st amcheckState) error {
	if logDir == "" {
		return nil
	}
	p := amcheckStatePath(logDir)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// relation is a table or index amcheck can verify.
type relation struct {
	Kind  string `db:"kind"` // "table" or "index"
	Table string `db:"table_name"`
	Name  string `db:"rel_name"`
	OID   int64  `db:"oid"`
	Bytes int64  `db:"bytes"`
}

func (r relation) key() string { return r.Kind + ":" + r.Name }

// corruptRelation is what amcheck reported about one relation.
type corruptRelation struct {
	relation
	problems int
	messages []string
}

// amcheckResult is what one budgeted amcheck pass did.
type amcheckResult struct {
	findings []ip2adb.Issue
	metrics  map[string]any
	summary  string
}

// amcheckUnavailable is the info finding for an amcheck this run cannot
// use; command is what an administrator runs to make it usable.
func amcheckUnavailable(desc, command string, details map[string]any) ip2adb.Issue {
	d := clone(details)
	d["extension"] = "amcheck"
	d["command"] = command
	return finding(indexName, ip2adb.Info, "", desc,
		"Run as a role allowed to: "+command+" — then table heaps and B-tree indexes are verified for corruption.", d)
}

// verifyRelations runs amcheck's verify_heapam on each table and
// bt_index_check(…, heapallindexed => true) on each valid B-tree index of
// the current schema, within the run's byte and time budget: relations
// found corrupt before go first and outside the budget, then those never
// verified, then the least recently verified. The first relation within the
// budget is always verified.
func verifyRelations(ctx context.Context, env Env, db *sqlx.DB, o Options) (amcheckResult, error) {
	res := amcheckResult{metrics: map[string]any{}}
	var ext struct {
		Installed bool `db:"installed"`
		Available bool `db:"available"`
	}
	if err := db.GetContext(ctx, &ext, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'amcheck') AS installed,
		EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck') AS available`); err != nil {
		return res, fmt.Errorf("look for amcheck: %w", err)
	}
	note := "installed"
	switch {
	case !ext.Installed && !ext.Available:
		res.metrics["amcheck"] = "not available"
		res.findings = append(res.findings, amcheckUnavailable(
			"amcheck is not available on this server: table heaps and B-tree indexes were not verified",
			"install PostgreSQL's contrib modules on the database server (Debian: the postgresql-NN package; RPM: postgresqlNN-contrib), then CREATE EXTENSION amcheck;",
			map[string]any{"installed": false, "available": false}))
		res.summary = "amcheck not available"
		return res, nil
	case !ext.Installed && !o.CreateExtension:
		res.metrics["amcheck"] = "not installed"
		res.findings = append(res.findings, amcheckUnavailable(
			"amcheck not installed: table heaps and B-tree indexes were not verified",
			"CREATE EXTENSION amcheck; (or ip2adb resilience --create-extension)",
			map[string]any{"installed": false, "available": true}))
		res.summary = "amcheck not installed"
		return res, nil
	case !ext.Installed:
		if _, err := db.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS amcheck"); err != nil {
			res.metrics["amcheck"] = "cannot be installed"
			res.findings = append(res.findings, amcheckUnavailable(
				"amcheck not installed and this role cannot install it: "+err.Error(),
				"CREATE EXTENSION amcheck;", map[string]any{"installed": false, "available": true, "error": err.Error()}))
			res.summary = "amcheck not installed"
			return res, nil
		}
		note = "installed by this run"
	}
	res.metrics["amcheck"] = note

	var ident string
	if err := db.GetContext(ctx, &ident, `SELECT (SELECT system_identifier::text FROM pg_control_system()) || '/' || current_database() || '/' || current_schema()`); err != nil {
		return res, fmt.Errorf("identify database: %w", err)
	}
	var rels []relation
	if err := db.SelectContext(ctx, &rels, `SELECT 'table' AS kind, c.relname AS table_name, c.relname AS rel_name, c.oid::bigint AS oid,
			pg_relation_size(c.oid) AS bytes
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'm') AND c.relpersistence <> 't' AND n.nspname = current_schema()
		UNION ALL
		SELECT 'index', t.relname, c.relname, c.oid::bigint, pg_relation_size(c.oid) + pg_relation_size(t.oid)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = c.relam
		WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready AND n.nspname = current_schema()
		AND c.relpersistence <> 't'
		ORDER BY 1 DESC, 2, 3`); err != nil {
		return res, fmt.Errorf("list relations for amcheck: %w", err)
	}
	st := loadAmcheckState(env.LogDir, ident)
	rank := func(r relation) (int, time.Time) {
		e, ok := st.Relations[r.key()]
		switch {
		case ok && e.Corrupt:
			return 0, e.Verified
		case !ok:
			return 1, time.Time{}
		}
		return 2, e.Verified
	}
	slices.SortStableFunc(rels, func(a, b relation) int {
		ra, ta := rank(a)
		rb, tb := rank(b)
		if ra != rb {
			return ra - rb
		}
		return ta.Compare(tb)
	})

	start := time.Now()
	var spent int64
	var tables, indexes int
	var corrupt []corruptRelation
	var denied, noHeap error
	done := 0
	budgeted := 0
	for _, r := range rels {
		// Relations found corrupt before are verified again on every run,
		// outside the budget, so that they stay in every report until
		// repaired and never starve the rest.
		known := st.Relations[r.key()].Corrupt
		if !known && budgeted > 0 && (spent+r.Bytes > o.AmcheckBytes || time.Since(start) > o.AmcheckTime) {
			break
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if r.Kind == "table" && noHeap != nil {
			continue
		}
		c, err := checkRelation(ctx, db, r)
		if se, ok := dbx.AsServerError(err); ok && se.Code == "42883" && r.Kind == "table" {
			// amcheck before 1.3 (PostgreSQL 13 and older) has no
			// verify_heapam: the indexes are still verified.
			noHeap = err
			continue
		}
		if se, ok := dbx.AsServerError(err); ok && (se.Code == "42501" || se.Code == "42883") {
			denied = err
			break
		}
		if err != nil {
			return res, fmt.Errorf("amcheck %s %s: %w", r.Kind, r.Name, err)
		}
		done++
		if !known {
			budgeted++
			spent += r.Bytes
		}
		if r.Kind == "table" {
			tables++
		} else {
			indexes++
		}
		st.Relations[r.key()] = amcheckEntry{Verified: env.Now().UTC(), Corrupt: c != nil}
		if c != nil {
			corrupt = append(corrupt, *c)
		}
	}
	// Forget relations that no longer exist.
	live := map[string]bool{}
	for _, r := range rels {
		live[r.key()] = true
	}
	for k := range st.Relations {
		if !live[k] {
			delete(st.Relations, k)
		}
	}
	stateNote := "kept in " + amcheckStatePath(env.LogDir)
	if env.LogDir == "" {
		stateNote = "not kept (no log dir)"
	} else if err := saveAmcheckState(env.LogDir, st); err != nil {
		stateNote = "not saved: " + err.Error()
	}
	if denied != nil {
		res.findings = append(res.findings, amcheckUnavailable(
			"This role may not run amcheck ("+denied.Error()+"): table heaps and B-tree indexes were not verified",
			"GRANT EXECUTE ON FUNCTION verify_heapam(regclass, boolean, boolean, text, bigint, bigint), bt_index_check(regclass, boolean) TO <this role>; (or run the report as a superuser)",
			map[string]any{"installed": true, "error": denied.Error()}))
	}
	if noHeap != nil {
		res.findings = append(res.findings, amcheckUnavailable(
			"amcheck on this server has no verify_heapam (it needs amcheck 1.3, PostgreSQL 14 or later): table heaps were not verified, B-tree indexes were",
			"ALTER EXTENSION amcheck UPDATE; (after upgrading to PostgreSQL 14 or later)",
			map[string]any{"installed": true, "error": noHeap.Error()}))
	}
	slices.SortFunc(corrupt, func(a, b corruptRelation) int { return strings.Compare(a.key(), b.key()) })
	for _, c := range corrupt {
		var is ip2adb.Issue
		if c.Kind == "table" {
			is = finding(indexName, ip2adb.Critical, c.Table,
				fmt.Sprintf("amcheck found table %s corrupt: %s, first: %s", c.Name, plural(c.problems, "problem"), c.messages[0]),
				"Stop writes and copy the data directory; then save what is readable (pg_dump the other tables, COPY the readable rows), restore the damaged rows from the latest backup, and find the cause (disk, memory, a crash without fsync).",
				map[string]any{"table": c.Name, "problems": c.problems, "messages": c.messages})
			is.Key = map[string]any{"table": c.Name}
		} else {
			is = finding(indexName, ip2adb.Critical, c.Table,
				fmt.Sprintf("amcheck found index %s on %s corrupt: %s", c.Name, c.Table, c.messages[0]),
				fmt.Sprintf("REINDEX INDEX %s now; then find the cause (disk, memory, collation change after an OS upgrade) and check the table's data.", c.Name),
				map[string]any{"index": c.Name, "error": c.messages[0]})
			is.Key = map[string]any{"index": c.Name}
		}
		res.findings = append(res.findings, is)
	}
	var total int64
	for _, r := range rels {
		total += r.Bytes
	}
	res.metrics["heap_checked"] = tables
	res.metrics["btree_checked"] = indexes
	res.metrics["relations"] = len(rels)
	res.metrics["relations_left"] = len(rels) - done
	res.metrics["bytes_checked"] = spent
	res.metrics["bytes_total"] = total
	res.metrics["corrupt"] = len(corrupt)
	res.metrics["state"] = stateNote
	res.summary = fmt.Sprintf("amcheck verified %d tables and %d B-tree indexes (%s of %s), %d corrupt, %d left for later runs",
		tables, indexes, humanBytes(spent), humanBytes(total), len(corrupt), len(rels)-done)
	return res, nil
}

// checkRelation verifies one relation; a nil result means no corruption.
// Permission and missing-function errors are returned as they are.
func checkRelation(ctx context.Context, db *sqlx.DB, r relation) (*corruptRelation, error) {
	if r.Kind == "table" {
		var rows []struct {
			Blk    *int64  `db:"blkno"`
			Off    *int64  `db:"offnum"`
			Att    *int64  `db:"attnum"`
			Msg    *string `db:"msg"`
			NTotal int     `db:"n"`
		}
		err := db.SelectContext(ctx, &rows, `SELECT blkno, offnum, attnum, msg, count(*) OVER () AS n
			FROM verify_heapam($1::oid::regclass, check_toast => true) ORDER BY blkno, offnum, attnum LIMIT 20`, r.OID)
		if se, ok := dbx.AsServerError(err); ok && se.Class() == "XX" {
			return &corruptRelation{relation: r, problems: 1, messages: []string{se.Message}}, nil
		}
		if err != nil || len(rows) == 0 {
			return nil, err
		}
		c := &corruptRelation{relation: r, problems: rows[0].NTotal}
		for _, x := range rows {
			msg := ""
			if x.Msg != nil {
				msg = *x.Msg
			}
			loc := ""
			if x.Blk != nil {
				loc = fmt.Sprintf("block %d", *x.Blk)
				if x.Off != nil {
					loc += fmt.Sprintf(", offset %d", *x.Off)
				}
				if x.Att != nil {
					loc += fmt.Sprintf(", attribute %d", *x.Att)
				}
				loc += ": "
			}
			c.messages = append(c.messages, loc+msg)
		}
		return c, nil
	}
	_, err := db.ExecContext(ctx, "SELECT bt_index_check($1::oid::regclass, true)", r.OID)
	if se, ok := dbx.AsServerError(err); ok && se.Class() == "XX" {
		// XX001 data_corrupted, XX002 index_corrupted.
		return &corruptRelation{relation: r, problems: 1, messages: []string{se.Message}}, nil
	}
	return nil, err
}

// plural is "1 problem" or "n problems".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

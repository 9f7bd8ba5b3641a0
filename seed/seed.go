// Package seed fills an IP2A database with reproducible sample data: the
// quick, normal and stress profiles of the original system (or custom
// counts), optionally with planted integrity faults of every kind and with
// real attachment files on disk. Rows are streamed into PostgreSQL with COPY
// and into SQLite with batched inserts, in one transaction (on ip2adb's own
// PostgreSQL schema, one per connection of a parallel load, committed
// together).
//
// An existing database, such as the real IP2A database, is filled as its
// live schema (package catalog) has it: enum labels, every NOT NULL column,
// consistent foreign keys; faults its constraints forbid are reported as
// not plantable, and rows that no seed wrote are never erased without
// Options.Force.
package seed

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/ip2a/schema"
	"github.com/jmoiron/sqlx"
)

// OptionsError reports invalid Options (a usage error: nothing was changed).
type OptionsError struct{ Err error }

// Error returns the validation message.
func (e *OptionsError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *OptionsError) Unwrap() error { return e.Err }

// TableStats is what one table received.
type TableStats struct {
	Table    string        `json:"table"`
	Rows     int64         `json:"rows"`
	Duration time.Duration `json:"-"`
}

// Stats describes a finished seed run.
type Stats struct {
	Profile Profile `json:"profile"`
	Seed    int64   `json:"seed"`
	// Tables lists the rows written per table, in load order.
	Tables []TableStats `json:"tables"`
	// Rows is the total over Tables; RowsPerSecond is Rows over Duration.
	Rows          int64         `json:"rows"`
	Duration      time.Duration `json:"-"`
	RowsPerSecond float64       `json:"rows_per_second"`
	// Files and FileBytes count what was written under FilesDir.
	Files     int64 `json:"files"`
	FileBytes int64 `json:"file_bytes"`
	// Faults is Options.Faults; Manifest lists what was planted (nil when
	// no faults were asked for).
	Faults   int      `json:"faults"`
	Manifest Manifest `json:"manifest,omitempty"`
	// NotPlantable maps each fault kind that the live schema's constraints
	// forbid (and that Manifest therefore lists empty) to the reason; nil
	// when every kind was planted.
	NotPlantable map[string]string `json:"not_plantable,omitempty"`
}

// ManifestDocument returns the faults manifest as written to a file: the
// planted rows or keys per check name, plus "not_plantable" (check name →
// reason) when the schema forbade some kinds. Nil without faults.
func (s Stats) ManifestDocument() map[string]any {
	if s.Manifest == nil {
		return nil
	}
	out := make(map[string]any, len(s.Manifest)+1)
	for k, v := range s.Manifest {
		out[k] = v
	}
	if len(s.NotPlantable) > 0 {
		out[NotPlantableKey] = s.NotPlantable
	}
	return out
}

// NotPlantableKey is the manifest document's key for the fault kinds the
// schema forbids.
const NotPlantableKey = "not_plantable"

// WriteManifest writes s.ManifestDocument() as indented JSON to path ({}
// without faults).
func (s Stats) WriteManifest(path string) error {
	doc := s.ManifestDocument()
	if doc == nil {
		doc = map[string]any{}
	}
	return writeJSONFile(path, doc)
}

// RowsOf returns the rows written to table.
func (s Stats) RowsOf(table string) int64 {
	for _, t := range s.Tables {
		if t.Table == table {
			return t.Rows
		}
	}
	return 0
}

// columns returns the generated columns of each table, in row order.
// created_at and updated_at take the database's default (the load
// transaction's time), except for contacts, whose creation order matters
// (the newest primary contact wins a repair): they are created a minute
// apart before Options.Now.
func columns(table string) []string {
	switch table {
	case "locations":
		return []string{"id", "name", "address", "city", "state", "zip_code", "capacity"}
	case "instructors":
		return []string{"id", "first_name", "last_name", "email", "phone", "bio"}
	case "organizations":
		return []string{"id", "name", "org_type", "address", "city", "state", "zip_code", "phone", "email", "website",
			"salting_score", "salting_notes"}
	case "organization_contacts":
		return []string{"id", "organization_id", "first_name", "last_name", "title", "phone", "email", "is_primary",
			"notes", "created_at", "updated_at"}
	case "members":
		return []string{"id", "member_number", "first_name", "last_name", "middle_name", "address", "city", "state",
			"zip_code", "phone", "email", "date_of_birth", "hire_date", "status", "classification", "notes"}
	case "member_employments":
		return []string{"id", "member_id", "organization_id", "start_date", "end_date", "job_title", "hourly_rate",
			"is_current"}
	case "students":
		return []string{"id", "member_id", "student_number", "first_name", "last_name", "email", "phone", "status",
			"application_date", "enrollment_date", "expected_completion_date"}
	case "grievances":
		return []string{"id", "grievance_number", "member_id", "organization_id", "title", "status", "filed_date"}
	case "file_attachments":
		return []string{"id", "record_type", "record_id", "file_category", "file_name", "original_name", "file_path",
			"file_type", "file_size", "description", "checksum"}
	}
	return nil
}

// Schema creates the IP2A tables and indexes that are missing.
func Schema(ctx context.Context, db *sqlx.DB) error { return schema.Apply(ctx, db) }

// Reset empties every IP2A table that exists (on PostgreSQL with TRUNCATE …
// RESTART IDENTITY) in one transaction and returns how many rows each held.
// Tables whose foreign keys point at them (on the real IP2A database:
// users, dues payments, enrollments …) are emptied with them and listed
// after them: TRUNCATE cannot leave their rows pointing at nothing.
func Reset(ctx context.Context, db *sqlx.DB) ([]TableStats, error) {
	d := dbx.DialectOf(db)
	live, err := readLive(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	var present []string
	for _, t := range schema.Tables() {
		if live.table(t) != nil {
			present = append(present, t)
		}
	}
	names := live.eraseSet(present)
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	defer tx.Rollback()
	var out []TableStats
	for _, t := range names {
		var n int64
		if err := tx.GetContext(ctx, &n, "SELECT count(*) FROM "+d.Quote(t)); err != nil {
			return nil, fmt.Errorf("reset: count %s: %w", t, err)
		}
		out = append(out, TableStats{Table: t, Rows: n})
	}
	if err := d.Truncate(ctx, tx, names); err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("reset: commit: %w", err)
	}
	return out, nil
}

// chunk is a batch of generated rows on their way to the database; files
// indexes the rows whose attachment file is to be written. For PostgreSQL
// the rows are encoded into text (COPY text format) before they reach the
// writer, by the goroutine that produced them, and rows is dropped.
type chunk struct {
	rows  [][]any
	files []int
	text  []byte
	n     int
	err   error // the rows could not be encoded
}

const chunkRows = 512

// stage is one table's generator feeding the loader.
type stage struct {
	table string
	total int64
	ch    chan chunk
	err   error // set before ch is closed
}

// Run seeds db as opt says: it creates the schema when no IP2A table
// exists (an existing schema, such as the real IP2A database's, is read
// from the catalog and filled as it is, never altered), empties the IP2A
// tables (unless NoTruncate), then generates and loads every table in one
// transaction, so a failure leaves the database as it was (files already
// written under FilesDir stay).
//
// Emptying the tables erases the rows of every table whose foreign keys
// point at them too. Unless opt.Force, Run refuses with a [*NotEmptyError]
// when any of these tables holds rows that no earlier seed wrote (the seed
// marker, ip2adb's own record of the ids it wrote, accounts for the rest).
//
// On a schema with constraints, Run writes values the schema accepts (enum
// labels, every NOT NULL column) and plants only the faults its
// constraints permit; Stats.NotPlantable says why the others are not.
// Orphans that a foreign key refuses are loaded with
// session_replication_role = replica when the role may set it.
//
// On PostgreSQL, after truncation, the secondary indexes and unreferenced
// primary keys are dropped for the load and rebuilt in the same
// transaction, rows go in with COPY … FREEZE, the id sequences are moved
// past the seeded ids, and the tables are analyzed afterwards. When no
// foreign key links the IP2A tables (ip2adb's own schema), a truncating
// seed loads them on three connections at once, each table in the
// transaction that empties it; the transactions commit only when all have
// loaded, and any failure rolls all of them back (only a commit failing
// after another connection's commit succeeded could leave part seeded).
func Run(ctx context.Context, db *sqlx.DB, opt Options) (Stats, error) {
	if err := opt.Validate(); err != nil {
		return Stats{}, &OptionsError{err}
	}
	opt = opt.withDefaults()
	if opt.FilesDir != "" && opt.Files == nil {
		if st, err := os.Stat(opt.FilesDir); err != nil || !st.IsDir() {
			return Stats{}, &OptionsError{fmt.Errorf("files directory %s does not exist", opt.FilesDir)}
		}
	}
	start := time.Now()
	live, err := prepareSchema(ctx, db)
	if err != nil {
		return Stats{}, err
	}
	// What the live schema cannot take (students without enough members,
	// a NOT NULL column of a type the seed cannot fill) is a usage error,
	// found before anything changes.
	if _, err := newPlan(opt, offsets{}, live, newCaps(live, true, "")); err != nil {
		return Stats{}, err
	}
	if !opt.Force && !opt.NoTruncate {
		// Refuse before creating ip2adb's own tables, so a refusal changes
		// nothing; the load transaction checks again.
		foreign, err := foreignIn(ctx, db, live)
		if err != nil {
			return Stats{}, err
		}
		if len(foreign) > 0 {
			return Stats{}, &NotEmptyError{Tables: foreign}
		}
	}
	own, err := ownstate.Ensure(ctx, db)
	if err != nil {
		return Stats{}, fmt.Errorf("seed: %w", err)
	}
	names := ownNames{marker: own.Name(ownstate.SeedMarker), checksums: own.Name(ownstate.Checksums)}
	stats := Stats{Profile: opt.Profile, Seed: opt.Seed, Faults: opt.Faults}
	run := dbx.PerDialect[func(context.Context, *sqlx.DB, Options, *liveSchema, ownNames, *Stats) error]{
		Postgres: runPostgres, SQLite: runSQLite,
	}.For(dbx.DialectOf(db))
	err = run(ctx, db, opt, live, names, &stats)
	if err != nil {
		return Stats{}, err
	}
	stats.Duration = time.Since(start)
	for _, t := range stats.Tables {
		stats.Rows += t.Rows
	}
	if s := stats.Duration.Seconds(); s > 0 {
		stats.RowsPerSecond = float64(stats.Rows) / s
	}
	opt.Log.V(1).Info("seeded", "rows", stats.Rows, "seconds", stats.Duration.Seconds(), "files", stats.Files)
	return stats, nil
}

// prepareSchema creates ip2adb's seed schema when the database has none of
// the IP2A tables, and returns the live schema.
func prepareSchema(ctx context.Context, db *sqlx.DB) (*liveSchema, error) {
	live, err := readLive(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, t := range schema.Tables() {
		if live.table(t) == nil {
			if err := Schema(ctx, db); err != nil {
				return nil, err
			}
			return readLive(ctx, db)
		}
	}
	return live, nil
}

// Foreign returns, per table, the rows that seeding db would erase although
// no earlier seed wrote them (see [Run]); none on an empty database or one
// that only ip2adb's seed filled. It reads and writes nothing else.
func Foreign(ctx context.Context, db *sqlx.DB) ([]TableStats, error) {
	live, err := readLive(ctx, db)
	if err != nil {
		return nil, err
	}
	return foreignIn(ctx, db, live)
}

func foreignIn(ctx context.Context, db *sqlx.DB, live *liveSchema) ([]TableStats, error) {
	var tables []string
	for _, t := range schema.Tables() {
		if live.table(t) != nil {
			tables = append(tables, t)
		}
	}
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: dbx.DialectOf(db).ReadOnlyTx()})
	if err != nil {
		return nil, fmt.Errorf("seed: begin: %w", err)
	}
	defer tx.Rollback()
	m, ok, err := ownstate.ReadMarker(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	marker := map[string]idRangeOf{}
	if ok {
		if marker, err = parseMarker(m.Detail); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
	}
	return foreignRows(ctx, txQuerier{tx}, dbx.DialectOf(db), marker, live, live.eraseSet(tables))
}

// txQuerier runs the seed's statements on a database/sql transaction.
type txQuerier struct{ tx *sqlx.Tx }

func (q txQuerier) exec(ctx context.Context, query string) error {
	_, err := q.tx.ExecContext(ctx, query)
	return err
}

func (q txQuerier) rows(ctx context.Context, query string) ([][]string, error) {
	rows, err := q.tx.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := make([]string, len(cols))
		for i, v := range vals {
			r[i] = v.String
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// guard refuses, unless opt.Force, when emptying tables would erase rows
// the seed did not write.
func guard(ctx context.Context, q querier, d dbx.Dialect, opt Options, marker string, live *liveSchema, tables []string) error {
	if opt.Force {
		return nil
	}
	ranges, err := readMarker(ctx, q, marker)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	foreign, err := foreignRows(ctx, q, d, ranges, live, tables)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if len(foreign) > 0 {
		return &NotEmptyError{Tables: foreign}
	}
	return nil
}

// markRanges records the ids this run wrote: with NoTruncate the new ranges
// extend the marker's where they continue it; rows of a table the marker
// did not cover stay unaccounted for.
func markRanges(ctx context.Context, q querier, marker string, opt Options, off offsets, stats *Stats) error {
	old := map[string]idRangeOf{}
	if opt.NoTruncate {
		var err error
		if old, err = readMarker(ctx, q, marker); err != nil {
			return err
		}
	}
	base := map[string]int64{"locations": off.locations, "instructors": off.instructors, "organizations": off.organizations,
		"organization_contacts": off.contacts, "members": off.members, "member_employments": off.employments,
		"students": off.students, "grievances": off.grievances, "file_attachments": off.attachments}
	ranges := map[string]idRangeOf{}
	for _, t := range stats.Tables {
		b := base[t.Table]
		r := idRangeOf{b + 1, b + t.Rows}
		if prev, ok := old[t.Table]; ok && prev.last == b {
			r.first = prev.first
		} else if t.Rows == 0 {
			if b > 0 {
				continue // rows of others, none of ours
			}
			r = idRangeOf{0, 0}
		}
		ranges[t.Table] = r
	}
	return writeMarker(ctx, q, marker, opt, ranges)
}

// ownNames are the SQL names of ip2adb's own tables the seed writes.
type ownNames struct{ marker, checksums string }

func runSQLite(ctx context.Context, db *sqlx.DB, opt Options, live *liveSchema, own ownNames, stats *Stats) error {
	d := dbx.SQLite
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seed: begin: %w", err)
	}
	defer tx.Rollback()
	q := txQuerier{tx}
	var off offsets
	if opt.NoTruncate {
		count := func(query string) (int64, error) { return queryCount(ctx, q, query) }
		if off, err = maxIDs(ctx, count, d); err != nil {
			return err
		}
	} else {
		erase := live.eraseSet(schema.Tables())
		if err := guard(ctx, q, d, opt, own.marker, live, erase); err != nil {
			return err
		}
		// Truncate deletes children first, for a database that enforces
		// foreign keys.
		if err := d.Truncate(ctx, tx, erase); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	p, err := newPlan(opt, off, live, newCaps(live, false, "SQLite cannot turn off foreign keys inside a transaction"))
	if err != nil {
		return err
	}
	p.checksums = own.checksums
	if err := p.clearChecksums(ctx, q); err != nil {
		return err
	}
	if err := p.load(ctx, &insertSink{tx: tx}, false, stats); err != nil {
		return err
	}
	if err := markRanges(ctx, q, own.marker, opt, off, stats); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seed: commit: %w", err)
	}
	return nil
}

// runPostgres loads through the lib/pq driver connection itself: COPY rows
// are encoded by the generator goroutines and shipped in 64 KB messages,
// with no database/sql round trip per row.
//
// When truncating a schema whose IP2A tables no foreign key links (ip2adb's
// own), the tables are loaded on several connections at once instead (see
// loadPostgresParallel), each analyzed in its loading transaction.
func runPostgres(ctx context.Context, db *sqlx.DB, opt Options, live *liveSchema, own ownNames, stats *Stats) error {
	log := opt.Log
	if tables := schema.Tables(); parallelOK(opt, live, tables) {
		return loadPostgresParallel(ctx, db, opt, live, own, tables, stats)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("seed: connect: %w", err)
	}
	defer conn.Close()
	var loadErr error
	rawErr := conn.Raw(func(dc any) error {
		if loadErr = loadPostgres(ctx, dc, opt, live, own, stats); loadErr != nil {
			// Discard the connection: closing it aborts the transaction
			// and any COPY in progress, whatever state the failure left.
			return driver.ErrBadConn
		}
		return nil
	})
	if loadErr != nil {
		return loadErr
	}
	if rawErr != nil {
		return fmt.Errorf("seed: %w", rawErr)
	}
	return analyze(ctx, db, log)
}

// replicaAllowed reports whether the role may set session_replication_role
// (superuser, or granted SET on it), and if not, what the server said. It
// tries inside a savepoint and leaves the setting as it was.
func replicaAllowed(ctx context.Context, c *rawConn) (bool, string, error) {
	if err := c.exec(ctx, "SAVEPOINT ip2adb_replica_probe"); err != nil {
		return false, "", fmt.Errorf("seed: %w", err)
	}
	setErr := c.exec(ctx, "SET LOCAL session_replication_role = replica")
	if err := c.exec(ctx, "ROLLBACK TO SAVEPOINT ip2adb_replica_probe"); err != nil {
		return false, "", fmt.Errorf("seed: %w", err)
	}
	if err := c.exec(ctx, "RELEASE SAVEPOINT ip2adb_replica_probe"); err != nil {
		return false, "", fmt.Errorf("seed: %w", err)
	}
	if setErr != nil {
		return false, strings.TrimPrefix(setErr.Error(), "pq: "), nil
	}
	return true, "", nil
}

// loadPostgres is the transaction of runPostgres on the driver connection dc.
func loadPostgres(ctx context.Context, dc any, opt Options, live *liveSchema, own ownNames, stats *Stats) error {
	log := opt.Log
	tables := schema.Tables()
	c, err := newRawConn(dc)
	if err != nil {
		return err
	}
	if err := c.exec(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("seed: begin: %w", err)
	}
	if err := c.exec(ctx, "SET LOCAL maintenance_work_mem = '256MB'"); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	var off offsets
	var indexes []indexDef
	if opt.NoTruncate {
		if off, err = maxIDs(ctx, c.queryInt, dbx.Postgres); err != nil {
			return err
		}
	} else {
		erase := live.eraseSet(tables)
		if err := guard(ctx, c, dbx.Postgres, opt, own.marker, live, erase); err != nil {
			return err
		}
		if err := c.exec(ctx, truncateSQL(erase)); err != nil {
			return fmt.Errorf("seed: truncate: %w", err)
		}
		// Building indexes once after the load is much cheaper than
		// maintaining them row by row.
		if indexes, err = dropIndexes(ctx, c, tables); err != nil {
			return err
		}
		pks, err := dropPrimaryKeys(ctx, c, tables)
		if err != nil {
			return err
		}
		indexes = append(pks, indexes...)
	}
	replicaOK, replicaWhy := false, ""
	if opt.Faults > 0 && live.needsReplica() {
		if replicaOK, replicaWhy, err = replicaAllowed(ctx, c); err != nil {
			return err
		}
	}
	p, err := newPlan(opt, off, live, newCaps(live, replicaOK, replicaWhy))
	if err != nil {
		return err
	}
	p.checksums = own.checksums
	if err := p.clearChecksums(ctx, c); err != nil {
		return err
	}
	log.V(1).Info("seeding", "profile", opt.Profile, "seed", opt.Seed, "faults", opt.Faults, "totals", p.totals)
	if err := p.load(ctx, &copySink{conn: c, freeze: !opt.NoTruncate, replica: p.caps.replica}, true, stats); err != nil {
		return err
	}
	for _, ix := range indexes {
		t0 := time.Now()
		if err := c.exec(ctx, ix.def); err != nil {
			return fmt.Errorf("seed: recreate index %s: %w", ix.name, err)
		}
		log.V(1).Info("index rebuilt", "index", ix.name, "seconds", time.Since(t0).Seconds())
	}
	for _, t := range tables {
		q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', 'id'), COALESCE((SELECT max(id) FROM %s), 0) + 1, false)", t, dbx.Postgres.Quote(t))
		if err := c.exec(ctx, q); err != nil {
			return fmt.Errorf("seed: reset sequence of %s: %w", t, err)
		}
	}
	if err := markRanges(ctx, c, own.marker, opt, off, stats); err != nil {
		return err
	}
	if err := c.exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("seed: commit: %w", err)
	}
	return nil
}

// analyze refreshes the planner statistics of the IP2A tables.
func analyze(ctx context.Context, db *sqlx.DB, log logr.Logger) error {
	// Fresh planner statistics, so the checks that follow pick good plans;
	// the tables are analyzed two at a time on their own connections.
	t0 := time.Now()
	sem := make(chan struct{}, 2)
	tables := schema.Tables()
	errs := make([]error, len(tables))
	var wg sync.WaitGroup
	for i, t := range []string{"member_employments", "file_attachments", "members", "organization_contacts",
		"organizations", "students", "locations", "instructors", "grievances"} {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := db.ExecContext(ctx, "ANALYZE "+dbx.Postgres.Quote(t)); err != nil {
				errs[i] = fmt.Errorf("seed: analyze %s: %w", t, err)
			}
		}()
	}
	wg.Wait()
	log.V(1).Info("analyzed", "seconds", time.Since(t0).Seconds())
	return errors.Join(errs...)
}

// truncateSQL empties tables. It does not RESTART IDENTITY, which needs
// ownership of the sequences: the seed moves the sequences of the tables it
// fills past their ids itself (setval, which needs UPDATE on them only).
func truncateSQL(tables []string) string {
	q := make([]string, len(tables))
	for i, t := range tables {
		q[i] = dbx.Postgres.Quote(t)
	}
	return "TRUNCATE " + strings.Join(q, ", ")
}

func maxIDs(ctx context.Context, queryInt func(string) (int64, error), d dbx.Dialect) (offsets, error) {
	var o offsets
	for _, x := range []struct {
		table string
		dst   *int64
	}{{"locations", &o.locations}, {"instructors", &o.instructors}, {"organizations", &o.organizations},
		{"organization_contacts", &o.contacts}, {"members", &o.members}, {"member_employments", &o.employments},
		{"students", &o.students}, {"grievances", &o.grievances}, {"file_attachments", &o.attachments}} {
		n, err := queryInt("SELECT COALESCE(max(id), 0) FROM " + d.Quote(x.table))
		if err != nil {
			return o, fmt.Errorf("seed: largest id of %s: %w", x.table, err)
		}
		*x.dst = n
	}
	return o, nil
}

type indexDef struct{ name, def string }

// dropIndexes drops the secondary (non-unique, non-primary) indexes of
// tables and returns their definitions for recreation after the load. A
// role that does not own an index leaves it in place.
func dropIndexes(ctx context.Context, c querier, tables []string) ([]indexDef, error) {
	lits := make([]string, len(tables))
	for i, t := range tables {
		lits[i] = "'" + strings.ReplaceAll(t, "'", "''") + "'"
	}
	rows, err := c.rows(ctx, `SELECT c.relname, pg_get_indexdef(c.oid)
		FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = current_schema() AND t.relname IN (`+strings.Join(lits, ", ")+`)
		AND NOT x.indisprimary AND NOT x.indisunique AND pg_has_role(c.relowner, 'USAGE') ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("seed: list indexes: %w", err)
	}
	var defs []indexDef
	var names []string
	for _, r := range rows {
		defs = append(defs, indexDef{name: r[0], def: r[1]})
		names = append(names, dbx.Postgres.Quote(r[0]))
	}
	if len(names) > 0 {
		if err := c.exec(ctx, "DROP INDEX "+strings.Join(names, ", ")); err != nil {
			return nil, fmt.Errorf("seed: drop indexes %s: %w", strings.Join(names, ", "), err)
		}
	}
	return defs, nil
}

// dropPrimaryKeys drops the primary key constraints of tables that no
// foreign key references (and that the role owns) and returns the
// statements that add them back:
// one sorted build after the load is cheaper than a b-tree insert per row.
func dropPrimaryKeys(ctx context.Context, c querier, tables []string) ([]indexDef, error) {
	lits := make([]string, len(tables))
	for i, t := range tables {
		lits[i] = "'" + strings.ReplaceAll(t, "'", "''") + "'"
	}
	rows, err := c.rows(ctx, `SELECT t.relname, con.conname, pg_get_constraintdef(con.oid)
		FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE con.contype = 'p' AND n.nspname = current_schema() AND t.relname IN (`+strings.Join(lits, ", ")+`)
		AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = con.conrelid)
		AND pg_has_role(t.relowner, 'USAGE')
		ORDER BY t.relname`)
	if err != nil {
		return nil, fmt.Errorf("seed: list primary keys: %w", err)
	}
	var defs []indexDef
	var drops []string
	for _, r := range rows {
		table, name, def := dbx.Postgres.Quote(r[0]), dbx.Postgres.Quote(r[1]), r[2]
		drops = append(drops, "ALTER TABLE "+table+" DROP CONSTRAINT "+name)
		defs = append(defs, indexDef{name: r[1], def: "ALTER TABLE " + table + " ADD CONSTRAINT " + name + " " + def})
	}
	// One round trip for all of them.
	if len(drops) > 0 {
		if err := c.exec(ctx, strings.Join(drops, "; ")); err != nil {
			return nil, fmt.Errorf("seed: drop the primary keys: %w", err)
		}
	}
	return defs, nil
}

// lane is one writer's share of a load: the sink it writes through and
// the tables it loads, in load order (nil: every table).
type lane struct {
	snk    sink
	tables []string
	// after, when set, runs once the lane's tables are all loaded, while
	// other lanes may still be loading.
	after func(ctx context.Context) error
}

func (l lane) has(table string) bool { return l.tables == nil || slices.Contains(l.tables, table) }

// load runs the generators concurrently (each a goroutine feeding a small
// bounded channel) and writes their rows table by table through snk.
func (p *plan) load(ctx context.Context, snk sink, encode bool, stats *Stats) error {
	return p.loadLanes(ctx, []lane{{snk: snk}}, encode, stats)
}

// loadLanes is load with the tables shared among lanes that write
// concurrently, each its own tables in load order.
func (p *plan) loadLanes(ctx context.Context, lanes []lane, encode bool, stats *Stats) error {
	var files, fileBytes atomic.Int64
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The first failure wins over the cancellations it causes.
	var failMu sync.Mutex
	var failErr error
	fail := func(err error) {
		failMu.Lock()
		if failErr == nil {
			failErr = err
		}
		failMu.Unlock()
		cancel()
	}
	mb := newManifestBuilder()
	var wg sync.WaitGroup
	withFiles := p.opt.withFiles()
	start := func(table string, gen func(emit attachmentEmit) error) *stage {
		st := &stage{table: table, total: p.totals[table], ch: make(chan chunk, 2)}
		// With encode, a goroutine of its own encodes the generator's
		// chunks in order, so generating and encoding a big table use two
		// cores; the attachment chunks with files are finished by the file
		// writers instead.
		finishInline := !encode || (withFiles && table == "file_attachments")
		gen2enc, genErr := st.ch, &st.err
		if !finishInline {
			raw := &stage{table: table, ch: make(chan chunk, 2)}
			gen2enc, genErr = raw.ch, &raw.err
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(st.ch)
				for c := range raw.ch {
					p.finish(table, &c, encode)
					select {
					case st.ch <- c:
					case <-ctx.Done():
					}
				}
				st.err = raw.err
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(gen2enc)
			c := chunk{rows: make([][]any, 0, chunkRows)}
			send := func() error {
				c.n = len(c.rows)
				if finishInline && !(withFiles && table == "file_attachments") {
					p.finish(table, &c, encode)
				}
				select {
				case gen2enc <- c:
				case <-ctx.Done():
					return ctx.Err()
				}
				c = chunk{rows: make([][]any, 0, chunkRows)}
				return nil
			}
			err := gen(func(row []any, write bool) error {
				if write && withFiles {
					c.files = append(c.files, len(c.rows))
				}
				c.rows = append(c.rows, row)
				if len(c.rows) == chunkRows {
					return send()
				}
				return nil
			})
			if err == nil && len(c.rows) > 0 {
				err = send()
			}
			*genErr = err
		}()
		return st
	}
	plain := func(g func(emitFunc) error) func(attachmentEmit) error {
		return func(e attachmentEmit) error { return g(func(r []any) error { return e(r, false) }) }
	}
	withMB := func(g func(emitFunc, *manifestBuilder) error) func(attachmentEmit) error {
		return func(e attachmentEmit) error {
			return g(func(r []any) error { return e(r, false) }, mb)
		}
	}
	stages := []*stage{
		start("locations", plain(p.genLocations)),
		start("instructors", plain(p.genInstructors)),
		start("organizations", withMB(p.genOrganizations)),
		start("organization_contacts", withMB(p.genContacts)),
		start("members", withMB(p.genMembers)),
		start("member_employments", withMB(p.genEmployments)),
		start("students", withMB(p.genStudents)),
		start("grievances", plain(p.genGrievances)),
		start("file_attachments", func(e attachmentEmit) error { return p.genAttachments(e, mb) }),
	}
	if withFiles {
		last := stages[len(stages)-1]
		stages[len(stages)-1] = p.writeFiles(ctx, fail, last, &wg, encode, &files, &fileBytes)
	}
	err := p.write(ctx, lanes, stages, stats)
	if err != nil {
		fail(err)
	}
	wg.Wait()
	if err == nil && withFiles && p.checksums != "" {
		snk := lanes[0].snk
		for _, l := range lanes {
			if l.has("file_attachments") {
				snk = l.snk
			}
		}
		if err = p.writeChecksums(ctx, snk, encode); err != nil {
			return err
		}
	}
	if err != nil {
		failMu.Lock()
		defer failMu.Unlock()
		if parent.Err() == nil && failErr != err {
			return fmt.Errorf("seed file_attachments: %w", failErr)
		}
		return err
	}
	stats.Manifest = mb.build(p.opt.Faults)
	if p.opt.Faults > 0 && len(p.caps.notPlantable) > 0 {
		stats.NotPlantable = maps.Clone(p.caps.notPlantable)
	}
	stats.Files, stats.FileBytes = files.Load(), fileBytes.Load()
	return nil
}

// checksumSet collects the SHA-256 of the files written, by attachment id.
type checksumSet struct {
	mu   sync.Mutex
	sums map[int64]string
}

func (c *checksumSet) add(id int64, sum string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sums == nil {
		c.sums = map[int64]string{}
	}
	c.sums[id] = sum
}

// clearChecksums deletes the recorded checksums of the attachment ids this
// run writes (all of them after truncation).
func (p *plan) clearChecksums(ctx context.Context, q querier) error {
	if p.checksums == "" || !p.opt.withFiles() {
		return nil
	}
	if err := q.exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE attachment_id > %d", p.checksums, p.off.attachments)); err != nil {
		return fmt.Errorf("seed: clear checksums: %w", err)
	}
	return nil
}

// writeChecksums stores the checksums of the files written in ip2adb's
// checksum table, keyed by attachment id, in id order.
func (p *plan) writeChecksums(ctx context.Context, snk sink, encode bool) error {
	p.sums.mu.Lock()
	defer p.sums.mu.Unlock()
	ids := slices.Sorted(maps.Keys(p.sums.sums))
	now := p.now.Format(time.DateTime)
	if err := snk.begin(ctx, p.checksums, []string{"attachment_id", "checksum", "recorded_at"}); err != nil {
		return fmt.Errorf("seed checksums: %w", err)
	}
	for len(ids) > 0 {
		n := min(len(ids), chunkRows)
		c := chunk{rows: make([][]any, n), n: n}
		for i, id := range ids[:n] {
			c.rows[i] = []any{id, p.sums.sums[id], now}
		}
		if encode {
			c.encode(p.buffer())
		}
		if err := snk.write(ctx, c); err != nil {
			return fmt.Errorf("seed checksums: %w", err)
		}
		p.reuse(&c)
		ids = ids[n:]
	}
	if err := snk.end(ctx); err != nil {
		return fmt.Errorf("seed checksums: %w", err)
	}
	return nil
}

// finish turns the generated rows of c into rows of the live table and,
// with encode, into COPY text. The files of a chunk are written before.
func (p *plan) finish(table string, c *chunk, encode bool) {
	if a := p.adapters[table]; a != nil {
		for i, row := range c.rows {
			c.rows[i] = a.apply(row)
		}
	}
	if !encode {
		return
	}
	if e := p.binary[table]; e != nil {
		c.encodeBinary(e, p.buffer())
		return
	}
	c.encode(p.buffer())
}

// buffer returns an empty buffer for a chunk's encoding, one a written
// chunk gave back (reuse) when there is one.
func (p *plan) buffer() []byte {
	if b, ok := p.buffers.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 64<<10)
}

// reuse gives back the buffer of a chunk the sink has written (sinks do
// not keep the bytes they are given).
func (p *plan) reuse(c *chunk) {
	if cap(c.text) > 0 {
		b := c.text
		c.text = nil
		p.buffers.Put(&b)
	}
}

// writeFiles inserts a pool of file writers between the attachment
// generator and the loader: each writes the files of a chunk and fills in
// their checksums. Chunks may overtake each other; ids are explicit.
func (p *plan) writeFiles(ctx context.Context, fail func(error), in *stage, wg *sync.WaitGroup, encode bool, files, fileBytes *atomic.Int64) *stage {
	out := &stage{table: in.table, total: in.total, ch: make(chan chunk, 2)}
	fw := &fileWriter{seed: p.opt.Seed, scale: p.opt.FileScale, store: p.opt.Files}
	var local *filestore.Local
	if fw.store == nil {
		var err error
		if local, err = filestore.OpenLocal(p.opt.FilesDir); err != nil {
			fail(fmt.Errorf("files directory: %w", err))
		} else {
			fw.store = local
		}
	}
	// Creating small files is latency-bound (syscalls, not CPU): many
	// workers keep the file system busy; each holds only a 64 KB buffer.
	workers := fileWorkers
	var pool sync.WaitGroup
	for range workers {
		pool.Add(1)
		go func() {
			defer pool.Done()
			buf := make([]byte, fileBlock)
			for c := range in.ch {
				if ctx.Err() != nil {
					continue
				}
				for _, i := range c.files {
					sum, n, err := fw.write(ctx, c.rows[i], buf)
					if err != nil {
						fail(err)
						break
					}
					c.rows[i][attColChecksum] = sum
					p.sums.add(c.rows[i][0].(int64), sum)
					files.Add(1)
					fileBytes.Add(n)
				}
				p.finish(in.table, &c, encode)
				select {
				case out.ch <- c:
				case <-ctx.Done():
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		pool.Wait()
		if local != nil {
			local.Close()
		}
		out.err = in.err
		close(out.ch)
	}()
	return out
}

// write drains the stages into the lanes, each lane its own stages in
// order, the lanes concurrently; the first failure cancels the others.
// Stats lists the tables in load order whatever order they finished in.
func (p *plan) write(ctx context.Context, lanes []lane, stages []*stage, stats *Stats) error {
	for _, st := range stages {
		if !slices.ContainsFunc(lanes, func(l lane) bool { return l.has(st.table) }) {
			return fmt.Errorf("seed %s: no writer loads this table", st.table)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make([]TableStats, len(stages))
	errs := make([]error, len(lanes))
	var progress sync.Mutex // Progress is called from one goroutine at a time
	var wg sync.WaitGroup
	for li, l := range lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for si, st := range stages {
				if !l.has(st.table) {
					continue
				}
				ts, err := p.writeStage(ctx, l.snk, st, &progress)
				if err != nil {
					errs[li] = err
					cancel()
					return
				}
				done[si] = ts
			}
			if l.after != nil {
				if err := l.after(ctx); err != nil {
					errs[li] = err
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	// The first real failure, not the cancellations it caused.
	var first error
	for _, err := range errs {
		if err != nil && (first == nil || errors.Is(first, context.Canceled) && !errors.Is(err, context.Canceled)) {
			first = err
		}
	}
	if first != nil {
		return first
	}
	stats.Tables = append(stats.Tables, done...)
	return nil
}

// writeStage drains one stage into snk.
func (p *plan) writeStage(ctx context.Context, snk sink, st *stage, progress *sync.Mutex) (TableStats, error) {
	t0 := time.Now()
	cols := p.loadColumns(st.table)
	if err := snk.begin(ctx, st.table, cols); err != nil {
		return TableStats{}, fmt.Errorf("seed %s: %w", st.table, err)
	}
	var done int64
	for c := range st.ch {
		if err := ctx.Err(); err != nil {
			return TableStats{}, err
		}
		if c.err != nil {
			return TableStats{}, fmt.Errorf("seed %s: %w", st.table, c.err)
		}
		if err := snk.write(ctx, c); err != nil {
			return TableStats{}, fmt.Errorf("seed %s: %w", st.table, err)
		}
		p.reuse(&c)
		done += int64(c.n)
		if p.opt.Progress != nil {
			progress.Lock()
			p.opt.Progress(st.table, done, st.total)
			progress.Unlock()
		}
	}
	if st.err != nil {
		return TableStats{}, fmt.Errorf("seed %s: %w", st.table, st.err)
	}
	if err := ctx.Err(); err != nil {
		return TableStats{}, err
	}
	if err := snk.end(ctx); err != nil {
		return TableStats{}, fmt.Errorf("seed %s: %w", st.table, err)
	}
	p.opt.Log.V(1).Info("table loaded", "table", st.table, "rows", done, "seconds", time.Since(t0).Seconds())
	return TableStats{Table: st.table, Rows: done, Duration: time.Since(t0)}, nil
}

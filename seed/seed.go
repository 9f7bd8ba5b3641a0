// Package seed fills an IP2A database with reproducible sample data: the
// quick, normal and stress profiles of the original system (or custom
// counts), optionally with planted integrity faults of every kind and with
// real attachment files on disk. Rows are streamed into PostgreSQL with COPY
// and into SQLite with batched inserts, in one transaction.
package seed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/schema"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// OptionsError reports invalid Options (a usage error: nothing was changed).
type OptionsError struct{ Err error }

func (e *OptionsError) Error() string { return e.Err.Error() }
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
func Reset(ctx context.Context, db *sqlx.DB) ([]TableStats, error) {
	d := dbx.DialectOf(db)
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	defer tx.Rollback()
	var out []TableStats
	var names []string
	for _, t := range schema.Tables() {
		ok, err := dbx.TableExists(ctx, tx, d, t)
		if err != nil {
			return nil, fmt.Errorf("reset: %w", err)
		}
		if !ok {
			continue
		}
		var n int64
		if err := tx.GetContext(ctx, &n, "SELECT count(*) FROM "+d.Quote(t)); err != nil {
			return nil, fmt.Errorf("reset: count %s: %w", t, err)
		}
		out = append(out, TableStats{Table: t, Rows: n})
		names = append(names, t)
	}
	if err := truncate(ctx, tx, d, names); err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("reset: commit: %w", err)
	}
	return out, nil
}

func truncate(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect, tables []string) error {
	if len(tables) == 0 {
		return nil
	}
	if d == dbx.Postgres {
		q := make([]string, len(tables))
		for i, t := range tables {
			q[i] = d.Quote(t)
		}
		if _, err := tx.ExecContext(ctx, "TRUNCATE "+strings.Join(q, ", ")+" RESTART IDENTITY"); err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
		return nil
	}
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+d.Quote(t)); err != nil {
			return fmt.Errorf("truncate %s: %w", t, err)
		}
	}
	return nil
}

// chunk is a batch of generated rows on their way to the database; files
// indexes the rows whose attachment file is to be written.
type chunk struct {
	rows  [][]any
	files []int
}

const chunkRows = 512

// stage is one table's generator feeding the loader.
type stage struct {
	table string
	total int64
	ch    chan chunk
	err   error // set before ch is closed
}

// Run seeds db as opt says: it creates the schema when missing, empties the
// IP2A tables (unless NoTruncate), then generates and loads every table in
// one transaction, so a failure leaves the database as it was (files already
// written under FilesDir stay).
func Run(ctx context.Context, db *sqlx.DB, opt Options) (Stats, error) {
	if err := opt.Validate(); err != nil {
		return Stats{}, &OptionsError{err}
	}
	opt = opt.withDefaults()
	if opt.FilesDir != "" {
		if st, err := os.Stat(opt.FilesDir); err != nil || !st.IsDir() {
			return Stats{}, &OptionsError{fmt.Errorf("files directory %s does not exist", opt.FilesDir)}
		}
	}
	start := time.Now()
	log := opt.Log
	if err := Schema(ctx, db); err != nil {
		return Stats{}, err
	}
	d := dbx.DialectOf(db)
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return Stats{}, fmt.Errorf("seed: begin: %w", err)
	}
	defer tx.Rollback()
	tables := schema.Tables()
	var off offsets
	if opt.NoTruncate {
		if off, err = maxIDs(ctx, tx, d); err != nil {
			return Stats{}, err
		}
	} else if err := truncate(ctx, tx, d, tables); err != nil {
		return Stats{}, fmt.Errorf("seed: %w", err)
	}
	var indexes []indexDef
	if d == dbx.Postgres {
		if _, err := tx.ExecContext(ctx, "SET LOCAL maintenance_work_mem = '128MB'"); err != nil {
			return Stats{}, fmt.Errorf("seed: %w", err)
		}
		if !opt.NoTruncate {
			if indexes, err = dropIndexes(ctx, tx, tables); err != nil {
				return Stats{}, err
			}
		}
	}
	p := newPlan(opt, off)
	log.V(1).Info("seeding", "profile", opt.Profile, "seed", opt.Seed, "faults", opt.Faults, "totals", p.totals)

	var snk sink
	if d == dbx.Postgres {
		snk = &copySink{tx: tx, freeze: !opt.NoTruncate}
	} else {
		snk = &insertSink{tx: tx}
	}
	stats := Stats{Profile: opt.Profile, Seed: opt.Seed, Faults: opt.Faults}
	var files, fileBytes atomic.Int64
	if err := p.load(ctx, snk, &stats, &files, &fileBytes); err != nil {
		return Stats{}, err
	}
	if d == dbx.Postgres {
		for _, ix := range indexes {
			t0 := time.Now()
			if _, err := tx.ExecContext(ctx, ix.def); err != nil {
				return Stats{}, fmt.Errorf("seed: recreate index %s: %w", ix.name, err)
			}
			log.V(1).Info("index rebuilt", "index", ix.name, "seconds", time.Since(t0).Seconds())
		}
		for _, t := range tables {
			q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', 'id'), COALESCE((SELECT max(id) FROM %s), 0) + 1, false)", t, d.Quote(t))
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return Stats{}, fmt.Errorf("seed: reset sequence of %s: %w", t, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return Stats{}, fmt.Errorf("seed: commit: %w", err)
	}
	if d == dbx.Postgres {
		// Fresh planner statistics, so the checks that follow pick good plans.
		q := make([]string, len(tables))
		for i, t := range tables {
			q[i] = d.Quote(t)
		}
		if _, err := db.ExecContext(ctx, "ANALYZE "+strings.Join(q, ", ")); err != nil {
			return Stats{}, fmt.Errorf("seed: analyze: %w", err)
		}
	}
	stats.Duration = time.Since(start)
	for _, t := range stats.Tables {
		stats.Rows += t.Rows
	}
	if s := stats.Duration.Seconds(); s > 0 {
		stats.RowsPerSecond = float64(stats.Rows) / s
	}
	stats.Files, stats.FileBytes = files.Load(), fileBytes.Load()
	log.V(1).Info("seeded", "rows", stats.Rows, "seconds", stats.Duration.Seconds(), "files", stats.Files)
	return stats, nil
}

func maxIDs(ctx context.Context, tx *sqlx.Tx, d dbx.Dialect) (offsets, error) {
	var o offsets
	for _, x := range []struct {
		table string
		dst   *int64
	}{{"locations", &o.locations}, {"instructors", &o.instructors}, {"organizations", &o.organizations},
		{"organization_contacts", &o.contacts}, {"members", &o.members}, {"member_employments", &o.employments},
		{"students", &o.students}, {"grievances", &o.grievances}, {"file_attachments", &o.attachments}} {
		if err := tx.GetContext(ctx, x.dst, "SELECT COALESCE(max(id), 0) FROM "+d.Quote(x.table)); err != nil {
			return o, fmt.Errorf("seed: largest id of %s: %w", x.table, err)
		}
	}
	return o, nil
}

type indexDef struct{ name, def string }

// dropIndexes drops the secondary (non-unique, non-primary) indexes of
// tables and returns their definitions for recreation after the load.
func dropIndexes(ctx context.Context, tx *sqlx.Tx, tables []string) ([]indexDef, error) {
	var defs []indexDef
	rows, err := tx.QueryContext(ctx, `SELECT c.relname, pg_get_indexdef(c.oid)
		FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = current_schema() AND t.relname = ANY($1) AND NOT x.indisprimary AND NOT x.indisunique
		ORDER BY c.relname`, pq.Array(tables))
	if err != nil {
		return nil, fmt.Errorf("seed: list indexes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ix indexDef
		if err := rows.Scan(&ix.name, &ix.def); err != nil {
			return nil, fmt.Errorf("seed: list indexes: %w", err)
		}
		defs = append(defs, ix)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("seed: list indexes: %w", err)
	}
	rows.Close()
	for _, ix := range defs {
		if _, err := tx.ExecContext(ctx, "DROP INDEX "+dbx.Postgres.Quote(ix.name)); err != nil {
			return nil, fmt.Errorf("seed: drop index %s: %w", ix.name, err)
		}
	}
	return defs, nil
}

// load runs the generators concurrently (each a goroutine feeding a small
// bounded channel) and writes their rows table by table through snk.
func (p *plan) load(ctx context.Context, snk sink, stats *Stats, files, fileBytes *atomic.Int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mb := newManifestBuilder()
	var wg sync.WaitGroup
	withFiles := p.opt.FilesDir != ""
	start := func(table string, gen func(emit attachmentEmit) error) *stage {
		st := &stage{table: table, total: p.totals[table], ch: make(chan chunk, 2)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(st.ch)
			c := chunk{rows: make([][]any, 0, chunkRows)}
			send := func() error {
				select {
				case st.ch <- c:
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
			st.err = err
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
		stages[len(stages)-1] = p.writeFiles(ctx, cancel, last, &wg, files, fileBytes)
	}
	err := p.write(ctx, snk, stages, stats)
	if err != nil {
		cancel()
	}
	wg.Wait()
	if err != nil {
		return err
	}
	stats.Manifest = mb.build(p.opt.Faults)
	return nil
}

// writeFiles inserts a pool of file writers between the attachment
// generator and the loader: each writes the files of a chunk and fills in
// their checksums. Chunks may overtake each other; ids are explicit.
func (p *plan) writeFiles(ctx context.Context, cancel context.CancelFunc, in *stage, wg *sync.WaitGroup, files, fileBytes *atomic.Int64) *stage {
	out := &stage{table: in.table, total: in.total, ch: make(chan chunk, 2)}
	fw := &fileWriter{dir: p.opt.FilesDir, seed: p.opt.Seed, scale: p.opt.FileScale}
	workers := min(max(2*runtime.GOMAXPROCS(0), 2), 8)
	var errOnce sync.Once
	var firstErr error
	var pool sync.WaitGroup
	for range workers {
		pool.Add(1)
		go func() {
			defer pool.Done()
			var buf []byte
			for c := range in.ch {
				if ctx.Err() != nil {
					continue
				}
				for _, i := range c.files {
					sum, n, err := fw.write(c.rows[i], &buf)
					if err != nil {
						errOnce.Do(func() { firstErr = err; cancel() })
						break
					}
					c.rows[i][attColChecksum] = sum
					files.Add(1)
					fileBytes.Add(n)
				}
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
		out.err = errors.Join(in.err, firstErr)
		close(out.ch)
	}()
	return out
}

// write drains the stages in order into snk.
func (p *plan) write(ctx context.Context, snk sink, stages []*stage, stats *Stats) error {
	for _, st := range stages {
		t0 := time.Now()
		cols := columns(st.table)
		if err := snk.begin(ctx, st.table, cols); err != nil {
			return fmt.Errorf("seed %s: %w", st.table, err)
		}
		var done int64
		for c := range st.ch {
			for _, row := range c.rows {
				if err := snk.write(ctx, row); err != nil {
					return fmt.Errorf("seed %s: %w", st.table, err)
				}
			}
			done += int64(len(c.rows))
			if p.opt.Progress != nil {
				p.opt.Progress(st.table, done, st.total)
			}
		}
		if st.err != nil {
			return fmt.Errorf("seed %s: %w", st.table, st.err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := snk.end(ctx); err != nil {
			return fmt.Errorf("seed %s: %w", st.table, err)
		}
		stats.Tables = append(stats.Tables, TableStats{Table: st.table, Rows: done, Duration: time.Since(t0)})
		p.opt.Log.V(1).Info("table loaded", "table", st.table, "rows", done, "seconds", time.Since(t0).Seconds())
	}
	return nil
}

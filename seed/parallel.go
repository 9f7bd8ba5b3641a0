package seed

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// pgLanes is how many connections load a truncating PostgreSQL seed at
// once: the largest tables each get one, the small ones share.
const pgLanes = 3

// seedStatisticsTarget is the statistics target of the ANALYZE that ends a
// parallel load (PostgreSQL's default is 100).
const seedStatisticsTarget = 10

// parallelOK reports whether the tables can be loaded on several
// connections at once, each emptying its own tables in its own
// transaction: only when truncating, and when no foreign key links one of
// the tables to another (TRUNCATE must name a referenced table together
// with its referencing ones, and a foreign key check would wait on the
// other transaction) — as on ip2adb's own schema.
func parallelOK(opt Options, live *liveSchema, tables []string) bool {
	if opt.NoTruncate || live == nil {
		return false
	}
	for _, t := range tables {
		if len(live.referencedBy[t]) > 0 {
			return false
		}
		for _, c := range live.table(t).colsOrNil() {
			if c.references != "" {
				return false
			}
		}
	}
	return true
}

func (t *liveTable) colsOrNil() []*liveCol {
	if t == nil {
		return nil
	}
	return t.cols
}

// laneTables splits tables (in load order) among at most n lanes by their
// planned row counts, largest first onto the least loaded lane; each
// lane's tables stay in load order. Empty lanes are dropped.
func laneTables(tables []string, totals map[string]int64, n int) [][]string {
	bySize := slices.Clone(tables)
	slices.SortStableFunc(bySize, func(a, b string) int {
		switch {
		case totals[a] > totals[b]:
			return -1
		case totals[a] < totals[b]:
			return 1
		}
		return 0
	})
	load := make([]int64, n)
	owner := map[string]int{}
	for _, t := range bySize {
		least := 0
		for i := range load {
			if load[i] < load[least] {
				least = i
			}
		}
		owner[t] = least
		load[least] += totals[t] + 1
	}
	out := make([][]string, n)
	for _, t := range tables {
		out[owner[t]] = append(out[owner[t]], t)
	}
	return slices.DeleteFunc(out, func(g []string) bool { return len(g) == 0 })
}

// pgLane is one connection of a parallel load and the transaction on it.
type pgLane struct {
	c       querier
	snk     sink
	tables  []string
	indexes []indexDef
	// close gives the connection back or closes it; bad: discards it,
	// which rolls its transaction back.
	close func(bad bool)
}

// pin holds one pooled connection's driver connection for the caller
// until the lane is closed: the callback of sql.Conn.Raw waits for that,
// so the raw connection may be used meanwhile from any one goroutine at a
// time. The lane loads in text format through lib/pq.
func pin(ctx context.Context, db *sqlx.DB, freeze bool, replica map[string]bool) (*pgLane, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("seed: connect: %w", err)
	}
	release, done := make(chan bool, 1), make(chan error, 1)
	var c *rawConn
	got := make(chan error, 1)
	go func() {
		err := conn.Raw(func(dc any) error {
			var err error
			if c, err = newRawConn(dc); err != nil {
				got <- err
				return err
			}
			got <- nil
			if bad := <-release; bad {
				// Closing the connection aborts its transaction and any
				// COPY in progress, whatever state a failure left.
				return driver.ErrBadConn
			}
			return nil
		})
		conn.Close()
		done <- err
	}()
	if err := <-got; err != nil {
		<-done
		return nil, err
	}
	return &pgLane{c: c, snk: &copySink{conn: c, freeze: freeze, replica: replica}, close: func(bad bool) {
		release <- bad
		<-done
	}}, nil
}

// dial opens a connection of the seed's own to url for a lane that loads
// in binary format where plan.binary says so.
func dial(ctx context.Context, url string, freeze bool, replica map[string]bool, p *plan) (*pgLane, error) {
	c, err := dialWire(ctx, url)
	if err != nil {
		return nil, err
	}
	snk := &wireSink{conn: c, freeze: freeze, replica: replica, binary: func(t string) *binaryEncoder { return p.binary[t] }}
	return &pgLane{c: c, snk: snk, close: func(bool) {
		// A COPY in progress is failed first; closing the connection
		// rolls back a transaction that did not commit.
		snk.abort()
		c.close()
	}}, nil
}

// openLanes opens n lanes at once: connections of their own to url when
// wire is set, else connections pinned from db. When one fails, those that
// opened are closed and the error is the first one (the lanes fail alike).
func openLanes(ctx context.Context, db *sqlx.DB, url string, wire bool, n int, p *plan) ([]*pgLane, error) {
	opened := make([]*pgLane, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if wire {
				opened[i], errs[i] = dial(ctx, url, true, p.caps.replica, p)
			} else {
				opened[i], errs[i] = pin(ctx, db, true, p.caps.replica)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			for _, l := range opened {
				if l != nil {
					l.close(false) // nothing begun on it yet
				}
			}
			return nil, err
		}
	}
	return opened, nil
}

// eachLane runs f on every lane concurrently and returns their errors.
func eachLane(lanes []*pgLane, f func(i int, l *pgLane) error) error {
	errs := make([]error, len(lanes))
	var wg sync.WaitGroup
	for i, l := range lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i, l)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// loadPostgresParallel seeds the tables on several connections at once.
// Each lane, in its own transaction, counts the rows that are not the
// seed's (the guard), empties its tables (so COPY … FREEZE applies), drops
// their secondary indexes and primary keys, loads them, rebuilds the
// indexes, moves the id sequences past the seeded ids and analyzes them.
// The first lane records the seed marker. Only when every lane got that far
// do they all commit; any failure discards every lane's connection, which
// rolls its transaction back. (A commit that fails after another lane's
// commit succeeded would leave that lane's tables seeded: the one window
// in which the run is not all or nothing.)
func loadPostgresParallel(ctx context.Context, db *sqlx.DB, opt Options, live *liveSchema, own ownNames, tables []string, stats *Stats) (err error) {
	log := opt.Log
	p, err := newPlan(opt, offsets{}, live, newCaps(live, false, ""))
	if err != nil {
		return err
	}
	p.checksums = own.checksums
	groups := laneTables(tables, p.totals, pgLanes)
	lanes := make([]*pgLane, 0, len(groups))
	defer func() {
		for _, l := range lanes {
			l.close(err != nil)
		}
	}()
	// The lanes connect at once (each connection's start-up is a few
	// round trips). Connections of the seed's own (binary COPY) need the
	// URL to work for pgconn too; where it does not (a parameter only
	// lib/pq knows, say), the seed loads through db's driver instead.
	wire := opt.PostgresURL != ""
	opened, err := openLanes(ctx, db, opt.PostgresURL, wire, len(groups), p)
	if err != nil && wire {
		log.V(1).Info("binary COPY unavailable; loading through the driver", "error", err.Error())
		wire = false
		opened, err = openLanes(ctx, db, "", false, len(groups), p)
	}
	for i, l := range opened {
		if l != nil {
			l.tables = groups[i]
			lanes = append(lanes, l) // closed by the deferred function
		}
	}
	if err != nil {
		return err
	}

	foreign := make([][]TableStats, len(lanes))
	err = eachLane(lanes, func(i int, l *pgLane) error {
		if err := l.c.exec(ctx, "BEGIN"); err != nil {
			return fmt.Errorf("seed: begin: %w", err)
		}
		// No parallel workers for the index builds while other lanes
		// work (see finish): in alternating stress seeds the server's CPU
		// fell by a sixth without them and the wall time did not grow.
		if err := l.c.exec(ctx, "SET LOCAL maintenance_work_mem = '128MB'; SET LOCAL max_parallel_maintenance_workers = 0"); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		if !opt.Force {
			ranges, err := readMarker(ctx, l.c, own.marker)
			if err != nil {
				return fmt.Errorf("seed: %w", err)
			}
			if foreign[i], err = foreignRows(ctx, l.c, dbx.Postgres, ranges, live, l.tables); err != nil {
				return fmt.Errorf("seed: %w", err)
			}
			if len(foreign[i]) > 0 {
				return nil
			}
		}
		// The indexes go first: TRUNCATE gives every index of its tables
		// a new, empty file, each built and synced to disk on its own.
		indexes, err := dropIndexes(ctx, l.c, l.tables)
		if err != nil {
			return err
		}
		pks, err := dropPrimaryKeys(ctx, l.c, l.tables)
		if err != nil {
			return err
		}
		l.indexes = append(pks, indexes...)
		if err := l.c.exec(ctx, truncateSQL(l.tables)); err != nil {
			return fmt.Errorf("seed: truncate: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if all := slices.Concat(foreign...); len(all) > 0 {
		order := func(t string) int { return slices.Index(tables, t) }
		slices.SortFunc(all, func(a, b TableStats) int { return order(a.Table) - order(b.Table) })
		return &NotEmptyError{Tables: all}
	}
	if wire {
		if p.binary, err = binaryEncoders(ctx, lanes, p); err != nil {
			return err
		}
		log.V(1).Info("binary COPY", "tables", slices.DeleteFunc(slices.Clone(tables), func(t string) bool { return p.binary[t] == nil }))
	}
	sinks := make([]lane, len(lanes))
	for i, l := range lanes {
		sinks[i] = lane{snk: l.snk, tables: l.tables}
		if slices.Contains(l.tables, "file_attachments") {
			if err := p.clearChecksums(ctx, l.c); err != nil {
				return err
			}
		}
	}
	log.V(1).Info("seeding", "profile", opt.Profile, "seed", opt.Seed, "faults", opt.Faults, "totals", p.totals,
		"connections", len(lanes))
	var finished atomic.Int32 // lanes whose tables are loaded, indexed and analyzed
	alone := func() bool { return finished.Load() == int32(len(lanes)-1) }
	for i, l := range lanes {
		sinks[i].after = func(ctx context.Context) error {
			if err := l.finish(ctx, log, alone); err != nil {
				return err
			}
			finished.Add(1)
			return nil
		}
	}
	if err := p.loadLanes(ctx, sinks, true, stats); err != nil {
		return err
	}
	if err := markRanges(ctx, lanes[0].c, own.marker, opt, offsets{}, stats); err != nil {
		return err
	}
	return eachLane(lanes, func(_ int, l *pgLane) error {
		if err := l.c.exec(ctx, "COMMIT"); err != nil {
			return fmt.Errorf("seed: commit: %w", err)
		}
		return nil
	})
}

// binaryEncoders returns the binary encoders of the lanes' tables whose
// column types the encoder knows; the others are loaded in text format.
// A column the seed does not fill whose default is the transaction's time
// (now(), CURRENT_TIMESTAMP) is sent with that time, read once from its
// lane's transaction: the rows are the same, and the server does not
// evaluate the default (and cast it to timestamp) for every row.
func binaryEncoders(ctx context.Context, lanes []*pgLane, p *plan) (map[string]*binaryEncoder, error) {
	out := map[string]*binaryEncoder{}
	for _, l := range lanes {
		c := l.c.(*wireConn)
		var now *txTime
		for _, t := range l.tables {
			cols := p.loadColumns(t)
			oids, err := c.columnTypes(ctx, t, cols)
			if err != nil {
				return nil, fmt.Errorf("seed: column types of %s: %w", t, err)
			}
			e := newBinaryEncoder(oids)
			if e == nil {
				continue
			}
			defaults, err := c.nowDefaults(ctx, t)
			if err != nil {
				return nil, fmt.Errorf("seed: column defaults of %s: %w", t, err)
			}
			for _, d := range defaults {
				if slices.Contains(cols, d.name) {
					continue
				}
				if now == nil {
					if now, err = c.transactionTime(ctx); err != nil {
						return nil, fmt.Errorf("seed: the transaction's time: %w", err)
					}
				}
				us := now.local
				if d.oid == oidTimestamptz {
					us = now.utc
				}
				e = e.withConstant(d.name, uint64(us))
			}
			out[t] = e
		}
	}
	return out, nil
}

// finish rebuilds the lane's indexes, moves its tables' id sequences past
// the seeded ids and analyzes them (fresh planner statistics, so the
// checks that follow pick good plans), in the loading transaction.
//
// An index build that starts when alone() reports that every other lane
// has finished may take one parallel worker: the core the other lanes
// used is free then. (On the stress profile that is member_employments'
// three builds, organization_id's the longest, its rows in no order.)
// While the lanes load side by side the builds take none: the lanes and
// the generators already keep the cores busy, and a worker adds its own
// cost (its start, a share of the sort each, the merge).
func (l *pgLane) finish(ctx context.Context, log logr.Logger, alone func() bool) error {
	workers := 0
	for _, ix := range l.indexes {
		t0 := time.Now()
		if workers == 0 && alone() {
			workers = 1
			if err := l.c.exec(ctx, "SET LOCAL max_parallel_maintenance_workers = 1"); err != nil {
				return fmt.Errorf("seed: %w", err)
			}
		}
		if err := l.c.exec(ctx, ix.def); err != nil {
			return fmt.Errorf("seed: recreate index %s: %w", ix.name, err)
		}
		log.V(1).Info("index rebuilt", "index", ix.name, "seconds", time.Since(t0).Seconds(), "parallel_workers", workers)
	}
	q := make([]string, len(l.tables))
	for i, t := range l.tables {
		q[i] = dbx.Postgres.Quote(t)
		seq := fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', 'id'), COALESCE((SELECT max(id) FROM %s), 0) + 1, false)", t, q[i])
		if err := l.c.exec(ctx, seq); err != nil {
			return fmt.Errorf("seed: reset sequence of %s: %w", t, err)
		}
	}
	t0 := time.Now()
	// A 3,000-row sample per table (statistics target 10) instead of the
	// default 30,000: row and distinct counts good enough for the checks'
	// plans (full scans, hash joins and aggregates) at a tenth of the cost
	// — the default sample of file_attachments' text columns cost as much
	// as loading the table. Autovacuum's next ANALYZE refines them: the
	// loaded rows count as changes since this one once the load commits.
	if err := l.c.exec(ctx, "SET LOCAL default_statistics_target = "+strconv.Itoa(seedStatisticsTarget)); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if err := l.c.exec(ctx, "ANALYZE "+strings.Join(q, ", ")); err != nil {
		return fmt.Errorf("seed: analyze: %w", err)
	}
	log.V(1).Info("analyzed", "tables", l.tables, "seconds", time.Since(t0).Seconds())
	return nil
}

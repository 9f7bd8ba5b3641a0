package seed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jackc/pgx/v5/pgconn"
)

// wireConn is a PostgreSQL connection of the seed's own, opened from
// Options.PostgresURL with pgconn (the wire protocol, not a database/sql
// driver): unlike lib/pq, it streams COPY data as given, so the seed can
// load in binary format.
type wireConn struct {
	pg *pgconn.PgConn
}

func dialWire(ctx context.Context, url string) (*wireConn, error) {
	pg, err := pgconn.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("seed: connect: %w", err)
	}
	return &wireConn{pg: pg}, nil
}

func (c *wireConn) exec(ctx context.Context, query string) error {
	_, err := c.pg.Exec(ctx, query).ReadAll()
	return err
}

// rows returns every row of query as text (NULL as "").
func (c *wireConn) rows(ctx context.Context, query string) ([][]string, error) {
	res, err := c.pg.Exec(ctx, query).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return nil, nil
	}
	out := make([][]string, len(res[len(res)-1].Rows))
	for i, r := range res[len(res)-1].Rows {
		out[i] = make([]string, len(r))
		for j, v := range r {
			out[i][j] = string(v)
		}
	}
	return out, nil
}

// columnTypes returns the type OIDs of table's columns cols.
func (c *wireConn) columnTypes(ctx context.Context, table string, cols []string) ([]uint32, error) {
	rows, err := c.rows(ctx, fmt.Sprintf(`SELECT attname, atttypid FROM pg_attribute
		WHERE attrelid = '%s'::regclass AND attnum > 0 AND NOT attisdropped`,
		strings.ReplaceAll(quoteName(dbx.Postgres, table), "'", "''")))
	if err != nil {
		return nil, err
	}
	oids := make([]uint32, len(cols))
	for _, r := range rows {
		if i := slices.Index(cols, r[0]); i >= 0 {
			oid, err := parseOID(r[1])
			if err != nil {
				return nil, err
			}
			oids[i] = oid
		}
	}
	return oids, nil
}

// nowDefault is a column whose default is the transaction's time.
type nowDefault struct {
	name string
	oid  uint32
}

// nowDefaults returns table's timestamp and timestamptz columns whose
// default is the transaction's start time (now(), CURRENT_TIMESTAMP,
// transaction_timestamp()), in column order.
func (c *wireConn) nowDefaults(ctx context.Context, table string) ([]nowDefault, error) {
	rows, err := c.rows(ctx, fmt.Sprintf(`SELECT a.attname, a.atttypid FROM pg_attribute a
		JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = '%s'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		AND a.atttypid IN (%d, %d)
		AND pg_get_expr(d.adbin, d.adrelid) IN ('now()', 'CURRENT_TIMESTAMP', 'transaction_timestamp()')
		ORDER BY a.attnum`,
		strings.ReplaceAll(quoteName(dbx.Postgres, table), "'", "''"), oidTimestamp, oidTimestamptz))
	if err != nil {
		return nil, err
	}
	out := make([]nowDefault, len(rows))
	for i, r := range rows {
		out[i].name = r[0]
		if out[i].oid, err = parseOID(r[1]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// txTime is the start of the connection's transaction (now()) in
// microseconds since 2000-01-01, PostgreSQL's binary timestamp: local is
// the timestamp in the session's time zone (now()::timestamp), utc the
// timestamptz.
type txTime struct{ local, utc int64 }

func (c *wireConn) transactionTime(ctx context.Context) (*txTime, error) {
	rows, err := c.rows(ctx, `SELECT (EXTRACT(EPOCH FROM now()::timestamp - '2000-01-01') * 1000000)::bigint,
		(EXTRACT(EPOCH FROM now() - '2000-01-01 00:00:00+00') * 1000000)::bigint`)
	if err != nil {
		return nil, err
	}
	if len(rows) != 1 || len(rows[0]) != 2 {
		return nil, errors.New("no row")
	}
	var t txTime
	if t.local, err = strconv.ParseInt(rows[0][0], 10, 64); err != nil {
		return nil, err
	}
	if t.utc, err = strconv.ParseInt(rows[0][1], 10, 64); err != nil {
		return nil, err
	}
	return &t, nil
}

// parseOID reads an OID as PostgreSQL writes it in text: an unsigned
// 32-bit decimal.
func parseOID(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("type OID %q: %w", s, err)
	}
	return uint32(v), nil
}

// closeTimeout bounds how long close waits to say goodbye to the server
// (pgconn sends Terminate before it closes the socket): a server that
// stopped reading must not hold the seed's end.
const closeTimeout = 5 * time.Second

// close ends the connection, which rolls back a transaction that did not
// commit. It waits at most closeTimeout, whatever the caller's context:
// closing is cleanup that must happen after a cancelled one too.
func (c *wireConn) close() {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	c.pg.Close(ctx)
}

// wireSink streams encoded chunks into PostgreSQL with COPY FROM STDIN on
// a wireConn: in binary format for the tables whose chunks the plan
// encodes in binary (plan.binary), else in text format. freeze and
// replica are as for copySink.
type wireSink struct {
	conn    *wireConn
	freeze  bool
	replica map[string]bool
	binary  func(table string) *binaryEncoder
	table   string
	bin     bool
	pw      *io.PipeWriter
	done    chan error
}

func (s *wireSink) begin(ctx context.Context, table string, cols []string) error {
	s.table = table
	if err := setReplica(ctx, s.conn, s.replica[table], table, true); err != nil {
		return err
	}
	var e *binaryEncoder
	if s.binary != nil {
		e = s.binary(table)
	}
	s.bin = e != nil
	if s.bin && len(e.extra) > 0 {
		cols = append(slices.Clone(cols), e.extra...)
	}
	stmt := copyStatement(table, cols, s.bin, s.freeze)
	pr, pw := io.Pipe()
	s.pw, s.done = pw, make(chan error, 1)
	go func() {
		_, err := s.conn.pg.CopyFrom(ctx, pr, stmt)
		if err != nil {
			pr.CloseWithError(err)
		} else {
			pr.CloseWithError(errCopyEnded)
		}
		s.done <- err
	}()
	if s.bin {
		return s.send([]byte(binaryCopyHeader))
	}
	return nil
}

// errCopyEnded fails a write after the server ended the COPY.
var errCopyEnded = errors.New("the COPY has ended")

// send writes b to the COPY stream; when the COPY has failed, its error.
func (s *wireSink) send(b []byte) error {
	if _, err := s.pw.Write(b); err != nil {
		// Only the end of CopyFrom closes the reading side.
		err = <-s.done
		s.pw, s.done = nil, nil
		if err == nil {
			err = errCopyEnded
		}
		return fmt.Errorf("copy: %w", err)
	}
	return nil
}

func (s *wireSink) write(_ context.Context, c chunk) error {
	if len(c.text) == 0 {
		return nil
	}
	return s.send(c.text)
}

func (s *wireSink) end(ctx context.Context) error {
	if s.bin {
		if err := s.send([]byte(binaryCopyTrailer)); err != nil {
			return err
		}
	}
	s.pw.Close()
	err := <-s.done
	s.pw, s.done = nil, nil
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return setReplica(ctx, s.conn, s.replica[s.table], s.table, false)
}

// abort fails a COPY in progress, if any (the server then aborts the
// transaction), and waits until it has ended, so that the connection is
// free to be closed.
func (s *wireSink) abort() {
	if s.pw == nil {
		return
	}
	s.pw.CloseWithError(errSeedAborted)
	<-s.done
	s.pw, s.done = nil, nil
}

// errSeedAborted is what a COPY a failing seed abandons is failed with.
var errSeedAborted = errors.New("seed aborted")

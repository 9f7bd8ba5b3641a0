package seed

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// sink writes the chunks of one table at a time inside a transaction.
type sink interface {
	begin(ctx context.Context, table string, cols []string) error
	write(ctx context.Context, c chunk) error
	end(ctx context.Context) error
}

// copySink streams encoded chunks into PostgreSQL with COPY FROM STDIN on
// the lib/pq driver connection. With freeze (the tables were truncated in
// this transaction) rows are loaded already frozen, sparing a later vacuum.
//
// Tables in replica are loaded with session_replication_role = replica, so
// that their foreign keys let planted orphans in, as a bulk import or a
// restore does; the role is reset to origin after the table.
type copySink struct {
	conn    *rawConn
	freeze  bool
	replica map[string]bool
	table   string
	stmt    driver.Stmt
	data    copyDataer
}

// copyDataer is lib/pq's COPY statement: CopyData appends raw COPY text
// (one or more lines, without the final newline) to the stream.
type copyDataer interface {
	CopyData(ctx context.Context, line string) (driver.Result, error)
}

func (s *copySink) begin(ctx context.Context, table string, cols []string) error {
	s.table = table
	if err := setReplica(ctx, s.conn, s.replica[table], table, true); err != nil {
		return err
	}
	stmt := copyStatement(table, cols, false, s.freeze)
	st, err := s.conn.prepare(ctx, stmt)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	cd, ok := st.(copyDataer)
	if !ok {
		st.Close()
		return fmt.Errorf("copy: the driver's statement %T cannot stream COPY data", st)
	}
	s.stmt, s.data = st, cd
	return nil
}

func (s *copySink) write(ctx context.Context, c chunk) error {
	if len(c.text) == 0 {
		return nil
	}
	if _, err := s.data.CopyData(ctx, string(c.text[:len(c.text)-1])); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return nil
}

func (s *copySink) end(ctx context.Context) error {
	// An Exec without arguments ends the COPY and reports its errors.
	//lint:ignore SA1019 lib/pq's COPY statement implements only Exec (no StmtExecContext)
	_, err := s.stmt.Exec(nil)
	cerr := s.stmt.Close()
	s.stmt, s.data = nil, nil
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("copy: %w", cerr)
	}
	return setReplica(ctx, s.conn, s.replica[s.table], s.table, false)
}

// execer runs one statement on a lane's connection.
type execer interface {
	exec(ctx context.Context, query string) error
}

// setReplica switches session_replication_role for table when it is one
// loaded with its foreign keys bypassed (replica): to replica before its
// COPY (on), back to origin after it.
func setReplica(ctx context.Context, c execer, replica bool, table string, on bool) error {
	if !replica {
		return nil
	}
	if on {
		if err := c.exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return fmt.Errorf("bypass the foreign keys of %s for the planted orphans: %w", table, err)
		}
		return nil
	}
	if err := c.exec(ctx, "SET LOCAL session_replication_role = origin"); err != nil {
		return fmt.Errorf("restore the foreign keys after %s: %w", table, err)
	}
	return nil
}

// copyStatement is the COPY … FROM STDIN that loads cols of table: in
// binary format when bin, with FREEZE when freeze is set and the table is
// one of the seed's own (truncated in this transaction).
func copyStatement(table string, cols []string, bin, freeze bool) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = dbx.Postgres.Quote(c)
	}
	var with []string
	if bin {
		with = append(with, "FORMAT binary")
	}
	if freeze && slices.Contains(loadOrder, table) {
		with = append(with, "FREEZE")
	}
	stmt := fmt.Sprintf("COPY %s (%s) FROM STDIN", quoteName(dbx.Postgres, table), strings.Join(q, ", "))
	if len(with) > 0 {
		stmt += " WITH (" + strings.Join(with, ", ") + ")"
	}
	return stmt
}

// quoteName quotes a table name, each part of a qualified one.
func quoteName(d dbx.Dialect, name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = d.Quote(p)
	}
	return strings.Join(parts, ".")
}

// insertSink writes rows with prepared multi-row INSERTs (SQLite).
type insertSink struct {
	tx    *sqlx.Tx
	table string
	cols  []string
	full  *sql.Stmt // for a full batch
	batch []any
	n     int
}

// insertBatch is the number of rows per INSERT statement.
const insertBatch = 64

func (s *insertSink) insertSQL(rows int) string {
	var b strings.Builder
	q := make([]string, len(s.cols))
	for i, c := range s.cols {
		q[i] = dbx.SQLite.Quote(c)
	}
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", quoteName(dbx.SQLite, s.table), strings.Join(q, ", "))
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(s.cols)), ", ") + ")"
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

func (s *insertSink) begin(ctx context.Context, table string, cols []string) error {
	s.table, s.cols, s.n = table, cols, 0
	s.batch = s.batch[:0]
	st, err := s.tx.PrepareContext(ctx, s.insertSQL(insertBatch))
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	s.full = st
	return nil
}

func (s *insertSink) write(ctx context.Context, c chunk) error {
	for _, row := range c.rows {
		for _, v := range row {
			s.batch = append(s.batch, sqlValue(v))
		}
		s.n++
		if s.n == insertBatch {
			if _, err := s.full.ExecContext(ctx, s.batch...); err != nil {
				return fmt.Errorf("insert: %w", err)
			}
			s.batch, s.n = s.batch[:0], 0
		}
	}
	return nil
}

func (s *insertSink) end(ctx context.Context) error {
	defer func() { s.full.Close(); s.full = nil }()
	if s.n > 0 {
		if _, err := s.tx.ExecContext(ctx, s.insertSQL(s.n), s.batch...); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		s.batch, s.n = s.batch[:0], 0
	}
	return nil
}

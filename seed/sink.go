package seed

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// sink writes the rows of one table at a time inside a transaction.
type sink interface {
	begin(ctx context.Context, table string, cols []string) error
	write(ctx context.Context, row []any) error
	end(ctx context.Context) error
}

// copySink streams rows into PostgreSQL with COPY FROM STDIN (lib/pq).
// With freeze (the tables were truncated in this transaction) rows are
// loaded already frozen, sparing a later vacuum.
type copySink struct {
	tx     *sqlx.Tx
	freeze bool
	stmt   *sql.Stmt
}

func (s *copySink) begin(ctx context.Context, table string, cols []string) error {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = dbx.Postgres.Quote(c)
	}
	stmt := fmt.Sprintf("COPY %s (%s) FROM STDIN", dbx.Postgres.Quote(table), strings.Join(q, ", "))
	if s.freeze {
		stmt += " WITH (FREEZE)"
	}
	st, err := s.tx.PrepareContext(ctx, stmt)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	s.stmt = st
	return nil
}

func (s *copySink) write(ctx context.Context, row []any) error {
	if _, err := s.stmt.ExecContext(ctx, row...); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return nil
}

func (s *copySink) end(ctx context.Context) error {
	_, err := s.stmt.ExecContext(ctx)
	cerr := s.stmt.Close()
	s.stmt = nil
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("copy: %w", cerr)
	}
	return nil
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
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", dbx.SQLite.Quote(s.table), strings.Join(q, ", "))
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

func (s *insertSink) write(ctx context.Context, row []any) error {
	s.batch = append(s.batch, row...)
	s.n++
	if s.n == insertBatch {
		if _, err := s.full.ExecContext(ctx, s.batch...); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		s.batch, s.n = s.batch[:0], 0
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

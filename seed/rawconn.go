package seed

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// rawConn runs statements directly on a driver connection (inside
// sql.Conn.Raw), which the COPY streaming needs.
type rawConn struct {
	exe  driver.ExecerContext
	qry  driver.QueryerContext
	prep driver.ConnPrepareContext
}

func newRawConn(dc any) (*rawConn, error) {
	exe, ok1 := dc.(driver.ExecerContext)
	qry, ok2 := dc.(driver.QueryerContext)
	prep, ok3 := dc.(driver.ConnPrepareContext)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("seed: driver connection %T lacks context execution", dc)
	}
	return &rawConn{exe, qry, prep}, nil
}

func (c *rawConn) exec(ctx context.Context, query string) error {
	_, err := c.exe.ExecContext(ctx, query, nil)
	return err
}

func (c *rawConn) prepare(ctx context.Context, query string) (driver.Stmt, error) {
	return c.prep.PrepareContext(ctx, query)
}

// query returns every row of query.
func (c *rawConn) query(ctx context.Context, query string) ([][]driver.Value, error) {
	rows, err := c.qry.QueryContext(ctx, query, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]driver.Value
	for {
		vals := make([]driver.Value, len(rows.Columns()))
		if err := rows.Next(vals); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok { // the driver reuses its buffer
				vals[i] = string(b)
			}
		}
		out = append(out, vals)
	}
}

// rows returns every row of query as text (NULL as "").
func (c *rawConn) rows(ctx context.Context, query string) ([][]string, error) {
	rows, err := c.query(ctx, query)
	if err != nil {
		return nil, err
	}
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(r))
		for j, v := range r {
			if v != nil {
				out[i][j] = asString(v)
			}
		}
	}
	return out, nil
}

// queryInt returns the one integer query selects.
func (c *rawConn) queryInt(query string) (int64, error) {
	rows, err := c.query(context.Background(), query)
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, fmt.Errorf("%s: want one value", query)
	}
	return strconv.ParseInt(asString(rows[0][0]), 10, 64)
}

func asString(v driver.Value) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// encode turns c's rows into COPY text lines, appended to buf, and drops
// the rows.
func (c *chunk) encode(buf []byte) {
	b := buf
	for _, row := range c.rows {
		b = appendCopyRow(b, row)
	}
	c.text, c.rows, c.files = b, nil, nil
}

// encodeBinary turns c's rows into binary COPY tuples and drops the rows;
// a value e cannot encode is left in c.err.
func (c *chunk) encodeBinary(e *binaryEncoder, buf []byte) {
	b := buf
	for _, row := range c.rows {
		var err error
		if b, err = e.appendRow(b, row); err != nil {
			c.err = err
			break
		}
	}
	c.text, c.rows, c.files = b, nil, nil
}

// appendCopyRow appends row as one line of PostgreSQL's COPY text format.
func appendCopyRow(b []byte, row []any) []byte {
	for i, v := range row {
		if i > 0 {
			b = append(b, '\t')
		}
		switch x := v.(type) {
		case nil:
			b = append(b, '\\', 'N')
		case string:
			b = appendCopyText(b, x)
		case int64:
			b = strconv.AppendInt(b, x, 10)
		case int:
			b = strconv.AppendInt(b, int64(x), 10)
		case bool:
			if x {
				b = append(b, 't')
			} else {
				b = append(b, 'f')
			}
		case float64:
			b = strconv.AppendFloat(b, x, 'f', -1, 64)
		case day:
			b = appendDate(b, int(x))
		case cents:
			b = appendMoney(b, int64(x))
		default:
			b = appendCopyText(b, fmt.Sprint(x))
		}
	}
	return append(b, '\n')
}

// appendCopyText escapes the characters COPY text format reserves.
func appendCopyText(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		switch s[i] {
		case '\\', '\t', '\n', '\r':
			plain = false
		}
	}
	if plain {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, c)
		}
	}
	return b
}

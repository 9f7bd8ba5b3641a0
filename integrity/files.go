package integrity

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/filestore"
	"github.com/jmoiron/sqlx"
)

// FileExists finds rows whose PathColumn names no regular file under the
// local file store rooted at Root. Blank paths (another check's business)
// and URLs (http://, https://, s3://) are skipped; a path that is absolute
// or climbs out of the root counts as not found. Rows stream from the
// database in id order and are stat-ed in parallel batches, so memory stays
// flat. A missing or unreadable Root is an error: the check fails loudly
// instead of reporting every file as missing.
type FileExists struct {
	Meta
	// PathColumn holds the path relative to Root, such as "file_path".
	PathColumn string
	// Root is the file store directory; "." when empty.
	Root string
	// Workers stat files at once; 2×GOMAXPROCS (at least 8) when zero.
	Workers int
	// BatchSize is how many rows are stat-ed together; 2048 when zero.
	BatchSize int
}

// Name returns the check's name.
func (c FileExists) Name() string { return c.Meta.Name }

// Check stats every candidate file and describes up to limit missing ones.
func (c FileExists) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	store, err := filestore.Open(c.Root)
	if err != nil {
		return Result{}, err
	}
	defer store.Close()
	batch := c.BatchSize
	if batch <= 0 {
		batch = 2048
	}
	stmt := fmt.Sprintf("SELECT id, %s FROM %s WHERE %s ORDER BY id",
		c.PathColumn, c.Table, and(c.live(), c.PathColumn+" IS NOT NULL", "trim("+c.PathColumn+") <> ''"))
	rows, done, err := query(ctx, db, stmt)
	if err != nil {
		return Result{}, fmt.Errorf("query %s: %w", c.Table, err)
	}
	defer done()

	var res Result
	ids := make([]int64, 0, batch)
	paths := make([]string, 0, batch)
	flush := func() error {
		if len(paths) == 0 {
			return nil
		}
		stats, err := store.StatAll(ctx, paths, c.Workers)
		if err != nil {
			return err
		}
		for i, st := range stats {
			if st.Err == nil {
				continue
			}
			res.Count++
			if len(res.Issues) < limit {
				res.Issues = append(res.Issues, c.issue(ip2adb.Ptr(ids[i]), nil,
					fmt.Sprintf("%s %d: file %q %s", c.Table, ids[i], st.Path, reason(st.Err, store.Dir())),
					map[string]any{c.PathColumn: st.Path, "reason": reasonCode(st.Err)}))
			}
		}
		ids, paths = ids[:0], paths[:0]
		return nil
	}
	for rows.Next() {
		var id int64
		var p string
		if err := rows.Scan(&id, &p); err != nil {
			return Result{}, fmt.Errorf("scan %s: %w", c.Table, err)
		}
		if filestore.IsURL(p) {
			continue
		}
		ids, paths = append(ids, id), append(paths, p)
		if len(paths) == batch {
			if err := flush(); err != nil {
				return Result{}, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("read %s: %w", c.Table, err)
	}
	if err := flush(); err != nil {
		return Result{}, err
	}
	return res, nil
}

func reasonCode(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "not_found"
	case errors.Is(err, filestore.ErrOutside):
		return "outside_root"
	case errors.Is(err, filestore.ErrNotRegular):
		return "not_regular"
	}
	return "unreadable"
}

func reason(err error, root string) string {
	switch reasonCode(err) {
	case "not_found":
		return "not found under " + root
	case "outside_root":
		return "is outside the files root " + root
	case "not_regular":
		return "is not a regular file"
	}
	return "cannot be read: " + err.Error()
}

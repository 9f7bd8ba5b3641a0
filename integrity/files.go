package integrity

import (
	"context"
	"fmt"
	"strings"

	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

// FileExists finds rows whose PathColumn names no regular file in the file
// store: a local directory or an S3-compatible bucket. Paths are mapped to
// store names by [filestore.Resolver]; blank paths (another check's
// business) and URLs the store does not hold are skipped, and a path that
// is absolute elsewhere or climbs out of the root counts as not found.
//
// The store is read by one listing of the folder that holds every named
// file (for S3 one paginated LIST, never a request per row), compared with
// the rows as sets, so the answer is the same for a directory and for a
// bucket holding the same files. A missing or unreadable store is an
// error: the check fails loudly instead of reporting every file missing.
type FileExists struct {
	Meta
	// PathColumn holds the path relative to the root, such as "file_path".
	PathColumn string
	// Root is the store's root: a directory ("." when empty) or
	// "s3://BUCKET[/PREFIX]". It resolves absolute paths and s3:// URLs.
	Root string
	// Store is the store to read; when nil, Root is opened for each run
	// with [filestore.Open] (an s3:// root then takes its credentials from
	// the AWS_* environment variables).
	Store filestore.Store

	*binding
}

// Name returns the check's name.
func (c FileExists) Name() string { return c.Meta.Name }

func (c FileExists) needs() map[string][]string {
	return map[string][]string{c.Table: {c.PathColumn}}
}

// Bind adapts the check to m: rows are named by the table's primary key.
func (c FileExists) Bind(m *catalog.Model) (Checker, error) {
	b, err := rowBinding(m, c.Table)
	if err != nil {
		return nil, err
	}
	c.binding = b
	return c, nil
}

// fileRow is an attachment row whose path resolved into the store.
type fileRow struct {
	key  []any  // the row's key
	path string // as stored
	name string // in the store
}

// Check lists the store once and describes up to limit rows whose file is
// not in it.
func (c FileExists) Check(ctx context.Context, db *sqlx.DB, limit int) (Result, error) {
	if c.binding == nil {
		return bindCheck(ctx, db, c, limit)
	}
	root := c.Root
	if root == "" {
		root = "."
	}
	store := c.Store
	if store == nil {
		h, err := filestore.Open(ctx, root, nil)
		if err != nil {
			return Result{}, err
		}
		defer h.Close()
		store = h
	}
	key := c.rowKey()
	stmt := fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s ORDER BY %s",
		strings.Join(key, ", "), c.PathColumn, c.Table, and(c.live(c.Meta, ""), c.PathColumn+" IS NOT NULL", "trim("+c.asText(c.Table, c.PathColumn, c.PathColumn)+") <> ''"), c.orderBy(c.Table, dbx.DialectOf(db), false))
	rows, done, err := query(ctx, db, stmt)
	if err != nil {
		return Result{}, fmt.Errorf("query %s: %w", c.Table, err)
	}
	defer done()

	var res Result
	report := func(f fileRow, reason string) {
		res.Count++
		if len(res.Issues) < limit {
			row := rowLabel(key, f.key)
			desc := fmt.Sprintf("%s %s: file %q not found in %s", c.Table, row, f.path, root)
			if reason == "outside_root" {
				desc = fmt.Sprintf("%s %s: file %q is outside the files root %s", c.Table, row, f.path, root)
			}
			is := c.issue(nil, nil, desc, map[string]any{c.PathColumn: f.path, "reason": reason})
			is.SetRecordKey(key, f.key)
			res.Issues = append(res.Issues, is)
		}
	}
	// Rows stream in key order: outside paths are reported at once, the
	// others wait for the listing.
	numeric, err := numericColumns(rows, 0, len(key))
	if err != nil {
		return Result{}, fmt.Errorf("query %s: %w", c.Table, err)
	}
	resolver := filestore.NewResolver(root)
	var files []fileRow
	wanted := map[string]bool{}
	for rows.Next() {
		vals := make([]any, len(key))
		var p string
		dest := make([]any, 0, len(key)+1)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(append(dest, &p)...); err != nil {
			return Result{}, fmt.Errorf("scan %s: %w", c.Table, err)
		}
		for i := range vals {
			vals[i] = normalize(vals[i], numeric[i])
		}
		name, kind := resolver.Resolve(p)
		switch kind {
		case filestore.InStore:
			files = append(files, fileRow{key: vals, path: p, name: name})
			wanted[name] = false
		case filestore.Outside:
			files = append(files, fileRow{key: vals, path: p})
		}
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("read %s: %w", c.Table, err)
	}
	done()
	if len(wanted) > 0 {
		for fi, err := range store.List(ctx, commonDir(wanted)) {
			if err != nil {
				return Result{}, err
			}
			if _, ok := wanted[fi.Name]; ok {
				wanted[fi.Name] = true
			}
		}
	}
	for _, f := range files {
		switch {
		case f.name == "":
			report(f, "outside_root")
		case !wanted[f.name]:
			report(f, "not_found")
		}
	}
	return res, nil
}

// commonDir is the longest folder prefix ("uploads/", or "" for the whole
// store) shared by every name.
func commonDir(names map[string]bool) string {
	first := true
	var p string
	for n := range names {
		if first {
			p, first = n, false
			continue
		}
		i := 0
		for i < len(p) && i < len(n) && p[i] == n[i] {
			i++
		}
		p = p[:i]
	}
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[:i+1]
	}
	return ""
}

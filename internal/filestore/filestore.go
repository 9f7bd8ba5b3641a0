// Package filestore is the local attachment store rooted at --files-root.
// Attachment paths stored in the database (such as
// "uploads/member/2024/03/ab12.pdf") are relative to the root; the store
// resolves them without ever leaving the root (no "..", no absolute paths,
// no symlinks pointing outside), recognises URL paths that live elsewhere,
// and stats many files in parallel.
package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// ErrOutside is returned for a path that is absolute or would leave the root.
var ErrOutside = errors.New("path is outside the files root")

// ErrNotRegular is returned by StatFile when the path names something other
// than a regular file (a directory, a device …).
var ErrNotRegular = errors.New("not a regular file")

// IsURL reports whether p names a remote object (http://, https:// or
// s3://, in any letter case) rather than a file under the root.
func IsURL(p string) bool {
	p = strings.TrimSpace(p)
	for _, s := range []string{"http://", "https://", "s3://"} {
		if len(p) >= len(s) && strings.EqualFold(p[:len(s)], s) {
			return true
		}
	}
	return false
}

// Store is a local directory holding attachment files. It is safe for
// concurrent use. Close it when done.
type Store struct {
	dir  string
	root *os.Root
}

// Open opens the store rooted at dir. A missing or unreadable directory is
// an error: a check that depends on the store must fail loudly rather than
// report every file as missing.
func Open(dir string) (*Store, error) {
	if dir == "" {
		dir = "."
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("files root %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("files root %s: not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("files root %s: %w", dir, err)
	}
	// Reading the directory proves it is readable (os.OpenRoot only opens it).
	f, err := root.Open(".")
	if err == nil {
		_, err = f.ReadDir(1)
		f.Close()
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("files root %s: %w", dir, err)
	}
	return &Store{dir: dir, root: root}, nil
}

// Dir is the directory the store is rooted at, as given to Open.
func (s *Store) Dir() string { return s.dir }

// Close releases the store's directory handle.
func (s *Store) Close() error { return s.root.Close() }

// Clean turns a stored attachment path into a path relative to the root, or
// returns ErrOutside when it is absolute or climbs out of the root.
func Clean(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) {
		return "", ErrOutside
	}
	c := filepath.Clean(filepath.FromSlash(p))
	if !filepath.IsLocal(c) {
		return "", ErrOutside
	}
	return c, nil
}

// Stat returns the file information of the attachment path p (following
// symlinks that stay inside the root).
func (s *Store) Stat(p string) (fs.FileInfo, error) {
	c, err := Clean(p)
	if err != nil {
		return nil, err
	}
	fi, err := s.root.Stat(c)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && strings.Contains(err.Error(), "escapes") {
		return nil, ErrOutside
	}
	return fi, err
}

// StatFile is Stat for a regular file: anything else is ErrNotRegular.
func (s *Store) StatFile(p string) (fs.FileInfo, error) {
	fi, err := s.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return fi, ErrNotRegular
	}
	return fi, nil
}

// Open opens the attachment path p for reading.
func (s *Store) Open(p string) (*os.File, error) {
	c, err := Clean(p)
	if err != nil {
		return nil, err
	}
	return s.root.Open(c)
}

// StatResult is the outcome of stat-ing one path in StatAll.
type StatResult struct {
	// Path is the attachment path as given.
	Path string
	// Info is the file's information; nil on error.
	Info fs.FileInfo
	// Err is nil for a regular file, else why there is none (fs.ErrNotExist,
	// ErrOutside, ErrNotRegular, a permission error …).
	Err error
}

// StatAll stats every path with StatFile using up to workers goroutines
// (2×GOMAXPROCS, at least 8, when workers <= 0) and returns the results in
// the order of paths. It stops early, with ctx's error, when ctx ends.
func (s *Store) StatAll(ctx context.Context, paths []string, workers int) ([]StatResult, error) {
	out := make([]StatResult, len(paths))
	if workers <= 0 {
		workers = max(8, 2*runtime.GOMAXPROCS(0))
	}
	workers = min(workers, len(paths))
	if workers <= 1 {
		for i, p := range paths {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			fi, err := s.StatFile(p)
			out[i] = StatResult{Path: p, Info: fi, Err: err}
		}
		return out, nil
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				fi, err := s.StatFile(paths[i])
				out[i] = StatResult{Path: paths[i], Info: fi, Err: err}
			}
		})
	}
	var err error
feed:
	for i := range paths {
		select {
		case next <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	return out, nil
}

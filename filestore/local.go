package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"strings"
	"sync"
)

// Local is a store in a local directory, opened as an [os.Root]: no name,
// "..", or symlink leads outside it. Symlinks to regular files inside the
// root count as files; symlinked directories are not descended by List.
type Local struct {
	dir  string
	root *os.Root
}

// OpenLocal opens the store rooted at dir ("." when empty). A missing,
// unreadable or non-directory root is an error: a check that depends on the
// store must fail loudly rather than report every file as missing.
func OpenLocal(dir string) (*Local, error) {
	if dir == "" {
		dir = "."
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("files root %s: %w", dir, unwrapPath(err))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("files root %s: not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("files root %s: %w", dir, unwrapPath(err))
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
		return nil, fmt.Errorf("files root %s: %w", dir, unwrapPath(err))
	}
	return &Local{dir: dir, root: root}, nil
}

// unwrapPath drops the *fs.PathError wrapper, whose path the caller's
// message already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Root returns the directory the store was opened at.
func (l *Local) Root() string { return l.dir }

// Close releases the directory handle.
func (l *Local) Close() error { return l.root.Close() }

// checkName refuses names that are not valid slash-separated paths inside
// the root.
func checkName(name string) error {
	if name == "" || name == "." || !fs.ValidPath(name) || strings.HasPrefix(name, `\`) {
		return ErrOutside
	}
	return nil
}

// escapes reports whether err is os.Root refusing a path that leaves it.
func escapes(err error) bool {
	return err != nil && !errors.Is(err, fs.ErrNotExist) && strings.Contains(err.Error(), "escapes")
}

// Stat describes the regular file name, following symlinks inside the root.
func (l *Local) Stat(ctx context.Context, name string) (Info, error) {
	if err := checkName(name); err != nil {
		return Info{}, err
	}
	fi, err := l.root.Stat(name)
	switch {
	case escapes(err):
		return Info{}, ErrOutside
	case err != nil:
		return Info{}, err
	case !fi.Mode().IsRegular():
		return Info{}, fmt.Errorf("%s: %w", name, ErrNotRegular)
	}
	return Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Open opens the regular file name for reading; the result is an *os.File.
func (l *Local) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	f, err := l.root.Open(name)
	if escapes(err) {
		return nil, ErrOutside
	}
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w", name, ErrNotRegular)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// listWorkers is how many folders List reads at once: reading a folder
// and stat-ing its files waits on system calls, so more than one per core.
const listWorkers = 8

// List walks the folders that can hold names starting with prefix, several
// at a time, and yields their regular files (and symlinks to regular files
// inside the root). A prefix that is not a valid name yields [ErrOutside].
func (l *Local) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		start := "."
		if i := strings.LastIndex(prefix, "/"); i >= 0 {
			start = prefix[:i]
		}
		if start != "." && checkName(start) != nil {
			yield(Info{}, ErrOutside)
			return
		}
		st, err := l.root.Stat(start)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return
		case err != nil:
			yield(Info{}, fmt.Errorf("list %s: %w", path.Join(l.dir, start), unwrapPath(err)))
			return
		case !st.IsDir():
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		work := make(chan string)
		out := make(chan dirBatch)
		var wg sync.WaitGroup
		for range listWorkers {
			wg.Go(func() {
				for dir := range work {
					select {
					case out <- l.readDir(dir, prefix):
					case <-ctx.Done():
						return
					}
				}
			})
		}
		defer func() {
			cancel()
			close(work)
			wg.Wait()
		}()
		queue, pending := []string{start}, 0
		for len(queue) > 0 || pending > 0 {
			var send chan string
			var next string
			if len(queue) > 0 {
				send, next = work, queue[len(queue)-1]
			}
			select {
			case send <- next:
				queue = queue[:len(queue)-1]
				pending++
			case b := <-out:
				pending--
				if b.err != nil {
					yield(Info{}, b.err)
					return
				}
				queue = append(queue, b.dirs...)
				for _, f := range b.files {
					if !yield(f, nil) {
						return
					}
				}
			case <-ctx.Done():
				yield(Info{}, fmt.Errorf("list %s: %w", path.Join(l.dir, start), ctx.Err()))
				return
			}
		}
	}
}

// dirBatch is what reading one folder found.
type dirBatch struct {
	files []Info
	dirs  []string // subfolders that can hold names with the prefix
	err   error
}

// readDir reads the folder dir (root-relative) for List.
func (l *Local) readDir(dir, prefix string) dirBatch {
	var b dirBatch
	f, err := l.root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) { // removed meanwhile
		return b
	}
	var ents []fs.DirEntry
	if err == nil {
		ents, err = f.ReadDir(-1)
		f.Close()
	}
	if err != nil {
		b.err = fmt.Errorf("list %s: %w", path.Join(l.dir, dir), unwrapPath(err))
		return b
	}
	for _, d := range ents {
		p := d.Name()
		if dir != "." {
			p = dir + "/" + p
		}
		var fi fs.FileInfo
		switch {
		case d.IsDir():
			if strings.HasPrefix(p+"/", prefix) || strings.HasPrefix(prefix, p+"/") {
				b.dirs = append(b.dirs, p)
			}
			continue
		case !strings.HasPrefix(p, prefix):
			continue
		case d.Type().IsRegular():
			fi, err = d.Info()
			if errors.Is(err, fs.ErrNotExist) { // removed meanwhile
				continue
			}
			if err != nil {
				b.err = fmt.Errorf("list %s: %w", path.Join(l.dir, p), unwrapPath(err))
				return b
			}
		case d.Type()&fs.ModeSymlink != 0:
			fi, err = l.root.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue // dangling, outside the root, or not a file
			}
		default:
			continue
		}
		b.files = append(b.files, Info{Name: p, Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return b
}

// Put writes the file name, creating its folders when they are missing;
// on failure no partial file is left behind. A symlink that would lead the
// write out of the root is refused with [ErrOutside].
func (l *Local) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := checkName(name); err != nil {
		return err
	}
	create := func() (*os.File, error) {
		return l.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	}
	f, err := create()
	if errors.Is(err, fs.ErrNotExist) && path.Dir(name) != "." {
		if err = l.root.MkdirAll(path.Dir(name), 0o755); err == nil {
			f, err = create()
		}
	}
	if escapes(err) {
		return fmt.Errorf("%s: %w: %v", name, ErrOutside, unwrapPath(err))
	}
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		l.root.Remove(name)
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

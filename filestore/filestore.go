// Package filestore reads the attachment store: a local directory or an
// S3-compatible bucket, behind one small interface. Attachment paths stored
// in the database ("uploads/member/2024/03/ab12.pdf") are names relative to
// the store's root; [Resolver] is the one place that turns such a path into
// a store name, so every check and probe agrees on what lies in the store.
//
// A root is a directory ("/srv/ip2a", ".") or an S3 URL
// ("s3://ip2a-documents" or "s3://bucket/some/prefix"); [Open] opens either.
package filestore

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"
)

// ErrOutside is returned for a name that is absolute or would leave the
// store's root.
var ErrOutside = errors.New("path is outside the files root")

// ErrNotRegular is returned by Stat and Open for a name that exists but is
// not a regular file (a directory, a device …).
var ErrNotRegular = errors.New("not a regular file")

// Info describes one file of a store.
type Info struct {
	// Name is the file's slash-separated name relative to the root.
	Name string
	// Size is its length in bytes.
	Size int64
	// ModTime is when it was last written.
	ModTime time.Time
}

// Store is a read-only view of an attachment store. Names are
// slash-separated and relative to the store's root, as [Resolver] returns
// them. A Store is safe for concurrent use by many goroutines.
//
// A missing file is an error matching fs.ErrNotExist (errors.Is); a
// name outside the root matches [ErrOutside]; a directory matches
// [ErrNotRegular]. Any other error (permission denied, a lost connection
// after the store's retries) means the store could not answer.
type Store interface {
	// Stat describes the regular file name.
	Stat(ctx context.Context, name string) (Info, error)
	// List yields every regular file whose name starts with prefix (a
	// plain string prefix: "uploads/" lists a folder, "" the whole store),
	// in no particular order, each exactly once. An error ends the
	// sequence: it is yielded once, with a zero Info.
	List(ctx context.Context, prefix string) iter.Seq2[Info, error]
	// Open opens the regular file name for reading.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
}

// Writer is a [Store] that can also store files; both implementations of
// this package are Writers.
type Writer interface {
	Store
	// Put stores size bytes read from r as the file name, creating any
	// folders it needs and replacing a file of that name.
	Put(ctx context.Context, name string, r io.Reader, size int64) error
}

// Handle is a Store opened by [Open]: it says where it is and holds
// resources until closed.
type Handle interface {
	Writer
	// Root is the root the store was opened at ("/srv/ip2a",
	// "s3://bucket/prefix"); never a secret.
	Root() string
	// Close releases the store's resources.
	Close() error
}

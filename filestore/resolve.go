package filestore

import (
	"io/fs"
	"path"
	"path/filepath"
	"strings"
)

// Kind classifies an attachment path against a store root.
type Kind int

// The kinds of attachment path.
const (
	// InStore is a file of the store; Resolve returns its name.
	InStore Kind = iota
	// Remote is a URL (http://, https://, or s3:// of another bucket or
	// prefix) that this store does not hold.
	Remote
	// Empty is a blank path.
	Empty
	// Outside is an absolute path elsewhere, or one that climbs out of the
	// root with "..".
	Outside
)

// String names the kind: in_store, remote, empty or outside.
func (k Kind) String() string {
	switch k {
	case InStore:
		return "in_store"
	case Remote:
		return "remote"
	case Empty:
		return "empty"
	}
	return "outside"
}

// Resolver maps attachment paths to names in the store at one root. It is
// the one resolver every file check and probe uses, so that they agree:
//
//   - a relative path is cleaned ("uploads/./a.pdf" → "uploads/a.pdf") and
//     must stay inside the root;
//   - with a directory root, an absolute path below the root is made
//     relative to it; any other absolute path is [Outside];
//   - with an S3 root, an absolute path is [Outside] and an s3:// URL
//     inside the root's bucket and prefix names its object;
//   - any other URL is [Remote]; a blank path is [Empty].
//
// The zero Resolver treats every absolute path as outside.
type Resolver struct {
	dir  string // absolute directory root; "" for S3 or unknown
	s3   string // "s3://bucket/prefix/" for an S3 root
	isS3 bool
}

// NewResolver returns the resolver for root, a directory or an s3:// URL
// as given to [Open].
func NewResolver(root string) Resolver {
	if IsS3(root) {
		loc, err := ParseS3URL(root)
		if err != nil {
			return Resolver{isS3: true}
		}
		p := "s3://" + loc.Bucket + "/"
		if loc.Prefix != "" {
			p += loc.Prefix + "/"
		}
		return Resolver{isS3: true, s3: p}
	}
	if root == "" {
		root = "."
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return Resolver{}
	}
	return Resolver{dir: abs}
}

// Resolve returns the store name of the attachment path p and its kind;
// the name is empty unless the kind is [InStore].
func (r Resolver) Resolve(p string) (string, Kind) {
	p = strings.TrimSpace(p)
	switch {
	case p == "":
		return "", Empty
	case hasPrefixFold(p, "s3://"):
		if r.isS3 && r.s3 != "" && strings.HasPrefix(p, r.s3) {
			return clean(p[len(r.s3):])
		}
		return "", Remote
	case strings.Contains(p, "://"):
		return "", Remote
	case strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || filepath.IsAbs(p):
		if r.dir == "" {
			return "", Outside
		}
		rel, err := filepath.Rel(r.dir, filepath.Clean(p))
		if err != nil {
			return "", Outside
		}
		return clean(filepath.ToSlash(rel))
	}
	return clean(p)
}

// clean makes p a valid store name or says it is outside.
func clean(p string) (string, Kind) {
	name := path.Clean(p)
	if name == "." || !fs.ValidPath(name) {
		return "", Outside
	}
	return name, InStore
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

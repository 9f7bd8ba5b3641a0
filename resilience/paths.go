package resilience

import (
	"io/fs"
	"path"
	"path/filepath"
	"strings"
)

// pathKind classifies an attachment's file_path.
type pathKind int

const (
	pathLocal   pathKind = iota // a file under the files root
	pathRemote                  // a URL or s3:// object: not in the local store
	pathEmpty                   // no path at all
	pathOutside                 // absolute elsewhere or climbing out with ".."
)

// storePath maps an attachment's file_path to a name in the file store
// (an fs.FS rooted at the files root). absRoot is the absolute files root:
// absolute paths below it are made relative, other absolute paths and paths
// climbing out with ".." are outside the store.
func storePath(p, absRoot string) (string, pathKind) {
	p = strings.TrimSpace(p)
	switch {
	case p == "":
		return "", pathEmpty
	case strings.Contains(p, "://"), hasPrefixFold(p, "s3:"):
		return "", pathRemote
	}
	if filepath.IsAbs(p) {
		if absRoot == "" {
			return "", pathOutside
		}
		rel, err := filepath.Rel(absRoot, p)
		if err != nil {
			return "", pathOutside
		}
		p = filepath.ToSlash(rel)
	}
	name := path.Clean(p)
	if !fs.ValidPath(name) || name == "." {
		return "", pathOutside
	}
	return name, pathLocal
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// absRoot returns the absolute form of root, or "" when it cannot.
func absRoot(root string) string {
	if root == "" {
		return ""
	}
	a, err := filepath.Abs(root)
	if err != nil {
		return ""
	}
	return a
}

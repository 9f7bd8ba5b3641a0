package filestore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeFile(t *testing.T, path string, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIsURL(t *testing.T) {
	for p, want := range map[string]bool{
		"http://x/a.pdf": true, "HTTPS://x/a.pdf": true, "s3://bucket/k": true, " https://x": true,
		"uploads/a.pdf": false, "s3:/nope": false, "": false, "http:": false,
	} {
		if got := IsURL(p); got != want {
			t.Errorf("IsURL(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestClean(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"uploads/a.pdf", "uploads/a.pdf", nil},
		{"./uploads//b/../a.pdf", "uploads/a.pdf", nil},
		{"../secret", "", ErrOutside},
		{"uploads/../../secret", "", ErrOutside},
		{"/etc/passwd", "", ErrOutside},
		{"", "", ErrOutside},
	} {
		got, err := Clean(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Clean(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestStatAll(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	writeFile(t, filepath.Join(root, "uploads/a.pdf"), "hello")
	writeFile(t, filepath.Join(root, "uploads/b.pdf"), "hi")
	writeFile(t, filepath.Join(base, "outside.pdf"), "secret")
	if err := os.Mkdir(filepath.Join(root, "uploads/dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A symlink that points outside the root must not be followed.
	if err := os.Symlink(filepath.Join(base, "outside.pdf"), filepath.Join(root, "uploads/escape.pdf")); err != nil {
		t.Fatal(err)
	}
	// A symlink that stays inside is fine.
	if err := os.Symlink("a.pdf", filepath.Join(root, "uploads/link.pdf")); err != nil {
		t.Fatal(err)
	}
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	paths := []string{"uploads/a.pdf", "uploads/missing.pdf", "../outside.pdf", "uploads/dir",
		"uploads/escape.pdf", "uploads/link.pdf", "/etc/passwd", "uploads/b.pdf"}
	type got struct {
		Path    string
		Size    int64
		Missing bool
		Outside bool
		NotReg  bool
		Other   bool
	}
	for _, workers := range []int{1, 3, 0} {
		res, err := s.StatAll(context.Background(), paths, workers)
		if err != nil {
			t.Fatal(err)
		}
		var out []got
		for _, r := range res {
			g := got{Path: r.Path}
			switch {
			case r.Err == nil:
				g.Size = r.Info.Size()
			case errors.Is(r.Err, fs.ErrNotExist):
				g.Missing = true
			case errors.Is(r.Err, ErrOutside):
				g.Outside = true
			case errors.Is(r.Err, ErrNotRegular):
				g.NotReg = true
			default:
				g.Other = true
			}
			out = append(out, g)
		}
		want := []got{
			{Path: "uploads/a.pdf", Size: 5},
			{Path: "uploads/missing.pdf", Missing: true},
			{Path: "../outside.pdf", Outside: true},
			{Path: "uploads/dir", NotReg: true},
			{Path: "uploads/escape.pdf", Outside: true},
			{Path: "uploads/link.pdf", Size: 5},
			{Path: "/etc/passwd", Outside: true},
			{Path: "uploads/b.pdf", Size: 2},
		}
		if d := cmp.Diff(want, out); d != "" {
			t.Errorf("workers %d: StatAll (-want +got):\n%s", workers, d)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.StatAll(ctx, paths, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled StatAll: err = %v, want context.Canceled", err)
	}
}

func TestOpenRootErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	writeFile(t, file, "x")
	for name, p := range map[string]string{"missing": filepath.Join(dir, "nope"), "file": file} {
		if s, err := Open(p); err == nil {
			s.Close()
			t.Errorf("%s: Open(%s) succeeded", name, p)
		}
	}
	if os.Getuid() != 0 {
		locked := filepath.Join(dir, "locked")
		if err := os.Mkdir(locked, 0o000); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(locked, 0o755) })
		if s, err := Open(locked); err == nil {
			s.Close()
			t.Errorf("Open of an unreadable directory succeeded")
		}
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, err := s.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := s.Open("../x"); !errors.Is(err, ErrOutside) {
		t.Errorf("Open(../x) err = %v, want ErrOutside", err)
	}
}

package filestore_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/internal/s3test"
)

// tree is the store every implementation is tested on.
var tree = map[string]string{
	"uploads/member/2024/03/a.pdf":  "alpha",
	"uploads/member/2024/03/b.pdf":  "bravo!",
	"uploads/member-old/c.pdf":      "charlie",
	"uploads/student/2025/01/x.bin": strings.Repeat("x", 70_000),
	"other/readme.txt":              "read me",
}

func writeTree(t *testing.T, dir string) {
	t.Helper()
	for name, body := range tree {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "uploads", "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// stores returns the same tree as a local directory and through S3, each
// rooted at sub ("" for the whole tree).
func stores(t *testing.T, sub string) map[string]filestore.Writer {
	t.Helper()
	srv := s3test.Start(t, "")
	dir := srv.Bucket(t, "docs")
	writeTree(t, dir)
	ctx := context.Background()
	local, err := filestore.Open(ctx, filepath.Join(dir, filepath.FromSlash(sub)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	root := "s3://docs"
	if sub != "" {
		root += "/" + sub
	}
	s3, err := filestore.Open(ctx, root, srv.Env())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s3.Close() })
	return map[string]filestore.Writer{"local": local, "s3": s3}
}

func list(t *testing.T, s filestore.Store, prefix string) []filestore.Info {
	t.Helper()
	var out []filestore.Info
	for fi, err := range s.List(context.Background(), prefix) {
		if err != nil {
			t.Fatalf("list %q: %v", prefix, err)
		}
		if fi.ModTime.IsZero() {
			t.Errorf("list %q: %s has no modification time", prefix, fi.Name)
		}
		out = append(out, filestore.Info{Name: fi.Name, Size: fi.Size})
	}
	slices.SortFunc(out, func(a, b filestore.Info) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func infos(prefix, strip string) []filestore.Info {
	var out []filestore.Info
	for name, body := range tree {
		if strings.HasPrefix(name, prefix) {
			out = append(out, filestore.Info{Name: strings.TrimPrefix(name, strip), Size: int64(len(body))})
		}
	}
	slices.SortFunc(out, func(a, b filestore.Info) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// TestContract runs the same assertions on a local directory and on the
// same directory served through S3: both must answer alike.
func TestContract(t *testing.T) {
	ctx := context.Background()
	for kind, s := range stores(t, "") {
		t.Run(kind, func(t *testing.T) {
			for _, tc := range []struct{ prefix, want string }{
				{"", ""}, {"uploads/", "uploads/"}, {"uploads/member", "uploads/member"},
				{"uploads/member/", "uploads/member/"}, {"uploads/member/2024/03/a", "uploads/member/2024/03/a"},
				{"nowhere/", "nowhere/"}, {"uploads/empty/", "uploads/empty/"},
			} {
				if diff := cmp.Diff(infos(tc.want, ""), list(t, s, tc.prefix)); diff != "" {
					t.Errorf("List(%q) (-want +got):\n%s", tc.prefix, diff)
				}
			}
			fi, err := s.Stat(ctx, "uploads/member/2024/03/b.pdf")
			if err != nil || fi.Name != "uploads/member/2024/03/b.pdf" || fi.Size != 6 || fi.ModTime.IsZero() {
				t.Errorf("Stat b.pdf = %+v, %v", fi, err)
			}
			for name, want := range map[string]error{
				"uploads/member/2024/03/zz.pdf": fs.ErrNotExist,
				"../escape":                     filestore.ErrOutside,
				"/etc/passwd":                   filestore.ErrOutside,
				"":                              filestore.ErrOutside,
			} {
				if _, err := s.Stat(ctx, name); !errors.Is(err, want) {
					t.Errorf("Stat(%q) = %v, want %v", name, err, want)
				}
				if _, err := s.Open(ctx, name); !errors.Is(err, want) {
					t.Errorf("Open(%q) = %v, want %v", name, err, want)
				}
			}
			for name, body := range tree {
				r, err := s.Open(ctx, name)
				if err != nil {
					t.Fatalf("Open(%q): %v", name, err)
				}
				b, err := io.ReadAll(r)
				r.Close()
				if err != nil || string(b) != body {
					t.Errorf("Open(%q) read %d bytes, %v; want %d", name, len(b), err, len(body))
				}
			}
		})
	}
}

// TestPut: a written file can be read back; a name outside is refused.
func TestPut(t *testing.T) {
	ctx := context.Background()
	for kind, s := range stores(t, "") {
		t.Run(kind, func(t *testing.T) {
			name := "new/" + kind + "/deep/c.txt"
			if err := s.Put(ctx, name, strings.NewReader("written"), 7); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if fi, err := s.Stat(ctx, name); err != nil || fi.Size != 7 {
				t.Errorf("Stat after Put = %+v, %v", fi, err)
			}
			if err := s.Put(ctx, "../out.txt", strings.NewReader("x"), 1); !errors.Is(err, filestore.ErrOutside) {
				t.Errorf("Put outside = %v, want ErrOutside", err)
			}
		})
	}
}

// TestPrefixRoot: a store rooted at a folder (s3://bucket/prefix) names
// files relative to it.
func TestPrefixRoot(t *testing.T) {
	for kind, s := range stores(t, "uploads/member") {
		t.Run(kind, func(t *testing.T) {
			want := infos("uploads/member/", "uploads/member/")
			if diff := cmp.Diff(want, list(t, s, "")); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
			if _, err := s.Stat(context.Background(), "2024/03/a.pdf"); err != nil {
				t.Errorf("Stat: %v", err)
			}
			if _, err := s.Stat(context.Background(), "c.pdf"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat of a file in uploads/member-old = %v, want not exist", err)
			}
		})
	}
}

// TestListStops: breaking out of List ends the walk or the paging.
func TestListStops(t *testing.T) {
	for kind, s := range stores(t, "") {
		t.Run(kind, func(t *testing.T) {
			n := 0
			for _, err := range s.List(context.Background(), "") {
				if err != nil {
					t.Fatal(err)
				}
				n++
				if n == 2 {
					break
				}
			}
			if n != 2 {
				t.Errorf("got %d", n)
			}
		})
	}
}

func TestLocalSymlinks(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir)
	outside := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(outside, []byte("secret"), 0o644)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("a.pdf", filepath.Join(dir, "uploads/member/2024/03/link.pdf")))
	must(os.Symlink(outside, filepath.Join(dir, "uploads/out.pdf")))
	must(os.Symlink(filepath.Join(dir, "uploads/member"), filepath.Join(dir, "uploads/dirlink")))
	s, err := filestore.OpenLocal(dir)
	must(err)
	defer s.Close()
	want := append(infos("uploads/", ""), filestore.Info{Name: "uploads/member/2024/03/link.pdf", Size: 5})
	slices.SortFunc(want, func(a, b filestore.Info) int { return strings.Compare(a.Name, b.Name) })
	if diff := cmp.Diff(want, list(t, s, "uploads/")); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if _, err := s.Stat(context.Background(), "uploads/out.pdf"); !errors.Is(err, filestore.ErrOutside) {
		t.Errorf("Stat of a symlink leaving the root = %v, want ErrOutside", err)
	}
	if _, err := s.Stat(context.Background(), "uploads/empty"); !errors.Is(err, filestore.ErrNotRegular) {
		t.Errorf("Stat of a directory = %v, want ErrNotRegular", err)
	}
}

func TestOpenLocalFails(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct{ root, want string }{
		{filepath.Join(dir, "missing"), "files root " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{file, "files root " + file + ": not a directory"},
	} {
		_, err := filestore.Open(context.Background(), tc.root, nil)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Open(%q) = %v, want %q", tc.root, err, tc.want)
		}
	}
}

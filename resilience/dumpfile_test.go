package resilience

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/klauspost/compress/zstd"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zst(t *testing.T, b []byte) []byte {
	t.Helper()
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(b, nil)
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBackupFormats: every pg_dump format, plain or compressed, is a valid
// backup read to its end and compared with the database; damage anywhere is
// critical; a dump of the wrong database or an implausibly small one is a
// warning.
func TestBackupFormats(t *testing.T) {
	url := testdb.PostgresURL(t, testdb.WithSchema())
	db := testdb.Postgres(t) // placeholder, replaced below
	db.Close()
	var err error
	db, err = dbx.Open(t.Context(), url, dbx.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	testdb.MustExec(t, db, "INSERT INTO members (member_number, last_name, classification) SELECT 'M' || i, 'Doe', 'journeyman' FROM generate_series(1, 2000) i")
	otherURL := testdb.PostgresURL(t) // another database, without the IP2A tables
	src := t.TempDir()
	pgDump(t, url, filepath.Join(src, "plain.sql"))
	pgDump(t, url, filepath.Join(src, "custom.dump"), "-Fc")
	pgDump(t, url, filepath.Join(src, "tar.tar"), "-Ft")
	pgDump(t, url, filepath.Join(src, "dir"), "-Fd")
	pgDump(t, otherURL, filepath.Join(src, "other.dump"), "-Fc")
	plain := mustRead(t, filepath.Join(src, "plain.sql"))
	custom := mustRead(t, filepath.Join(src, "custom.dump"))
	tarball := mustRead(t, filepath.Join(src, "tar.tar"))

	type file struct {
		name string
		data []byte
		dir  string // copy this directory instead
	}
	flip := func(b []byte, at int) []byte {
		c := bytes.Clone(b)
		c[at] ^= 0xff
		return c
	}
	copyStart := bytes.Index(plain, []byte("COPY public.members"))
	for _, tc := range []struct {
		name   string
		files  []file
		opt    Options
		format string
		want   []string // severity: description prefix
	}{
		{name: "plain", files: []file{{name: "a.sql", data: plain}}, format: FormatPlain},
		{name: "plain gzip", files: []file{{name: "a.sql.gz", data: gz(t, plain)}}, format: FormatPlain + ", gzip-compressed"},
		{name: "plain zstd", files: []file{{name: "a.sql.zst", data: zst(t, plain)}}, format: FormatPlain + ", zstd-compressed"},
		{name: "custom", files: []file{{name: "a.dump", data: custom}}, format: FormatCustom},
		{name: "custom gzip", files: []file{{name: "a.dump.gz", data: gz(t, custom)}}, format: FormatCustom + ", gzip-compressed"},
		{name: "custom zstd", files: []file{{name: "a.zst", data: zst(t, custom)}}, format: FormatCustom + ", zstd-compressed"},
		{name: "tar", files: []file{{name: "a.tar", data: tarball}}, format: FormatTar},
		{name: "directory", files: []file{{name: "ip2a-dir", dir: filepath.Join(src, "dir")}}, format: FormatDirectory},

		{name: "plain truncated in COPY", files: []file{{name: "a.sql", data: plain[:copyStart+5000]}}, format: FormatPlain,
			want: []string{`critical: The newest backup a.sql cannot be restored: truncated inside the data of "COPY public.members`}},
		{name: "plain with text after its end", files: []file{{name: "a.sql", data: append(bytes.Clone(plain), "DROP TABLE members;\n"...)}}, format: FormatPlain,
			want: []string{"critical: The newest backup a.sql cannot be restored: damaged: text follows pg_dump's completion line"}},
		{name: "gzip truncated", files: []file{{name: "a.sql.gz", data: gz(t, plain)[:len(gz(t, plain))-100]}}, format: FormatPlain + ", gzip-compressed",
			want: []string{"critical: The newest backup a.sql.gz cannot be restored: "}},
		{name: "custom data flipped", files: []file{{name: "a.dump", data: flip(custom, len(custom)-300)}}, format: FormatCustom,
			want: []string{"critical: The newest backup a.dump cannot be restored: "}},
		{name: "custom truncated", files: []file{{name: "a.dump", data: custom[:len(custom)/2]}}, format: FormatCustom,
			want: []string{"critical: The newest backup a.dump cannot be restored: "}},
		{name: "tar truncated", files: []file{{name: "a.tar", data: tarball[:len(tarball)-3000]}}, format: FormatTar,
			want: []string{"critical: The newest backup a.tar cannot be restored: "}},

		{name: "wrong database", files: []file{{name: "a.dump", data: mustRead(t, filepath.Join(src, "other.dump"))}}, format: FormatCustom,
			want: []string{"warning: The newest backup a.dump lacks the data of 9 of the database's 9 tables (file_attachments, grievances, instructors, locations, member_employments, members, organization_contacts, organizations, students): it is a dump of database ip2adb_test_",
				"warning: The newest backup a.dump is implausibly small: "}},
		{name: "small for the database", files: []file{{name: "a.dump", data: custom}}, format: FormatCustom,
			opt:  Options{Depth: Depth{BackupMinDatabaseRatio: 0.9}},
			want: []string{"warning: The newest backup a.dump is implausibly small: "}},
		{name: "small after a larger one", files: []file{{name: "old.sql", data: plain}, {name: "a.dump", data: custom}}, format: FormatCustom,
			opt:  Options{Depth: Depth{BackupMinPreviousRatio: 1}},
			want: []string{"warning: The newest backup a.dump ("}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(t, db)
			if err := os.MkdirAll(env.BackupDir, 0o755); err != nil {
				t.Fatal(err)
			}
			for i, f := range tc.files {
				p := filepath.Join(env.BackupDir, f.name)
				if f.dir != "" {
					if err := os.CopyFS(p, os.DirFS(f.dir)); err != nil {
						t.Fatal(err)
					}
					p = filepath.Join(p, "toc.dat")
				} else if err := os.WriteFile(p, f.data, 0o644); err != nil {
					t.Fatal(err)
				}
				setAge(t, p, time.Duration(len(tc.files)-i)*time.Hour) // the last is the newest
			}
			res := probeOnce(t, BackupStatus(tc.opt), env)
			var got []string
			for i, f := range res.Findings {
				line := string(f.Severity) + ": " + f.Description
				if i < len(tc.want) && strings.HasPrefix(line, tc.want[i]) {
					line = tc.want[i]
				}
				got = append(got, line)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
			checkRecs(t, res.Findings)
			if res.Metrics["format"] != tc.format {
				t.Errorf("format %v, want %v", res.Metrics["format"], tc.format)
			}
		})
	}
}

// TestDumpTOC: the table of contents read in Go names the tables whose
// data the dump holds, as pg_restore --list does.
func TestDumpTOC(t *testing.T) {
	url := testdb.PostgresURL(t, testdb.WithSchema())
	src := t.TempDir()
	pgDump(t, url, filepath.Join(src, "c.dump"), "-Fc", "-t", "members", "-t", "locations")
	f, err := os.Open(filepath.Join(src, "c.dump"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := readCustom(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"public.members": true, "public.locations": true}
	if d := cmp.Diff(want, c.Tables); d != "" || !strings.HasPrefix(c.Database, "ip2adb_test_") {
		t.Errorf("tables (-want +got):\n%s\ndatabase %q", d, c.Database)
	}
	_ = ip2adb.Info
}

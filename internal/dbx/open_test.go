package dbx_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://ip2a:s3cret@db.example.org:5432/ip2a?sslmode=require", "postgres://ip2a:<redacted>@db.example.org:5432/ip2a?sslmode=require"},
		{"postgres://ip2a@db/ip2a", "postgres://ip2a@db/ip2a"},
		{"postgres://db/ip2a?password=hunter2", "postgres://db/ip2a?password=<redacted>"},
		{"https://example.org/hook?secret=whsec_abc&x=1", "https://example.org/hook?secret=<redacted>&x=1"},
		{"sqlite:ip2adb.db", "sqlite:ip2adb.db"},
		{"postgres://xxxxx:s3cret@xxxxx.example.org/xxxxx?password=p&app=xxxxx", "postgres://xxxxx:<redacted>@xxxxx.example.org/xxxxx?app=xxxxx&password=<redacted>"},
		// Text that does not parse as a URL is redacted too.
		{"host=db user=ip2a password=hunter2 dbname=ip2a", "host=db user=ip2a password=<redacted> dbname=ip2a"},
		{"host=db password='hunter 2' dbname=ip2a", "host=db password=<redacted> dbname=ip2a"},
		{"postgres://ip2a:hun%zzter2@db/ip2a", "postgres://ip2a:<redacted>@db/ip2a"},
		// Malformed URLs: everything between "//" (or the first ':') and
		// the last '@' goes, whatever the parser thinks.
		{"postgres://u:p@ss%zzS3cret@h/x", "postgres://u:<redacted>@h/x"},
		{"postgres:/u:S3cret@h/x", "postgres:<redacted>@h/x"},
		{"postgres:u:S3cret@h/x", "postgres:u:<redacted>@h/x"},
		{"postgres//u:S3cret@h/x", "postgres//u:<redacted>@h/x"},
		{"u:S3cret@host/db", "u:<redacted>@host/db"},
		{"postgres://u:12/S3cret@h/x", "postgres://u:<redacted>@h/x"},
		{"postgres://u:12?S3cret@h/x", "postgres://u:<redacted>@h/x"},
		{"postgres://u:12#S3cret@h/x", "postgres://u:<redacted>@h/x"},
		{"smtp://ops:Tr0ub4dor/3xyz@relay:25/?from=a@b.org", "smtp://ops:<redacted>@b.org"},
		// A query holding '@' in values is still a URL.
		{"smtp://ops:pw@relay:25/?from=a@b.org&to=c@d.org", "smtp://ops:<redacted>@relay:25/?from=a%40b.org&to=c%40d.org"},
	} {
		if got := dbx.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestOpenBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, url, wantSub string
		create             bool
	}{
		{"unknown scheme", "mysql://root@localhost/x", "unknown database URL scheme", false},
		{"key=value DSN", "host=127.0.0.1 password=topsecret", "unknown database URL scheme", false},
		{"bad escape", "postgres://ip2a:top%zzsecret@127.0.0.1/ip2a", "bad database URL", false},
		{"password with slash", "postgres://ip2a:12/topsecret@127.0.0.1/ip2a", "bad database URL", false},
		{"one slash", "postgres:/ip2a:topsecret@127.0.0.1/ip2a", `unknown database URL scheme: "postgres:" is not followed by "//"`, false},
		{"no scheme", "ip2a:topsecret@127.0.0.1/ip2a", `unknown database URL scheme "ip2a"`, false},
		{"no colon", "postgres//ip2a:topsecret@127.0.0.1/ip2a", "unknown database URL scheme (want", false},
		{"empty", "", "empty database URL", false},
		{"sqlite missing dir", "sqlite:" + filepath.Join(dir, "nope", "x.db"), "does not exist", true},
		{"sqlite missing file", "sqlite:" + filepath.Join(dir, "x.db"), "run `ip2adb seed`", false},
		{"postgres unreachable", "postgres://ip2a:topsecret@127.0.0.1:1/ip2a", "connect to postgres 127.0.0.1:1/ip2a", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := dbx.Open(context.Background(), tc.url, dbx.OpenOptions{Create: tc.create, Timeout: 3 * time.Second})
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			var ce *dbx.ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("error %v is not a ConfigError", err)
			}
			if !strings.Contains(err.Error(), tc.wantSub) {
				t.Errorf("error %q does not mention %q", err, tc.wantSub)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error leaks the password: %q", err)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("bad input created files: %v", entries)
	}
}

func TestOpenBothDialects(t *testing.T) {
	testdb.EachURL(t, func(t *testing.T, url string) {
		db, err := dbx.Open(context.Background(), url, dbx.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		want := dbx.SQLite
		if strings.HasPrefix(url, "postgres") {
			want = dbx.Postgres
		}
		if got := dbx.DialectOf(db); got != want {
			t.Errorf("DialectOf = %q, want %q", got, want)
		}
		ok, err := dbx.TableExists(context.Background(), db, want, "members")
		if err != nil || !ok {
			t.Errorf("TableExists(members) = %v, %v; want true", ok, err)
		}
	}, testdb.WithSchema())
}

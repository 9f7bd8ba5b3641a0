package dburl_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/dburl"
	_ "github.com/ip2adb/ip2adb/dburl/sqlite" // only SQLite: the PostgreSQL driver stays unregistered here
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/jmoiron/sqlx"
)

func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := dburl.Open(ctx, "sqlite:"+path, dburl.WithCreate())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	ro, err := dburl.Open(ctx, "sqlite:"+path, dburl.WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	if got := ro.DriverName(); got != "sqlite" {
		t.Errorf("DriverName() = %q, want sqlite", got)
	}
	if _, err := ro.Exec(`INSERT INTO t (v) VALUES ('x')`); err == nil {
		t.Error("a read-only handle wrote a row")
	}
	var n int
	if err := ro.Get(&n, `SELECT count(*) FROM t`); err != nil || n != 0 {
		t.Errorf("count = %d, %v; want 0, nil", n, err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("opening read-only changed the file")
	}
	if d, err := dburl.DialectFor(ro.DriverName()); d != dburl.SQLite || err != nil {
		t.Errorf("DialectFor(%q) = %q, %v; want sqlite, nil", ro.DriverName(), d, err)
	}
}

// TestOpenSQLitePathWithURISyntax: a path holding what a file: URI reads
// as syntax ('#', '?', '%') opens that very file, read-write and
// read-only, never a file cut short at the '#' or '?'.
func TestOpenSQLitePathWithURISyntax(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"runs#2", "what?", "100%25", "a b"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "x.db")
			db, err := dburl.Open(ctx, "sqlite:"+path, dburl.WithCreate())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('here')`); err != nil {
				t.Fatal(err)
			}
			var file string
			if err := db.Get(&file, `SELECT file FROM pragma_database_list WHERE name = 'main'`); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if file != path {
				t.Errorf("opened %q, want %q", file, path)
			}
			ro, err := dburl.Open(ctx, "sqlite:"+path, dburl.WithReadOnly())
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			var v string
			if err := ro.Get(&v, `SELECT v FROM t`); err != nil || v != "here" {
				t.Errorf("read-only: %q, %v; want the row written", v, err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, url, want string
	}{
		{"empty", "", "empty database URL"},
		{"unknown scheme", "mysql://root:topsecret@localhost/x", `unknown database URL scheme "mysql" (want postgres://, postgresql:// or sqlite:PATH; the URL is not shown)`},
		{"sqlite missing dir", "sqlite:" + filepath.Join(dir, "nope", "x.db"), "sqlite database directory " + filepath.Join(dir, "nope") + " does not exist"},
		{"sqlite missing file", "sqlite:" + filepath.Join(dir, "x.db"), "sqlite database " + filepath.Join(dir, "x.db") + " does not exist (run `ip2adb seed` to create it)"},
		{"driver not registered", "postgres://ip2a:topsecret@127.0.0.1:1/ip2a",
			`no SQL driver "postgres" is registered for postgres URLs: import _ "github.com/ip2adb/ip2adb/dburl/postgres"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := dburl.Open(context.Background(), tc.url)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			var ce *dburl.ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("error %v is not a *ConfigError", err)
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnknownDriver: a handle whose driver names no supported dialect gets
// one clear error from every entry point, instead of being taken for
// SQLite (or PostgreSQL) and failing in SQL.
func TestUnknownDriver(t *testing.T) {
	ctx := context.Background()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	db := sqlx.NewDb(raw, "sqlite3")
	want := `unsupported SQL driver "sqlite3": want "postgres" or "pgx" (PostgreSQL) or "sqlite" (modernc.org/sqlite); the sqlite3 driver (mattn/go-sqlite3) is not supported`

	if err := dburl.CheckDriver(db); err == nil || err.Error() != want {
		t.Errorf("CheckDriver: %v, want %s", err, want)
	}
	if _, err := dburl.DialectFor("mysql"); err == nil {
		t.Error("DialectFor(mysql) succeeded")
	}
	_, catErr := catalog.Read(ctx, db, catalog.Options{})
	_, cycleErr := (&heal.Cycle{DB: db, Checks: ip2a.Rules(ip2a.RuleOptions{})}).Run(ctx)
	_, undoErr := heal.Undo(ctx, db, "IR-20260101-000000-000000", heal.UndoOptions{})
	for name, err := range map[string]error{
		"catalog.Read":   catErr,
		"heal.Cycle.Run": cycleErr,
		"heal.Undo":      undoErr,
		"seed.Schema":    seed.Schema(ctx, db),
	} {
		var ue *dburl.UnknownDriverError
		if !errors.As(err, &ue) || ue.Driver != "sqlite3" {
			t.Errorf("%s: error %v, want an *UnknownDriverError for sqlite3", name, err)
		}
	}
	rep := integrity.Run(ctx, db, ip2a.Rules(ip2a.RuleOptions{}), integrity.RunOptions{})
	for _, c := range rep.Checks {
		if !strings.Contains(c.Error, want) {
			t.Errorf("integrity.Run: check %s: error %q, want %q", c.Name, c.Error, want)
		}
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM sqlite_master`); err != nil || n != 0 {
		t.Errorf("tables after the refused calls: %d, %v; want 0", n, err)
	}
}

// TestLibraryPackagesRegisterNoDriver: importing ip2adb's library packages
// registers no SQL driver; the command, or a blank import of dburl/postgres
// or dburl/sqlite, does.
func TestLibraryPackagesRegisterNoDriver(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	pkgs := []string{"github.com/ip2adb/ip2adb", "github.com/ip2adb/ip2adb/catalog", "github.com/ip2adb/ip2adb/dburl",
		"github.com/ip2adb/ip2adb/filestore", "github.com/ip2adb/ip2adb/heal", "github.com/ip2adb/ip2adb/integrity",
		"github.com/ip2adb/ip2adb/notify", "github.com/ip2adb/ip2adb/seed", "github.com/ip2adb/ip2adb/resilience",
		"github.com/ip2adb/ip2adb/ip2a", "github.com/ip2adb/ip2adb/ip2a/schema", "github.com/ip2adb/ip2adb/service"}
	for _, p := range pkgs {
		out, err := exec.Command(gobin, "list", "-deps", p).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", p, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			switch dep {
			case "github.com/lib/pq", "modernc.org/sqlite", "github.com/mattn/go-sqlite3", "github.com/jackc/pgx/v5/stdlib":
				t.Errorf("%s depends on %s, which registers a SQL driver", p, dep)
			}
		}
	}
	for p, want := range map[string]string{
		"github.com/ip2adb/ip2adb/dburl/postgres": "github.com/lib/pq",
		"github.com/ip2adb/ip2adb/dburl/sqlite":   "modernc.org/sqlite",
		"github.com/ip2adb/ip2adb/cmd/ip2adb":     "github.com/lib/pq modernc.org/sqlite",
	} {
		out, err := exec.Command(gobin, "list", "-deps", p).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", p, err)
		}
		deps := strings.Fields(string(out))
		for _, w := range strings.Fields(want) {
			if !slices.Contains(deps, w) {
				t.Errorf("%s does not depend on %s", p, w)
			}
		}
	}
}

func ExampleOpen() {
	db, err := dburl.Open(context.Background(), "sqlite::memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	d, _ := dburl.DialectFor(db.DriverName())
	fmt.Println(d, dburl.Redact("postgres://ip2a:s3cret@db.example.org/ip2a"))
	// Output: sqlite postgres://ip2a:<redacted>@db.example.org/ip2a
}

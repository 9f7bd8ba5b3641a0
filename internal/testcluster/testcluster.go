// Package testcluster starts a private PostgreSQL cluster for tests that
// must do what a shared server forbids: plant corruption in a data file,
// crash and restart the server, reset its transaction counter or create
// replication slots. The cluster lives in a temp directory owned by the
// postgres OS user (when the tests run as root), listens on a random free
// port on 127.0.0.1 with trust authentication, and is stopped and removed
// in t.Cleanup. The shared server on port 5432 is never touched.
//
// When the PostgreSQL server binaries cannot be found or the cluster does
// not start, the test is skipped on a developer's machine and fails when
// the CI environment variable is set.
package testcluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the tests talk to the cluster through lib/pq
)

// Options configure a new cluster.
type Options struct {
	// Settings are written to postgresql.conf, one "name = value" line each
	// (values quoted by the caller when PostgreSQL needs quotes).
	Settings map[string]string
}

// Cluster is a running private PostgreSQL cluster.
type Cluster struct {
	// BinDir holds initdb, pg_ctl, pg_resetwal.
	BinDir string
	// Dir is the temp directory holding the data directory, the socket and
	// the server log.
	Dir string
	// DataDir is the cluster's data directory.
	DataDir string
	// Port is the TCP port on 127.0.0.1.
	Port int

	tb testing.TB
}

// BinDir finds the PostgreSQL server binaries: IP2ADB_PG_BINDIR, then the
// newest /usr/lib/postgresql/*/bin holding initdb, then pg_config --bindir.
func BinDir() (string, error) {
	if d := os.Getenv("IP2ADB_PG_BINDIR"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	out, err := exec.Command("pg_config", "--bindir").Output()
	if err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (initdb) found; set IP2ADB_PG_BINDIR")
}

// unavailable skips the test, or fails it under CI.
func unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		tb.Fatalf("private PostgreSQL cluster unavailable (CI is set, so this fails): %s", msg)
	}
	tb.Skipf("private PostgreSQL cluster unavailable: %s", msg)
}

// Start creates and starts a new cluster, stopped and removed when the test
// ends.
func Start(tb testing.TB, opt Options) *Cluster {
	tb.Helper()
	bin, err := BinDir()
	if err != nil {
		unavailable(tb, "%v", err)
	}
	dir, err := os.MkdirTemp("", "ip2adb-pgcluster-")
	if err != nil {
		tb.Fatalf("temp dir: %v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	c := &Cluster{BinDir: bin, Dir: dir, DataDir: filepath.Join(dir, "data"), tb: tb}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(tb, "running as root and there is no postgres OS user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatalf("chown %s to postgres: %v", dir, err)
		}
	}
	if out, err := c.Run("initdb", "-D", c.DataDir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C"); err != nil {
		unavailable(tb, "initdb: %v: %s", err, out)
	}
	c.Port = freePort(tb)
	conf := fmt.Sprintf("\n# testcluster\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = off\nlogging_collector = off\n",
		c.Port, dir)
	keys := make([]string, 0, len(opt.Settings))
	for k := range opt.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		conf += fmt.Sprintf("%s = %s\n", k, opt.Settings[k])
	}
	if err := c.appendConf(conf); err != nil {
		tb.Fatalf("postgresql.conf: %v", err)
	}
	if err := c.start(); err != nil {
		unavailable(tb, "%v", err)
	}
	tb.Cleanup(func() {
		if out, err := c.Run("pg_ctl", "-D", c.DataDir, "-m", "immediate", "-w", "stop"); err != nil && c.running() {
			tb.Logf("stop private cluster: %v: %s", err, out)
		}
	})
	return c
}

func (c *Cluster) appendConf(s string) error {
	f, err := os.OpenFile(filepath.Join(c.DataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Run runs one of the cluster's binaries (initdb, pg_ctl, pg_resetwal …)
// as the postgres OS user when the tests run as root, and returns its
// combined output.
func (c *Cluster) Run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path := filepath.Join(c.BinDir, name)
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = c.Dir
	err := cmd.Run()
	return out.String(), err
}

func (c *Cluster) start() error {
	out, err := c.Run("pg_ctl", "-D", c.DataDir, "-l", filepath.Join(c.Dir, "server.log"), "-w", "-t", "60", "start")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
		return fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, tail(log, 2000))
	}
	return nil
}

func (c *Cluster) running() bool {
	_, err := c.Run("pg_ctl", "-D", c.DataDir, "status")
	return err == nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Stop stops the server; mode is smart, fast or immediate (a crash: the
// next start runs recovery).
func (c *Cluster) Stop(mode string) {
	c.tb.Helper()
	if out, err := c.Run("pg_ctl", "-D", c.DataDir, "-m", mode, "-w", "stop"); err != nil {
		c.tb.Fatalf("pg_ctl stop: %v: %s", err, out)
	}
}

// Start starts the stopped server again.
func (c *Cluster) Start() {
	c.tb.Helper()
	if err := c.start(); err != nil {
		c.tb.Fatal(err)
	}
}

// Set writes settings to postgresql.conf; they take effect at the next
// start or reload.
func (c *Cluster) Set(settings map[string]string) {
	c.tb.Helper()
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, settings[k])
	}
	if err := c.appendConf(b.String()); err != nil {
		c.tb.Fatal(err)
	}
}

// URL is the URL of database on the cluster, as superuser postgres.
func (c *Cluster) URL(database string) string { return c.URLAs("postgres", database) }

// URLAs is the URL of database on the cluster as role (trust auth: no
// password).
func (c *Cluster) URLAs(role, database string) string {
	u := url.URL{Scheme: "postgres", User: url.User(role), Host: fmt.Sprintf("127.0.0.1:%d", c.Port),
		Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// Open opens database on the cluster; the handle is closed when the test
// ends.
func (c *Cluster) Open(tb testing.TB, database string) *sqlx.DB {
	tb.Helper()
	db, err := sqlx.Open("postgres", c.URL(database))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// CreateDB creates a new database of that name and returns a handle on it.
func (c *Cluster) CreateDB(tb testing.TB, name string) *sqlx.DB {
	tb.Helper()
	admin := c.Open(tb, "postgres")
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	admin.Close()
	return c.Open(tb, name)
}

// RelationPath is the absolute path of the first segment of relation rel
// (a name the database resolves, such as 'members') in database db.
func (c *Cluster) RelationPath(tb testing.TB, db *sqlx.DB, rel string) string {
	tb.Helper()
	var p string
	if err := db.Get(&p, "SELECT pg_relation_filepath($1::regclass)", rel); err != nil {
		tb.Fatalf("relation path of %s: %v", rel, err)
	}
	return filepath.Join(c.DataDir, p)
}

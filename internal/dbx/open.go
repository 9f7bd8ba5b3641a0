// Package dbx is the database plumbing shared by ip2adb's packages: opening a
// database from a URL (PostgreSQL through lib/pq, SQLite through the pure-Go
// modernc driver), redacting secrets from URLs, and how the two SQL dialects
// differ: the other packages ask [Dialect]'s methods for the SQL they need
// and for capabilities by name, and never compare dialects (the root's
// TestNoDialectComparisons holds them to it). It registers no SQL driver:
// the command does, by importing dburl/postgres and dburl/sqlite.
package dbx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// DefaultURL is the embedded default database: a SQLite file in the working
// directory.
const DefaultURL = "sqlite:ip2adb.db"

// ConfigError marks an error in what the user asked for (bad URL, missing
// directory, unreachable server) as opposed to a failure while working.
type ConfigError struct{ Err error }

// Error returns the message of the wrapped error.
func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *ConfigError) Unwrap() error { return e.Err }

// OpenOptions tune Open.
type OpenOptions struct {
	// Timeout bounds connecting and the first ping; 10 s when zero.
	Timeout time.Duration
	// Create allows Open to create a missing SQLite file. Without it a
	// missing file is a ConfigError, so a typo never leaves an empty
	// database behind.
	Create bool
	// ReadOnly opens a SQLite file read-only (mode=ro): nothing is written
	// to it, not even the switch to WAL, so that checking someone else's
	// database leaves it byte for byte as it was. Ignored with Create and
	// on PostgreSQL.
	ReadOnly bool
}

// Open opens and pings the database named by rawURL: postgres://…,
// postgresql://…, sqlite:PATH or sqlite::memory:. Errors are ConfigErrors
// that name host and database but never a password.
func Open(ctx context.Context, rawURL string, opt OpenOptions) (*sqlx.DB, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	driver, dsn, err := parse(rawURL, opt.Create)
	if err != nil {
		return nil, &ConfigError{err}
	}
	if !slices.Contains(sql.Drivers(), driver) {
		return nil, &ConfigError{fmt.Errorf("no SQL driver %q is registered for %s URLs: import _ %q", driver, driver, driverPackage[driver])}
	}
	if driver == "sqlite" && opt.ReadOnly && !opt.Create && !strings.Contains(dsn, ":memory:") {
		dsn = sqliteReadOnlyDSN(strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "//"))
	}
	db, err := sqlx.Open(driver, dsn)
	if err != nil {
		return nil, &ConfigError{fmt.Errorf("open %s: %s", Redact(rawURL), redactErr(err, rawURL))}
	}
	if driver == "sqlite" {
		// One writer at a time; readers share the pool in WAL mode.
		db.SetMaxOpenConns(4)
		if strings.Contains(dsn, ":memory:") {
			db.SetMaxOpenConns(1)
		}
	} else {
		db.SetMaxOpenConns(8)
	}
	pctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, &ConfigError{fmt.Errorf("connect to %s: %s", Describe(rawURL), redactErr(err, rawURL))}
	}
	if driver == "sqlite" {
		// Reading the schema version reads the file's header: a file
		// that is not a SQLite database fails here, not in every check.
		var v int64
		if err := db.QueryRowContext(pctx, `PRAGMA schema_version`).Scan(&v); err != nil {
			db.Close()
			return nil, &ConfigError{fmt.Errorf("%s is not a usable SQLite database: %v", rawURL, err)}
		}
	}
	return db, nil
}

// PostgresDSN returns the connection URL Open hands lib/pq for a
// PostgreSQL URL (with Open's connect_timeout and sslmode defaults), or ""
// for any other URL or one that does not parse.
func PostgresDSN(rawURL string) string {
	driver, dsn, err := parse(rawURL, false)
	if err != nil || driver != "postgres" {
		return ""
	}
	return dsn
}

// driverPackage names the package whose blank import registers a driver.
var driverPackage = map[string]string{
	"postgres": "github.com/ip2adb/ip2adb/dburl/postgres",
	"sqlite":   "github.com/ip2adb/ip2adb/dburl/sqlite",
}

func parse(rawURL string, create bool) (driver, dsn string, err error) {
	switch {
	case rawURL == "":
		return "", "", errors.New("empty database URL")
	case strings.HasPrefix(rawURL, "sqlite:"):
		path := strings.TrimPrefix(rawURL, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return "", "", fmt.Errorf("database URL %q has no path (want sqlite:PATH or sqlite::memory:)", rawURL)
		}
		return "sqlite", SQLiteDSN(path), checkSQLitePath(path, create)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		u, err := url.Parse(rawURL)
		if err != nil || !wellFormed(rawURL, u) {
			// Never echo a URL that does not parse: where the parser
			// gave up says nothing about where the password ends.
			return "", "", errors.New("bad database URL: it does not parse as postgres://[user[:password]@]host[:port]/dbname (the URL is not shown; percent-encode special characters in the password, e.g. %40 for @, %2F for /)")
		}
		q := u.Query()
		if !q.Has("connect_timeout") {
			q.Set("connect_timeout", "10")
		}
		if !q.Has("sslmode") && isLoopback(u.Hostname()) {
			q.Set("sslmode", "disable")
		}
		u.RawQuery = q.Encode()
		return "postgres", u.String(), nil
	}
	return "", "", fmt.Errorf("%s (want postgres://, postgresql:// or sqlite:PATH; the URL is not shown)", schemeProblem(rawURL))
}

// schemeProblem says what is wrong with the scheme of rawURL without
// echoing anything after it: the scheme is named only when it looks like
// one.
func schemeProblem(rawURL string) string {
	scheme, _, ok := strings.Cut(rawURL, ":")
	if !ok || !validScheme.MatchString(scheme) || len(scheme) > 16 {
		return "unknown database URL scheme"
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return fmt.Sprintf("unknown database URL scheme: %q is not followed by \"//\"", scheme+":")
	}
	return fmt.Sprintf("unknown database URL scheme %q", scheme)
}

// validScheme is the syntax of a URL scheme (RFC 3986).
var validScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// SQLiteDSN is the modernc DSN ip2adb uses for a SQLite file or ":memory:":
// WAL journal, a busy timeout, and timestamps in SQLite's own text format so
// that dates compare as text.
func SQLiteDSN(path string) string {
	return "file:" + SQLiteURIPath(path) + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_time_format=sqlite"
}

// SQLiteURIPath escapes what a path may hold that a SQLite file: URI reads as
// syntax — '%' (an escape), '?' (the query) and '#' (the fragment) — so
// that a directory such as "runs#2" names that directory, not a file cut
// short at the '#'.
func SQLiteURIPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// sqliteReadOnlyDSN is the modernc DSN of a SQLite file opened read-only:
// mode=ro, a busy timeout, no journal-mode or synchronous pragma (those
// write), timestamps as in SQLiteDSN.
func sqliteReadOnlyDSN(path string) string {
	return "file:" + SQLiteURIPath(path) + "?mode=ro&_pragma=busy_timeout(10000)&_time_format=sqlite"
}

func checkSQLitePath(path string, create bool) error {
	if path == ":memory:" {
		return nil
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("sqlite database directory %s does not exist", dir)
	}
	if !create {
		st, err := os.Stat(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("sqlite database %s does not exist (run `ip2adb seed` to create it)", path)
		case err == nil && st.Mode().IsRegular() && st.Size() == 0:
			// SQLite takes an empty file for an empty database and would
			// write one into it.
			return fmt.Errorf("sqlite database %s is an empty file, not a database (run `ip2adb seed` to create one)", path)
		}
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "" || host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1" || strings.HasPrefix(host, "/")
}

// Redact returns rawURL with any password replaced by <redacted>, and any
// query parameter that looks like a secret likewise.
//
// Only a URL the parser takes apart cleanly (scheme://[user[:pw]@]host/…,
// with no stray '@' after the host) keeps its structure. Anything else —
// a bad escape, a missing "//", a password holding '/', '?' or '#', a
// key=value DSN — is redacted as text: everything between the "//" (or,
// without one, the first ':') and the last '@' is blanked, whatever the
// parser thinks, keeping only a plain user name before it.
func Redact(rawURL string) string {
	if strings.HasPrefix(rawURL, "sqlite:") {
		return rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil || !wellFormed(rawURL, u) {
		return redactText(rawURL)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redactMark)
		}
	}
	q := u.Query()
	for k := range q {
		if isSecretParam(k) {
			q.Set(k, redactMark)
		}
	}
	u.RawQuery = q.Encode()
	return strings.ReplaceAll(u.String(), url.QueryEscape(redactMark), "<redacted>")
}

// wellFormed reports whether u, parsed from raw, is a hierarchical URL whose
// user info the parser found where the writer meant it: "scheme://" first,
// a host, and no '@' in the path, the fragment or a query key (where a
// password holding '/', '?' or '#' would push the rest of the user info).
func wellFormed(raw string, u *url.URL) bool {
	if u.Scheme == "" || u.Opaque != "" || u.Host == "" || !strings.HasPrefix(raw[len(u.Scheme):], "://") {
		return false
	}
	if strings.Contains(u.Path, "@") || strings.Contains(u.RawPath, "@") || strings.Contains(u.Fragment, "@") {
		return false
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		if at := strings.IndexByte(kv, '@'); at >= 0 && !strings.Contains(kv[:at], "=") {
			return false
		}
	}
	return true
}

// redactText blanks the user info of text that is not a well-formed URL:
// from just after the first "//" (or, without one, the first ':') to the
// last '@'. A plain user name (no '/', '?', '#' or '@') before a ':' in
// that span is kept. Then secret-looking key=value parameters are blanked.
func redactText(s string) string {
	start := -1
	if i := strings.Index(s, "//"); i >= 0 {
		start = i + 2
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		start = i + 1
	}
	if at := strings.LastIndexByte(s, '@'); start >= 0 && at >= start {
		span := s[start:at]
		keep := ""
		if i := strings.IndexByte(span, ':'); i >= 0 && !strings.ContainsAny(span[:i], "/?#@") {
			keep = span[:i+1]
		}
		s = s[:start] + keep + "<redacted>" + s[at:]
	}
	return paramSecret.ReplaceAllString(s, "${1}<redacted>")
}

// isSecretParam reports whether a query or DSN parameter holds a secret.
func isSecretParam(k string) bool {
	switch strings.ToLower(k) {
	case "password", "secret", "token", "key", "sslpassword":
		return true
	}
	return false
}

// redactMark stands in for a secret while the URL is re-encoded; it escapes
// to "%00redacted%00" in both userinfo and query, which no real URL holds
// (a plain word such as "xxxxx" could be a host or database name).
const redactMark = "\x00redacted\x00"

// paramSecret finds "password=…" (URL query or key=value DSN) in text that
// is not a well-formed URL.
var paramSecret = regexp.MustCompile(`(?i)((?:password|secret|token|key|sslpassword)\s*=\s*)('[^']*'|[^&\s]*)`)

// Describe names the server and database of rawURL for messages: host:port/db
// for PostgreSQL, the path for SQLite. It never includes a password.
func Describe(rawURL string) string {
	if strings.HasPrefix(rawURL, "sqlite:") {
		return rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "database"
	}
	host := u.Host
	if host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("postgres %s%s", host, u.Path)
}

// redactErr renders err with any password from rawURL removed.
func redactErr(err error, rawURL string) string {
	msg := err.Error()
	if u, perr := url.Parse(rawURL); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "<redacted>")
			msg = strings.ReplaceAll(msg, url.QueryEscape(pw), "<redacted>")
		}
	}
	return msg
}

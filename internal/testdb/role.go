package testdb

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
)

// Role creates a login role of its own (a unique name) on the test server,
// runs grants in the database of dbURL (as the server's superuser; "%s" in
// a grant is replaced by the role's name) and returns dbURL with the role
// as its user. The role's privileges are revoked and the role dropped when
// the test ends, before its database is dropped.
func Role(tb testing.TB, dbURL string, grants ...string) string {
	tb.Helper()
	name := "ip2adb_role_" + randomHex(6)
	admin, err := sqlx.Open("postgres", ServerURL())
	if err != nil {
		tb.Fatalf("open server: %v", err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE ROLE " + name + " LOGIN"); err != nil {
		tb.Fatalf("create role: %v", err)
	}
	tb.Cleanup(func() {
		if db, err := sqlx.Open("postgres", dbURL); err == nil {
			if _, err := db.Exec("DROP OWNED BY " + name); err != nil {
				tb.Logf("revoke from role %s: %v", name, err)
			}
			db.Close()
		}
		if a, err := sqlx.Open("postgres", ServerURL()); err == nil {
			if _, err := a.Exec("DROP ROLE IF EXISTS " + name); err != nil {
				tb.Logf("drop role %s: %v", name, err)
			}
			a.Close()
		}
	})
	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		tb.Fatalf("open %s: %v", dbURL, err)
	}
	defer db.Close()
	for _, g := range grants {
		if _, err := db.ExecContext(context.Background(), strings.ReplaceAll(g, "%s", name)); err != nil {
			tb.Fatalf("grant %q: %v", g, err)
		}
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatalf("parse %s: %v", dbURL, err)
	}
	u.User = url.User(name)
	return u.String()
}

// DMLGrants are the grants of a least-privilege role that may check, repair
// and undo once ip2adb's own objects exist: USAGE on the schemas, SELECT,
// INSERT, UPDATE and DELETE on every table and USAGE and SELECT on every
// sequence of the application's schema (public) and of schema ip2adb — and
// nothing else (no CREATE, no ownership). Pass them to [Role].
func DMLGrants() []string {
	return []string{
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC",
		"GRANT USAGE ON SCHEMA public, ip2adb TO %s",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public, ip2adb TO %s",
		"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public, ip2adb TO %s",
	}
}

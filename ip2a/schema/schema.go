// Package schema holds the IP2A schema that ip2adb's seed fills — the
// tables of the original system as the Phase 2.1 summary describes them —
// as embedded SQL for PostgreSQL and SQLite, and applies it idempotently.
// It is part of the IP2A specifics (package ip2a holds the rule set); the
// real IP2A database, built by the original's migrations, differs from it
// (see docs/SCHEMA-MODEL.md), and the checks work on both.
package schema

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/jmoiron/sqlx"
)

//go:embed postgres.sql
var postgresSQL string

//go:embed sqlite.sql
var sqliteSQL string

// Tables lists the IP2A tables in dependency order (parents first).
func Tables() []string {
	return []string{
		"locations", "instructors", "organizations", "organization_contacts",
		"members", "member_employments", "students", "grievances", "file_attachments",
	}
}

// SQL returns the schema script for a database/sql driver name: "postgres"
// (or "pgx") for PostgreSQL, "sqlite" for SQLite.
func SQL(driver string) (string, error) {
	d, err := dbx.DialectFor(driver)
	if err != nil {
		return "", err
	}
	return script(d), nil
}

func script(d dbx.Dialect) string {
	return dbx.PerDialect[string]{Postgres: postgresSQL, SQLite: sqliteSQL}.For(d)
}

// Apply creates every missing IP2A table and index. Applying it twice is a
// no-op. On PostgreSQL the script is one simple query: one round trip, run
// in one transaction (all or nothing) with one commit.
func Apply(ctx context.Context, db *sqlx.DB) error {
	if err := dbx.CheckDriver(db); err != nil {
		return err
	}
	d := dbx.DialectOf(db)
	stmts := statements(script(d))
	if d.ScriptInOneQuery() {
		stmts = []string{strings.Join(stmts, ";\n")}
	}
	for _, stmt := range stmts {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("apply schema: %w", err)
		}
	}
	return nil
}

func statements(script string) []string {
	var out []string
	var lines []string
	for _, l := range strings.Split(script, "\n") {
		if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		lines = append(lines, l)
	}
	for _, s := range strings.Split(strings.Join(lines, "\n"), ";") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

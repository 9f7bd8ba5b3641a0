package heal_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// TestValidateAcceptsTheIP2ACycle: the IP2A rules on their schema, on a
// database where nothing was created yet, are valid, and validating
// creates nothing.
func TestValidateAcceptsTheIP2ACycle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		if err := cycle(db, t.TempDir()).Validate(ctx(t)); err != nil {
			t.Fatal(err)
		}
		st, err := ownstate.Locate(ctx(t), db)
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range ownstate.Objects() {
			if st.Has(obj) {
				t.Errorf("Validate created %s", st.Name(obj))
			}
		}
	}, testdb.WithSchema())
}

// TestValidateNamesEveryProblem: one error names each mistake of the
// cycle, before anything runs; Run of the same cycle leaves the checks'
// mistakes to run time.
func TestValidateNamesEveryProblem(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		meta := func(name, table string) integrity.Meta {
			return integrity.Meta{Name: name, Category: ip2adb.CategoryDataAnomaly, Severity: ip2adb.Warning, Table: table}
		}
		c := &heal.Cycle{DB: db, Now: fixedNow, Kind: "sweep", JournalTables: heal.JournalTables{Schema: "Hall-State"},
			Checks: []integrity.Checker{
				integrity.AtMostOne{Meta: meta("test.keep", "member_employments"), GroupBy: []string{"member_id"}, Where: "is_current", Keep: "hired_on DESC"},
				integrity.WithFix(integrity.SQL{Meta: meta("test.soft", "member_employments"), Where: "hourly_rate < 0"}, integrity.Repair{Action: ip2adb.ActionSoftDelete}),
				integrity.WithFix(integrity.SQL{Meta: meta("test.key", "members"), Where: "id < 0"}, integrity.Repair{Action: ip2adb.ActionSetNull, Column: "id"}),
				integrity.WithFix(integrity.SQL{Meta: meta("test.fine", "members"), Where: "status = 'bogus'"}, integrity.Repair{Action: ip2adb.ActionSetValue, Column: "status", Value: "active"}),
				// Not applicable to this schema: not a mistake of the cycle.
				integrity.SQL{Meta: meta("test.elsewhere", "no_such_table"), Where: "TRUE"},
			}}
		err := c.Validate(ctx(t))
		if err == nil {
			t.Fatal("Validate passed")
		}
		var got []string
		for _, line := range strings.Split(err.Error(), "\n") {
			got = append(got, strings.SplitN(line, ":", 2)[0])
		}
		want := []string{
			`cycle kind "sweep"`,
			`journal schema "Hall-State"`,
			"check test.keep",
			"check test.soft",
			"check test.key",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("problems (-want +got):\n%s\nerror: %v", diff, err)
		}
		for _, part := range []string{"hired_on", "table member_employments has no soft-delete column", `column "id" is part of the primary key`} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("error does not say %q:\n%v", part, err)
			}
		}
		if testdb.Count(t, db, "members", "") != 0 {
			t.Fatal("rows appeared")
		}
	}, testdb.WithSchema())
}

// TestValidateDriverPoolAndModel: a handle of an unknown driver, a
// PostgreSQL pool of one connection, an override of a missing table, and
// a model set beside catalog options are refused up front, by Validate and
// by Run alike.
func TestValidateDriverPoolAndModel(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		model, err := catalog.Read(ctx(t), db, catalog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			c    *heal.Cycle
			want string
		}{
			{"no database", &heal.Cycle{}, "heal: Cycle.DB is nil"},
			{"unknown driver", &heal.Cycle{DB: sqlx.NewDb(db.DB, "sqlite3")}, `unsupported SQL driver "sqlite3"`},
			{"override of a missing table", &heal.Cycle{DB: db, Catalog: catalog.Options{Tables: map[string]catalog.Override{"nope": {PrimaryKey: []string{"id"}}}}},
				"override of table nope: no such table"},
			{"model beside options", &heal.Cycle{DB: db, Model: model, Catalog: catalog.Options{Conventions: catalog.Conventions{UpdatedAt: []string{"modified_at"}}}},
				"both Cycle.Model and Cycle.Catalog are set"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				for what, err := range map[string]error{"Validate": tc.c.Validate(ctx(t)), "Run": run(t, tc.c)} {
					if err == nil || !strings.Contains(err.Error(), tc.want) {
						t.Errorf("%s: err = %v, want %q", what, err, tc.want)
					}
				}
			})
		}
		if dbx.DialectOf(db) == dbx.Postgres {
			db.SetMaxOpenConns(1)
			defer db.SetMaxOpenConns(0)
			c := &heal.Cycle{DB: db}
			for what, err := range map[string]error{"Validate": c.Validate(ctx(t)), "Run": run(t, c)} {
				if want := "the PostgreSQL pool allows one connection"; err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("pool of one: %s: err = %v, want %q", what, err, want)
				}
			}
		}
	}, testdb.WithSchema())
}

func run(t *testing.T, c *heal.Cycle) error {
	t.Helper()
	_, err := c.Run(ctx(t))
	return err
}

// TestValidateKeepsTheSchemaError: a database holding none of the checks'
// tables is still an *integrity.SchemaError.
func TestValidateKeepsTheSchemaError(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		var se *integrity.SchemaError
		if err := cycle(db, "").Validate(ctx(t)); !errors.As(err, &se) {
			t.Fatalf("err = %v, want an *integrity.SchemaError", err)
		}
	})
}

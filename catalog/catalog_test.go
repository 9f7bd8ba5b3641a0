package catalog_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a/schema"
	"github.com/jmoiron/sqlx"
)

// Column builders for the expectations.
func col(name, typ string) catalog.Column { return catalog.Column{Name: name, Type: typ} }

func text(name, typ string) catalog.Column { return catalog.Column{Name: name, Type: typ, Text: true} }

func notNull(c catalog.Column) catalog.Column { c.NotNull = true; return c }

func withDefault(c catalog.Column, def string) catalog.Column { c.Default = def; return c }

func enum(name, typ string) catalog.Column {
	return catalog.Column{Name: name, Type: typ, Enum: typ, NotNull: true}
}

func serial(table string) catalog.Column {
	return notNull(withDefault(col("id", "integer"), "nextval('"+table+"_id_seq'::regclass)"))
}

const pgTS = "timestamp without time zone"

var pgStamps = []catalog.Column{notNull(col("created_at", pgTS)), notNull(col("updated_at", pgTS))}

func read(t *testing.T, db *sqlx.DB, opt catalog.Options) *catalog.Model {
	t.Helper()
	m, err := catalog.Read(context.Background(), db, opt)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

func cat(cols ...[]catalog.Column) []catalog.Column {
	var out []catalog.Column
	for _, c := range cols {
		out = append(out, c...)
	}
	return out
}

// TestReadRealSchema reads the real IP2A schema, loaded from
// ip2a-real-schema.sql with one multi-statement Exec.
func TestReadRealSchema(t *testing.T) {
	db := testdb.RealPostgres(t)
	m := read(t, db, catalog.Options{})
	if got := len(m.Tables); got != 38 {
		t.Errorf("tables: got %d, want 38: %v", got, m.TableNames())
	}
	if got := len(m.Enums); got != 31 {
		t.Errorf("enums: got %d, want 31", got)
	}
	soft := catalog.SoftDelete{Flag: "is_deleted", DeletedAt: "deleted_at"}
	stamps := catalog.Timestamps{CreatedAt: "created_at", UpdatedAt: "updated_at"}
	tests := []struct {
		table string
		want  *catalog.Table
	}{
		{"members", &catalog.Table{
			Name: "members",
			Columns: cat([]catalog.Column{
				serial("members"),
				notNull(text("member_number", "character varying(50)")),
				notNull(text("first_name", "character varying(100)")),
				notNull(text("last_name", "character varying(100)")),
				text("middle_name", "character varying(100)"),
				text("address", "character varying(255)"),
				text("city", "character varying(100)"),
				text("state", "character varying(50)"),
				text("zip_code", "character varying(20)"),
				text("phone", "character varying(50)"),
				text("email", "character varying(255)"),
				col("date_of_birth", "date"),
				col("hire_date", "date"),
				enum("status", "memberstatus"),
				enum("classification", "memberclassification"),
				text("notes", "text"),
			}, pgStamps, []catalog.Column{notNull(col("is_deleted", "boolean")), col("deleted_at", pgTS)}),
			PrimaryKey: catalog.Key{Name: "members_pkey", Columns: []string{"id"}},
			Unique:     []catalog.Unique{{Name: "ix_members_member_number", Columns: []string{"member_number"}}},
			SoftDelete: soft, Timestamps: stamps,
		}},
		{"students", &catalog.Table{
			Name: "students",
			Columns: cat([]catalog.Column{serial("students")}, pgStamps, []catalog.Column{
				notNull(col("is_deleted", "boolean")),
				col("deleted_at", pgTS),
				text("emergency_contact_name", "character varying(200)"),
				text("emergency_contact_phone", "character varying(20)"),
				notNull(col("member_id", "integer")),
				notNull(text("student_number", "character varying(20)")),
				enum("status", "student_status_enum"),
				notNull(col("application_date", "date")),
				col("enrollment_date", "date"),
				col("expected_completion_date", "date"),
				col("actual_completion_date", "date"),
				text("cohort", "character varying(50)"),
				text("emergency_contact_relationship", "character varying(50)"),
				text("notes", "text"),
			}),
			PrimaryKey: catalog.Key{Name: "students_pkey", Columns: []string{"id"}},
			Unique: []catalog.Unique{
				{Name: "ix_students_member_id", Columns: []string{"member_id"}},
				{Name: "ix_students_student_number", Columns: []string{"student_number"}},
			},
			ForeignKeys: []catalog.ForeignKey{{Name: "students_member_id_fkey", Columns: []string{"member_id"},
				RefTable: "members", RefColumns: []string{"id"}, OnDelete: "RESTRICT", Validated: true}},
			SoftDelete: soft, Timestamps: stamps,
		}},
		{"member_employments", &catalog.Table{
			Name: "member_employments",
			Columns: cat([]catalog.Column{
				serial("member_employments"),
				notNull(col("member_id", "integer")),
				notNull(col("organization_id", "integer")),
				notNull(col("start_date", "date")),
				col("end_date", "date"),
				text("job_title", "character varying(100)"),
				col("hourly_rate", "numeric(10,2)"),
				col("is_current", "boolean"),
			}, pgStamps),
			PrimaryKey: catalog.Key{Name: "member_employments_pkey", Columns: []string{"id"}},
			Timestamps: stamps,
		}},
		{"grievances", &catalog.Table{
			Name: "grievances",
			Columns: cat([]catalog.Column{
				serial("grievances"),
				notNull(text("grievance_number", "character varying(20)")),
				notNull(col("member_id", "integer")),
				notNull(col("employer_id", "integer")),
				notNull(col("filed_date", "date")),
				col("incident_date", "date"),
				text("contract_article", "character varying(50)"),
				notNull(text("violation_description", "text")),
				text("remedy_sought", "text"),
				enum("current_step", "grievancestep"),
				enum("status", "grievancestatus"),
				text("assigned_rep", "character varying(100)"),
				text("resolution", "text"),
				col("resolution_date", "date"),
				col("settlement_amount", "numeric(10,2)"),
				text("notes", "text"),
			}, pgStamps, []catalog.Column{notNull(col("is_deleted", "boolean")), col("deleted_at", pgTS)}),
			PrimaryKey: catalog.Key{Name: "grievances_pkey", Columns: []string{"id"}},
			Unique:     []catalog.Unique{{Name: "ix_grievances_grievance_number", Columns: []string{"grievance_number"}}},
			ForeignKeys: []catalog.ForeignKey{
				{Name: "grievances_employer_id_fkey", Columns: []string{"employer_id"}, RefTable: "organizations",
					RefColumns: []string{"id"}, OnDelete: "NO ACTION", Validated: true},
				{Name: "grievances_member_id_fkey", Columns: []string{"member_id"}, RefTable: "members",
					RefColumns: []string{"id"}, OnDelete: "NO ACTION", Validated: true},
			},
			SoftDelete: soft, Timestamps: stamps,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.table, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, m.Table(tc.table)); diff != "" {
				t.Errorf("table %s (-want +got):\n%s", tc.table, diff)
			}
		})
	}
	enums := map[string]*catalog.Enum{
		"memberstatus": {Schema: "public", Name: "memberstatus", Labels: []string{"ACTIVE", "INACTIVE", "SUSPENDED", "RETIRED", "DECEASED"}},
		"memberclassification": {Schema: "public", Name: "memberclassification", Labels: []string{
			"APPRENTICE_1ST_YEAR", "APPRENTICE_2ND_YEAR", "APPRENTICE_3RD_YEAR", "APPRENTICE_4TH_YEAR",
			"APPRENTICE_5TH_YEAR", "JOURNEYMAN", "FOREMAN", "RETIREE", "HONORARY"}},
		"organizationtype": {Schema: "public", Name: "organizationtype", Labels: []string{"EMPLOYER", "UNION", "TRAINING_PARTNER", "JATC"}},
	}
	for name, want := range enums {
		if diff := cmp.Diff(want, m.Enums[name]); diff != "" {
			t.Errorf("enum %s (-want +got):\n%s", name, diff)
		}
	}
	if diff := cmp.Diff(enums["memberstatus"], m.EnumOf("members", "status")); diff != "" {
		t.Errorf("EnumOf(members, status) (-want +got):\n%s", diff)
	}
	if m.Dialect != catalog.Postgres || m.Schema != "public" || !m.ForeignKeysEnforced {
		t.Errorf("model: dialect %q schema %q fk %v", m.Dialect, m.Schema, m.ForeignKeysEnforced)
	}
}

// pgFeatures is a schema with what the real one lacks: composite and text
// primary keys, composite and NOT VALID foreign keys, partial and
// expression unique indexes, CHECK constraints, domains, an enum of
// another schema, the other soft-delete conventions and a table without
// columns. ip2adb's own tables are left out of the model.
const pgFeatures = `
CREATE SCHEMA app;
CREATE SCHEMA other;
CREATE TYPE other.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE app.level AS ENUM ('LOW', 'HIGH');
CREATE DOMAIN app.code AS varchar(10) CHECK (VALUE <> '');
CREATE TABLE app.regions (
    country char(2) NOT NULL,
    code app.code NOT NULL,
    name text,
    PRIMARY KEY (country, code)
);
CREATE TABLE app.offices (
    id bigserial PRIMARY KEY,
    country char(2),
    region app.code,
    mood other.mood,
    level app.level NOT NULL DEFAULT 'LOW',
    email citext_missing_is_fine_as_text,
    capacity integer CONSTRAINT offices_capacity_positive CHECK (capacity > 0),
    deleted_at timestamptz,
    CONSTRAINT offices_region_fkey FOREIGN KEY (country, region) REFERENCES app.regions (country, code) ON DELETE CASCADE,
    CONSTRAINT offices_range CHECK (capacity < 1000 AND level <> 'HIGH')
);
CREATE TABLE app.badges (
    token uuid PRIMARY KEY,
    office_id bigint,
    archived boolean,
    created timestamp,
    tags text[]
);
ALTER TABLE app.badges ADD CONSTRAINT badges_office_fkey FOREIGN KEY (office_id) REFERENCES app.offices (id) NOT VALID;
CREATE UNIQUE INDEX badges_live_office ON app.badges (office_id) WHERE NOT archived;
CREATE UNIQUE INDEX offices_email_lower ON app.offices (lower(email::text), country);
CREATE TABLE app.empty ();
CREATE TABLE app.ip2adb_journal (id integer);
CREATE TABLE public.elsewhere (id integer);
`

func TestReadPostgresFeatures(t *testing.T) {
	db := testdb.Postgres(t)
	testdb.MustExec(t, db, strings.Replace(pgFeatures, "citext_missing_is_fine_as_text", "varchar(255)", 1))
	m := read(t, db, catalog.Options{Schema: "app", Conventions: catalog.Conventions{
		DeletedFlag: []string{"archived"}, DeletedAt: []string{"deleted_at"}, CreatedAt: []string{"created"}}})
	want := &catalog.Model{
		Dialect: catalog.Postgres, Schema: "app", ForeignKeysEnforced: true,
		Enums: map[string]*catalog.Enum{
			"level":      {Schema: "app", Name: "level", Labels: []string{"LOW", "HIGH"}},
			"other.mood": {Schema: "other", Name: "mood", Labels: []string{"sad", "ok", "happy"}},
		},
		Tables: map[string]*catalog.Table{
			"regions": {
				Name: "regions",
				Columns: []catalog.Column{
					notNull(text("country", "character(2)")),
					notNull(text("code", "app.code")),
					text("name", "text"),
				},
				PrimaryKey: catalog.Key{Name: "regions_pkey", Columns: []string{"country", "code"}},
			},
			"offices": {
				Name: "offices",
				Columns: []catalog.Column{
					notNull(withDefault(col("id", "bigint"), "nextval('app.offices_id_seq'::regclass)")),
					text("country", "character(2)"),
					text("region", "app.code"),
					{Name: "mood", Type: "other.mood", Enum: "other.mood"},
					{Name: "level", Type: "app.level", Enum: "level", NotNull: true, Default: "'LOW'::app.level"},
					text("email", "character varying(255)"),
					col("capacity", "integer"),
					col("deleted_at", "timestamp with time zone"),
				},
				PrimaryKey: catalog.Key{Name: "offices_pkey", Columns: []string{"id"}},
				Unique:     []catalog.Unique{{Name: "offices_email_lower", Columns: []string{"", "country"}}},
				ForeignKeys: []catalog.ForeignKey{{Name: "offices_region_fkey", Columns: []string{"country", "region"},
					RefTable: "regions", RefColumns: []string{"country", "code"}, OnDelete: "CASCADE", Validated: true}},
				Checks: []catalog.Check{
					{Name: "offices_capacity_positive", Columns: []string{"capacity"}, Expr: "CHECK ((capacity > 0))", Validated: true},
					{Name: "offices_range", Columns: []string{"level", "capacity"}, Expr: "CHECK (((capacity < 1000) AND (level <> 'HIGH'::app.level)))", Validated: true},
				},
				SoftDelete: catalog.SoftDelete{DeletedAt: "deleted_at"},
			},
			"badges": {
				Name: "badges",
				Columns: []catalog.Column{
					notNull(col("token", "uuid")),
					col("office_id", "bigint"),
					col("archived", "boolean"),
					col("created", "timestamp without time zone"),
					col("tags", "text[]"),
				},
				PrimaryKey: catalog.Key{Name: "badges_pkey", Columns: []string{"token"}},
				Unique:     []catalog.Unique{{Name: "badges_live_office", Columns: []string{"office_id"}, Where: "(NOT archived)"}},
				ForeignKeys: []catalog.ForeignKey{{Name: "badges_office_fkey", Columns: []string{"office_id"},
					RefTable: "offices", RefColumns: []string{"id"}, OnDelete: "NO ACTION"}},
				SoftDelete: catalog.SoftDelete{Flag: "archived"},
				Timestamps: catalog.Timestamps{CreatedAt: "created"},
			},
			"empty": {Name: "empty"},
		},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("model (-want +got):\n%s", diff)
	}
	live := map[string]string{}
	for _, n := range m.TableNames() {
		live[n] = m.Table(n).Live("x")
	}
	if diff := cmp.Diff(map[string]string{"badges": "x.archived IS NOT TRUE", "empty": "", "offices": "x.deleted_at IS NULL", "regions": ""}, live); diff != "" {
		t.Errorf("Live (-want +got):\n%s", diff)
	}
}

func TestReadSQLiteSeedSchema(t *testing.T) {
	db := testdb.SQLite(t, testdb.WithSchema())
	m := read(t, db, catalog.Options{})
	if diff := cmp.Diff(schemaTables(), m.TableNames()); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
	ts := []catalog.Column{
		notNull(withDefault(col("created_at", "timestamp"), "CURRENT_TIMESTAMP")),
		notNull(withDefault(col("updated_at", "timestamp"), "CURRENT_TIMESTAMP")),
	}
	want := &catalog.Table{
		Name: "member_employments",
		Columns: cat([]catalog.Column{
			col("id", "INTEGER"),
			col("member_id", "INTEGER"),
			col("organization_id", "INTEGER"),
			notNull(col("start_date", "date")),
			col("end_date", "date"),
			text("job_title", "varchar(100)"),
			col("hourly_rate", "numeric(10,2)"),
			notNull(withDefault(col("is_current", "boolean"), "TRUE")),
		}, ts),
		PrimaryKey: catalog.Key{Columns: []string{"id"}},
		Timestamps: catalog.Timestamps{CreatedAt: "created_at", UpdatedAt: "updated_at"},
	}
	if diff := cmp.Diff(want, m.Table("member_employments")); diff != "" {
		t.Errorf("member_employments (-want +got):\n%s", diff)
	}
	if got := m.Table("members").SoftDelete; got != (catalog.SoftDelete{Flag: "is_deleted", DeletedAt: "deleted_at"}) {
		t.Errorf("members soft delete: %+v", got)
	}
	if got := m.Table("members").Live(""); got != "NOT is_deleted" {
		t.Errorf("members live: %q", got)
	}
	if m.Dialect != catalog.SQLite || m.Schema != "main" || m.ForeignKeysEnforced || len(m.Enums) != 0 {
		t.Errorf("model: dialect %q schema %q fk %v enums %v", m.Dialect, m.Schema, m.ForeignKeysEnforced, m.Enums)
	}
}

func schemaTables() []string { return slices.Sorted(slices.Values(schema.Tables())) }

// BenchmarkReadRealSchema reads the model of the 38-table real schema.
func BenchmarkReadRealSchema(b *testing.B) {
	db := testdb.RealPostgres(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := catalog.Read(ctx, db, catalog.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

const sqliteFeatures = `
CREATE TABLE regions (
    country TEXT NOT NULL,
    code varchar(10) NOT NULL CHECK (code <> ''),
    name,
    PRIMARY KEY (code, country)
);
CREATE TABLE offices (
    id INTEGER PRIMARY KEY,
    country CLOB,
    region varchar(10),
    email nvarchar(255) UNIQUE,
    capacity int CONSTRAINT "capacity positive" CHECK (capacity > 0 AND "capacity" < 1000),
    note text DEFAULT 'x (CHECK (y))', -- CHECK (not_a_constraint)
    is_deleted boolean,
    updated_at datetime,
    FOREIGN KEY (country, region) REFERENCES regions (country, code) ON DELETE CASCADE
);
CREATE TABLE badges (
    token blob PRIMARY KEY,
    office_id integer REFERENCES offices,
    is_deleted boolean NOT NULL DEFAULT 0,
    deleted_at timestamp
) WITHOUT ROWID;
CREATE UNIQUE INDEX badges_live_office ON badges (office_id) WHERE NOT is_deleted;
CREATE UNIQUE INDEX offices_email_lower ON offices (lower(email), country);
CREATE INDEX offices_country ON offices (country);
CREATE TABLE ip2adb_journal (id integer);
`

func TestReadSQLiteFeatures(t *testing.T) {
	db := testdb.SQLite(t)
	testdb.MustExec(t, db, sqliteFeatures)
	testdb.MustExec(t, db, "PRAGMA foreign_keys = ON")
	db.SetMaxOpenConns(1) // the pragma holds per connection
	testdb.MustExec(t, db, "PRAGMA foreign_keys = ON")
	m := read(t, db, catalog.Options{Tables: map[string]catalog.Override{
		"regions": {SoftDelete: &catalog.SoftDelete{}, Timestamps: &catalog.Timestamps{}},
	}})
	want := &catalog.Model{
		Dialect: catalog.SQLite, Schema: "main", ForeignKeysEnforced: true, Enums: map[string]*catalog.Enum{},
		Tables: map[string]*catalog.Table{
			"regions": {
				Name: "regions",
				Columns: []catalog.Column{
					notNull(text("country", "TEXT")),
					notNull(text("code", "varchar(10)")),
					col("name", ""),
				},
				PrimaryKey: catalog.Key{Columns: []string{"code", "country"}},
				Checks:     []catalog.Check{{Columns: []string{"code"}, Expr: "CHECK (code <> '')", Validated: true}},
			},
			"offices": {
				Name: "offices",
				Columns: []catalog.Column{
					col("id", "INTEGER"),
					text("country", "CLOB"),
					text("region", "varchar(10)"),
					text("email", "nvarchar(255)"),
					col("capacity", "INT"),
					withDefault(text("note", "TEXT"), "'x (CHECK (y))'"),
					col("is_deleted", "boolean"),
					col("updated_at", "datetime"),
				},
				PrimaryKey: catalog.Key{Columns: []string{"id"}},
				Unique: []catalog.Unique{
					{Name: "offices_email_lower", Columns: []string{"", "country"}},
					{Name: "sqlite_autoindex_offices_1", Columns: []string{"email"}, Constraint: true},
				},
				ForeignKeys: []catalog.ForeignKey{{Columns: []string{"country", "region"}, RefTable: "regions",
					RefColumns: []string{"country", "code"}, OnDelete: "CASCADE", Validated: true}},
				Checks: []catalog.Check{{Name: "capacity positive", Columns: []string{"capacity"},
					Expr: `CHECK (capacity > 0 AND "capacity" < 1000)`, Validated: true}},
				SoftDelete: catalog.SoftDelete{Flag: "is_deleted"},
				Timestamps: catalog.Timestamps{UpdatedAt: "updated_at"},
			},
			"badges": {
				Name: "badges",
				Columns: []catalog.Column{
					notNull(col("token", "BLOB")),
					col("office_id", "INTEGER"),
					notNull(withDefault(col("is_deleted", "boolean"), "0")),
					col("deleted_at", "timestamp"),
				},
				PrimaryKey: catalog.Key{Columns: []string{"token"}},
				Unique:     []catalog.Unique{{Name: "badges_live_office", Columns: []string{"office_id"}, Where: "NOT is_deleted"}},
				ForeignKeys: []catalog.ForeignKey{{Columns: []string{"office_id"}, RefTable: "offices",
					RefColumns: []string{"id"}, OnDelete: "NO ACTION", Validated: true}},
				SoftDelete: catalog.SoftDelete{Flag: "is_deleted", DeletedAt: "deleted_at"},
			},
		},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("model (-want +got):\n%s", diff)
	}
}

func TestOverrides(t *testing.T) {
	db := testdb.SQLite(t, testdb.WithSchema())
	m := read(t, db, catalog.Options{Tables: map[string]catalog.Override{
		"member_employments": {PrimaryKey: []string{"member_id", "start_date"}, SoftDelete: &catalog.SoftDelete{DeletedAt: "end_date"}},
		"members":            {SoftDelete: &catalog.SoftDelete{}, Timestamps: &catalog.Timestamps{UpdatedAt: "hire_date"}},
	}})
	e, mb := m.Table("member_employments"), m.Table("members")
	got := []any{e.PrimaryKey, e.SoftDelete, e.Live("e"), mb.SoftDelete, mb.SoftDelete.Kind(), mb.Live(""), mb.Timestamps}
	want := []any{catalog.Key{Columns: []string{"member_id", "start_date"}}, catalog.SoftDelete{DeletedAt: "end_date"},
		"e.end_date IS NULL", catalog.SoftDelete{}, "none", "", catalog.Timestamps{UpdatedAt: "hire_date"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("overridden (-want +got):\n%s", diff)
	}

	_, err := catalog.Read(context.Background(), db, catalog.Options{Tables: map[string]catalog.Override{
		"nope":    {PrimaryKey: []string{"id"}},
		"members": {PrimaryKey: []string{"uuid"}, SoftDelete: &catalog.SoftDelete{Flag: "gone"}},
	}})
	wantErr := "override of table members: primary key column uuid does not exist\n" +
		"override of table members: soft-delete column gone does not exist\n" +
		"override of table nope: no such table"
	if err == nil || err.Error() != wantErr {
		t.Errorf("bad overrides: got %v, want %q", err, wantErr)
	}
}

func TestLookups(t *testing.T) {
	db := testdb.SQLite(t, testdb.WithSchema())
	m := read(t, db, catalog.Options{})
	got := []any{
		m.Missing("students", "id", "email"),
		m.Missing("students", "email", "nope", "nada", "nope"),
		m.Missing("ghosts", "id"),
		m.Missing("members", "nope"),
		m.Table("ghosts") == nil, m.Column("ghosts", "id") == nil, m.Column("members", "nope") == nil,
		m.Column("members", "status").Text, m.EnumOf("members", "status") == nil,
		m.Table("members").Has("id", "status"), m.Table("members").Has("id", "nope"),
		m.Table("file_attachments").ForeignKeyOn("record_id") == nil,
		*m.Table("members").UniqueOn("id"),
		m.Table("members").UniqueOn("member_number") == nil,
		catalog.SoftDelete{Flag: "a"}.Kind(), catalog.SoftDelete{DeletedAt: "b"}.Kind(),
		catalog.SoftDelete{Flag: "a", DeletedAt: "b"}.Kind(), catalog.SoftDelete{}.Enabled(),
	}
	want := []any{
		"",
		"table students has no columns nope, nada",
		"no table ghosts",
		"table members has no column nope",
		true, true, true,
		true, true,
		true, false,
		true,
		catalog.Unique{Columns: []string{"id"}, Constraint: true},
		true,
		"flag", "timestamp", "both", false,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lookups (-want +got):\n%s", diff)
	}
}

func TestReadErrors(t *testing.T) {
	db := testdb.Postgres(t)
	testdb.MustExec(t, db, "SET search_path = ''")
	db.SetMaxOpenConns(1)
	testdb.MustExec(t, db, "SET search_path = ''")
	_, err := catalog.Read(context.Background(), db, catalog.Options{})
	want := "read schema catalog: no current schema: the search_path names no existing schema"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := catalog.Read(ctx, db, catalog.Options{Schema: "public"}); err == nil {
		t.Error("cancelled context: no error")
	}
}

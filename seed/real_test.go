package seed

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// enumColumns lists every enum-typed column of the tables the seed fills:
// table, column, enum type.
func enumColumns(t *testing.T, db *sqlx.DB) [][3]string {
	t.Helper()
	var rows []struct {
		Table  string `db:"table_name"`
		Column string `db:"column_name"`
		Type   string `db:"udt_name"`
	}
	err := db.Select(&rows, `SELECT c.table_name, c.column_name, c.udt_name FROM information_schema.columns c
		JOIN pg_type t ON t.typname = c.udt_name AND t.typtype = 'e'
		WHERE c.table_schema = 'public' AND c.table_name = ANY($1) ORDER BY 1, 2`,
		"{"+strings.Join(loadOrder, ",")+"}")
	if err != nil {
		t.Fatalf("enum columns: %v", err)
	}
	var out [][3]string
	for _, r := range rows {
		out = append(out, [3]string{r.Table, r.Column, r.Type})
	}
	return out
}

// wantNotPlantable is what the real IP2A schema forbids, by check name.
func wantNotPlantable() []string {
	return []string{MemberDuplicateNumber, MemberInvalidClassification, MemberInvalidStatus, OrganizationInvalidType}
}

func TestRealSchemaSeed(t *testing.T) {
	db := testdb.RealPostgres(t)
	st := mustSeed(t, db, Options{Profile: Quick, Faults: 2, Force: true})

	// Row counts: the quick profile, and every table as the stats say.
	for table, want := range map[string]int64{"locations": 5, "instructors": 10, "organizations": 30, "members": 100, "students": 40} {
		if got := st.RowsOf(table); got != want {
			t.Errorf("stats rows of %s = %d; want %d", table, got, want)
		}
	}
	for _, ts := range st.Tables {
		if got := queryInt(t, db, "SELECT count(*) FROM "+ts.Table); got != ts.Rows {
			t.Errorf("%s: stats say %d rows, table has %d", ts.Table, ts.Rows, got)
		}
	}

	// The manifest: all 22 kinds; the forbidden ones empty and explained.
	if len(st.Manifest) != 22 {
		t.Fatalf("manifest has %d kinds; want 22", len(st.Manifest))
	}
	var np []string
	for kind, why := range st.NotPlantable {
		np = append(np, kind)
		if why == "" {
			t.Errorf("not_plantable[%s] has no reason", kind)
		}
		if len(st.Manifest[kind]) != 0 {
			t.Errorf("not plantable %s lists %v", kind, st.Manifest[kind])
		}
	}
	sort.Strings(np)
	if diff := cmp.Diff(wantNotPlantable(), np); diff != "" {
		t.Errorf("not plantable kinds (-want +got):\n%s", diff)
	}
	for kind, planted := range st.Manifest {
		if _, no := st.NotPlantable[kind]; !no && len(planted) != 2 {
			t.Errorf("%s: planted %v; want 2", kind, planted)
		}
	}
	doc := st.ManifestDocument()
	if len(doc) != 23 || doc[NotPlantableKey] == nil {
		t.Errorf("manifest document has %d keys, not_plantable %v; want 23 with not_plantable", len(doc), doc[NotPlantableKey])
	}

	// Every enum value is one of its type's labels (a cast would fail
	// otherwise; the text must be a label of the type).
	cols := enumColumns(t, db)
	if len(cols) != 9 {
		t.Errorf("enum columns of the seeded tables: %v; want 9", cols)
	}
	for _, c := range cols {
		bad := queryInt(t, db, `SELECT count(*) FROM `+c[0]+` WHERE `+c[1]+` IS NOT NULL AND NOT (`+c[1]+`::text = ANY (enum_range(NULL::`+c[2]+`)::text[]))`)
		if bad != 0 {
			t.Errorf("%s.%s: %d values are not labels of %s", c[0], c[1], bad, c[2])
		}
	}
	if got := queryInt(t, db, "SELECT count(*) FROM members WHERE status = 'ACTIVE'"); got < 50 {
		t.Errorf("%d members are ACTIVE; want most of 100", got)
	}
	if got := queryInt(t, db, "SELECT count(*) FROM members WHERE classification = 'APPRENTICE_1ST_YEAR'"); got == 0 {
		t.Errorf("no member is APPRENTICE_1ST_YEAR (the label of apprentice_1)")
	}
	if got := queryInt(t, db, "SELECT count(DISTINCT classification) FROM members"); got < 5 {
		t.Errorf("%d distinct classifications; want the spread of the profile", got)
	}
	// Every student is a distinct member; the students' members carry the
	// planted duplicate emails.
	if got := queryInt(t, db, "SELECT count(*) FROM students s JOIN members m ON m.id = s.member_id"); got != 40 {
		t.Errorf("%d students have their member; want 40", got)
	}
	var dup []string
	if err := db.Select(&dup, `SELECT lower(trim(m.email)) FROM students s JOIN members m ON m.id = s.member_id
		GROUP BY 1 HAVING count(*) > 1 ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, k := range st.Manifest[StudentDuplicateEmail] {
		want = append(want, k.(map[string]any)["email"].(string))
	}
	if diff := cmp.Diff(want, dup); diff != "" {
		t.Errorf("duplicate student emails (-manifest +database):\n%s", diff)
	}
	// The seed marker accounts for every row: seeding again needs no force.
	mustSeed(t, db, Options{Profile: Quick, Faults: 2})
}

func TestRealSchemaGuard(t *testing.T) {
	db := testdb.RealPostgres(t)
	testdb.MustExec(t, db, `INSERT INTO roles (name, display_name, is_system_role, created_at, updated_at) VALUES ('admin', 'Admin', true, now(), now())`)
	mustSeed(t, db, Options{Profile: Quick, Force: true})
	// A row the application wrote after the seed.
	testdb.MustExec(t, db, `INSERT INTO members (member_number, first_name, last_name, status, classification,
		created_at, updated_at, is_deleted) VALUES ('X1', 'Ann', 'Lee', 'ACTIVE', 'JOURNEYMAN', now(), now(), false)`)
	before := testdb.Digests(t, db)
	_, err := Run(context.Background(), db, Options{Profile: Quick, Now: clock})
	var ne *NotEmptyError
	if !errors.As(err, &ne) {
		t.Fatalf("seed over a foreign row: %v; want a *NotEmptyError", err)
	}
	if diff := cmp.Diff([]TableStats{{Table: "members", Rows: 1}}, ne.Tables); diff != "" {
		t.Errorf("foreign rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, testdb.Digests(t, db)); diff != "" {
		t.Errorf("a refused seed changed the database (-before +after):\n%s", diff)
	}
	if got := queryInt(t, db, "SELECT count(*) FROM roles"); got != 1 {
		t.Errorf("roles has %d rows; want the 1 it had (no foreign key points at members from roles)", got)
	}

	// A row of a table whose foreign key points at the IP2A tables would
	// be erased with them: it stops the seed too.
	mustSeed(t, db, Options{Profile: Quick, Force: true})
	testdb.MustExec(t, db, `INSERT INTO users (email, password_hash, first_name, last_name, is_active, is_verified, member_id, created_at, updated_at, is_deleted, failed_login_attempts, must_change_password)
		VALUES ('a@example.org', 'x', 'A', 'B', true, true, 1, now(), now(), false, 0, false)`)
	_, err = Run(context.Background(), db, Options{Profile: Quick, Now: clock})
	if !errors.As(err, &ne) {
		t.Fatalf("seed over a user: %v; want a *NotEmptyError", err)
	}
	if diff := cmp.Diff([]TableStats{{Table: "users", Rows: 1}}, ne.Tables); diff != "" {
		t.Errorf("foreign rows (-want +got):\n%s", diff)
	}
	foreign, err := Foreign(context.Background(), db)
	if err != nil || !cmp.Equal(foreign, ne.Tables) {
		t.Errorf("Foreign = %v, %v; want %v", foreign, err, ne.Tables)
	}
}

// withOrphanFKs adds the foreign keys that ORIGINAL.md describes on the
// real database (employments → members and organizations, contacts →
// organizations), which the migrations' dump lacks.
func withOrphanFKs(t *testing.T, db *sqlx.DB) {
	t.Helper()
	testdb.MustExec(t, db, `ALTER TABLE member_employments
		ADD CONSTRAINT member_employments_member_id_fkey FOREIGN KEY (member_id) REFERENCES members(id),
		ADD CONSTRAINT member_employments_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES organizations(id)`)
	testdb.MustExec(t, db, `ALTER TABLE organization_contacts
		ADD CONSTRAINT organization_contacts_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES organizations(id)`)
}

func TestRealSchemaOrphansBehindForeignKeys(t *testing.T) {
	db := testdb.RealPostgres(t)
	withOrphanFKs(t, db)
	st := mustSeed(t, db, Options{Profile: Quick, Faults: 2, Force: true})
	if diff := cmp.Diff(wantNotPlantable(), sortedKeys(st.NotPlantable)); diff != "" {
		t.Errorf("not plantable kinds (-want +got):\n%s", diff)
	}
	for _, c := range []struct{ kind, query string }{
		{EmploymentOrphanMember, "SELECT e.id FROM member_employments e LEFT JOIN members m ON m.id = e.member_id WHERE m.id IS NULL ORDER BY 1"},
		{EmploymentOrphanOrganization, "SELECT e.id FROM member_employments e LEFT JOIN organizations o ON o.id = e.organization_id WHERE o.id IS NULL ORDER BY 1"},
		{ContactOrphanOrganization, "SELECT c.id FROM organization_contacts c LEFT JOIN organizations o ON o.id = c.organization_id WHERE o.id IS NULL ORDER BY 1"},
	} {
		if diff := cmp.Diff(st.Manifest[c.kind], anyIDs(queryIDs(t, db, c.query))); diff != "" || len(st.Manifest[c.kind]) != 2 {
			t.Errorf("%s: manifest vs orphans in the database (-manifest +database):\n%s", c.kind, diff)
		}
	}
	// The foreign keys are back in force for everyone else.
	_, err := db.Exec(`INSERT INTO organization_contacts (organization_id, first_name, last_name, created_at, updated_at, is_deleted)
		VALUES (999999999, 'A', 'B', now(), now(), false)`)
	if err == nil || !strings.Contains(err.Error(), "organization_contacts_organization_id_fkey") {
		t.Errorf("an orphan insert after the seed: %v; want the foreign key to refuse it", err)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestRealSchemaFiles(t *testing.T) {
	db := testdb.RealPostgres(t)
	dir := t.TempDir()
	st := mustSeed(t, db, Options{Profile: Quick, Members: 20, Students: 4, Organizations: 4, FilesDir: dir, FileScale: 0.002, Force: true})
	checkFiles(t, db, dir, st, false)
}

// TestRealSchemaOrphansWithoutReplicaRights: a role that may not set
// session_replication_role plants no orphan behind a foreign key; the
// manifest says why, and the rest is planted.
func TestRealSchemaOrphansWithoutReplicaRights(t *testing.T) {
	url := testdb.RealPostgresURL(t)
	admin := openURL(t, url)
	withOrphanFKs(t, admin)
	mustSeed(t, admin, Options{Profile: Quick, Force: true}) // creates ip2adb's own tables
	roleURL := testdb.Role(t, url,
		"GRANT USAGE ON SCHEMA public, ip2adb TO %s",
		"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public, ip2adb TO %s",
		"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public, ip2adb TO %s")
	db := openURL(t, roleURL)
	st := mustSeed(t, db, Options{Profile: Quick, Faults: 2})
	want := append(wantNotPlantable(), ContactOrphanOrganization, EmploymentOrphanMember, EmploymentOrphanOrganization)
	sort.Strings(want)
	if diff := cmp.Diff(want, sortedKeys(st.NotPlantable)); diff != "" {
		t.Errorf("not plantable kinds (-want +got):\n%s", diff)
	}
	for _, kind := range []string{ContactOrphanOrganization, EmploymentOrphanMember, EmploymentOrphanOrganization} {
		if why := st.NotPlantable[kind]; !strings.Contains(why, "session_replication_role") || !strings.Contains(why, "permission denied") {
			t.Errorf("not_plantable[%s] = %q; want the foreign key and the server's refusal", kind, why)
		}
	}
	if got := queryInt(t, db, "SELECT count(*) FROM member_employments e WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.id = e.member_id)"); got != 0 {
		t.Errorf("%d orphan employments; want none", got)
	}
	if got := len(st.Manifest[EmploymentEndBeforeStart]); got != 2 {
		t.Errorf("employment.end_before_start planted %d; want 2", got)
	}
}

func openURL(t *testing.T, url string) *sqlx.DB {
	t.Helper()
	db, err := dbx.Open(context.Background(), url, dbx.OpenOptions{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestRealSchemaReset: on the real schema, Reset empties the IP2A tables
// and, after them, the tables whose foreign keys point at them; tables
// that point at none keep their rows.
func TestRealSchemaReset(t *testing.T) {
	db := testdb.RealPostgres(t)
	testdb.MustExec(t, db, `INSERT INTO roles (name, display_name, is_system_role, created_at, updated_at) VALUES ('admin', 'Admin', true, now(), now())`)
	st := mustSeed(t, db, Options{Profile: Quick, Members: 10, Organizations: 4, Students: 2, Force: true})
	testdb.MustExec(t, db, `INSERT INTO users (email, password_hash, first_name, last_name, is_active, is_verified, member_id, created_at, updated_at, is_deleted, failed_login_attempts, must_change_password)
		VALUES ('a@example.org', 'x', 'A', 'B', true, true, 1, now(), now(), false, 0, false)`)
	got, err := Reset(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	for _, ts := range got {
		rows[ts.Table] = ts.Rows
	}
	for _, ts := range st.Tables {
		if rows[ts.Table] != ts.Rows {
			t.Errorf("Reset counted %d rows in %s; the seed wrote %d", rows[ts.Table], ts.Table, ts.Rows)
		}
	}
	if rows["users"] != 1 || len(got) <= len(st.Tables) {
		t.Errorf("Reset emptied %v; want the IP2A tables and those referencing them, users with 1 row", got)
	}
	for _, table := range []string{"members", "users", "dues_payments"} {
		if n := queryInt(t, db, "SELECT count(*) FROM "+table); n != 0 {
			t.Errorf("%s has %d rows after reset", table, n)
		}
	}
	if n := queryInt(t, db, "SELECT count(*) FROM roles"); n != 1 {
		t.Errorf("roles has %d rows after reset; want its 1 (nothing of it points at the IP2A tables)", n)
	}
}

// TestOwnSchemaTakesRowsAsGenerated: on ip2adb's own seed schema no value
// is made up or relabelled (the rows go in as generated, less a column the
// schema lacks; the defaults fill the rest); on the real schema every table
// is adapted.
func TestOwnSchemaTakesRowsAsGenerated(t *testing.T) {
	for _, tc := range []struct {
		name  string
		db    *sqlx.DB
		adapt bool
	}{{"own", testdb.Postgres(t, testdb.WithSchema()), false}, {"real", testdb.RealPostgres(t), true}} {
		live, err := readLive(context.Background(), tc.db)
		if err != nil {
			t.Fatal(err)
		}
		p, err := newPlan(Options{Profile: Quick}.withDefaults(), offsets{}, live, newCaps(live, true, ""))
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range loadOrder {
			a := p.adapters[table]
			if got := a != nil && !a.projectionOnly(); got != tc.adapt {
				t.Errorf("%s schema: %s adapted %v; want %v", tc.name, table, got, tc.adapt)
			}
		}
	}
}

func TestRealSchemaBadCountsAndAppend(t *testing.T) {
	db := testdb.RealPostgres(t)
	_, err := Run(context.Background(), db, Options{Profile: Quick, Members: 10, Students: 20, Now: clock})
	var oe *OptionsError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "20 students need at least as many members, have 10") {
		t.Errorf("20 students for 10 members: %v; want an *OptionsError", err)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'ip2adb'"); n != 0 {
		t.Errorf("a refused seed created ip2adb's schema")
	}
	first := mustSeed(t, db, Options{Profile: Quick, Faults: 1})
	second := mustSeed(t, db, Options{Profile: Quick, Faults: 1, NoTruncate: true, Seed: 2})
	for _, ts := range first.Tables {
		if got, want := queryInt(t, db, "SELECT count(*) FROM "+ts.Table), ts.Rows+second.RowsOf(ts.Table); got != want {
			t.Errorf("%s: %d rows after appending; want %d", ts.Table, got, want)
		}
	}
	// Both runs' rows are accounted for.
	mustSeed(t, db, Options{Profile: Quick})
}

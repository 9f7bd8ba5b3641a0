package seed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/s3test"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		want string // substring of the error; "" for valid
	}{
		{"zero value", Options{}, ""},
		{"stress", Options{Profile: Stress, Faults: 10}, ""},
		{"unknown profile", Options{Profile: "huge"}, `unknown profile "huge"`},
		{"negative members", Options{Members: -1}, "members must be between 0"},
		{"too many students", Options{Students: MaxCount + 1}, "students must be between 0"},
		{"negative faults", Options{Faults: -2}, "faults must not be negative"},
		{"bad file scale", Options{FileScale: 2}, "file scale must be in (0, 1]"},
		{"faults need members", Options{Profile: Quick, Faults: 8}, "need at least 104 members, have 100"},
		{"faults need organizations", Options{Profile: Quick, Members: 1000, Organizations: 7, Faults: 2}, "need at least 8 organizations, have 7"},
		{"faults need students", Options{Profile: Quick, Students: 3, Faults: 2}, "need at least 4 students, have 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opt.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v; want error containing %q", err, tc.want)
			}
		})
	}
	_, err := Run(context.Background(), nil, Options{Profile: "huge"})
	var oe *OptionsError
	if !errors.As(err, &oe) {
		t.Errorf("Run with a bad profile: %v; want an *OptionsError", err)
	}
}

func TestCustomCountsAndCleanSeed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		st := mustSeed(t, db, Options{Profile: Quick, Members: 40, Students: 12, Instructors: 3, Locations: 2, Organizations: 15})
		for table, want := range map[string]int64{"locations": 2, "instructors": 3, "organizations": 15, "members": 40, "students": 12} {
			if got := st.RowsOf(table); got != want {
				t.Errorf("stats rows of %s = %d; want %d", table, got, want)
			}
			if got := queryInt(t, db, "SELECT count(*) FROM "+table); got != want {
				t.Errorf("%s has %d rows; want %d", table, got, want)
			}
		}
		// 14 employers and 1 other, as 700 + 50 scaled.
		if got := queryInt(t, db, "SELECT count(*) FROM organizations WHERE org_type = 'employer'"); got != 14 {
			t.Errorf("employers = %d; want 14", got)
		}
		var total int64
		for _, ts := range st.Tables {
			if got := queryInt(t, db, "SELECT count(*) FROM "+ts.Table); got != ts.Rows {
				t.Errorf("%s: stats say %d rows, table has %d", ts.Table, ts.Rows, got)
			}
			total += ts.Rows
		}
		if st.Rows != total || st.RowsPerSecond <= 0 || st.Duration <= 0 || st.Manifest != nil {
			t.Errorf("stats = %+v", st)
		}
		if diff := cmp.Diff(cleanIssues(), findIssues(t, db, "")); diff != "" {
			t.Errorf("a clean seed has issues (-want +got):\n%s", diff)
		}
	})
}

func TestDeterministic(t *testing.T) {
	opt := Options{Profile: Quick, Members: 60, Faults: 2, Seed: 7}
	var digests []map[string]string
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		mustSeed(t, db, opt)
		first := digest(t, db)
		mustSeed(t, db, opt)
		if diff := cmp.Diff(first, digest(t, db)); diff != "" {
			t.Errorf("seeding twice gave different rows (-first +second):\n%s", diff)
		}
		digests = append(digests, first)
		other := opt
		other.Seed = 8
		mustSeed(t, db, other)
		if diff := cmp.Diff(first, digest(t, db)); diff == "" {
			t.Errorf("seeds 7 and 8 gave the same rows")
		}
	})
	if len(digests) == 2 {
		if diff := cmp.Diff(digests[0], digests[1]); diff != "" {
			t.Errorf("PostgreSQL and SQLite got different rows (-postgres +sqlite):\n%s", diff)
		}
	}
}

func TestFaultsManifest(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		dir := t.TempDir()
		const n = 3
		st := mustSeed(t, db, Options{Profile: Quick, Faults: n, FilesDir: dir})
		if len(st.Manifest) != 22 {
			t.Fatalf("manifest has %d kinds; want 22", len(st.Manifest))
		}
		for kind, planted := range st.Manifest {
			if len(planted) != n {
				t.Errorf("%s: %d planted; want %d", kind, len(planted), n)
			}
		}
		// Every planted fault is found by its own check, and nothing else is.
		if diff := cmp.Diff(st.Manifest, findIssues(t, db, dir)); diff != "" {
			t.Errorf("issues differ from the manifest (-manifest +found):\n%s", diff)
		}
		// The manifest survives a JSON round trip with the same content.
		path := filepath.Join(t.TempDir(), "manifest.json")
		if err := st.Manifest.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string][]any
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if got := back[MemberMultipleCurrentEmployments][0].(map[string]any)["member_id"].(float64); int64(got) != st.Manifest[MemberMultipleCurrentEmployments][0].(map[string]any)["member_id"].(int64) {
			t.Errorf("manifest JSON member_id = %v", got)
		}
	})
}

func TestFilesMatchChecksums(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		dir := t.TempDir()
		st := mustSeed(t, db, Options{Profile: Quick, Members: 20, Students: 4, Organizations: 4, FilesDir: dir, FileScale: 0.002})
		checkFiles(t, db, dir, st, false) // the seed schema has no checksum column either
		if diff := cmp.Diff(cleanIssues(), findIssues(t, db, dir)); diff != "" {
			t.Errorf("a clean seed with files has issues (-want +got):\n%s", diff)
		}
	})
}

// checkFiles asserts that every attachment's file exists under dir with
// the scaled size and that ip2adb's checksum table (and, with column, the
// seed schema's checksum column) holds its SHA-256.
func checkFiles(t *testing.T, db *sqlx.DB, dir string, st Stats, column bool) {
	t.Helper()
	own, err := ownstate.Locate(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	col := "NULL"
	if column {
		col = "a.checksum"
	}
	var rows []struct {
		ID       int64   `db:"id"`
		Path     string  `db:"file_path"`
		Size     int64   `db:"file_size"`
		Checksum *string `db:"checksum"`
		Own      *string `db:"own"`
	}
	if err := db.Select(&rows, "SELECT a.id, a.file_path, a.file_size, "+col+" AS checksum, c.checksum AS own FROM file_attachments a LEFT JOIN "+
		own.Name(ownstate.Checksums)+" c ON c.attachment_id = a.id ORDER BY a.id"); err != nil {
		t.Fatal(err)
	}
	if int64(len(rows)) != st.RowsOf("file_attachments") || st.Files != int64(len(rows)) {
		t.Fatalf("%d attachment rows, stats %d rows and %d files", len(rows), st.RowsOf("file_attachments"), st.Files)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM "+own.Name(ownstate.Checksums)); n != st.Files {
		t.Errorf("ip2adb's checksum table has %d rows; want one per file, %d", n, st.Files)
	}
	var bytes int64
	for _, r := range rows {
		b, err := os.ReadFile(filepath.Join(dir, r.Path))
		if err != nil {
			t.Fatalf("attachment %d: %v", r.ID, err)
		}
		sum := sha256.Sum256(b)
		if r.Own == nil || strings.TrimSpace(*r.Own) != hex.EncodeToString(sum[:]) {
			t.Errorf("attachment %d: recorded checksum %v; file hashes to %x", r.ID, r.Own, sum)
		}
		if column && (r.Checksum == nil || *r.Checksum != hex.EncodeToString(sum[:])) {
			t.Errorf("attachment %d: checksum column %v; file hashes to %x", r.ID, r.Checksum, sum)
		}
		if want := max(MinFileSize, int64(float64(r.Size)*0.002)); int64(len(b)) != want {
			t.Errorf("attachment %d: %d bytes; want %d (declared %d)", r.ID, len(b), want, r.Size)
		}
		bytes += int64(len(b))
	}
	if st.FileBytes != bytes {
		t.Errorf("stats file bytes %d; files hold %d", st.FileBytes, bytes)
	}
}

func TestMissingFilesDir(t *testing.T) {
	db := testdb.SQLite(t)
	_, err := Run(context.Background(), db, Options{Profile: Quick, FilesDir: filepath.Join(t.TempDir(), "nope")})
	var oe *OptionsError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Run = %v; want an *OptionsError about the missing directory", err)
	}
}

// TestFilesDirSymlinks: files are written through an os.Root on the files
// directory. A symlink inside it that leads out (here: uploads → another
// directory) fails the seed and nothing is written out there; one that
// stays inside is followed.
func TestFilesDirSymlinks(t *testing.T) {
	t.Run("leading out", func(t *testing.T) {
		db := testdb.SQLite(t)
		dir, outside := t.TempDir(), t.TempDir()
		if err := os.Symlink(outside, filepath.Join(dir, "uploads")); err != nil {
			t.Fatal(err)
		}
		_, err := Run(context.Background(), db, Options{Profile: Quick, Members: 5, Students: 1, Organizations: 2, FilesDir: dir})
		if err == nil || !strings.Contains(err.Error(), "path escapes from parent") {
			t.Errorf("Run = %v; want the write refused (path escapes from parent)", err)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Errorf("seed wrote outside the files directory: %v", entries)
		}
	})
	t.Run("inside", func(t *testing.T) {
		db := testdb.SQLite(t)
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "store"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("store", filepath.Join(dir, "uploads")); err != nil {
			t.Fatal(err)
		}
		st, err := Run(context.Background(), db, Options{Profile: Quick, Members: 5, Students: 1, Organizations: 2, FilesDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		filepath.WalkDir(filepath.Join(dir, "store"), func(_ string, d os.DirEntry, _ error) error {
			if d != nil && d.Type().IsRegular() {
				n++
			}
			return nil
		})
		if n == 0 || int64(n) != st.Files {
			t.Errorf("%d files under store/, stats say %d", n, st.Files)
		}
	})
}

func TestNoTruncateAppends(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		opt := Options{Profile: Quick, Members: 30, Students: 10, Organizations: 6, Faults: 0}
		first := mustSeed(t, db, opt)
		opt.NoTruncate = true
		second := mustSeed(t, db, opt)
		for _, ts := range first.Tables {
			if got, want := queryInt(t, db, "SELECT count(*) FROM "+ts.Table), ts.Rows+second.RowsOf(ts.Table); got != want {
				t.Errorf("%s: %d rows after appending; want %d", ts.Table, got, want)
			}
		}
		if got := queryInt(t, db, "SELECT min(id) FROM members WHERE member_number = '7000030'"); got != 31 {
			t.Errorf("appended member numbers continue after the first run: member 7000030 has id %d", got)
		}
		if diff := cmp.Diff(cleanIssues(), findIssues(t, db, "")); diff != "" {
			t.Errorf("two appended clean seeds have issues (-want +got):\n%s", diff)
		}
	})
}

func TestReset(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		st := mustSeed(t, db, Options{Profile: Quick, Members: 10, Organizations: 4, Students: 2})
		got, err := Reset(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		var want []TableStats
		for _, ts := range st.Tables {
			want = append(want, TableStats{Table: ts.Table, Rows: ts.Rows})
			if n := queryInt(t, db, "SELECT count(*) FROM "+ts.Table); n != 0 {
				t.Errorf("%s has %d rows after reset", ts.Table, n)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Reset counts (-want +got):\n%s", diff)
		}
	})
}

var pathRE = regexp.MustCompile(`^uploads/(member|student|organization|grievance)/20[0-9]{2}/(0[1-9]|1[0-2])/[0-9a-f]{32}\.(jpg|pdf|docx|xlsx|png)$`)

// TestStressVolumes seeds the stress profile once into PostgreSQL and checks
// the volumes and distributions of ORIGINAL.md.
func TestStressVolumes(t *testing.T) {
	db := testdb.Postgres(t)
	st := mustSeed(t, db, Options{Profile: Stress})
	exact := map[string]int64{"locations": 250, "instructors": 500, "organizations": 750, "students": 1000, "members": 10000}
	for table, want := range exact {
		if got := queryInt(t, db, "SELECT count(*) FROM "+table); got != want {
			t.Errorf("%s: %d rows; want %d", table, got, want)
		}
	}
	type q struct {
		name     string
		sql      string
		min, max float64
	}
	for _, c := range []q{
		{"employers", "SELECT count(*) FROM organizations WHERE org_type = 'employer'", 700, 700},
		{"other organizations", "SELECT count(*) FROM organizations WHERE org_type IN ('union', 'training_partner', 'jatc')", 50, 50},
		{"salted employers %", "SELECT 100.0 * count(salting_score) / count(*) FROM organizations WHERE org_type = 'employer'", 65, 75},
		{"salting score range", "SELECT count(*) FROM organizations WHERE salting_score NOT BETWEEN 1 AND 5 OR salting_score IS NOT NULL AND org_type <> 'employer'", 0, 0},
		{"contacts per org min", "SELECT min(n) FROM (SELECT count(*) n FROM organization_contacts GROUP BY organization_id) x", 2, 2},
		{"contacts per org max", "SELECT max(n) FROM (SELECT count(*) n FROM organization_contacts GROUP BY organization_id) x", 4, 4},
		{"first contact is the primary", `SELECT count(*) FROM organization_contacts c WHERE c.is_primary <> (c.id =
			(SELECT min(id) FROM organization_contacts d WHERE d.organization_id = c.organization_id))`, 0, 0},
		{"numeric 7000000+i", `SELECT count(*) FROM members WHERE member_number ~ '^7[0-9]{6}$'`, 1000, 1000},
		{"letter + 8000000+i", `SELECT count(*) FROM members WHERE member_number ~ '^[a-z]8[0-9]{6}$'`, 1000, 1000},
		{"9000000+i + letter", `SELECT count(*) FROM members WHERE member_number ~ '^9[0-9]{6}[a-z]$'`, 1000, 1000},
		{"10000000+i", `SELECT count(*) FROM members WHERE member_number ~ '^1[0-9]{7}$'`, 7000, 7000},
		{"distinct member numbers", "SELECT count(DISTINCT member_number) FROM members", 10000, 10000},
		{"active %", "SELECT 100.0 * count(*) FILTER (WHERE status = 'active') / count(*) FROM members", 86.5, 89.5},
		{"journeyman %", "SELECT 100.0 * count(*) FILTER (WHERE classification = 'journeyman') / count(*) FROM members", 38, 42},
		{"apprentice_1 %", "SELECT 100.0 * count(*) FILTER (WHERE classification = 'apprentice_1') / count(*) FROM members", 9, 11},
		{"foreman %", "SELECT 100.0 * count(*) FILTER (WHERE classification = 'foreman') / count(*) FROM members", 11, 13},
		{"honorary %", "SELECT 100.0 * count(*) FILTER (WHERE classification = 'honorary') / count(*) FROM members", 2.4, 3.6},
		{"hire date %", "SELECT 100.0 * count(hire_date) / count(*) FROM members", 84, 86},
		{"hire date within 20 years", "SELECT count(*) FROM members WHERE hire_date < date '2026-11-28' - 7300 OR hire_date >= date '2026-11-28'", 0, 0},
		{"birth date %", "SELECT 100.0 * count(date_of_birth) / count(*) FROM members", 74, 76},
		{"age 18-75", "SELECT count(*) FROM members WHERE date_of_birth > date '2026-11-28' - interval '18 years' OR date_of_birth < date '2026-11-28' - interval '76 years'", 0, 0},
		{"employments", "SELECT count(*) FROM member_employments", 430000, 450000},
		{"employments per member min", "SELECT min(n) FROM (SELECT count(*) n FROM member_employments GROUP BY member_id) x", 1, 1},
		{"employments per member max", "SELECT max(n) FROM (SELECT count(*) n FROM member_employments GROUP BY member_id) x", 95, 100},
		{"employments per member avg", "SELECT avg(n) FROM (SELECT count(*) n FROM member_employments GROUP BY member_id) x", 43, 45},
		{"members with a current job %", "SELECT 100.0 * count(DISTINCT member_id) FILTER (WHERE is_current) / count(DISTINCT member_id) FROM member_employments", 63.5, 66.5},
		{"current jobs are the last", `SELECT count(*) FROM member_employments c WHERE c.is_current AND EXISTS
			(SELECT 1 FROM member_employments e WHERE e.member_id = c.member_id AND e.start_date > c.start_date)`, 0, 0},
		{"current ⇔ no end date", "SELECT count(*) FROM member_employments WHERE is_current = (end_date IS NOT NULL)", 0, 0},
		{"durations", "SELECT count(*) FROM member_employments WHERE end_date - start_date NOT BETWEEN 0 AND 1825 OR end_date >= date '2026-11-28'", 0, 0},
		{"starts within 20 years", "SELECT count(*) FROM member_employments WHERE start_date < date '2026-11-28' - 7300 OR start_date >= date '2026-11-28'", 0, 0},
		{"rates %", "SELECT 100.0 * count(hourly_rate) / count(*) FROM member_employments", 74.5, 75.5},
		{"rate range", "SELECT count(*) FROM member_employments WHERE hourly_rate NOT BETWEEN 18.00 AND 75.99", 0, 0},
		{"job title %", "SELECT 100.0 * count(job_title) / count(*) FROM member_employments", 89.5, 90.5},
		{"returns to an earlier employer %", `SELECT 100.0 * count(*) FILTER (WHERE r > 1) / count(*) FROM
			(SELECT row_number() OVER (PARTITION BY member_id, organization_id ORDER BY start_date, id) r FROM member_employments) x`, 19, 22},
		{"member attachments min", "SELECT min(n) FROM (SELECT count(*) n FROM file_attachments WHERE record_type = 'member' GROUP BY record_id) x", 1, 1},
		{"member attachments max", "SELECT max(n) FROM (SELECT count(*) n FROM file_attachments WHERE record_type = 'member' GROUP BY record_id) x", 20, 20},
		{"members with attachments", "SELECT count(DISTINCT record_id) FROM file_attachments WHERE record_type = 'member'", 10000, 10000},
		{"first member attachment is the ID photo", `SELECT count(*) FROM file_attachments a WHERE a.record_type = 'member' AND a.id =
			(SELECT min(id) FROM file_attachments b WHERE b.record_type = 'member' AND b.record_id = a.record_id) AND a.description <> 'ID photo'`, 0, 0},
		{"student attachments", "SELECT count(*) FROM (SELECT count(*) n FROM file_attachments WHERE record_type = 'student' GROUP BY record_id HAVING count(*) NOT BETWEEN 5 AND 15) x", 0, 0},
		{"students with attachments", "SELECT count(DISTINCT record_id) FROM file_attachments WHERE record_type = 'student'", 1000, 1000},
		{"organization attachments", "SELECT count(*) FROM (SELECT count(*) n FROM file_attachments WHERE record_type = 'organization' GROUP BY record_id HAVING count(*) NOT BETWEEN 2 AND 10) x", 0, 0},
		{"grievances", "SELECT count(*) FROM grievances", 50, 200},
		{"grievance attachments", "SELECT count(*) FROM (SELECT count(*) n FROM file_attachments WHERE record_type = 'grievance' GROUP BY record_id HAVING count(*) NOT BETWEEN 1 AND 50) x", 0, 0},
		{"attachments", "SELECT count(*) FROM file_attachments", 110000, 135000},
		{"ID photo sizes", "SELECT count(*) FROM file_attachments WHERE description = 'ID photo' AND file_size NOT BETWEEN 2621440 AND 5767168", 0, 0},
		{"PDF form sizes", "SELECT count(*) FROM file_attachments WHERE description = 'PDF form' AND file_size NOT BETWEEN 51200 AND 512000", 0, 0},
		{"declared GB", "SELECT sum(file_size) / 1e9 FROM file_attachments", 150, 300},
		{"checksums without files", "SELECT count(*) FROM " + ownstate.Name(dbx.DialectOf(db), ownstate.Checksums), 0, 0},
	} {
		var got float64
		if err := db.Get(&got, c.sql); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got < c.min || got > c.max {
			t.Errorf("%s = %g; want %g..%g", c.name, got, c.min, c.max)
		}
	}
	var paths []string
	if err := db.Select(&paths, "SELECT file_path FROM file_attachments WHERE id % 997 = 0"); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if !pathRE.MatchString(p) {
			t.Errorf("path %q does not match %s", p, pathRE)
		}
	}
	if st.Rows < 570000 || st.Manifest != nil {
		t.Errorf("stats: %d rows, manifest %v", st.Rows, st.Manifest)
	}
	if diff := cmp.Diff(cleanIssues(), findIssues(t, db, "")); diff != "" {
		t.Errorf("the stress seed has issues (-want +got):\n%s", diff)
	}
	t.Logf("stress: %d rows in %v (%.0f rows/s)", st.Rows, st.Duration, st.RowsPerSecond)
}

func TestAppendCopyRow(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  []any
		want string
	}{
		{"plain", []any{int64(7), "Journeyman", 3, true, false, nil, "23.45"}, "7\tJourneyman\t3\tt\tf\t\\N\t23.45\n"},
		{"escapes", []any{"a\tb", "c\\d", "e\nf\rg"}, "a\\tb\tc\\\\d\te\\nf\\rg\n"},
		{"empty and blank", []any{"", "   "}, "\t   \n"},
		{"float", []any{2.5}, "2.5\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, string(appendCopyRow(nil, tc.row))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCivilDates(t *testing.T) {
	for _, days := range []int{-800, -1, 0, 59, 60, 365, 10957, 11016, 20000, 20785, 40000} {
		want := time.Unix(int64(days)*86400, 0).UTC().Format(time.DateOnly)
		if got := date(days); got != want {
			t.Errorf("date(%d) = %s; want %s", days, got, want)
		}
	}
}

// TestFailureLeavesDatabaseUnchanged: a load that fails part-way (canceled,
// or a file that cannot be written) rolls back completely.
func TestFailureLeavesDatabaseUnchanged(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		mustSeed(t, db, Options{Profile: Quick, Members: 20, Organizations: 5, Students: 5})
		before := digest(t, db)
		mustCancelUnchanged(t, db, Options{Profile: Quick, Members: 50, Now: clock})

		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "uploads"), []byte("not a directory"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Run(context.Background(), db, Options{Profile: Quick, Members: 50, Now: clock, FilesDir: dir})
		if err == nil || !strings.Contains(err.Error(), "uploads") {
			t.Fatalf("seed with an unwritable files dir: %v; want an error naming uploads", err)
		}
		if diff := cmp.Diff(before, digest(t, db)); diff != "" {
			t.Errorf("a failed file write changed the database (-before +after):\n%s", diff)
		}
		if got := queryInt(t, db, "SELECT count(*) FROM members"); got != 20 {
			t.Errorf("members = %d after failed seeds; want 20", got)
		}
	})
}

// TestPostgresIndexesRebuilt: the indexes and primary keys dropped for the
// load are all back afterwards, with the same definitions, and the
// sequences continue after the seeded ids.
func TestPostgresIndexesRebuilt(t *testing.T) {
	db := testdb.Postgres(t, testdb.WithSchema())
	list := func() []string {
		var defs []string
		if err := db.Select(&defs, `SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname`); err != nil {
			t.Fatal(err)
		}
		return defs
	}
	before := list()
	if len(before) < 16 {
		t.Fatalf("only %d indexes in the schema: %v", len(before), before)
	}
	mustSeed(t, db, Options{Profile: Quick, Members: 10, Organizations: 4, Students: 2})
	if diff := cmp.Diff(before, list()); diff != "" {
		t.Errorf("indexes differ after seeding (-before +after):\n%s", diff)
	}
	var next int64
	if err := db.Get(&next, "INSERT INTO members (member_number, first_name, last_name, classification) VALUES ('x1', 'A', 'B', 'journeyman') RETURNING id"); err != nil {
		t.Fatal(err)
	}
	if next != 11 {
		t.Errorf("next member id = %d; want 11", next)
	}
}

// TestFilesToS3: with Files set to an S3 bucket (a real server over a
// directory) the seed uploads every file; the bucket's directory then
// holds the same files and checksums as a FilesDir seed.
func TestFilesToS3(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		srv := s3test.Start(t, "")
		dir := srv.Bucket(t, "seeded")
		store, err := filestore.Open(context.Background(), "s3://seeded", srv.Env())
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		st := mustSeed(t, db, Options{Profile: Quick, Members: 20, Students: 4, Organizations: 4, FilesDir: "s3://seeded", Files: store, FileScale: 0.002})
		checkFiles(t, db, dir, st, false)
		if diff := cmp.Diff(cleanIssues(), findIssues(t, db, dir)); diff != "" {
			t.Errorf("a clean seed with files has issues (-want +got):\n%s", diff)
		}
	})
}

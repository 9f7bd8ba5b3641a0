package resilience

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/internal/ownstate"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// now0 is the fake clock of the tests.
var now0 = time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)

// fakeDisk reports a fixed size and free space for every path.
func fakeDisk(total, free uint64) DiskUsageFunc {
	return func(string) (uint64, uint64, error) { return total, free, nil }
}

// testEnv returns an Env over db with a temp files root, backup dir and
// log dir, the fake clock and a half-full fake disk.
func testEnv(t *testing.T, db *sqlx.DB) Env {
	t.Helper()
	root := t.TempDir()
	return Env{
		DB: db, FilesRoot: root, BackupDir: filepath.Join(t.TempDir(), "backups"), LogDir: t.TempDir(),
		Now: func() time.Time { return now0 }, DiskUsage: fakeDisk(1000, 500), Log: testr.New(t),
	}.WithDefaults()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeStore writes data to rel under root.
func writeStore(t *testing.T, root, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// addAttachment inserts a member attachment row and returns its id;
// checksum nil stores none, a string stores it in ip2adb's checksum table.
func addAttachment(t *testing.T, db *sqlx.DB, path string, checksum any) int64 {
	t.Helper()
	var id int64
	q := dbx.DialectOf(db).Rebind(`INSERT INTO file_attachments (record_type, record_id, file_name, file_path, file_size)
		VALUES ('member', 1, 'f', ?, NULL) RETURNING id`)
	if err := db.Get(&id, q, path); err != nil {
		t.Fatalf("insert attachment: %v", err)
	}
	if checksum != nil {
		setChecksum(t, db, id, checksum.(string))
	}
	return id
}

// setChecksum stores sum as the checksum of attachment id in ip2adb's own
// checksum table (created when missing).
func setChecksum(t *testing.T, db *sqlx.DB, id int64, sum string) {
	t.Helper()
	if _, err := ownstate.Ensure(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	d := dbx.DialectOf(db)
	testdb.MustExec(t, db, `INSERT INTO `+ownstate.Name(d, ownstate.Checksums)+` (attachment_id, checksum, recorded_at) VALUES (?, ?, '2026-01-01')
ON CONFLICT (attachment_id) DO UPDATE SET checksum = excluded.checksum`, id, sum)
}

// checksumOf reads the stored checksum of attachment id ("" when none).
func checksumOf(t *testing.T, db *sqlx.DB, id int64) string {
	t.Helper()
	var sums []string
	d := dbx.DialectOf(db)
	if err := db.Select(&sums, d.Rebind(`SELECT checksum FROM `+ownstate.Name(d, ownstate.Checksums)+` WHERE attachment_id = ?`), id); err != nil {
		t.Fatal(err)
	}
	if len(sums) == 0 {
		return ""
	}
	return sums[0]
}

// probeOnce runs one probe directly, failing the test on error.
func probeOnce(t *testing.T, p Probe, env Env) Result {
	t.Helper()
	res, err := p.Probe(context.Background(), env)
	if err != nil {
		t.Fatalf("%s: %v", p.Name(), err)
	}
	return res
}

// issue builds an expected aggregate finding.
func issue(cat string, sev ip2adb.Severity, table, desc, rec string, details map[string]any) ip2adb.Issue {
	return ip2adb.Issue{Check: "resilience." + cat, Category: cat, Severity: sev, Table: table,
		Description: desc, Recommendation: rec, Details: details}
}

// dbURL is the URL of the PostgreSQL test database db.
func dbURL(t *testing.T, db *sqlx.DB) string {
	t.Helper()
	var name string
	if err := db.Get(&name, "SELECT current_database()"); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(testdb.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// withTables names in o the tables of the schema the tests seed (the IP2A
// schema testdb.WithSchema applies), as ip2a.ResilienceOptions does for
// the command — package ip2a imports resilience, so these tests cannot
// import it; the command's tests hold the two to the same report.
func withTables(o Options) Options {
	if len(o.GrowthTables) == 0 {
		o.GrowthTables = []string{"members", "organizations", "organization_contacts", "member_employments", "students", "file_attachments"}
	}
	if o.Attachments.Table == "" {
		o.Attachments = testAttachments()
	}
	if o.Staleness.Table == "" {
		o.Staleness = Staleness{Table: "members", Updated: "updated_at", Deleted: "is_deleted", Noun: "members",
			Advice: "Review whether these members' status and contact data are still true (a yearly roll call)",
			Ended:  Ended{Table: "member_employments", Column: "end_date", Noun: "employments"}}
	}
	if o.Distribution.Table == "" {
		o.Distribution = Distribution{Table: "member_employments", Column: "member_id", Parent: "member", Parents: "members",
			Children: "employments", Advice: "Check these members for duplicated employment imports; legitimate long careers are fine."}
	}
	if len(o.TimedQueries) == 0 {
		const advice = "Run ANALYZE, check that member_employments.member_id is indexed and that the server has enough memory; see index_health for missing or invalid indexes."
		o.TimedQueries = []TimedQuery{
			{Name: "count_members", SQL: "SELECT count(*) FROM members", Advice: advice},
			{Name: "count_employments", SQL: "SELECT count(*) FROM member_employments", Advice: advice},
			{Name: "members_employments_join", SQL: "SELECT count(*) FROM members m JOIN member_employments e ON e.member_id = m.id WHERE NOT m.is_deleted", Advice: advice},
		}
	}
	return o
}

// testAttachments is the attachments table of the tests' schema.
func testAttachments() Attachments {
	return Attachments{Table: "file_attachments", ID: "id", Path: "file_path", Size: "file_size", Deleted: "is_deleted"}
}

// withAttachments names in o the attachments table of the tests' schema.
func withAttachments(o RecordOptions) RecordOptions {
	if o.Attachments.Table == "" {
		o.Attachments = testAttachments()
	}
	return o
}

package resilience

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// ignoreRec compares issues without their recommendation text; every
// finding must still carry one (checked by checkRecs).
var ignoreRec = cmpopts.IgnoreFields(ip2adb.Issue{}, "Recommendation")

func checkRecs(t *testing.T, fs []ip2adb.Issue) {
	t.Helper()
	for _, f := range fs {
		if f.Recommendation == "" {
			t.Errorf("finding %q has no recommendation", f.Description)
		}
	}
}

func TestFileCorruption(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		env := testEnv(t, db)
		good := bytes.Repeat([]byte("member photo "), 1000)
		flipped := bytes.Clone(good)
		writeStore(t, env.FilesRoot, "uploads/member/2024/03/good.jpg", good)
		writeStore(t, env.FilesRoot, "uploads/member/2024/03/flip.jpg", flipped)
		idGood := addAttachment(t, db, "uploads/member/2024/03/good.jpg", sha(good))
		idFlip := addAttachment(t, db, "uploads/member/2024/03/flip.jpg", sha(good))
		idMissing := addAttachment(t, db, "uploads/member/2024/03/gone.pdf", sha([]byte("x")))
		addAttachment(t, db, "uploads/member/2024/03/nosum.pdf", nil)
		writeStore(t, env.FilesRoot, "uploads/member/2024/03/nosum.pdf", []byte("no checksum"))
		addAttachment(t, db, "s3://bucket/member/a.pdf", sha([]byte("remote")))
		addAttachment(t, db, "https://files.example.org/a.pdf", nil)
		idOut := addAttachment(t, db, "../outside/a.pdf", sha([]byte("outside")))
		deleted := addAttachment(t, db, "uploads/member/deleted.pdf", sha([]byte("deleted")))
		testdb.MustExec(t, db, "UPDATE file_attachments SET is_deleted = TRUE WHERE id = ?", deleted)

		// Flip one bit in the middle: same size, different content.
		flipped[len(flipped)/2] ^= 0x04
		writeStore(t, env.FilesRoot, "uploads/member/2024/03/flip.jpg", flipped)

		res := probeOnce(t, FileCorruption(withTables(Options{})), env)
		want := []ip2adb.Issue{
			{Check: "resilience.file_corruption", Category: "file_corruption", Severity: ip2adb.Critical,
				Table: "file_attachments", RecordID: ip2adb.Ptr(idFlip),
				Description: "Attachment " + strconv.FormatInt(idFlip, 10) + " (uploads/member/2024/03/flip.jpg) is corrupt: its SHA-256 does not match the stored checksum",
				Details:     map[string]any{"path": "uploads/member/2024/03/flip.jpg", "expected_sha256": sha(good), "actual_sha256": sha(flipped)}},
			issue("file_corruption", ip2adb.Warning, "file_attachments", "1 attachment files are missing from the file store", "",
				map[string]any{"count": 1, "sample": []sample{{ID: idMissing, Path: "uploads/member/2024/03/gone.pdf"}}}),
			issue("file_corruption", ip2adb.Warning, "file_attachments", "1 attachment paths point outside the files root and cannot be verified", "",
				map[string]any{"count": 1, "sample": []sample{{ID: idOut, Path: "../outside/a.pdf"}}}),
			issue("file_corruption", ip2adb.Info, "file_attachments", "1 attachments have no checksum, so corruption cannot be detected for them", "",
				map[string]any{"count": 1}),
		}
		if d := cmp.Diff(want, res.Findings, ignoreRec); d != "" {
			t.Errorf("findings (-want +got):\n%s", d)
		}
		checkRecs(t, res.Findings)
		for k, v := range map[string]any{"attachments": 7, "with_checksum": 3, "verified": 1, "mismatched": 1, "missing": 1,
			"unverifiable": 1, "remote_skipped": 2, "outside_root": 1, "not_reached": 0, "never_verified": 1,
			"bytes_verified": int64(len(good))} {
			if got := res.Metrics[k]; got != v {
				t.Errorf("metric %s = %v, want %v", k, got, v)
			}
		}
		// The verified file is remembered, and so is the corrupt one (to be
		// read first next time); the missing one is not.
		st, err := readStateFile(env.LogDir)
		if err != nil {
			t.Fatal(err)
		}
		wantState := map[string]checksumEntry{
			strconv.FormatInt(idGood, 10): {Path: "uploads/member/2024/03/good.jpg", Checksum: sha(good), VerifiedAt: now0},
			strconv.FormatInt(idFlip, 10): {Path: "uploads/member/2024/03/flip.jpg", Checksum: sha(good), Corrupt: sha(flipped), CheckedAt: now0},
		}
		if d := cmp.Diff(wantState, st.Attachments); d != "" {
			t.Errorf("state (-want +got):\n%s", d)
		}
	}, testdb.WithSchema())
}

// failingOpen is a store whose Open fails for one name.
type failingOpen struct {
	filestore.Store
	name string
}

func (f failingOpen) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if name == f.name {
		return nil, errors.New("read " + name + ": input/output error")
	}
	return f.Store.Open(ctx, name)
}

// TestFileCorruptionUnreadable: a file that is listed but cannot be read is
// critical; a directory where a file should be is missing (as it would be
// in a bucket).
func TestFileCorruptionUnreadable(t *testing.T) {
	db := testdb.SQLite(t, testdb.WithSchema())
	env := testEnv(t, db)
	if err := os.MkdirAll(filepath.Join(env.FilesRoot, "uploads", "dir.pdf"), 0o755); err != nil {
		t.Fatal(err)
	}
	idDir := addAttachment(t, db, "uploads/dir.pdf", sha(nil))
	writeStore(t, env.FilesRoot, "uploads/bad.pdf", []byte("bad sector"))
	id := addAttachment(t, db, "uploads/bad.pdf", sha([]byte("bad sector")))
	local, err := filestore.OpenLocal(env.FilesRoot)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	env.Files = failingOpen{local, "uploads/bad.pdf"}
	res := probeOnce(t, FileCorruption(withTables(Options{})), env)
	want := []ip2adb.Issue{{Check: "resilience.file_corruption", Category: "file_corruption", Severity: ip2adb.Critical,
		Table: "file_attachments", RecordID: ip2adb.Ptr(id),
		Description: "Attachment " + strconv.FormatInt(id, 10) + " (uploads/bad.pdf) cannot be read: read uploads/bad.pdf: input/output error",
		Details:     map[string]any{"path": "uploads/bad.pdf", "error": "read uploads/bad.pdf: input/output error"}},
		issue("file_corruption", ip2adb.Warning, "file_attachments", "1 attachment files are missing from the file store", "",
			map[string]any{"count": 1, "sample": []sample{{ID: idDir, Path: "uploads/dir.pdf"}}}),
	}
	if d := cmp.Diff(want, res.Findings, ignoreRec); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
}

func TestRecordChecksumsThenClean(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		env := testEnv(t, db)
		var ids []int64
		for i := range 7 {
			rel := "uploads/member/2025/01/f" + strconv.Itoa(i) + ".pdf"
			writeStore(t, env.FilesRoot, rel, bytes.Repeat([]byte{byte(i)}, 100+i))
			ids = append(ids, addAttachment(t, db, rel, nil))
		}
		setChecksum(t, db, ids[0], "") // an empty checksum is none
		idMissing := addAttachment(t, db, "uploads/member/2025/01/missing.pdf", nil)
		addAttachment(t, db, "https://example.org/x.pdf", nil)

		// A file without a checksum that is not there is missing, not
		// merely unverifiable.
		before := probeOnce(t, FileCorruption(withTables(Options{})), env)
		for k, v := range map[string]any{"unverifiable": 7, "missing": 1} {
			if got := before.Metrics[k]; got != v {
				t.Errorf("metric %s before = %v, want %v", k, got, v)
			}
		}
		got, err := RecordChecksums(context.Background(), env, withAttachments(RecordOptions{BatchSize: 3}))
		if err != nil {
			t.Fatal(err)
		}
		want := RecordResult{Recorded: 7, Bytes: 7*100 + 21, Missing: 1, Skipped: 1}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("record (-want +got):\n%s", d)
		}
		for i, id := range ids {
			sum := checksumOf(t, db, id)
			if w := sha(bytes.Repeat([]byte{byte(i)}, 100+i)); sum != w {
				t.Errorf("checksum of %d = %q, want %q", id, sum, w)
			}
		}
		// A second run has nothing left to record.
		again, err := RecordChecksums(context.Background(), env, withAttachments(RecordOptions{}))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(RecordResult{Missing: 1, Skipped: 1}, again); d != "" {
			t.Errorf("second record (-want +got):\n%s", d)
		}
		// Now every file verifies; only the missing file remains, reported
		// as missing.
		after := probeOnce(t, FileCorruption(withTables(Options{})), env)
		wantF := []ip2adb.Issue{issue("file_corruption", ip2adb.Warning, "file_attachments",
			"1 attachment files are missing from the file store", "",
			map[string]any{"count": 1, "sample": []sample{{ID: idMissing, Path: "uploads/member/2025/01/missing.pdf"}}})}
		if d := cmp.Diff(wantF, after.Findings, ignoreRec); d != "" {
			t.Errorf("findings after recording (-want +got):\n%s", d)
		}
		if after.Metrics["verified"] != 7 {
			t.Errorf("verified = %v, want 7", after.Metrics["verified"])
		}
	}, testdb.WithSchema())
}

func TestFileCorruptionBudgetOldestFirst(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		env := testEnv(t, db)
		var ids []string
		for i := range 5 {
			rel := "uploads/f" + strconv.Itoa(i)
			data := bytes.Repeat([]byte{byte('a' + i)}, 1000)
			writeStore(t, env.FilesRoot, rel, data)
			ids = append(ids, strconv.FormatInt(addAttachment(t, db, rel, sha(data)), 10))
		}
		// One worker makes the order in which files are reached exact.
		opt := withTables(Options{VerifyBytes: 2000, Workers: 1})
		verifiedAt := func() map[string]time.Time {
			t.Helper()
			st, err := readStateFile(env.LogDir)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]time.Time{}
			for id, e := range st.Attachments {
				out[id] = e.VerifiedAt
			}
			return out
		}
		day := func(n int) time.Time { return now0.AddDate(0, 0, n) }
		runAt := func(d time.Time) Result {
			e := env
			e.Now = func() time.Time { return d }
			return probeOnce(t, FileCorruption(opt), e)
		}

		r1 := runAt(day(0))
		want1 := []ip2adb.Issue{issue("file_corruption", ip2adb.Info, "file_attachments",
			"3 attachments with checksums have never been verified (budget of this run reached)", "", map[string]any{"count": 3})}
		if d := cmp.Diff(want1, r1.Findings, ignoreRec); d != "" {
			t.Errorf("run 1 findings (-want +got):\n%s", d)
		}
		if r1.Metrics["verified"] != 2 || r1.Metrics["not_reached"] != 3 {
			t.Errorf("run 1 verified %v, not reached %v; want 2, 3", r1.Metrics["verified"], r1.Metrics["not_reached"])
		}
		if d := cmp.Diff(map[string]time.Time{ids[0]: day(0), ids[1]: day(0)}, verifiedAt()); d != "" {
			t.Errorf("after run 1 (-want +got):\n%s", d)
		}

		r2 := runAt(day(1)) // never-verified files first
		if d := cmp.Diff(map[string]time.Time{ids[0]: day(0), ids[1]: day(0), ids[2]: day(1), ids[3]: day(1)}, verifiedAt()); d != "" {
			t.Errorf("after run 2 (-want +got):\n%s", d)
		}
		if r2.Metrics["never_verified"] != 1 {
			t.Errorf("run 2 never verified = %v, want 1", r2.Metrics["never_verified"])
		}

		r3 := runAt(day(2)) // the last new one, then the oldest verified
		if d := cmp.Diff(map[string]time.Time{ids[0]: day(2), ids[1]: day(0), ids[2]: day(1), ids[3]: day(1), ids[4]: day(2)}, verifiedAt()); d != "" {
			t.Errorf("after run 3 (-want +got):\n%s", d)
		}
		if len(r3.Findings) != 0 || r3.Metrics["verification_done"] != true {
			t.Errorf("run 3: findings %v, verification_done %v; want none, true", r3.Findings, r3.Metrics["verification_done"])
		}

		// A changed checksum invalidates the remembered verification.
		id1, _ := strconv.ParseInt(ids[1], 10, 64)
		setChecksum(t, db, id1, sha([]byte("other")))
		r4 := runAt(day(3))
		if r4.Metrics["mismatched"] != 1 {
			t.Errorf("run 4 mismatched = %v, want 1", r4.Metrics["mismatched"])
		}
		if at, ok := verifiedAt()[ids[1]]; !ok || !at.IsZero() {
			t.Errorf("mismatched attachment %s: verified at %v (recorded %v), want recorded as corrupt, never verified", ids[1], at, ok)
		}
	}, testdb.WithSchema())
}

func TestFileCorruptionStateCorrupt(t *testing.T) {
	db := testdb.SQLite(t, testdb.WithSchema())
	env := testEnv(t, db)
	writeStore(t, env.LogDir, MetricsDir+"/"+ChecksumStateFile, []byte("{not json"))
	writeStore(t, env.FilesRoot, "uploads/a", []byte("a"))
	addAttachment(t, db, "uploads/a", sha([]byte("a")))
	res := probeOnce(t, FileCorruption(withTables(Options{})), env)
	if res.Metrics["verified"] != 1 || len(res.Findings) != 0 {
		t.Fatalf("verified %v findings %v; want 1, none", res.Metrics["verified"], res.Findings)
	}
	b, err := os.ReadFile(filepath.Join(env.LogDir, MetricsDir, ChecksumStateFile))
	if err != nil {
		t.Fatal(err)
	}
	var st checksumState
	if err := json.Unmarshal(b, &st); err != nil || len(st.Attachments) != 1 {
		t.Fatalf("state rewritten as %s (%v)", b, err)
	}
}

func TestFileCorruptionCancelled(t *testing.T) {
	db := testdb.SQLite(t, testdb.WithSchema())
	env := testEnv(t, db)
	writeStore(t, env.FilesRoot, "uploads/a", []byte("a"))
	addAttachment(t, db, "uploads/a", sha([]byte("a")))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := FileCorruption(withTables(Options{})).Probe(ctx, env); err == nil {
		t.Fatal("cancelled probe returned no error")
	}
}

func TestFileCorruptionCapAndMalformed(t *testing.T) {
	db := testdb.SQLite(t, testdb.WithSchema())
	env := testEnv(t, db)
	var ids []int64
	for i := range 4 {
		rel := "uploads/c" + strconv.Itoa(i)
		writeStore(t, env.FilesRoot, rel, []byte{byte(i)})
		ids = append(ids, addAttachment(t, db, rel, sha([]byte("something else"))))
	}
	writeStore(t, env.FilesRoot, "uploads/bad", []byte("bad"))
	bad := addAttachment(t, db, "uploads/bad", "not-a-sha")
	res := probeOnce(t, FileCorruption(withTables(Options{MaxFindings: 2})), env)
	var got []string
	for _, f := range res.Findings {
		got = append(got, string(f.Severity)+" "+f.Description)
	}
	want := []string{
		"critical Attachment " + strconv.FormatInt(ids[0], 10) + " (uploads/c0) is corrupt: its SHA-256 does not match the stored checksum",
		"critical Attachment " + strconv.FormatInt(ids[1], 10) + " (uploads/c1) is corrupt: its SHA-256 does not match the stored checksum",
		"critical … and 2 more corrupt or unreadable attachments not listed",
		"warning 1 attachments have a malformed checksum (not 64 hex digits)",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]sample{{ID: bad, Path: "uploads/bad"}}, res.Findings[3].Details["sample"]); d != "" {
		t.Errorf("malformed sample (-want +got):\n%s", d)
	}
	if res.Metrics["mismatched"] != 4 {
		t.Errorf("mismatched = %v, want 4", res.Metrics["mismatched"])
	}
}

// TestFileProbesRootMissingOrEscaping: a missing files root fails the file
// probes (rather than reporting every file missing), and a symlink leading
// out of the root is not followed: its file is missing from the store.
func TestFileProbesRootMissingOrEscaping(t *testing.T) {
	db := testdb.SQLite(t, testdb.WithSchema())
	env := testEnv(t, db)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(env.FilesRoot, "uploads"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(env.FilesRoot, "uploads", "link")); err != nil {
		t.Fatal(err)
	}
	id := addAttachment(t, db, "uploads/link", sha([]byte("s")))
	res := probeOnce(t, FileCorruption(withTables(Options{})), env)
	want := []ip2adb.Issue{issue("file_corruption", ip2adb.Warning, "file_attachments", "1 attachment files are missing from the file store", "",
		map[string]any{"count": 1, "sample": []sample{{ID: id, Path: "uploads/link"}}})}
	if d := cmp.Diff(want, res.Findings, ignoreRec); d != "" {
		t.Errorf("escaping symlink (-want +got):\n%s", d)
	}

	env.FilesRoot = filepath.Join(t.TempDir(), "gone")
	for _, p := range []Probe{FileCorruption(withTables(Options{})), OrphanedFiles(withTables(Options{}))} {
		if _, err := p.Probe(context.Background(), env); err == nil {
			t.Errorf("%s: no error for a missing files root", p.Name())
		}
	}
	if _, err := RecordChecksums(context.Background(), env, withAttachments(RecordOptions{})); err == nil {
		t.Error("RecordChecksums: no error for a missing files root")
	}
}

// TestChecksumProgress: file_corruption and RecordChecksums report done of
// total files to Env.Progress, ending at the total.
func TestChecksumProgress(t *testing.T) {
	type call struct {
		Phase       string
		Done, Total int64
	}
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		env := testEnv(t, db)
		var calls []call
		env.Progress = func(phase string, done, total int64) { calls = append(calls, call{phase, done, total}) }
		for i := range 3 {
			rel := "uploads/member/2025/02/p" + strconv.Itoa(i) + ".pdf"
			writeStore(t, env.FilesRoot, rel, []byte(rel))
			addAttachment(t, db, rel, nil)
		}
		if _, err := RecordChecksums(context.Background(), env, withAttachments(RecordOptions{Workers: 2})); err != nil {
			t.Fatal(err)
		}
		probeOnce(t, FileCorruption(withTables(Options{Workers: 2})), env)
		want := []call{
			{PhaseRecord, 0, 3}, {PhaseRecord, 1, 3}, {PhaseRecord, 2, 3}, {PhaseRecord, 3, 3},
			{PhaseVerify, 0, 3}, {PhaseVerify, 1, 3}, {PhaseVerify, 2, 3}, {PhaseVerify, 3, 3},
		}
		if d := cmp.Diff(want, calls); d != "" {
			t.Errorf("progress calls (-want +got):\n%s", d)
		}
	}, testdb.WithSchema())
}

// readStateFile decodes the whole verification state file as written.
func readStateFile(logDir string) (checksumState, error) {
	b, err := os.ReadFile(statePath(logDir))
	if err != nil {
		return checksumState{}, err
	}
	var st checksumState
	err = json.Unmarshal(b, &st)
	return st, err
}

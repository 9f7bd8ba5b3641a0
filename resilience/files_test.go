package resilience

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/internal/s3test"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

// countingStore counts the listings of a store.
type countingStore struct {
	filestore.Store
	mu    sync.Mutex
	lists []string
}

func (c *countingStore) List(ctx context.Context, prefix string) iter.Seq2[filestore.Info, error] {
	c.mu.Lock()
	c.lists = append(c.lists, prefix)
	c.mu.Unlock()
	return c.Store.List(ctx, prefix)
}

// TestFileProbesListOnce: file_corruption, storage_capacity and
// orphaned_files share one walk of the store in a run.
func TestFileProbesListOnce(t *testing.T) {
	db := testdb.SQLite(t, testdb.WithSchema())
	env := testEnv(t, db)
	for i := range 5 {
		rel := fmt.Sprintf("uploads/member/%d.pdf", i)
		writeStore(t, env.FilesRoot, rel, []byte(rel))
		addAttachment(t, db, rel, sha([]byte(rel)))
	}
	writeStore(t, env.FilesRoot, "uploads/orphan.bin", []byte("orphan"))
	local, err := filestore.OpenLocal(env.FilesRoot)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	cs := &countingStore{Store: local}
	env.Files = cs
	opt := withTables(Options{OrphanThreshold: AnyOrphans})
	rep := Run(context.Background(), env, []Probe{FileCorruption(opt), StorageCapacity(opt), OrphanedFiles(opt)}, RunOptions{})
	if rep.Summary.FailedProbes != 0 {
		t.Fatalf("failed probes: %+v", rep.Probes)
	}
	if d := cmp.Diff([]string{"uploads/"}, cs.lists); d != "" {
		t.Errorf("listings (-want +got):\n%s", d)
	}
	if m := rep.Probes[0].Metrics; m["verified"] != 5 || rep.Probes[2].Metrics["orphans"] != 1 || rep.Probes[1].Metrics["files"] != 6 {
		t.Errorf("metrics %v %v %v", m, rep.Probes[1].Metrics, rep.Probes[2].Metrics)
	}
}

// TestFileCorruptionMissingEveryRun: a deleted file is reported missing on
// every run, also when the byte budget would not have reached it, and a
// file known to be corrupt stays in every report until it is fixed, also
// when other files would fill the budget first.
func TestFileCorruptionMissingEveryRun(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		env := testEnv(t, db)
		var ids []int64
		for i := range 6 {
			rel := "uploads/f" + strconv.Itoa(i)
			data := bytes.Repeat([]byte{byte('a' + i)}, 1000)
			writeStore(t, env.FilesRoot, rel, data)
			ids = append(ids, addAttachment(t, db, rel, sha(data)))
		}
		opt := withTables(Options{VerifyBytes: 1000, Workers: 2}) // one file a run
		run := func(day int) Result {
			t.Helper()
			e := env
			e.Now = func() time.Time { return now0.AddDate(0, 0, day) }
			return probeOnce(t, FileCorruption(opt), e)
		}
		kinds := func(r Result) []string {
			var out []string
			for _, f := range r.Findings {
				s := string(f.Severity) + " " + f.Description
				if f.RecordID != nil {
					s = string(f.Severity) + " " + strconv.FormatInt(*f.RecordID, 10)
				}
				out = append(out, s)
			}
			return out
		}
		// Corrupt f1 and delete f5 before the first run.
		writeStore(t, env.FilesRoot, "uploads/f1", bytes.Repeat([]byte{'X'}, 1000))
		os.Remove(filepath.Join(env.FilesRoot, "uploads/f5"))
		never := func(n int) string {
			return fmt.Sprintf("info %d attachments with checksums have never been verified (budget of this run reached)", n)
		}
		// Run 1 reads f0 only, yet f5 is missing already.
		want := []string{"warning 1 attachment files are missing from the file store", never(4)}
		if d := cmp.Diff(want, kinds(run(0))); d != "" {
			t.Errorf("run 1 (-want +got):\n%s", d)
		}
		// Run 2 reads f1: corrupt.
		want = []string{"critical " + strconv.FormatInt(ids[1], 10), "warning 1 attachment files are missing from the file store", never(3)}
		if d := cmp.Diff(want, kinds(run(1))); d != "" {
			t.Errorf("run 2 (-want +got):\n%s", d)
		}
		// Runs 3 and 4 read f1 again (whatever the budget) and one more.
		want = []string{"critical " + strconv.FormatInt(ids[1], 10), "warning 1 attachment files are missing from the file store", never(2)}
		if d := cmp.Diff(want, kinds(run(2))); d != "" {
			t.Errorf("run 3 (-want +got):\n%s", d)
		}
		want[2] = never(1)
		if d := cmp.Diff(want, kinds(run(3))); d != "" {
			t.Errorf("run 4 (-want +got):\n%s", d)
		}
		// Restored: it leaves the report.
		writeStore(t, env.FilesRoot, "uploads/f1", bytes.Repeat([]byte{'b'}, 1000))
		want = []string{"warning 1 attachment files are missing from the file store"}
		if d := cmp.Diff(want, kinds(run(4))); d != "" {
			t.Errorf("run 5 (-want +got):\n%s", d)
		}
	}, testdb.WithSchema())
}

// TestFileCorruptionSizeMismatch: a file whose size differs from its
// row's file_size is a warning; NULL and negative sizes are not compared.
func TestFileCorruptionSizeMismatch(t *testing.T) {
	db := testdb.SQLite(t, testdb.WithSchema())
	env := testEnv(t, db)
	var ids []int64
	for i, size := range []any{5, 4, nil, -1, 9} {
		rel := "uploads/s" + strconv.Itoa(i)
		writeStore(t, env.FilesRoot, rel, []byte("12345"))
		id := addAttachment(t, db, rel, nil)
		testdb.MustExec(t, db, "UPDATE file_attachments SET file_size = ? WHERE id = ?", size, id)
		ids = append(ids, id)
	}
	res := probeOnce(t, FileCorruption(withTables(Options{})), env)
	want := []ip2adb.Issue{
		issue("file_corruption", ip2adb.Warning, "file_attachments", "2 attachment files differ in size from their recorded file_size", "",
			map[string]any{"count": 2, "sample": []sizeSample{{ID: ids[1], Path: "uploads/s1", Expected: 4, Actual: 5}, {ID: ids[4], Path: "uploads/s4", Expected: 9, Actual: 5}}}),
		issue("file_corruption", ip2adb.Info, "file_attachments", "5 attachments have no checksum, so corruption cannot be detected for them", "",
			map[string]any{"count": 5}),
	}
	if d := cmp.Diff(want, res.Findings, ignoreRec); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
}

// TestStorageHistory: storage_capacity keeps a daily snapshot and reports
// the growth per day from the first to the last day of the window.
func TestStorageHistory(t *testing.T) {
	env := testEnv(t, nil)
	run := func(day int) Result {
		e := env
		e.Now = func() time.Time { return now0.AddDate(0, 0, day) }
		return probeOnce(t, StorageCapacity(withTables(Options{})), e)
	}
	writeStore(t, env.FilesRoot, "uploads/a", make([]byte, 1000))
	if m := run(0).Metrics; m["history_days"] != 1 || m["bytes_per_day"] != nil {
		t.Errorf("day 0: %v", m)
	}
	writeStore(t, env.FilesRoot, "uploads/b", make([]byte, 3000))
	m := run(4).Metrics
	for k, v := range map[string]any{"history_days": 2, "bytes_per_day": int64(750), "files_per_day": 0.25, "disk_full_days": 0.7} {
		if m[k] != v {
			t.Errorf("day 4: %s = %v, want %v", k, m[k], v)
		}
	}
	b, err := os.ReadFile(filepath.Join(env.LogDir, MetricsDir, "2026-12-02_storage.json"))
	if err != nil || !bytes.Contains(b, []byte(`"bytes": 4000`)) {
		t.Errorf("snapshot %s, %v", b, err)
	}
}

// TestFileProbesS3: the same store served by a real S3 server (versitygw
// over the same directory) gives the file probes the same answers as the
// directory; after --record-checksums a flipped byte is found through S3,
// and so are planted orphaned objects.
func TestFileProbesS3(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		srv := s3test.Start(t, "")
		dir := srv.Bucket(t, "ip2a-documents")
		env := testEnv(t, db)
		env.FilesRoot = dir
		for i := range 12 {
			rel := fmt.Sprintf("uploads/member/2026/01/%02d.pdf", i)
			data := bytes.Repeat([]byte(rel), 100+i)
			writeStore(t, dir, rel, data)
			id := addAttachment(t, db, rel, nil)
			testdb.MustExec(t, db, "UPDATE file_attachments SET file_size = ? WHERE id = ?", len(data), id)
		}
		addAttachment(t, db, "uploads/member/2026/01/gone.pdf", nil)
		addAttachment(t, db, "../outside.pdf", nil)
		ctx := context.Background()
		s3, err := filestore.Open(ctx, "s3://ip2a-documents", srv.Env())
		if err != nil {
			t.Fatal(err)
		}
		defer s3.Close()
		s3env := env
		s3env.FilesRoot, s3env.Files = "s3://ip2a-documents", s3

		rec, err := RecordChecksums(ctx, s3env, withAttachments(RecordOptions{}))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(RecordResult{Recorded: 12, Bytes: rec.Bytes, Missing: 1, Skipped: 1}, rec); d != "" || rec.Bytes == 0 {
			t.Errorf("record through S3 (-want +got):\n%s", d)
		}
		// Flip one byte of one object on the server's disk, plant orphans.
		victim := filepath.Join(dir, "uploads/member/2026/01/07.pdf")
		b, _ := os.ReadFile(victim)
		b[len(b)/2] ^= 0x01
		os.WriteFile(victim, b, 0o644)
		for i := range 3 {
			if err := s3.Put(ctx, fmt.Sprintf("uploads/stray/%d.tmp", i), bytes.NewReader([]byte("stray")), 5); err != nil {
				t.Fatal(err)
			}
		}
		opt := withTables(Options{OrphanThreshold: 2})
		probes := []Probe{FileCorruption(opt), StorageCapacity(opt), OrphanedFiles(opt)}
		view := func(r Report) []string {
			var out []string
			for _, f := range r.Findings {
				out = append(out, fmt.Sprintf("%s %s %s %v", f.Category, f.Severity, f.Description, f.Details["count"]))
			}
			return out
		}
		viaS3 := Run(ctx, s3env, probes, RunOptions{})
		if viaS3.Summary.FailedProbes != 0 {
			t.Fatalf("failed probes through S3: %+v", viaS3.Probes)
		}
		var victimID int64
		db.Get(&victimID, db.Rebind("SELECT id FROM file_attachments WHERE file_path = ?"), "uploads/member/2026/01/07.pdf")
		want := []string{
			fmt.Sprintf("file_corruption critical Attachment %d (uploads/member/2026/01/07.pdf) is corrupt: its SHA-256 does not match the stored checksum <nil>", victimID),
			"file_corruption warning 1 attachment files are missing from the file store 1",
			"file_corruption warning 1 attachment paths point outside the files root and cannot be verified 1",
			"orphaned_files info 3 files under uploads (15 B) belong to no attachment 3",
		}
		if d := cmp.Diff(want, view(viaS3)); d != "" {
			t.Errorf("findings through S3 (-want +got):\n%s", d)
		}
		// The directory itself answers alike (its own state and history).
		env.LogDir = t.TempDir()
		local := Run(ctx, env, probes, RunOptions{})
		if d := cmp.Diff(want, view(local)); d != "" {
			t.Errorf("findings of the directory (-want +got):\n%s", d)
		}
		for i, p := range viaS3.Probes {
			for _, k := range []string{"verified", "missing", "mismatched", "size_mismatch", "files", "files_bytes", "orphans", "orphans_bytes"} {
				if p.Metrics[k] != local.Probes[i].Metrics[k] {
					t.Errorf("%s metric %s: S3 %v, directory %v", p.Name, k, p.Metrics[k], local.Probes[i].Metrics[k])
				}
			}
		}
		if m := viaS3.Probes[1].Metrics; m["objects"] != 15 || m["store"] != "s3://ip2a-documents" {
			t.Errorf("bucket metrics %v", m)
		}
	}, testdb.WithSchema())
}

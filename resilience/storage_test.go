package resilience

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/jmoiron/sqlx"
)

func TestStorageCapacityThresholds(t *testing.T) {
	env := testEnv(t, nil)
	writeStore(t, env.FilesRoot, "uploads/member/a.pdf", bytes.Repeat([]byte("a"), 300))
	writeStore(t, env.FilesRoot, "uploads/org/b.pdf", bytes.Repeat([]byte("b"), 200))
	writeStore(t, env.FilesRoot, "elsewhere.txt", []byte("not in uploads"))
	details := func(pct float64, free uint64, thr float64) map[string]any {
		return map[string]any{"used_percent": pct, "total_bytes": uint64(100), "free_bytes": free,
			"files": 2, "files_bytes": int64(500), "path": env.FilesRoot, "threshold_percent": thr}
	}
	for _, tc := range []struct {
		free uint64
		want []ip2adb.Issue
	}{
		{free: 21}, // 79 %
		{free: 20}, // exactly 80 %: not above
		{free: 19, want: []ip2adb.Issue{issue("storage_capacity", ip2adb.Warning, "",
			"The disk holding the file store is 81.0% full (over 80%); 19 B free", "", details(81, 19, 80))}},
		{free: 10, want: []ip2adb.Issue{issue("storage_capacity", ip2adb.Warning, "",
			"The disk holding the file store is 90.0% full (over 80%); 10 B free", "", details(90, 10, 80))}},
		{free: 9, want: []ip2adb.Issue{issue("storage_capacity", ip2adb.Critical, "",
			"The disk holding the file store is 91.0% full (over 90%); 9 B free", "", details(91, 9, 90))}},
	} {
		t.Run(fmt.Sprintf("%d%%", 100-tc.free), func(t *testing.T) {
			e := env
			e.DiskUsage = fakeDisk(100, tc.free)
			res := probeOnce(t, StorageCapacity(withTables(Options{})), e)
			if d := cmp.Diff(tc.want, res.Findings, ignoreRec); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
			checkRecs(t, res.Findings)
			if res.Metrics["files"] != 2 || res.Metrics["files_bytes"] != int64(500) {
				t.Errorf("files %v bytes %v; want 2, 500", res.Metrics["files"], res.Metrics["files_bytes"])
			}
		})
	}
	t.Run("custom thresholds", func(t *testing.T) {
		e := env
		e.DiskUsage = fakeDisk(100, 40)
		res := probeOnce(t, StorageCapacity(withTables(Options{DiskWarnPercent: 50, DiskCriticalPercent: 59})), e)
		if len(res.Findings) != 1 || res.Findings[0].Severity != ip2adb.Critical {
			t.Errorf("60%% with critical at 59%%: %v", res.Findings)
		}
	})
	t.Run("disk usage fails", func(t *testing.T) {
		e := env
		e.DiskUsage = StatFS
		e.FilesRoot = env.FilesRoot + "/does-not-exist"
		if _, err := StorageCapacity(withTables(Options{})).Probe(t.Context(), e); err == nil {
			t.Error("no error for a missing files root")
		}
	})
}

func TestStatFS(t *testing.T) {
	total, free, err := StatFS(t.TempDir())
	if err != nil || total == 0 || free > total {
		t.Fatalf("StatFS = %d, %d, %v", total, free, err)
	}
}

func TestOrphanedFiles(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		for _, tc := range []struct {
			orphans int
			want    bool
		}{{100, false}, {101, true}, {150, true}} {
			t.Run(fmt.Sprint(tc.orphans), func(t *testing.T) {
				testdb.MustExec(t, db, "DELETE FROM file_attachments")
				env := testEnv(t, db)
				// Named files are not orphans, whatever their spelling.
				writeStore(t, env.FilesRoot, "uploads/member/named.pdf", []byte("named"))
				addAttachment(t, db, "./uploads/member/named.pdf", nil)
				writeStore(t, env.FilesRoot, "uploads/member/abs.pdf", []byte("abs"))
				addAttachment(t, db, env.FilesRoot+"/uploads/member/abs.pdf", nil)
				// A file named only by a deleted attachment is an orphan.
				writeStore(t, env.FilesRoot, "uploads/member/deleted.pdf", []byte("12345"))
				id := addAttachment(t, db, "uploads/member/deleted.pdf", nil)
				testdb.MustExec(t, db, "UPDATE file_attachments SET is_deleted = TRUE WHERE id = ?", id)
				for i := range tc.orphans - 1 {
					writeStore(t, env.FilesRoot, fmt.Sprintf("uploads/grievance/2024/%03d.bin", i), make([]byte, 10))
				}
				res := probeOnce(t, OrphanedFiles(withTables(Options{})), env)
				size := int64(5 + 10*(tc.orphans-1))
				if res.Metrics["orphans"] != tc.orphans || res.Metrics["orphans_bytes"] != size || res.Metrics["files"] != tc.orphans+2 {
					t.Errorf("metrics %v; want %d orphans of %d bytes", res.Metrics, tc.orphans, size)
				}
				var want []ip2adb.Issue
				if tc.want {
					sample := []string{}
					for i := range 10 {
						sample = append(sample, fmt.Sprintf("uploads/grievance/2024/%03d.bin", i))
					}
					want = []ip2adb.Issue{issue("orphaned_files", ip2adb.Info, "file_attachments",
						fmt.Sprintf("%d files under uploads (%s) belong to no attachment", tc.orphans, humanBytes(size)), "",
						map[string]any{"count": tc.orphans, "total_bytes": size, "threshold": 100, "sample": sample})}
				}
				if d := cmp.Diff(want, res.Findings, ignoreRec); d != "" {
					t.Errorf("findings (-want +got):\n%s", d)
				}
			})
		}
	}, testdb.WithSchema())
}

func TestOrphanedFilesNoUploadsDir(t *testing.T) {
	db := testdb.SQLite(t, testdb.WithSchema())
	env := testEnv(t, db)
	res := probeOnce(t, OrphanedFiles(withTables(Options{OrphanThreshold: 1})), env)
	if len(res.Findings) != 0 || res.Metrics["uploads_exists"] != false {
		t.Errorf("findings %v metrics %v", res.Findings, res.Metrics)
	}
}

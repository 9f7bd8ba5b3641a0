package integrity_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/s3test"
	"github.com/ip2adb/ip2adb/internal/testdb"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/jmoiron/sqlx"
)

// TestFileExistsS3: the fixture's files root served through a real S3
// server (versitygw over the same directory) gives exactly the issues of
// the local directory; an absolute path under the root and an s3:// URL
// into the bucket both resolve to the same file.
func TestFileExistsS3(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlx.DB) {
		root := plant(t, db)
		testdb.MustExec(t, db, fmt.Sprintf(`INSERT INTO file_attachments (id, record_type, record_id, file_path, file_size) VALUES
			(40, 'member', 1, '%s', 10), (41, 'member', 1, 's3://files/uploads/org/1.pdf', 10),
			(42, 'member', 1, 's3://files/uploads/org/none.pdf', 10), (43, 'member', 1, 'uploads/./org//1.pdf', 10)`,
			filepath.Join(root, "uploads/org/1.pdf")))
		srv := s3test.Start(t, filepath.Dir(root)) // bucket "files" is the root
		ctx := context.Background()
		s3, err := filestore.Open(ctx, "s3://files", srv.Env())
		if err != nil {
			t.Fatal(err)
		}
		defer s3.Close()
		run := func(root string, store filestore.Store) integrity.Result {
			t.Helper()
			for _, c := range ip2a.Rules(ip2a.RuleOptions{FilesRoot: root, Files: store, Now: fixtureNow}) {
				if c.Name() == ip2a.AttachmentFileMissing {
					res, err := c.Check(ctx, db, 100)
					if err != nil {
						t.Fatalf("%s: %v", root, err)
					}
					return res
				}
			}
			t.Fatal("no file check")
			return integrity.Result{}
		}
		local, remote := run(root, nil), run("s3://files", s3)
		type got struct {
			ID      int64
			Details map[string]any
		}
		pick := func(r integrity.Result) []got {
			var out []got
			for _, is := range r.Issues {
				out = append(out, got{*is.RecordID, is.Details})
			}
			return out
		}
		want := []got{
			{15, map[string]any{"file_path": "uploads/missing.pdf", "reason": "not_found"}},
			{19, map[string]any{"file_path": "../outside.pdf", "reason": "outside_root"}},
			{20, map[string]any{"file_path": "uploads/dir", "reason": "not_found"}},
		}
		// Locally the absolute path is found and the s3:// URLs are not
		// this store's; through S3 the URL into the bucket is checked and
		// the absolute path is outside.
		if d := cmp.Diff(want, pick(local)); d != "" || local.Count != 3 {
			t.Errorf("local: count %d, issues (-want +got):\n%s", local.Count, d)
		}
		wantS3 := append(want[:len(want):len(want)],
			got{40, map[string]any{"file_path": filepath.Join(root, "uploads/org/1.pdf"), "reason": "outside_root"}},
			got{42, map[string]any{"file_path": "s3://files/uploads/org/none.pdf", "reason": "not_found"}})
		if d := cmp.Diff(wantS3, pick(remote)); d != "" || remote.Count != 5 {
			t.Errorf("s3: count %d, issues (-want +got):\n%s", remote.Count, d)
		}
	}, testdb.WithSchema())
}

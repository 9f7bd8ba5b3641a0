package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/internal/s3test"
	"github.com/ip2adb/ip2adb/internal/testdb"
)

// s3Env is env plus the variables that reach srv, with extra "K=V"
// overriding them.
func s3Env(env map[string]string, srv *s3test.Server, extra ...string) map[string]string {
	out := maps.Clone(env)
	for _, kv := range srv.Environ(extra...) {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// fileMissing runs integrity in JSON and returns the record ids of
// attachment.file_missing and its count.
func fileMissing(t *testing.T, env map[string]string) ([]float64, float64) {
	t.Helper()
	r := runCLI(t, runOpts{env: env}, "integrity", "--format", "json", "--max-issues", "10000")
	if r.Code != ExitOK && r.Code != ExitCritical {
		t.Fatalf("integrity: code %d\n%s", r.Code, r.Stderr)
	}
	var doc struct {
		Checks []struct {
			Name   string  `json:"name"`
			Count  float64 `json:"count"`
			Status string  `json:"status"`
		} `json:"checks"`
		Issues []struct {
			Check    string  `json:"check"`
			RecordID float64 `json:"record_id"`
		} `json:"issues"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
		t.Fatalf("integrity JSON: %v\n%s", err, r.Stdout)
	}
	var ids []float64
	for _, is := range doc.Issues {
		if is.Check == "attachment.file_missing" {
			ids = append(ids, is.RecordID)
		}
	}
	for _, c := range doc.Checks {
		if c.Name == "attachment.file_missing" {
			if c.Status != "ok" {
				t.Fatalf("file check %s", c.Status)
			}
			return ids, c.Count
		}
	}
	t.Fatal("no attachment.file_missing in the report")
	return nil, 0
}

// TestS3IntegrityLikeLocal: a seeded store with planted missing files,
// served by a real S3 server over the same directory, gives integrity the
// same attachment.file_missing answer through --files-root s3://… as the
// directory itself, also after files are deleted.
func TestS3IntegrityLikeLocal(t *testing.T) {
	testdb.EachURL(t, func(t *testing.T, url string) {
		srv := s3test.Start(t, "")
		dir := srv.Bucket(t, "ip2a-documents")
		local := map[string]string{"IP2ADB_DATABASE_URL": url, "IP2ADB_LOG_DIR": t.TempDir(), "IP2ADB_FILES_ROOT": dir}
		if r := runCLI(t, runOpts{env: local}, "seed", "--members", "40", "--students", "5", "--organizations", "8", "--faults", "2", "--files-dir", dir); r.Code != ExitOK {
			t.Fatalf("seed: code %d\n%s", r.Code, r.Stderr)
		}
		remote := s3Env(local, srv, "IP2ADB_FILES_ROOT=s3://ip2a-documents")
		for round := range 2 {
			wantIDs, wantN := fileMissing(t, local)
			ids, n := fileMissing(t, remote)
			if n != wantN || !cmp.Equal(wantIDs, ids) {
				t.Errorf("round %d: through S3 %v missing %v; the directory %v missing %v", round, n, ids, wantN, wantIDs)
			}
			if round == 0 && wantN != 2 {
				t.Errorf("planted 2 missing files, found %v", wantN)
			}
			// Delete three seeded files for the next round.
			var names []string
			filepath.WalkDir(filepath.Join(dir, "uploads", "member"), func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					names = append(names, p)
				}
				return nil
			})
			slices.Sort(names)
			for _, p := range names[:3] {
				os.Remove(p)
			}
		}
	})
}

// TestS3Resilience: through S3, --record-checksums stores the objects'
// checksums; then a flipped byte is a critical file_corruption finding,
// planted objects no attachment names are orphaned, and no probe fails.
func TestS3Resilience(t *testing.T) {
	testdb.EachURL(t, func(t *testing.T, url string) {
		env, _ := resilienceSetup(t, url)
		srv := s3test.Start(t, "")
		dir := srv.Bucket(t, "ip2a-documents")
		// The same file, now in the bucket.
		data, err := os.ReadFile(filepath.Join(env["IP2ADB_FILES_ROOT"], "uploads", "member", "a.pdf"))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "uploads", "member", "a.pdf")
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, data, 0o644)
		remote := s3Env(env, srv, "IP2ADB_FILES_ROOT=s3://ip2a-documents")

		r := runCLI(t, runOpts{env: remote}, "resilience", "--record-checksums", "--format", "json")
		if r.Code != ExitOK {
			t.Fatalf("record: code %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
		}
		var doc struct {
			Recorded struct {
				Recorded int `json:"recorded"`
			} `json:"recorded_checksums"`
			Findings []struct {
				Category, Severity, Description string
			} `json:"findings"`
			Probes []struct {
				Name    string         `json:"name"`
				Error   string         `json:"error"`
				Metrics map[string]any `json:"metrics"`
			} `json:"probes"`
			Summary struct {
				Critical     int `json:"critical"`
				FailedProbes int `json:"failed_probes"`
			} `json:"summary"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Recorded.Recorded != 1 || doc.Summary.FailedProbes != 0 {
			t.Fatalf("recorded %d, failed probes %d: %s", doc.Recorded.Recorded, doc.Summary.FailedProbes, r.Stdout)
		}

		data[len(data)/2] ^= 0x20
		os.WriteFile(p, data, 0o644)
		for i := range 2 {
			os.WriteFile(filepath.Join(dir, "uploads", "member", fmt.Sprintf("stray%d.pdf", i)), []byte("stray"), 0o644)
		}
		r = runCLI(t, runOpts{env: remote}, "resilience", "--format", "json", "--orphan-threshold", "0")
		if r.Code != ExitCritical {
			t.Fatalf("after the flip: code %d\n%s", r.Code, r.Stderr)
		}
		doc.Findings = nil
		if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
			t.Fatal(err)
		}
		var files []string
		for _, f := range doc.Findings {
			if f.Category == "file_corruption" || f.Category == "orphaned_files" || f.Category == "storage_capacity" {
				files = append(files, f.Severity+" "+f.Description)
			}
		}
		want := []string{
			"critical Attachment 1 (uploads/member/a.pdf) is corrupt: its SHA-256 does not match the stored checksum",
			"info 2 files under uploads (10 B) belong to no attachment",
		}
		if d := cmp.Diff(want, files); d != "" {
			t.Errorf("file findings (-want +got):\n%s", d)
		}
		if doc.Summary.FailedProbes != 0 {
			t.Errorf("failed probes: %+v", doc.Probes)
		}
		for _, pr := range doc.Probes {
			if pr.Name == "storage_capacity" && (pr.Metrics["objects"] != 3.0 || pr.Metrics["store"] != "s3://ip2a-documents") {
				t.Errorf("storage_capacity metrics %v", pr.Metrics)
			}
		}
	}, testdb.WithSchema())
}

// TestS3BadStore: wrong keys, a missing bucket and an unreachable endpoint
// are one line on stderr and exit 2, with no secret and nothing changed:
// the SQLite database named is not even created.
func TestS3BadStore(t *testing.T) {
	srv := s3test.Start(t, "")
	srv.Bucket(t, "ip2a-documents")
	const secret = "wrong-secret-Zx9"
	for _, tc := range []struct {
		name  string
		extra []string
		args  []string
		want  string
	}{
		{"integrity, wrong keys", []string{"AWS_SECRET_ACCESS_KEY=" + secret}, []string{"integrity"},
			"ip2adb: --files-root: s3://ip2a-documents: the server refused the credentials (SignatureDoesNotMatch): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"},
		{"resilience, wrong keys", []string{"AWS_SECRET_ACCESS_KEY=" + secret}, []string{"resilience"},
			"ip2adb: --files-root: s3://ip2a-documents: the server refused the credentials (SignatureDoesNotMatch): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"},
		{"auto-heal, missing bucket", []string{"IP2ADB_FILES_ROOT=s3://no-such-bucket"}, []string{"auto-heal"},
			`ip2adb: --files-root: s3://no-such-bucket: bucket "no-such-bucket" does not exist at ` + srv.Endpoint},
		{"integrity --repair, unreachable", []string{"AWS_ENDPOINT_URL=http://127.0.0.1:1"}, []string{"integrity", "--repair"},
			"ip2adb: --files-root: s3://ip2a-documents: cannot reach http://127.0.0.1:1: dial: connect: connection refused"},
		{"seed, wrong keys", []string{"AWS_SECRET_ACCESS_KEY=" + secret}, []string{"seed", "--files-dir", "s3://ip2a-documents"},
			"ip2adb: --files-dir: s3://ip2a-documents: the server refused the credentials (SignatureDoesNotMatch): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"},
		{"half a key pair", []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=" + secret}, []string{"integrity"},
			"ip2adb: --files-root: s3://ip2a-documents: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "ip2a.db")
			env := s3Env(map[string]string{"IP2ADB_DATABASE_URL": "sqlite:" + db, "IP2ADB_LOG_DIR": t.TempDir(),
				"IP2ADB_FILES_ROOT": "s3://ip2a-documents"}, srv, tc.extra...)
			r := runCLI(t, runOpts{env: env}, tc.args...)
			if r.Code != ExitUsage || r.Stdout != "" || r.Stderr != tc.want+"\n" {
				t.Errorf("code %d\nstdout %q\nstderr %q\nwant   %q", r.Code, r.Stdout, r.Stderr, tc.want+"\n")
			}
			if strings.Contains(r.Stderr, secret) || strings.Contains(r.Stderr, srv.SecretKey) {
				t.Errorf("stderr shows a secret: %q", r.Stderr)
			}
			if _, err := os.Stat(db); err == nil {
				t.Errorf("the database was created")
			}
		})
	}
}

package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/filestore"
	"github.com/ip2adb/ip2adb/internal/s3test"
)

func TestParseS3URL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want filestore.S3Location
		err  string
	}{
		{in: "s3://ip2a-documents", want: filestore.S3Location{Bucket: "ip2a-documents"}},
		{in: "S3://ip2a-documents/", want: filestore.S3Location{Bucket: "ip2a-documents"}},
		{in: "s3://b.example/a/b/", want: filestore.S3Location{Bucket: "b.example", Prefix: "a/b"}},
		{in: "s3://Bad_Bucket", err: `s3://Bad_Bucket: bad bucket name "Bad_Bucket" (3-63 lower-case letters, digits, dots and hyphens)`},
		{in: "s3://", err: `s3://: bad bucket name "" (3-63 lower-case letters, digits, dots and hyphens)`},
		{in: "s3://bucket/a/../b", err: "s3://bucket/a/../b: bad key prefix"},
		{in: "/srv/files", err: `"/srv/files" is not an s3:// URL`},
	} {
		got, err := filestore.ParseS3URL(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseS3URL(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseS3URL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestS3ConfigFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for _, s := range kv {
			k, v, _ := strings.Cut(s, "=")
			m[k] = v
		}
		return func(k string) string { return m[k] }
	}
	got, err := filestore.S3ConfigFromEnv("s3://docs/uploads", env("AWS_ACCESS_KEY_ID=AK", "AWS_SECRET_ACCESS_KEY=SK",
		"AWS_SESSION_TOKEN=TOK", "AWS_DEFAULT_REGION=eu-west-1", "AWS_ENDPOINT_URL=http://127.0.0.1:9000", "AWS_PROFILE=p"))
	want := filestore.S3Config{S3Location: filestore.S3Location{Bucket: "docs", Prefix: "uploads"},
		AccessKeyID: "AK", SecretAccessKey: "SK", SessionToken: "TOK", Region: "eu-west-1",
		Endpoint: "http://127.0.0.1:9000", Profile: "p", PathStyle: true}
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("S3ConfigFromEnv = %+v, %v\nwant %+v", got, err, want)
	}
	if s := got.String(); strings.Contains(s, "SK") || strings.Contains(s, "TOK") ||
		s != "s3://docs/uploads (endpoint http://127.0.0.1:9000, region eu-west-1)" {
		t.Errorf("String() = %q", s)
	}
	got, _ = filestore.S3ConfigFromEnv("s3://docs", env("AWS_REGION=us-west-2", "AWS_DEFAULT_REGION=eu-west-1",
		"AWS_ENDPOINT_URL=http://a", "AWS_ENDPOINT_URL_S3=http://b"))
	if got.Region != "us-west-2" || got.Endpoint != "http://b" {
		t.Errorf("precedence: %+v", got)
	}
	if _, err := filestore.S3ConfigFromEnv("s3://docs", env("AWS_ACCESS_KEY_ID=AK")); err == nil ||
		err.Error() != "s3://docs: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not" {
		t.Errorf("half a key pair: %v", err)
	}
}

// TestOpenS3Fails: each way of not reaching the bucket is one line that
// names the cause and never the secret.
func TestOpenS3Fails(t *testing.T) {
	srv := s3test.Start(t, "")
	srv.Bucket(t, "docs")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	creds := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(creds, []byte("[good]\naws_access_key_id = "+srv.AccessKey+"\naws_secret_access_key = "+srv.SecretKey+"\n[empty]\nregion = x\n"), 0o600)
	for _, tc := range []struct {
		name, root string
		env        []string
		want       string // "" means it opens
	}{
		{"wrong secret", "s3://docs", []string{"AWS_SECRET_ACCESS_KEY=not-the-secret-123"},
			"s3://docs: the server refused the credentials (SignatureDoesNotMatch): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"},
		{"wrong key id", "s3://docs", []string{"AWS_ACCESS_KEY_ID=AKNOBODY", "AWS_SECRET_ACCESS_KEY=not-the-secret-123"},
			"s3://docs: the server refused the credentials (XAdminUserNotFound): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"},
		{"missing bucket", "s3://nope", nil,
			`s3://nope: bucket "nope" does not exist at ` + srv.Endpoint},
		{"unreachable", "s3://docs", []string{"AWS_ENDPOINT_URL=http://" + deadAddr},
			"s3://docs: cannot reach http://" + deadAddr + ": dial: connect: connection refused"},
		{"bad endpoint", "s3://docs", []string{"AWS_ENDPOINT_URL=ftp://user:pw@host"},
			`s3://docs: bad endpoint URL "ftp://host" (want http://HOST[:PORT] or https://…)`},
		{"no credentials", "s3://docs", []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SHARED_CREDENTIALS_FILE=" + creds, "AWS_PROFILE=empty"},
			`s3://docs: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a shared credentials file (profile "empty": no aws_access_key_id in it)`},
		{"shared profile", "s3://docs", []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SHARED_CREDENTIALS_FILE=" + creds, "AWS_PROFILE=good"}, ""},
		{"prefix", "s3://docs/some/prefix", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := filestore.Open(context.Background(), tc.root, srv.Env(tc.env...))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Open error\n got %q\nwant %q", err, tc.want)
			}
			for _, secret := range []string{srv.SecretKey, "not-the-secret-123", "pw"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret: %q", err)
				}
			}
		})
	}
}

// flaky is an in-process S3 stand-in whose first failures answers of each
// request are 503 SlowDown (or 500), then real answers for one object.
type flaky struct {
	mu       sync.Mutex
	failures int
	seen     map[string]int
	status   int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	key := r.Method + " " + r.URL.Path + "?" + r.URL.Query().Get("list-type")
	f.seen[key]++
	n := f.seen[key]
	f.mu.Unlock()
	if n <= f.failures {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(f.status)
		code := "SlowDown"
		if f.status == 500 {
			code = "InternalError"
		}
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>Please reduce your request rate.</Message></Error>`, code)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2":
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>docs</Name><Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>`+
			`<Contents><Key>uploads/a.pdf</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>"e"</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>`)
	case r.URL.Path == "/docs/uploads/a.pdf":
		w.Header().Set("Last-Modified", "Fri, 02 Jan 2026 03:04:05 GMT")
		w.Header().Set("ETag", `"e"`)
		w.Header().Set("Content-Length", "5")
		if r.Method == http.MethodGet {
			io.WriteString(w, "alpha")
		}
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>no</Message></Error>`)
	}
}

// TestRetries: 503 SlowDown and 500 answers are retried with backoff until
// the request succeeds; past MaxRetries the error is reported.
func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		status, failures int
		ok               bool
	}{{503, 2, true}, {500, 2, true}, {503, 10, false}} {
		t.Run(fmt.Sprintf("%d×%d", tc.failures, tc.status), func(t *testing.T) {
			f := &flaky{failures: tc.failures, status: tc.status, seen: map[string]int{}}
			hs := httptest.NewServer(f)
			defer hs.Close()
			cfg := filestore.S3Config{S3Location: filestore.S3Location{Bucket: "docs"}, Endpoint: hs.URL,
				AccessKeyID: "AK", SecretAccessKey: "SK", PathStyle: true, MaxRetries: 4}
			s, err := filestore.OpenS3(context.Background(), cfg)
			if !tc.ok {
				want := "s3://docs: SlowDown (HTTP 503)"
				if err == nil || err.Error() != want {
					t.Fatalf("OpenS3 = %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var names []string
			for fi, err := range s.List(context.Background(), "") {
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, fi.Name)
			}
			if !cmp.Equal([]string{"uploads/a.pdf"}, names) {
				t.Errorf("List = %v", names)
			}
			r, err := s.Open(context.Background(), "uploads/a.pdf")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil || string(b) != "alpha" {
				t.Errorf("read %q, %v", b, err)
			}
			if fi, err := s.Stat(context.Background(), "uploads/a.pdf"); err != nil || fi.Size != 5 {
				t.Errorf("Stat = %+v, %v", fi, err)
			}
			if _, err := s.Stat(context.Background(), "uploads/zz.pdf"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat missing = %v", err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if got := f.seen["GET /docs/uploads/a.pdf?"]; got != tc.failures+1 {
				t.Errorf("GET attempts = %d, want %d", got, tc.failures+1)
			}
		})
	}
}

func TestResolver(t *testing.T) {
	dir := t.TempDir()
	type res struct {
		Name string
		Kind filestore.Kind
	}
	for _, tc := range []struct {
		root, path string
		want       res
	}{
		{dir, "uploads/member/a.pdf", res{"uploads/member/a.pdf", filestore.InStore}},
		{dir, " uploads/./member//a.pdf ", res{"uploads/member/a.pdf", filestore.InStore}},
		{dir, filepath.Join(dir, "uploads/a.pdf"), res{"uploads/a.pdf", filestore.InStore}},
		{dir, "/elsewhere/uploads/a.pdf", res{"", filestore.Outside}},
		{dir, "../a.pdf", res{"", filestore.Outside}},
		{dir, "uploads/../../a.pdf", res{"", filestore.Outside}},
		{dir, dir, res{"", filestore.Outside}},
		{dir, "", res{"", filestore.Empty}},
		{dir, "  ", res{"", filestore.Empty}},
		{dir, "https://cdn.example/a.pdf", res{"", filestore.Remote}},
		{dir, "S3://docs/a.pdf", res{"", filestore.Remote}},
		{dir, "HTTP://files.example.org/a.pdf", res{"", filestore.Remote}},
		{dir, ".", res{"", filestore.Outside}},
		{"/srv/files", "/srv/files/uploads/a.pdf", res{"uploads/a.pdf", filestore.InStore}},
		{"/srv/files", "/srv/filesx/a.pdf", res{"", filestore.Outside}},
		{"/srv/files", "/etc/passwd", res{"", filestore.Outside}},
		{"s3://docs", "uploads/a.pdf", res{"uploads/a.pdf", filestore.InStore}},
		{"s3://docs", "s3://docs/uploads/a.pdf", res{"uploads/a.pdf", filestore.InStore}},
		{"s3://docs/uploads", "s3://docs/uploads/a.pdf", res{"a.pdf", filestore.InStore}},
		{"s3://docs/uploads", "s3://docs/other/a.pdf", res{"", filestore.Remote}},
		{"s3://docs", "s3://other/a.pdf", res{"", filestore.Remote}},
		{"s3://docs", "/uploads/a.pdf", res{"", filestore.Outside}},
		{"s3://docs", "../a.pdf", res{"", filestore.Outside}},
	} {
		n, k := filestore.NewResolver(tc.root).Resolve(tc.path)
		if got := (res{n, k}); got != tc.want {
			t.Errorf("Resolve(%q) at %q = %+v, want %+v", tc.path, tc.root, got, tc.want)
		}
	}
}

// TestResumeBrokenGET: a GET whose connection breaks part-way resumes with
// a ranged GET of the same ETag, and the reader sees the whole body.
func TestResumeBrokenGET(t *testing.T) {
	body := "0123456789abcdefghij"
	var mu sync.Mutex
	var ranges []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("list-type") == "2" {
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>docs</Name><KeyCount>0</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`)
			return
		}
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range")+" "+r.Header.Get("If-Match"))
		first := len(ranges) == 1
		mu.Unlock()
		w.Header().Set("ETag", `"e1"`)
		w.Header().Set("Last-Modified", "Fri, 02 Jan 2026 03:04:05 GMT")
		if first { // promise everything, send half, hang up
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, body[:8])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 8-%d/%d", len(body)-1, len(body)))
		w.Header().Set("Content-Length", strconv.Itoa(len(body)-8))
		w.WriteHeader(http.StatusPartialContent)
		io.WriteString(w, body[8:])
	}))
	defer hs.Close()
	s, err := filestore.OpenS3(context.Background(), filestore.S3Config{S3Location: filestore.S3Location{Bucket: "docs"},
		Endpoint: hs.URL, AccessKeyID: "AK", SecretAccessKey: "SK", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Open(context.Background(), "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(b) != body {
		t.Fatalf("read %q, %v; want %q", b, err, body)
	}
	if d := cmp.Diff([]string{" ", `bytes=8- "e1"`}, ranges); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
}

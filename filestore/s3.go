package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Location is the bucket and key prefix of an s3:// root.
type S3Location struct {
	// Bucket is the bucket's name.
	Bucket string
	// Prefix is the key prefix every name lives under, without leading or
	// trailing slash; empty for the whole bucket.
	Prefix string
}

// String returns the location as an s3:// URL.
func (l S3Location) String() string {
	if l.Prefix == "" {
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + l.Prefix
}

// IsS3 reports whether root is an s3:// URL (in any letter case).
func IsS3(root string) bool { return hasPrefixFold(strings.TrimSpace(root), "s3://") }

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ParseS3URL parses "s3://BUCKET[/PREFIX]". The bucket must be a valid
// S3 bucket name; the prefix is cleaned of surrounding slashes and may
// not contain "." or ".." segments.
func ParseS3URL(root string) (S3Location, error) {
	root = strings.TrimSpace(root)
	if !IsS3(root) {
		return S3Location{}, fmt.Errorf("%q is not an s3:// URL", root)
	}
	rest := root[len("s3://"):]
	bucket, prefix, _ := strings.Cut(rest, "/")
	if !bucketName.MatchString(bucket) || strings.Contains(bucket, "..") {
		return S3Location{}, fmt.Errorf("s3://%s: bad bucket name %q (3-63 lower-case letters, digits, dots and hyphens)", bucket, bucket)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" && !fs.ValidPath(prefix) {
		return S3Location{}, fmt.Errorf("s3://%s/%s: bad key prefix", bucket, prefix)
	}
	return S3Location{Bucket: bucket, Prefix: prefix}, nil
}

// S3Config says where an S3-compatible store is and how to sign in. Its
// String method never shows a secret.
type S3Config struct {
	S3Location
	// Endpoint is the server's URL ("http://127.0.0.1:9000",
	// "https://s3.us-west-004.backblazeb2.com"); AWS S3 when empty.
	Endpoint string
	// Region signs the requests; "us-east-1" when empty.
	Region string
	// AccessKeyID, SecretAccessKey and SessionToken are static
	// credentials. When AccessKeyID is empty the shared credentials file
	// is read instead (Profile, CredentialsFile).
	AccessKeyID, SecretAccessKey, SessionToken string
	// Profile names the shared-credentials profile; "default" when empty.
	Profile string
	// CredentialsFile is the shared credentials file; ~/.aws/credentials
	// when empty.
	CredentialsFile string
	// PathStyle addresses buckets as ENDPOINT/BUCKET rather than
	// BUCKET.ENDPOINT; [S3ConfigFromEnv] sets it when an endpoint is given,
	// as MinIO, versitygw and most compatible servers need.
	PathStyle bool
	// MaxRetries bounds the attempts of one request that fails with a
	// network error, 503 SlowDown or another 5xx, with exponential backoff
	// and jitter between them (200 ms doubling, capped at 1 s); 10 when
	// zero.
	MaxRetries int
	// Transport carries the requests; a tuned http.Transport when nil.
	Transport http.RoundTripper
}

// String describes the configuration without secrets.
func (c S3Config) String() string {
	ep := c.Endpoint
	if ep == "" {
		ep = "AWS"
	}
	return fmt.Sprintf("%s (endpoint %s, region %s)", c.S3Location, redactURL(ep), c.region())
}

func (c S3Config) region() string {
	if c.Region == "" {
		return "us-east-1"
	}
	return c.Region
}

// S3ConfigFromEnv builds the configuration of root ("s3://BUCKET[/PREFIX]")
// from the variables the AWS SDKs and CLI read, looked up with getenv:
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION
// (then AWS_DEFAULT_REGION; us-east-1 when neither), AWS_ENDPOINT_URL_S3
// (then AWS_ENDPOINT_URL; path-style addressing when set), AWS_PROFILE and
// AWS_SHARED_CREDENTIALS_FILE.
func S3ConfigFromEnv(root string, getenv func(string) string) (S3Config, error) {
	loc, err := ParseS3URL(root)
	if err != nil {
		return S3Config{}, err
	}
	c := S3Config{
		S3Location:      loc,
		AccessKeyID:     getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    getenv("AWS_SESSION_TOKEN"),
		Region:          first(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION")),
		Endpoint:        first(getenv("AWS_ENDPOINT_URL_S3"), getenv("AWS_ENDPOINT_URL")),
		Profile:         getenv("AWS_PROFILE"),
		CredentialsFile: getenv("AWS_SHARED_CREDENTIALS_FILE"),
	}
	c.PathStyle = c.Endpoint != ""
	switch {
	case c.AccessKeyID != "" && c.SecretAccessKey == "":
		return S3Config{}, fmt.Errorf("%s: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not", loc)
	case c.AccessKeyID == "" && c.SecretAccessKey != "":
		return S3Config{}, fmt.Errorf("%s: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not", loc)
	}
	return c, nil
}

func first(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// redactURL drops any user information from an endpoint URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

// S3 is a store in an S3-compatible bucket. Names are object keys below
// the configured prefix; objects whose key ends in "/" (folder markers) are
// not files.
type S3 struct {
	cfg  S3Config
	core minio.Core
	root string
	tr   *http.Transport // ours to close; nil when the caller gave one
}

// newClient builds the minio client of cfg with retries bounded by
// maxRetries, and returns the transport it made (nil when cfg has one).
func newClient(cfg S3Config, maxRetries int) (*minio.Client, *http.Transport, error) {
	secure, host := true, "s3.amazonaws.com"
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, nil, fmt.Errorf("%s: bad endpoint URL %q (want http://HOST[:PORT] or https://…)", cfg.S3Location, redactURL(cfg.Endpoint))
		}
		if u.Path != "" && u.Path != "/" {
			return nil, nil, fmt.Errorf("%s: endpoint URL %q must not have a path", cfg.S3Location, redactURL(cfg.Endpoint))
		}
		secure, host = u.Scheme == "https", u.Host
	}
	var creds *credentials.Credentials
	switch {
	case cfg.AccessKeyID != "":
		creds = credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)
	default:
		profile := first(cfg.Profile, "default")
		creds = credentials.NewFileAWSCredentials(cfg.CredentialsFile, profile)
		v, err := creds.GetWithContext(nil)
		if err == nil && v.AccessKeyID == "" {
			err = errors.New("no aws_access_key_id in it")
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a shared credentials file (profile %q: %s)",
				cfg.S3Location, profile, credError(err))
		}
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	var own *http.Transport
	tr := cfg.Transport
	if tr == nil {
		t, err := minio.DefaultTransport(secure)
		if err != nil {
			return nil, nil, err
		}
		t.MaxIdleConnsPerHost = 64
		tr, own = t, t
	}
	c, err := minio.New(host, &minio.Options{
		Creds: creds, Secure: secure, Region: cfg.region(), BucketLookup: lookup,
		Transport: tr, MaxRetries: maxRetries,
	})
	return c, own, err
}

// credError shortens a shared-credentials error to its cause, without the
// file's contents.
func credError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}

// OpenS3 connects to the bucket of cfg and proves it usable by listing one
// key under the prefix: wrong credentials, a missing bucket and an
// unreachable endpoint are reported here, in one line without secrets,
// before anything reads or writes the store. The check makes at most three
// attempts and gives up after 20 s.
func OpenS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 10
	}
	c, tr, err := newClient(cfg, cfg.MaxRetries)
	if err != nil {
		return nil, err
	}
	s := &S3{cfg: cfg, core: minio.Core{Client: c}, root: cfg.S3Location.String(), tr: tr}
	probe, ptr, err := newClient(cfg, 3)
	if err != nil {
		return nil, err
	}
	if ptr != nil {
		defer ptr.CloseIdleConnections()
	}
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	// The first answer is enough; cancel stops the listing.
	objs := probe.ListObjects(pctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: s.key(""), MaxKeys: 1})
	if o, ok := <-objs; ok && o.Err != nil {
		cancel()
		s.Close()
		return nil, s.explain(o.Err, "")
	}
	return s, nil
}

// Root returns the store's s3:// URL.
func (s *S3) Root() string { return s.root }

// Close closes the store's idle connections.
func (s *S3) Close() error {
	if s.tr != nil {
		s.tr.CloseIdleConnections()
	}
	return nil
}

// key is the object key of name.
func (s *S3) key(name string) string {
	if s.cfg.Prefix == "" {
		return name
	}
	return s.cfg.Prefix + "/" + name
}

// explain turns a client error into one line naming the store, the object
// (when name is set) and the cause, without secrets. A missing object
// matches fs.ErrNotExist.
func (s *S3) explain(err error, name string) error {
	where := s.root
	if name != "" {
		where += ": " + name
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", where, err)
	}
	er := minio.ToErrorResponse(err)
	switch er.Code {
	case "NoSuchKey":
		return fmt.Errorf("%s: %w", where, fs.ErrNotExist)
	case "NoSuchBucket":
		return fmt.Errorf("%s: bucket %q does not exist at %s", s.root, s.cfg.Bucket, s.endpoint())
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "TokenRefreshRequired",
		"XAdminUserNotFound": // versitygw's answer to an unknown access key
		return fmt.Errorf("%s: the server refused the credentials (%s): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN", s.root, er.Code)
	case "AccessDenied", "AllAccessDisabled":
		return fmt.Errorf("%s: access denied (%s): the credentials may not list or read this bucket", where, er.Code)
	case "":
	default:
		if er.StatusCode == http.StatusNotFound && name != "" {
			return fmt.Errorf("%s: %w", where, fs.ErrNotExist)
		}
		return fmt.Errorf("%s: %s (HTTP %d)", where, er.Code, er.StatusCode)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: cannot reach %s: %s", where, s.endpoint(), netCause(ue.Err))
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("%s: cannot reach %s: %s", where, s.endpoint(), netCause(ne))
	}
	if er.StatusCode == http.StatusNotFound && name != "" {
		return fmt.Errorf("%s: %w", where, fs.ErrNotExist)
	}
	return fmt.Errorf("%s: %s", where, err.Error())
}

func (s *S3) endpoint() string {
	if s.cfg.Endpoint == "" {
		return "AWS S3"
	}
	return redactURL(s.cfg.Endpoint)
}

// netCause is the innermost part of a network error, which names neither
// the request URL nor anything signed.
func netCause(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Op + ": " + oe.Err.Error()
	}
	return err.Error()
}

// Stat describes the object name (one HEAD request).
func (s *S3) Stat(ctx context.Context, name string) (Info, error) {
	if err := checkName(name); err != nil {
		return Info{}, err
	}
	oi, err := s.core.StatObject(ctx, s.cfg.Bucket, s.key(name), minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.explain(err, name)
	}
	return Info{Name: name, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Open starts a GET of the object name; the body streams as it is read.
// A read that fails part-way resumes with a ranged GET of the same version
// (matched by ETag), up to three times.
func (s *S3) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	body, oi, _, err := s.core.GetObject(ctx, s.cfg.Bucket, s.key(name), minio.GetObjectOptions{})
	if err != nil {
		return nil, s.explain(err, name)
	}
	return &s3Reader{s: s, ctx: ctx, name: name, body: body, etag: oi.ETag, size: oi.Size}, nil
}

// s3Reader is an object body that resumes after a broken connection.
type s3Reader struct {
	s       *S3
	ctx     context.Context
	name    string
	body    io.ReadCloser
	etag    string
	size    int64
	off     int64
	resumes int
}

func (r *s3Reader) Read(p []byte) (int, error) {
	for {
		n, err := r.body.Read(p)
		r.off += int64(n)
		if err == io.EOF && r.off < r.size {
			err = io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF && r.off >= r.size {
			err = io.EOF // every byte arrived; the connection broke after
		}
		if err == nil || err == io.EOF {
			return n, err
		}
		if rerr := r.resume(err); rerr != nil {
			return n, rerr
		}
		if n > 0 {
			return n, nil
		}
	}
}

// resume replaces a broken body by a ranged GET from the current offset,
// or returns why it cannot.
func (r *s3Reader) resume(cause error) error {
	if r.resumes >= 3 || r.ctx.Err() != nil {
		return r.s.explain(cause, r.name)
	}
	r.resumes++
	r.body.Close()
	r.body = io.NopCloser(bytes.NewReader(nil))
	opt := minio.GetObjectOptions{}
	if r.etag != "" {
		if err := opt.SetMatchETag(r.etag); err != nil {
			return err
		}
	}
	if err := opt.SetRange(r.off, 0); err != nil {
		return err
	}
	body, _, _, err := r.s.core.GetObject(r.ctx, r.s.cfg.Bucket, r.s.key(r.name), opt)
	if err != nil {
		return r.s.explain(err, r.name)
	}
	r.body = body
	return nil
}

func (r *s3Reader) Close() error { return r.body.Close() }

// Listing in parallel. One paginated LIST is a chain: the server builds a
// page, the client parses it, and only then can the next page be asked for
// (its continuation token is in the page), so the two CPU costs add up. List
// therefore splits the prefix into its folders, s3ListDepth levels down, with
// cheap delimited listings and pages through up to s3ListWorkers folders at
// once, so that one folder's page is parsed while another's is built.
const (
	s3ListWorkers = 4
	s3ListDepth   = 2
)

// List yields the keys under the prefix (ListObjectsV2, 1,000 keys a page;
// each page retried like any request), folder by folder in parallel: see
// s3ListWorkers. The order is unspecified, as the [Store] contract allows.
func (s *S3) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		base := s.key("")
		out := make(chan Info, 1024)
		errc := make(chan error, 1)
		fail := func(err error) {
			select {
			case errc <- err:
			default:
			}
			cancel()
		}
		sem := make(chan struct{}, s3ListWorkers)
		var wg sync.WaitGroup
		var walk func(p string, depth int)
		walk = func(p string, depth int) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			recursive := depth >= s3ListDepth
			ch := s.core.Client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: p, Recursive: recursive})
			defer func() {
				for range ch {
				}
			}()
			for o := range ch {
				if o.Err != nil {
					fail(s.explain(o.Err, ""))
					return
				}
				if strings.HasSuffix(o.Key, "/") {
					if !recursive && o.Key != p && strings.HasPrefix(o.Key, p) {
						wg.Add(1)
						go walk(o.Key, depth+1)
					}
					continue
				}
				if !strings.HasPrefix(o.Key, base) {
					continue
				}
				select {
				case out <- Info{Name: o.Key[len(base):], Size: o.Size, ModTime: o.LastModified}:
				case <-ctx.Done():
					return
				}
			}
		}
		wg.Add(1)
		go walk(base+prefix, 0)
		go func() {
			wg.Wait()
			close(out)
		}()
		stopped := false
		for fi := range out {
			if !yield(fi, nil) {
				stopped = true
				cancel()
				break
			}
		}
		if stopped {
			for range out {
			}
			return
		}
		select {
		case err := <-errc:
			yield(Info{}, err)
			return
		default:
		}
		if err := ctx.Err(); err != nil {
			yield(Info{}, s.explain(err, ""))
		}
	}
}

// maxBuffered is the largest body Put reads into memory so that a failed
// upload can be retried.
const maxBuffered = 16 << 20

// Put uploads size bytes of r as the object name (one PUT, or a multipart
// upload for large objects). A body of at most 16 MiB that cannot seek is
// buffered so that a failed attempt is retried.
func (s *S3) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := checkName(name); err != nil {
		return err
	}
	if _, ok := r.(io.Seeker); !ok && size >= 0 && size <= maxBuffered {
		b, err := io.ReadAll(io.LimitReader(r, size))
		if err != nil {
			return fmt.Errorf("%s: %s: %w", s.root, name, err)
		}
		r = bytes.NewReader(b)
	}
	_, err := s.core.Client.PutObject(ctx, s.cfg.Bucket, s.key(name), r, size,
		minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return s.explain(err, name)
	}
	return nil
}

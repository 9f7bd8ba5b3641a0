// Package s3test starts a real S3-compatible server for tests: versitygw
// with its posix backend, on a random loopback port, stopped in t.Cleanup.
// Each directory under the server's root directory is a bucket and each
// file below it an object, so one tree can be checked both as a local
// directory and through S3.
//
// The binary is found through IP2ADB_VERSITYGW, then PATH, then
// /opt/ip2adb-tools/bin (where .ci/run installs it). When it is missing the
// test is skipped on a developer's machine but fails when the CI
// environment variable is set: CI never skips.
package s3test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ToolsBin is where .ci/run installs versitygw.
const ToolsBin = "/opt/ip2adb-tools/bin"

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's URL, such as http://127.0.0.1:40123.
	Endpoint string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string
	// Dir is the posix backend's root: each directory in it is a bucket.
	Dir string
	// PID is the server process's id (for benchmarks that read its CPU
	// time).
	PID int
}

// Binary returns the path of versitygw, or "" when it cannot be found.
func Binary() string {
	if p := os.Getenv("IP2ADB_VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	p := filepath.Join(ToolsBin, "versitygw")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// Start runs versitygw over dir (a new temporary directory when empty) and
// returns it once it answers; it is stopped when the test ends.
func Start(tb testing.TB, dir string) *Server {
	tb.Helper()
	bin := Binary()
	if bin == "" {
		msg := "versitygw not found (set IP2ADB_VERSITYGW, put it in PATH, or run: GOBIN=" + ToolsBin +
			" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)"
		if os.Getenv("CI") != "" {
			tb.Fatal(msg + "; CI is set, so this fails")
		}
		tb.Skip(msg)
	}
	if dir == "" {
		dir = tb.TempDir()
	}
	s := &Server{AccessKey: "AKIP2ADB" + strings.ToUpper(randomHex(6)), SecretKey: "sk-" + randomHex(16), Dir: dir}
	var lastErr error
	for range 3 { // a port taken between choosing and binding: try another
		addr, err := freePort()
		if err != nil {
			tb.Fatalf("choose a port for versitygw: %v", err)
		}
		var out syncBuffer
		cmd := exec.Command(bin, "--port", addr, "--quiet", "posix", dir)
		cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			tb.Fatalf("start versitygw: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		if err := waitListening(addr, exited); err != nil {
			cmd.Process.Kill()
			<-exited
			lastErr = fmt.Errorf("%v; output: %s", err, strings.TrimSpace(out.String()))
			continue
		}
		tb.Cleanup(func() {
			// Killed outright: a graceful stop waits for idle keep-alive
			// connections, and the data lives in a test's directory.
			cmd.Process.Kill()
			<-exited
		})
		s.Endpoint, s.PID = "http://"+addr, cmd.Process.Pid
		return s
	}
	tb.Fatalf("versitygw did not start: %v", lastErr)
	return nil
}

// Bucket creates the bucket name (a directory under Dir) and returns its
// directory.
func (s *Server) Bucket(tb testing.TB, name string) string {
	tb.Helper()
	d := filepath.Join(s.Dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		tb.Fatalf("create bucket %s: %v", name, err)
	}
	return d
}

// Env returns the AWS variables that reach the server, as a getenv
// function, with extra overriding them ("NAME=value" pairs).
func (s *Server) Env(extra ...string) func(string) string {
	m := map[string]string{
		"AWS_ACCESS_KEY_ID": s.AccessKey, "AWS_SECRET_ACCESS_KEY": s.SecretKey,
		"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": s.Endpoint,
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

// Environ is Env as "NAME=value" pairs for a child process.
func (s *Server) Environ(extra ...string) []string {
	get := s.Env(extra...)
	var out []string
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL"} {
		out = append(out, k+"="+get(k))
	}
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL":
		default:
			out = append(out, kv)
		}
	}
	return out
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitListening(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited")
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("versitygw not listening on %s after 15 s", addr)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// syncBuffer collects a child's output from two pipes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

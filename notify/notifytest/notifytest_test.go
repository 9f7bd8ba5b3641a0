package notifytest_test

import (
	"context"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb/notify"
	"github.com/ip2adb/ip2adb/notify/notifytest"
)

// options are channel options for tests: short waits between attempts
// (still cut short by the context), no Slack pacing.
func options(t *testing.T) notify.ChannelOptions {
	return notify.ChannelOptions{LogDir: t.TempDir(), BaseDelay: time.Millisecond, MaxDelay: time.Millisecond,
		SlackInterval: time.Nanosecond, Timeout: time.Minute}
}

// parse builds the channel of one URL (ParseChannels adds log: first).
func parse(t *testing.T, url string, opt notify.ChannelOptions) notify.Notifier {
	t.Helper()
	chans, err := notify.ParseChannels([]string{url}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return chans[len(chans)-1]
}

// counting is an HTTP endpoint that counts the requests it answers.
func counting(t *testing.T) (*httptest.Server, func() int) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, func() int { return int(n.Load()) }
}

// stalled is an HTTP endpoint that never answers (until the client gives up
// or the test ends).
func stalled(t *testing.T) *httptest.Server {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv
}

// silentTCP accepts connections and never writes: an SMTP server that
// never greets.
func silentTCP(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

type backend struct{ n atomic.Int64 }

func (b *backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{b}, nil }

type session struct{ b *backend }

func (s *session) Mail(string, *smtp.MailOptions) error { return nil }
func (s *session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *session) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.b.n.Add(1)
	return nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

// smtpServer is a plain SMTP server on loopback that counts messages.
func smtpServer(t *testing.T) (string, func() int) {
	be := &backend{}
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().String(), func() int { return int(be.n.Load()) }
}

// logLines counts the notifications in the notification log under dir.
func logLines(t *testing.T, dir string) func() int {
	return func() int {
		n := 0
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			n += strings.Count(string(b), `"type":"notification"`)
			return err
		})
		if err != nil {
			t.Error(err)
		}
		return n
	}
}

// TestShippedChannels runs the suite on every channel ParseChannels builds,
// and on Multi and Named.
func TestShippedChannels(t *testing.T) {
	t.Run("log", func(t *testing.T) {
		opt := options(t)
		notifytest.Run(t, notifytest.Target{Notifier: parse(t, "log:", opt), Received: logLines(t, opt.LogDir)})
	})
	t.Run("webhook", func(t *testing.T) {
		opt := options(t)
		srv, n := counting(t)
		secret := "whsec_c2VjcmV0LXNpZ25pbmcta2V5LTEyMzQ1Njc4"
		notifytest.Run(t, notifytest.Target{
			Notifier: parse(t, srv.URL+"/hooks/ip2adb-token-0123456789?secret="+secret, opt),
			Stalled:  parse(t, stalled(t).URL+"/hooks/ip2adb-token-0123456789?secret="+secret, opt),
			Secrets:  []string{secret, "ip2adb-token-0123456789", "/hooks"},
			Received: n,
		})
	})
	t.Run("slack", func(t *testing.T) {
		opt := options(t)
		srv, n := counting(t)
		path := "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
		notifytest.Run(t, notifytest.Target{
			Notifier: parse(t, "slack:"+srv.URL+path, opt),
			Stalled:  parse(t, "slack:"+stalled(t).URL+path, opt),
			Secrets:  []string{path, "XXXXXXXXXXXXXXXXXXXXXXXX"},
			Received: n,
		})
	})
	t.Run("smtp", func(t *testing.T) {
		opt := options(t)
		addr, n := smtpServer(t)
		notifytest.Run(t, notifytest.Target{
			Notifier: parse(t, "smtp://"+addr+"/?from=ip2adb@local46.org&to=dba@local46.org", opt),
			Stalled:  parse(t, "smtp://"+silentTCP(t)+"/?from=ip2adb@local46.org&to=dba@local46.org", opt),
			Received: n,
		})
	})
	t.Run("multi", func(t *testing.T) {
		opt := options(t)
		srv, n := counting(t)
		notifytest.Run(t, notifytest.Target{
			Notifier: notify.Multi{parse(t, "log:", opt), parse(t, srv.URL+"/a", opt)},
			Stalled:  notify.Multi{parse(t, "log:", opt), parse(t, stalled(t).URL+"/a", opt)},
			Received: n,
		})
	})
	t.Run("named", func(t *testing.T) {
		opt := options(t)
		notifytest.Run(t, notifytest.Target{Notifier: notify.Named("audit", parse(t, "log:", opt)), Received: logLines(t, opt.LogDir)})
	})
}

// broken breaks the contract in the ways the suite must catch.
type broken struct{ name string }

func (b broken) Name() string { return b.name }
func (b broken) Notify(ctx context.Context, n notify.Notification) error {
	return nil // ignores ctx, delivers nothing
}

func TestViolations(t *testing.T) {
	var got int
	err := notifytest.Verify(context.Background(), notifytest.Target{
		Notifier: broken{"https://hooks.example.org/s3cret"},
		Secrets:  []string{"s3cret"},
		Received: func() int { return got },
	})
	want := `Name() "https://hooks.example.org/s3cret" holds a URL
Name() "https://hooks.example.org/s3cret" holds one of the channel's secrets
Notify: the endpoint received 0 notifications, want 1
8 concurrent Notify calls: the endpoint received 0 notifications, want 8
Notify with an expired deadline: error <nil>, want one wrapping context.DeadlineExceeded
Notify with a cancelled context returned no error`
	if err == nil {
		t.Fatal("Verify found nothing")
	}
	if d := cmp.Diff(want, err.Error()); d != "" {
		t.Errorf("Verify (-want +got):\n%s", d)
	}
}

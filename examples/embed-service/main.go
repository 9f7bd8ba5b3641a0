// Command embed-service shows how a Go service embeds ip2adb's auto-heal
// cycle through the library: it opens its own database handle, builds its
// own slog-backed logger, runs heal.Cycle on a schedule (checks, journaled
// repairs, notifications through the log channel and any -notify URL,
// history under -log-dir) and serves the last result as JSON over HTTP.
//
//	go run ./examples/embed-service -db sqlite:ip2adb.db -every 1h
//	curl http://127.0.0.1:8089/          # the last run (DESIGN.md's JSON plus when/error)
//	curl http://127.0.0.1:8089/healthz   # 200 when the last run found no critical issue
//
// It listens on 127.0.0.1 by default; put it behind your own auth before
// exposing it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/ip2adb/ip2adb/dburl"
	_ "github.com/ip2adb/ip2adb/dburl/postgres" // registers the PostgreSQL driver
	_ "github.com/ip2adb/ip2adb/dburl/sqlite"   // registers the SQLite driver
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/notify"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "embed-service:", err)
		os.Exit(1)
	}
}

func run() error {
	dbURL := flag.String("db", "sqlite:ip2adb.db", "database: postgres://… or sqlite:PATH")
	listen := flag.String("listen", "127.0.0.1:8089", "HTTP listen address")
	every := flag.Duration("every", time.Hour, "how often to run the auto-heal cycle")
	logDir := flag.String("log-dir", "logs", "history and notification log directory")
	filesRoot := flag.String("files-root", ".", "attachment paths are relative to this directory")
	noFiles := flag.Bool("no-files", false, "skip the file-store check")
	dryRun := flag.Bool("dry-run", false, "execute repairs and roll back")
	var notifyURLs multiFlag
	flag.Var(&notifyURLs, "notify", "notification channel URL (repeatable), e.g. slack:https://hooks.slack.com/services/…")
	flag.Parse()
	if *every <= 0 {
		return errors.New("-every must be positive")
	}

	// The service's own logger: JSON lines on stderr, handed to the library
	// as a logr.Logger.
	log := logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	// A missing SQLite file is created (an empty database: the first run
	// then reports that none of the IP2A tables exists).
	db, err := dburl.Open(context.Background(), *dbURL, dburl.WithCreate())
	if err != nil {
		return err
	}
	defer db.Close()
	chans, err := notify.ParseChannels(notifyURLs, notify.ChannelOptions{LogDir: *logDir, Log: log})
	if err != nil {
		return err
	}
	svc := &service{
		cycle: &heal.Cycle{
			DB:      db,
			Checks:  ip2a.Rules(ip2a.RuleOptions{FilesRoot: *filesRoot, NoFiles: *noFiles}),
			DryRun:  *dryRun,
			Alerter: &notify.Manager{Channels: chans, StateDir: *logDir, Log: log},
			LogDir:  *logDir,
			Log:     log,
		},
		log: log,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: svc, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	go svc.schedule(ctx, *every)
	log.Info("serving the last auto-heal result", "addr", ln.Addr().String(), "every", every.String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// service runs the cycle and remembers the last outcome.
type service struct {
	cycle *heal.Cycle
	log   logr.Logger

	mu   sync.Mutex
	last *outcome
}

// outcome is what the HTTP endpoint serves.
type outcome struct {
	FinishedAt time.Time    `json:"finished_at"`
	Error      string       `json:"error,omitempty"`
	Result     *heal.Result `json:"result,omitempty"`
}

// schedule runs the cycle now and then every interval until ctx ends.
func (s *service) schedule(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.runOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runOnce runs one cycle and records its outcome. A run that finds the lock
// taken (another instance, or the CLI from cron) is recorded as an error and
// retried at the next tick.
func (s *service) runOnce(ctx context.Context) {
	res, err := s.cycle.Run(ctx)
	o := &outcome{FinishedAt: time.Now().UTC()}
	if err != nil {
		o.Error = err.Error()
		s.log.Error(err, "auto-heal run failed", "run", res.RunID)
	} else {
		o.Result = &res
		s.log.Info("auto-heal run", "run", res.RunID, "fixed", res.Summary.Fixed,
			"remaining", res.Summary.Remaining, "critical", res.Summary.Critical)
	}
	s.mu.Lock()
	s.last = o
	s.mu.Unlock()
}

// ServeHTTP serves "/" (the last outcome as JSON; 503 before the first run)
// and "/healthz" (200 when the last run succeeded without critical issues,
// else 503).
func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	last := s.last
	s.mu.Unlock()
	switch r.URL.Path {
	case "/":
		w.Header().Set("Content-Type", "application/json")
		if last == nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]string{"error": "no run yet"})
			return
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(last)
	case "/healthz":
		if last == nil || last.Error != "" || last.Result.HasCritical() {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	default:
		http.NotFound(w, r)
	}
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

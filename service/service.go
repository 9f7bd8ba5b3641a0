package service

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/resilience"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"
)

// Defaults of [Config].
const (
	DefaultListen             = "127.0.0.1:8080"
	DefaultHealSchedule       = "@daily"
	DefaultResilienceSchedule = "@weekly"
	// MinTokenLength is the shortest accepted auth token.
	MinTokenLength = 16
	// StopTimeout bounds how long Serve waits, once asked to stop, for the
	// cancelled runs and the open requests to end.
	StopTimeout = 8 * time.Second
)

// Config configures a [Service]. Connect, Heal, Resilience and LogDir are
// required; every other field has the documented default.
type Config struct {
	// Connect opens the database. The service calls it until it succeeds,
	// waiting longer between tries (RetryMin doubling up to RetryMax);
	// until then /readyz answers 503 with the error and scheduled runs are
	// skipped. The service closes the handle when it stops.
	Connect func(ctx context.Context) (*sqlx.DB, error)
	// Heal is one auto-heal run on db (the command line's auto-heal). It
	// must honour ctx: a cancelled run rolls back.
	Heal func(ctx context.Context, db *sqlx.DB) (heal.Result, error)
	// Resilience is one resilience report on db.
	Resilience func(ctx context.Context, db *sqlx.DB) (resilience.Report, error)

	// HealSchedule and ResilienceSchedule are cron expressions (five
	// fields) or descriptors such as @daily, @weekly or @every 6h; the
	// defaults are DefaultHealSchedule and DefaultResilienceSchedule.
	HealSchedule, ResilienceSchedule string

	// LogDir is the log dir: the state (status/state.json), the auto-heal
	// history and the growth history are read from it.
	LogDir string
	// MetricsFile, when set, is rewritten (node_exporter textfile format)
	// after every run.
	MetricsFile string

	// Listen is the address the HTTP server listens on (DefaultListen when
	// empty); its host is one the Host check accepts.
	Listen string
	// AuthToken protects / and /api (Bearer, or the password of HTTP Basic
	// authentication on /). Empty: / is open (loopback only, see
	// CheckListen) and /api is disabled (404).
	AuthToken string
	// AllowedHosts are further host names the Host check accepts on / and
	// /api (IP literals, localhost and the listen host always pass).
	AllowedHosts []string

	// Info is shown on the status page.
	Info PageInfo
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives what the service does; the zero value discards.
	Log logr.Logger
	// RetryMin and RetryMax bound the wait between connection attempts
	// (1 s and 30 s when zero).
	RetryMin, RetryMax time.Duration
}

// PageInfo names what the status page is about. Never put a secret here:
// Database must be redacted.
type PageInfo struct {
	Database    string // the database, redacted
	Environment string // development, test or production
	Version     string // ip2adb's version
}

// CheckListen validates a listen address against the security rule: a
// listener that is not loopback needs an auth token, because the status
// page shows members' data. The token must be at least MinTokenLength
// characters. Every error is a *[ConfigError].
func CheckListen(listen, token string) (err error) {
	defer func() {
		if err != nil {
			err = &ConfigError{Err: err}
		}
	}()
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("listen address %q: want HOST:PORT, such as %s", listen, DefaultListen)
	}
	if port == "" {
		return fmt.Errorf("listen address %q has no port", listen)
	}
	if token != "" && len(token) < MinTokenLength {
		return fmt.Errorf("the auth token must be at least %d characters", MinTokenLength)
	}
	if !loopbackHost(host) && token == "" {
		return fmt.Errorf("refusing to listen on %s without an auth token: only a loopback address (127.0.0.1, ::1, localhost) may serve the status page openly", listen)
	}
	return nil
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseSchedule validates a schedule: a five-field cron expression or a
// descriptor (@hourly, @daily, @weekly, @monthly, @every DURATION).
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %v (want a cron expression such as \"0 2 * * *\" or @daily, @weekly, @every 6h)", spec, err)
	}
	return s, nil
}

// Service runs auto-heal and resilience on schedules and serves /healthz,
// /readyz, /metrics, the status page at / and POST /api/runs. Create it
// with [New] and run it with [Service.Serve].
type Service struct {
	cfg   Config
	store Store
	reg   *prometheus.Registry
	now   func() time.Time

	sched        *cron.Cron
	healEntry    cron.EntryID
	resEntry     cron.EntryID
	healSchedule cron.Schedule
	resSchedule  cron.Schedule

	mu      sync.Mutex
	db      *sqlx.DB
	dbErr   error
	runCtx  context.Context
	stopped bool
	runs    sync.WaitGroup
	busy    map[string]*sync.Mutex
}

// New validates cfg and returns the service. A Config it refuses is a
// *[ConfigError].
func New(cfg Config) (_ *Service, err error) {
	defer func() {
		var ce *ConfigError
		if err != nil && !errors.As(err, &ce) {
			err = &ConfigError{Err: err}
		}
	}()
	switch {
	case cfg.Connect == nil:
		return nil, errors.New("service: Config.Connect is nil")
	case cfg.Heal == nil:
		return nil, errors.New("service: Config.Heal is nil")
	case cfg.Resilience == nil:
		return nil, errors.New("service: Config.Resilience is nil")
	case cfg.LogDir == "":
		return nil, errors.New("service: Config.LogDir is empty")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.HealSchedule == "" {
		cfg.HealSchedule = DefaultHealSchedule
	}
	if cfg.ResilienceSchedule == "" {
		cfg.ResilienceSchedule = DefaultResilienceSchedule
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(30*time.Second, cfg.RetryMin)
	}
	if err := CheckListen(cfg.Listen, cfg.AuthToken); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, store: Store{LogDir: cfg.LogDir}, now: cfg.Now,
		busy: map[string]*sync.Mutex{KindHeal: {}, KindResilience: {}}, runCtx: context.Background()}
	if s.now == nil {
		s.now = time.Now
	}
	if s.healSchedule, err = ParseSchedule(cfg.HealSchedule); err != nil {
		return nil, fmt.Errorf("heal %w", err)
	}
	if s.resSchedule, err = ParseSchedule(cfg.ResilienceSchedule); err != nil {
		return nil, fmt.Errorf("resilience %w", err)
	}
	s.reg = NewRegistry(s.store, true)
	s.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ip2adb_database_up",
		Help: "1 when the service is connected to the database and it answered the last readiness probe.",
	}, func() float64 { return b2f(s.ready(context.Background()) == nil) }))
	s.sched = cron.New(cron.WithLocation(time.UTC))
	s.healEntry = s.sched.Schedule(s.healSchedule, cron.FuncJob(func() { s.scheduled(KindHeal) }))
	s.resEntry = s.sched.Schedule(s.resSchedule, cron.FuncJob(func() { s.scheduled(KindResilience) }))
	return s, nil
}

func registerRuntime(reg *prometheus.Registry) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Registry is the registry /metrics serves: the ip2adb_* metrics,
// ip2adb_database_up, and the process and Go collectors.
func (s *Service) Registry() *prometheus.Registry { return s.reg }

// Serve serves HTTP on ln and runs the schedules until ctx is done. Then it
// stops scheduling, cancels the runs in flight (their transactions roll
// back and they release the run lock), waits for them and for open
// requests (at most StopTimeout), closes the database and returns nil. It
// returns an error only when serving fails.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	runCtx, cancelRuns := context.WithCancel(ctx)
	defer cancelRuns()
	s.mu.Lock()
	s.runCtx = runCtx
	s.mu.Unlock()

	connected := make(chan struct{})
	go func() {
		defer close(connected)
		s.connect(runCtx)
	}()
	s.sched.Start()
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return runCtx }}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.cfg.Log.Info("serving", "address", ln.Addr().String(),
		"heal_schedule", s.cfg.HealSchedule, "resilience_schedule", s.cfg.ResilienceSchedule)
	s.writeMetricsFile()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	s.cfg.Log.Info("stopping: no new runs, cancelling the runs in flight")
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.sched.Stop()
	cancelRuns()
	deadline := time.Now().Add(StopTimeout)
	done := make(chan struct{})
	go func() {
		s.runs.Wait()
		<-connected
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Until(deadline)):
		s.cfg.Log.Error(errors.New("timeout"), "runs still in flight at shutdown")
	}
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && serveErr == nil {
		s.cfg.Log.Error(err, "shut down the HTTP server")
		srv.Close()
	}
	s.mu.Lock()
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
	s.mu.Unlock()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return nil
}

// connect calls Connect until it succeeds or ctx ends.
func (s *Service) connect(ctx context.Context) {
	wait := s.cfg.RetryMin
	for {
		db, err := s.cfg.Connect(ctx)
		s.mu.Lock()
		if err == nil {
			s.db, s.dbErr = db, nil
			s.mu.Unlock()
			s.cfg.Log.Info("connected to the database")
			return
		}
		first := s.dbErr == nil || s.dbErr.Error() != err.Error()
		s.dbErr = err
		s.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if first {
			s.cfg.Log.Error(err, "database unreachable; retrying", "every_up_to", s.cfg.RetryMax)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, s.cfg.RetryMax)
	}
}

// ready reports why the service is not ready: no database yet, or the
// database did not answer a ping within 3 seconds.
func (s *Service) ready(ctx context.Context) error {
	s.mu.Lock()
	db, dbErr := s.db, s.dbErr
	s.mu.Unlock()
	if db == nil {
		if dbErr == nil {
			return errors.New("connecting to the database")
		}
		return fmt.Errorf("database unreachable: %w", dbErr)
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	return nil
}

// errSkipped marks a run that did not happen.
type errSkipped struct{ reason string }

func (e errSkipped) Error() string {
	switch e.reason {
	case SkipLocked:
		return "skipped: another run holds the lock"
	case SkipRunning:
		return "skipped: a run of this kind is already running"
	case SkipUnreachable:
		return "skipped: the database is not connected"
	}
	return "skipped: the service is stopping"
}

// scheduled is the job of a schedule.
func (s *Service) scheduled(kind string) {
	s.mu.Lock()
	ctx := s.runCtx
	s.mu.Unlock()
	if _, err := s.Run(ctx, kind, "schedule"); err != nil {
		var sk errSkipped
		if errors.As(err, &sk) {
			s.cfg.Log.Info("scheduled run "+sk.Error(), "kind", kind, "reason", sk.reason)
			return
		}
		s.cfg.Log.Error(err, "scheduled run failed", "kind", kind)
	}
}

// Run runs one heal (kind "heal") or resilience run now and records it in
// the state; trigger names what started it ("schedule", "api"). It returns
// the run's report (a heal.Result or a resilience.Report). A run that
// cannot start — another run holds the lock, a run of the same kind is
// running, the database is not connected yet, the service is stopping — is
// counted in ip2adb_runs_skipped_total and returns an error saying so.
func (s *Service) Run(ctx context.Context, kind, trigger string) (any, error) {
	if kind != KindHeal && kind != KindResilience {
		return nil, fmt.Errorf("unknown run kind %q (want heal or resilience)", kind)
	}
	s.mu.Lock()
	db, stopped := s.db, s.stopped
	if !stopped && ctx.Err() == nil {
		s.runs.Add(1)
	}
	s.mu.Unlock()
	if stopped || ctx.Err() != nil {
		return nil, s.skip(kind, SkipShutdown)
	}
	defer s.runs.Done()
	if db == nil {
		return nil, s.skip(kind, SkipUnreachable)
	}
	mu := s.busy[kind]
	if !mu.TryLock() {
		return nil, s.skip(kind, SkipRunning)
	}
	defer mu.Unlock()
	defer s.writeMetricsFile()
	if kind == KindHeal {
		res, err := s.cfg.Heal(ctx, db)
		s.update(func(st *State) { st.RecordHeal(KindHeal, trigger, res, err) })
		if errors.Is(err, heal.ErrLocked) {
			return nil, errSkipped{SkipLocked}
		}
		if err != nil {
			return res, err
		}
		s.cfg.Log.Info("heal run done", "run", res.RunID, "trigger", trigger, "fixed", res.Summary.Fixed, "remaining", res.Summary.Remaining)
		return res, nil
	}
	start := s.now()
	rep, err := s.cfg.Resilience(ctx, db)
	if err == nil {
		err = ctx.Err()
	}
	dur := s.now().Sub(start)
	if rep.Time.IsZero() {
		rep.Time = start
	}
	s.update(func(st *State) { st.RecordResilience(trigger, rep, dur, err) })
	if err != nil {
		return rep, err
	}
	s.cfg.Log.Info("resilience report done", "trigger", trigger, "critical", rep.Summary.Critical, "warning", rep.Summary.Warning)
	return rep, nil
}

func (s *Service) skip(kind, reason string) error {
	s.update(func(st *State) { st.RecordSkip(kind, reason) })
	s.writeMetricsFile()
	return errSkipped{reason}
}

func (s *Service) update(fn func(*State)) {
	if err := s.store.Update(fn); err != nil {
		s.cfg.Log.Error(err, "update the state")
	}
}

func (s *Service) writeMetricsFile() {
	if s.cfg.MetricsFile == "" {
		return
	}
	if err := WriteMetricsFile(s.cfg.MetricsFile, s.store); err != nil {
		s.cfg.Log.Error(err, "write the metrics file")
	}
}

// Handler is the service's HTTP handler:
//
//	GET  /healthz                     200 while the process serves
//	GET  /readyz                      200 when the database answers, else 503 and why
//	GET  /metrics                     Prometheus text exposition
//	GET  /                            the status page (auth token when set)
//	POST /api/runs?kind=heal|resilience  run now, answer its JSON report (auth token required)
//
// / and /api refuse a Host header that is not an IP address, localhost,
// the listen host or one of AllowedHosts (DNS rebinding).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := s.ready(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, oneLine(err.Error()))
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /{$}", s.guard(false, http.HandlerFunc(s.page)))
	mux.Handle("POST /api/runs", s.guard(true, http.HandlerFunc(s.apiRun)))
	return mux
}

// guard applies the Host check and the token to / and /api. Without a
// token, /api does not exist.
func (s *Service) guard(api bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if api && s.cfg.AuthToken == "" {
			http.NotFound(w, r)
			return
		}
		if !s.hostAllowed(r.Host) {
			http.Error(w, "forbidden: unexpected Host header", http.StatusForbidden)
			return
		}
		if s.cfg.AuthToken != "" && !s.authorized(r, !api) {
			if !api {
				w.Header().Set("WWW-Authenticate", `Basic realm="ip2adb", charset="UTF-8"`)
			} else {
				w.Header().Set("WWW-Authenticate", `Bearer realm="ip2adb"`)
			}
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorized checks the Bearer token (or, when basic, the password of
// HTTP Basic authentication, any user name) in constant time.
func (s *Service) authorized(r *http.Request, basic bool) bool {
	h := r.Header.Get("Authorization")
	var got string
	switch scheme, rest, _ := strings.Cut(h, " "); {
	case strings.EqualFold(scheme, "Bearer"):
		got = strings.TrimSpace(rest)
	case basic && strings.EqualFold(scheme, "Basic"):
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return false
		}
		_, got, _ = strings.Cut(string(b), ":")
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.AuthToken)) == 1
}

// hostAllowed is the DNS-rebinding check: an IP literal, localhost, the
// listen host or an allowed host.
func (s *Service) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return false
	}
	if net.ParseIP(host) != nil || strings.EqualFold(host, "localhost") {
		return true
	}
	if lh, _, err := net.SplitHostPort(s.cfg.Listen); err == nil && strings.EqualFold(host, lh) {
		return true
	}
	for _, a := range s.cfg.AllowedHosts {
		if strings.EqualFold(host, strings.TrimSuffix(a, ".")) {
			return true
		}
	}
	return false
}

// apiRun is POST /api/runs?kind=heal|resilience.
func (s *Service) apiRun(w http.ResponseWriter, r *http.Request) {
	kind := r.URL.Query().Get("kind")
	if kind != KindHeal && kind != KindResilience {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("kind must be heal or resilience, not %q", kind)})
		return
	}
	s.mu.Lock()
	ctx := s.runCtx
	s.mu.Unlock()
	rep, err := s.Run(ctx, kind, "api")
	var sk errSkipped
	switch {
	case errors.As(err, &sk):
		code := http.StatusConflict
		if sk.reason == SkipUnreachable || sk.reason == SkipShutdown {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]string{"error": sk.Error()})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": oneLine(err.Error())})
	default:
		writeJSON(w, http.StatusOK, rep)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

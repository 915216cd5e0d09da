package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"golava/server/api"
	"golava/server/artifacts"
	"golava/server/notify"
	"golava/server/ops"
	"golava/server/publisher"
	"golava/server/store"
	"golava/server/web"
)

// ServeConfig is `lava-server serve`.
type ServeConfig struct {
	DatabaseURL string
	// Listen is host:port; keep it on 127.0.0.1 behind a reverse proxy.
	Listen string
	API    api.Config
	// Events serves /ws/ (the event WebSocket lavacli and workers use) from
	// an in-process publisher reading the events outbox. It costs one
	// database connection held for LISTEN.
	Events bool
	// Notify, with Events, also runs the job notification service from the
	// same publisher (nil: off). Several servers may run it: each
	// notification is claimed once in the database.
	Notify *notify.Config
	// Timeouts of the HTTP server; zero takes the defaults below. WriteTimeout
	// bounds one response (a whole log download); WebSockets are exempt.
	ReadHeaderTimeout time.Duration // default 10s
	ReadTimeout       time.Duration // default 60s
	WriteTimeout      time.Duration // default 10m
	IdleTimeout       time.Duration // default 2m
	MaxHeaderBytes    int           // default 64 KiB
	// ShutdownTimeout is how long in-flight requests get after ctx ends.
	ShutdownTimeout time.Duration // default 20s
	// WaitDB keeps retrying an unreachable database this long at start
	// (a database container that is still starting); 0 fails at once.
	WaitDB time.Duration
	Logger *slog.Logger
	// Ready, when set, is called with the bound address once listening
	// (tests listen on port 0).
	Ready func(addr string)
	// Artifacts is the artifact storage (a folder or an S3 bucket); none
	// configured: the artifact routes answer 503.
	Artifacts artifacts.Config
	// MasterKeyFile, when set, lets the API resolve /lava/REALM/NAME job
	// secrets and store secrets set over REST (API.Secrets). A missing file
	// is created while the database holds no realm keys yet.
	MasterKeyFile string
}

func (c *ServeConfig) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ReadHeaderTimeout, 10*time.Second)
	def(&c.ReadTimeout, 60*time.Second)
	def(&c.WriteTimeout, 10*time.Minute)
	def(&c.IdleTimeout, 2*time.Minute)
	def(&c.ShutdownTimeout, 20*time.Second)
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Serve migrates the database, then serves the API until ctx ends, and
// shuts down gracefully: in-flight requests get ShutdownTimeout to finish.
func Serve(ctx context.Context, cfg ServeConfig) error {
	cfg.defaults()
	st, err := connectWait(ctx, cfg.DatabaseURL, cfg.WaitDB, cfg.Logger)
	if err != nil {
		return err
	}
	defer st.Close()
	if cfg.MasterKeyFile != "" {
		box, created, err := OpenSecrets(ctx, st, SecretsConfig{MasterKeyFile: cfg.MasterKeyFile, Create: true})
		if err != nil {
			return err
		}
		if created {
			cfg.Logger.Warn("created a new master key for secrets: back it up apart from the database", "file", cfg.MasterKeyFile)
		}
		cfg.API.Secrets = box
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	hubDone := make(chan error, 1)
	notifyDone := make(chan struct{})
	if cfg.Events {
		hub := publisher.NewHub(st, cfg.Logger.With("service", "publisher"), publisher.HubConfig{})
		vis := publisher.NewVisibility(st, cfg.Logger.With("service", "publisher"), publisher.VisibilityConfig{})
		cfg.API.WS = noDeadlines(hub.WSHandlerFiltered(vis.Filter))
		cfg.API.Collectors = append(cfg.API.Collectors, ops.PublisherCollectors(hub)...)
		go func() {
			err := hub.Run(ctx)
			if err != nil && ctx.Err() == nil {
				cancel(fmt.Errorf("event publisher: %w", err))
			}
			hubDone <- err
		}()
		if cfg.Notify == nil {
			close(notifyDone)
		} else {
			svc := notify.New(st, hub, cfg.Logger.With("service", "notify"), *cfg.Notify)
			go func() {
				defer close(notifyDone)
				if err := svc.Run(ctx); err != nil && ctx.Err() == nil {
					cancel(fmt.Errorf("notifications: %w", err))
				}
			}()
		}
	} else {
		hubDone <- nil
		close(notifyDone)
	}
	if b, err := cfg.Artifacts.Backend(ctx); err != nil {
		return fmt.Errorf("artifact storage: %w", err)
	} else if b != nil {
		cfg.API.Artifacts = artifacts.NewService(st, b, cfg.Logger.With("service", "artifacts"), cfg.Artifacts.MaxSize)
		cfg.Logger.Info("artifact storage", "backend", b.String())
	}
	if cfg.API.Web == nil {
		ui, err := web.New(st, cfg.Logger.With("service", "web"), web.Config{SecretsKey: cfg.API.Secrets != nil, Artifacts: cfg.API.Artifacts})
		if err != nil {
			return fmt.Errorf("web UI: %w", err)
		}
		cfg.API.Web = ui.Handler()
	}
	srv := &http.Server{
		Handler:           api.New(st, cfg.Logger.With("service", "api"), cfg.API).Handler(),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	cfg.Logger.Info("serving", "addr", ln.Addr().String())
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr().String())
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
		cancel(serveErr)
	}
	sctx, scancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		cfg.Logger.Warn("shutdown", "err", err)
		srv.Close()
	}
	cancel(nil)
	<-hubDone
	<-notifyDone
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// noDeadlines lifts the server's read and write timeouts for long-lived
// WebSocket connections, which would otherwise be cut after WriteTimeout.
func noDeadlines(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		h.ServeHTTP(w, r)
	})
}

// Connect applies pending migrations to the database at url and opens it.
// Every admin command goes through it, so a fresh database just works.
func Connect(ctx context.Context, url string, logger *slog.Logger) (*store.Store, error) {
	if url == "" {
		return nil, errors.New("no database URL: pass --database-url or set LAVA_DATABASE_URL")
	}
	if err := store.MigrateWithLogger(ctx, url, logger); err != nil {
		return nil, err
	}
	return store.Open(ctx, url)
}

// connectWait is Connect, retried while the server cannot be reached.
func connectWait(ctx context.Context, url string, wait time.Duration, logger *slog.Logger) (*store.Store, error) {
	deadline := time.Now().Add(wait)
	delay := 250 * time.Millisecond
	for {
		st, err := Connect(ctx, url, logger)
		if err == nil || !unreachable(err) || time.Now().Add(delay).After(deadline) {
			return st, err
		}
		logger.Warn("database unreachable, retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// unreachable reports a failure to connect, as opposed to an SQL error.
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne)
}

package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golava/coordinator"
	"golava/pkg/metrics"
	"golava/server/admin"
	"golava/server/api"
	"golava/server/artifacts"
	"golava/server/notify"
	"golava/server/ops"
	"golava/server/pgcluster"
	"golava/server/publisher"
	"golava/server/scheduler"
	"golava/server/store"
	"golava/server/web"
	"golava/worker/daemon"
	"golava/worker/dutsim"
)

// Config is what lava-lab needs; every field has a default that runs on one machine.
type Config struct {
	// DataDir holds the PostgreSQL cluster (unless DatabaseURL), boards,
	// the worker folder and admin-token.
	DataDir string
	// Listen is the API address (REST, worker API, /ws/).
	Listen string
	// DatabaseURL skips the private cluster.
	DatabaseURL string
	// BinDir holds lava-run and lava-dut-sim; default: the folder of this executable.
	BinDir string
	// Boards is the number of dut-sim boards (default 2).
	Boards int
	// CoordinatorListen is the MultiNode coordinator address (default 127.0.0.1:3079;
	// ":0" style ports pick a free one).
	CoordinatorListen string
	// ZMQListen is the publisher's PUB address (default realm); empty disables ZMQ.
	ZMQListen string
	// ZMQRealms are other realms' own PUB addresses (publisher.HubConfig.ZMQRealms).
	ZMQRealms map[string]string
	// PingInterval of the embedded worker (default 20 s, as LAVA).
	PingInterval time.Duration
	// DeviceTypesDir is an extra folder of device-type templates.
	DeviceTypesDir string
	// Ready, when set, receives the API URL once it answers.
	Ready func(url string)
	// AdminPassword, when set, becomes the admin's password (web UI login).
	AdminPassword string
	// ExternalWorker starts no embedded worker: the boards wait for a
	// lava-worker (golava's or LAVA's) named "lab" started separately with
	// the token the lab writes to DataDir/worker-token.
	ExternalWorker bool
	// Notify configures job notifications (notify blocks): callbacks always,
	// email when Notify.SMTPHost is set. BaseURL defaults to the API's.
	Notify notify.Config
	// Artifacts is the realms' artifact storage: DataDir/artifacts unless
	// a folder or an S3 bucket is given.
	Artifacts artifacts.Config
	// MasterKeyFile holds the master key of realm secrets (default
	// DataDir/master.key, created 0600 when missing).
	MasterKeyFile string
}

func (c *Config) defaults() error {
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	c.DataDir = abs
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8000"
	}
	if c.BinDir == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find binaries: %w", err)
		}
		c.BinDir = filepath.Dir(exe)
	}
	if c.Boards == 0 {
		c.Boards = 2
	}
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = filepath.Join(c.DataDir, "master.key")
	}
	if c.CoordinatorListen == "" {
		c.CoordinatorListen = "127.0.0.1:3079"
	}
	if c.PingInterval == 0 {
		c.PingInterval = 20 * time.Second
	}
	for _, b := range []string{"lava-run", "lava-dut-sim"} {
		if _, err := os.Stat(filepath.Join(c.BinDir, b)); err != nil {
			return fmt.Errorf("%s not found in %s (run make build, or pass --bin-dir): %w", b, c.BinDir, err)
		}
	}
	return nil
}

// Run starts everything and blocks until ctx is done, then stops all it started.
func Run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	dbURL := cfg.DatabaseURL
	if dbURL == "" {
		cl, err := pgcluster.Start(ctx, pgcluster.Config{Dir: filepath.Join(cfg.DataDir, "pg"), Logger: logger, Durable: true})
		if err != nil {
			return fmt.Errorf("start PostgreSQL: %w", err)
		}
		defer func() {
			if err := cl.Stop(); err != nil {
				logger.Error("stop PostgreSQL", "error", err)
			}
		}()
		dbURL = cl.URL()
	}
	if err := store.Migrate(ctx, dbURL); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	baseURL := "http://" + ln.Addr().String()
	boot, err := bootstrap(ctx, st, cfg)
	if err != nil {
		ln.Close()
		return fmt.Errorf("bootstrap: %w", err)
	}
	return runServices(ctx, cfg, logger, st, ln, baseURL, boot)
}

// runServices runs every service in its own goroutine; the first to fail
// stops the others.
func runServices(ctx context.Context, cfg Config, logger *slog.Logger, st *store.Store, ln net.Listener, baseURL string, boot *bootInfo) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	goService := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := fn(ctx)
			if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
				logger.Error("service failed", "service", name, "error", err)
				once.Do(func() { firstErr = fmt.Errorf("%s: %w", name, err) })
				cancel(err)
			}
		}()
	}

	hub := publisher.NewHub(st, logger.With("service", "publisher"), publisher.HubConfig{ZMQListen: cfg.ZMQListen, ZMQRealms: cfg.ZMQRealms})
	goService("publisher", hub.Run)
	notifyCfg := cfg.Notify
	if notifyCfg.BaseURL == "" {
		notifyCfg.BaseURL = baseURL
	}
	goService("notify", notify.New(st, hub, logger.With("service", "notify"), notifyCfg).Run)

	// The API's /metrics also shows the embedded scheduler, publisher and worker.
	sm, wm := ops.NewSchedulerMetrics(), metrics.NewWorkerMetrics()
	artCfg := cfg.Artifacts
	if artCfg.Dir == "" && artCfg.S3 == "" {
		artCfg.Dir = filepath.Join(cfg.DataDir, "artifacts")
	}
	artBackend, err := artCfg.Backend(ctx)
	if err != nil {
		return fmt.Errorf("artifact storage: %w", err)
	}
	artSvc := artifacts.NewService(st, artBackend, logger.With("service", "artifacts"), artCfg.MaxSize)
	logger.Info("artifact storage", "backend", artBackend.String())
	// The lab always has a master key (OpenSecrets below creates it).
	webSrv, err := web.New(st, logger.With("service", "web"), web.Config{SecretsKey: true, Artifacts: artSvc})
	if err != nil {
		return fmt.Errorf("web UI: %w", err)
	}
	box, created, err := admin.OpenSecrets(ctx, st, admin.SecretsConfig{MasterKeyFile: cfg.MasterKeyFile, Create: true})
	if err != nil {
		cancel(err)
		wg.Wait()
		return fmt.Errorf("secrets: %w", err)
	}
	if created {
		logger.Info("created the master key of realm secrets", "file", cfg.MasterKeyFile)
	}
	apiSrv := api.New(st, logger.With("service", "api"), api.Config{
		Artifacts:  artSvc,
		Secrets:    box,
		Collectors: slices.Concat(ops.PublisherCollectors(hub), sm.Collectors(), wm.Collectors()),
		// lavacli's events wait / jobs wait ask for it (scheduler.get_publisher_event_socket).
		EventSocket: cfg.ZMQListen, RealmEventSockets: cfg.ZMQRealms,
		AutoRegister: true, DeviceTypesDir: cfg.DeviceTypesDir, WS: hub.WSHandlerFiltered(publisher.NewVisibility(st, logger.With("service", "publisher"), publisher.VisibilityConfig{}).Filter), Web: webSrv.Handler(),
	})
	httpSrv := &http.Server{Handler: apiSrv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	goService("api", func(ctx context.Context) error { return serveHTTP(ctx, httpSrv, ln) })

	schedCfg := scheduler.Config{OnPass: sm.OnPass, OnLeadership: sm.OnLeadership,
		CheckDevices: true, DeviceTypesDir: cfg.DeviceTypesDir, Artifacts: artSvc}
	goService("scheduler", func(ctx context.Context) error {
		return scheduler.RunRealms(ctx, st, logger.With("service", "scheduler"), schedCfg)
	})

	coord, err := coordinator.New(coordinator.Config{Listen: cfg.CoordinatorListen, StateFile: filepath.Join(cfg.DataDir, "coordinator.json"), Logger: logger.With("service", "coordinator")})
	if err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	goService("coordinator", coord.Run)
	// lava-run finds the coordinator through the worker's env.yaml, which
	// the server hands to the worker with each job.
	coordEnv := "overrides:\n  LAVA_COORDINATOR: " + coord.Addr().String() + "\n"
	if err := st.SetWorkerDoc(ctx, store.DefaultRealm, boot.workerName, "env", coordEnv); err != nil {
		cancel(err)
		wg.Wait()
		return fmt.Errorf("worker env: %w", err)
	}

	for _, b := range boot.boards {
		goService("board "+b.name, func(ctx context.Context) error {
			return dutsim.Run(ctx, dutsim.Config{Dir: b.dir, Name: b.name}, logger)
		})
	}

	if err := waitReady(ctx, baseURL); err != nil {
		cancel(err)
		wg.Wait()
		return err
	}
	if cfg.ExternalWorker {
		tokenFile := filepath.Join(cfg.DataDir, workerTokenFile)
		if err := os.WriteFile(tokenFile, []byte(boot.workerToken), 0o600); err != nil {
			cancel(err)
			wg.Wait()
			return fmt.Errorf("write %s: %w", tokenFile, err)
		}
		fmt.Printf("worker %s: start it with --name %s --token-file %s --url %s/\n", boot.workerName, boot.workerName, tokenFile, baseURL)
	} else {
		goService("worker", func(ctx context.Context) error {
			return daemon.Run(ctx, daemon.Config{
				Name: boot.workerName, URL: baseURL + "/", Token: boot.workerToken,
				WorkerDir: filepath.Join(cfg.DataDir, "worker"), PingInterval: cfg.PingInterval,
				LavaRun: filepath.Join(cfg.BinDir, "lava-run"), JobLogInterval: 1,
				StopJobsOnExit: true, Nice: true,
				OnJobEnd: func(_ int64, result, dir string) { _ = wm.JobEnded(result, dir) },
			}, logger.With("service", "worker"))
		})
	}
	fmt.Printf("admin token: %s (also in %s)\n", boot.adminToken, filepath.Join(cfg.DataDir, "admin-token"))
	fmt.Printf("ready %s\n", baseURL)
	if cfg.Ready != nil {
		cfg.Ready(baseURL)
	}
	<-ctx.Done()
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return nil
}

func serveHTTP(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutCtx)
		return nil
	}
}

// waitReady polls the API until it answers, so "ready" is printed only then.
func waitReady(ctx context.Context, baseURL string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	deadline := time.After(30 * time.Second)
	for {
		resp, err := client.Get(baseURL + "/api/v0.2/devicetypes/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("API at %s did not answer within 30s: %v", baseURL, err)
		case <-t.C:
		}
	}
}

// Command lava-publisher sends the events of the outbox to ZMQ subscribers
// (PUB, LAVA's EVENT_SOCKET) and WebSocket clients (/ws/, LAVA's port 8001).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golava/pkg/events"
	"golava/server/publisher"
	"golava/server/store"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

type config struct {
	databaseURL string
	wsListen    string
	stateFile   string
	hub         publisher.HubConfig
	logLevel    slog.Level
	// metricsListen serves /metrics, /healthz and /readyz; empty: off.
	metricsListen string
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("lava-publisher", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	fs.StringVar(&c.databaseURL, "database-url", env("LAVA_DATABASE_URL", ""), "PostgreSQL URL (env LAVA_DATABASE_URL); required")
	fs.StringVar(&c.hub.ZMQListen, "zmq-listen", env("LAVA_ZMQ_LISTEN", "tcp://127.0.0.1:5500"), "ZMQ PUB address, LAVA's EVENT_SOCKET; empty disables ZMQ (env LAVA_ZMQ_LISTEN)")
	realms := fs.String("zmq-realm", env("LAVA_ZMQ_REALMS", ""), "comma-separated REALM=ADDRESS: a ZMQ PUB socket of its own for each of these realms (the main one carries the default realm only; env LAVA_ZMQ_REALMS)")
	push := fs.String("zmq-push", env("LAVA_ZMQ_PUSH", ""), "comma-separated addresses to PUSH every event to, LAVA's EVENT_ADDITIONAL_SOCKETS (env LAVA_ZMQ_PUSH)")
	fs.StringVar(&c.wsListen, "ws-listen", env("LAVA_WS_LISTEN", "0.0.0.0:8001"), "HTTP address serving /ws/; empty disables it (env LAVA_WS_LISTEN)")
	fs.StringVar(&c.hub.Prefix, "prefix", env("LAVA_EVENT_TOPIC", events.DefaultPrefix), "topic prefix, LAVA's EVENT_TOPIC (env LAVA_EVENT_TOPIC)")
	fs.StringVar(&c.stateFile, "state-file", env("LAVA_PUBLISHER_STATE_FILE", ""), "file keeping the last published event id, so a restart resumes after it; empty starts at the newest event (env LAVA_PUBLISHER_STATE_FILE)")
	fs.IntVar(&c.hub.Buffer, "buffer", 4096, "events kept in memory for subscribers")
	fs.StringVar(&c.metricsListen, "metrics-listen", env("LAVA_METRICS_LISTEN", ""), "serve /metrics, /healthz and /readyz here, e.g. 127.0.0.1:9103; empty: off (env LAVA_METRICS_LISTEN)")
	level := fs.String("log-level", env("LAVA_LOG_LEVEL", "info"), "debug, info, warn or error (env LAVA_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if c.databaseURL == "" {
		return nil, errors.New("--database-url (or LAVA_DATABASE_URL) is required")
	}
	if err := c.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", *level, err)
	}
	var err error
	if c.hub.ZMQRealms, err = events.ParseRealmSockets(*realms); err != nil {
		return nil, fmt.Errorf("--zmq-realm: %w", err)
	}
	for _, a := range strings.Split(*push, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.hub.ZMQPush = append(c.hub.ZMQPush, a)
		}
	}
	return c, nil
}

func run(args []string, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "lava-publisher: %v\n", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, logger); err != nil {
		logger.Error("lava-publisher stopped", slog.Any("error", err))
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg *config, logger *slog.Logger) error {
	if cfg.stateFile != "" {
		last, err := readLastID(cfg.stateFile)
		if err != nil {
			return err
		}
		cfg.hub.StartAfter = last
	}
	st, err := store.Open(ctx, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	hub := publisher.NewHub(st, logger, cfg.hub)
	if err := startMetrics(ctx, cfg.metricsListen, hub, st, logger); err != nil {
		return err
	}

	var wg sync.WaitGroup
	var httpSrv *http.Server
	if cfg.wsListen != "" {
		ln, err := net.Listen("tcp", cfg.wsListen)
		if err != nil {
			return fmt.Errorf("ws listen %s: %w", cfg.wsListen, err)
		}
		mux := http.NewServeMux()
		// Token auth and per-viewer visibility, as lava-server's /ws/.
		ws := hub.WSHandlerFiltered(publisher.NewVisibility(st, logger, publisher.VisibilityConfig{}).Filter)
		mux.Handle("/ws/", ws)
		mux.Handle("/ws", ws)
		httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		logger.Info("websocket listening", slog.String("addr", ln.Addr().String()))
		wg.Go(func() {
			if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("websocket server", slog.Any("error", err))
			}
		})
	}
	if cfg.stateFile != "" {
		wg.Go(func() { saveLastID(ctx, hub, cfg.stateFile, cfg.hub.StartAfter, logger) })
	}
	err = hub.Run(ctx) // returns when ctx ends; closes every WebSocket subscriber
	if httpSrv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_ = httpSrv.Shutdown(sctx)
		cancel()
	}
	wg.Wait()
	if cfg.stateFile != "" && hub.LastID() > 0 {
		// After Run: nothing is published any more, so this id is final.
		if werr := writeFileAtomic(cfg.stateFile, []byte(strconv.FormatInt(hub.LastID(), 10)+"\n")); werr != nil {
			logger.Warn("save last event id", slog.Any("error", werr))
		}
	}
	return err
}

func readLastID(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read --state-file: %w", err)
	}
	id, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || id < 0 {
		return 0, fmt.Errorf("--state-file %s: %q is not an event id", path, strings.TrimSpace(string(b)))
	}
	return id, nil
}

// saveLastID writes the hub's last id each second it changed, until ctx ends.
func saveLastID(ctx context.Context, hub *publisher.Hub, path string, saved int64, logger *slog.Logger) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if id := hub.LastID(); id != saved && id > 0 {
			if err := writeFileAtomic(path, []byte(strconv.FormatInt(id, 10)+"\n")); err != nil {
				logger.Warn("save last event id", slog.Any("error", err))
			} else {
				saved = id
			}
		}
	}
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

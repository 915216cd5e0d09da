package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every golava metric.
const Namespace = "lava"

// NewRegistry returns a registry holding the Go runtime and process
// collectors plus cs. Each process builds its own: tests run several
// servers in one binary, and a global registry would panic on the second.
func NewRegistry(cs ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(cs...)
	return reg
}

// ReadyFunc reports whether the process can do its work (its database
// answers, it listens); nil means always ready.
type ReadyFunc func(ctx context.Context) error

// Handlers registers /metrics, /healthz and /readyz on mux. /healthz
// answers 200 while the process runs (liveness); /readyz calls ready with a
// 5 s bound and answers 503 with the reason when it fails.
func Handlers(mux interface {
	Handle(pattern string, h http.Handler)
}, g prometheus.Gatherer, ready ReadyFunc) {
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.Handle("/healthz", http.HandlerFunc(Healthz))
	mux.Handle("/readyz", ReadyHandler(ready))
}

// Healthz answers 200 "ok": the process is alive and serving HTTP.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// ReadyHandler answers 200 "ready" when ready succeeds, else 503 and why.
func ReadyHandler(ready ReadyFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			err := ready(ctx)
			cancel()
			if err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = fmt.Fprintf(w, "not ready: %v\n", err)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}

// Config is one --metrics-listen endpoint.
type Config struct {
	// Listen is host:port; empty disables the endpoint (Serve returns at
	// once when ctx ends).
	Listen   string
	Gatherer prometheus.Gatherer
	Ready    ReadyFunc
	Logger   *slog.Logger
	// Bound, when set, is called with the listening address (port 0 in tests).
	Bound func(addr string)
}

// Serve serves /metrics, /healthz and /readyz on cfg.Listen until ctx ends.
// It fails at once when the address cannot be bound, so a typo in
// --metrics-listen stops the process instead of hiding it.
func Serve(ctx context.Context, cfg Config) error {
	if cfg.Listen == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("metrics listen %s: %w", cfg.Listen, err)
	}
	return ServeListener(ctx, ln, cfg)
}

// ServeListener is Serve on an open listener, which it closes.
func ServeListener(ctx context.Context, ln net.Listener, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	Handlers(mux, cfg.Gatherer, cfg.Ready)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	cfg.Logger.Info("metrics listening", slog.String("addr", ln.Addr().String()))
	if cfg.Bound != nil {
		cfg.Bound(ln.Addr().String())
	}
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("metrics server: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	}
}

// Start runs Serve in a goroutine and returns a channel with its result;
// a bind error is returned at once so the caller can exit with it.
func Start(ctx context.Context, cfg Config) (<-chan error, error) {
	done := make(chan error, 1)
	if cfg.Listen == "" {
		close(done)
		return done, nil
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("metrics listen %s: %w", cfg.Listen, err)
	}
	go func() { done <- ServeListener(ctx, ln, cfg) }()
	return done, nil
}

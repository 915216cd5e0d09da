package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"golava/pkg/metrics"
	"golava/server/ops"
)

// The HTTP metrics are shared by every Server of the process (tests build
// many); each Server registers them in its own registry.
var (
	httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests answered by the API, by route pattern, method and status code.",
	}, []string{"route", "method", "code"})
	httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metrics.Namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time to answer an API request, by route pattern and method (WebSockets excluded).",
		Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60},
	}, []string{"route", "method"})
)

// operations mounts /metrics, /healthz and /readyz and instruments every
// route; Handler calls it before any route is added (chi wants
// middlewares first).
func (s *Server) operations(r chi.Router) {
	cs := []prometheus.Collector{httpRequests, httpDuration, ops.NewDBCollector(s.store.Pool(), s.logger)}
	reg := metrics.NewRegistry(append(cs, s.cfg.Collectors...)...)
	r.Use(instrument)
	metrics.Handlers(r, reg, func(ctx context.Context) error { return s.store.Pool().Ping(ctx) })
}

// instrument counts each request under its route pattern (never the raw
// path, whose ids would make unbounded series).
func instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/ws") {
			next.ServeHTTP(w, r) // long-lived: its duration says nothing
			return
		}
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		code := 0
		defer func() {
			route := "unmatched"
			if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
				route = rc.RoutePattern()
			}
			code = ww.Status()
			if v := recover(); v != nil {
				code = http.StatusInternalServerError
				defer panic(v)
			}
			if code == 0 {
				code = http.StatusOK
			}
			method := methodLabel(r.Method)
			httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
			httpDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(ww, r)
	})
}

// methodLabel keeps the method label bounded against made-up methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

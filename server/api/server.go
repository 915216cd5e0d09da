package api

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"golava/server/artifacts"
	"golava/server/secrets"
	"golava/server/store"
)

// Config holds what the API needs from the command line.
type Config struct {
	// MaxBodyBytes bounds every request body; larger bodies get 413.
	MaxBodyBytes int64
	// AutoRegister allows workers to register without credentials from
	// loopback addresses, as LAVA's WORKER_AUTO_REGISTER.
	AutoRegister bool
	// DeviceTypesDir is the folder of device-type templates (*.jinja2),
	// searched after the templates golava ships.
	DeviceTypesDir string
	// DispatcherDir holds dispatcher.yaml/env.yaml per worker, as
	// /etc/lava-server/dispatcher.d/; empty means none.
	DispatcherDir string
	// WS serves /ws/ (events); nil leaves the route out.
	WS http.Handler
	// EventSocket is the publisher's ZMQ address that
	// scheduler.get_publisher_event_socket answers.
	EventSocket string
	// RealmEventSockets are the ZMQ addresses of other realms' own sockets
	// (publisher --zmq-realm), answered to callers acting in that realm; a
	// realm without one gets "" (its events are on /ws/).
	RealmEventSockets map[string]string
	// Web serves the web UI at every path the API does not; nil: no UI.
	Web http.Handler
	// Collectors are exported on /metrics besides the API's own (the
	// publisher or scheduler of the same process).
	Collectors []prometheus.Collector
	// Artifacts serves the realms' artifact areas; nil answers 503.
	Artifacts *artifacts.Service
	// Secrets resolves /lava/REALM/NAME references of job secrets for the
	// worker API and stores secrets set over REST; nil: jobs may carry
	// literal values only (references are refused at submission).
	Secrets *secrets.Box
}

// Server is the HTTP API. Handlers live in files by area: rest_jobs.go and
// worker_jobs.go (jobs, logs, results), rest_admin.go, auth.go and
// worker_workers.go (users, tokens, workers, devices, device types), rpc*.go
// (XML-RPC), perms.go (who sees what).
type Server struct {
	store  *store.Store
	logger *slog.Logger
	cfg    Config
	// masks holds the secret maskers of running jobs (secrets_jobs.go).
	masks *maskCache
}

// New builds the API server.
func New(st *store.Store, logger *slog.Logger, cfg Config) *Server {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 10 << 20
	}
	return &Server{store: st, logger: logger, cfg: cfg, masks: newMaskCache(4096)}
}

// Handler returns the router.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.limitBody)
	s.operations(r) // /metrics, /healthz, /readyz and request metrics (metrics.go)
	r.Route("/api/v0.2", func(r chi.Router) {
		r.Use(s.authenticate)
		s.restJobs(r)
		s.restAdmin(r)
		s.restCatalog(r) // tags/, aliases/ (rest_catalog.go)
		s.restPerms(r)   // permissions/devicetypes/, permissions/devices/ (rest_perms.go)
		s.restDevAdmin(r)
		s.restRealms(r)    // realms/ (realms.go)
		s.restArtifacts(r) // realms/{realm}/artifacts/ (rest_artifacts.go)
		s.restSecrets(r)   // realms/{realm}/secrets/ (rest_secrets.go)
		s.restWebhooks(r)  // realms/{realm}/webhooks/ (rest_webhooks.go)
	})
	r.Route("/scheduler/internal/v1", func(r chi.Router) {
		s.workerJobs(r)
		s.workerArtifacts(r)
		s.workerWorkers(r)
	})
	s.rpcRoutes(r) // /RPC2 (rpc.go)
	if s.cfg.WS != nil {
		r.Handle("/ws/", s.cfg.WS)
		r.Handle("/ws", s.cfg.WS)
	}
	if s.cfg.Web != nil {
		r.Mount("/", s.cfg.Web)
	}
	return r
}

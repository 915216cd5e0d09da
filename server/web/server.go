package web

import (
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"golava/server/artifacts"
	"golava/server/store"
	assets "golava/web"
)

// Config tunes the UI; zero values take the defaults.
type Config struct {
	// RealmID is the realm shown (default store.DefaultRealm).
	RealmID int64
	// SessionTTL is how long a login lasts (default 14 days).
	SessionTTL time.Duration
	// LogPageLines is the number of log lines per page (default 500).
	LogPageLines int
	// JobsPerPage is the job list's page size (default 50).
	JobsPerPage int
	// QueryTimeout bounds every page's database work (default 10 s).
	QueryTimeout time.Duration
	// SecureCookies marks cookies Secure even on plain HTTP requests, for
	// a server behind a TLS-terminating proxy.
	SecureCookies bool
	// Artifacts shows the session's realm's artifact areas; nil: not configured.
	Artifacts *artifacts.Service
	// SecretsKey says the server holds the master key of realm secrets, so
	// submitted jobs may name /lava/REALM/NAME paths (checked to exist).
	SecretsKey bool
}

func (c *Config) defaults() {
	if c.RealmID == 0 {
		c.RealmID = store.DefaultRealm
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 14 * 24 * time.Hour
	}
	if c.LogPageLines == 0 {
		c.LogPageLines = 500
	}
	if c.JobsPerPage == 0 {
		c.JobsPerPage = 50
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = 10 * time.Second
	}
}

// Server renders the UI.
type Server struct {
	st       *store.Store
	logger   *slog.Logger
	cfg      Config
	pages    map[string]*template.Template
	static   http.Handler
	throttle loginThrottle
}

// New parses the embedded templates; an error means a broken build.
func New(st *store.Store, logger *slog.Logger, cfg Config) (*Server, error) {
	cfg.defaults()
	s := &Server{st: st, logger: logger, cfg: cfg, pages: map[string]*template.Template{}}
	names, err := fs.Glob(assets.FS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web templates: %w", err)
	}
	for _, n := range names {
		base := n[len("templates/"):]
		if base == "layout.html" || base == "partials.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(assets.FS, "templates/layout.html", "templates/partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("web template %s: %w", base, err)
		}
		s.pages[base] = t
	}
	sub, err := fs.Sub(assets.FS, "static")
	if err != nil {
		return nil, fmt.Errorf("web static: %w", err)
	}
	s.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	return s, nil
}

// Handler returns the UI's router; mount it at "/".
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, securityHeaders, s.timeout, s.session, s.checkCSRF)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { s.notFound(w, r, "page") })
	r.Get("/static/*", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		s.static.ServeHTTP(w, r)
	})
	r.Get("/", s.dashboard)
	r.Get("/accounts/login/", s.loginForm)
	r.Post("/accounts/login/", s.login)
	r.Post("/accounts/logout/", s.logout)
	r.Get("/accounts/profile/", s.profile)
	r.Post("/accounts/tokens/", s.createToken)
	r.Post("/accounts/tokens/{id}/delete", s.deleteToken)
	s.jobRoutes(r)
	s.deviceRoutes(r)
	s.resultRoutes(r)
	s.adminRoutes(r)
	s.artifactRoutes(r)
	return r
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.ErrorContext(r.Context(), "web handler panic", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				http.Error(w, "internal server error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders forbids inline scripts and framing: every script is a
// static file, so an injected <script> cannot run.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) timeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/realm/artifacts/") && r.URL.Path != "/realm/artifacts/" {
			next.ServeHTTP(w, r) // a download: as long as the bytes keep coming
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

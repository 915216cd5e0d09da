package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golava/server/store"
)

// view is what every template receives.
type view struct {
	Title string
	User  *store.User
	CSRF  string
	Path  string
	Data  any
}

type errorPage struct{ Message string }

var funcs = template.FuncMap{
	"fmtTime": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format("2006-01-02 15:04:05")
		case *time.Time:
			if v == nil {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04:05")
		}
		return ""
	},
	"isoTime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"duration": func(a, b *time.Time) string {
		if a == nil {
			return "—"
		}
		end := time.Now()
		if b != nil {
			end = *b
		}
		return end.Sub(*a).Round(time.Second).String()
	},
	"deref": func(p any) string {
		switch v := p.(type) {
		case *string:
			if v != nil {
				return *v
			}
		case *int64:
			if v != nil {
				return fmt.Sprint(*v)
			}
		}
		return ""
	},
	"lower": strings.ToLower,
	"num":   trimDecimal,
	"add":   func(a, b int) int { return a + b },
	"inc":   func(a int64) int64 { return a + 1 },
	"i64":   func(a int) int64 { return int64(a) },
	"query": func(kv ...string) template.URL {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				v.Set(kv[i], kv[i+1])
			}
		}
		return template.URL(v.Encode())
	},
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func (s *Server) render(w http.ResponseWriter, r *http.Request, page, title string, data any) {
	s.renderStatus(w, r, http.StatusOK, page, title, data)
}

// renderStatus executes a page into a buffer first so that a template
// error becomes a clean 500 rather than half a page.
func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, status int, page, title string, data any) {
	t, ok := s.pages[page]
	if !ok {
		s.serverError(w, r, fmt.Errorf("no template %s", page))
		return
	}
	se := sess(r)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", view{Title: title, User: se.user, CSRF: se.csrf, Path: r.URL.Path, Data: data}); err != nil {
		s.serverError(w, r, fmt.Errorf("render %s: %w", page, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, what string) {
	s.renderStatus(w, r, http.StatusNotFound, "error.html", "Not found",
		errorPage{Message: "No such " + what + " (or you may not see it)."})
}

func (s *Server) badRequest(w http.ResponseWriter, r *http.Request, msg string) {
	s.renderStatus(w, r, http.StatusBadRequest, "error.html", "Bad request", errorPage{Message: msg})
}

func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.DeadlineExceeded) {
		s.logger.WarnContext(r.Context(), "web page timed out", "path", r.URL.Path, "err", err)
		http.Error(w, "the page took too long to compute", http.StatusServiceUnavailable)
		return
	}
	s.logger.ErrorContext(r.Context(), "web page", "path", r.URL.Path, "err", err)
	http.Error(w, "internal server error", http.StatusInternalServerError)
}

// storeError maps a store error to a page: not found, forbidden, or 500.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.notFound(w, r, what)
	case errors.Is(err, store.ErrForbidden):
		s.renderStatus(w, r, http.StatusForbidden, "error.html", "Forbidden", errorPage{Message: "You may not change this " + what + "."})
	default:
		s.serverError(w, r, err)
	}
}

// trimDecimal drops the trailing zeros the database's fixed scale adds
// ("42.5000000000" is shown as 42.5).
func trimDecimal(p *string) string {
	if p == nil {
		return ""
	}
	v := *p
	if strings.Contains(v, ".") {
		v = strings.TrimRight(strings.TrimRight(v, "0"), ".")
	}
	return v
}

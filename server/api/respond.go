package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"golava/server/store"
)

// Helpers shared by every handler file.

type ctxKey int

const userKey ctxKey = 1

// withUser stores the authenticated user (nil for anonymous) in the context.
func withUser(ctx context.Context, u *store.User) context.Context {
	return context.WithValue(ctx, userKey, u)
}

// userFrom returns the authenticated user, or nil for an anonymous request.
func userFrom(r *http.Request) *store.User {
	u, _ := r.Context().Value(userKey).(*store.User)
	return u
}

// writeJSON writes v with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client may be gone; nothing to do then
}

// restError writes DRF's error shape {"detail": "..."}.
func restError(w http.ResponseWriter, code int, detail string) {
	writeJSON(w, code, map[string]string{"detail": detail})
}

// restMessage writes LAVA's {"message": "..."} shape used by job submission.
func restMessage(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"message": msg})
}

// workerError writes the worker API's {"error": "..."} shape.
func workerError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// DefaultPageSize is REST_FRAMEWORK's PAGE_SIZE in LAVA.
const DefaultPageSize = 50

// MaxPageSize bounds ?limit= so one request cannot dump a whole table.
const MaxPageSize = 1000

// Page is a parsed limit/offset pair.
type Page struct {
	Limit  int
	Offset int
}

// parsePage reads ?limit=&offset= as DRF's LimitOffsetPagination does.
func parsePage(r *http.Request) (Page, error) {
	p := Page{Limit: DefaultPageSize}
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, fmt.Errorf("limit: %q is not a non-negative integer", v)
		}
		if n > 0 {
			p.Limit = min(n, MaxPageSize)
		}
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, fmt.Errorf("offset: %q is not a non-negative integer", v)
		}
		p.Offset = n
	}
	return p, nil
}

// Paginated is DRF's list envelope.
type Paginated struct {
	Count    int64   `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  any     `json:"results"`
}

// paginated builds the envelope with absolute next/previous links.
func paginated(r *http.Request, p Page, count int64, results any) Paginated {
	link := func(offset int) *string {
		u := *r.URL
		u.Scheme, u.Host = scheme(r), r.Host
		q := u.Query()
		q.Set("limit", strconv.Itoa(p.Limit))
		if offset > 0 {
			q.Set("offset", strconv.Itoa(offset))
		} else {
			q.Del("offset")
		}
		u.RawQuery = q.Encode()
		s := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawQuery: u.RawQuery}).String()
		return &s
	}
	out := Paginated{Count: count, Results: results}
	if int64(p.Offset+p.Limit) < count {
		out.Next = link(p.Offset + p.Limit)
	}
	if p.Offset > 0 {
		out.Previous = link(max(p.Offset-p.Limit, 0))
	}
	return out
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if s := r.Header.Get("X-Forwarded-Proto"); s == "https" {
		return s
	}
	return "http"
}

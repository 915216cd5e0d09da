package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golava/server/store"
)

// Sessions are random ids in a cookie; the database keeps only their
// SHA-256, the user and the session's CSRF token. Anonymous visitors get a
// random CSRF cookie instead (double submit) so the login form is protected
// too.
const (
	sessionCookie = "golava_session"
	csrfCookie    = "golava_csrf"
	csrfField     = "csrf"
)

type ctxKey int

const sessKey ctxKey = 0

type session struct {
	user *store.User
	csrf string
	id   string // cookie value; "" for anonymous
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails on Linux (crypto/rand panics otherwise)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

func sess(r *http.Request) *session {
	if v, ok := r.Context().Value(sessKey).(*session); ok {
		return v
	}
	return &session{}
}

func currentUser(r *http.Request) *store.User { return sess(r).user }

// realm is the realm a request acts in: the session's, or for anonymous
// visitors the configured one (the default realm).
func (s *Server) realm(r *http.Request) int64 { return s.realmOf(currentUser(r)) }

// realmOf is realm for a known viewer (nil: anonymous).
func (s *Server) realmOf(u *store.User) int64 {
	if u != nil {
		return u.RealmID
	}
	return s.cfg.RealmID
}

// session resolves the session cookie; an unknown or expired one is anonymous.
func (s *Server) session(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/static/") {
			next.ServeHTTP(w, r)
			return
		}
		se := &session{}
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" && len(c.Value) < 100 {
			u, csrf, err := s.loadSession(r.Context(), c.Value)
			switch {
			case err == nil && u.IsActive:
				se = &session{user: u, csrf: csrf, id: c.Value}
			case err != nil && !errors.Is(err, store.ErrNotFound):
				s.serverError(w, r, err)
				return
			}
		}
		if se.user == nil {
			if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
				se.csrf = c.Value
			} else {
				se.csrf = randomToken()
				http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: se.csrf, Path: "/", HttpOnly: true,
					SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || s.cfg.SecureCookies})
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessKey, se)))
	})
}

func (s *Server) loadSession(ctx context.Context, id string) (*store.User, string, error) {
	return s.st.WebSession(ctx, hashID(id))
}

// checkCSRF refuses every POST whose csrf field (or X-CSRF-Token header)
// is not the session's token.
func (s *Server) checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			got = r.PostFormValue(csrfField)
		}
		want := sess(r).csrf
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			s.renderStatus(w, r, http.StatusForbidden, "error.html", "Forbidden",
				errorPage{Message: "The form's security token is missing or stale: reload the page and try again."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "login.html", "Log in", loginPage{Next: safeNext(r.URL.Query().Get("next"))})
}

type loginPage struct {
	Next, Username, Realm, Error string
}

// safeNext keeps redirects on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	return next
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	name, pw := strings.TrimSpace(r.PostFormValue("username")), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	keys := throttleKeys(r, name)
	if s.throttle.blocked(keys, time.Now()) {
		s.renderStatus(w, r, http.StatusTooManyRequests, "login.html", "Log in",
			loginPage{Next: next, Username: name, Error: "Too many failed logins: wait a few minutes."})
		return
	}
	u, err := s.st.AuthenticateUser(r.Context(), name, pw)
	if err != nil || !u.IsActive {
		s.throttle.fail(keys, time.Now())
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.logger.InfoContext(r.Context(), "web login failed", "user", name, "err", err)
		}
		s.renderStatus(w, r, http.StatusUnauthorized, "login.html", "Log in",
			loginPage{Next: next, Username: name, Error: "Wrong username or password."})
		return
	}
	s.throttle.reset(keys)
	realmName := strings.TrimSpace(r.PostFormValue("realm"))
	realm, err := s.loginRealm(r.Context(), u, realmName)
	if err != nil {
		s.renderStatus(w, r, http.StatusForbidden, "login.html", "Log in",
			loginPage{Next: next, Username: name, Realm: realmName, Error: err.Error()})
		return
	}
	id, csrf := randomToken(), randomToken()
	if err := s.st.CreateWebSession(r.Context(), hashID(id), u.ID, realm.ID, csrf, s.cfg.SessionTTL); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || s.cfg.SecureCookies, Expires: time.Now().Add(s.cfg.SessionTTL)})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// loginRealm picks the realm a new session acts in: the one asked for, if
// the user may use it; otherwise the default realm, or the user's only
// (first) realm when they are not a member of the default one.
func (s *Server) loginRealm(ctx context.Context, u *store.User, name string) (*store.Realm, error) {
	notMember := fmt.Errorf("You are not a member of realm %q.", name)
	if name != "" {
		realm, err := s.st.RealmByName(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notMember // a realm one may not use looks missing
		}
		if err != nil {
			return nil, err
		}
		if ok, err := s.st.CanUseRealm(ctx, realm.ID, u); err != nil || !ok {
			return nil, notMember
		}
		return realm, nil
	}
	realms, err := s.st.ListRealms(ctx, u)
	if err != nil {
		return nil, err
	}
	if len(realms) == 0 {
		return nil, fmt.Errorf("Your account is not a member of any realm: ask an administrator.")
	}
	for _, r := range realms {
		if r.ID == s.cfg.RealmID {
			return r, nil
		}
	}
	return realms[0], nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if id := sess(r).id; id != "" {
		if err := s.st.DeleteWebSession(r.Context(), hashID(id)); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// requireUser redirects anonymous visitors to the login page.
func (s *Server) requireUser(w http.ResponseWriter, r *http.Request) (*store.User, bool) {
	u := currentUser(r)
	if u == nil {
		next := r.URL.RequestURI()
		if r.Method != http.MethodGet {
			next = r.Referer()
			if i := strings.Index(next, "//"); i >= 0 {
				if j := strings.IndexByte(next[i+2:], '/'); j >= 0 {
					next = next[i+2+j:]
				}
			}
		}
		http.Redirect(w, r, "/accounts/login/?next="+urlQueryEscape(safeNext(next)), http.StatusSeeOther)
		return nil, false
	}
	return u, true
}

// requireSuperuser answers 403 to anyone but a superuser.
func (s *Server) requireSuperuser(w http.ResponseWriter, r *http.Request) (*store.User, bool) {
	u, ok := s.requireUser(w, r)
	if !ok {
		return nil, false
	}
	if !u.IsSuperuser {
		s.renderStatus(w, r, http.StatusForbidden, "error.html", "Forbidden",
			errorPage{Message: "Only lab administrators may do this."})
		return nil, false
	}
	return u, true
}

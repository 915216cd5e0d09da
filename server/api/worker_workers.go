package api

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"

	"github.com/go-chi/chi/v5"

	"golava/pkg/workerapi"
	"golava/server/store"
)

// Worker registration and ping, /scheduler/internal/v1/workers/, with LAVA
// 2023.01's replies and error texts (PROTOCOLS.md section 1).

func (s *Server) workerWorkers(r chi.Router) {
	r.HandleFunc("/workers/", s.workersRoot)
	r.HandleFunc("/workers/{name}/", s.workerByName)
}

func (s *Server) workersRoot(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		s.registerWorker(w, r)
	case http.MethodGet:
		// LAVA looks up hostname=None here.
		workerError(w, http.StatusNotFound, "Unknown worker 'None'")
	default:
		methodNotAllowed(w, r, "GET, POST")
	}
}

func (s *Server) workerByName(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.pingWorker(w, r)
	case http.MethodPost:
		workerError(w, http.StatusForbidden, "POST is forbidden for such url")
	default:
		methodNotAllowed(w, r, "GET, POST")
	}
}

// registerWorker creates a worker and returns its token. With username and
// password (a superuser may re-register an existing worker, which gets a
// new token: only hashes are kept) or, without, from a loopback address.
func (s *Server) registerWorker(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.AutoRegister {
		workerError(w, http.StatusForbidden, "Auto registration is disabled")
		return
	}
	if err := r.ParseForm(); err != nil {
		if isTooLarge(err) {
			workerError(w, http.StatusRequestEntityTooLarge, "Request body too large")
			return
		}
		workerError(w, http.StatusBadRequest, "Invalid form data")
		return
	}
	if !r.PostForm.Has("name") {
		workerError(w, http.StatusBadRequest, "Missing 'name'")
		return
	}
	name := r.PostForm.Get("name")
	if err := store.ValidHostname("worker", name); err != nil {
		workerError(w, http.StatusBadRequest, "Invalid 'name'")
		return
	}
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	if username != "" && password != "" {
		s.registerWithCredentials(w, r, name, username, password)
		return
	}
	if realm := r.PostForm.Get("realm"); realm != "" && realm != store.DefaultRealmName {
		workerError(w, http.StatusForbidden, "Auto registration is only into the default realm")
		return
	}
	ip, ok := clientIP(r)
	if !ok {
		workerError(w, http.StatusBadRequest, "Missing client ip")
		return
	}
	if !ip.IsLoopback() {
		workerError(w, http.StatusForbidden, fmt.Sprintf("Auto registration is forbidden for '%s'", ip))
		return
	}
	s.createWorker(w, r, store.DefaultRealm, name, "Auto registered by "+ip.String())
}

func (s *Server) registerWithCredentials(w http.ResponseWriter, r *http.Request, name, username, password string) {
	u, err := s.store.AuthenticateUser(r.Context(), username, password)
	if errors.Is(err, store.ErrBadCredentials) {
		workerError(w, http.StatusForbidden, fmt.Sprintf("Unknown user %s", username))
		return
	}
	if err != nil {
		s.workerInternal(w, r, err)
		return
	}
	realm, err := s.registrationRealm(r, u)
	if err != nil {
		workerError(w, http.StatusForbidden, err.Error())
		return
	}
	if _, err := s.store.WorkerByName(r.Context(), realm.ID, name); err == nil {
		if !u.IsSuperuser {
			workerError(w, http.StatusForbidden, fmt.Sprintf("Worker '%s' already registered", name))
			return
		}
		token, err := s.store.RotateWorkerToken(r.Context(), realm.ID, name)
		if err != nil {
			s.workerInternal(w, r, err)
			return
		}
		s.logger.InfoContext(r.Context(), "worker token renewed", "worker", name, "user", username)
		writeJSON(w, http.StatusOK, workerapi.Registration{Name: name, Token: token})
		return
	} else if !errors.Is(err, store.ErrNotFound) {
		s.workerInternal(w, r, err)
		return
	}
	s.createWorker(w, r, realm.ID, name, "Auto registered by "+username)
}

// registrationRealm is the realm a worker registers into: the form's
// "realm" (default: the default realm), which the user must be allowed to
// use; a realm they may not use answers like a missing one.
func (s *Server) registrationRealm(r *http.Request, u *store.User) (*store.Realm, error) {
	name := r.PostForm.Get("realm")
	if name == "" {
		name = store.DefaultRealmName
	}
	realm, err := s.store.RealmByName(r.Context(), name)
	if err == nil {
		var ok bool
		if ok, err = s.store.CanUseRealm(r.Context(), realm.ID, u); err == nil && ok {
			return realm, nil
		}
	}
	return nil, fmt.Errorf("Unknown realm '%s'", name)
}

func (s *Server) createWorker(w http.ResponseWriter, r *http.Request, realmID int64, name, description string) {
	_, token, err := s.store.CreateWorker(r.Context(), realmID, name, description)
	if errors.Is(err, store.ErrConflict) {
		workerError(w, http.StatusForbidden, fmt.Sprintf("Worker '%s' already registered", name))
		return
	}
	if err != nil {
		s.workerInternal(w, r, err)
		return
	}
	s.logger.InfoContext(r.Context(), "worker registered", "worker", name, "by", description)
	writeJSON(w, http.StatusOK, workerapi.Registration{Name: name, Token: token})
}

// clientIP is the TCP peer. LAVA also trusts X-Forwarded-For; golava does
// not, since any client can send it and it would open auto-registration to
// the world.
func clientIP(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

// pingWorker records the ping and tells the worker which jobs to start,
// keep and cancel. A worker of another version is set Offline, gets no new
// jobs, and a 409 when it has nothing left to run or cancel.
func (s *Server) pingWorker(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	tokens, hasToken := r.Header[http.CanonicalHeaderKey(workerapi.TokenHeader)]
	token := ""
	if hasToken && len(tokens) > 0 {
		token = tokens[0]
	}
	// Any realm: the token finds the worker and binds it to its realm.
	wk, err := s.store.AuthWorker(r.Context(), 0, name, token)
	switch {
	case errors.Is(err, store.ErrNotFound):
		workerError(w, http.StatusNotFound, fmt.Sprintf("Unknown worker '%s'", name))
		return
	case !hasToken:
		workerError(w, http.StatusBadRequest, "Missing 'token'")
		return
	case errors.Is(err, store.ErrInvalidToken):
		workerError(w, http.StatusBadRequest, "Invalid 'token'")
		return
	case err != nil:
		s.workerInternal(w, r, err)
		return
	}
	q := r.URL.Query()
	if !q.Has("version") {
		workerError(w, http.StatusBadRequest, "Missing 'version'")
		return
	}
	version := q.Get("version")
	mismatch := version != workerapi.Version
	if _, err := s.store.PingWorker(r.Context(), wk.ID, version, !mismatch); err != nil {
		s.workerInternal(w, r, err)
		return
	}
	jobs, err := s.store.JobsOfWorker(r.Context(), wk.RealmID, wk.ID)
	if err != nil {
		s.workerInternal(w, r, err)
		return
	}
	if mismatch {
		jobs.Start = nil
		if len(jobs.Cancel) == 0 && len(jobs.Running) == 0 {
			workerError(w, http.StatusConflict, fmt.Sprintf("Version mismatch '%s' vs '%s'", version, workerapi.Version))
			return
		}
	}
	writeJSON(w, http.StatusOK, workerapi.PingReply{
		Cancel: jobRefs(jobs.Cancel), Running: jobRefs(jobs.Running), Start: jobRefs(jobs.Start)})
}

func jobRefs(in []store.JobRef) []workerapi.JobRef {
	out := make([]workerapi.JobRef, len(in))
	for i, j := range in {
		out[i] = workerapi.JobRef{ID: j.ID, Token: j.Token}
	}
	return out
}

package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"golava/server/store"
)

// Realms on the API: every LAVA route acts in the realm of the caller's
// token (anonymous callers in the default realm), so LAVA clients work
// unchanged in any realm; /api/v0.2/realms/ manages realms themselves and
// carries what LAVA has no place for (artifacts, secrets, webhooks).

// realmOf is the realm a request acts in.
func realmOf(r *http.Request) int64 {
	if u := userFrom(r); u != nil && u.RealmID != 0 {
		return u.RealmID
	}
	return store.DefaultRealm
}

// realmParam resolves {realm} of a /realms/{realm}/ route for an
// authenticated user allowed to use it. Anything else answers 404 (403
// for anonymous callers), so realms one may not use look missing.
func (s *Server) realmParam(w http.ResponseWriter, r *http.Request) (*store.Realm, bool) {
	u, ok := requireUser(w, r)
	if !ok {
		return nil, false
	}
	realm, err := s.store.RealmByName(r.Context(), chi.URLParam(r, "realm"))
	if errors.Is(err, store.ErrNotFound) {
		restError(w, http.StatusNotFound, "Not found.")
		return nil, false
	}
	if err != nil {
		s.storeFailure(w, r, err)
		return nil, false
	}
	allowed, err := s.store.CanUseRealm(r.Context(), realm.ID, u)
	if err != nil {
		s.storeFailure(w, r, err)
		return nil, false
	}
	if !allowed {
		restError(w, http.StatusNotFound, "Not found.")
		return nil, false
	}
	return realm, true
}

// eventSocket is the ZMQ address of the caller's realm's events: each ZMQ
// socket carries one realm, as ZMQ cannot tell subscribers apart.
func (s *Server) eventSocket(r *http.Request) string {
	u := userFrom(r)
	if u == nil || u.Realm == "" || u.Realm == store.DefaultRealmName {
		return s.cfg.EventSocket
	}
	return s.cfg.RealmEventSockets[u.Realm]
}

func (s *Server) restRealms(r chi.Router) {
	r.Get("/realms/", s.listRealms)
	r.Post("/realms/", s.createRealm)
	r.Get("/realms/{realm}/", s.getRealm)
	r.Patch("/realms/{realm}/", s.updateRealm)
	r.Get("/realms/{realm}/members/", s.listRealmMembers)
	r.Post("/realms/{realm}/members/", s.addRealmMember)
	r.Delete("/realms/{realm}/members/{username}/", s.removeRealmMember)
	r.Post("/realms/{realm}/tokens/", s.createRealmToken)
}

type restRealm struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
	PayloadDays int       `json:"payload_days"`
	TempDays    int       `json:"temp_days"`
}

func toRestRealm(r *store.Realm) restRealm {
	return restRealm{Name: r.Name, Description: r.Description, Created: r.CreatedAt,
		PayloadDays: r.PayloadDays, TempDays: r.TempDays}
}

// listRealms lists the realms the caller may use (every realm for a
// superuser; anonymous callers see the default realm only).
func (s *Server) listRealms(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r)
	var realms []*store.Realm
	var err error
	if u == nil {
		var d *store.Realm
		d, err = s.store.RealmByID(r.Context(), store.DefaultRealm)
		realms = []*store.Realm{d}
	} else {
		realms, err = s.store.ListRealms(r.Context(), u)
	}
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	out := make([]restRealm, len(realms))
	for i, realm := range realms {
		out[i] = toRestRealm(realm)
	}
	writeJSON(w, http.StatusOK, Paginated{Count: int64(len(out)), Results: out})
}

func (s *Server) createRealm(w http.ResponseWriter, r *http.Request) {
	if _, ok := requireSuperuser(w, r); !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	realm, err := s.store.CreateRealm(r.Context(), fields["name"], fields["description"])
	switch {
	case errors.Is(err, store.ErrInvalid):
		writeJSON(w, http.StatusBadRequest, map[string][]string{"name": {err.Error()}})
		return
	case errors.Is(err, store.ErrConflict):
		writeJSON(w, http.StatusBadRequest, map[string][]string{"name": {fmt.Sprintf("realm with this name already exists: %q", fields["name"])}})
		return
	case err != nil:
		s.storeFailure(w, r, err)
		return
	}
	s.logger.InfoContext(r.Context(), "realm created", "realm", realm.Name, "by", userFrom(r).Username)
	writeJSON(w, http.StatusCreated, toRestRealm(realm))
}

func (s *Server) getRealm(w http.ResponseWriter, r *http.Request) {
	realm, ok := s.realmParam(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, toRestRealm(realm))
}

// updateRealm sets the artifact lifecycle: payload_days, temp_days.
func (s *Server) updateRealm(w http.ResponseWriter, r *http.Request) {
	realm, ok := s.realmParam(w, r)
	if !ok {
		return
	}
	if _, ok := requireSuperuser(w, r); !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	days := map[string]*int{"payload_days": &realm.PayloadDays, "temp_days": &realm.TempDays}
	for name, dst := range days {
		v, present := fields[name]
		if !present {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, map[string][]string{name: {"A whole number of days, 0 or more, is required."}})
			return
		}
		*dst = n
	}
	if err := s.store.SetRealmLifecycle(r.Context(), realm.ID, realm.PayloadDays, realm.TempDays); err != nil {
		s.storeFailure(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toRestRealm(realm))
}

func (s *Server) listRealmMembers(w http.ResponseWriter, r *http.Request) {
	realm, ok := s.realmParam(w, r)
	if !ok {
		return
	}
	names, err := s.store.RealmMembers(r.Context(), realm.ID)
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, names)
}

// addRealmMember is POST {username}: superusers only.
func (s *Server) addRealmMember(w http.ResponseWriter, r *http.Request) {
	realm, ok := s.realmParam(w, r)
	if !ok {
		return
	}
	if _, ok := requireSuperuser(w, r); !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	u, err := s.store.UserByName(r.Context(), fields["username"])
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"username": {fmt.Sprintf("User %q does not exist.", fields["username"])}})
		return
	}
	if err == nil {
		err = s.store.AddRealmMember(r.Context(), realm.ID, u.ID)
	}
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"realm": realm.Name, "username": u.Username})
}

func (s *Server) removeRealmMember(w http.ResponseWriter, r *http.Request) {
	realm, ok := s.realmParam(w, r)
	if !ok {
		return
	}
	if _, ok := requireSuperuser(w, r); !ok {
		return
	}
	u, err := s.store.UserByName(r.Context(), chi.URLParam(r, "username"))
	if err == nil {
		err = s.store.RemoveRealmMember(r.Context(), realm.ID, u.ID)
	}
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// createRealmToken gives the caller a new token acting in the realm: how a
// member of several realms gets a token for each (lavacli then works in
// that realm unchanged). The secret is shown once.
func (s *Server) createRealmToken(w http.ResponseWriter, r *http.Request) {
	realm, ok := s.realmParam(w, r)
	if !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	u := userFrom(r)
	secret, _, err := s.store.CreateToken(r.Context(), u.ID, realm.ID, fields["description"])
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"realm": realm.Name, "username": u.Username, "token": secret})
}

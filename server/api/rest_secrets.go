package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"golava/server/secrets"
	"golava/server/store"
)

// Realm secrets over REST (issue 10): any user who may use the realm
// (its members and superusers) lists the names, sets and deletes secrets.
// No route returns a value: there is no GET of one secret, and replies to
// a POST carry the name and times only. Reading a value back takes the
// database and the master key (`lava-server secrets get`, an admin tool).

func (s *Server) restSecrets(r chi.Router) {
	r.Get("/realms/{realm}/secrets/", s.listSecrets)
	r.Post("/realms/{realm}/secrets/", s.setSecret)
	r.Delete("/realms/{realm}/secrets/{name}/", s.deleteSecret)
}

type restSecretJSON struct {
	Name    string    `json:"name"`
	Path    string    `json:"path"` // what a job's secrets: block refers to
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

func toRestSecret(realm string, i *store.SecretInfo) restSecretJSON {
	return restSecretJSON{Name: i.Name, Path: secrets.Path{Realm: realm, Name: i.Name}.String(),
		Created: i.CreatedAt, Updated: i.UpdatedAt}
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) {
	realm, ok := s.realmParam(w, r)
	if !ok {
		return
	}
	infos, err := s.store.SecretInfos(r.Context(), realm.ID)
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	out := make([]restSecretJSON, len(infos))
	for i := range infos {
		out[i] = toRestSecret(realm.Name, &infos[i])
	}
	writeJSON(w, http.StatusOK, Paginated{Count: int64(len(out)), Results: out})
}

// setSecret is POST name and value (form or JSON): 201 when created, 200
// when replaced.
func (s *Server) setSecret(w http.ResponseWriter, r *http.Request) {
	realm, ok := s.realmParam(w, r)
	if !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	name, value := fields["name"], fields["value"]
	fieldErr := func(field, msg string) {
		writeJSON(w, http.StatusBadRequest, map[string][]string{field: {msg}})
	}
	switch {
	case name == "":
		fieldErr("name", "This field is required.")
		return
	case secrets.ValidName(name) != nil:
		fieldErr("name", secrets.ValidName(name).Error())
		return
	case value == "":
		fieldErr("value", "This field is required.")
		return
	case len(value) > secrets.MaxValueBytes:
		fieldErr("value", fmt.Sprintf("the value is %d bytes, more than the %d allowed", len(value), secrets.MaxValueBytes))
		return
	}
	if s.cfg.Secrets == nil {
		restError(w, http.StatusServiceUnavailable, "This server has no master key for secrets (lava-server serve --master-key-file).")
		return
	}
	_, err := s.store.SecretInfo(r.Context(), realm.ID, name)
	existed := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.storeFailure(w, r, err)
		return
	}
	path := secrets.Path{Realm: realm.Name, Name: name}.String()
	if err := s.cfg.Secrets.Put(r.Context(), path, []byte(value)); err != nil {
		s.internalError(w, r, err) // errors name the path, never the value
		return
	}
	info, err := s.store.SecretInfo(r.Context(), realm.ID, name)
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	u := userFrom(r)
	s.logger.InfoContext(r.Context(), "secret set", "path", path, "user", u.Username, "replaced", existed)
	code := http.StatusCreated
	if existed {
		code = http.StatusOK
	}
	writeJSON(w, code, toRestSecret(realm.Name, info))
}

func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request) {
	realm, ok := s.realmParam(w, r)
	if !ok {
		return
	}
	name := chi.URLParam(r, "name")
	err := s.store.DeleteSecret(r.Context(), realm.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		restError(w, http.StatusNotFound, "Not found.")
		return
	}
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	s.logger.InfoContext(r.Context(), "secret deleted", "realm", realm.Name, "name", name, "user", userFrom(r).Username)
	w.WriteHeader(http.StatusNoContent)
}

package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"golava/server/store"
)

// Realm webhooks: where server/notify POSTs the realm's notices. Members
// of the realm may list them (secrets never leave the server); only
// superusers add or remove them, as a webhook sends the realm's data out.

func (s *Server) restWebhooks(r chi.Router) {
	r.Get("/realms/{realm}/webhooks/", s.listWebhooks)
	r.Post("/realms/{realm}/webhooks/", s.createWebhook)
	r.Get("/realms/{realm}/webhooks/{id}/", s.getWebhook)
	r.Delete("/realms/{realm}/webhooks/{id}/", s.deleteWebhook)
}

type restWebhook struct {
	ID        int64     `json:"id"`
	Realm     string    `json:"realm"`
	URL       string    `json:"url"`
	HasSecret bool      `json:"has_secret"`
	Created   time.Time `json:"created"`
	Pending   int64     `json:"pending"`
	Sent      int64     `json:"sent"`
	Failed    int64     `json:"failed"`
}

func toRestWebhook(w *store.Webhook) restWebhook {
	return restWebhook{ID: w.ID, Realm: w.Realm, URL: w.URL, HasSecret: w.Secret != "", Created: w.CreatedAt,
		Pending: w.Pending, Sent: w.Sent, Failed: w.Failed}
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	realm, ok := s.realmParam(w, r)
	if !ok {
		return
	}
	hooks, err := s.store.ListWebhooks(r.Context(), realm.ID)
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	out := make([]restWebhook, len(hooks))
	for i, h := range hooks {
		out[i] = toRestWebhook(h)
	}
	writeJSON(w, http.StatusOK, Paginated{Count: int64(len(out)), Results: out})
}

// webhookID reads {id}; a malformed id is as missing as an unknown one.
func webhookID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		restError(w, http.StatusNotFound, "Not found.")
		return 0, false
	}
	return id, true
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	realm, ok := s.realmParam(w, r)
	if !ok {
		return
	}
	id, ok := webhookID(w, r)
	if !ok {
		return
	}
	hook, err := s.store.Webhook(r.Context(), realm.ID, id)
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toRestWebhook(hook))
}

// createWebhook is POST {url, secret?}: superusers only.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	realm, ok := s.realmParam(w, r)
	if !ok {
		return
	}
	u, ok := requireSuperuser(w, r)
	if !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	if fields["url"] == "" {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"url": {"This field is required."}})
		return
	}
	hook, err := s.store.CreateWebhook(r.Context(), realm.ID, fields["url"], fields["secret"])
	switch {
	case errors.Is(err, store.ErrInvalid):
		field := "url"
		if fields["secret"] != "" && store.ValidWebhookURL(fields["url"]) == nil {
			field = "secret"
		}
		writeJSON(w, http.StatusBadRequest, map[string][]string{field: {err.Error()}})
		return
	case errors.Is(err, store.ErrConflict):
		writeJSON(w, http.StatusBadRequest, map[string][]string{"url": {"The realm " + realm.Name + " has this webhook already."}})
		return
	case err != nil:
		s.storeFailure(w, r, err)
		return
	}
	s.logger.InfoContext(r.Context(), "webhook added", "realm", realm.Name, "url", hook.URL, "by", u.Username)
	writeJSON(w, http.StatusCreated, toRestWebhook(hook))
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	realm, ok := s.realmParam(w, r)
	if !ok {
		return
	}
	u, ok := requireSuperuser(w, r)
	if !ok {
		return
	}
	id, ok := webhookID(w, r)
	if !ok {
		return
	}
	if err := s.store.DeleteWebhook(r.Context(), realm.ID, id); err != nil {
		s.storeFailure(w, r, err)
		return
	}
	s.logger.InfoContext(r.Context(), "webhook removed", "realm", realm.Name, "id", id, "by", u.Username)
	w.WriteHeader(http.StatusNoContent)
}

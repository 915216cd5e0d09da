package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// REST system/ (lava_rest_app v02 SystemViewSet): version, whoami and
// master_config, readable by anyone.

func (s *Server) restSystem(r chi.Router) {
	get := func(h http.HandlerFunc) http.HandlerFunc {
		return allow(map[string]http.HandlerFunc{http.MethodGet: h})
	}
	r.HandleFunc("/system/", get(func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, nil) }))
	r.HandleFunc("/system/version/", get(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": LAVAVersion})
	}))
	r.HandleFunc("/system/whoami/", get(func(w http.ResponseWriter, r *http.Request) {
		name := ""
		if u := userFrom(r); u != nil {
			name = u.Username
		}
		writeJSON(w, http.StatusOK, map[string]string{"user": name})
	}))
	r.HandleFunc("/system/master_config/", get(func(w http.ResponseWriter, r *http.Request) {
		sock := s.eventSocket(r)
		writeJSON(w, http.StatusOK, map[string]any{"EVENT_TOPIC": "org.lavasoftware", "EVENT_SOCKET": sock,
			"EVENT_NOTIFICATION": sock != "", "LOG_SIZE_LIMIT": 10})
	}))
}

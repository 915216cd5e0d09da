package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"golava/server/store"
)

// REST permissions/devicetypes/ and permissions/devices/ (lava_rest_app
// v02 GroupDeviceTypePermissionViewSet and GroupDevicePermissionViewSet,
// superusers only): grants with LAVA's codenames.

func (s *Server) restPerms(r chi.Router) {
	for _, kind := range []string{"device-type", "device"} {
		path := "/permissions/devices"
		if kind == "device-type" {
			path = "/permissions/devicetypes"
		}
		r.HandleFunc(path+"/", allow(map[string]http.HandlerFunc{
			http.MethodGet: s.listGrants(kind), http.MethodPost: s.createGrant(kind)}))
		r.HandleFunc(path+"/{id}/", allow(map[string]http.HandlerFunc{
			http.MethodGet: s.getGrant(kind), http.MethodDelete: s.deleteGrant(kind)}))
	}
}

// objectField is the JSON name of the granted object, as LAVA's models.
func objectField(kind string) string {
	if kind == "device-type" {
		return "devicetype"
	}
	return "device"
}

func codename(kind, perm string) string {
	for code, p := range lavaPerms[kind] {
		if p == perm {
			return code
		}
	}
	return perm
}

func grantJSON(g store.Grant) map[string]any {
	return map[string]any{"id": g.ID, "permission": codename(g.Kind, g.Permission), "group": g.Group, objectField(g.Kind): g.Object}
}

func (s *Server) grantsOf(w http.ResponseWriter, r *http.Request, kind string) ([]store.Grant, bool) {
	if _, ok := requireSuperuser(w, r); !ok {
		return nil, false
	}
	all, err := s.store.ListGrants(r.Context(), realmOf(r))
	if err != nil {
		s.internalError(w, r, err)
		return nil, false
	}
	var out []store.Grant
	for _, g := range all {
		if g.Kind == kind {
			out = append(out, g)
		}
	}
	return out, true
}

func (s *Server) listGrants(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		grants, ok := s.grantsOf(w, r, kind)
		if !ok {
			return
		}
		out := []map[string]any{}
		for _, g := range grants {
			out = append(out, grantJSON(g))
		}
		p, err := parsePage(r)
		if err != nil {
			restError(w, http.StatusBadRequest, err.Error())
			return
		}
		lo := min(p.Offset, len(out))
		writeJSON(w, http.StatusOK, paginated(r, p, int64(len(out)), out[lo:min(lo+p.Limit, len(out))]))
	}
}

func (s *Server) grantByID(w http.ResponseWriter, r *http.Request, kind string) (*store.Grant, bool) {
	grants, ok := s.grantsOf(w, r, kind)
	if !ok {
		return nil, false
	}
	id, _ := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	for i := range grants {
		if grants[i].ID == id {
			return &grants[i], true
		}
	}
	restError(w, http.StatusNotFound, "Not found.")
	return nil, false
}

func (s *Server) getGrant(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if g, ok := s.grantByID(w, r, kind); ok {
			writeJSON(w, http.StatusOK, grantJSON(*g))
		}
	}
}

func (s *Server) deleteGrant(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g, ok := s.grantByID(w, r, kind)
		if !ok {
			return
		}
		if err := s.store.RevokePermission(r.Context(), realmOf(r), *g); err != nil {
			s.storeFailure(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) createGrant(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := requireSuperuser(w, r); !ok {
			return
		}
		fields, ok := requestFields(w, r)
		if !ok {
			return
		}
		g := store.Grant{Kind: kind, Group: fields["group"], Object: fields[objectField(kind)]}
		perm, known := lavaPerms[kind][fields["permission"]]
		if !known {
			writeJSON(w, http.StatusBadRequest, map[string][]string{"permission": {"Object with codename=" + fields["permission"] + " does not exist."}})
			return
		}
		g.Permission = perm
		err := s.store.GrantPermission(r.Context(), realmOf(r), g)
		if errors.Is(err, store.ErrNotFound) {
			writeJSON(w, http.StatusBadRequest, map[string][]string{"detail": {err.Error()}})
			return
		}
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		grants, _ := s.store.ListGrants(r.Context(), realmOf(r))
		for _, x := range grants {
			if x.Kind == g.Kind && x.Object == g.Object && x.Group == g.Group && x.Permission == g.Permission {
				writeJSON(w, http.StatusCreated, grantJSON(x))
				return
			}
		}
		s.internalError(w, r, errors.New("grant vanished after creation"))
	}
}

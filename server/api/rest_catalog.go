package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"golava/server/store"
)

// REST tags/ and aliases/ (lava_rest_app v02 TagViewSet and AliasViewSet):
// DjangoModelPermissions, so authenticated users read and superusers
// write; aliases of device types the caller may not see are left out.
// The tables are small: filters and ordering apply in memory.

func (s *Server) restCatalog(r chi.Router) {
	r.HandleFunc("/tags/", allow(map[string]http.HandlerFunc{http.MethodGet: s.listTags, http.MethodPost: s.createTag}))
	r.HandleFunc("/tags/{id}/", allow(map[string]http.HandlerFunc{http.MethodGet: s.getTag, http.MethodDelete: s.deleteTag}))
	r.HandleFunc("/aliases/", allow(map[string]http.HandlerFunc{http.MethodGet: s.listAliases, http.MethodPost: s.createAlias}))
	r.HandleFunc("/aliases/{name}/", allow(map[string]http.HandlerFunc{http.MethodGet: s.getAlias, http.MethodDelete: s.deleteAlias}))
	s.restSystem(r)
	s.restResultsNested(r)
}

type restTag struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
}

type restAlias struct {
	Name       string `json:"name"`
	DeviceType string `json:"device_type"`
}

// nameMatches applies ?name=, name__in, name__contains, name__icontains,
// name__startswith; other parameters besides paging and ordering are 400.
func nameMatches(r *http.Request, name string) (bool, error) {
	for key, vals := range r.URL.Query() {
		v := vals[0]
		switch key {
		case "limit", "offset", "ordering":
		case "name":
			if name != v {
				return false, nil
			}
		case "name__in":
			if !slices.Contains(strings.Split(v, ","), name) {
				return false, nil
			}
		case "name__contains":
			if !strings.Contains(name, v) {
				return false, nil
			}
		case "name__icontains":
			if !strings.Contains(strings.ToLower(name), strings.ToLower(v)) {
				return false, nil
			}
		case "name__startswith":
			if !strings.HasPrefix(name, v) {
				return false, nil
			}
		default:
			return false, errors.New("unknown filter " + key)
		}
	}
	return true, nil
}

// pageOf sorts by ?ordering= (name or id, "-" for descending) and cuts the page.
func pageOf[T any](w http.ResponseWriter, r *http.Request, items []T, key func(T, string) string) {
	p, err := parsePage(r)
	if err != nil {
		restError(w, http.StatusBadRequest, err.Error())
		return
	}
	if o := r.URL.Query().Get("ordering"); o != "" {
		field := strings.TrimPrefix(o, "-")
		slices.SortStableFunc(items, func(a, b T) int {
			c := strings.Compare(key(a, field), key(b, field))
			if strings.HasPrefix(o, "-") {
				return -c
			}
			return c
		})
	}
	total := int64(len(items))
	lo := min(p.Offset, len(items))
	writeJSON(w, http.StatusOK, paginated(r, p, total, items[lo:min(lo+p.Limit, len(items))]))
}

func (s *Server) listTags(w http.ResponseWriter, r *http.Request) {
	if _, ok := requireUser(w, r); !ok {
		return
	}
	tags, err := s.store.ListTags(r.Context(), realmOf(r))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	out := []restTag{}
	for _, t := range tags {
		ok, err := nameMatches(r, t.Name)
		if err != nil {
			restError(w, http.StatusBadRequest, err.Error())
			return
		}
		if ok {
			out = append(out, restTag{ID: t.ID, Name: t.Name, Description: nullable(t.Description)})
		}
	}
	pageOf(w, r, out, func(t restTag, f string) string {
		if f == "id" {
			return strconv.FormatInt(t.ID+1e15, 10) // fixed width sorts numerically
		}
		return t.Name
	})
}

func (s *Server) tagByID(w http.ResponseWriter, r *http.Request) (*store.Tag, bool) {
	id, _ := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	tags, err := s.store.ListTags(r.Context(), realmOf(r))
	if err != nil {
		s.internalError(w, r, err)
		return nil, false
	}
	for i := range tags {
		if tags[i].ID == id {
			return &tags[i], true
		}
	}
	restError(w, http.StatusNotFound, "Not found.")
	return nil, false
}

func (s *Server) getTag(w http.ResponseWriter, r *http.Request) {
	if _, ok := requireUser(w, r); !ok {
		return
	}
	if t, ok := s.tagByID(w, r); ok {
		writeJSON(w, http.StatusOK, restTag{ID: t.ID, Name: t.Name, Description: nullable(t.Description)})
	}
}

func (s *Server) createTag(w http.ResponseWriter, r *http.Request) {
	if _, ok := requireSuperuser(w, r); !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	name := fields["name"]
	if name == "" {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"name": {"This field is required."}})
		return
	}
	err := s.store.CreateTag(r.Context(), realmOf(r), name, fields["description"])
	if errors.Is(err, store.ErrConflict) {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"name": {"tag with this name already exists."}})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"name": {err.Error()}})
		return
	}
	t, err := s.store.TagByName(r.Context(), realmOf(r), name)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, restTag{ID: t.ID, Name: t.Name, Description: nullable(t.Description)})
}

func (s *Server) deleteTag(w http.ResponseWriter, r *http.Request) {
	if _, ok := requireSuperuser(w, r); !ok {
		return
	}
	t, ok := s.tagByID(w, r)
	if !ok {
		return
	}
	if err := s.store.DeleteTag(r.Context(), realmOf(r), t.Name); err != nil {
		s.storeFailure(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// visibleAliases lists the aliases of device types the caller may see.
func (s *Server) visibleAliases(r *http.Request) ([]store.Alias, error) {
	all, err := s.store.ListAliases(r.Context(), realmOf(r))
	if err != nil {
		return nil, err
	}
	var out []store.Alias
	for _, a := range all {
		ok, err := s.store.CanViewDeviceType(r.Context(), a.DeviceTypeID, userFrom(r))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, a)
		}
	}
	return out, nil
}

func (s *Server) listAliases(w http.ResponseWriter, r *http.Request) {
	if _, ok := requireUser(w, r); !ok {
		return
	}
	all, err := s.visibleAliases(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	out := []restAlias{}
	for _, a := range all {
		ok, err := nameMatches(r, a.Name)
		if err != nil {
			restError(w, http.StatusBadRequest, err.Error())
			return
		}
		if ok {
			out = append(out, restAlias{Name: a.Name, DeviceType: a.DeviceType})
		}
	}
	pageOf(w, r, out, func(a restAlias, f string) string {
		if f == "device_type" {
			return a.DeviceType
		}
		return a.Name
	})
}

func (s *Server) getAlias(w http.ResponseWriter, r *http.Request) {
	if _, ok := requireUser(w, r); !ok {
		return
	}
	all, err := s.visibleAliases(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	for _, a := range all {
		if a.Name == chi.URLParam(r, "name") {
			writeJSON(w, http.StatusOK, restAlias{Name: a.Name, DeviceType: a.DeviceType})
			return
		}
	}
	restError(w, http.StatusNotFound, "Not found.")
}

func (s *Server) createAlias(w http.ResponseWriter, r *http.Request) {
	if _, ok := requireSuperuser(w, r); !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	a := restAlias{Name: fields["name"], DeviceType: fields["device_type"]}
	if a.Name == "" || a.DeviceType == "" {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"name": {"This field is required."}, "device_type": {"This field is required."}})
		return
	}
	err := s.store.CreateAlias(r.Context(), realmOf(r), a.Name, a.DeviceType)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusBadRequest, map[string][]string{"device_type": {`Invalid pk "` + a.DeviceType + `" - object does not exist.`}})
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string][]string{"name": {err.Error()}})
	default:
		writeJSON(w, http.StatusCreated, a)
	}
}

func (s *Server) deleteAlias(w http.ResponseWriter, r *http.Request) {
	if _, ok := requireSuperuser(w, r); !ok {
		return
	}
	if err := s.store.DeleteAlias(r.Context(), realmOf(r), chi.URLParam(r, "name")); err != nil {
		s.storeFailure(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

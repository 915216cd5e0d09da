package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"golava/server/artifacts"
	"golava/server/store"
)

// The realm's artifact areas in the UI: what payload and temp hold, and
// each file for download, for the members of the session's realm. Uploads
// stay with the REST API and the CLI (a browser form would hold the
// whole body in a multipart request).

func (s *Server) artifactRoutes(r chi.Router) {
	r.Get("/realm/artifacts/", s.artifactList)
	r.Get("/realm/artifacts/{area}/*", s.artifactDownload)
}

// artifactsShown bounds each area's table; the REST list pages further.
const artifactsShown = 500

type artifactArea struct {
	Name      string
	Artifacts []store.Artifact
	Total     int64
}

type artifactsPage struct {
	Realm      string
	Configured bool
	Areas      []artifactArea
}

func (s *Server) artifactList(w http.ResponseWriter, r *http.Request) {
	u, ok := s.requireUser(w, r)
	if !ok {
		return
	}
	p := artifactsPage{Realm: u.Realm, Configured: s.cfg.Artifacts != nil}
	if p.Configured {
		for _, area := range []string{"payload", "temp"} {
			list, total, err := s.cfg.Artifacts.List(r.Context(), u.RealmID, area, "", 0, artifactsShown)
			if err != nil {
				s.serverError(w, r, err)
				return
			}
			p.Areas = append(p.Areas, artifactArea{Name: area, Artifacts: list, Total: total})
		}
	}
	s.render(w, r, "artifacts.html", "Artifacts", p)
}

// artifactDownload streams one artifact of the session's realm, checked
// against its recorded SHA-256 on the way out. It runs without the page
// timeout (see timeout), as a large file takes longer than a page.
func (s *Server) artifactDownload(w http.ResponseWriter, r *http.Request) {
	u, ok := s.requireUser(w, r)
	if !ok {
		return
	}
	if s.cfg.Artifacts == nil {
		s.notFound(w, r, "artifact")
		return
	}
	area, p := chi.URLParam(r, "area"), chi.URLParam(r, "*")
	a, rc, err := s.cfg.Artifacts.Open(r.Context(), u.RealmID, area, p)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, artifacts.ErrNotFound), errors.Is(err, artifacts.ErrInvalidPath):
		s.notFound(w, r, "artifact")
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", strings.ToValidUTF8(path.Base(a.Path), "_")))
	h.Set("X-Checksum-SHA256", a.SHA256)
	if _, err := io.Copy(w, artifacts.VerifyingReader(rc, a.Size, a.SHA256)); err != nil {
		// The client left, or the stored bytes no longer match: either
		// way the response ends short, never whole and wrong.
		s.logger.InfoContext(r.Context(), "artifact download cut", "realm", a.Realm, "area", a.Area, "path", a.Path, "err", err)
		panic(http.ErrAbortHandler)
	}
}

package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"golava/server/artifacts"
	"golava/server/store"
)

// Artifact areas over HTTP (issue 10). Users reach their realms' areas at
// /api/v0.2/realms/{realm}/artifacts/{area}/PATH; a running job reaches its
// own realm's at /scheduler/internal/v1/jobs/{id}/artifacts/{area}/PATH
// with its job token. Bodies are raw bytes; X-Checksum-SHA256 carries the
// hex digest both ways.

// ChecksumHeader carries an artifact's SHA-256 (hex) on uploads and
// downloads.
const ChecksumHeader = "X-Checksum-SHA256"

// artifactIdle is how long an upload or download may make no progress
// before the connection is dropped; it replaces the server's overall read
// and write timeouts, which a large artifact on a slow link would exceed.
const artifactIdle = 2 * time.Minute

func (s *Server) restArtifacts(r chi.Router) {
	r.HandleFunc("/realms/{realm}/artifacts/{area}/*", s.restArtifact)
}

func (s *Server) workerArtifacts(r chi.Router) {
	r.HandleFunc("/jobs/{id}/artifacts/{area}/*", s.workerArtifact)
}

// isArtifactUpload tells limitBody which requests carry artifact bodies:
// they have their own, larger bound (artifacts.Config.MaxSize).
func isArtifactUpload(r *http.Request) bool {
	if r.Method != http.MethodPut {
		return false
	}
	p := r.URL.Path
	var rest string
	switch {
	case strings.HasPrefix(p, "/api/v0.2/realms/"):
		rest = p[len("/api/v0.2/realms/"):]
	case strings.HasPrefix(p, "/scheduler/internal/v1/jobs/"):
		rest = p[len("/scheduler/internal/v1/jobs/"):]
	default:
		return false
	}
	_, after, ok := strings.Cut(rest, "/")
	return ok && strings.HasPrefix(after, "artifacts/")
}

// restArtifactJSON is one artifact in REST replies. path, size and sha256
// are also the worker API's PUT reply.
type restArtifactJSON struct {
	Path    string     `json:"path"`
	Size    int64      `json:"size"`
	SHA256  string     `json:"sha256"`
	Job     *int64     `json:"job"`
	Created time.Time  `json:"created"`
	Expires *time.Time `json:"expires"`
}

func toRestArtifact(a *store.Artifact) restArtifactJSON {
	return restArtifactJSON{Path: a.Path, Size: a.Size, SHA256: a.SHA256, Job: a.JobID,
		Created: a.CreatedAt, Expires: a.ExpiresAt}
}

// artifactPath is the {area} and the rest of the URL path, unescaped.
func artifactPath(r *http.Request) (area, path string, err error) {
	area = chi.URLParam(r, "area")
	// chi matched on the raw path when the URL had escapes: unescape once.
	path, err = url.PathUnescape(chi.URLParam(r, "*"))
	if err != nil {
		return area, "", fmt.Errorf("%w: bad escape in the URL path", artifacts.ErrInvalidPath)
	}
	if err := artifacts.ValidArea(area); err != nil {
		return area, path, err
	}
	return area, path, nil
}

func (s *Server) restArtifact(w http.ResponseWriter, r *http.Request) {
	realm, ok := s.realmParam(w, r)
	if !ok {
		return
	}
	if s.cfg.Artifacts == nil {
		restError(w, http.StatusServiceUnavailable, "artifact storage is not configured")
		return
	}
	area, path, err := artifactPath(r)
	if err != nil {
		restError(w, http.StatusBadRequest, err.Error())
		return
	}
	u := userFrom(r)
	switch {
	case path == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.listArtifacts(w, r, realm.ID, area)
	case path == "":
		w.Header().Set("Allow", "GET, HEAD")
		restError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method \"%s\" not allowed.", r.Method))
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		s.serveArtifact(w, r, realm.ID, area, path, restError)
	case r.Method == http.MethodPut:
		if area == store.AreaTemp && !u.IsSuperuser {
			restError(w, http.StatusForbidden, "The temp area is written by jobs; upload inputs to payload.")
			return
		}
		// Replacing an artifact deletes it: the same rule applies.
		old, err := s.cfg.Artifacts.Get(r.Context(), realm.ID, area, path)
		if err == nil && !mayDeleteArtifact(u, old) {
			restError(w, http.StatusForbidden, fmt.Sprintf("%s/%s was uploaded by someone else: only they or a superuser may replace it.", area, path))
			return
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.artifactFailure(w, r, err, restError)
			return
		}
		s.uploadArtifact(w, r, artifacts.Upload{RealmID: realm.ID, Realm: realm.Name, Area: area, Path: path,
			UploaderID: &u.ID}, false, restError)
	case r.Method == http.MethodDelete:
		a, err := s.cfg.Artifacts.Get(r.Context(), realm.ID, area, path)
		if err != nil {
			s.artifactFailure(w, r, err, restError)
			return
		}
		if !mayDeleteArtifact(u, a) {
			restError(w, http.StatusForbidden, "Only the uploader or a superuser may delete an artifact.")
			return
		}
		if err := s.cfg.Artifacts.Delete(r.Context(), a); err != nil {
			s.artifactFailure(w, r, err, restError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		restError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method \"%s\" not allowed.", r.Method))
	}
}

func mayDeleteArtifact(u *store.User, a *store.Artifact) bool {
	return u.IsSuperuser || (a.UploaderID != nil && *a.UploaderID == u.ID)
}

func (s *Server) listArtifacts(w http.ResponseWriter, r *http.Request, realmID int64, area string) {
	page, err := parsePage(r)
	if err != nil {
		restError(w, http.StatusBadRequest, err.Error())
		return
	}
	prefix := r.URL.Query().Get("prefix")
	list, count, err := s.cfg.Artifacts.List(r.Context(), realmID, area, prefix, page.Offset, page.Limit)
	if err != nil {
		s.artifactFailure(w, r, err, restError)
		return
	}
	out := make([]restArtifactJSON, len(list))
	for i := range list {
		out[i] = toRestArtifact(&list[i])
	}
	writeJSON(w, http.StatusOK, paginated(r, page, count, out))
}

// errorWriter is restError or workerError: the two APIs' error shapes.
type errorWriter func(w http.ResponseWriter, code int, msg string)

// artifactFailure maps Service errors to statuses; msg is written with the
// API's own error shape.
func (s *Server) artifactFailure(w http.ResponseWriter, r *http.Request, err error, write errorWriter) {
	switch {
	case isTooLarge(err):
		w.Header().Set("Connection", "close")
		write(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("artifact larger than the limit of %d bytes", s.cfg.Artifacts.MaxSize))
	case errors.Is(err, store.ErrNotFound), errors.Is(err, artifacts.ErrNotFound):
		write(w, http.StatusNotFound, "Not found.")
	case errors.Is(err, artifacts.ErrInvalidPath), errors.Is(err, artifacts.ErrChecksum), errors.Is(err, artifacts.ErrSize):
		write(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, artifacts.ErrConflict):
		write(w, http.StatusConflict, err.Error())
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads an answer.
		s.logger.InfoContext(r.Context(), "artifact request abandoned by the client", "path", r.URL.Path)
	default:
		s.logger.ErrorContext(r.Context(), "artifact request failed", "path", r.URL.Path, "err", err)
		write(w, http.StatusInternalServerError, "artifact storage failed; see the server log")
	}
}

// uploadArtifact streams the body into the Service. needSum makes
// X-Checksum-SHA256 mandatory (the worker API).
func (s *Server) uploadArtifact(w http.ResponseWriter, r *http.Request, up artifacts.Upload, needSum bool, write errorWriter) {
	svc := s.cfg.Artifacts
	up.SHA256 = r.Header.Get(ChecksumHeader)
	if up.SHA256 == "" && needSum {
		write(w, http.StatusBadRequest, fmt.Sprintf("missing %s header (hex SHA-256 of the body)", ChecksumHeader))
		return
	}
	if up.SHA256 != "" {
		sum, err := artifacts.ParseSHA256(up.SHA256)
		if err != nil {
			write(w, http.StatusBadRequest, fmt.Sprintf("%s: %v", ChecksumHeader, err))
			return
		}
		up.SHA256 = sum
	}
	up.Size = r.ContentLength
	if up.Size > svc.MaxSize {
		w.Header().Set("Connection", "close")
		write(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("artifact of %d bytes is larger than the limit of %d bytes", up.Size, svc.MaxSize))
		return
	}
	rc := http.NewResponseController(w)
	body := &idleReader{r: http.MaxBytesReader(w, r.Body, svc.MaxSize), rc: rc}
	a, err := svc.Put(r.Context(), up, body)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("realm %q is gone: %w", up.Realm, err)
		}
		s.artifactFailure(w, r, err, write)
		return
	}
	writeJSON(w, http.StatusCreated, toRestArtifact(a))
}

// serveArtifact answers GET/HEAD with the bytes, Content-Length and
// X-Checksum-SHA256 (of the whole artifact, also on Range replies).
func (s *Server) serveArtifact(w http.ResponseWriter, r *http.Request, realmID int64, area, path string, write errorWriter) {
	a, rc, err := s.cfg.Artifacts.Open(r.Context(), realmID, area, path)
	if err != nil {
		s.artifactFailure(w, r, err, write)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set(ChecksumHeader, a.SHA256)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("ETag", `"`+a.SHA256+`"`)
	out := &idleWriter{w: w, rc: http.NewResponseController(w)}
	seeker, canSeek := rc.(io.ReadSeeker)
	plain := r.Method == http.MethodGet && r.Header.Get("Range") == "" && r.Header.Get("If-None-Match") == "" &&
		r.Header.Get("If-Modified-Since") == ""
	if canSeek && !plain {
		// Range requests let a client resume a large download; HEAD and
		// conditional requests are answered as well.
		http.ServeContent(out, r, "", a.CreatedAt, seeker)
		return
	}
	h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	h.Set("Last-Modified", a.CreatedAt.UTC().Format(http.TimeFormat))
	if r.Method == http.MethodHead {
		return
	}
	// A whole download is checked on the way out too: stored bytes that
	// no longer match their record (a damaged disk, a hand edit) end the
	// response short rather than reaching the client whole.
	_, err = io.Copy(out, artifacts.VerifyingReader(rc, a.Size, a.SHA256))
	switch {
	case errors.Is(err, artifacts.ErrChecksum), errors.Is(err, artifacts.ErrSize):
		s.logger.ErrorContext(r.Context(), "stored artifact does not match its record", "realm", a.Realm,
			"area", a.Area, "path", a.Path, "err", err)
		panic(http.ErrAbortHandler)
	case err != nil:
		s.logger.InfoContext(r.Context(), "artifact download cut", "path", r.URL.Path, "err", err)
	}
}

// idleReader moves the connection's deadlines forward while the body
// keeps coming: the read one for the body, the write one for the reply
// that follows it (the server's WriteTimeout runs from the request's start).
type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	last time.Time
}

func (i *idleReader) Read(p []byte) (int, error) {
	if now := time.Now(); now.Sub(i.last) > time.Second {
		i.last = now
		// Errors: a writer without deadlines keeps the server's.
		_ = i.rc.SetReadDeadline(now.Add(artifactIdle))
		_ = i.rc.SetWriteDeadline(now.Add(artifactIdle))
	}
	return i.r.Read(p)
}

// idleWriter is idleReader for downloads.
type idleWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	last time.Time
}

func (i *idleWriter) Header() http.Header         { return i.w.Header() }
func (i *idleWriter) WriteHeader(code int)        { i.w.WriteHeader(code) }
func (i *idleWriter) Unwrap() http.ResponseWriter { return i.w }

func (i *idleWriter) Write(p []byte) (int, error) {
	if now := time.Now(); now.Sub(i.last) > time.Second {
		i.last = now
		_ = i.rc.SetWriteDeadline(now.Add(artifactIdle))
	}
	return i.w.Write(p)
}

// workerArtifact is the job's side: GET from its realm's areas, PUT into
// temp while the job runs; {"error": ...} replies.
func (s *Server) workerArtifact(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut:
	default:
		methodNotAllowed(w, r, "GET, HEAD, PUT")
		return
	}
	id, ok := s.jobAuth(w, r)
	if !ok {
		return
	}
	if s.cfg.Artifacts == nil {
		workerError(w, http.StatusServiceUnavailable, "artifact storage is not configured")
		return
	}
	area, path, err := artifactPath(r)
	if err == nil && path == "" {
		err = fmt.Errorf("%w: no path after artifacts/%s/", artifacts.ErrInvalidPath, area)
	}
	if err != nil {
		workerError(w, http.StatusBadRequest, err.Error())
		return
	}
	job, err := s.store.JobByID(r.Context(), id)
	if err != nil {
		s.workerInternal(w, r, err)
		return
	}
	if r.Method != http.MethodPut {
		s.serveArtifact(w, r, job.RealmID, area, path, workerError)
		return
	}
	if area != store.AreaTemp {
		workerError(w, http.StatusForbidden, fmt.Sprintf("jobs upload to the temp area only, not %q", area))
		return
	}
	switch job.State {
	case store.JobScheduled, store.JobRunning, store.JobCanceling:
	default:
		workerError(w, http.StatusConflict, fmt.Sprintf("job %d is %s: uploads are accepted while it is Scheduled, Running or Canceling", id, job.State))
		return
	}
	realm, err := s.store.RealmByID(r.Context(), job.RealmID)
	if err != nil {
		s.workerInternal(w, r, err)
		return
	}
	s.uploadArtifact(w, r, artifacts.Upload{RealmID: realm.ID, Realm: realm.Name, Area: area, Path: path,
		JobID: &id}, true, workerError)
}

package api

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"go.yaml.in/yaml/v3"

	"golava/pkg/workerapi"
	"golava/server/store"
)

// The job half of the worker API (PROTOCOLS.md section 1): lava-worker
// fetches a job's configuration and posts its state, lava-run posts its log.
// Both authenticate with the job token in the LAVA-Token header.

func (s *Server) workerJobs(r chi.Router) {
	r.HandleFunc("/jobs/{id}/", s.workerJob)
	r.HandleFunc("/jobs/{id}/logs/", s.workerJobLogs)
}

// jobAuth checks the {id} and the token as LAVA does: unknown job first
// (404), then a missing or wrong token (400). It returns the job id.
func (s *Server) jobAuth(w http.ResponseWriter, r *http.Request) (int64, bool) {
	raw := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		workerError(w, http.StatusNotFound, fmt.Sprintf("Unknown job '%s'", raw))
		return 0, false
	}
	tokens, present := r.Header[http.CanonicalHeaderKey(workerapi.TokenHeader)]
	token := ""
	if present {
		token = tokens[0]
	}
	err = s.store.CheckJobToken(r.Context(), id, token)
	switch {
	case errors.Is(err, store.ErrNotFound):
		workerError(w, http.StatusNotFound, fmt.Sprintf("Unknown job '%s'", raw))
	case errors.Is(err, store.ErrInvalidToken) && !present:
		workerError(w, http.StatusBadRequest, "Missing 'token'")
	case errors.Is(err, store.ErrInvalidToken):
		workerError(w, http.StatusBadRequest, "Invalid 'token'")
	case err != nil:
		s.workerInternal(w, r, err)
	default:
		return id, true
	}
	return 0, false
}

func (s *Server) workerInternal(w http.ResponseWriter, r *http.Request, err error) {
	s.logger.ErrorContext(r.Context(), "worker request failed", "path", r.URL.Path, "err", err)
	workerError(w, http.StatusInternalServerError, "internal server error")
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allowed string) {
	w.Header().Set("Allow", allowed)
	workerError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method '%s' not allowed", r.Method))
}

// workerJob is GET (configuration) and POST (state) on jobs/<id>/.
func (s *Server) workerJob(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		methodNotAllowed(w, r, "GET, POST")
		return
	}
	id, ok := s.jobAuth(w, r)
	if !ok {
		return
	}
	if r.Method == http.MethodGet {
		s.workerJobConfig(w, r, id)
		return
	}
	if err := r.ParseForm(); err != nil {
		if isTooLarge(err) {
			workerError(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		workerError(w, http.StatusBadRequest, "Invalid form data")
		return
	}
	s.workerJobState(w, r, id)
}

// capitalize is Python's str.capitalize.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	lower := strings.ToLower(s)
	for i, c := range lower {
		return strings.ToUpper(string(c)) + lower[i+len(string(c)):]
	}
	return lower
}

var knownStates = map[string]bool{
	store.JobSubmitted: true, store.JobScheduling: true, store.JobScheduled: true,
	store.JobRunning: true, store.JobCanceling: true, store.JobFinished: true,
}

func (s *Server) workerJobState(w http.ResponseWriter, r *http.Request, id int64) {
	state := capitalize(r.PostForm.Get("state"))
	if !knownStates[state] {
		workerError(w, http.StatusBadRequest, fmt.Sprintf("Invalid state '%s'", state))
		return
	}
	var err error
	switch state {
	case store.JobRunning:
		err = s.store.JobStarted(r.Context(), id)
	case store.JobFinished:
		f := workerapi.Finish{
			Result: r.PostForm.Get("result"), ErrorType: r.PostForm.Get("error_type"),
			Errors: r.PostForm.Get("errors"), Description: r.PostForm.Get("description"),
		}
		if f.Result != "pass" && f.Result != "fail" {
			workerError(w, http.StatusBadRequest, fmt.Sprintf("Invalid health '%s'", f.Result))
			return
		}
		maskFinish(s.jobMasker(r.Context(), id), &f)
		err = s.store.JobFinished(r.Context(), id, f)
		if err == nil {
			s.masks.drop(id)
		}
	default:
		workerError(w, http.StatusBadRequest, fmt.Sprintf("Not handled state '%s'", state))
		return
	}
	switch {
	case errors.Is(err, store.ErrTransition):
		workerError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		s.workerInternal(w, r, err)
	default:
		s.logger.InfoContext(r.Context(), "job state posted", "job_id", id, "state", state)
		writeJSON(w, http.StatusOK, struct{}{})
	}
}

// workerJobConfig answers GET jobs/<id>/ with the five YAML documents.
func (s *Server) workerJobConfig(w http.ResponseWriter, r *http.Request, id int64) {
	wj, err := s.store.JobForWorker(r.Context(), id, r.Header.Get(workerapi.TokenHeader))
	if errors.Is(err, store.ErrConflict) {
		workerError(w, http.StatusBadRequest, fmt.Sprintf("Job '%d' is not scheduled on a device", id))
		return
	}
	if err != nil {
		s.workerInternal(w, r, err)
		return
	}
	secretVals, ok := s.deliverSecrets(w, r, wj.Job)
	if !ok {
		return
	}
	def, jobCtx, err := workerDefinition(wj.Job.Definition, secretVals)
	if err != nil {
		s.workerInternal(w, r, fmt.Errorf("job %d definition: %w", id, err))
		return
	}
	device, err := s.renderDevice(wj, jobCtx)
	if err != nil {
		s.workerInternal(w, r, fmt.Errorf("job %d: render device: %w", id, err))
		return
	}
	cfg := workerapi.JobConfig{Definition: def, Device: device}
	files := []struct {
		dst  *string
		db   string
		kind string
	}{{&cfg.Dispatcher, wj.DispatcherConfig, "dispatcher"}, {&cfg.Env, wj.Env, "env"}, {&cfg.EnvDUT, wj.EnvDUT, "env-dut"}}
	for _, f := range files {
		if *f.dst, err = s.workerFile(wj.Worker, f.kind, f.db); err != nil {
			s.workerInternal(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, cfg)
}

// workerDefinition re-dumps a definition with compatibility added, as LAVA
// does, and returns its context block for the device templates. The keys
// of secrets: found in secretVals get those values (resolved /lava/ paths).
func workerDefinition(definition string, secretVals map[string]string) (string, map[string]any, error) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(definition), &root); err != nil {
		return "", nil, err
	}
	top := &root
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	if top.Kind != yaml.MappingNode {
		return "", nil, fmt.Errorf("not a mapping")
	}
	var jobCtx map[string]any
	replaced := false
	for i := 0; i+1 < len(top.Content); i += 2 {
		switch top.Content[i].Value {
		case "compatibility":
			top.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "0"}
			replaced = true
		case "context":
			_ = top.Content[i+1].Decode(&jobCtx) // a bad context was refused at submission
		case "secrets":
			setSecretValues(top.Content[i+1], secretVals)
		}
	}
	if !replaced {
		// lava-run only checks that this is not above its own level; golava
		// does not compute LAVA's pipeline compatibility, so 0 always passes.
		top.Content = append(top.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "compatibility"},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "0"})
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return "", nil, err
	}
	if err := enc.Close(); err != nil {
		return "", nil, err
	}
	return b.String(), jobCtx, nil
}

// setSecretValues replaces the values of a secrets: mapping by vals[key].
func setSecretValues(block *yaml.Node, vals map[string]string) {
	if block.Kind != yaml.MappingNode || len(vals) == 0 {
		return
	}
	for i := 0; i+1 < len(block.Content); i += 2 {
		if v, ok := vals[block.Content[i].Value]; ok {
			block.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
		}
	}
}

// workerFile returns a worker's dispatcher, env or env-dut document: the
// database column when set, else the files LAVA reads under
// /etc/lava-server/dispatcher.d (cfg.DispatcherDir), else "". A file that
// is not YAML is an error, as in LAVA.
func (s *Server) workerFile(worker, kind, fromDB string) (string, error) {
	if fromDB != "" || s.cfg.DispatcherDir == "" || worker == "" || worker != filepath.Base(worker) {
		return fromDB, nil
	}
	dir := s.cfg.DispatcherDir
	var paths []string
	switch kind {
	case "dispatcher":
		paths = []string{filepath.Join(dir, worker, "dispatcher.yaml"), filepath.Join(dir, worker+".yaml")}
	default:
		paths = []string{filepath.Join(dir, worker, kind+".yaml"), filepath.Join(filepath.Dir(dir), kind+".yaml")}
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return "", fmt.Errorf("invalid YAML file for %s: %s file %s: %w", worker, kind, p, err)
		}
		return string(data), nil
	}
	return "", nil
}

// workerJobLogs is POST jobs/<id>/logs/: form lines and index.
func (s *Server) workerJobLogs(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, "POST")
		return
	}
	id, ok := s.jobAuth(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		if isTooLarge(err) {
			workerError(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		workerError(w, http.StatusBadRequest, "Invalid form data")
		return
	}
	lines := r.PostForm.Get("lines")
	if lines == "" {
		workerError(w, http.StatusBadRequest, "Missing 'lines'")
		return
	}
	rawIndex, present := r.PostForm["index"]
	if !present {
		workerError(w, http.StatusBadRequest, "Missing 'index'")
		return
	}
	index, err := strconv.ParseInt(strings.TrimSpace(rawIndex[0]), 10, 64)
	if err != nil || index < 0 {
		workerError(w, http.StatusBadRequest, "Invalid 'index'")
		return
	}
	records, err := ParseLogLines(lines)
	if err != nil {
		workerError(w, http.StatusBadRequest, "Invalid 'lines': "+err.Error())
		return
	}
	maskRecords(s.jobMasker(r.Context(), id), records)
	n, err := s.store.AppendLog(r.Context(), id, index, records)
	var le *store.LogError
	switch {
	case errors.As(err, &le):
		workerError(w, http.StatusBadRequest, "Invalid 'lines': "+le.Error())
	case errors.Is(err, store.ErrLogIndex):
		workerError(w, http.StatusBadRequest, "Invalid 'index': "+err.Error())
	case err != nil:
		s.workerInternal(w, r, err)
	default:
		writeJSON(w, http.StatusOK, workerapi.LogReply{LineCount: n})
	}
}

// ParseLogLines splits the lines field of a log upload, "- " + "\n- "
// joined records, into records. Records never contain a raw newline
// (logfmt escapes it), so the split is exact.
func ParseLogLines(lines string) ([]string, error) {
	lines = strings.TrimRight(lines, "\n")
	if !strings.HasPrefix(lines, "- ") {
		return nil, fmt.Errorf(`does not start with "- "`)
	}
	records := strings.Split(lines[2:], "\n- ")
	for i, rec := range records {
		if strings.IndexByte(rec, '\n') >= 0 {
			return nil, fmt.Errorf("record %d: not a one-line YAML list item", i)
		}
	}
	return records, nil
}

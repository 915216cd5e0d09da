package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"golava/pkg/events"
	"golava/pkg/jobdef"
	"golava/server/store"
)

// REST API v0.2 for jobs, in the shapes of lava_rest_app (TestJobViewSet,
// the nested suites/tests view sets and their serializers).

func (s *Server) restJobs(r chi.Router) {
	r.HandleFunc("/jobs/", allow(map[string]http.HandlerFunc{http.MethodGet: s.listJobs, http.MethodPost: s.submitJob}))
	r.HandleFunc("/jobs/validate/", allow(map[string]http.HandlerFunc{http.MethodPost: s.validateJob}))
	r.HandleFunc("/jobs/{id}/", allow(map[string]http.HandlerFunc{http.MethodGet: s.getJob}))
	r.HandleFunc("/jobs/{id}/logs/", allow(map[string]http.HandlerFunc{http.MethodGet: s.jobLogs}))
	r.HandleFunc("/jobs/{id}/tests/", allow(map[string]http.HandlerFunc{http.MethodGet: s.jobTests}))
	r.HandleFunc("/jobs/{id}/suites/", allow(map[string]http.HandlerFunc{http.MethodGet: s.jobSuites}))
	r.HandleFunc("/jobs/{id}/yaml/", allow(map[string]http.HandlerFunc{http.MethodGet: s.exportYAML}))
	r.HandleFunc("/jobs/{id}/csv/", allow(map[string]http.HandlerFunc{http.MethodGet: s.exportCSV}))
	r.HandleFunc("/jobs/{id}/junit/", allow(map[string]http.HandlerFunc{http.MethodGet: s.exportJUnit}))
	r.HandleFunc("/jobs/{id}/definition/", allow(map[string]http.HandlerFunc{http.MethodGet: s.jobDefinition}))
	r.HandleFunc("/jobs/{id}/resubmit/", allow(map[string]http.HandlerFunc{http.MethodPost: s.resubmitJob}))
	r.HandleFunc("/jobs/{id}/cancel/", allow(map[string]http.HandlerFunc{http.MethodGet: s.cancelJob, http.MethodPost: s.cancelJob}))
}

// allow dispatches on the method and answers others as DRF does.
func allow(handlers map[string]http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h, ok := handlers[r.Method]; ok {
			h(w, r)
			return
		}
		if r.Method == http.MethodHead {
			if h, ok := handlers[http.MethodGet]; ok {
				h(w, r)
				return
			}
		}
		restError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method))
	}
}

// drfTime is DRF's DateTimeField rendering of an aware UTC time.
func drfTime(t time.Time) string { return events.PyISOTime(t) + "Z" }

func drfTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := drfTime(*t)
	return &s
}

// restJob is LAVA's TestJobSerializer, fields in its order.
type restJob struct {
	ID                  int64   `json:"id"`
	Submitter           string  `json:"submitter"`
	ViewingGroups       []int64 `json:"viewing_groups"`
	Description         string  `json:"description"`
	HealthCheck         bool    `json:"health_check"`
	RequestedDeviceType *string `json:"requested_device_type"`
	Tags                []int64 `json:"tags"`
	ActualDevice        *string `json:"actual_device"`
	SubmitTime          string  `json:"submit_time"`
	StartTime           *string `json:"start_time"`
	EndTime             *string `json:"end_time"`
	State               string  `json:"state"`
	Health              string  `json:"health"`
	Priority            int     `json:"priority"`
	Definition          string  `json:"definition"`
	OriginalDefinition  string  `json:"original_definition"`
	MultinodeDefinition string  `json:"multinode_definition"`
	FailureTags         []int64 `json:"failure_tags"`
	FailureComment      *string `json:"failure_comment"`
	// Token is shown to superusers only.
	Token *string `json:"token,omitempty"`
}

func toRestJob(j *store.Job, ex store.JobExtra, viewer *store.User) restJob {
	out := restJob{
		ID: j.ID, Submitter: j.Submitter, ViewingGroups: nonNil(ex.ViewingGroupIDs),
		Description: j.Description, HealthCheck: j.HealthCheck,
		RequestedDeviceType: j.RequestedDeviceType, Tags: nonNil(ex.TagIDs),
		ActualDevice: j.ActualDevice, SubmitTime: drfTime(j.SubmitTime),
		StartTime: drfTimePtr(j.StartTime), EndTime: drfTimePtr(j.EndTime),
		State: j.State, Health: j.Health, Priority: j.Priority, Definition: j.Definition,
		OriginalDefinition: j.OriginalDefinition, MultinodeDefinition: ex.MultinodeDefinition,
		FailureTags: []int64{}, FailureComment: j.FailureComment,
	}
	if viewer != nil && viewer.IsSuperuser {
		tok := j.Token
		out.Token = &tok
	}
	return out
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// restJobs serializes jobs with their extras in one query.
func (s *Server) restJobList(r *http.Request, jobs []*store.Job) ([]restJob, error) {
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	extras, err := s.store.JobExtras(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	out := make([]restJob, len(jobs))
	for i, j := range jobs {
		out[i] = toRestJob(j, extras[j.ID], userFrom(r))
	}
	return out, nil
}

func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.logger.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
	restError(w, http.StatusInternalServerError, "A server error occurred.")
}

var jobStates = []string{store.JobSubmitted, store.JobScheduling, store.JobScheduled, store.JobRunning, store.JobCanceling, store.JobFinished}
var jobHealths = []string{store.JobHealthUnknown, store.JobHealthComplete, store.JobHealthIncomplete, store.JobHealthCanceled}

// choices checks a comma-separated list of LAVA names, as TestJobFilter does.
func choices(value string, valid []string) ([]string, error) {
	vals := strings.Split(value, ",")
	for _, v := range vals {
		ok := false
		for _, c := range valid {
			ok = ok || c == v
		}
		if !ok {
			return nil, fmt.Errorf("Select a valid choice. %s is not one of the available choices: ('%s')", value, strings.Join(valid, "', '"))
		}
	}
	return vals, nil
}

// jobFilter reads TestJobFilter's query parameters that golava supports.
func jobFilter(q url.Values) (store.JobFilter, error) {
	var f store.JobFilter
	var err error
	for _, p := range []struct {
		key   string
		valid []string
		dst   *[]string
	}{{"state", jobStates, &f.States}, {"state__in", jobStates, &f.States}, {"health", jobHealths, &f.Healths}, {"health__in", jobHealths, &f.Healths}} {
		if v := q.Get(p.key); v != "" {
			if *p.dst, err = choices(v, p.valid); err != nil {
				return f, err
			}
		}
	}
	f.DeviceType = firstOf(q, "requested_device_type", "requested_device_type__name")
	f.ActualDevice = firstOf(q, "actual_device", "actual_device__hostname")
	f.Submitter = firstOf(q, "submitter", "submitter__username")
	f.TargetGroup = q.Get("target_group")
	for key, dst := range map[string]*int64{"id__gt": &f.IDGt, "id__lt": &f.IDLt} {
		if v := q.Get(key); v != "" {
			if *dst, err = strconv.ParseInt(v, 10, 64); err != nil {
				return f, fmt.Errorf("%s: enter a number", key)
			}
		}
	}
	ids := q.Get("id__in")
	if id := q.Get("id"); id != "" {
		ids = id
	}
	if ids != "" {
		f.IDs = []int64{}
		for _, v := range strings.Split(ids, ",") {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return f, fmt.Errorf("id: enter a number")
			}
			f.IDs = append(f.IDs, id)
		}
	}
	if v := q.Get("health_check"); v != "" {
		b := v == "true" || v == "True" || v == "1"
		f.HealthCheck = &b
	}
	if f.Times, err = timeFilters(q); err != nil {
		return f, err
	}
	f.Ordering = q.Get("ordering")
	if f.Ordering == "" {
		f.Ordering = "id"
	}
	return f, nil
}

func firstOf(q url.Values, keys ...string) string {
	for _, k := range keys {
		if v := q.Get(k); v != "" {
			return v
		}
	}
	return ""
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	page, err := parsePage(r)
	if err != nil {
		restError(w, http.StatusBadRequest, err.Error())
		return
	}
	f, err := jobFilter(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, []string{err.Error()})
		return
	}
	f.Limit, f.Offset = page.Limit, page.Offset
	jobs, count, err := s.store.ListJobs(r.Context(), realmOf(r), userFrom(r), f)
	if errors.Is(err, store.ErrBadFilter) {
		restError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	out, err := s.restJobList(r, jobs)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, paginated(r, page, count, out))
}

// visibleJob loads the job of the {id} parameter or answers 404.
func (s *Server) visibleJob(w http.ResponseWriter, r *http.Request) (*store.Job, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		restError(w, http.StatusNotFound, "Not found.")
		return nil, false
	}
	j, err := s.store.GetJob(r.Context(), realmOf(r), id, userFrom(r))
	if errors.Is(err, store.ErrNotFound) {
		restError(w, http.StatusNotFound, "Not found.")
		return nil, false
	}
	if err != nil {
		s.internalError(w, r, err)
		return nil, false
	}
	return j, true
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	j, ok := s.visibleJob(w, r)
	if !ok {
		return
	}
	out, err := s.restJobList(r, []*store.Job{j})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out[0])
}

// requestFields reads a JSON object or a form body into strings (JSON
// booleans become "true"/"" for Python truthiness).
func requestFields(w http.ResponseWriter, r *http.Request) (map[string]string, bool) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		return multipartFields(w, r)
	}
	body, err := io.ReadAll(r.Body)
	if isTooLarge(err) {
		restError(w, http.StatusRequestEntityTooLarge, "Request body too large.")
		return nil, false
	}
	if err != nil {
		restError(w, http.StatusBadRequest, "Could not read the request body.")
		return nil, false
	}
	out := map[string]string{}
	if ct != "application/json" {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			restError(w, http.StatusBadRequest, "Malformed form data.")
			return nil, false
		}
		for k := range vals {
			out[k] = vals.Get(k)
		}
		return out, true
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		restError(w, http.StatusBadRequest, "JSON parse error - "+err.Error())
		return nil, false
	}
	for k, v := range raw {
		switch x := v.(type) {
		case string:
			out[k] = x
		case bool:
			if x {
				out[k] = "true"
			}
		case nil:
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out, true
}

// multipartFields reads a multipart form (curl -F, DRF's MultiPartParser);
// files are ignored, their size still bounded by the body limit.
func multipartFields(w http.ResponseWriter, r *http.Request) (map[string]string, bool) {
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		if isTooLarge(err) {
			restError(w, http.StatusRequestEntityTooLarge, "Request body too large.")
			return nil, false
		}
		restError(w, http.StatusBadRequest, "Multipart form parse error - "+err.Error())
		return nil, false
	}
	defer r.MultipartForm.RemoveAll()
	out := map[string]string{}
	for k, v := range r.MultipartForm.Value {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out, true
}

func (s *Server) submitJob(w http.ResponseWriter, r *http.Request) {
	user, ok := requireUser(w, r)
	if !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	def, ok := fields["definition"]
	if !ok || def == "" {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"definition": {"This field is required."}})
		return
	}
	if len(def) > jobdef.MaxDefinitionBytes {
		restMessage(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("job definition is %d bytes, more than the %d allowed", len(def), jobdef.MaxDefinitionBytes))
		return
	}
	s.submitDefinition(w, r, user, def)
}

// submitDefinition parses and stores def for user, answering as LAVA.
func (s *Server) submitDefinition(w http.ResponseWriter, r *http.Request, user *store.User, def string) {
	// Both of LAVA's gates at once: lava-common's schema and lava-server's
	// submission checks (lava_scheduler_app/schema.py).
	job, err := jobdef.ParseWith([]byte(def), jobdef.Options{Submission: true})
	if err != nil {
		restMessage(w, http.StatusBadRequest, "Problem with submitted job data: "+err.Error())
		return
	}
	if msg, err := s.submitSecretsProblem(r.Context(), realmOf(r), job); err != nil || msg != "" {
		if err != nil {
			s.internalError(w, r, err)
		} else {
			restMessage(w, http.StatusBadRequest, "Problem with submitted job data: "+msg)
		}
		return
	}
	// SubmitJobEstimate checks the submit permission first (submitDenied's
	// check, folded into its first round trip).
	ids, est, err := s.store.SubmitJobEstimate(r.Context(), realmOf(r), user, def, job)
	var se *store.SubmitError
	var denied *store.SubmitDeniedError
	if errors.As(err, &denied) {
		restMessage(w, http.StatusBadRequest, deniedMessage(denied.DeviceType, user))
		return
	}
	if errors.As(err, &se) {
		restMessage(w, http.StatusBadRequest, se.Error())
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	var jobIDs []any
	for i, id := range ids {
		if job.MultiNode != nil {
			jobIDs = append(jobIDs, fmt.Sprintf("%d.%d", ids[0], i))
		} else {
			jobIDs = append(jobIDs, id)
		}
	}
	s.logger.InfoContext(r.Context(), "job submitted", "job_id", ids[0], "jobs", len(ids), "submitter", user.Username)
	// golava's addition: when the job is expected to start (null when no
	// device of its type can run jobs now). LAVA clients ignore the field.
	var start *string
	if est != nil && est.Start != nil {
		v := est.Start.UTC().Format(time.RFC3339)
		start = &v
	}
	writeJSON(w, http.StatusCreated, struct {
		Message        string  `json:"message"`
		JobIDs         []any   `json:"job_ids"`
		EstimatedStart *string `json:"estimated_start"`
	}{"job(s) successfully submitted", jobIDs, start})
}

// resubmitJob is POST jobs/<id>/resubmit/: the definition again (the whole
// submission for a MultiNode job), submitted by the caller.
func (s *Server) resubmitJob(w http.ResponseWriter, r *http.Request) {
	user, ok := requireUser(w, r)
	if !ok {
		return
	}
	j, ok := s.visibleJob(w, r)
	if !ok {
		return
	}
	def := j.Definition
	if j.IsMultinode() {
		extras, err := s.store.JobExtras(r.Context(), []int64{j.ID})
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		def = extras[j.ID].MultinodeDefinition
	}
	s.submitDefinition(w, r, user, def)
}

// validateJob is POST jobs/validate/: 200 with "Job valid." or the errors.
func (s *Server) validateJob(w http.ResponseWriter, r *http.Request) {
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	def := fields["definition"]
	if def == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"definition": "Test job definition is required."})
		return
	}
	if len(def) > jobdef.MaxDefinitionBytes {
		restMessage(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("job definition is %d bytes, more than the %d allowed", len(def), jobdef.MaxDefinitionBytes))
		return
	}
	// Python truthiness of request.data.get("strict", False).
	strict := fields["strict"] != ""
	if errs := jobdef.Validate([]byte(def), jobdef.Options{Strict: strict}); len(errs) > 0 {
		// LAVA answers {"message": "Job invalid: <first error>"}; the
		// message keeps that shape (with every error) and "errors" adds
		// each one with its place, for editors and scripts.
		type jsonError struct {
			Path    string `json:"path"`
			Line    int    `json:"line"`
			Column  int    `json:"column"`
			Message string `json:"message"`
		}
		list := make([]jsonError, len(errs))
		for i, e := range errs {
			list[i] = jsonError{e.Path, e.Line, e.Column, e.Message}
		}
		writeJSON(w, http.StatusOK, struct {
			Message string      `json:"message"`
			Errors  []jsonError `json:"errors"`
		}{"Job invalid: " + errs.Error(), list})
		return
	}
	restMessage(w, http.StatusOK, "Job valid.")
}

// jobLogs streams the log as LAVA's YAML list, whole or lines [start, end).
func (s *Server) jobLogs(w http.ResponseWriter, r *http.Request) {
	j, ok := s.visibleJob(w, r)
	if !ok {
		return
	}
	start, end := int64(0), int64(-1)
	for key, dst := range map[string]*int64{"start": &start, "end": &end} {
		if v := r.URL.Query().Get(key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				restError(w, http.StatusBadRequest, fmt.Sprintf("%s: %q is not a non-negative integer", key, v))
				return
			}
			*dst = n
		}
	}
	if j.LogLines == 0 || start >= j.LogLines || (end >= 0 && end <= start) {
		restError(w, http.StatusNotFound, "Not found.")
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=job_%d.yaml", j.ID))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	err := s.store.StreamLog(r.Context(), j.ID, start, end, func(line []byte) error {
		bw.WriteString("- ")
		bw.Write(line)
		return bw.WriteByte('\n')
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil && r.Context().Err() == nil {
		// The status is sent; all we can do is cut the body short.
		s.logger.WarnContext(r.Context(), "log stream failed", "job_id", j.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// jobDefinition returns the stored definition as YAML.
func (s *Server) jobDefinition(w http.ResponseWriter, r *http.Request) {
	j, ok := s.visibleJob(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=job_%d.yaml", j.ID))
	io.WriteString(w, j.Definition)
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		restError(w, http.StatusNotFound, "Not found.")
		return
	}
	err = s.store.CancelJob(r.Context(), realmOf(r), id, userFrom(r))
	switch {
	case errors.Is(err, store.ErrNotFound):
		restError(w, http.StatusNotFound, "Not found.")
	case errors.Is(err, store.ErrForbidden):
		restError(w, http.StatusForbidden, "Insufficient permissions")
	case err != nil:
		s.internalError(w, r, err)
	default:
		restMessage(w, http.StatusOK, "Job cancel signal sent.")
	}
}

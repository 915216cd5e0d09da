package web

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"golava/pkg/jobdef"
	"golava/server/secrets"
	"golava/server/store"
)

func (s *Server) jobRoutes(r chi.Router) {
	r.Get("/scheduler/alljobs", s.jobList)
	r.Get("/scheduler/job/{id}", s.jobPage)
	r.Get("/scheduler/job/{id}/log_fragment", s.logFragment)
	r.Get("/scheduler/job/{id}/definition", s.jobDefinition)
	r.Get("/scheduler/job/{id}/cancel", s.cancelConfirm)
	r.Post("/scheduler/job/{id}/cancel", s.cancelJob)
	r.Get("/scheduler/job/{id}/resubmit", s.resubmitForm)
	r.Get("/scheduler/jobsubmit", s.submitForm)
	r.Post("/scheduler/jobsubmit", s.submit)
}

// Choices offered by the job list's filter form.
var (
	jobStates   = []string{store.JobSubmitted, store.JobScheduling, store.JobScheduled, store.JobRunning, store.JobCanceling, store.JobFinished}
	jobHealths  = []string{store.JobHealthUnknown, store.JobHealthComplete, store.JobHealthIncomplete, store.JobHealthCanceled}
	maxFieldLen = 200
)

type jobListPage struct {
	Filter        jobListFilter
	States        []string
	Healths       []string
	Jobs          []jobRow
	Older, Newer  template.URL // query strings of the next pages; "" when none
	FilterQuery   template.URL
	FilterApplied bool
}

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if a == v {
			return true
		}
	}
	return false
}

func (s *Server) jobList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := jobListFilter{State: q.Get("state"), Health: q.Get("health"), DeviceType: q.Get("device_type"),
		Submitter: q.Get("submitter"), Tag: q.Get("tag"), Text: q.Get("text"), Device: q.Get("device"), Group: q.Get("group"),
		Limit: s.cfg.JobsPerPage}
	for _, v := range []string{f.DeviceType, f.Submitter, f.Tag, f.Text, f.Device, f.Group} {
		if len(v) > maxFieldLen {
			s.badRequest(w, r, fmt.Sprintf("filter values are limited to %d characters", maxFieldLen))
			return
		}
	}
	if (f.State != "" && !oneOf(f.State, jobStates)) || (f.Health != "" && !oneOf(f.Health, jobHealths)) {
		s.badRequest(w, r, "unknown state or health in the filter")
		return
	}
	var err error
	for name, dst := range map[string]*int64{"before": &f.Before, "after": &f.After} {
		if v := q.Get(name); v != "" {
			if *dst, err = strconv.ParseInt(v, 10, 64); err != nil || *dst < 0 {
				s.badRequest(w, r, name+" must be a job id")
				return
			}
		}
	}
	jobs, more, err := s.listJobs(r.Context(), currentUser(r), f)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	base := url.Values{}
	for k, v := range map[string]string{"state": f.State, "health": f.Health, "device_type": f.DeviceType,
		"submitter": f.Submitter, "tag": f.Tag, "text": f.Text, "device": f.Device, "group": f.Group} {
		if v != "" {
			base.Set(k, v)
		}
	}
	p := jobListPage{Filter: f, States: jobStates, Healths: jobHealths, Jobs: jobs, FilterQuery: template.URL(base.Encode()),
		FilterApplied: len(base) > 0}
	if len(jobs) > 0 {
		// Reading forward (after) always has older jobs behind; reading
		// backward (before) always has newer ones.
		if (f.After == 0 && more) || f.After > 0 {
			p.Older = withParam(base, "before", jobs[len(jobs)-1].ID)
		}
		if (f.After > 0 && more) || f.Before > 0 {
			p.Newer = withParam(base, "after", jobs[0].ID)
		}
	}
	s.render(w, r, "jobs.html", "Jobs", p)
}

func withParam(base url.Values, k string, v int64) template.URL {
	q := url.Values{}
	for kk, vv := range base {
		q[kk] = vv
	}
	q.Set(k, strconv.FormatInt(v, 10))
	return template.URL(q.Encode()) // url.Values.Encode escapes every value
}

// visibleJob loads the job of the {id} URL parameter, answering 404 when
// the viewer may not see it.
func (s *Server) visibleJob(w http.ResponseWriter, r *http.Request) (*store.Job, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		s.notFound(w, r, "job")
		return nil, false
	}
	j, err := s.st.GetJob(r.Context(), s.realm(r), id, currentUser(r))
	if err != nil {
		s.storeError(w, r, "job", err)
		return nil, false
	}
	return j, true
}

func (s *Server) jobDefinition(w http.ResponseWriter, r *http.Request) {
	j, ok := s.visibleJob(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=job_%d.yaml", j.ID))
	_, _ = w.Write([]byte(j.Definition))
}

func canChange(u *store.User, j *store.Job) bool {
	return u != nil && (u.IsSuperuser || u.ID == j.SubmitterID)
}

type confirmPage struct {
	Question, Action, Button, Back string
	Fields                         map[string]string
}

func (s *Server) cancelConfirm(w http.ResponseWriter, r *http.Request) {
	j, ok := s.visibleJob(w, r)
	if !ok {
		return
	}
	s.render(w, r, "confirm.html", "Cancel job", confirmPage{
		Question: fmt.Sprintf("Cancel job %d (%s)?", j.ID, j.Description),
		Action:   fmt.Sprintf("/scheduler/job/%d/cancel", j.ID), Button: "Cancel job",
		Back: fmt.Sprintf("/scheduler/job/%d", j.ID),
	})
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	u, ok := s.requireUser(w, r)
	if !ok {
		return
	}
	j, ok := s.visibleJob(w, r)
	if !ok {
		return
	}
	if err := s.st.CancelJob(r.Context(), s.realm(r), j.ID, u); err != nil {
		s.storeError(w, r, "job", err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/scheduler/job/%d", j.ID), http.StatusSeeOther)
}

type submitPage struct {
	Definition string
	Lines      []defLine
	Errors     []jobdef.Error
	Error      string
}

// defLine is a definition line with the validation errors found on it.
type defLine struct {
	N      int
	Text   string
	Errors []string
}

func (s *Server) submitForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireUser(w, r); !ok {
		return
	}
	s.render(w, r, "submit.html", "Submit a job", submitPage{})
}

func (s *Server) resubmitForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireUser(w, r); !ok {
		return
	}
	j, ok := s.visibleJob(w, r)
	if !ok {
		return
	}
	def := j.OriginalDefinition
	if j.IsMultinode() {
		extras, err := s.st.JobExtras(r.Context(), []int64{j.ID})
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		def = extras[j.ID].MultinodeDefinition
	}
	s.render(w, r, "submit.html", fmt.Sprintf("Resubmit job %d", j.ID), submitPage{Definition: def})
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	u, ok := s.requireUser(w, r)
	if !ok {
		return
	}
	def := r.PostFormValue("definition")
	if len(def) > jobdef.MaxDefinitionBytes {
		s.badRequest(w, r, fmt.Sprintf("the definition is %d bytes, more than the %d allowed", len(def), jobdef.MaxDefinitionBytes))
		return
	}
	job, err := jobdef.ParseWith([]byte(def), jobdef.Options{Submission: true})
	if err != nil {
		s.renderStatus(w, r, http.StatusUnprocessableEntity, "submit.html", "Submit a job", submitErrors(def, err))
		return
	}
	refuse := func(msg string) {
		s.renderStatus(w, r, http.StatusUnprocessableEntity, "submit.html", "Submit a job", submitPage{Definition: def, Error: msg})
	}
	msg, err := secrets.SubmitProblem(r.Context(), s.st, s.cfg.SecretsKey, s.realm(r), job.Secrets)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if msg != "" {
		refuse(msg)
		return
	}
	// The same checks as the API's: the submit permission on each device type.
	ids, _, err := s.st.SubmitJobEstimate(r.Context(), s.realm(r), u, def, job)
	var se *store.SubmitError
	var denied *store.SubmitDeniedError
	switch {
	case errors.As(err, &denied):
		refuse(fmt.Sprintf("You may not submit jobs to device type %q.", denied.DeviceType))
		return
	case errors.As(err, &se):
		refuse(se.Error())
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/scheduler/job/%d", ids[0]), http.StatusSeeOther)
}

// submitErrors attaches each validation error to its line; errors without
// a line are listed above the definition.
func submitErrors(def string, err error) submitPage {
	p := submitPage{Definition: def}
	var list jobdef.ErrorList
	if !errors.As(err, &list) {
		p.Error = err.Error()
		return p
	}
	byLine := map[int][]string{}
	for _, e := range list {
		msg := e.Message
		if e.Path != "" {
			msg = e.Path + ": " + msg
		}
		if e.Line > 0 {
			byLine[e.Line] = append(byLine[e.Line], msg)
		} else {
			p.Errors = append(p.Errors, e)
		}
	}
	for i, text := range splitLines(def) {
		p.Lines = append(p.Lines, defLine{N: i + 1, Text: text, Errors: byLine[i+1]})
	}
	return p
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, trimCR(s[:i]))
		if i == len(s) {
			break
		}
		s = s[i+1:]
	}
	return out
}

func trimCR(s string) string {
	if len(s) > 0 && s[len(s)-1] == '\r' {
		return s[:len(s)-1]
	}
	return s
}

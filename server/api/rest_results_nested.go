package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"golava/server/store"
)

// The nested result routes of LAVA's v02 router: one suite, a suite's test
// cases, and one test case (jobs/<id>/suites/<sid>/, .../tests/,
// .../tests/<tid>/ and jobs/<id>/tests/<tid>/).

func (s *Server) restResultsNested(r chi.Router) {
	get := func(h http.HandlerFunc) http.HandlerFunc {
		return allow(map[string]http.HandlerFunc{http.MethodGet: h})
	}
	r.HandleFunc("/jobs/{id}/suites/{sid}/", get(s.jobSuite))
	r.HandleFunc("/jobs/{id}/suites/{sid}/tests/", get(s.suiteTests))
	r.HandleFunc("/jobs/{id}/suites/{sid}/tests/{tid}/", get(s.oneTest))
	r.HandleFunc("/jobs/{id}/tests/{tid}/", get(s.oneTest))
}

// suiteOf returns the visible job's suite named by {sid}, or answers 404.
func (s *Server) suiteOf(w http.ResponseWriter, r *http.Request) (*store.TestSuite, bool) {
	j, ok := s.visibleJob(w, r)
	if !ok {
		return nil, false
	}
	sid, _ := strconv.ParseInt(chi.URLParam(r, "sid"), 10, 64)
	suites, _, err := s.store.TestSuites(r.Context(), j.ID, 0, 0)
	if err != nil {
		s.internalError(w, r, err)
		return nil, false
	}
	for i := range suites {
		if suites[i].ID == sid {
			return &suites[i], true
		}
	}
	restError(w, http.StatusNotFound, "Not found.")
	return nil, false
}

func (s *Server) jobSuite(w http.ResponseWriter, r *http.Request) {
	su, ok := s.suiteOf(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, restSuite{ID: su.ID, Name: su.Name, Job: su.JobID,
		ResourceURI: fmt.Sprintf("%s/jobs/%d/suites/%d/", apiBase(r), su.JobID, su.ID)})
}

func toRestTestCase(r *http.Request, c store.TestCaseRow) restTestCase {
	return restTestCase{
		ID: c.ID, Result: c.Result, Unit: c.Units, Name: c.Name, Measurement: c.Measurement,
		Metadata: c.Metadata, StartLogLine: c.StartLog, EndLogLine: c.EndLog,
		Logged: drfTime(c.Logged), Suite: c.SuiteID, TestSet: c.TestSetID,
		ResourceURI: fmt.Sprintf("%s/jobs/%d/suites/%d/tests/%d/", apiBase(r), c.JobID, c.SuiteID, c.ID),
	}
}

func (s *Server) suiteTests(w http.ResponseWriter, r *http.Request) {
	su, ok := s.suiteOf(w, r)
	if !ok {
		return
	}
	page, err := parsePage(r)
	if err != nil {
		restError(w, http.StatusBadRequest, err.Error())
		return
	}
	cases, count, err := s.store.TestCases(r.Context(), su.JobID, store.ResultFilter{Suite: su.Name, Limit: page.Limit, Offset: page.Offset})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	out := make([]restTestCase, len(cases))
	for i, c := range cases {
		out[i] = toRestTestCase(r, c)
	}
	writeJSON(w, http.StatusOK, paginated(r, page, count, out))
}

func (s *Server) oneTest(w http.ResponseWriter, r *http.Request) {
	var suite *store.TestSuite
	jobID := int64(0)
	if chi.URLParam(r, "sid") != "" {
		su, ok := s.suiteOf(w, r)
		if !ok {
			return
		}
		suite, jobID = su, su.JobID
	} else {
		j, ok := s.visibleJob(w, r)
		if !ok {
			return
		}
		jobID = j.ID
	}
	tid, _ := strconv.ParseInt(chi.URLParam(r, "tid"), 10, 64)
	f := store.ResultFilter{}
	if suite != nil {
		f.Suite = suite.Name
	}
	cases, _, err := s.store.TestCases(r.Context(), jobID, f)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	for _, c := range cases {
		if c.ID == tid {
			writeJSON(w, http.StatusOK, toRestTestCase(r, c))
			return
		}
	}
	restError(w, http.StatusNotFound, "Not found.")
}

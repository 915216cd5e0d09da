package api

import (
	"fmt"
	"net/http"
	"strings"

	"golava/server/store"
)

// Results of a job: GET jobs/<id>/suites/ and jobs/<id>/tests/, LAVA's
// nested TestSuiteViewSet and TestCaseViewSet (limit/offset pages).

// restSuite is LAVA's v02 TestSuiteSerializer.
type restSuite struct {
	ID          int64  `json:"id"`
	ResourceURI string `json:"resource_uri"`
	Name        string `json:"name"`
	Job         int64  `json:"job"`
}

// restTestCase is LAVA's v02 TestCaseSerializer, fields in DRF's order.
type restTestCase struct {
	ID           int64   `json:"id"`
	Result       string  `json:"result"`
	ResourceURI  string  `json:"resource_uri"`
	Unit         string  `json:"unit"`
	Name         string  `json:"name"`
	Measurement  *string `json:"measurement"`
	Metadata     string  `json:"metadata"`
	StartLogLine *int64  `json:"start_log_line"`
	EndLogLine   *int64  `json:"end_log_line"`
	Logged       string  `json:"logged"`
	Suite        int64   `json:"suite"`
	TestSet      *int64  `json:"test_set"`
}

// apiBase is the absolute URL of /api/v0.2 for resource_uri fields.
func apiBase(r *http.Request) string {
	return scheme(r) + "://" + r.Host + "/api/v0.2"
}

func (s *Server) jobSuites(w http.ResponseWriter, r *http.Request) {
	j, ok := s.visibleJob(w, r)
	if !ok {
		return
	}
	page, err := parsePage(r)
	if err != nil {
		restError(w, http.StatusBadRequest, err.Error())
		return
	}
	suites, count, err := s.store.TestSuites(r.Context(), j.ID, page.Limit, page.Offset)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	base := apiBase(r)
	out := make([]restSuite, len(suites))
	for i, su := range suites {
		out[i] = restSuite{ID: su.ID, Name: su.Name, Job: su.JobID,
			ResourceURI: fmt.Sprintf("%s/jobs/%d/suites/%d/", base, su.JobID, su.ID)}
	}
	writeJSON(w, http.StatusOK, paginated(r, page, count, out))
}

var testResults = []string{"pass", "fail", "skip", "unknown"}

func (s *Server) jobTests(w http.ResponseWriter, r *http.Request) {
	j, ok := s.visibleJob(w, r)
	if !ok {
		return
	}
	page, err := parsePage(r)
	if err != nil {
		restError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := store.ResultFilter{Limit: page.Limit, Offset: page.Offset,
		Suite: firstOf(r.URL.Query(), "suite__name", "suite")}
	if v := r.URL.Query().Get("result"); v != "" {
		f.Result = strings.ToLower(v)
		if _, err := choices(f.Result, testResults); err != nil {
			writeJSON(w, http.StatusBadRequest, []string{err.Error()})
			return
		}
	}
	cases, count, err := s.store.TestCases(r.Context(), j.ID, f)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	base := apiBase(r)
	out := make([]restTestCase, len(cases))
	for i, c := range cases {
		out[i] = restTestCase{
			ID: c.ID, Result: c.Result, Unit: c.Units, Name: c.Name, Measurement: c.Measurement,
			Metadata: c.Metadata, StartLogLine: c.StartLog, EndLogLine: c.EndLog,
			Logged: drfTime(c.Logged), Suite: c.SuiteID, TestSet: c.TestSetID,
			ResourceURI: fmt.Sprintf("%s/jobs/%d/suites/%d/tests/%d/", base, c.JobID, c.SuiteID, c.ID),
		}
	}
	writeJSON(w, http.StatusOK, paginated(r, page, count, out))
}

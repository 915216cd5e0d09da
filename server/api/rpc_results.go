package api

import (
	"bufio"
	"bytes"
	"errors"
	"strconv"

	"go.yaml.in/yaml/v3"

	"golava/server/store"
	"golava/server/xmlrpc"
)

// results.* (LAVA's ResultsAPI): exports of a job's test cases as YAML or
// CSV strings, in the shapes of the REST exports (rest_export.go).

func (s *Server) rpcResults(m map[string]rpcMethod) {
	m["results.get_testjob_results_yaml"] = rpcMethod{min: 1, max: 1, sig: []string{"string", "string"},
		fn: s.rpcResultsYAML(false, false), help: "Every test case of a job, as YAML."}
	m["results.get_testsuite_results_yaml"] = rpcMethod{min: 2, max: 4, sig: []string{"string", "string", "string"},
		fn: s.rpcResultsYAML(true, false), help: "get_testsuite_results_yaml(job_id, suite_name, limit=None, offset=None): test cases of one suite, as YAML."}
	m["results.get_testcase_results_yaml"] = rpcMethod{min: 3, max: 3, sig: []string{"string", "string", "string", "string"},
		fn: s.rpcResultsYAML(true, true), help: "get_testcase_results_yaml(job_id, suite_name, case_name): the test cases of that name, as YAML."}
	m["results.get_testjob_results_csv"] = rpcMethod{min: 1, max: 1, sig: []string{"string", "string"},
		fn: s.rpcResultsCSV(false, false), help: "Every test case of a job, as CSV."}
	m["results.get_testsuite_results_csv"] = rpcMethod{min: 2, max: 4, sig: []string{"string", "string", "string"},
		fn: s.rpcResultsCSV(true, false), help: "get_testsuite_results_csv(job_id, suite_name, limit=None, offset=None): test cases of one suite, as CSV."}
	m["results.get_testcase_results_csv"] = rpcMethod{min: 3, max: 3, sig: []string{"string", "string", "string", "string"},
		fn: s.rpcResultsCSV(true, true), help: "get_testcase_results_csv(job_id, suite_name, case_name): the test cases of that name, as CSV."}
	m["results.get_testsuite_results_count"] = rpcMethod{min: 2, max: 2, sig: []string{"int", "string", "string"},
		fn: s.rpcSuiteCount, help: "get_testsuite_results_count(job_id, suite_name): the number of test cases of a suite."}
	m["results.get_testjob_suites_list_yaml"] = rpcMethod{min: 1, max: 1, sig: []string{"string", "string"},
		fn: s.rpcSuitesList(false), help: "The suites of a job ({name, job, id}), as YAML."}
	m["results.get_testjob_suites_list_csv"] = rpcMethod{min: 1, max: 1, sig: []string{"string", "string"},
		fn: s.rpcSuitesList(true), help: "The suites of a job (name, job, id), as CSV."}
}

func (s *Server) rpcSuiteCount(c *rpcCall, a rpcArgs) (any, error) {
	j, err := s.rpcResultJob(c, a)
	if err != nil {
		return nil, err
	}
	suite, err := a.str(1, "suite_name")
	if err != nil {
		return nil, err
	}
	_, n, err := s.store.TestCases(c.r.Context(), j.ID, store.ResultFilter{Suite: suite, Limit: 1})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fault(404, "Specified test suite not found.")
	}
	return n, nil
}

func (s *Server) rpcSuitesList(csv bool) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		j, err := s.rpcResultJob(c, a)
		if err != nil {
			return nil, err
		}
		suites, _, err := s.store.TestSuites(c.r.Context(), j.ID, 0, 0)
		if err != nil {
			return nil, err
		}
		if csv {
			var buf bytes.Buffer
			bw := bufio.NewWriter(&buf)
			writeQuotedRow(bw, []string{"name", "job", "id"})
			for _, st := range suites {
				writeQuotedRow(bw, []string{st.Name, strconv.FormatInt(st.JobID, 10), strconv.FormatInt(st.ID, 10)})
			}
			bw.Flush()
			return buf.String(), nil
		}
		list := make([]map[string]string, len(suites))
		for i, st := range suites {
			list[i] = map[string]string{"name": st.Name, "job": strconv.FormatInt(st.JobID, 10), "id": strconv.FormatInt(st.ID, 10)}
		}
		if len(list) == 0 {
			return "[]\n", nil
		}
		out, err := yaml.Marshal(list)
		return string(out), err
	}
}

// rpcResultJob is the job for results.*: authenticated, 404 when missing or hidden.
func (s *Server) rpcResultJob(c *rpcCall, a rpcArgs) (*store.Job, error) {
	if err := c.authenticated(); err != nil {
		return nil, err
	}
	if !a.has(0) || a[0] == "" {
		return nil, fault(400, "Bad request: TestJob id was not specified.")
	}
	j, err := s.rpcJob(c, a, 0)
	var f *xmlrpc.Fault
	if errors.As(err, &f) && f.Code == 404 {
		return nil, fault(404, "Specified job not found.")
	}
	return j, err
}

// rpcCases reads the test cases a results.* call selects: the job's, one
// suite's (with limit/offset), or one case name's of a suite.
func (s *Server) rpcCases(c *rpcCall, a rpcArgs, bySuite, byCase bool) ([]map[string]any, error) {
	j, err := s.rpcResultJob(c, a)
	if err != nil {
		return nil, err
	}
	f := store.ResultFilter{}
	if bySuite {
		if f.Suite, err = a.str(1, "suite_name"); err != nil {
			return nil, err
		}
	}
	if bySuite && !byCase {
		lim, err := a.optInt(2, "limit", 0)
		if err != nil {
			return nil, err
		}
		off, err := a.optInt(3, "offset", 0)
		if err != nil {
			return nil, err
		}
		f.Limit, f.Offset = int(max(lim, 0)), int(max(off, 0))
	}
	caseName := ""
	if byCase {
		if caseName, err = a.str(2, "case_name"); err != nil {
			return nil, err
		}
	}
	cases, total, err := s.store.TestCases(c.r.Context(), j.ID, f)
	if err != nil {
		return nil, err
	}
	if bySuite && total == 0 {
		return nil, fault(404, "Specified test suite not found.")
	}
	list := []map[string]any{}
	for _, tc := range cases {
		if !byCase || tc.Name == caseName {
			list = append(list, exportCase(tc))
		}
	}
	if byCase && len(list) == 0 {
		return nil, fault(404, "Specified test case not found.")
	}
	return list, nil
}

func (s *Server) rpcResultsYAML(bySuite, byCase bool) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		list, err := s.rpcCases(c, a, bySuite, byCase)
		if err != nil {
			return nil, err
		}
		if len(list) == 0 {
			return "[]\n", nil
		}
		out, err := yaml.Marshal(list)
		return string(out), err
	}
}

func (s *Server) rpcResultsCSV(bySuite, byCase bool) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		list, err := s.rpcCases(c, a, bySuite, byCase)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		writeQuotedRow(bw, exportFields)
		for _, e := range list {
			row := make([]string, len(exportFields))
			for i, f := range exportFields {
				switch v := e[f].(type) {
				case string:
					row[i] = v
				case map[string]any:
					row[i] = pyRepr(v)
				}
			}
			writeQuotedRow(bw, row)
		}
		bw.Flush()
		return buf.String(), nil
	}
}

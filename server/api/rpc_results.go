package api

import (
	"bufio"
	"bytes"
	"errors"

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
		fn: s.rpcResultsCSV, help: "Every test case of a job, as CSV."}
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

func (s *Server) rpcResultsYAML(bySuite, byCase bool) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
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
		cases, _, err := s.store.TestCases(c.r.Context(), j.ID, f)
		if err != nil {
			return nil, err
		}
		if bySuite && len(cases) == 0 && f.Offset == 0 {
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
		if len(list) == 0 {
			return "[]\n", nil
		}
		out, err := yaml.Marshal(list)
		return string(out), err
	}
}

func (s *Server) rpcResultsCSV(c *rpcCall, a rpcArgs) (any, error) {
	j, err := s.rpcResultJob(c, a)
	if err != nil {
		return nil, err
	}
	cases, _, err := s.store.TestCases(c.r.Context(), j.ID, store.ResultFilter{})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	writeQuotedRow(bw, exportFields)
	for _, tc := range cases {
		e := exportCase(tc)
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

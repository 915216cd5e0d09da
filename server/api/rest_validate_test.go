package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// threeErrorsJob has exactly three mistakes, on lines 3, 4 and 9.
const threeErrorsJob = `job_name: three errors
device_type: qemu
visibility: secret
priority: 101
timeouts:
  job: {minutes: 10}
actions:
- boot:
    method: warp-drive
`

// TestRESTValidateAllErrors: jobs/validate/ answers every error of a job
// with its path, line and column (acceptance 2 of issue 3), keeping
// LAVA's "message" field; a submission reports all three too.
func TestRESTValidateAllErrors(t *testing.T) {
	t.Parallel()
	a := setupJobsAPI(t)
	code, body := a.do(t, "POST", "/api/v0.2/jobs/validate/", "", "application/json", jsonDef(threeErrorsJob))
	if code != 200 {
		t.Fatalf("validate: %d %s", code, body)
	}
	var got struct {
		Message string `json:"message"`
		Errors  []struct {
			Path    string `json:"path"`
			Line    int    `json:"line"`
			Column  int    `json:"column"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	want := []struct {
		path         string
		line, column int
	}{{"visibility", 3, 13}, {"priority", 4, 11}, {"actions[0].boot.method", 9, 13}}
	if len(got.Errors) != len(want) {
		t.Fatalf("%d errors, want 3: %s", len(got.Errors), body)
	}
	for i, w := range want {
		e := got.Errors[i]
		if e.Path != w.path || e.Line != w.line || e.Column != w.column || e.Message == "" {
			t.Errorf("error %d = %+v, want %s at %d:%d", i, e, w.path, w.line, w.column)
		}
	}
	if !strings.HasPrefix(got.Message, "Job invalid: ") || strings.Count(got.Message, "line ") != 3 {
		t.Errorf("message = %q", got.Message)
	}

	code, body = a.do(t, "POST", "/api/v0.2/jobs/", a.aliceTok, "application/json", jsonDef(threeErrorsJob))
	if code != 400 || !strings.Contains(body, "Problem with submitted job data: ") ||
		!strings.Contains(body, "line 3 column 13: visibility") || !strings.Contains(body, "line 4 column 11: priority") ||
		!strings.Contains(body, "line 9 column 13: actions[0].boot.method") {
		t.Errorf("submit: %d %s", code, body)
	}
}

package api

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestRESTResultExports(t *testing.T) {
	t.Parallel()
	a := setupJobsAPI(t)
	id := a.submit(t, apiJob)
	dt := `"dt": "2026-01-02T03:04:05.000000"`
	records := []string{
		`{` + dt + `, "lvl": "results", "msg": {"definition": "smoke", "case": "boot", "result": "pass", "measurement": 2, "units": "s", "level": "1.1", "starttc": 7, "endtc": 9}}`,
		`{` + dt + `, "lvl": "results", "msg": {"definition": "smoke", "case": "net", "result": "fail"}}`,
		`{` + dt + `, "lvl": "results", "msg": {"definition": "lava", "case": "job", "result": "skip", "duration": "1.50"}}`,
	}
	if _, err := a.st.AppendLog(context.Background(), id, 0, records); err != nil {
		t.Fatal(err)
	}
	base := "/api/v0.2/jobs/" + jid(id)

	code, body := a.do(t, "GET", base+"/yaml/", "", "", "")
	var list []map[string]any
	if code != 200 || yaml.Unmarshal([]byte(body), &list) != nil || len(list) != 3 {
		t.Fatalf("yaml: %d %s", code, body)
	}
	if c := list[0]; c["name"] != "boot" || c["job"] != jid(id) || c["measurement"] != "2.0000000000" ||
		c["level"] != "1.1" || c["log_start_line"] != "7" || c["url"] == "" || c["metadata"].(map[string]any)["case"] != "boot" {
		t.Errorf("yaml case = %v", c)
	}
	if c := list[1]; c["measurement"] != "None" || c["log_start_line"] != "" {
		t.Errorf("yaml case 1 = %v", c)
	}

	code, body = a.do(t, "GET", base+"/csv/", "", "", "")
	rows := strings.Split(strings.TrimSuffix(body, "\r\n"), "\r\n")
	if code != 200 || len(rows) != 4 || !strings.HasPrefix(rows[0], `"job","suite","result","measurement"`) ||
		!strings.Contains(rows[1], `"{'case': 'boot', 'definition': 'smoke'`) {
		t.Errorf("csv: %d %q", code, body)
	}

	code, body = a.do(t, "GET", base+"/junit/?classname_prefix=x", "", "", "")
	var doc struct {
		Failures int `xml:"failures,attr"`
		Tests    int `xml:"tests,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				ClassName string    `xml:"classname,attr"`
				Time      string    `xml:"time,attr"`
				Failure   *struct{} `xml:"failure"`
				Skipped   *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if code != 200 || xml.Unmarshal([]byte(body), &doc) != nil || doc.Tests != 3 || doc.Failures != 1 || len(doc.Suites) != 2 {
		t.Fatalf("junit: %d %s", code, body)
	}
	if c := doc.Suites[0].Cases[1]; c.ClassName != "x_smoke" || c.Failure == nil {
		t.Errorf("junit failed case = %+v", c)
	}
	if c := doc.Suites[1].Cases[0]; c.Skipped == nil || c.Time != "1.5" {
		t.Errorf("junit lava case = %+v", c)
	}
	if code, _ := a.do(t, "GET", "/api/v0.2/jobs/999/junit/", "", "", ""); code != 404 {
		t.Errorf("junit of a missing job: %d", code)
	}
}

func TestPyRepr(t *testing.T) {
	t.Parallel()
	got := pyRepr(map[string]any{"b": []any{1, true, nil, 1.5}, "a": "it's\n", "c": `'"`})
	if want := `{'a': "it's\n", 'b': [1, True, None, 1.5], 'c': '\'"'}`; got != want {
		t.Errorf("pyRepr = %s, want %s", got, want)
	}
}

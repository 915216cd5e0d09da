package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golava/server/store"
	"golava/server/store/storetest"
)

// jobsAPI is a running API server on a fresh database with users alice
// (token aliceTok), bob and a superuser root, and one device "qemu-01" of
// type qemu on worker w1.
type jobsAPI struct {
	st                 *store.Store
	srv                *httptest.Server
	aliceTok, rootTok  string
	alice              *store.User
	deviceID, workerID int64
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func setupJobsAPI(t *testing.T) *jobsAPI {
	t.Helper()
	ctx := context.Background()
	a := &jobsAPI{st: storetest.New(t)}
	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, nil))
	a.srv = httptest.NewServer(New(a.st, logger, Config{MaxBodyBytes: 1 << 20}).Handler())
	t.Cleanup(a.srv.Close)
	var err error
	mk := func(name string, su bool) (*store.User, string) {
		u, err := a.st.CreateUser(ctx, store.NewUser{Username: name, IsSuperuser: su})
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := a.st.CreateToken(ctx, u.ID, store.DefaultRealm, "test")
		if err != nil {
			t.Fatal(err)
		}
		return u, tok
	}
	a.alice, a.aliceTok = mk("alice", false)
	_, a.rootTok = mk("root", true)
	q := func(sql string, args ...any) int64 {
		var id int64
		if err = a.st.Pool().QueryRow(ctx, sql, args...).Scan(&id); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return id
	}
	dt := q(`INSERT INTO device_types (realm_id, name) VALUES (1, 'qemu') RETURNING id`)
	a.workerID = q(`INSERT INTO workers (realm_id, hostname, dispatcher_config) VALUES (1, 'w1', 'prefix: p-') RETURNING id`)
	a.deviceID = q(`INSERT INTO devices (realm_id, hostname, device_type_id, worker_id, health, dictionary)
VALUES (1, 'qemu-01', $1, $2, 'Good', 'commands: {power_on: echo on}') RETURNING id`, dt, a.workerID)
	return a
}

// do sends a request and returns the status and body.
func (a *jobsAPI) do(t *testing.T, method, path, token, contentType, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const apiJob = `job_name: api job
device_type: qemu
visibility: public
timeouts:
  job: {minutes: 10}
actions:
- boot:
    method: minimal
`

func jsonDef(def string) string {
	b, _ := json.Marshal(map[string]string{"definition": def})
	return string(b)
}

func (a *jobsAPI) submit(t *testing.T, def string) int64 {
	t.Helper()
	code, body := a.do(t, "POST", "/api/v0.2/jobs/", a.aliceTok, "application/json", jsonDef(def))
	if code != 201 {
		t.Fatalf("submit: %d %s", code, body)
	}
	var out struct {
		JobIDs []int64 `json:"job_ids"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || len(out.JobIDs) != 1 {
		t.Fatalf("submit reply %s: %v", body, err)
	}
	return out.JobIDs[0]
}

func (a *jobsAPI) jobCount(t *testing.T) int64 {
	var n int64
	if err := a.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM jobs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRESTSubmit(t *testing.T) {
	t.Parallel()
	a := setupJobsAPI(t)
	form := url.Values{"definition": {apiJob}}.Encode()
	tests := []struct {
		name, token, ctype, body string
		code                     int
		want                     string
	}{
		{"anonymous", "", "application/json", jsonDef(apiJob), 403, `{"detail":"Authentication credentials were not provided."}`},
		{"json", "alice", "application/json", jsonDef(apiJob), 201, `"message":"job(s) successfully submitted"`},
		{"form", "alice", "application/x-www-form-urlencoded", form, 201, `"job_ids":[`},
		{"multipart", "alice", "multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"definition\"\r\n\r\n" + apiJob + "\r\n--XX--\r\n", 201, `"job_ids":[`},
		{"bad multipart", "alice", "multipart/form-data; boundary=XX", "--YY", 400, "Multipart"},
		{"bad json", "alice", "application/json", `{"definition": `, 400, "JSON parse error"},
		{"no definition", "alice", "application/json", `{}`, 400, "This field is required."},
		{"invalid job", "alice", "application/json", jsonDef("job_name: x\ndevice_type: qemu\n"), 400, "Problem with submitted job data: "},
		{"yaml syntax", "alice", "application/json", jsonDef("job_name: [x\n"), 400, "line "},
		{"unknown type", "alice", "application/json", jsonDef(strings.Replace(apiJob, "qemu", "nope", 1)), 400, "Devices unavailable: Device type 'nope' is unavailable."},
		{"huge", "alice", "application/json", jsonDef(strings.Repeat("#", 2<<20)), 413, ""},
	}
	for _, tt := range tests {
		tok := map[string]string{"alice": a.aliceTok}[tt.token]
		code, body := a.do(t, "POST", "/api/v0.2/jobs/", tok, tt.ctype, tt.body)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s, want %d %q", tt.name, code, body, tt.code, tt.want)
		}
	}
	if n := a.jobCount(t); n != 3 {
		t.Errorf("%d jobs stored, want 3", n)
	}
	code, body := a.do(t, "PUT", "/api/v0.2/jobs/", a.aliceTok, "", "")
	if code != 405 || !strings.Contains(body, `"detail"`) {
		t.Errorf("PUT: %d %s", code, body)
	}
}

func TestRESTValidate(t *testing.T) {
	t.Parallel()
	a := setupJobsAPI(t)
	tests := []struct{ body, want string }{
		{jsonDef(apiJob), `{"message":"Job valid."}`},
		{jsonDef("job_name: x\n"), `Job invalid: `},
		{`{"definition": "` + "job_name: x" + `", "strict": true}`, `Job invalid: `},
	}
	for _, tt := range tests {
		code, body := a.do(t, "POST", "/api/v0.2/jobs/validate/", "", "application/json", tt.body)
		if code != 200 || !strings.Contains(body, tt.want) {
			t.Errorf("validate %s: %d %s", tt.body, code, body)
		}
	}
	if code, _ := a.do(t, "POST", "/api/v0.2/jobs/validate/", "", "application/json", `{}`); code != 400 {
		t.Errorf("no definition: %d", code)
	}
}

var restJobFields = []string{"id", "submitter", "viewing_groups", "description", "health_check",
	"requested_device_type", "tags", "actual_device", "submit_time", "start_time", "end_time", "state",
	"health", "priority", "definition", "original_definition", "multinode_definition", "failure_tags",
	"failure_comment"}

// keysInOrder returns the keys of a JSON object in document order.
func keysInOrder(t *testing.T, obj string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(obj))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestRESTGetAndList(t *testing.T) {
	t.Parallel()
	a := setupJobsAPI(t)
	pub := a.submit(t, apiJob)
	personal := a.submit(t, strings.Replace(apiJob, "visibility: public", "visibility: personal", 1))
	code, body := a.do(t, "GET", "/api/v0.2/jobs/"+jid(pub)+"/", "", "", "")
	if code != 200 || strings.Join(keysInOrder(t, body), ",") != strings.Join(restJobFields, ",") {
		t.Fatalf("get: %d %s", code, body)
	}
	var j map[string]any
	json.Unmarshal([]byte(body), &j)
	if j["submitter"] != "alice" || j["state"] != "Submitted" || j["requested_device_type"] != "qemu" ||
		!strings.HasSuffix(j["submit_time"].(string), "Z") || j["definition"] != apiJob {
		t.Errorf("job = %v", j)
	}
	if _, body := a.do(t, "GET", "/api/v0.2/jobs/"+jid(pub)+"/", a.rootTok, "", ""); !strings.Contains(body, `"token":"`) {
		t.Errorf("superuser does not see the token: %s", body)
	}
	for _, path := range []string{"/api/v0.2/jobs/" + jid(personal) + "/", "/api/v0.2/jobs/" + jid(personal) + "/logs/", "/api/v0.2/jobs/999999/", "/api/v0.2/jobs/abc/"} {
		if code, body := a.do(t, "GET", path, "", "", ""); code != 404 || body != "{\"detail\":\"Not found.\"}\n" {
			t.Errorf("anonymous %s: %d %s", path, code, body)
		}
	}
	lists := []struct {
		query, token string
		count        int
	}{
		{"", "", 1}, {"", a.aliceTok, 2}, {"?state=Submitted", a.aliceTok, 2}, {"?state=Running", a.aliceTok, 0},
		{"?limit=1", a.aliceTok, 2}, {"?id__gt=" + jid(pub), a.aliceTok, 1},
	}
	for _, l := range lists {
		code, body := a.do(t, "GET", "/api/v0.2/jobs/"+l.query, l.token, "", "")
		var page struct {
			Count   int               `json:"count"`
			Next    *string           `json:"next"`
			Results []json.RawMessage `json:"results"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &page) != nil || page.Count != l.count {
			t.Errorf("list %q: %d %s", l.query, code, body)
		}
		if l.query == "?limit=1" && (len(page.Results) != 1 || page.Next == nil) {
			t.Errorf("limit=1: %s", body)
		}
	}
	if code, body := a.do(t, "GET", "/api/v0.2/jobs/?state=Bogus", "", "", ""); code != 400 || !strings.Contains(body, "Select a valid choice") {
		t.Errorf("bad state: %d %s", code, body)
	}
}

func jid(i int64) string { return strconv.FormatInt(i, 10) }

func TestRESTLogsAndResults(t *testing.T) {
	t.Parallel()
	a := setupJobsAPI(t)
	id := a.submit(t, apiJob)
	if code, _ := a.do(t, "GET", "/api/v0.2/jobs/"+jid(id)+"/logs/", "", "", ""); code != 404 {
		t.Errorf("empty log: %d", code)
	}
	dt := `"dt": "2026-01-02T03:04:05.000000"`
	records := []string{
		`{` + dt + `, "lvl": "info", "msg": "zero"}`,
		`{` + dt + `, "lvl": "info", "msg": "one"}`,
		`{` + dt + `, "lvl": "results", "msg": {"definition": "smoke", "case": "boot", "result": "pass", "measurement": 2, "units": "s"}}`,
		`{` + dt + `, "lvl": "info", "msg": "three"}`,
	}
	if _, err := a.st.AppendLog(context.Background(), id, 0, records); err != nil {
		t.Fatal(err)
	}
	code, body := a.do(t, "GET", "/api/v0.2/jobs/"+jid(id)+"/logs/", "", "", "")
	if code != 200 || body != "- "+strings.Join(records, "\n- ")+"\n" {
		t.Errorf("whole log: %d %q", code, body)
	}
	code, body = a.do(t, "GET", "/api/v0.2/jobs/"+jid(id)+"/logs/?start=1&end=3", "", "", "")
	if code != 200 || body != "- "+records[1]+"\n- "+records[2]+"\n" {
		t.Errorf("range: %d %q", code, body)
	}
	if code, _ := a.do(t, "GET", "/api/v0.2/jobs/"+jid(id)+"/logs/?start=x", "", "", ""); code != 400 {
		t.Errorf("bad start: %d", code)
	}
	code, body = a.do(t, "GET", "/api/v0.2/jobs/"+jid(id)+"/tests/", "", "", "")
	want := []string{"id", "result", "resource_uri", "unit", "name", "measurement", "metadata",
		"start_log_line", "end_log_line", "logged", "suite", "test_set"}
	var page struct{ Results []json.RawMessage }
	if code != 200 || json.Unmarshal([]byte(body), &page) != nil || len(page.Results) != 1 ||
		strings.Join(keysInOrder(t, string(page.Results[0])), ",") != strings.Join(want, ",") ||
		!strings.Contains(body, `"measurement":"2.0000000000"`) || !strings.Contains(body, "/suites/") {
		t.Errorf("tests: %d %s", code, body)
	}
	code, body = a.do(t, "GET", "/api/v0.2/jobs/"+jid(id)+"/suites/", "", "", "")
	if code != 200 || !strings.Contains(body, `"name":"smoke"`) || !strings.Contains(body, `"job":`+jid(id)) {
		t.Errorf("suites: %d %s", code, body)
	}
}

func TestRESTCancel(t *testing.T) {
	t.Parallel()
	a := setupJobsAPI(t)
	id := a.submit(t, apiJob)
	if code, body := a.do(t, "GET", "/api/v0.2/jobs/"+jid(id)+"/cancel/", "", "", ""); code != 403 {
		t.Errorf("anonymous cancel: %d %s", code, body)
	}
	if code, body := a.do(t, "GET", "/api/v0.2/jobs/"+jid(id)+"/cancel/", a.aliceTok, "", ""); code != 200 || !strings.Contains(body, "Job cancel signal sent.") {
		t.Errorf("cancel: %d %s", code, body)
	}
	_, body := a.do(t, "GET", "/api/v0.2/jobs/"+jid(id)+"/", "", "", "")
	if !strings.Contains(body, `"state":"Finished"`) || !strings.Contains(body, `"health":"Canceled"`) {
		t.Errorf("after cancel: %s", body)
	}
}

func TestRESTResubmit(t *testing.T) {
	t.Parallel()
	a := setupJobsAPI(t)
	id := a.submit(t, apiJob)
	path := "/api/v0.2/jobs/" + jid(id) + "/resubmit/"
	if code, _ := a.do(t, "POST", path, "", "", ""); code != 403 {
		t.Errorf("anonymous resubmit: %d", code)
	}
	code, body := a.do(t, "POST", path, a.rootTok, "", "")
	if code != 201 || !strings.Contains(body, `"job_ids":[`+jid(id+1)+`]`) {
		t.Fatalf("resubmit: %d %s", code, body)
	}
	_, body = a.do(t, "GET", "/api/v0.2/jobs/"+jid(id+1)+"/", "", "", "")
	if !strings.Contains(body, `"submitter":"root"`) || !strings.Contains(body, `"description":"api job"`) {
		t.Errorf("resubmitted job: %s", body)
	}
}

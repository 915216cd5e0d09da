package api

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"golava/pkg/devconf"
	"golava/pkg/workerapi"
)

const form = "application/x-www-form-urlencoded"

// scheduled submits a job and puts it on the device, as the scheduler would;
// it returns the job id, its path below the worker API and its token.
func (a *jobsAPI) scheduled(t *testing.T) (int64, string, string) {
	t.Helper()
	id := a.submit(t, apiJob)
	ctx := context.Background()
	var token string
	err := a.st.Pool().QueryRow(ctx, `UPDATE jobs SET state = 'Scheduled', actual_device_id = $2
WHERE id = $1 RETURNING token`, id, a.deviceID).Scan(&token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.Pool().Exec(ctx, `UPDATE devices SET state = 'Reserved' WHERE id = $1`, a.deviceID); err != nil {
		t.Fatal(err)
	}
	return id, "/scheduler/internal/v1/jobs/" + jid(id) + "/", token
}

func (a *jobsAPI) deviceStateHealth(t *testing.T) string {
	var s, h string
	if err := a.st.Pool().QueryRow(context.Background(), `SELECT state, health FROM devices WHERE id = $1`, a.deviceID).Scan(&s, &h); err != nil {
		t.Fatal(err)
	}
	return s + "/" + h
}

func TestWorkerJobAuth(t *testing.T) {
	t.Parallel()
	a := setupJobsAPI(t)
	_, path, token := a.scheduled(t)
	tests := []struct {
		name, method, path string
		header             []string
		code               int
		want               string
	}{
		{"unknown job", "GET", "/scheduler/internal/v1/jobs/999999/", []string{"LAVA-Token", token}, 404, `{"error":"Unknown job '999999'"}`},
		{"bad id", "GET", "/scheduler/internal/v1/jobs/1.x/", nil, 404, `Unknown job '1.x'`},
		{"missing token", "GET", path, nil, 400, `{"error":"Missing 'token'"}`},
		{"invalid token", "GET", path, []string{"LAVA-Token", "nope"}, 400, `{"error":"Invalid 'token'"}`},
		{"empty token", "POST", path + "logs/", []string{"LAVA-Token", ""}, 400, `Invalid 'token'`},
		{"wrong method", "DELETE", path, []string{"LAVA-Token", token}, 405, `{"error":"Method 'DELETE' not allowed"}`},
		{"logs GET", "GET", path + "logs/", []string{"LAVA-Token", token}, 405, `"error"`},
	}
	for _, tt := range tests {
		code, body := a.do(t, tt.method, tt.path, "", "", "", tt.header...)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, code, body, tt.code, tt.want)
		}
	}
}

func TestWorkerJobFlow(t *testing.T) {
	t.Parallel()
	a := setupJobsAPI(t)
	id, path, token := a.scheduled(t)
	auth := []string{"LAVA-Token", token}

	code, body := a.do(t, "GET", path, "", "", "", auth...)
	var cfg workerapi.JobConfig
	if code != 200 || json.Unmarshal([]byte(body), &cfg) != nil {
		t.Fatalf("config: %d %s", code, body)
	}
	if !strings.Contains(cfg.Definition, "compatibility: 0") || !strings.Contains(cfg.Definition, "job_name: api job") ||
		cfg.Device != "commands: {power_on: echo on}" || cfg.Dispatcher != "prefix: p-" || cfg.Env != "" || cfg.EnvDUT != "" {
		t.Errorf("config = %+v", cfg)
	}
	for range 2 {
		code, body = a.do(t, "POST", path, "", form, "state=RUNNING", auth...)
		if code != 200 || body != "{}\n" {
			t.Fatalf("RUNNING: %d %s", code, body)
		}
	}
	if got := a.deviceStateHealth(t); got != "Running/Good" {
		t.Errorf("device %s while running", got)
	}

	dt := `"dt": "2026-01-02T03:04:05.000000"`
	rec := func(msg string) string { return `{` + dt + `, "lvl": "info", "msg": "` + msg + `"}` }
	uploads := []struct {
		lines string
		index int
		count int
	}{
		{"- " + rec("a") + "\n- " + rec("b"), 0, 2},
		{"- " + rec("a") + "\n- " + rec("b"), 0, 2}, // reply lost, resent
		{"- " + rec("b") + "\n- " + rec("c") + "\n- " + `{` + dt + `, "lvl": "event", "msg": "ev"}`, 1, 3},
	}
	for i, u := range uploads {
		body := url.Values{"lines": {u.lines}, "index": {jid(int64(u.index))}}.Encode()
		code, reply := a.do(t, "POST", path+"logs/", "", form, body, auth...)
		if code != 200 || reply != `{"line_count":`+jid(int64(u.count))+"}\n" {
			t.Errorf("upload %d: %d %s", i, code, reply)
		}
	}
	lines, err := a.st.ReadLog(context.Background(), id, 0, -1)
	if err != nil || len(lines) != 4 || lines[0] != rec("a") || lines[2] != rec("c") || !strings.Contains(lines[3], `"lvl": "debug"`) {
		t.Errorf("stored log %q, %v", lines, err)
	}

	finish := url.Values{"state": {"FINISHED"}, "result": {"fail"}, "error_type": {"Infrastructure"},
		"errors": {"power failed"}, "description": {"pipeline: []"}}.Encode()
	if code, body := a.do(t, "POST", path, "", form, finish, auth...); code != 200 {
		t.Fatalf("FINISHED: %d %s", code, body)
	}
	if got := a.deviceStateHealth(t); got != "Idle/Unknown" {
		t.Errorf("device %s after an infrastructure error", got)
	}
	_, body = a.do(t, "GET", "/api/v0.2/jobs/"+jid(id)+"/", "", "", "")
	if !strings.Contains(body, `"health":"Incomplete"`) || !strings.Contains(body, `"failure_comment":"power failed"`) {
		t.Errorf("job after FINISHED: %s", body)
	}
	var jobEvents, devEvents, logEvents int
	a.st.Pool().QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE topic = 'testjob'),
    count(*) FILTER (WHERE topic = 'device'), count(*) FILTER (WHERE topic = 'event') FROM events`).Scan(&jobEvents, &devEvents, &logEvents)
	if jobEvents != 3 || devEvents != 2 || logEvents != 1 {
		t.Errorf("events: %d testjob, %d device, %d event", jobEvents, devEvents, logEvents)
	}
}

func TestWorkerJobBadPosts(t *testing.T) {
	t.Parallel()
	a := setupJobsAPI(t)
	_, path, token := a.scheduled(t)
	auth := []string{"LAVA-Token", token}
	tests := []struct {
		name, path, body string
		code             int
		want             string
	}{
		{"no state", path, "", 400, `Invalid state ''`},
		{"bad state", path, "state=dancing", 400, `Invalid state 'Dancing'`},
		{"unhandled state", path, "state=canceling", 400, `Not handled state 'Canceling'`},
		{"bad result", path, "state=FINISHED&result=maybe", 400, `Invalid health 'maybe'`},
		{"no lines", path + "logs/", "index=0", 400, `Missing 'lines'`},
		{"no index", path + "logs/", "lines=-+%7B%7D", 400, `Missing 'index'`},
		{"bad index", path + "logs/", "lines=-+%7B%7D&index=x", 400, `Invalid 'index'`},
		{"index ahead", path + "logs/", "lines=-+%7B%7D&index=5", 400, `Invalid 'index'`},
		{"garbage lines", path + "logs/", "lines=hello&index=0", 400, `Invalid 'lines'`},
		{"not records", path + "logs/", "lines=-+hello&index=0", 400, `Invalid 'lines'`},
		{"bad form", path + "logs/", "lines=%zz&index=0", 400, `Invalid form data`},
	}
	for _, tt := range tests {
		code, body := a.do(t, "POST", tt.path, "", form, tt.body, auth...)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, code, body, tt.code, tt.want)
		}
	}
	big := "lines=" + strings.Repeat("x", 2<<20) + "&index=0"
	if code, _ := a.do(t, "POST", path+"logs/", "", form, big, auth...); code != 413 {
		t.Errorf("huge upload: %d", code)
	}
}

func TestParseLogLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{"- {a}", []string{"{a}"}, false},
		{"- {a}\n- {b}\n", []string{"{a}", "{b}"}, false},
		{"- {a: \"x\\n- y\"}\n- {b}", []string{`{a: "x\n- y"}`, "{b}"}, false},
		{"{a}", nil, true},
		{"- {a}\n{b}", nil, true},
		{"", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseLogLines(tt.in)
		if (err != nil) != tt.err || strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("ParseLogLines(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestWorkerJobRendersDictionary(t *testing.T) {
	t.Parallel()
	a := setupJobsAPI(t)
	ctx := context.Background()
	id := a.submit(t, strings.Replace(apiJob, "visibility: public", "visibility: public\ncontext:\n  arch: arm64", 1))
	var token string
	err := a.st.Pool().QueryRow(ctx, `UPDATE jobs SET state = 'Scheduled', actual_device_id = $2 WHERE id = $1 RETURNING token`, id, a.deviceID).Scan(&token)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.st.Pool().Exec(ctx, `UPDATE devices SET dictionary = $2 WHERE id = $1`, a.deviceID,
		"{% extends 'qemu.jinja2' %}\n{% set power = 'pdu on 3' %}\n")
	if err == nil {
		_, err = a.st.Pool().Exec(ctx, `UPDATE device_types SET template = $1`,
			"commands:\n  power_on: {{ power }}\narch: {{ arch|default('none') }}\n")
	}
	if err != nil {
		t.Fatal(err)
	}
	code, body := a.do(t, "GET", "/scheduler/internal/v1/jobs/"+jid(id)+"/", "", "", "", "LAVA-Token", token)
	var cfg workerapi.JobConfig
	if code != 200 || json.Unmarshal([]byte(body), &cfg) != nil {
		t.Fatalf("config: %d %s", code, body)
	}
	if !strings.Contains(cfg.Device, "power_on: pdu on 3") || !strings.Contains(cfg.Device, "arch: arm64") {
		t.Errorf("device = %q", cfg.Device)
	}
}

func TestWorkerJobRendersEmbeddedTemplate(t *testing.T) {
	t.Parallel()
	a := setupJobsAPI(t)
	_, path, token := a.scheduled(t)
	if _, err := a.st.Pool().Exec(context.Background(), `UPDATE devices SET dictionary = $2 WHERE id = $1`,
		a.deviceID, "{% extends 'qemu.jinja2' %}\n"); err != nil {
		t.Fatal(err)
	}
	code, body := a.do(t, "GET", path, "", "", "", "LAVA-Token", token)
	var cfg workerapi.JobConfig
	if code != 200 || json.Unmarshal([]byte(body), &cfg) != nil {
		t.Fatalf("config: %d %s", code, body)
	}
	if _, err := devconf.Parse([]byte(cfg.Device)); err != nil {
		t.Errorf("rendered device does not parse: %v\n%s", err, cfg.Device)
	}
}

package api

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"golava/server/store"
)

func TestRESTDeviceAdmin(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	admin, alice := []string{"Authorization", "Token " + a.adminToken}, []string{"Authorization", "Token " + a.aliceToken}
	health := func(name string) string {
		d, err := a.st.DeviceByName(context.Background(), store.DefaultRealm, name)
		if err != nil {
			t.Fatal(err)
		}
		return d.Health
	}
	tests := []struct {
		name, method, path string
		body               url.Values
		auth               []string
		code               int
		bodyHas            string
		device, health     string
	}{
		{"maintenance", "POST", "/api/v0.2/devices/qemu-01/set_health/", url.Values{"health": {"MAINTENANCE"}, "reason": {"cable"}}, admin, 202, `"OK"`, "qemu-01", "Maintenance"},
		{"re-activate", "POST", "/api/v0.2/devices/qemu-01/set_health/", url.Values{"health": {"good"}}, admin, 202, `"OK"`, "qemu-01", "Good"},
		{"force health check", "POST", "/api/v0.2/devices/qemu-01/set_health/", url.Values{"health": {"Unknown"}}, admin, 202, `"OK"`, "qemu-01", "Unknown"},
		{"retire by PATCH", "PATCH", "/api/v0.2/devices/qemu-02/", url.Values{"health": {"Retired"}}, admin, 200, `"health":"Retired"`, "qemu-02", "Retired"},
		{"bad health", "POST", "/api/v0.2/devices/qemu-01/set_health/", url.Values{"health": {"Dead"}}, admin, 400, "Invalid health", "qemu-01", "Unknown"},
		{"not allowed", "POST", "/api/v0.2/devices/bbb-01/set_health/", url.Values{"health": {"Maintenance"}}, alice, 403, "Insufficient", "bbb-01", "Unknown"},
		{"anonymous", "POST", "/api/v0.2/devices/bbb-01/set_health/", url.Values{"health": {"Maintenance"}}, nil, 403, "credentials were not provided", "bbb-01", "Unknown"},
		{"unknown device", "POST", "/api/v0.2/devices/nope/set_health/", url.Values{"health": {"Good"}}, admin, 404, "Not found", "", ""},
		{"move to worker", "PATCH", "/api/v0.2/devices/bbb-01/", url.Values{"worker_host": {"w1"}, "description": {"moved"}}, admin, 200, `"worker_host":"w1"`, "bbb-01", "Unknown"},
		{"unknown worker", "PATCH", "/api/v0.2/devices/bbb-01/", url.Values{"worker_host": {"w9"}}, admin, 400, `w9`, "bbb-01", "Unknown"},
	}
	for _, tt := range tests {
		code, body := a.do(t, tt.method, tt.path, tt.body, tt.auth...)
		if code != tt.code || !strings.Contains(compact(body), tt.bodyHas) {
			t.Errorf("%s: %d %s, want %d with %s", tt.name, code, body, tt.code, tt.bodyHas)
		}
		if tt.device != "" && health(tt.device) != tt.health {
			t.Errorf("%s: %s health = %s, want %s", tt.name, tt.device, health(tt.device), tt.health)
		}
	}
}

func TestRESTDeviceDictionary(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	admin := []string{"Authorization", "Token " + a.adminToken}
	if code, body := a.do(t, "GET", "/api/v0.2/devices/qemu-01/dictionary/", nil, admin...); code != 400 || !strings.Contains(body, "does not have a configuration") {
		t.Errorf("no dictionary: %d %s", code, body)
	}
	dict := "{% extends 'dut-sim.jinja2' %}\n{% set dut_sim_dir = '/srv/b1' %}\n"
	if code, body := a.do(t, "POST", "/api/v0.2/devices/qemu-01/dictionary/", url.Values{"dictionary": {dict}}, admin...); code != 200 || !strings.Contains(body, "successfully updated") {
		t.Fatalf("set dictionary: %d %s", code, body)
	}
	if code, body := a.do(t, "GET", "/api/v0.2/devices/qemu-01/dictionary/", nil, admin...); code != 200 || body != strings.TrimSpace(dict) {
		t.Errorf("get dictionary: %d %q", code, body)
	}
	if code, body := a.do(t, "GET", "/api/v0.2/devices/qemu-01/dictionary/?render=1", nil, admin...); code != 200 || !strings.Contains(body, "lava_test_results_dir: '/srv/b1/fs/lava-%s'") {
		t.Errorf("rendered dictionary: %d %s", code, body)
	}
	// A dictionary that does not render is refused and the old one stays.
	for _, bad := range []string{"{% extends 'no-such.jinja2' %}", "{% if %}", ""} {
		if code, body := a.do(t, "POST", "/api/v0.2/devices/qemu-01/dictionary/", url.Values{"dictionary": {bad}}, admin...); code != 400 {
			t.Errorf("bad dictionary %q: %d %s", bad, code, body)
		}
	}
	if _, body := a.do(t, "GET", "/api/v0.2/devices/qemu-01/dictionary/", nil, admin...); body != strings.TrimSpace(dict) {
		t.Errorf("dictionary changed by refused edits: %q", body)
	}
}

func TestRESTWorkerAdmin(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	admin, alice := []string{"Authorization", "Token " + a.adminToken}, []string{"Authorization", "Token " + a.aliceToken}
	code, body := a.do(t, "POST", "/api/v0.2/workers/", url.Values{"hostname": {"w3"}, "description": {"new"}}, admin...)
	var created struct {
		Hostname, Token string
	}
	if code != 201 || json.Unmarshal([]byte(body), &created) != nil || created.Hostname != "w3" || created.Token == "" {
		t.Fatalf("create worker: %d %s", code, body)
	}
	if _, err := a.st.AuthWorker(context.Background(), store.DefaultRealm, "w3", created.Token); err != nil {
		t.Errorf("the token answered does not authenticate w3: %v", err)
	}
	tests := []struct {
		name, method, path string
		body               url.Values
		auth               []string
		code               int
		bodyHas            string
	}{
		{"duplicate", "POST", "/api/v0.2/workers/", url.Values{"hostname": {"w3"}}, admin, 400, "already exists"},
		{"bad name", "POST", "/api/v0.2/workers/", url.Values{"hostname": {"a b"}}, admin, 400, "hostname"},
		{"not superuser", "POST", "/api/v0.2/workers/", url.Values{"hostname": {"w4"}}, alice, 403, ""},
		{"maintenance", "PATCH", "/api/v0.2/workers/w1/", url.Values{"health": {"MAINTENANCE"}, "job_limit": {"2"}}, admin, 200, `"health":"Maintenance"`},
		{"job limit shown", "GET", "/api/v0.2/workers/w1/", nil, admin, 200, `"job_limit":2`},
		{"bad health", "PATCH", "/api/v0.2/workers/w1/", url.Values{"health": {"Good"}}, admin, 400, "health"},
		{"bad limit", "PATCH", "/api/v0.2/workers/w1/", url.Values{"job_limit": {"-1"}}, admin, 400, "job_limit"},
		{"no config yet", "GET", "/api/v0.2/workers/w1/config/", nil, admin, 400, "does not have"},
		{"set config", "POST", "/api/v0.2/workers/w1/config/", url.Values{"config": {"dispatcher_ip: 10.0.0.1\n"}}, admin, 200, "successfully updated"},
		{"get config", "GET", "/api/v0.2/workers/w1/config/", nil, admin, 200, "dispatcher_ip: 10.0.0.1"},
		{"set env", "POST", "/api/v0.2/workers/w1/env/", url.Values{"env": {"overrides: {LANG: C}\n"}}, admin, 200, "successfully updated"},
		{"get env", "GET", "/api/v0.2/workers/w1/env/", nil, nil, 200, "LANG: C"},
		{"env not a mapping", "POST", "/api/v0.2/workers/w1/env/", url.Values{"env": {"- a\n- b\n"}}, admin, 400, "YAML mapping"},
		{"env missing", "POST", "/api/v0.2/workers/w1/env/", url.Values{}, admin, 400, "required"},
		{"env by alice", "POST", "/api/v0.2/workers/w1/env/", url.Values{"env": {"a: 1"}}, alice, 403, ""},
		{"unknown worker", "POST", "/api/v0.2/workers/zz/config/", url.Values{"config": {"a: 1"}}, admin, 404, ""},
	}
	for _, tt := range tests {
		code, body := a.do(t, tt.method, tt.path, tt.body, tt.auth...)
		if code != tt.code || !strings.Contains(compact(body), tt.bodyHas) && !strings.Contains(body, tt.bodyHas) {
			t.Errorf("%s: %d %s, want %d with %s", tt.name, code, body, tt.code, tt.bodyHas)
		}
	}
	// The worker API hands the stored documents to the worker.
	if doc, err := a.st.WorkerDoc(context.Background(), store.DefaultRealm, "w1", "dispatcher"); err != nil || doc != "dispatcher_ip: 10.0.0.1\n" {
		t.Errorf("stored dispatcher config = %q, %v", doc, err)
	}
}

func TestRESTAvailability(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	ctx := context.Background()
	w1, err := a.st.WorkerByName(ctx, store.DefaultRealm, "w1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.PingWorker(ctx, w1.ID, "2023.01", true); err != nil {
		t.Fatal(err)
	}
	a.insertJob(t, "", store.JobSubmitted, "t1", "")
	a.insertJob(t, "", store.JobSubmitted, "t2", "")
	code, body := a.do(t, "GET", "/api/v0.2/devicetypes/qemu/availability/", nil)
	var av store.Availability
	if code != 200 || json.Unmarshal([]byte(body), &av) != nil {
		t.Fatalf("availability: %d %s", code, body)
	}
	// qemu-01 Good on an Online worker: idle; qemu-02 in Maintenance: offline.
	if av.Idle != 1 || av.Offline != 1 || av.Busy != 0 || av.Queued != 2 || av.OldestQueuedSeconds < 0 {
		t.Errorf("qemu availability = %+v", av)
	}
	code, body = a.do(t, "GET", "/api/v0.2/availability/", nil)
	var all []store.Availability
	if code != 200 || json.Unmarshal([]byte(body), &all) != nil || len(all) != 2 || all[0].DeviceType != "bbb" {
		t.Fatalf("all availability: %d %s", code, body)
	}
	// bbb-01's worker w2 never pinged; bbb-old is Retired and left out.
	if all[0].Offline != 1 || all[0].Idle != 0 {
		t.Errorf("bbb availability = %+v", all[0])
	}
	if code, _ := a.do(t, "GET", "/api/v0.2/devicetypes/nope/availability/", nil); code != 404 {
		t.Errorf("unknown type: %d", code)
	}
	// A submission answers when the job should start: qemu-01 is idle and
	// two jobs are queued ahead: the first takes it now, the second after
	// one mean duration (the default: no job finished yet), this one after two.
	code, body = a.do(t, "POST", "/api/v0.2/jobs/", url.Values{"definition": {periodicJob}}, "Authorization", "Token "+a.adminToken)
	var sub struct {
		EstimatedStart *time.Time `json:"estimated_start"`
	}
	if code != 201 || json.Unmarshal([]byte(body), &sub) != nil || sub.EstimatedStart == nil {
		t.Fatalf("submit: %d %s", code, body)
	}
	if d := time.Until(*sub.EstimatedStart); d < 2*store.DefaultJobDuration-time.Minute || d > 2*store.DefaultJobDuration+time.Minute {
		t.Errorf("estimated start in %v, want about %v", d, 2*store.DefaultJobDuration)
	}
	// bbb has no usable device: no estimate.
	bbbJob := strings.Replace(periodicJob, "device_type: qemu", "device_type: bbb", 1)
	code, body = a.do(t, "POST", "/api/v0.2/jobs/", url.Values{"definition": {bbbJob}}, "Authorization", "Token "+a.adminToken)
	if code != 201 || !strings.Contains(body, `"estimated_start":null`) {
		t.Errorf("submit to bbb: %d %s", code, body)
	}
}

func TestRESTFairShare(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, false)
	if _, err := a.st.CreateGroup(context.Background(), "team"); err != nil {
		t.Fatal(err)
	}
	admin, alice := []string{"Authorization", "Token " + a.adminToken}, []string{"Authorization", "Token " + a.aliceToken}
	tests := []struct {
		method string
		body   url.Values
		auth   []string
		code   int
		has    string
	}{
		{"GET", nil, nil, 200, "[]"},
		{"POST", url.Values{"group": {"team"}, "weight": {"2.5"}}, admin, 200, "updated"},
		{"GET", nil, nil, 200, `"group":"team","weight":2.5,"running":0,"queued":0`},
		{"POST", url.Values{"group": {"team"}, "weight": {"x"}}, admin, 400, "number"},
		{"POST", url.Values{"group": {"team"}, "weight": {"-1"}}, admin, 400, "weight"},
		{"POST", url.Values{"group": {"nope"}, "weight": {"1"}}, admin, 400, "does not exist"},
		{"POST", url.Values{"group": {"team"}, "weight": {"1"}}, alice, 403, ""},
		{"POST", url.Values{"group": {"team"}, "weight": {"0"}}, admin, 200, "updated"},
		{"GET", nil, nil, 200, "[]"},
	}
	for i, tt := range tests {
		code, body := a.do(t, tt.method, "/api/v0.2/fair-share/", tt.body, tt.auth...)
		if code != tt.code || !strings.Contains(compact(body), tt.has) {
			t.Errorf("step %d: %d %s, want %d with %s", i, code, body, tt.code, tt.has)
		}
	}
}

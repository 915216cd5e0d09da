package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"golava/server/store"
	"golava/server/xmlrpc"
)

// rpc calls method as user:token ("" user: anonymous) and returns the value
// or the fault.
func (a *adminAPI) rpc(t *testing.T, user, token, method string, params ...any) (any, *xmlrpc.Fault) {
	t.Helper()
	body, err := xmlrpc.EncodeCall(method, params...)
	if err != nil {
		t.Fatal(err)
	}
	code, resp := a.rpcRaw(t, user, token, bytes.NewReader(body))
	if code != http.StatusOK {
		t.Fatalf("%s: HTTP %d %s", method, code, resp)
	}
	v, err := xmlrpc.DecodeResponse([]byte(resp), xmlrpc.DefaultLimits)
	var f *xmlrpc.Fault
	if errors.As(err, &f) {
		return nil, f
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s", method, err, resp)
	}
	return v, nil
}

func (a *adminAPI) rpcRaw(t *testing.T, user, token string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.ts.URL+"/RPC2", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml")
	if user != "" {
		req.SetBasicAuth(user, token)
	}
	resp, err := a.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func wantFault(t *testing.T, what string, f *xmlrpc.Fault, code int, msg string) {
	t.Helper()
	if f == nil || f.Code != code || !strings.Contains(f.String, msg) {
		t.Fatalf("%s: want fault %d %q, got %v", what, code, msg, f)
	}
}

const qemuJob = `device_type: qemu
job_name: rpc test
visibility: public
timeouts:
  job: {minutes: 5}
actions:
- boot:
    method: minimal
    prompts: ['# ']
`

func TestRPCSystemAndFaults(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	v, f := a.rpc(t, "", "", "system.version")
	if f != nil || v != "2023.01" {
		t.Fatalf("version: %v %v", v, f)
	}
	v, _ = a.rpc(t, "alice", a.aliceToken, "system.whoami")
	if v != "alice" {
		t.Fatalf("whoami: %v", v)
	}
	if v, _ = a.rpc(t, "", "", "system.whoami"); v != nil {
		t.Fatalf("anonymous whoami: %v", v)
	}
	v, _ = a.rpc(t, "", "", "system.listMethods")
	names, _ := v.([]any)
	if len(names) < 60 || fmt.Sprint(names[0]) > fmt.Sprint(names[1]) {
		t.Fatalf("listMethods: %d %v", len(names), names)
	}
	v, _ = a.rpc(t, "", "", "system.methodSignature", "scheduler.jobs.submit")
	if fmt.Sprint(v) != "[int string]" {
		t.Fatalf("methodSignature: %v", v)
	}
	_, f = a.rpc(t, "", "", "no.such.method")
	wantFault(t, "unknown method", f, -32601, "No such method: 'no.such.method'")
	_, f = a.rpc(t, "", "", "system.version", 1, 2)
	wantFault(t, "too many arguments", f, -32602, "takes 0 arguments (2 given)")
	_, f = a.rpc(t, "admin", a.adminToken, "scheduler.jobs.submit", []any{int64(1)})
	wantFault(t, "wrong argument type", f, -32602, "must be a string")
	_, f = a.rpc(t, "", "", "scheduler.jobs.submit", qemuJob)
	wantFault(t, "anonymous submit", f, 401, "Authentication with user and token required")
	_, f = a.rpc(t, "admin", a.adminToken, "scheduler.jobs.submit", "device_type: qemu\n")
	wantFault(t, "invalid job", f, 400, "Problem with submitted job data: ")
	_, f = a.rpc(t, "admin", a.adminToken, "scheduler.jobs.show", "999999")
	wantFault(t, "missing job", f, 404, "Job '999999' was not found.")
	v, f = a.rpc(t, "admin", a.adminToken, "scheduler.jobs.submit", qemuJob)
	id, ok := v.(int64)
	if f != nil || !ok {
		t.Fatalf("submit: want an int, got %#v %v", v, f)
	}
	v, _ = a.rpc(t, "alice", a.aliceToken, "scheduler.jobs.show", id)
	show, _ := v.(map[string]any)
	if show["id"] != id || show["state"] != "Submitted" || show["submitter"] != "admin" || show["visibility"] != "Public" {
		t.Fatalf("show: %v", show)
	}
	v, _ = a.rpc(t, "alice", a.aliceToken, "scheduler.jobs.queue", []any{"qemu"}, 0, 10)
	if q, _ := v.([]any); len(q) != 1 || q[0].(map[string]any)["id"] != id || q[0].(map[string]any)["requested_device_type"] != "qemu" {
		t.Fatalf("queue of qemu: %v", v)
	}
	if v, _ = a.rpc(t, "alice", a.aliceToken, "scheduler.jobs.queue", []any{"bbb"}); len(v.([]any)) != 0 {
		t.Fatalf("queue of bbb: %v", v)
	}
	v, _ = a.rpc(t, "", "", "scheduler.jobs.logs", fmt.Sprint(id))
	if logs, _ := v.([]any); len(logs) != 2 || logs[0] != false {
		t.Fatalf("logs of a queued job: %#v", v)
	}
	// Authentication failures are HTTP errors, as LAVA's handler answers.
	if code, _ := a.rpcRaw(t, "admin", "wrong", strings.NewReader("<methodCall/>")); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	if code, _ := a.rpcRaw(t, "alice", a.adminToken, strings.NewReader("<methodCall/>")); code != 401 {
		t.Fatalf("token of another user: %d", code)
	}
}

// restricted builds: group "team" with alice (bob outside), device type bbb
// visible to team only, device qemu-02 visible to team only, submit to
// qemu for team only, and jobs: public on bbb, public on qemu-02, public
// on qemu-01, personal of admin on qemu-01. It returns the job ids.
func restricted(t *testing.T, a *adminAPI) (bob string, jobs map[string]int64) {
	t.Helper()
	ctx := context.Background()
	u, err := a.st.CreateUser(ctx, store.NewUser{Username: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err = a.st.CreateToken(ctx, u.ID, store.DefaultRealm, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.CreateGroup(ctx, "team"); err != nil {
		t.Fatal(err)
	}
	if err := a.st.AddUserToGroup(ctx, "alice", "team"); err != nil {
		t.Fatal(err)
	}
	for _, g := range []store.Grant{
		{Kind: "device-type", Object: "bbb", Group: "team", Permission: store.PermView},
		{Kind: "device", Object: "qemu-02", Group: "team", Permission: store.PermView},
		{Kind: "device-type", Object: "qemu", Group: "team", Permission: store.PermSubmit},
	} {
		if err := a.st.GrantPermission(ctx, store.DefaultRealm, g); err != nil {
			t.Fatal(err)
		}
	}
	jobs = map[string]int64{}
	for name, j := range map[string][3]string{
		"on-bbb": {"bbb", "bbb-01", "public"}, "on-qemu-02": {"qemu", "qemu-02", "public"},
		"public": {"qemu", "qemu-01", "public"}, "personal": {"qemu", "qemu-01", "personal"},
	} {
		var id int64
		err := a.st.Pool().QueryRow(ctx, `INSERT INTO jobs (realm_id, submitter_id, definition, original_definition,
    requested_device_type_id, actual_device_id, state, token, visibility)
SELECT 1, (SELECT id FROM users WHERE username = 'admin'), 'x', 'x', (SELECT id FROM device_types WHERE name = $1),
    (SELECT id FROM devices WHERE hostname = $2), 'Finished', 't', $3 RETURNING id`, j[0], j[1], j[2]).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		jobs[name] = id
	}
	return bob, jobs
}

func TestPermissionsXMLRPC(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	bob, jobs := restricted(t, a)
	type viewer struct{ user, token string }
	viewers := map[string]viewer{"anonymous": {}, "bob": {"bob", bob}, "alice": {"alice", a.aliceToken}, "admin": {"admin", a.adminToken}}
	// What each viewer sees, by id and in lists.
	sees := map[string]map[string]bool{
		"anonymous": {"public": true},
		"bob":       {"public": true},
		"alice":     {"public": true, "on-bbb": true, "on-qemu-02": true, "bbb": true, "bbb-01": true, "qemu-02": true},
		"admin":     {"public": true, "on-bbb": true, "on-qemu-02": true, "personal": true, "bbb": true, "bbb-01": true, "qemu-02": true},
	}
	for name, v := range viewers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			listed := map[string]bool{}
			res, _ := a.rpc(t, v.user, v.token, "scheduler.jobs.list", nil, nil, 0, 100)
			for _, j := range res.([]any) {
				listed[fmt.Sprint(j.(map[string]any)["id"])] = true
			}
			for job, id := range jobs {
				_, f := a.rpc(t, v.user, v.token, "scheduler.jobs.show", fmt.Sprint(id))
				if want := sees[name][job]; want != (f == nil) || want != listed[fmt.Sprint(id)] {
					t.Errorf("job %s: want visible %v, show fault %v, listed %v", job, want, f, listed[fmt.Sprint(id)])
				}
				if f != nil {
					wantFault(t, "hidden job", f, 404, fmt.Sprintf("Job '%d' was not found.", id))
				}
			}
			res, _ = a.rpc(t, v.user, v.token, "scheduler.devices.list", true)
			listed = map[string]bool{}
			for _, d := range res.([]any) {
				listed[d.(map[string]any)["hostname"].(string)] = true
			}
			for _, d := range []string{"bbb-01", "qemu-02"} {
				_, f := a.rpc(t, v.user, v.token, "scheduler.devices.show", d)
				if want := sees[name][d]; want != (f == nil) || want != listed[d] {
					t.Errorf("device %s: want visible %v, show fault %v, listed %v", d, want, f, listed[d])
				}
			}
			if !listed["qemu-01"] {
				t.Errorf("public device qemu-01 not listed")
			}
			res, _ = a.rpc(t, v.user, v.token, "scheduler.device_types.list")
			listed = map[string]bool{}
			for _, d := range res.([]any) {
				listed[d.(map[string]any)["name"].(string)] = true
			}
			_, f := a.rpc(t, v.user, v.token, "scheduler.device_types.show", "bbb")
			if want := sees[name]["bbb"]; want != (f == nil) || want != listed["bbb"] {
				t.Errorf("device type bbb: want visible %v, show fault %v, listed %v", want, f, listed["bbb"])
			}
			if f != nil {
				wantFault(t, "hidden device type", f, 404, "Device-type 'bbb' was not found.")
			}
		})
	}
	// Submit to qemu is for team members (and superusers).
	_, f := a.rpc(t, "bob", bob, "scheduler.jobs.submit", qemuJob)
	wantFault(t, "bob submits to qemu", f, 400, "not available to user 'bob'")
	if _, f := a.rpc(t, "alice", a.aliceToken, "scheduler.jobs.submit", qemuJob); f != nil {
		t.Fatalf("alice submits to qemu: %v", f)
	}
	// Changing a device needs a change grant.
	_, f = a.rpc(t, "alice", a.aliceToken, "scheduler.devices.update", "qemu-01", nil, nil, nil, nil, "MAINTENANCE")
	wantFault(t, "alice updates qemu-01", f, 403, "needs admin permission on device qemu-01")
	if err := a.st.GrantPermission(context.Background(), store.DefaultRealm,
		store.Grant{Kind: "device", Object: "qemu-01", Group: "team", Permission: store.PermChange}); err != nil {
		t.Fatal(err)
	}
	if _, f = a.rpc(t, "alice", a.aliceToken, "scheduler.devices.update", "qemu-01", nil, nil, nil, nil, "MAINTENANCE"); f != nil {
		t.Fatalf("alice with change grant: %v", f)
	}
}

func TestPermissionsREST(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	bob, jobs := restricted(t, a)
	for name, auth := range map[string][]string{"anonymous": nil, "bob": {"Authorization", "Token " + bob},
		"alice": {"Authorization", "Token " + a.aliceToken}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			member := name == "alice"
			for path, visible := range map[string]bool{
				"/api/v0.2/devices/bbb-01/":                         member,
				"/api/v0.2/devices/qemu-02/":                        member,
				"/api/v0.2/devices/qemu-01/":                        true,
				"/api/v0.2/devicetypes/bbb/":                        member,
				fmt.Sprintf("/api/v0.2/jobs/%d/", jobs["on-bbb"]):   member,
				fmt.Sprintf("/api/v0.2/jobs/%d/", jobs["public"]):   true,
				fmt.Sprintf("/api/v0.2/jobs/%d/", jobs["personal"]): false,
			} {
				code, body := a.do(t, "GET", path, nil, auth...)
				if (code == 200) != visible || (!visible && code != 404) {
					t.Errorf("GET %s: want visible %v, got %d %s", path, visible, code, body)
				}
			}
			for path, needles := range map[string]map[string]bool{
				"/api/v0.2/devices/?limit=100":     {`"bbb-01"`: member, `"qemu-02"`: member, `"qemu-01"`: true},
				"/api/v0.2/devicetypes/?limit=100": {`"bbb"`: member, `"qemu"`: true},
				"/api/v0.2/jobs/?limit=100": {fmt.Sprintf(`"id":%d,`, jobs["on-bbb"]): member,
					fmt.Sprintf(`"id":%d,`, jobs["personal"]): false, fmt.Sprintf(`"id":%d,`, jobs["public"]): true},
			} {
				code, body := a.do(t, "GET", path, nil, auth...)
				if code != 200 {
					t.Fatalf("GET %s: %d %s", path, code, body)
				}
				for needle, want := range needles {
					if strings.Contains(compact(body), needle) != want {
						t.Errorf("GET %s: %s listed is not %v", path, needle, want)
					}
				}
			}
		})
	}
}

// TestRPCBadInput is not parallel: it measures the process's allocations
// while a 100 MB body arrives.
func TestRPCBadInput(t *testing.T) {
	a := setupAdminAPI(t, Config{}, false)
	deep := strings.Repeat("<value><array><data>", 10000) + strings.Repeat("</data></array></value>", 10000)
	for name, doc := range map[string]string{
		"entity expansion": `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">` +
			`<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><methodCall><methodName>&c;</methodName></methodCall>`,
		"external entity": `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>` +
			`<methodCall><methodName>system.version</methodName><params><param><value>&e;</value></param></params></methodCall>`,
		"deep nesting":  `<methodCall><methodName>system.version</methodName><params><param>` + deep + `</param></params></methodCall>`,
		"invalid utf-8": "<methodCall><methodName>system.version\xc3\x28</methodName></methodCall>",
		"not xml":       "GET / HTTP/1.0",
	} {
		code, body := a.rpcRaw(t, "", "", strings.NewReader(doc))
		_, err := xmlrpc.DecodeResponse([]byte(body), xmlrpc.DefaultLimits)
		var f *xmlrpc.Fault
		if code != 200 || !errors.As(err, &f) || f.Code > -32600 || strings.Contains(body, "root:") {
			t.Errorf("%s: want a parse fault, got %d %v %.200s", name, code, err, body)
		}
	}
	// A 100 MB body, streamed without a length, is cut at the limit.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	big := io.MultiReader(strings.NewReader("<methodCall><methodName>system.version</methodName><params><param><value><string>"),
		io.LimitReader(repeatReader('a'), 100<<20))
	code, _ := a.rpcRaw(t, "", "", big)
	runtime.ReadMemStats(&after)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("100 MB body: want 413, got %d", code)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 80<<20 {
		t.Errorf("100 MB body allocated %d MB", grew>>20)
	}
	// The server still answers.
	if v, f := a.rpc(t, "", "", "system.version"); f != nil || v != "2023.01" {
		t.Fatalf("after bad input: %v %v", v, f)
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestRPCPermissionCalls(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	ctx := context.Background()
	if _, err := a.st.CreateGroup(ctx, "team"); err != nil {
		t.Fatal(err)
	}
	_, f := a.rpc(t, "alice", a.aliceToken, "system.assign_perm_device_type", "view_devicetype", "bbb", "team")
	wantFault(t, "alice grants", f, 403, "missing permission lava_scheduler_app.change_devicetype")
	if _, f = a.rpc(t, "admin", a.adminToken, "system.assign_perm_device_type", "view_devicetype", "bbb", "team"); f != nil {
		t.Fatal(f)
	}
	_, f = a.rpc(t, "admin", a.adminToken, "system.assign_perm_device", "own_device", "bbb-01", "team")
	wantFault(t, "bad perm", f, 400, "Invalid permission 'own_device'")
	v, _ := a.rpc(t, "alice", a.aliceToken, "system.user_can_view_devices", []any{"bbb-01", "qemu-01", "nope"})
	got := fmt.Sprint(v)
	if !strings.Contains(got, "bbb-01:map[visible:false]") || !strings.Contains(got, "qemu-01:map[exclusive:true is_pipeline:true visible:true]") {
		t.Fatalf("user_can_view_devices: %v", got)
	}
	if _, err := a.st.Pool().Exec(ctx, `UPDATE users SET email = 'alice@example.com' WHERE username = 'alice'`); err != nil {
		t.Fatal(err)
	}
	if _, f = a.rpc(t, "admin", a.adminToken, "system.set_user_groups", "alice@example.com", []any{"team", "missing"}); f != nil {
		t.Fatal(f)
	}
	v, _ = a.rpc(t, "admin", a.adminToken, "system.user_can_view_devices", []any{"bbb-01"}, "alice")
	if !strings.Contains(fmt.Sprint(v), "visible:true") {
		t.Fatalf("alice in team: %v", v)
	}
	if _, f = a.rpc(t, "admin", a.adminToken, "system.revoke_perm_device_type", "view_devicetype", "bbb", "team"); f != nil {
		t.Fatal(f)
	}
	v, _ = a.rpc(t, "alice", a.aliceToken, "system.user_can_submit_to_types", []any{"bbb", "qemu", "nope"})
	if fmt.Sprint(v) != "map[bbb:true qemu:true]" {
		t.Fatalf("user_can_submit_to_types: %v", v)
	}
}

func TestRPCLegacyScheduler(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	admin := func(method string, params ...any) any {
		t.Helper()
		v, f := a.rpc(t, "admin", a.adminToken, method, params...)
		if f != nil {
			t.Fatalf("%s: %v", method, f)
		}
		return v
	}
	if got := fmt.Sprint(admin("scheduler.all_devices")); !strings.Contains(got, "[qemu-01 qemu idle <nil> true]") ||
		!strings.Contains(got, "[qemu-02 qemu offline <nil> true]") || strings.Contains(got, "bbb-old") {
		t.Fatalf("all_devices: %s", got)
	}
	if got := fmt.Sprint(admin("scheduler.all_device_types")); !strings.Contains(got, "map[busy:0 idle:1 name:qemu offline:1]") {
		t.Fatalf("all_device_types: %s", got)
	}
	if got := fmt.Sprint(admin("scheduler.get_device_status", "qemu-02")); !strings.Contains(got, "status:offline") {
		t.Fatalf("get_device_status: %s", got)
	}
	_, f := a.rpc(t, "alice", a.aliceToken, "scheduler.put_into_maintenance_mode", "qemu-01", "broken")
	wantFault(t, "alice maintenance", f, 403, "needs admin permission")
	admin("scheduler.put_into_maintenance_mode", "qemu-01", "broken")
	if got := fmt.Sprint(admin("scheduler.get_device_status", "qemu-01")); !strings.Contains(got, "status:offline") {
		t.Fatalf("after maintenance: %s", got)
	}
	admin("scheduler.put_into_online_mode", "qemu-01", "fixed")
	admin("scheduler.import_device_dictionary", "qemu-01", "{% extends 'qemu.jinja2' %}\n")
	if got := admin("scheduler.export_device_dictionary", "qemu-01"); string(got.([]byte)) != "{% extends 'qemu.jinja2' %}\n" {
		t.Fatalf("export_device_dictionary: %q", got)
	}
	_, f = a.rpc(t, "admin", a.adminToken, "scheduler.validate_yaml", "device_type: qemu\n")
	wantFault(t, "validate_yaml", f, 400, "Invalid YAML submission: ")
	id := admin("scheduler.jobs.submit", qemuJob)
	if got := fmt.Sprint(admin("scheduler.pending_jobs_by_device_type")); !strings.Contains(got, "qemu:1") {
		t.Fatalf("pending_jobs_by_device_type: %s", got)
	}
	if got := fmt.Sprint(admin("scheduler.all_jobs")); !strings.Contains(got, fmt.Sprintf("[%d rpc test submitted <nil> qemu ]", id)) {
		t.Fatalf("all_jobs: %s", got)
	}
	if got := fmt.Sprint(admin("scheduler.job_state", id)); got != fmt.Sprintf("map[job_id:%d job_state:Submitted]", id) {
		t.Fatalf("job_state: %s", got)
	}
}

func TestRPCResults(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	id := a.insertJob(t, "qemu-01", "Finished", "tok", "")
	ctx := context.Background()
	if _, err := a.st.Pool().Exec(ctx, `WITH s AS (INSERT INTO test_suites (job_id, name) VALUES ($1, '0_smoke') RETURNING id)
INSERT INTO test_cases (suite_id, name, result) SELECT s.id, n, r FROM s, (VALUES ('a', 'pass'), ('b', 'fail')) v(n, r)`, id); err != nil {
		t.Fatal(err)
	}
	admin := func(method string, params ...any) string {
		t.Helper()
		v, f := a.rpc(t, "admin", a.adminToken, method, params...)
		if f != nil {
			t.Fatalf("%s: %v", method, f)
		}
		return fmt.Sprint(v)
	}
	sid := fmt.Sprint(id)
	for method, want := range map[string][]string{
		"results.get_testjob_results_yaml":     {"name: a", "result: pass", "name: b", "suite: 0_smoke"},
		"results.get_testjob_results_csv":      {`"job","suite","result"`, `"` + sid + `","0_smoke","fail"`},
		"results.get_testjob_suites_list_yaml": {"name: 0_smoke", "job: \"" + sid + "\""},
		"results.get_testjob_suites_list_csv":  {`"name","job","id"`, `"0_smoke","` + sid + `"`},
	} {
		got := admin(method, sid)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: want %q in\n%s", method, w, got)
			}
		}
	}
	if got := admin("results.get_testsuite_results_count", sid, "0_smoke"); got != "2" {
		t.Errorf("count: %s", got)
	}
	if got := admin("results.get_testcase_results_yaml", sid, "0_smoke", "b"); !strings.Contains(got, "result: fail") || strings.Contains(got, "name: a") {
		t.Errorf("case yaml: %s", got)
	}
	if got := admin("results.get_testsuite_results_csv", sid, "0_smoke", 1, 1); strings.Count(got, "\n") != 2 || !strings.Contains(got, `"fail"`) {
		t.Errorf("suite csv with limit/offset: %s", got)
	}
	_, f := a.rpc(t, "admin", a.adminToken, "results.get_testsuite_results_yaml", sid, "nope")
	wantFault(t, "missing suite", f, 404, "Specified test suite not found.")
	_, f = a.rpc(t, "", "", "results.get_testjob_results_yaml", sid)
	wantFault(t, "anonymous", f, 401, "Authentication with user and token required")
}

func TestRPCSubmitMultinode(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	const mn = `job_name: mn
visibility: public
timeouts: {job: {minutes: 30}}
protocols:
  lava-multinode:
    timeout: {minutes: 6}
    roles:
      server: {device_type: qemu, count: 1}
      client: {device_type: qemu, count: 1}
actions:
- boot: {method: minimal, role: [server, client], prompts: ['# ']}
`
	v, f := a.rpc(t, "admin", a.adminToken, "scheduler.jobs.submit", mn)
	ids, ok := v.([]any)
	if f != nil || !ok || len(ids) != 2 {
		t.Fatalf("MultiNode submit: want a list of 2 sub ids, got %#v %v", v, f)
	}
	first := ids[0].(string)
	head, _, _ := strings.Cut(first, ".")
	if ids[1] != head+".1" || first != head+".0" {
		t.Fatalf("sub ids: %v", ids)
	}
	v, f = a.rpc(t, "alice", a.aliceToken, "scheduler.jobs.show", ids[1])
	if f != nil || v.(map[string]any)["id"] != ids[1] {
		t.Fatalf("show %v: %v %v", ids[1], v, f)
	}
	v, _ = a.rpc(t, "alice", a.aliceToken, "scheduler.jobs.definition", ids[0])
	if !strings.Contains(fmt.Sprint(v), "lava-multinode") {
		t.Fatalf("definition of a sub-job is the whole submission: %v", v)
	}
	_, f = a.rpc(t, "alice", a.aliceToken, "scheduler.jobs.show", head+".7")
	wantFault(t, "missing sub id", f, 404, "Job '"+head+".7' was not found.")
}

func TestRPCJobDetailsAndOutput(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	v, f := a.rpc(t, "admin", a.adminToken, "scheduler.jobs.submit", qemuJob+"metadata: {build: 42, branch: main}\n")
	if f != nil {
		t.Fatal(f)
	}
	id := v.(int64)
	v, _ = a.rpc(t, "admin", a.adminToken, "scheduler.job_details", id)
	d := v.(map[string]any)
	if d["status"] != "Submitted" || d["submitter_username"] != "admin" || d["is_pipeline"] != true {
		t.Fatalf("job_details: %v", d)
	}
	v, _ = a.rpc(t, "admin", a.adminToken, "results.get_testjob_metadata", id)
	if fmt.Sprint(v) != "[map[branch:main] map[build:42]]" {
		t.Fatalf("metadata: %v", v)
	}
	_, f = a.rpc(t, "admin", a.adminToken, "scheduler.job_output", id)
	wantFault(t, "no output yet", f, 404, "Job output not found.")
	if _, err := a.st.AppendLog(context.Background(), id, 0, []string{`{"dt": "x", "lvl": "info", "msg": "one"}`, `{"dt": "y", "lvl": "info", "msg": "two"}`}); err != nil {
		t.Fatal(err)
	}
	v, _ = a.rpc(t, "admin", a.adminToken, "scheduler.job_output", id)
	all := string(v.([]byte))
	if all != "- {\"dt\": \"x\", \"lvl\": \"info\", \"msg\": \"one\"}\n- {\"dt\": \"y\", \"lvl\": \"info\", \"msg\": \"two\"}\n" {
		t.Fatalf("job_output: %q", all)
	}
	v, _ = a.rpc(t, "admin", a.adminToken, "scheduler.job_output", id, 10)
	if string(v.([]byte)) != all[10:] {
		t.Fatalf("job_output from 10: %q", v)
	}
	v, _ = a.rpc(t, "admin", a.adminToken, "scheduler.jobs.logs", id, 1)
	if logs := v.([]any); string(logs[1].([]byte)) != all[strings.Index(all, "\n")+1:] {
		t.Fatalf("logs from line 1: %q", logs[1])
	}
}

func TestRPCValidatePipelineDevices(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	if err := a.st.SetDeviceDictionary(context.Background(), store.DefaultRealm, "qemu-01", "{% extends 'qemu.jinja2' %}\n"); err != nil {
		t.Fatal(err)
	}
	v, f := a.rpc(t, "admin", a.adminToken, "scheduler.validate_pipeline_devices", "qemu")
	if f != nil {
		t.Fatal(f)
	}
	got := string(v.([]byte))
	if !strings.Contains(got, "qemu-01:\n    Valid: null") || !strings.Contains(got, "qemu-02:\n    Invalid: Missing device dictionary") {
		t.Fatalf("validate_pipeline_devices: %s", got)
	}
	_, f = a.rpc(t, "admin", a.adminToken, "scheduler.validate_pipeline_devices", "nope")
	wantFault(t, "unknown", f, 404, "No devices found with hostname or device type name nope")
}

func TestRPCQueriesAndNetworkMap(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	_, f := a.rpc(t, "alice", a.aliceToken, "results.run_query", "q1")
	wantFault(t, "run_query", f, 404, "Query with name q1 owned by user alice does not exist.")
	_, f = a.rpc(t, "alice", a.aliceToken, "results.refresh_all_queries")
	wantFault(t, "refresh_all_queries", f, 401, "Must be a superuser")
	v, f := a.rpc(t, "admin", a.adminToken, "system.pipeline_network_map")
	if f != nil || v != "switches: {}\n" {
		t.Fatalf("pipeline_network_map: %q %v", v, f)
	}
	v, _ = a.rpc(t, "", "", "system.listMethods")
	if n := len(v.([]any)); n < 100 {
		t.Fatalf("listMethods: %d methods, want LAVA's ~104", n)
	} else {
		t.Logf("system.listMethods: %d methods", n)
	}
}

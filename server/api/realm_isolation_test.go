package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golava/pkg/workerapi"
	"golava/server/store"
)

// realmPair is the default realm of setupAdminAPI (alice, worker w1,
// qemu-01) beside a realm "blue" holding objects of the same names: a
// device type qemu, a worker w1 and user bob, a member of blue only.
type realmPair struct {
	*adminAPI
	blue                 *store.Realm
	bobToken             string
	blueWorkerToken      string
	aliceJob, bobJob     int64
	aliceJobToken        string
	bobJobToken          string
	blueDevice, defDevID int64
}

func setupRealmPair(t *testing.T) *realmPair {
	t.Helper()
	ctx := context.Background()
	p := &realmPair{adminAPI: setupAdminAPI(t, Config{AutoRegister: true,
		EventSocket: "tcp://lab:5500", RealmEventSockets: map[string]string{"blue": "tcp://lab:5501"}}, true)}
	var err error
	if p.blue, err = p.st.CreateRealm(ctx, "blue", "the blue lab"); err != nil {
		t.Fatal(err)
	}
	bob, err := p.st.CreateUser(ctx, store.NewUser{Username: "bob", Password: "bobpw", RealmID: p.blue.ID})
	if err != nil {
		t.Fatal(err)
	}
	if p.bobToken, _, err = p.st.CreateToken(ctx, bob.ID, p.blue.ID, ""); err != nil {
		t.Fatal(err)
	}
	// A member of blue only cannot get a token of the default realm.
	if _, _, err := p.st.CreateToken(ctx, bob.ID, store.DefaultRealm, ""); err == nil {
		t.Fatal("bob got a token for a realm he is not a member of")
	}
	if _, err := p.st.CreateDeviceType(ctx, p.blue.ID, store.NewDeviceType{Name: "qemu", Description: "blue QEMU"}); err != nil {
		t.Fatal(err)
	}
	if _, p.blueWorkerToken, err = p.st.CreateWorker(ctx, p.blue.ID, "w1", "blue lab host"); err != nil {
		t.Fatal(err)
	}
	d, err := p.st.CreateDevice(ctx, p.blue.ID, store.NewDevice{Hostname: "blue-01", DeviceType: "qemu", Worker: "w1", Health: store.DeviceGood})
	if err != nil {
		t.Fatal(err)
	}
	p.blueDevice = d.ID
	p.aliceJob = p.submit(t, p.aliceToken)
	p.bobJob = p.submit(t, p.bobToken)
	// Both jobs scheduled on their realm's device, as the scheduler would.
	p.aliceJobToken, p.bobJobToken = "alice-job-token", "bob-job-token"
	for _, j := range []struct {
		id     int64
		device string
		realm  int64
		token  string
	}{{p.aliceJob, "qemu-01", store.DefaultRealm, p.aliceJobToken}, {p.bobJob, "blue-01", p.blue.ID, p.bobJobToken}} {
		_, err := p.st.Pool().Exec(ctx, `UPDATE jobs SET state = 'Scheduled', token = $4,
    actual_device_id = (SELECT id FROM devices WHERE realm_id = $3 AND hostname = $2) WHERE id = $1`, j.id, j.device, j.realm, j.token)
		if err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// submit posts qemuJob over REST with token and returns the job id.
func (p *realmPair) submit(t *testing.T, token string) int64 {
	t.Helper()
	code, body := p.do(t, http.MethodPost, "/api/v0.2/jobs/", url.Values{"definition": {qemuJob}}, "Authorization", "Token "+token)
	if code != http.StatusCreated {
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

func TestRealmIsolationREST(t *testing.T) {
	t.Parallel()
	p := setupRealmPair(t)
	bob, alice := []string{"Authorization", "Token " + p.bobToken}, []string{"Authorization", "Token " + p.aliceToken}
	var realmID int64
	if err := p.st.Pool().QueryRow(context.Background(), `SELECT realm_id FROM jobs WHERE id = $1`, p.bobJob).Scan(&realmID); err != nil || realmID != p.blue.ID {
		t.Fatalf("bob's job is in realm %d (%v), want blue %d", realmID, err, p.blue.ID)
	}
	type check struct {
		name, method, path string
		who                []string
		code               int
		has, hasNot        string
	}
	aj, bj := fmt.Sprint(p.aliceJob), fmt.Sprint(p.bobJob)
	for _, c := range []check{
		{"bob lists only blue jobs", "GET", "/api/v0.2/jobs/", bob, 200, `"id":` + bj, `"id":` + aj + `,`},
		{"alice lists only default jobs", "GET", "/api/v0.2/jobs/", alice, 200, `"id":` + aj, `"id":` + bj + `,`},
		{"bob cannot read alice's job", "GET", "/api/v0.2/jobs/" + aj + "/", bob, 404, "", ""},
		{"bob cannot read its definition", "GET", "/api/v0.2/jobs/" + aj + "/definition/", bob, 404, "", ""},
		{"bob cannot read its logs", "GET", "/api/v0.2/jobs/" + aj + "/logs/", bob, 404, "", ""},
		{"bob cannot read its results", "GET", "/api/v0.2/jobs/" + aj + "/tests/", bob, 404, "", ""},
		{"alice cannot read bob's job", "GET", "/api/v0.2/jobs/" + bj + "/", alice, 404, "", ""},
		{"anonymous cannot read blue's public job", "GET", "/api/v0.2/jobs/" + bj + "/", nil, 404, "", ""},
		{"bob cannot cancel alice's job", "POST", "/api/v0.2/jobs/" + aj + "/cancel/", bob, 404, "", ""},
		{"bob sees blue devices only", "GET", "/api/v0.2/devices/", bob, 200, `"blue-01"`, `"qemu-01"`},
		{"alice sees default devices only", "GET", "/api/v0.2/devices/", alice, 200, `"qemu-01"`, `"blue-01"`},
		{"bob cannot read a default device", "GET", "/api/v0.2/devices/qemu-01/", bob, 404, "", ""},
		{"bob sees blue's worker w1", "GET", "/api/v0.2/workers/w1/", bob, 200, "blue lab host", ""},
		{"alice sees default's worker w1", "GET", "/api/v0.2/workers/w1/", alice, 200, "lab host", "blue"},
		{"bob does not see default's w2", "GET", "/api/v0.2/workers/w2/", bob, 404, "", ""},
		{"bob sees blue's device type", "GET", "/api/v0.2/devicetypes/", bob, 200, "blue QEMU", `"bbb"`},
		{"bob's realms", "GET", "/api/v0.2/realms/", bob, 200, `"blue"`, `"default"`},
		{"alice's realms", "GET", "/api/v0.2/realms/", alice, 200, `"default"`, `"blue"`},
		{"bob cannot open the default realm", "GET", "/api/v0.2/realms/default/", bob, 404, "", ""},
		{"alice cannot open blue", "GET", "/api/v0.2/realms/blue/", alice, 404, "", ""},
		{"alice cannot list blue's members", "GET", "/api/v0.2/realms/blue/members/", alice, 404, "", ""},
		{"alice cannot get a blue token", "POST", "/api/v0.2/realms/blue/tokens/", alice, 404, "", ""},
		{"bob cannot create realms", "POST", "/api/v0.2/realms/", bob, 403, "", ""},
	} {
		var body url.Values
		if c.method == "POST" {
			body = url.Values{"name": {"x"}}
		}
		code, got := p.do(t, c.method, c.path, body, c.who...)
		if code != c.code || (c.has != "" && !strings.Contains(compact(got), c.has)) || (c.hasNot != "" && strings.Contains(compact(got), c.hasNot)) {
			t.Errorf("%s: %s %s = %d %s; want %d, containing %q, not %q", c.name, c.method, c.path, code, got, c.code, c.has, c.hasNot)
		}
	}
}

func TestRealmIsolationXMLRPC(t *testing.T) {
	t.Parallel()
	p := setupRealmPair(t)
	if _, f := p.rpc(t, "bob", p.bobToken, "scheduler.jobs.show", int(p.aliceJob)); f == nil || f.Code != 404 {
		t.Errorf("bob shows alice's job: fault %v, want 404", f)
	}
	if _, f := p.rpc(t, "bob", p.bobToken, "scheduler.jobs.show", int(p.bobJob)); f != nil {
		t.Errorf("bob shows his job: %v", f)
	}
	if _, f := p.rpc(t, "bob", p.bobToken, "scheduler.jobs.cancel", int(p.aliceJob)); f == nil {
		t.Error("bob canceled alice's job")
	}
	if _, f := p.rpc(t, "bob", p.bobToken, "scheduler.jobs.definition", int(p.aliceJob)); f == nil {
		t.Error("bob read alice's job definition")
	}
	v, f := p.rpc(t, "bob", p.bobToken, "scheduler.devices.list")
	if f != nil {
		t.Fatal(f)
	}
	got := fmt.Sprint(v)
	if !strings.Contains(got, "blue-01") || strings.Contains(got, "qemu-01") || strings.Contains(got, "bbb-01") {
		t.Errorf("bob's devices.list = %s; want blue-01 only", got)
	}
	v, f = p.rpc(t, "alice", p.aliceToken, "scheduler.devices.list")
	if f != nil {
		t.Fatal(f)
	}
	if got := fmt.Sprint(v); strings.Contains(got, "blue-01") || !strings.Contains(got, "qemu-01") {
		t.Errorf("alice's devices.list = %s; want default devices only", got)
	}
	v, f = p.rpc(t, "bob", p.bobToken, "scheduler.workers.show", "w1")
	if f != nil {
		t.Fatal(f)
	}
	if got := fmt.Sprint(v); !strings.Contains(got, "blue lab host") {
		t.Errorf("bob's workers.show w1 = %s; want blue's w1", got)
	}
	if _, f := p.rpc(t, "bob", p.bobToken, "scheduler.workers.show", "w2"); f == nil || f.Code != 404 {
		t.Errorf("bob shows default's w2: fault %v, want 404", f)
	}
	// Submitting names a device type of the caller's realm: blue's qemu.
	v, f = p.rpc(t, "bob", p.bobToken, "scheduler.jobs.submit", qemuJob)
	if f != nil {
		t.Fatal(f)
	}
	var realmID int64
	if err := p.st.Pool().QueryRow(context.Background(), `SELECT realm_id FROM jobs WHERE id = $1`, v).Scan(&realmID); err != nil || realmID != p.blue.ID {
		t.Errorf("job %v submitted by bob over XML-RPC is in realm %d (%v), want blue", v, realmID, err)
	}
	// Basic auth with bob's name and alice's token is refused.
	if code, _ := p.rpcRaw(t, "bob", p.aliceToken, strings.NewReader("<methodCall><methodName>system.whoami</methodName></methodCall>")); code != http.StatusUnauthorized {
		t.Errorf("bob with alice's token: HTTP %d, want 401", code)
	}
}

func TestRealmIsolationWorkerProtocol(t *testing.T) {
	t.Parallel()
	p := setupRealmPair(t)
	ping := func(name, token string) (int, workerapi.PingReply, string) {
		t.Helper()
		code, body := p.do(t, http.MethodGet, "/scheduler/internal/v1/workers/"+name+"/?version="+url.QueryEscape(workerapi.Version), nil,
			workerapi.TokenHeader, token)
		var reply workerapi.PingReply
		if code == http.StatusOK {
			if err := json.Unmarshal([]byte(body), &reply); err != nil {
				t.Fatalf("ping reply %s: %v", body, err)
			}
		}
		return code, reply, body
	}
	ids := func(refs []workerapi.JobRef) string { return fmt.Sprint(refs) }
	// The same hostname in two realms: each token reaches its own realm's jobs.
	code, blue, body := ping("w1", p.blueWorkerToken)
	if code != http.StatusOK || !strings.Contains(ids(blue.Start), fmt.Sprint(p.bobJob)) || strings.Contains(ids(blue.Start), fmt.Sprint(p.aliceJob)) {
		t.Errorf("blue w1 ping: %d %s; want bob's job %d only", code, body, p.bobJob)
	}
	code, def, body := ping("w1", p.workerToken)
	if code != http.StatusOK || !strings.Contains(ids(def.Start), fmt.Sprint(p.aliceJob)) || strings.Contains(ids(def.Start), fmt.Sprint(p.bobJob)) {
		t.Errorf("default w1 ping: %d %s; want alice's job %d only", code, body, p.aliceJob)
	}
	// Blue's token does not open default's other worker.
	if code, _, body := ping("w2", p.blueWorkerToken); code != http.StatusBadRequest {
		t.Errorf("w2 with blue's token: %d %s; want 400 invalid token", code, body)
	}
	// A job's files need that job's token; another realm's job token is refused.
	for _, tok := range []string{p.bobJobToken, p.blueWorkerToken, ""} {
		code, body := p.do(t, http.MethodGet, fmt.Sprintf("/scheduler/internal/v1/jobs/%d/", p.aliceJob), nil, workerapi.TokenHeader, tok)
		if code == http.StatusOK || strings.Contains(body, "qemu-01") {
			t.Errorf("alice's job with token %q: %d %s; want refused", tok, code, body)
		}
		code, body = p.do(t, http.MethodPost, fmt.Sprintf("/scheduler/internal/v1/jobs/%d/", p.aliceJob), url.Values{"state": {"running"}}, workerapi.TokenHeader, tok)
		if code == http.StatusOK {
			t.Errorf("alice's job state with token %q: %d %s; want refused", tok, code, body)
		}
	}
	// Registering into a realm needs credentials of one of its members.
	code, body = p.do(t, http.MethodPost, "/scheduler/internal/v1/workers/", url.Values{"name": {"w9"}, "username": {"bob"}, "password": {"bobpw"}, "realm": {"default"}})
	if code != http.StatusForbidden {
		t.Errorf("bob registers into default: %d %s; want 403", code, body)
	}
	code, body = p.do(t, http.MethodPost, "/scheduler/internal/v1/workers/", url.Values{"name": {"w9"}, "username": {"bob"}, "password": {"bobpw"}, "realm": {"blue"}})
	if code != http.StatusOK {
		t.Fatalf("bob registers into blue: %d %s", code, body)
	}
	if _, err := p.st.WorkerByName(context.Background(), p.blue.ID, "w9"); err != nil {
		t.Errorf("w9 not in blue: %v", err)
	}
	if code, body := p.do(t, http.MethodPost, "/scheduler/internal/v1/workers/", url.Values{"name": {"w8"}, "realm": {"blue"}}); code != http.StatusForbidden {
		t.Errorf("auto registration into blue: %d %s; want 403", code, body)
	}
}

func TestRealmMembershipRevokesTokens(t *testing.T) {
	t.Parallel()
	p := setupRealmPair(t)
	ctx := context.Background()
	bob, err := p.st.UserByName(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.st.RemoveRealmMember(ctx, p.blue.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if code, body := p.do(t, http.MethodGet, "/api/v0.2/jobs/", nil, "Authorization", "Token "+p.bobToken); code != http.StatusUnauthorized {
		t.Errorf("bob's token after leaving blue: %d %s; want 401", code, body)
	}
	// The admin adds him back over REST, and gets him a token of blue.
	admin := []string{"Authorization", "Token " + p.adminToken}
	if code, body := p.do(t, http.MethodPost, "/api/v0.2/realms/blue/members/", url.Values{"username": {"bob"}}, admin...); code != http.StatusCreated {
		t.Fatalf("add bob to blue: %d %s", code, body)
	}
	if code, body := p.do(t, http.MethodGet, "/api/v0.2/jobs/"+fmt.Sprint(p.bobJob)+"/", nil, "Authorization", "Token "+p.bobToken); code != http.StatusOK {
		t.Errorf("bob's token back in blue: %d %s", code, body)
	}
	if code, body := p.do(t, http.MethodPost, "/api/v0.2/realms/", url.Values{"name": {"Bad Name"}}, admin...); code != http.StatusBadRequest || !strings.Contains(body, "lower-case") {
		t.Errorf("bad realm name: %d %s", code, body)
	}
	if code, body := p.do(t, http.MethodPost, "/api/v0.2/realms/", url.Values{"name": {"blue"}}, admin...); code != http.StatusBadRequest || !strings.Contains(body, "already exists") {
		t.Errorf("duplicate realm: %d %s", code, body)
	}
}

// realms.* (golava's own XML-RPC calls) keep the same walls.
func TestRealmCallsXMLRPC(t *testing.T) {
	t.Parallel()
	p := setupRealmPair(t)
	v, f := p.rpc(t, "bob", p.bobToken, "realms.list")
	if f != nil {
		t.Fatal(f)
	}
	if got := fmt.Sprint(v); !strings.Contains(got, "blue") || strings.Contains(got, "default") {
		t.Errorf("bob's realms.list = %s; want blue only", got)
	}
	for _, c := range []struct {
		user, token, method string
		args                []any
		code                int
	}{
		{"bob", p.bobToken, "realms.show", []any{"default"}, 404},
		{"bob", p.bobToken, "realms.members.list", []any{"default"}, 404},
		{"bob", p.bobToken, "realms.secrets.list", []any{"default"}, 404},
		{"bob", p.bobToken, "realms.secrets.set", []any{"default", "X", "v"}, 404},
		{"bob", p.bobToken, "realms.artifacts.list", []any{"default", "payload"}, 404},
		{"bob", p.bobToken, "realms.webhooks.list", []any{"default"}, 404},
		{"alice", p.aliceToken, "realms.show", []any{"blue"}, 404},
		{"alice", p.aliceToken, "realms.webhooks.add", []any{"blue", "http://127.0.0.1:1/hook"}, 404},
		{"bob", p.bobToken, "realms.add", []any{"green"}, 403},
		{"bob", p.bobToken, "realms.members.add", []any{"blue", "alice"}, 403},
		{"bob", p.bobToken, "realms.webhooks.add", []any{"blue", "http://127.0.0.1:1/hook"}, 403},
		// This server has neither a master key nor artifact storage.
		{"bob", p.bobToken, "realms.secrets.set", []any{"blue", "X", "v"}, 503},
		{"bob", p.bobToken, "realms.artifacts.list", []any{"blue", "temp"}, 503},
		{"bob", p.bobToken, "realms.artifacts.list", []any{"blue", "other"}, 400},
		{"admin", p.adminToken, "realms.add", []any{"Not Valid"}, 400},
		{"admin", p.adminToken, "realms.add", []any{"blue"}, 400},
	} {
		if _, f := p.rpc(t, c.user, c.token, c.method, c.args...); f == nil || f.Code != c.code {
			t.Errorf("%s %s%v: fault %v, want %d", c.user, c.method, c.args, f, c.code)
		}
	}
	// Each realm's ZMQ socket is told to its own callers only.
	for _, c := range []struct{ user, token, want string }{
		{"bob", p.bobToken, "tcp://lab:5501"}, {"alice", p.aliceToken, "tcp://lab:5500"}, {"", "", "tcp://lab:5500"},
	} {
		if v, f := p.rpc(t, c.user, c.token, "scheduler.get_publisher_event_socket"); f != nil || v != c.want {
			t.Errorf("%q's event socket: %v %v, want %s", c.user, v, f, c.want)
		}
	}
	if v, f := p.rpc(t, "bob", p.bobToken, "realms.members.list", "blue"); f != nil || fmt.Sprint(v) != "[bob]" {
		t.Errorf("blue's members: %v %v", v, f)
	}
	if _, f := p.rpc(t, "admin", p.adminToken, "realms.webhooks.add", "blue", "http://127.0.0.1:1/hook"); f != nil {
		t.Fatal(f)
	}
	if v, f := p.rpc(t, "bob", p.bobToken, "realms.webhooks.list", "blue"); f != nil || !strings.Contains(fmt.Sprint(v), "127.0.0.1:1/hook") {
		t.Errorf("blue's webhooks: %v %v", v, f)
	}
	if v, f := p.rpc(t, "admin", p.adminToken, "realms.add", "green", "the green lab"); f != nil || v != "green" {
		t.Errorf("realms.add green: %v %v", v, f)
	}
}

package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golava/server/store"
)

const workersPath = "/scheduler/internal/v1/workers/"

func TestWorkerRegister(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{AutoRegister: true}, true)
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	// From loopback without credentials.
	code, body := a.do(t, "POST", workersPath, form("name", "new-1"))
	if code != 200 || !strings.HasPrefix(compact(body), `{"name":"new-1","token":"`) {
		t.Fatalf("register: %d %s", code, body)
	}
	token := strings.TrimSuffix(strings.TrimPrefix(compact(body), `{"name":"new-1","token":"`), `"}`)
	if len(token) != 32 {
		t.Errorf("token %q", token)
	}
	if _, err := a.st.AuthWorker(context.Background(), store.DefaultRealm, "new-1", token); err != nil {
		t.Errorf("registered token does not authenticate: %v", err)
	}
	if w, _ := a.st.WorkerByName(context.Background(), store.DefaultRealm, "new-1"); w.Description != "Auto registered by 127.0.0.1" {
		t.Errorf("description %q", w.Description)
	}

	tests := []struct {
		name   string
		method string
		path   string
		form   url.Values
		code   int
		body   string
	}{
		{"again", "POST", workersPath, form("name", "new-1"), 403, `{"error":"Worker 'new-1' already registered"}`},
		{"no name", "POST", workersPath, form("other", "x"), 400, `{"error":"Missing 'name'"}`},
		{"bad name", "POST", workersPath, form("name", "a b"), 400, `{"error":"Invalid 'name'"}`},
		{"unknown user", "POST", workersPath, form("name", "x", "username", "eve", "password", "pw"), 403, `{"error":"Unknown user eve"}`},
		{"wrong password", "POST", workersPath, form("name", "x", "username", "alice", "password", "no"), 403, `{"error":"Unknown user alice"}`},
		{"user, existing worker", "POST", workersPath, form("name", "w1", "username", "alice", "password", "alicepw"), 403, `{"error":"Worker 'w1' already registered"}`},
		{"post on a worker", "POST", workersPath + "w1/", form("name", "x"), 403, `{"error":"POST is forbidden for such url"}`},
		{"get the root", "GET", workersPath, nil, 404, `{"error":"Unknown worker 'None'"}`},
		{"put", "PUT", workersPath, nil, 405, ""},
		{"delete a worker", "DELETE", workersPath + "w1/", nil, 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := a.do(t, tt.method, tt.path, tt.form)
			if code != tt.code || (tt.body != "" && compact(body) != tt.body) || !strings.HasPrefix(body, `{"error":`) {
				t.Errorf("got %d %s, want %d %s", code, body, tt.code, tt.body)
			}
		})
	}

	// A user registers a new worker; a superuser re-registers an existing one
	// and gets a new token (the old one stops working).
	code, body = a.do(t, "POST", workersPath, form("name", "by-alice", "username", "alice", "password", "alicepw"))
	if code != 200 {
		t.Errorf("user registration: %d %s", code, body)
	}
	if w, _ := a.st.WorkerByName(context.Background(), store.DefaultRealm, "by-alice"); w == nil || w.Description != "Auto registered by alice" {
		t.Errorf("worker by alice = %+v", w)
	}
	code, body = a.do(t, "POST", workersPath, form("name", "w1", "username", "admin", "password", "adminpw"))
	if code != 200 || !strings.Contains(compact(body), `"name":"w1"`) {
		t.Fatalf("superuser re-registration: %d %s", code, body)
	}
	if _, err := a.st.AuthWorker(context.Background(), store.DefaultRealm, "w1", a.workerToken); err == nil {
		t.Error("old token still valid after re-registration")
	}
}

func TestWorkerRegisterRefused(t *testing.T) {
	t.Parallel()
	off := setupAdminAPI(t, Config{AutoRegister: false}, false)
	code, body := off.do(t, "POST", workersPath, url.Values{"name": {"x"}})
	if code != 403 || compact(body) != `{"error":"Auto registration is disabled"}` {
		t.Errorf("disabled: %d %s", code, body)
	}
	on := setupAdminAPI(t, Config{AutoRegister: true}, false)
	for _, remote := range []string{"10.1.2.3:4000", "[2001:db8::1]:80"} {
		req := httptest.NewRequest("POST", workersPath, strings.NewReader("name=far"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "127.0.0.1") // not trusted
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		on.srv.Handler().ServeHTTP(rec, req)
		ip := remote[:strings.LastIndex(remote, ":")]
		ip = strings.Trim(ip, "[]")
		want := fmt.Sprintf(`{"error":"Auto registration is forbidden for '%s'"}`, ip)
		if rec.Code != 403 || compact(rec.Body.String()) != want {
			t.Errorf("%s: %d %s, want %s", remote, rec.Code, rec.Body.String(), want)
		}
	}
	// IPv6 loopback is allowed.
	req := httptest.NewRequest("POST", workersPath, strings.NewReader("name=v6"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = "[::1]:5000"
	rec := httptest.NewRecorder()
	on.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("::1: %d %s", rec.Code, rec.Body.String())
	}
	// A body over the limit is refused, not read.
	small := setupAdminAPI(t, Config{AutoRegister: true, MaxBodyBytes: 64}, false)
	code, _ = small.do(t, "POST", workersPath, url.Values{"name": {strings.Repeat("x", 200)}})
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("large body: %d", code)
	}
}

func TestWorkerPing(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	ping := func(name, version string, header ...string) (int, string) {
		t.Helper()
		path := workersPath + name + "/"
		if version != "" {
			path += "?version=" + url.QueryEscape(version)
		}
		return a.do(t, "GET", path, nil, header...)
	}
	tok := []string{"LAVA-Token", ""}
	tok[1] = a.workerToken
	errs := []struct {
		name, worker, version string
		header                []string
		code                  int
		body                  string
	}{
		{"unknown worker", "zz", "2023.01", tok, 404, `{"error":"Unknown worker 'zz'"}`},
		{"unknown worker without token", "zz", "2023.01", nil, 404, `{"error":"Unknown worker 'zz'"}`},
		{"no token", "w1", "2023.01", nil, 400, `{"error":"Missing 'token'"}`},
		{"empty token", "w1", "2023.01", []string{"LAVA-Token", ""}, 400, `{"error":"Invalid 'token'"}`},
		{"wrong token", "w1", "2023.01", []string{"LAVA-Token", flipFirst(a.workerToken)}, 400, `{"error":"Invalid 'token'"}`},
		{"other worker's token", "w2", "2023.01", tok, 400, `{"error":"Invalid 'token'"}`},
		{"no version", "w1", "", tok, 400, `{"error":"Missing 'version'"}`},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			code, body := ping(tt.worker, tt.version, tt.header...)
			if code != tt.code || compact(body) != tt.body {
				t.Errorf("got %d %s, want %d %s", code, body, tt.code, tt.body)
			}
		})
	}
	if w, _ := a.st.WorkerByName(context.Background(), store.DefaultRealm, "w1"); w.State != store.WorkerOffline || w.LastPing != nil {
		t.Errorf("refused pings changed the worker: %+v", w)
	}

	code, body := ping("w1", "2023.01", tok...)
	if code != 200 || compact(body) != `{"cancel":[],"running":[],"start":[]}` {
		t.Errorf("idle ping: %d %s", code, body)
	}
	if w, _ := a.st.WorkerByName(context.Background(), store.DefaultRealm, "w1"); w.State != store.WorkerOnline || w.LastPing == nil || w.Version != "2023.01" {
		t.Errorf("after ping: %+v", w)
	}

	// Version mismatch with nothing running: 409, worker Offline.
	code, body = ping("w1", "2022.11", tok...)
	if code != 409 || compact(body) != `{"error":"Version mismatch '2022.11' vs '2023.01'"}` {
		t.Errorf("mismatch: %d %s", code, body)
	}
	if w, _ := a.st.WorkerByName(context.Background(), store.DefaultRealm, "w1"); w.State != store.WorkerOffline || w.Version != "2022.11" {
		t.Errorf("after mismatch: %+v", w)
	}

	sched := a.insertJob(t, "qemu-01", store.JobScheduled, "tok-s", "")
	// Mismatch with only a job to start: still 409, the job is not handed out.
	if code, body := ping("w1", "2022.11", tok...); code != 409 {
		t.Errorf("mismatch with a scheduled job: %d %s", code, body)
	}
	run := a.insertJob(t, "qemu-02", store.JobRunning, "tok-r", "")
	cancel := a.insertJob(t, "qemu-02", store.JobCanceling, "tok-c", "")
	a.insertJob(t, "bbb-01", store.JobScheduled, "tok-other", "") // on w2
	code, body = ping("w1", "2022.11", tok...)
	want := fmt.Sprintf(`{"cancel":[{"id":%d,"token":"tok-c"}],"running":[{"id":%d,"token":"tok-r"}],"start":[]}`, cancel, run)
	if code != 200 || compact(body) != want {
		t.Errorf("mismatch with running jobs: %d %s\nwant %s", code, body, want)
	}
	code, body = ping("w1", "2023.01", tok...)
	want = fmt.Sprintf(`{"cancel":[{"id":%d,"token":"tok-c"}],"running":[{"id":%d,"token":"tok-r"}],"start":[{"id":%d,"token":"tok-s"}]}`, cancel, run, sched)
	if code != 200 || compact(body) != want {
		t.Errorf("ping with jobs: %d %s\nwant %s", code, body, want)
	}
	if code, _ := a.do(t, "PATCH", workersPath+"w1/", nil); code != 405 {
		t.Errorf("PATCH: %d", code)
	}
}

// flipFirst changes the first character of a token, so it never equals it.
func flipFirst(tok string) string {
	if tok[0] == 'a' {
		return "b" + tok[1:]
	}
	return "a" + tok[1:]
}

package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golava/server/store"
	"golava/server/store/storetest"
)

// adminAPI is a server on a fresh database with a superuser "admin", a user
// "alice" (tokens adminToken, aliceToken) and, when lab is set, device
// types qemu and bbb, worker w1 (workerToken) and four devices.
type adminAPI struct {
	st                     *store.Store
	srv                    *Server
	ts                     *httptest.Server
	adminToken, aliceToken string
	workerToken            string
}

type adminLogWriter struct{ t *testing.T }

func (w adminLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func setupAdminAPI(t *testing.T, cfg Config, lab bool) *adminAPI {
	t.Helper()
	ctx := context.Background()
	a := &adminAPI{st: storetest.New(t)}
	logger := slog.New(slog.NewTextHandler(adminLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a.srv = New(a.st, logger, cfg)
	a.ts = httptest.NewServer(a.srv.Handler())
	t.Cleanup(a.ts.Close)
	for _, u := range []store.NewUser{{Username: "admin", Password: "adminpw", IsSuperuser: true}, {Username: "alice", Password: "alicepw"}} {
		user, err := a.st.CreateUser(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		secret, _, err := a.st.CreateToken(ctx, user.ID, store.DefaultRealm, "")
		if err != nil {
			t.Fatal(err)
		}
		if u.Username == "admin" {
			a.adminToken = secret
		} else {
			a.aliceToken = secret
		}
	}
	if lab {
		a.makeLab(t)
	}
	return a
}

func (a *adminAPI) makeLab(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, dt := range []store.NewDeviceType{{Name: "qemu", Description: "QEMU"}, {Name: "bbb", HealthDenominator: "jobs", HealthFrequency: 10}} {
		if _, err := a.st.CreateDeviceType(ctx, store.DefaultRealm, dt); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if _, a.workerToken, err = a.st.CreateWorker(ctx, store.DefaultRealm, "w1", "lab host"); err != nil {
		t.Fatal(err)
	}
	if _, _, err = a.st.CreateWorker(ctx, store.DefaultRealm, "w2", ""); err != nil {
		t.Fatal(err)
	}
	for _, d := range []store.NewDevice{
		{Hostname: "qemu-01", DeviceType: "qemu", Worker: "w1", Tags: []string{"kvm"}, Health: store.DeviceGood, Description: "first"},
		{Hostname: "qemu-02", DeviceType: "qemu", Worker: "w1", Health: store.DeviceMaintenance},
		{Hostname: "bbb-01", DeviceType: "bbb", Worker: "w2"},
		{Hostname: "bbb-old", DeviceType: "bbb", Health: store.DeviceRetired},
	} {
		if _, err := a.st.CreateDevice(ctx, store.DefaultRealm, d); err != nil {
			t.Fatal(err)
		}
	}
}

// do sends a request; header is pairs of name, value.
func (a *adminAPI) do(t *testing.T, method, path string, body url.Values, header ...string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequest(method, a.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// insertAdminJob adds a job in state on device ("" for none), as the
// scheduler would leave it; group sets a MultiNode target group.
func (a *adminAPI) insertJob(t *testing.T, device, state, token, group string) int64 {
	t.Helper()
	var grp *string
	if group != "" {
		grp = &group
	}
	var id int64
	err := a.st.Pool().QueryRow(context.Background(), `
		INSERT INTO jobs (realm_id, submitter_id, definition, original_definition, requested_device_type_id,
		    actual_device_id, state, token, target_group)
		SELECT 1, (SELECT id FROM users WHERE username = 'admin'), 'x', 'x',
		    (SELECT id FROM device_types WHERE name = 'qemu'),
		    (SELECT id FROM devices WHERE hostname = $1), $2, $3, $4 RETURNING id`,
		device, state, token, grp).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// compact removes JSON's insignificant spaces outside strings, so expected
// bodies can be written either way.
func compact(s string) string {
	var b strings.Builder
	inStr, esc := false, false
	for _, c := range strings.TrimSpace(s) {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == ' ' || c == '\n' || c == '\t'):
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

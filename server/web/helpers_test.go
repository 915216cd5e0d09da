package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golava/pkg/jobdef"
	"golava/pkg/logfmt"
	"golava/server/store"
	"golava/server/store/storetest"
	"golava/server/web"
)

const testPassword = "correct horse battery"

// fixture is a database with an admin, a plain user, a device and a server.
type fixture struct {
	t      *testing.T
	st     *store.Store
	srv    *httptest.Server
	admin  *store.User
	user   *store.User
	ctx    context.Context
	device string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := storetest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	f := &fixture{t: t, st: st, ctx: ctx, device: "board-01"}
	var err error
	if f.admin, err = st.CreateUser(ctx, store.NewUser{Username: "admin", Password: testPassword, IsSuperuser: true, IsStaff: true}); err != nil {
		t.Fatal(err)
	}
	if f.user, err = st.CreateUser(ctx, store.NewUser{Username: "alice", Password: testPassword}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateDeviceType(ctx, store.DefaultRealm, store.NewDeviceType{Name: "dut-sim"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateWorker(ctx, store.DefaultRealm, "lab", "test worker"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateDevice(ctx, store.DefaultRealm, store.NewDevice{Hostname: f.device, DeviceType: "dut-sim", Worker: "lab"}); err != nil {
		t.Fatal(err)
	}
	ws, err := web.New(st, slog.New(slog.DiscardHandler), web.Config{LogPageLines: 50, JobsPerPage: 5})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(ws.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

const jobYAML = `device_type: dut-sim
job_name: %s
visibility: %s
timeouts:
  job:
    minutes: 5
actions:
- boot:
    method: minimal
    timeout:
      minutes: 2
`

func (f *fixture) submit(u *store.User, name, visibility string) int64 {
	f.t.Helper()
	def := fmt.Sprintf(jobYAML, name, visibility)
	j, err := jobdef.ParseWith([]byte(def), jobdef.Options{Submission: true})
	if err != nil {
		f.t.Fatal(err)
	}
	ids, err := f.st.SubmitJob(f.ctx, store.DefaultRealm, u, def, j)
	if err != nil {
		f.t.Fatal(err)
	}
	return ids[0]
}

func logRecord(lvl, msg string) string {
	return logfmt.Encode(logfmt.Line{DT: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Lvl: lvl, Msg: msg})
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t *testing.T
	f *fixture
	c *http.Client
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: f.t, f: f, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.f.srv.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *browser) post(path string, form url.Values) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.f.srv.URL+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the form token from a page.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	_, body := b.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no csrf field in %s", path)
	}
	return m[1]
}

func (b *browser) login(name string) {
	b.t.Helper()
	tok := b.csrf("/accounts/login/")
	code, loc, body := b.post("/accounts/login/", url.Values{"csrf": {tok}, "username": {name}, "password": {testPassword}, "next": {"/scheduler/alljobs"}})
	if code != http.StatusSeeOther || loc != "/scheduler/alljobs" {
		b.t.Fatalf("login %s: %d %q %s", name, code, loc, body)
	}
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Fatalf("page lacks %q:\n%s", w, body)
		}
	}
}

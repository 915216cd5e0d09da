package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golava/server/store"
)

func TestPagesRender(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.submit(f.user, "first job", "public")
	b := f.browser()
	b.login("admin")
	for _, path := range []string{"/", "/scheduler/alljobs", fmt.Sprintf("/scheduler/job/%d", id),
		"/scheduler/alldevices", "/scheduler/device/board-01", "/scheduler/device_types", "/scheduler/device_type/dut-sim",
		"/scheduler/allworkers", "/scheduler/worker/lab", fmt.Sprintf("/results/%d", id), "/results/chart?suite=x&case=y",
		"/scheduler/jobsubmit", "/accounts/profile/", "/admin/users/", "/admin/groups/", "/admin/permissions/",
		"/scheduler/device/board-01/dictionary", fmt.Sprintf("/scheduler/job/%d/resubmit", id), "/realm/artifacts/"} {
		code, body := b.get(path)
		if code != http.StatusOK {
			t.Errorf("%s: status %d: %s", path, code, body)
		}
		if !strings.Contains(body, "</html>") {
			t.Errorf("%s: truncated page", path)
		}
	}
	for path, want := range map[string]int{"/scheduler/job/999999": 404, "/scheduler/job/abc": 404,
		"/scheduler/device/nope": 404, "/nowhere": 404, "/scheduler/alljobs?state=Bogus": 400,
		"/scheduler/alljobs?before=-1": 400, fmt.Sprintf("/scheduler/job/%d?line=0", id): 400} {
		if code, _ := b.get(path); code != want {
			t.Errorf("%s: status %d, want %d", path, code, want)
		}
	}
}

func TestLoginCSRFAndLogout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b := f.browser()
	// No token, wrong token: refused before the password is checked.
	if code, _, _ := b.post("/accounts/login/", url.Values{"username": {"admin"}, "password": {testPassword}}); code != http.StatusForbidden {
		t.Fatalf("login without csrf: %d", code)
	}
	tok := b.csrf("/accounts/login/")
	if code, _, body := b.post("/accounts/login/", url.Values{"csrf": {tok}, "username": {"admin"}, "password": {"wrong"}}); code != http.StatusUnauthorized || !strings.Contains(body, "Wrong username or password") {
		t.Fatalf("wrong password: %d %s", code, body)
	}
	// An open redirect is not followed.
	code, loc, _ := b.post("/accounts/login/", url.Values{"csrf": {tok}, "username": {"admin"}, "password": {testPassword}, "next": {"//evil.example/"}})
	if code != http.StatusSeeOther || loc != "/" {
		t.Fatalf("login: %d %q", code, loc)
	}
	_, body := b.get("/accounts/profile/")
	mustContain(t, body, "admin", "API tokens")
	// The session token differs from the anonymous one and is required.
	sessTok := b.csrf("/accounts/profile/")
	if code, _, _ := b.post("/accounts/tokens/", url.Values{"csrf": {tok}, "description": {"x"}}); code != http.StatusForbidden {
		t.Fatalf("post with the anonymous token: %d", code)
	}
	if code, _, _ := b.post("/accounts/logout/", url.Values{"csrf": {sessTok}}); code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := b.get("/accounts/profile/"); code != http.StatusSeeOther {
		t.Fatalf("profile after logout: %d", code)
	}
}

func TestTokensCreateRevoke(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b := f.browser()
	b.login("alice")
	tok := b.csrf("/accounts/profile/")
	code, _, body := b.post("/accounts/tokens/", url.Values{"csrf": {tok}, "description": {"ci bot"}})
	if code != http.StatusOK {
		t.Fatalf("create token: %d", code)
	}
	m := regexp.MustCompile(`<code id="new-token">([^<]+)</code>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no secret shown: %s", body)
	}
	if u, err := f.st.UserByToken(f.ctx, m[1]); err != nil || u.ID != f.user.ID {
		t.Fatalf("token does not authenticate alice: %v", err)
	}
	toks, err := f.st.ListTokens(f.ctx, f.user.ID)
	if err != nil || len(toks) != 1 {
		t.Fatalf("tokens: %v %v", toks, err)
	}
	// Another user cannot revoke it.
	other := f.browser()
	other.login("admin")
	if code, _, _ := other.post(fmt.Sprintf("/accounts/tokens/%d/delete", toks[0].ID), url.Values{"csrf": {other.csrf("/accounts/profile/")}}); code != http.StatusNotFound {
		t.Fatalf("revoke someone else's token: %d", code)
	}
	if code, _, _ := b.post(fmt.Sprintf("/accounts/tokens/%d/delete", toks[0].ID), url.Values{"csrf": {tok}}); code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", code)
	}
	if _, err := f.st.UserByToken(f.ctx, m[1]); err == nil {
		t.Fatal("revoked token still works")
	}
}

func TestJobVisibilityAndKeysetPaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var ids []int64
	for i := 0; i < 12; i++ {
		ids = append(ids, f.submit(f.user, fmt.Sprintf("job %02d", i), "public"))
	}
	private := f.submit(f.user, "secret job", "personal")
	anon := f.browser()
	if code, _ := anon.get(fmt.Sprintf("/scheduler/job/%d", private)); code != http.StatusNotFound {
		t.Fatalf("anonymous sees a personal job: %d", code)
	}
	_, body := anon.get("/scheduler/alljobs?text=secret")
	if strings.Contains(body, "secret job") {
		t.Fatal("anonymous lists a personal job")
	}
	owner := f.browser()
	owner.login("alice")
	_, body = owner.get("/scheduler/alljobs?text=secret")
	mustContain(t, body, "secret job")

	// Pages of 5, newest first, following the Older links to the end.
	seen := map[string]bool{}
	path := "/scheduler/alljobs?text=job+"
	older := regexp.MustCompile(`href="/scheduler/alljobs\?([^"]*before=[0-9]+[^"]*)" rel="next"`)
	rowRE := regexp.MustCompile(`<td>job (\d\d)</td>`)
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		_, body := anon.get(path)
		for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
			if seen[m[1]] {
				t.Fatalf("job %s on two pages", m[1])
			}
			seen[m[1]] = true
		}
		path = ""
		if m := older.FindStringSubmatch(body); m != nil {
			path = "/scheduler/alljobs?" + strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if len(seen) != 12 {
		t.Fatalf("saw %d jobs over the pages, want 12", len(seen))
	}
	// Newer from the second page returns the first.
	_, body = anon.get(fmt.Sprintf("/scheduler/alljobs?after=%d", ids[6]))
	mustContain(t, body, "job 11", "job 07")
	if strings.Contains(body, "job 06") {
		t.Fatal("after= includes its cursor")
	}
	_, body = anon.get("/scheduler/alljobs?state=Finished")
	mustContain(t, body, "No job matches")
}

func TestLogViewerPagesAndFirstError(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.submit(f.user, "log job", "public")
	var recs []string
	for i := 0; i < 120; i++ {
		switch {
		case i == 10:
			recs = append(recs, logRecord("info", "start: 1 deploy (timeout 00:01:00)"))
		case i == 20:
			recs = append(recs, logRecord("info", "end: 1 deploy (duration 00:00:01)"))
		case i == 77:
			recs = append(recs, logRecord("error", "boom <script>"))
		case i == 90:
			recs = append(recs, logRecord("exception", "later"))
		default:
			recs = append(recs, logRecord("debug", fmt.Sprintf("line %d", i+1)))
		}
	}
	// Two uploads: the error is in the appended part of the second.
	if _, err := f.st.AppendLog(f.ctx, id, 0, recs[:60]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.AppendLog(f.ctx, id, 60, recs[60:]); err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	_, body := b.get(fmt.Sprintf("/scheduler/job/%d", id))
	// The default page is the last 50 lines, with the first-error link.
	mustContain(t, body, `id="L120"`, `id="L71"`, `?line=78#L78`, "boom &lt;script&gt;", "Following the live log")
	if strings.Contains(body, `id="L70"`) || strings.Contains(body, "<script>") && strings.Contains(body, "boom <script>") {
		t.Fatal("last page shows too much or unescaped text")
	}
	_, body = b.get(fmt.Sprintf("/scheduler/job/%d?line=12", id))
	mustContain(t, body, `id="L1"`, `id="L50"`, `<details class="sec" open><summary><span class="l lvl-info" id="L11">`)
	// The live fragment from line 100 holds the last 20 lines.
	resp, err := b.c.Get(fmt.Sprintf("%s/scheduler/job/%d/log_fragment?start=100", f.srv.URL, id))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var frag struct {
		HTML     string
		Next     int64
		Total    int64
		Finished bool
	}
	if err := json.NewDecoder(resp.Body).Decode(&frag); err != nil {
		t.Fatal(err)
	}
	if frag.Next != 120 || frag.Total != 120 || frag.Finished || !strings.Contains(frag.HTML, `id="L101"`) {
		t.Fatalf("fragment: %+v", frag)
	}
}

func TestDeviceMaintenanceNeedsConfirmationAndAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.browser()
	user.login("alice")
	if code, _, _ := user.post("/scheduler/device/board-01/health", url.Values{"csrf": {user.csrf("/accounts/profile/")}, "health": {"Maintenance"}, "confirm": {"yes"}}); code != http.StatusForbidden {
		t.Fatalf("plain user changed a device: %d", code)
	}
	admin := f.browser()
	admin.login("admin")
	tok := admin.csrf("/scheduler/device/board-01")
	code, _, body := admin.post("/scheduler/device/board-01/health", url.Values{"csrf": {tok}, "health": {"Maintenance"}})
	if code != http.StatusOK || !strings.Contains(body, `name="confirm" value="yes"`) {
		t.Fatalf("no confirmation step: %d", code)
	}
	if d, _ := f.st.DeviceByName(f.ctx, store.DefaultRealm, "board-01"); d.Health == store.DeviceMaintenance {
		t.Fatal("changed before confirmation")
	}
	if code, _, _ := admin.post("/scheduler/device/board-01/health", url.Values{"csrf": {tok}, "health": {"Maintenance"}, "confirm": {"yes"}}); code != http.StatusSeeOther {
		t.Fatalf("confirm: %d", code)
	}
	if d, _ := f.st.DeviceByName(f.ctx, store.DefaultRealm, "board-01"); d.Health != store.DeviceMaintenance {
		t.Fatalf("health %s", d.Health)
	}
	if code, _, _ := admin.post("/scheduler/device/board-01/health", url.Values{"csrf": {tok}, "health": {"Looping"}}); code != http.StatusBadRequest {
		t.Fatalf("bad health: %d", code)
	}
	if code, _, _ := admin.post("/scheduler/device/board-01/dictionary", url.Values{"csrf": {tok}, "dictionary": {"{% extends 'dut-sim.jinja2' %}"}, "confirm": {"yes"}}); code != http.StatusSeeOther {
		t.Fatalf("dictionary: %d", code)
	}
	if d, _ := f.st.DeviceByName(f.ctx, store.DefaultRealm, "board-01"); d.Dictionary != "{% extends 'dut-sim.jinja2' %}" {
		t.Fatalf("dictionary %q", d.Dictionary)
	}
}

func TestSubmitShowsErrorsOnTheirLines(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b := f.browser()
	if code, _ := b.get("/scheduler/jobsubmit"); code != http.StatusSeeOther {
		t.Fatalf("anonymous submit form: %d", code)
	}
	b.login("alice")
	tok := b.csrf("/scheduler/jobsubmit")
	bad := "device_type: dut-sim\njob_name: bad\ntimeouts:\n  job:\n    minutes: 5\nactions:\n- boot:\n    method: nosuchmethod\n"
	code, _, body := b.post("/scheduler/jobsubmit", url.Values{"csrf": {tok}, "definition": {bad}})
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("bad job: %d", code)
	}
	mustContain(t, body, `class="has-error"`, "The definition is not valid")
	m := regexp.MustCompile(`<li id="def-(\d+)" class="has-error">`).FindAllStringSubmatch(body, -1)
	if len(m) == 0 {
		t.Fatal("no error line")
	}
	good := fmt.Sprintf(jobYAML, "good", "public")
	code, loc, _ := b.post("/scheduler/jobsubmit", url.Values{"csrf": {tok}, "definition": {good}})
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/scheduler/job/") {
		t.Fatalf("good job: %d %q", code, loc)
	}
	// Cancel it: confirmation page, then the post.
	_, body = b.get(loc + "/cancel")
	mustContain(t, body, "Cancel job")
	if code, _, _ := b.post(loc+"/cancel", url.Values{"csrf": {tok}}); code != http.StatusSeeOther {
		t.Fatalf("cancel: %d", code)
	}
	_, body = b.get(loc)
	mustContain(t, body, "Canceled")
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b := f.browser()
	tok := b.csrf("/accounts/login/")
	for i := 0; i < 10; i++ {
		if code, _, _ := b.post("/accounts/login/", url.Values{"csrf": {tok}, "username": {"alice"}, "password": {"guess"}}); code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, code)
		}
	}
	// Even the right password is refused now.
	code, _, body := b.post("/accounts/login/", url.Values{"csrf": {tok}, "username": {"alice"}, "password": {testPassword}})
	if code != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed logins") {
		t.Fatalf("after 10 failures: %d", code)
	}
}

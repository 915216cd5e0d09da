package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golava/pkg/jobdef"
	"golava/server/store"
)

func TestAdminUsersGroupsPermissions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.browser()
	user.login("alice")
	if code, _ := user.get("/admin/users/"); code != http.StatusForbidden {
		t.Fatalf("plain user on the admin pages: %d", code)
	}
	b := f.browser()
	b.login("admin")
	tok := b.csrf("/admin/users/")
	steps := []struct {
		path string
		form url.Values
		code int
	}{
		{"/admin/users/", url.Values{"action": {"create"}, "username": {"bob"}, "password": {"pw-of-bob"}}, http.StatusSeeOther},
		{"/admin/users/", url.Values{"action": {"create"}, "username": {"bob"}, "password": {"again"}}, http.StatusUnprocessableEntity},
		{"/admin/users/", url.Values{"action": {"create"}, "username": {"nopw"}}, http.StatusUnprocessableEntity},
		{"/admin/users/", url.Values{"action": {"set"}, "username": {"admin"}, "superuser": {"off"}}, http.StatusUnprocessableEntity},
		{"/admin/users/", url.Values{"action": {"set"}, "username": {"bob"}, "active": {"off"}}, http.StatusSeeOther},
		{"/admin/groups/", url.Values{"action": {"create"}, "group": {"lab-a"}}, http.StatusSeeOther},
		{"/admin/groups/", url.Values{"action": {"add"}, "group": {"lab-a"}, "username": {"alice"}}, http.StatusSeeOther},
		{"/admin/groups/", url.Values{"action": {"add"}, "group": {"lab-a"}, "username": {"nobody"}}, http.StatusUnprocessableEntity},
		{"/admin/permissions/", url.Values{"action": {"grant"}, "kind": {"device"}, "object": {"board-01"}, "group": {"lab-a"}, "permission": {"change"}}, http.StatusSeeOther},
		{"/admin/permissions/", url.Values{"action": {"bogus"}}, http.StatusUnprocessableEntity},
	}
	for i, s := range steps {
		s.form.Set("csrf", tok)
		if code, _, body := b.post(s.path, s.form); code != s.code {
			t.Fatalf("step %d %s %v: %d, want %d\n%s", i, s.path, s.form, code, s.code, body)
		}
		if i == 0 {
			if _, err := f.st.AuthenticateUser(f.ctx, "bob", "pw-of-bob"); err != nil {
				t.Fatalf("bob cannot log in: %v", err)
			}
		}
	}
	if u, _ := f.st.UserByName(f.ctx, "bob"); u.IsActive {
		t.Fatal("bob still active")
	}
	_, body := b.get("/admin/groups/")
	mustContain(t, body, "lab-a", "alice")
	_, body = b.get("/admin/permissions/")
	mustContain(t, body, "board-01", "change")
	// alice, in lab-a, may now change board-01 (a group grant), not only admins.
	if code, _, _ := user.post("/scheduler/device/board-01/health", url.Values{"csrf": {user.csrf("/accounts/profile/")}, "health": {"Maintenance"}, "confirm": {"yes"}}); code != http.StatusSeeOther {
		t.Fatalf("alice with the change grant: %d", code)
	}
}

func TestJobListTagAndSubmitterFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if err := f.st.SetDeviceTags(f.ctx, store.DefaultRealm, f.device, []string{"fast"}); err != nil {
		t.Fatal(err)
	}
	def := fmt.Sprintf(jobYAML, "tagged job", "public") + "tags: [fast]\n"
	j, err := jobdef.ParseWith([]byte(def), jobdef.Options{Submission: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.SubmitJob(f.ctx, store.DefaultRealm, f.admin, def, j); err != nil {
		t.Fatal(err)
	}
	f.submit(f.user, "plain job", "public")
	b := f.browser()
	for path, want := range map[string][]string{
		"/scheduler/alljobs?tag=fast":            {"tagged job"},
		"/scheduler/alljobs?submitter=alice":     {"plain job"},
		"/scheduler/alljobs?device_type=dut-sim": {"tagged job", "plain job"},
	} {
		_, body := b.get(path)
		for _, name := range []string{"tagged job", "plain job"} {
			if strings.Contains(body, name) != contains(want, name) {
				t.Errorf("%s: shows %q = %v", path, name, strings.Contains(body, name))
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

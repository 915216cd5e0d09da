package api

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"golava/server/store"
)

func TestRESTSecrets(t *testing.T) {
	t.Parallel()
	a, box := secretsAPI(t)
	ctx := context.Background()
	other, err := a.st.CreateRealm(ctx, "other", "")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := a.st.CreateUser(ctx, store.NewUser{Username: "bob", RealmID: other.ID})
	if err != nil {
		t.Fatal(err)
	}
	bobTok, _, err := a.st.CreateToken(ctx, bob.ID, other.ID, "t")
	if err != nil {
		t.Fatal(err)
	}
	const base = "/api/v0.2/realms/default/secrets/"
	const value = "v4lue-5e7a9c"
	set := func(tok, name, val string) (int, string) {
		return a.do(t, "POST", base, tok, form, url.Values{"name": {name}, "value": {val}}.Encode())
	}
	steps := []struct {
		name string
		run  func() (int, string)
		code int
		want string
	}{
		{"anonymous list", func() (int, string) { return a.do(t, "GET", base, "", "", "") }, 403, "Authentication credentials"},
		{"non-member list", func() (int, string) { return a.do(t, "GET", base, bobTok, "", "") }, 404, `{"detail":"Not found."}`},
		{"non-member set", func() (int, string) { return set(bobTok, "X", value) }, 404, "Not found."},
		{"member creates", func() (int, string) { return set(a.aliceTok, "API", value) }, 201, `"path":"/lava/default/API"`},
		{"member replaces", func() (int, string) { return set(a.aliceTok, "API", value+"2") }, 200, `"name":"API"`},
		{"JSON", func() (int, string) {
			return a.do(t, "POST", base, a.rootTok, "application/json", `{"name": "J", "value": "`+value+`"}`)
		}, 201, `"name":"J"`},
		{"no name", func() (int, string) { return set(a.aliceTok, "", value) }, 400, `{"name":["This field is required."]}`},
		{"bad name", func() (int, string) { return set(a.aliceTok, "a/b", value) }, 400, `use letters, digits`},
		{"no value", func() (int, string) { return set(a.aliceTok, "E", "") }, 400, `{"value":["This field is required."]}`},
		{"too large", func() (int, string) { return set(a.aliceTok, "BIG", strings.Repeat("x", 70000)) }, 400, "more than the 65536 allowed"},
		{"list", func() (int, string) { return a.do(t, "GET", base, a.aliceTok, "", "") }, 200, `"count":3`},
		{"no read route", func() (int, string) { return a.do(t, "GET", base+"API/", a.rootTok, "", "") }, 405, ""},
		{"delete", func() (int, string) { return a.do(t, "DELETE", base+"J/", a.aliceTok, "", "") }, 204, ""},
		{"delete again", func() (int, string) { return a.do(t, "DELETE", base+"J/", a.aliceTok, "", "") }, 404, "Not found."},
		{"other realm's delete", func() (int, string) {
			return a.do(t, "DELETE", "/api/v0.2/realms/other/secrets/J/", a.aliceTok, "", "")
		}, 404, "Not found."},
	}
	for _, s := range steps {
		code, body := s.run()
		if code != s.code || !strings.Contains(body, s.want) {
			t.Errorf("%s: %d %s, want %d %s", s.name, code, body, s.code, s.want)
		}
		if strings.Contains(body, value) {
			t.Errorf("%s: the reply shows the value: %s", s.name, body)
		}
	}
	got, err := box.Get(ctx, "/lava/default/API")
	if err != nil || string(got) != value+"2" {
		t.Errorf("stored value %q, %v", got, err)
	}

	plain := setupJobsAPI(t) // no master key: names and deletes only
	code, body := plain.do(t, "POST", base, plain.aliceTok, form, url.Values{"name": {"X"}, "value": {"v"}}.Encode())
	if code != 503 || !strings.Contains(body, "no master key") {
		t.Errorf("set without a master key: %d %s", code, body)
	}
}

package web_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golava/server/artifacts"
	"golava/server/store"
	"golava/server/web"
)

// The artifacts page lists and serves the session's realm's areas only.
func TestArtifactsPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fsb, err := artifacts.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := artifacts.NewService(f.st, fsb, nil, 0)
	blue, err := f.st.CreateRealm(f.ctx, "blue", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.CreateUser(f.ctx, store.NewUser{Username: "bob", Password: testPassword, RealmID: blue.ID}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		realm         *store.Realm
		area, p, body string
	}{
		{&store.Realm{ID: store.DefaultRealm, Name: "default"}, "payload", "scripts/run.sh", "echo default\n"},
		{blue, "temp", "blue/out.txt", "blue secret output\n"},
	} {
		if _, err := svc.Put(f.ctx, artifacts.Upload{RealmID: a.realm.ID, Realm: a.realm.Name, Area: a.area, Path: a.p, Size: -1},
			strings.NewReader(a.body)); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := web.New(f.st, slog.New(slog.DiscardHandler), web.Config{Artifacts: svc})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(ws.Handler())
	t.Cleanup(f.srv.Close)

	anon := f.browser()
	if code, _ := anon.get("/realm/artifacts/"); code != http.StatusSeeOther {
		t.Errorf("anonymous artifacts page: %d, want a redirect to log in", code)
	}
	a := f.browser()
	a.login("alice")
	_, body := a.get("/realm/artifacts/")
	mustContain(t, body, "scripts/run.sh", "realm <strong>default</strong>")
	if strings.Contains(body, "blue/out.txt") {
		t.Error("alice's page lists blue's artifact")
	}
	if code, got := a.get("/realm/artifacts/payload/scripts/run.sh"); code != http.StatusOK || got != "echo default\n" {
		t.Errorf("download: %d %q", code, got)
	}
	for _, p := range []string{"/realm/artifacts/temp/blue/out.txt", "/realm/artifacts/payload/nope", "/realm/artifacts/payload/../x"} {
		if code, _ := a.get(p); code != http.StatusNotFound {
			t.Errorf("alice GET %s: %d, want 404", p, code)
		}
	}
	b := f.browser()
	b.login("bob")
	_, body = b.get("/realm/artifacts/")
	mustContain(t, body, "blue/out.txt")
	if strings.Contains(body, "scripts/run.sh") {
		t.Error("bob's page lists the default realm's artifact")
	}
	if code, got := b.get("/realm/artifacts/temp/blue/out.txt"); code != http.StatusOK || got != "blue secret output\n" {
		t.Errorf("bob's download: %d %q", code, got)
	}
}

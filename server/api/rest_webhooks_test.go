package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestRealmWebhooksREST(t *testing.T) {
	t.Parallel()
	p := setupRealmPair(t)
	admin := []string{"Authorization", "Token " + p.adminToken}
	alice := []string{"Authorization", "Token " + p.aliceToken} // member of default only
	bob := []string{"Authorization", "Token " + p.bobToken}     // member of blue only
	const def, blue = "/api/v0.2/realms/default/webhooks/", "/api/v0.2/realms/blue/webhooks/"

	create := func(path, hookURL, secret string, who []string) (int, string) {
		t.Helper()
		form := url.Values{"url": {hookURL}}
		if secret != "" {
			form.Set("secret", secret)
		}
		return p.do(t, http.MethodPost, path, form, who...)
	}
	code, body := create(blue, "https://hooks.example/blue", "s3cret", admin)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var hook restWebhook
	if err := json.Unmarshal([]byte(body), &hook); err != nil {
		t.Fatal(err)
	}
	if hook.Realm != "blue" || hook.URL != "https://hooks.example/blue" || !hook.HasSecret || strings.Contains(body, "s3cret") {
		t.Errorf("created %s", body)
	}
	blueHook := blue + strconv.FormatInt(hook.ID, 10) + "/"

	// bob, a member of blue, sees blue's webhooks, without the secret, and
	// may not change them; alice, of default only, finds no realm blue.
	if code, body := p.do(t, http.MethodGet, blue, nil, bob...); code != http.StatusOK ||
		!strings.Contains(body, `"count":1`) || strings.Contains(body, "s3cret") {
		t.Errorf("bob lists blue: %d %s", code, body)
	}
	if code, _ := p.do(t, http.MethodGet, blueHook, nil, bob...); code != http.StatusOK {
		t.Errorf("bob reads blue's webhook: %d", code)
	}
	if code, _ := create(blue, "https://evil.example/", "", bob); code != http.StatusForbidden {
		t.Errorf("bob adds a webhook: %d, want 403", code)
	}
	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, blue}, {http.MethodGet, blueHook}, {http.MethodDelete, blueHook},
	} {
		if code, body := p.do(t, tt.method, tt.path, nil, alice...); code != http.StatusNotFound || body != `{"detail":"Not found."}` {
			t.Errorf("alice %s %s: %d %s, want 404", tt.method, tt.path, code, body)
		}
	}
	if code, _ := create(blue, "https://evil.example/", "", alice); code != http.StatusNotFound {
		t.Errorf("alice adds to blue: %d, want 404", code)
	}
	if code, _ := p.do(t, http.MethodGet, def, nil, bob...); code != http.StatusNotFound {
		t.Errorf("bob lists default: %d, want 404", code)
	}
	if code, _ := p.do(t, http.MethodGet, def, nil); code != http.StatusForbidden {
		t.Errorf("anonymous lists default: %d, want 403", code)
	}
	// blue's webhook id under default is missing, even for a superuser.
	if code, _ := p.do(t, http.MethodDelete, def+strconv.FormatInt(hook.ID, 10)+"/", nil, admin...); code != http.StatusNotFound {
		t.Errorf("blue's webhook deleted through default: %d, want 404", code)
	}

	// Bad input names the field.
	for _, tt := range []struct{ url, secret, field string }{
		{"", "", "url"}, {"ftp://x/", "", "url"}, {"not a url", "", "url"},
		{"https://hooks.example/x", "line\nbreak", "secret"},
	} {
		code, body := create(def, tt.url, tt.secret, admin)
		if code != http.StatusBadRequest || !strings.Contains(body, `"`+tt.field+`"`) {
			t.Errorf("create %q/%q: %d %s, want 400 on %s", tt.url, tt.secret, code, body, tt.field)
		}
	}
	if code, body := create(blue, "https://hooks.example/blue", "", admin); code != http.StatusBadRequest || !strings.Contains(body, "already") {
		t.Errorf("duplicate: %d %s", code, body)
	}
	if code, _ := p.do(t, http.MethodGet, blue+"nope/", nil, admin...); code != http.StatusNotFound {
		t.Errorf("malformed id: %d", code)
	}

	if code, body := p.do(t, http.MethodDelete, blueHook, nil, admin...); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, body := p.do(t, http.MethodGet, blue, nil, admin...); code != http.StatusOK || !strings.Contains(body, `"count":0`) {
		t.Errorf("after delete: %d %s", code, body)
	}
}

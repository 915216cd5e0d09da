package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"

	"golava/server/store"
)

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, false)
	if _, err := a.st.Pool().Exec(context.Background(), `WITH u AS (INSERT INTO users (username, is_active) VALUES ('gone', false) RETURNING id)
INSERT INTO realm_members (realm_id, user_id) SELECT 1, id FROM u`); err != nil {
		t.Fatal(err)
	}
	gone, err := a.st.UserByName(context.Background(), "gone")
	if err != nil {
		t.Fatal(err)
	}
	goneToken, _, err := a.st.CreateToken(context.Background(), gone.ID, store.DefaultRealm, "")
	if err != nil {
		t.Fatal(err)
	}
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	// The handler answers with the user's name after requireUser, or
	// requireSuperuser when the path is /su.
	h := a.srv.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		check := requireUser
		if r.URL.Path == "/su" {
			check = requireSuperuser
		}
		if u, ok := check(w, r); ok {
			writeJSON(w, http.StatusOK, map[string]string{"user": u.Username})
		}
	}))
	tests := []struct {
		name, path, header string
		code               int
		body               string
	}{
		{"anonymous", "/", "", 403, `{"detail":"Authentication credentials were not provided."}`},
		{"token", "/", "Token " + a.aliceToken, 200, `{"user":"alice"}`},
		{"token lower case", "/", "token " + a.aliceToken, 200, `{"user":"alice"}`},
		{"bearer", "/", "Bearer " + a.aliceToken, 200, `{"user":"alice"}`},
		{"basic user:token", "/", basic("alice:" + a.aliceToken), 200, `{"user":"alice"}`},
		{"basic other user's token", "/", basic("admin:" + a.aliceToken), 401, `{"detail":"Invalid token."}`},
		{"basic garbage", "/", "Basic !!!", 401, `{"detail":"Invalid basic header. Credentials not correctly base64 encoded."}`},
		{"basic no colon", "/", basic("alice"), 401, `{"detail":"Invalid basic header. Credentials not correctly base64 encoded."}`},
		{"invalid token", "/", "Token nope", 401, `{"detail":"Invalid token."}`},
		{"no credentials", "/", "Token", 401, `{"detail":"Invalid token header. No credentials provided."}`},
		{"spaces", "/", "Token a b", 401, `{"detail":"Invalid token header. Token string should not contain spaces."}`},
		{"unknown scheme is anonymous", "/", "Digest abc", 403, `{"detail":"Authentication credentials were not provided."}`},
		{"inactive user", "/", "Token " + goneToken, 401, `{"detail":"User inactive or deleted."}`},
		{"superuser only, plain user", "/su", "Token " + a.aliceToken, 403, `{"detail":"You do not have permission to perform this action."}`},
		{"superuser only, superuser", "/su", "Token " + a.adminToken, 200, `{"user":"admin"}`},
		{"superuser only, anonymous", "/su", "", 403, `{"detail":"Authentication credentials were not provided."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.path, nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got := compact(rec.Body.String()); rec.Code != tt.code || got != tt.body {
				t.Errorf("got %d %s, want %d %s", rec.Code, got, tt.code, tt.body)
			}
			if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") != "Token" {
				t.Errorf("401 without WWW-Authenticate: Token")
			}
		})
	}
	// Through the router: a bad token is refused before any REST handler.
	if code, body := a.do(t, "GET", "/api/v0.2/workers/", nil, "Authorization", "Token nope"); code != 401 || compact(body) != `{"detail":"Invalid token."}` {
		t.Errorf("router: %d %s", code, body)
	}
}

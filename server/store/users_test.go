package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"golava/server/store"
	"golava/server/store/storetest"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t)

	u, err := st.CreateUser(ctx, store.NewUser{Username: "alice", Email: "a@example.org", Password: "s3cret", IsSuperuser: true})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.Username != "alice" || !u.IsSuperuser || !u.IsActive || u.Email != "a@example.org" || len(u.Groups) != 0 {
		t.Errorf("created user = %+v", u)
	}
	if _, err := st.CreateUser(ctx, store.NewUser{Username: "alice"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate user: err = %v, want ErrConflict", err)
	}
	for _, bad := range []string{"", "has space", "semi;colon"} {
		if _, err := st.CreateUser(ctx, store.NewUser{Username: bad}); err == nil {
			t.Errorf("username %q accepted", bad)
		}
	}
	byName, err := st.UserByName(ctx, "alice")
	if err != nil || byName.ID != u.ID {
		t.Errorf("UserByName = %+v, %v", byName, err)
	}
	byID, err := st.UserByID(ctx, u.ID)
	if err != nil || byID.Username != "alice" {
		t.Errorf("UserByID = %+v, %v", byID, err)
	}
	if _, err := st.UserByName(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: err = %v", err)
	}
	if _, err := st.UserByID(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown id: err = %v", err)
	}
	// Groups are read back sorted.
	for _, g := range []string{"zeta", "alpha"} {
		if _, err := st.Pool().Exec(ctx, `WITH g AS (INSERT INTO groups (name) VALUES ($1) RETURNING id)
			INSERT INTO user_groups (user_id, group_id) SELECT $2, id FROM g`, g, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	if u, _ := st.UserByID(ctx, u.ID); len(u.Groups) != 2 || u.Groups[0] != "alpha" {
		t.Errorf("groups = %v", u.Groups)
	}
}

func TestAuthenticateUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t)
	u, err := st.CreateUser(ctx, store.NewUser{Username: "bob", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, store.NewUser{Username: "nopw"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, store.NewUser{Username: "gone", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE users SET is_active = false WHERE username = 'gone'`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, pw string
		ok             bool
	}{
		{"right", "bob", "correct horse", true},
		{"wrong password", "bob", "correct horse!", false},
		{"empty password", "bob", "", false},
		{"unknown user", "carol", "correct horse", false},
		{"no password set", "nopw", "", false},
		{"inactive", "gone", "pw", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.AuthenticateUser(ctx, tt.user, tt.pw)
			if tt.ok {
				if err != nil || got.ID != u.ID || got.LastLogin == nil {
					t.Fatalf("AuthenticateUser = %+v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, store.ErrBadCredentials) {
				t.Fatalf("err = %v, want ErrBadCredentials", err)
			}
		})
	}
	if err := st.SetPassword(ctx, u.ID, "new"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AuthenticateUser(ctx, "bob", "new"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if _, err := st.AuthenticateUser(ctx, "bob", "correct horse"); !errors.Is(err, store.ErrBadCredentials) {
		t.Errorf("old password still works: %v", err)
	}
	if err := st.SetPassword(ctx, 999999, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetPassword of unknown user: %v", err)
	}
	// Only a hash is stored.
	var hash string
	if err := st.Pool().QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, u.ID).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if hash == "new" || len(hash) < 40 {
		t.Errorf("password_hash = %q", hash)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t)
	u, err := st.CreateUser(ctx, store.NewUser{Username: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	secret, tok, err := st.CreateToken(ctx, u.ID, store.DefaultRealm, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 64 || tok.Description != "ci" || tok.UserID != u.ID || tok.LastUsed != nil {
		t.Errorf("token = %q %+v", secret, tok)
	}
	var stored int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM tokens WHERE position($1::bytea in hash) > 0`, []byte(secret)).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Error("the secret is stored in clear")
	}
	got, err := st.UserByToken(ctx, secret)
	if err != nil || got.ID != u.ID {
		t.Fatalf("UserByToken = %+v, %v", got, err)
	}
	for _, bad := range []string{"", secret + "x", secret[:63]} {
		if _, err := st.UserByToken(ctx, bad); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UserByToken(%q): %v, want ErrNotFound", bad, err)
		}
	}
	list, err := st.ListTokens(ctx, u.ID)
	if err != nil || len(list) != 1 || list[0].LastUsed == nil {
		t.Fatalf("ListTokens = %+v, %v (last_used must be set by the lookup)", list, err)
	}
	// last_used is written at most once a minute.
	old := time.Now().Add(-30 * time.Second)
	if _, err := st.Pool().Exec(ctx, `UPDATE tokens SET last_used = $1`, old); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UserByToken(ctx, secret); err != nil {
		t.Fatal(err)
	}
	list, _ = st.ListTokens(ctx, u.ID)
	if !list[0].LastUsed.Equal(old.Truncate(time.Microsecond)) {
		t.Errorf("last_used rewritten within a minute: %v", list[0].LastUsed)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE tokens SET last_used = now() - interval '2 minutes'`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UserByToken(ctx, secret); err != nil {
		t.Fatal(err)
	}
	list, _ = st.ListTokens(ctx, u.ID)
	if time.Since(*list[0].LastUsed) > time.Minute {
		t.Errorf("last_used not refreshed after two minutes: %v", list[0].LastUsed)
	}

	if _, _, err := st.CreateToken(ctx, 999999, store.DefaultRealm, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token for unknown user: %v", err)
	}
	if err := st.DeleteToken(ctx, u.ID+1, tok.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete of another user's token: %v", err)
	}
	if err := st.DeleteToken(ctx, u.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UserByToken(ctx, secret); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted token still works: %v", err)
	}
}

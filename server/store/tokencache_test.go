package store_test

import (
	"context"
	"errors"
	"testing"

	"golava/server/store"
	"golava/server/store/storetest"
)

// The cached lookup must see, at once, writes this Store makes: a deleted
// token and a deactivated user.
func TestUserByTokenCachedInvalidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t)
	u, err := st.CreateUser(ctx, store.NewUser{Username: "cached"})
	if err != nil {
		t.Fatal(err)
	}
	secret, tok, err := st.CreateToken(ctx, u.ID, store.DefaultRealm, "")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second answer comes from the cache
		got, err := st.UserByTokenCached(ctx, secret)
		if err != nil || got.ID != u.ID || !got.IsActive {
			t.Fatalf("UserByTokenCached = %+v, %v", got, err)
		}
	}
	if _, err := st.UserByTokenCached(ctx, secret+"x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("wrong secret: %v, want ErrNotFound", err)
	}
	inactive := false
	if err := st.UpdateUser(ctx, "cached", nil, nil, &inactive); err != nil {
		t.Fatal(err)
	}
	if got, err := st.UserByTokenCached(ctx, secret); err != nil || got.IsActive {
		t.Fatalf("after deactivation: %+v, %v", got, err)
	}
	if err := st.DeleteToken(ctx, u.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UserByTokenCached(ctx, secret); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v, want ErrNotFound", err)
	}
}

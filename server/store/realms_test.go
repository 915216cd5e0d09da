package store_test

import (
	"context"
	"errors"
	"testing"

	"golava/server/store"
	"golava/server/store/storetest"
)

func TestRealms(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	ctx := context.Background()
	for _, bad := range []string{"", "Blue", "-x", "a b", "a/b"} {
		if _, err := st.CreateRealm(ctx, bad, ""); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("realm name %q: %v, want ErrInvalid", bad, err)
		}
	}
	blue, err := st.CreateRealm(ctx, "blue", "the blue lab")
	if err != nil {
		t.Fatal(err)
	}
	if blue.TempDays != 7 || blue.PayloadDays != 0 {
		t.Errorf("new realm lifecycle = %d/%d days, want payload 0 (keep), temp 7", blue.PayloadDays, blue.TempDays)
	}
	if _, err := st.CreateRealm(ctx, "blue", ""); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate realm: %v", err)
	}
	if err := st.SetRealmLifecycle(ctx, blue.ID, -1, 3); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("negative days: %v", err)
	}
	bob, err := st.CreateUser(ctx, store.NewUser{Username: "bob", RealmID: blue.ID})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := st.CreateUser(ctx, store.NewUser{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	root, err := st.CreateUser(ctx, store.NewUser{Username: "root", IsSuperuser: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		u     *store.User
		realm int64
		want  bool
	}{{bob, blue.ID, true}, {bob, store.DefaultRealm, false}, {alice, store.DefaultRealm, true}, {alice, blue.ID, false},
		{root, blue.ID, true}, {nil, store.DefaultRealm, true}, {nil, blue.ID, false}} {
		got, err := st.CanUseRealm(ctx, c.realm, c.u)
		if err != nil || got != c.want {
			t.Errorf("CanUseRealm(%d, %v) = %v, %v; want %v", c.realm, c.u, got, err, c.want)
		}
	}
	if _, _, err := st.CreateToken(ctx, alice.ID, blue.ID, ""); !errors.Is(err, store.ErrForbidden) {
		t.Errorf("alice's token for blue: %v, want ErrForbidden", err)
	}
	secret, _, err := st.CreateToken(ctx, bob.ID, blue.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.UserByToken(ctx, secret)
	if err != nil || u.RealmID != blue.ID || u.Realm != "blue" {
		t.Fatalf("bob's token acts in %v (%v), want blue", u, err)
	}
	list, err := st.ListRealms(ctx, bob)
	if err != nil || len(list) != 1 || list[0].Name != "blue" {
		t.Errorf("bob's realms = %v, %v", list, err)
	}
	if list, _ := st.ListRealms(ctx, root); len(list) != 2 {
		t.Errorf("a superuser lists %d realms, want 2", len(list))
	}
	// A realm's device type cannot grant to another realm's group.
	if _, err := st.CreateDeviceType(ctx, blue.ID, store.NewDeviceType{Name: "qemu"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateGroupIn(ctx, store.DefaultRealm, "default-team"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateGroupIn(ctx, blue.ID, "blue-team"); err != nil {
		t.Fatal(err)
	}
	if err := st.GrantPermission(ctx, blue.ID, store.Grant{Group: "default-team", Permission: store.PermView, Kind: "device-type", Object: "qemu"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("grant to another realm's group: %v, want ErrNotFound", err)
	}
	if err := st.GrantPermission(ctx, blue.ID, store.Grant{Group: "blue-team", Permission: store.PermView, Kind: "device-type", Object: "qemu"}); err != nil {
		t.Errorf("grant to blue's group: %v", err)
	}
	// Leaving the realm stops the token at once.
	if err := st.RemoveRealmMember(ctx, blue.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UserByTokenCached(ctx, secret); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token after leaving the realm: %v, want ErrNotFound", err)
	}
	if err := st.RemoveRealmMember(ctx, blue.ID, bob.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removing twice: %v", err)
	}
}

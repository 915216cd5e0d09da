package store_test

import (
	"context"
	"errors"
	"testing"

	"golava/server/store"
	"golava/server/store/storetest"
)

func TestPermissions(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	users := map[string]*store.User{}
	for _, n := range []string{"in", "out"} {
		u, err := st.CreateUser(ctx, store.NewUser{Username: n})
		must(err)
		users[n] = u
	}
	root, err := st.CreateUser(ctx, store.NewUser{Username: "root", IsSuperuser: true})
	must(err)
	dt, err := st.CreateDeviceType(ctx, store.DefaultRealm, store.NewDeviceType{Name: "board"})
	must(err)
	d, err := st.CreateDevice(ctx, store.DefaultRealm, store.NewDevice{Hostname: "board-01", DeviceType: "board"})
	must(err)
	must(st.CreateAlias(ctx, store.DefaultRealm, "brd", "board"))
	_, err = st.CreateGroup(ctx, "g")
	must(err)
	must(st.AddUserToGroup(ctx, "in", "g"))

	check := func(what string, got bool, err error, want bool) {
		t.Helper()
		if err != nil || got != want {
			t.Errorf("%s: got %v (%v), want %v", what, got, err, want)
		}
	}
	// No grants: everyone sees and submits; nobody but superusers changes.
	ok, err := st.CanViewDevice(ctx, d, nil)
	check("anonymous views an open device", ok, err, true)
	ok, err = st.CanSubmitToDeviceType(ctx, store.DefaultRealm, "brd", users["out"])
	check("submit through an alias, open", ok, err, true)
	ok, err = st.CanChangeDevice(ctx, d, users["in"])
	check("change without grant", ok, err, false)
	ok, err = st.CanChangeDevice(ctx, d, root)
	check("superuser changes", ok, err, true)

	// A device view grant hides the device only; a type grant hides both.
	must(st.GrantPermission(ctx, store.DefaultRealm, store.Grant{Kind: "device", Object: "board-01", Group: "g", Permission: store.PermView}))
	ok, err = st.CanViewDevice(ctx, d, users["out"])
	check("outsider views a restricted device", ok, err, false)
	ok, err = st.CanViewDeviceType(ctx, dt.ID, users["out"])
	check("outsider views its open type", ok, err, true)
	ok, err = st.CanViewDevice(ctx, d, users["in"])
	check("member views a restricted device", ok, err, true)
	must(st.GrantPermission(ctx, store.DefaultRealm, store.Grant{Kind: "device-type", Object: "board", Group: "g", Permission: store.PermSubmit}))
	ok, err = st.CanSubmitToDeviceType(ctx, store.DefaultRealm, "brd", users["out"])
	check("outsider submits to a restricted type", ok, err, false)
	ok, err = st.CanSubmitToDeviceType(ctx, store.DefaultRealm, "board", users["in"])
	check("member submits", ok, err, true)
	ok, err = st.CanSubmitToDeviceType(ctx, store.DefaultRealm, "board", nil)
	check("anonymous submits", ok, err, false)
	must(st.GrantPermission(ctx, store.DefaultRealm, store.Grant{Kind: "device", Object: "board-01", Group: "g", Permission: store.PermSubmit}))
	ok, err = st.CanSubmitToDevice(ctx, d, users["out"])
	check("outsider submits to a restricted device", ok, err, false)
	ok, err = st.CanSubmitToDevice(ctx, d, users["in"])
	check("member submits to a restricted device", ok, err, true)
	must(st.GrantPermission(ctx, store.DefaultRealm, store.Grant{Kind: "device-type", Object: "board", Group: "g", Permission: store.PermChange}))
	ok, err = st.CanChangeDevice(ctx, d, users["in"])
	check("member changes a device through its type", ok, err, true)

	// Lists filter.
	list, _, err := st.ListDevices(ctx, store.DefaultRealm, store.ListQuery{Restrict: true, Viewer: users["out"]}, true)
	if err != nil || len(list) != 0 {
		t.Errorf("outsider lists %d devices (%v)", len(list), err)
	}
	list, _, err = st.ListDevices(ctx, store.DefaultRealm, store.ListQuery{Restrict: true, Viewer: users["in"]}, true)
	if err != nil || len(list) != 1 {
		t.Errorf("member lists %d devices (%v)", len(list), err)
	}
	grants, err := st.ListGrants(ctx, store.DefaultRealm)
	if err != nil || len(grants) != 4 || grants[0].Kind != "device-type" || grants[0].ID == 0 {
		t.Errorf("grants: %+v %v", grants, err)
	}
	must(st.RevokePermission(ctx, store.DefaultRealm, store.Grant{Kind: "device", Object: "board-01", Group: "g", Permission: store.PermView}))
	err = st.RevokePermission(ctx, store.DefaultRealm, store.Grant{Kind: "device", Object: "board-01", Group: "g", Permission: store.PermView})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke twice: %v", err)
	}
	if err := st.GrantPermission(ctx, store.DefaultRealm, store.Grant{Kind: "device", Object: "board-01", Group: "g", Permission: "own"}); err == nil {
		t.Error("unknown permission granted")
	}
	// Deleting the group drops its grants.
	must(st.DeleteGroup(ctx, "g"))
	grants, err = st.ListGrants(ctx, store.DefaultRealm)
	if err != nil || len(grants) != 0 {
		t.Errorf("grants after group delete: %+v %v", grants, err)
	}
}

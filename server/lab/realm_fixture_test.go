package lab_test

import (
	"context"
	"testing"

	"golava/server/store"
)

// blueRealm is a second realm "blue" in a lab's database: member bob (and
// his token of blue), a dut-sim type, a worker and a board in Maintenance,
// so blue's jobs wait in its queue.
type blueRealm struct {
	st       *store.Store
	realm    *store.Realm
	bob      *store.User // acting in blue
	bobToken string
}

// newBlueRealm builds blue with its worker named worker (described desc)
// and board blue-sim-01; the store closes with the test.
func newBlueRealm(t *testing.T, dbURL, worker, desc string) *blueRealm {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	b := &blueRealm{st: st}
	if b.realm, err = st.CreateRealm(ctx, "blue", ""); err != nil {
		t.Fatal(err)
	}
	bob, err := st.CreateUser(ctx, store.NewUser{Username: "bob", RealmID: b.realm.ID})
	if err != nil {
		t.Fatal(err)
	}
	b.bob = bob.InRealm(b.realm)
	if b.bobToken, _, err = st.CreateToken(ctx, bob.ID, b.realm.ID, "tests"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateDeviceType(ctx, b.realm.ID, store.NewDeviceType{Name: "dut-sim"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateWorker(ctx, b.realm.ID, worker, desc); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateDevice(ctx, b.realm.ID, store.NewDevice{Hostname: "blue-sim-01", DeviceType: "dut-sim", Worker: worker, Health: store.DeviceMaintenance}); err != nil {
		t.Fatal(err)
	}
	return b
}

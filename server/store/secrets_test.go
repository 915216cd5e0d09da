package store_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"golava/server/store"
	"golava/server/store/storetest"
)

func TestSecretsStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t)
	if _, err := st.Pool().Exec(ctx, `INSERT INTO realms (name) VALUES ('other')`); err != nil {
		t.Fatal(err)
	}
	other, err := st.RealmIDByName(ctx, "other")
	if err != nil || other == store.DefaultRealm {
		t.Fatalf("RealmIDByName(other) = %d, %v", other, err)
	}
	if _, err := st.RealmIDByName(ctx, "nosuch"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown realm: %v", err)
	}
	nonce := bytes.Repeat([]byte{1}, 12)
	put := func(realm int64, name, ct string) {
		t.Helper()
		if err := st.PutSecret(ctx, realm, store.SealedSecret{Name: name, Ciphertext: []byte(ct), Nonce: nonce}); err != nil {
			t.Fatal(err)
		}
	}
	put(store.DefaultRealm, "A", "ct-a")
	put(store.DefaultRealm, "B", "ct-b")
	put(other, "A", "ct-other-a")
	put(store.DefaultRealm, "A", "ct-a2") // replaces

	sec, err := st.Secret(ctx, store.DefaultRealm, "A")
	if err != nil || string(sec.Ciphertext) != "ct-a2" {
		t.Fatalf("Secret(default, A) = %+v, %v", sec, err)
	}
	if sec, err := st.Secret(ctx, other, "A"); err != nil || string(sec.Ciphertext) != "ct-other-a" {
		t.Fatalf("Secret(other, A) = %+v, %v", sec, err)
	}
	if _, err := st.Secret(ctx, other, "B"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("B of the other realm: %v", err)
	}
	if names, err := st.SecretNames(ctx, other); err != nil || len(names) != 1 || names[0] != "A" {
		t.Fatalf("SecretNames(other) = %v, %v", names, err)
	}
	if err := st.DeleteSecret(ctx, other, "B"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete B of the other realm: %v", err)
	}
	if names, err := st.SecretNames(ctx, store.DefaultRealm); err != nil || len(names) != 2 {
		t.Fatalf("default realm lost a secret: %v, %v", names, err)
	}
	if err := st.PutSecret(ctx, store.DefaultRealm, store.SealedSecret{Name: "C", Ciphertext: []byte("x"), Nonce: []byte{1}}); err == nil {
		t.Fatal("a 1-byte nonce was stored")
	}
}

// Servers creating the first key of a realm at once all end up with the
// same key.
func TestAddRealmKeyRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t)
	if has, err := st.HasRealmKeys(ctx); err != nil || has {
		t.Fatalf("HasRealmKeys on a fresh database = %v, %v", has, err)
	}
	const n = 8
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := st.AddRealmKey(ctx, store.DefaultRealm, []byte{byte(i)})
			if err != nil {
				t.Error(err)
			}
			got[i] = k
		}()
	}
	wg.Wait()
	stored, err := st.RealmKey(ctx, store.DefaultRealm)
	if err != nil || len(stored) != 1 {
		t.Fatalf("RealmKey = %v, %v", stored, err)
	}
	for i, k := range got {
		if !bytes.Equal(k, stored) {
			t.Errorf("caller %d got key %v, stored is %v", i, k, stored)
		}
	}
	if has, err := st.HasRealmKeys(ctx); err != nil || !has {
		t.Fatalf("HasRealmKeys after adding = %v, %v", has, err)
	}
	n2, err := st.RewrapRealmKeys(ctx, func(realm int64, w []byte) ([]byte, error) { return append(w, 9), nil })
	if err != nil || n2 != 1 {
		t.Fatalf("RewrapRealmKeys = %d, %v", n2, err)
	}
	boom := errors.New("boom")
	if _, err := st.RewrapRealmKeys(ctx, func(int64, []byte) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("failing rewrap: %v", err)
	}
	if k, _ := st.RealmKey(ctx, store.DefaultRealm); len(k) != 2 || k[1] != 9 {
		t.Fatalf("key after rewrap and failed rewrap = %v", k)
	}
}

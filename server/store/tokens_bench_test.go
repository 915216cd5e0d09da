package store_test

import (
	"context"
	"testing"

	"golava/server/store"
	"golava/server/store/storetest"
)

// BenchmarkUserByToken is the cost every authenticated REST request pays.
func BenchmarkUserByToken(b *testing.B) {
	ctx := context.Background()
	st := storetest.New(b)
	u, err := st.CreateUser(ctx, store.NewUser{Username: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	secret, _, err := st.CreateToken(ctx, u.ID, store.DefaultRealm, "")
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := st.UserByToken(ctx, secret); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

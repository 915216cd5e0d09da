package scheduler_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"golava/server/artifacts"
	"golava/server/scheduler"
	"golava/server/store"
	"golava/server/store/storetest"
)

// The leader enforces the artifact lifecycle of its realm: expired temp
// artifacts leave the store and the backend while it leads, live ones stay.
func TestLeaderExpiresArtifacts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t)
	b, err := artifacts.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := artifacts.NewService(st, b, nil, 0)
	for _, p := range []string{"old", "live"} {
		_, err := svc.Put(ctx, artifacts.Upload{RealmID: store.DefaultRealm, Realm: "default", Area: store.AreaTemp,
			Path: p, Size: -1}, bytes.NewReader([]byte(p)))
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE artifacts SET expires_at = now() - interval '1 hour' WHERE path = 'old'`); err != nil {
		t.Fatal(err)
	}
	r := start(t, st, scheduler.Config{Artifacts: svc, ArtifactExpiry: 50 * time.Millisecond})
	r.awaitLeading(t, true)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := svc.Get(ctx, store.DefaultRealm, store.AreaTemp, "old")
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leader did not expire the artifact: %v", err)
		}
		select {
		case <-r.passes:
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := b.Stat(ctx, "default/temp/old"); !errors.Is(err, artifacts.ErrNotFound) {
		t.Fatalf("expired object still stored: %v", err)
	}
	if _, err := svc.Get(ctx, store.DefaultRealm, store.AreaTemp, "live"); err != nil {
		t.Fatalf("live artifact: %v", err)
	}
	if _, err := b.Stat(ctx, "default/temp/live"); err != nil {
		t.Fatalf("live object: %v", err)
	}
}

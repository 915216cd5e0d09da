package storetest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"golava/server/store"
	"golava/server/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestNewIsMigratedAndIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := storetest.New(t), storetest.New(t)
	var name string
	if err := a.Pool().QueryRow(ctx, "SELECT name FROM realms WHERE id = $1", store.DefaultRealm).Scan(&name); err != nil {
		t.Fatalf("default realm: %v", err)
	}
	if name != "default" {
		t.Errorf("realm 1 = %q", name)
	}
	if _, err := a.Pool().Exec(ctx, "INSERT INTO users (username) VALUES ('only-in-a')"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.Pool().QueryRow(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("second database sees %d users of the first", n)
	}
}

func TestURLMigrateIsIdempotentAndNotifyWorks(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := storetest.URL(t)
	if err := store.Migrate(ctx, u); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	st, err := store.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "LISTEN "+store.NotifyEvents); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, "SELECT pg_notify($1, 'hello')", store.NotifyEvents); err != nil {
		t.Fatal(err)
	}
	n, err := conn.WaitForNotification(ctx)
	if err != nil {
		t.Fatalf("wait for notification: %v", err)
	}
	if n.Payload != "hello" {
		t.Errorf("payload = %q", n.Payload)
	}
}

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := store.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); err == nil {
		t.Error("open of a closed port succeeded")
	}
	if err := store.Migrate(ctx, "::not a url"); err == nil {
		t.Error("migrate of a garbage url succeeded")
	}
}

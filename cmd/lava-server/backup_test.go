package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"golava/server/store/storetest"
)

func TestDumpRestoreCommands(t *testing.T) {
	t.Parallel()
	url := storetest.URL(t)
	file := filepath.Join(t.TempDir(), "lab.dump")
	if code, _, errs := lavaServer(t, "users", "add", "bob", "--database-url", url); code != 0 {
		t.Fatalf("users add: %s", errs)
	}
	if code, out, errs := lavaServer(t, "dump", file, "--database-url", url); code != 0 || !strings.Contains(out, "dumped to") {
		t.Fatalf("dump = %d %s %s", code, out, errs)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := lavaServer(t, "restore", file, "--database-url", url); code != 0 || !strings.Contains(out, "restored from") {
		t.Fatalf("restore = %d %s %s", code, out, errs)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM users WHERE username = 'bob'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("bob after restore: %d, %v", n, err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"dump"}, 2, "wrong number of arguments"},
		{[]string{"restore", "a", "b"}, 2, "wrong number of arguments"},
		{[]string{"restore", filepath.Join(t.TempDir(), "none"), "--database-url", url}, 1, "lava-server restore:"},
		{[]string{"dump", file, "--database-url", ""}, 1, "no database URL"},
	} {
		code, _, errs := lavaServer(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v = %d %q, want %d %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}

package pgcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// tempDir is under os.TempDir rather than t.TempDir: as root the postgres
// user must traverse every parent, and t.TempDir's parent is private.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func query(t *testing.T, url, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestStartStopRestart(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	ctx := context.Background()
	c, err := Start(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	if v := query(t, c.URL(), "SHOW server_version"); !strings.HasPrefix(v, "15") {
		t.Errorf("server_version = %q, want 15.x", v)
	}
	if v := query(t, c.URL(), "SHOW fsync"); v != "off" {
		t.Errorf("fsync = %q, want off for a non-durable cluster", v)
	}
	if v := query(t, c.URL(), "SHOW listen_addresses"); v != "127.0.0.1" {
		t.Errorf("listen_addresses = %q", v)
	}
	execSQL(t, c.URL(), "CREATE TABLE kept (x int)")

	// A second Start on the same folder reuses the running postmaster.
	again, err := Start(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatalf("start on a running cluster: %v", err)
	}
	if again.Port() != c.Port() || again.pid != c.pid {
		t.Errorf("reuse: got port %d pid %d, want port %d pid %d", again.Port(), again.pid, c.Port(), c.pid)
	}

	if err := c.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if err := again.Stop(); err != nil {
		t.Fatalf("stop of the reused handle after the postmaster exited: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "postmaster.pid")); !os.IsNotExist(err) {
		t.Errorf("postmaster.pid still there after Stop: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "postgres.log")); err != nil || fi.Size() == 0 {
		t.Errorf("postgres.log missing or empty: %v", err)
	}

	// Restart on the existing data: durable settings, data kept.
	c2, err := Start(ctx, Config{Dir: dir, Durable: true})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer c2.Stop()
	if v := query(t, c2.URL(), "SHOW fsync"); v != "on" {
		t.Errorf("fsync = %q, want on for a durable cluster", v)
	}
	if v := query(t, c2.URL(), "SELECT count(*)::text FROM kept"); v != "0" {
		t.Errorf("table from the first run: count %q", v)
	}
	if err := c2.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no dir", Config{}, "Dir is empty"},
		{"no binaries", Config{Dir: tempDir(t), BinDir: "/nonexistent"}, "install the postgresql-15 package"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Start(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestUnreachableDirAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		// As a normal user the folder is ours: nothing to check.
		if _, err := Start(context.Background(), Config{Dir: "/proc/forbidden/x"}); err == nil {
			t.Fatal("start under /proc succeeded")
		}
		return
	}
	t.Parallel()
	parent := tempDir(t) // 0700 root: the postgres user cannot traverse it
	_, err := Start(context.Background(), Config{Dir: filepath.Join(parent, "pg")})
	if err == nil || !strings.Contains(err.Error(), "not reachable by the postgres user") {
		t.Fatalf("err = %v, want a clear permission error", err)
	}
}

func TestStaleLockFileAndLongPath(t *testing.T) {
	t.Parallel()
	// A folder deep enough that the socket path would pass 107 bytes.
	root := tempDir(t)
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, strings.Repeat("d", 60), strings.Repeat("e", 40))
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := Start(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatalf("start in a deep folder: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	// A lock file naming a live process that is not postgres (ourselves)
	// is stale: Start must remove it and start a new postmaster.
	lock := filepath.Join(dir, "data", "postmaster.pid")
	stale := fmt.Sprintf("%d\n%s\n0\n5\n\n127.0.0.1\n0 0\nready\n", os.Getpid(), filepath.Join(dir, "data"))
	if err := os.WriteFile(lock, []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Start(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatalf("start over a stale lock file: %v", err)
	}
	defer c.Stop()
	if c.pid == os.Getpid() || c.Port() == 5 {
		t.Errorf("reused the stale lock file: pid %d port %d", c.pid, c.Port())
	}
	if v := query(t, c.URL(), "SELECT 'up'"); v != "up" {
		t.Errorf("query: %q", v)
	}
}

package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"golava/server/pgcluster"
	"golava/server/store"
)

// EnvURL names an existing server to use instead of starting a cluster; its
// user must be allowed to CREATE DATABASE. Example:
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
const EnvURL = "LAVA_TEST_DATABASE_URL"

// state is filled by Main.
var state struct {
	adminURL string        // the maintenance database of the server
	admin    *pgxpool.Pool // CREATE/DROP DATABASE
	template string        // migrated database copied by New
	prefix   string        // unique per test binary, so binaries can share a server
	seq      atomic.Int64
	createMu sync.Mutex // CREATE DATABASE ... TEMPLATE refuses concurrent copies
}

// Main is the body of TestMain for packages that use New or URL:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
//
// It starts a cluster (or uses $LAVA_TEST_DATABASE_URL), migrates a template
// database, runs the tests, then drops and stops everything and exits.
func Main(m *testing.M) {
	os.Exit(run(m))
}

// Run is Main without the exit, for a TestMain that has its own set-up and
// clean-up around the tests; it returns the exit code.
func Run(m *testing.M) int { return run(m) }

func run(m *testing.M) int {
	ctx := context.Background()
	stop, err := setup(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "storetest: %v\n", err)
		fmt.Fprintf(os.Stderr, "storetest: tests need PostgreSQL 15: install it (apt-get install postgresql-15) or set %s to a server where the user may CREATE DATABASE\n", EnvURL)
		if stop != nil {
			stop()
		}
		return 1
	}
	code := m.Run()
	stop()
	return code
}

// setup returns a stop function even on error when something must be undone.
func setup(ctx context.Context) (func(), error) {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	state.prefix = fmt.Sprintf("lavatest_%d_%s", os.Getpid(), hex.EncodeToString(suffix))
	state.template = state.prefix + "_tmpl"

	var cleanups []func()
	stop := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	state.adminURL = os.Getenv(EnvURL)
	if state.adminURL == "" {
		// Not t.TempDir: as root the postgres user must traverse the parents.
		dir, err := os.MkdirTemp("", "lava-storetest-")
		if err != nil {
			return nil, fmt.Errorf("temp dir: %w", err)
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		c, err := pgcluster.Start(ctx, pgcluster.Config{Dir: dir, Logger: logger})
		if err != nil {
			return stop, err
		}
		cleanups = append(cleanups, func() {
			if err := c.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "storetest: %v\n", err)
			}
		})
		state.adminURL = c.URL()
	}
	admin, err := pgxpool.New(ctx, state.adminURL)
	if err != nil {
		return stop, fmt.Errorf("connect %s: %w", state.adminURL, err)
	}
	state.admin = admin
	cleanups = append(cleanups, admin.Close)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{state.template}.Sanitize()); err != nil {
		return stop, fmt.Errorf("create template database: %w", err)
	}
	cleanups = append(cleanups, func() { dropDatabase(state.template) })
	if err := store.Migrate(ctx, dbURL(state.template)); err != nil {
		return stop, fmt.Errorf("migrate template database: %w", err)
	}
	return stop, nil
}

// dbURL is the admin URL pointing at database name.
func dbURL(name string) string {
	u, err := url.Parse(state.adminURL)
	if err != nil {
		panic(fmt.Sprintf("storetest: bad %s: %v", EnvURL, err))
	}
	u.Path = "/" + name
	return u.String()
}

// New returns a Store on a fresh migrated database of its own, closed and
// dropped when the test ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	u := URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.OpenWith(ctx, u, store.PoolConfig{MaxConns: 12})
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	// Cleanups run last-in first-out: the pool closes before the drop.
	t.Cleanup(st.Close)
	return st
}

// URL creates a fresh migrated database and returns its URL, for tests that
// start a whole server against it. The database is dropped (its sessions
// terminated) when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	if state.admin == nil {
		t.Fatal("storetest: no database: call storetest.Main(m) from TestMain in this package")
	}
	name := fmt.Sprintf("%s_%d", state.prefix, state.seq.Add(1))
	if err := createDatabase(name); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() { dropDatabase(name) })
	return dbURL(name)
}

func createDatabase(name string) error {
	state.createMu.Lock()
	defer state.createMu.Unlock()
	sql := fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{state.template}.Sanitize())
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := state.admin.Exec(ctx, sql)
		cancel()
		if err == nil {
			return nil
		}
		// 55006 object_in_use: another test binary sharing the server is
		// copying the template at this moment (only with EnvURL).
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55006" || time.Now().After(deadline) {
			return fmt.Errorf("create database %s: %w", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dropDatabase(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sql := fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize())
	if _, err := state.admin.Exec(ctx, sql); err != nil && !strings.Contains(err.Error(), "does not exist") {
		fmt.Fprintf(os.Stderr, "storetest: drop database %s: %v\n", name, err)
	}
}

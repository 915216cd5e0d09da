package store

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"golava/migrations"
)

// migrateLockID is the advisory lock taken while migrating, so lava-server
// and lava-lab starting together do not both apply the same migration.
const migrateLockID int64 = 0x6c617661 // "lava"

// Migrate applies every pending migration of migrations.FS to the database
// at url. It is safe to run concurrently from several processes.
func Migrate(ctx context.Context, url string) error {
	return MigrateWithLogger(ctx, url, nil)
}

// MigrateWithLogger is Migrate logging each applied migration to logger.
func MigrateWithLogger(ctx context.Context, url string, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("migrate: parse database url: %w", err)
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return migrateDB(ctx, db, logger)
}

func migrateDB(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrateLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migrate: locker: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		logger.Info("applied migration", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// PoolConfig bounds the connections Open makes.
type PoolConfig struct {
	// MaxConns is the pool size; 0 means 20.
	MaxConns int32
}

// Open connects to url with a pool of bounded size and checks the
// connection. It does not migrate; call Migrate first.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenWith(ctx, url, PoolConfig{})
}

// OpenWith is Open with explicit pool limits.
func OpenWith(ctx context.Context, url string, pc PoolConfig) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open database: parse url: %w", err)
	}
	cfg.MaxConns = 20
	if pc.MaxConns > 0 {
		cfg.MaxConns = pc.MaxConns
	}
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.MaxConnLifetime = time.Hour
	cfg.HealthCheckPeriod = 30 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database %s: %w", redact(cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database), err)
	}
	return New(pool), nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// redact names a database without its password for error messages.
func redact(host string, port uint16, db string) string {
	return fmt.Sprintf("%s:%d/%s", host, port, db)
}

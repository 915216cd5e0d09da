package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sentinel errors callers act on.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrTransition is returned when a state change is not allowed
	// (a Finished job never goes back to Running).
	ErrTransition = errors.New("state transition not allowed")
	// ErrInvalid is a value the store refuses (a bad name, a negative count).
	ErrInvalid = errors.New("invalid value")
)

// NotifyChannel carries, on submission and on every event, the id of the
// newest event row (or 0 for a new job), so the scheduler and publisher wake.
const (
	NotifyJobs   = "lava_jobs"
	NotifyEvents = "lava_events"
)

// DefaultRealm is the id of the realm created by the first migration.
const DefaultRealm int64 = 1

// Store is the typed access to the database. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	tokens tokenCache // UserByTokenCached; emptied by user, group and token writes
}

// New wraps a pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool exposes the pool for LISTEN connections and tests.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// inTx runs fn in one transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

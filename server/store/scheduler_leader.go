package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Scheduler leadership: one scheduler per realm is active. It holds a
// session advisory lock on a connection of its own, which it also uses to
// LISTEN; when that connection dies, PostgreSQL drops the lock with the
// session, so leadership cannot outlive the leader's connection.

// schedulerLockClass is the first key of the scheduler's advisory lock
// ("lava" in ASCII); the second is the realm id.
const schedulerLockClass int32 = 0x6c617661

// Leader is a held scheduler leadership. Its methods must not be called
// concurrently (the connection serves one call at a time).
type Leader struct {
	conn *pgxpool.Conn
}

// TryLeadScheduler takes the realm's scheduler leadership if no one holds
// it; it returns nil, nil when another session does.
func (s *Store) TryLeadScheduler(ctx context.Context, realmID int64) (*Leader, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire leader connection: %w", err)
	}
	var ok bool
	err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, schedulerLockClass, int32(realmID)).Scan(&ok)
	if err != nil {
		conn.Release()
		return nil, fmt.Errorf("try scheduler lock of realm %d: %w", realmID, err)
	}
	if !ok {
		conn.Release()
		return nil, nil
	}
	// If the leader's host vanishes without closing the connection, the
	// server would keep the session, and the lock, until TCP keepalive
	// notices (two hours by default): probe an idle leader connection
	// every 10 s and drop it after 30 s of silence instead.
	_, err = conn.Exec(ctx, `SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 4`)
	if err != nil {
		conn.Hijack().Close(ctx) //nolint:errcheck // dropping the session drops the lock
		return nil, fmt.Errorf("set keepalives of leader connection: %w", err)
	}
	return &Leader{conn: conn}, nil
}

// Listen subscribes the leader's connection to the channels.
func (l *Leader) Listen(ctx context.Context, channels ...string) error {
	for _, ch := range channels {
		if _, err := l.conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return fmt.Errorf("listen %s: %w", ch, err)
		}
	}
	return nil
}

// WaitForNotification blocks until a notification arrives on a channel the
// leader listens to, or ctx ends (then the error is ctx's, and the
// connection stays usable). Any other error means the connection, and so
// the leadership, is lost.
func (l *Leader) WaitForNotification(ctx context.Context) (*pgconn.Notification, error) {
	return l.conn.Conn().WaitForNotification(ctx)
}

// Ping checks that the connection, and so the lock, is still there.
func (l *Leader) Ping(ctx context.Context) error {
	if _, err := l.conn.Exec(ctx, `SELECT 1`); err != nil {
		return fmt.Errorf("leader connection: %w", err)
	}
	return nil
}

// Release gives up leadership by closing the session (which drops the lock
// and the LISTENs however the connection is); the pool opens a new one.
// Release is safe to call twice.
func (l *Leader) Release(ctx context.Context) {
	if l.conn == nil {
		return
	}
	conn := l.conn.Hijack()
	l.conn = nil
	// Unlock before closing: the server drops a closed session's locks only
	// once its backend has exited, so a successor trying at once could still
	// find the lock held. On a dead connection this fails, and closing is
	// all there is to do.
	unlockCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, _ = conn.Exec(unlockCtx, `SELECT pg_advisory_unlock_all()`)
	cancel()
	conn.Close(ctx) //nolint:errcheck // closing a dead connection fails; the session is gone either way
}

const schedulerWakeEventsSQL = `-- name: SchedulerWakeEvents :one
SELECT EXISTS (SELECT 1 FROM events WHERE id > $2 AND id <= $3 AND realm_id = $1
    AND (topic = 'worker' OR (topic = 'device' AND data::jsonb->>'state' = 'Idle')))`

// EventsWakeScheduler reports whether the events with ids in (after,
// upTo] include one that can make a job schedulable: a device going (or
// staying) Idle, or a worker change. The scheduler skips passes for the
// rest (job states, log events).
func (s *Store) EventsWakeScheduler(ctx context.Context, realmID, after, upTo int64) (bool, error) {
	var wake bool
	if err := s.pool.QueryRow(ctx, schedulerWakeEventsSQL, realmID, after, upTo).Scan(&wake); err != nil {
		return false, fmt.Errorf("read events %d..%d: %w", after, upTo, err)
	}
	return wake, nil
}

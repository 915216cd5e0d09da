package store

import (
	"context"
	"fmt"
	"strconv"

	"golava/pkg/events"
)

// The publisher reads the outbox in id order. Ids come from a sequence, so a
// transaction can commit a row with a lower id after a higher one is visible;
// OpenTransactions and TransactionsDone let the reader tell such a pending
// gap from a permanent one (a rolled-back insert).

const eventsAfterSQL = `-- name: EventsAfter :many
SELECT e.id, r.name, e.topic, e.uuid::text, e.created_at, e.username, e.data
FROM events e JOIN realms r ON r.id = e.realm_id
WHERE e.id > $1 ORDER BY e.id LIMIT $2`

// EventsAfter returns up to limit events with id > afterID, in id order.
func (s *Store) EventsAfter(ctx context.Context, afterID int64, limit int) ([]events.Event, error) {
	rows, err := s.pool.Query(ctx, eventsAfterSQL, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("events after %d: %w", afterID, err)
	}
	defer rows.Close()
	var out []events.Event
	for rows.Next() {
		var e events.Event
		if err := rows.Scan(&e.ID, &e.Realm, &e.Topic, &e.UUID, &e.Time, &e.Username, &e.Data); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		e.Time = e.Time.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events after %d: %w", afterID, err)
	}
	return out, nil
}

const latestEventIDSQL = `-- name: LatestEventID :one
SELECT coalesce(max(id), 0) FROM events`

// LatestEventID is the id of the newest visible event, 0 when none.
func (s *Store) LatestEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, latestEventIDSQL).Scan(&id); err != nil {
		return 0, fmt.Errorf("latest event id: %w", err)
	}
	return id, nil
}

const openTransactionsSQL = `-- name: OpenTransactions :one
SELECT pg_snapshot_xmax(s)::text, ARRAY(SELECT x::text FROM pg_snapshot_xip(s) AS x), pg_current_xact_id()::text
FROM pg_current_snapshot() AS s`

// maxOpenRange bounds the transaction ids OpenTransactions lists past the
// snapshot's xmax; past it, it fails and the caller falls back on a timeout.
const maxOpenRange = 10000

// OpenTransactions lists the transactions that may be in progress now: the
// snapshot's in-progress list plus every id from its xmax (ids at or past
// xmax are not listed but not finished either) up to a freshly assigned one.
func (s *Store) OpenTransactions(ctx context.Context) ([]int64, error) {
	var xmaxS, nextS string
	var xipS []string
	if err := s.pool.QueryRow(ctx, openTransactionsSQL).Scan(&xmaxS, &xipS, &nextS); err != nil {
		return nil, fmt.Errorf("open transactions: %w", err)
	}
	parse := func(x string) (int64, error) {
		id, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("transaction id %q: %w", x, err)
		}
		return id, nil
	}
	xmax, err := parse(xmaxS)
	if err != nil {
		return nil, err
	}
	next, err := parse(nextS)
	if err != nil {
		return nil, err
	}
	if next-xmax > maxOpenRange {
		return nil, fmt.Errorf("open transactions: %d ids past xmax, more than %d to track", next-xmax, maxOpenRange)
	}
	out := make([]int64, 0, len(xipS)+int(max(next-xmax, 0)))
	for _, x := range xipS {
		id, err := parse(x)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	for id := xmax; id < next; id++ {
		out = append(out, id)
	}
	return out, nil
}

const transactionsDoneSQL = `-- name: TransactionsDone :one
SELECT coalesce(bool_and(pg_xact_status(x::text::xid8) IS DISTINCT FROM 'in progress'), true)
FROM unnest($1::bigint[]) AS x`

// TransactionsDone tells whether every listed transaction has committed or
// aborted.
func (s *Store) TransactionsDone(ctx context.Context, xids []int64) (bool, error) {
	if len(xids) == 0 {
		return true, nil
	}
	var done bool
	if err := s.pool.QueryRow(ctx, transactionsDoneSQL, xids).Scan(&done); err != nil {
		return false, fmt.Errorf("transactions done: %w", err)
	}
	return done, nil
}

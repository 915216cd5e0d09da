package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Queue timeouts (a job's timeouts.queue, LAVA's check_queue_timeout): the
// scheduler reads the definitions of newly queued jobs that may carry one,
// and cancels a job still queued when its time is up.

// QueuedDefinition is a queued job whose definition mentions "queue".
type QueuedDefinition struct {
	ID         int64
	SubmitTime time.Time
	Definition string
}

const queuedDefinitionsSQL = `-- name: SchedulerQueuedDefinitions :many
SELECT id, submit_time, definition FROM jobs
WHERE realm_id = $1 AND id > $2 AND id <= $3 AND state = 'Submitted' AND definition LIKE '%queue%'
ORDER BY id`

// QueuedDefinitions returns the queued jobs of the realm with ids above
// after whose definition mentions "queue", and the id to pass as after
// next time (the newest job id now), so each job is read once.
func (s *Store) QueuedDefinitions(ctx context.Context, realmID, after int64) ([]QueuedDefinition, int64, error) {
	var upTo int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM jobs`).Scan(&upTo); err != nil {
		return nil, after, fmt.Errorf("newest job: %w", err)
	}
	if upTo <= after {
		return nil, after, nil
	}
	rows, err := s.pool.Query(ctx, queuedDefinitionsSQL, realmID, after, upTo)
	if err != nil {
		return nil, after, fmt.Errorf("read queued definitions: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[QueuedDefinition])
	if err != nil {
		return nil, after, fmt.Errorf("read queued definitions: %w", err)
	}
	return out, upTo, nil
}

// CancelQueued cancels a job that is still Submitted, and with it its
// whole MultiNode group, as LAVA does when a queue timeout passes: each
// goes Finished/Canceled with comment, with its events. It reports whether
// the job was still queued.
func (s *Store) CancelQueued(ctx context.Context, realmID, id int64, comment string) (bool, error) {
	canceled := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		j, err := lockJob(ctx, tx, id)
		if err != nil {
			return err
		}
		if j.RealmID != realmID || j.State != JobSubmitted {
			return nil
		}
		jobs := []*Job{j}
		if j.IsMultinode() {
			rows, err := tx.Query(ctx, `SELECT id FROM jobs WHERE target_group = $1 AND id <> $2 ORDER BY id`, *j.TargetGroup, j.ID)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			for _, gid := range ids {
				sub, err := lockJob(ctx, tx, gid)
				if err != nil {
					return err
				}
				jobs = append(jobs, sub)
			}
		}
		for _, sub := range jobs {
			sub.FailureComment = &comment
			if err := cancelJob(ctx, tx, sub, true); err != nil {
				return err
			}
		}
		canceled = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("cancel queued job %d: %w", id, err)
	}
	return canceled, nil
}

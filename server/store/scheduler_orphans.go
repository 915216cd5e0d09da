package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// A MultiNode sub-job on a dynamic connection has no device: it runs on the
// worker of its group's device jobs and ends with them. When those ended
// (their worker lost, or the host job finished) and the sub-job still has
// not reported after the grace, nothing will ever end it: it is an orphan.

const orphanJobsSQL = `-- name: SchedulerOrphanJobs :many
SELECT j.id FROM jobs j
WHERE j.realm_id = $1 AND j.actual_device_id IS NULL AND j.target_group IS NOT NULL
  AND j.state IN ('Scheduled', 'Running', 'Canceling')
  AND NOT EXISTS (SELECT 1 FROM jobs h WHERE h.target_group = j.target_group
      AND h.actual_device_id IS NOT NULL AND h.state IN ('Scheduled', 'Running', 'Canceling'))
  AND (SELECT max(h.end_time) FROM jobs h WHERE h.target_group = j.target_group
      AND h.actual_device_id IS NOT NULL) < now() - make_interval(secs => $2)
ORDER BY j.id`

// FailOrphanJobs ends the dynamic-connection sub-jobs whose group has had
// no device job active for longer than grace: Incomplete (Canceled when
// Canceling) with an Infrastructure failure. It returns their ids.
func (s *Store) FailOrphanJobs(ctx context.Context, realmID int64, grace time.Duration) ([]int64, error) {
	rows, err := s.pool.Query(ctx, orphanJobsSQL, realmID, grace.Seconds())
	if err != nil {
		return nil, fmt.Errorf("list orphan jobs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list orphan jobs: %w", err)
	}
	var ended []int64
	for _, id := range ids {
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			j, err := lockJob(ctx, tx, id)
			if err != nil {
				return err
			}
			if j.ActualDeviceID != nil || (j.State != JobScheduled && j.State != JobRunning && j.State != JobCanceling) {
				return nil // it ended meanwhile
			}
			health := JobHealthIncomplete
			if j.State == JobCanceling {
				health = JobHealthCanceled
			}
			now := time.Now().UTC()
			if j.StartTime == nil {
				j.StartTime = &now
			}
			comment := "Dynamic connection lost: the device jobs of its MultiNode group ended and it never reported"
			j.EndTime, j.FailureType, j.FailureComment = &now, "Infrastructure", &comment
			ended = append(ended, id)
			return setJobState(ctx, tx, j, JobFinished, health)
		})
		if err != nil {
			return ended, fmt.Errorf("fail orphan job %d: %w", id, err)
		}
	}
	return ended, nil
}

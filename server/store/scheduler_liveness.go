package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Worker liveness: a worker that stops pinging goes Offline (LAVA: after 60
// s), and the jobs left on it end Incomplete once it has been gone for a
// grace period, so no job stays Running forever.

const markStaleWorkersSQL = `-- name: SchedulerMarkStaleWorkers :many
UPDATE workers w SET state = 'Offline'
WHERE w.id IN (SELECT id FROM workers WHERE realm_id = $1 AND state = 'Online'
    AND (last_ping IS NULL OR last_ping < now() - make_interval(secs => $2))
    FOR UPDATE SKIP LOCKED)
RETURNING ` + workerColumns

// MarkStaleWorkersOffline sets Offline, with a .worker event each, the
// Online workers of the realm whose last ping is older than olderThan, and
// returns their hostnames.
func (s *Store) MarkStaleWorkersOffline(ctx context.Context, realmID int64, olderThan time.Duration) ([]string, error) {
	var names []string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, markStaleWorkersSQL, realmID, olderThan.Seconds())
		if err != nil {
			return err
		}
		workers, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Worker, error) { return scanWorker(r) })
		if err != nil {
			return err
		}
		for _, w := range workers {
			if err := workerEvent(ctx, tx, w); err != nil {
				return err
			}
			names = append(names, w.Hostname)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mark stale workers offline: %w", err)
	}
	return names, nil
}

// A worker is lost when Offline and silent for longer than the grace
// period (measured from its last ping, since no column records when it
// went Offline).
const lostJobsSQL = `-- name: SchedulerLostJobs :many
SELECT j.id FROM jobs j
JOIN devices d ON d.id = j.actual_device_id
JOIN workers w ON w.id = d.worker_id
WHERE j.realm_id = $1 AND j.state IN ('Scheduled', 'Running', 'Canceling')
  AND w.state = 'Offline' AND (w.last_ping IS NULL OR w.last_ping < now() - make_interval(secs => $2))
ORDER BY j.id`

const lostWorkerSQL = `-- name: SchedulerLostWorker :one
SELECT w.hostname, w.last_ping, w.state = 'Offline' AND (w.last_ping IS NULL OR w.last_ping < now() - make_interval(secs => $2))
FROM devices d JOIN workers w ON w.id = d.worker_id WHERE d.id = $1
FOR SHARE OF w`

// LostJob is a job ended by FailLostJobs.
type LostJob struct {
	ID     int64
	Worker string
}

// FailLostJobs ends the Scheduled, Running and Canceling jobs of the realm
// whose device's worker has been Offline without a ping for longer than
// lostAfter: each, in its own transaction, goes Finished with health
// Incomplete (Canceled if it was Canceling), failure type Infrastructure
// and a comment naming the worker; its device goes Idle, and Unknown if it
// was Good or Unknown (an admin's Maintenance, Bad or Retired and a Looping
// device keep their health), so it gets a health check before another job.
// An essential MultiNode role cancels its group, as on any failure.
func (s *Store) FailLostJobs(ctx context.Context, realmID int64, lostAfter time.Duration) ([]LostJob, error) {
	rows, err := s.pool.Query(ctx, lostJobsSQL, realmID, lostAfter.Seconds())
	if err != nil {
		return nil, fmt.Errorf("list lost jobs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list lost jobs: %w", err)
	}
	var lost []LostJob
	for _, id := range ids {
		worker, err := s.failLostJob(ctx, id, lostAfter)
		if err != nil {
			return lost, err
		}
		if worker != "" {
			lost = append(lost, LostJob{ID: id, Worker: worker})
		}
	}
	return lost, nil
}

// failLostJob ends one lost job; it returns "" when, once locked, the job
// turned out not to be lost any more (it ended, or its worker came back).
func (s *Store) failLostJob(ctx context.Context, id int64, lostAfter time.Duration) (string, error) {
	var worker string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		j, err := lockJob(ctx, tx, id)
		if err != nil {
			return err
		}
		if j.ActualDeviceID == nil || (j.State != JobScheduled && j.State != JobRunning && j.State != JobCanceling) {
			return nil
		}
		var host string
		var lastPing *time.Time
		var gone bool
		if err := tx.QueryRow(ctx, lostWorkerSQL, *j.ActualDeviceID, lostAfter.Seconds()).Scan(&host, &lastPing, &gone); err != nil {
			return fmt.Errorf("read worker of job %d: %w", id, err)
		}
		if !gone {
			return nil
		}
		worker = host
		comment := fmt.Sprintf("Worker %s lost: it never pinged", host)
		if lastPing != nil {
			comment = fmt.Sprintf("Worker %s lost: no ping since %s", host, lastPing.UTC().Format(time.RFC3339))
		}
		return endLostJob(ctx, tx, j, comment)
	})
	if err != nil {
		return "", fmt.Errorf("fail lost job %d: %w", id, err)
	}
	return worker, nil
}

// endLostJob is finishJob for a job whose worker is gone: the device's
// health goes Unknown whatever the job was (a health check lost with its
// worker says nothing about the board, so it does not make the device Bad).
func endLostJob(ctx context.Context, tx pgx.Tx, j *Job, comment string) error {
	health := JobHealthIncomplete
	if j.State == JobCanceling {
		health = JobHealthCanceled
	}
	now := time.Now().UTC()
	if j.StartTime == nil {
		j.StartTime = &now
	}
	j.EndTime = &now
	j.FailureType, j.FailureComment = "Infrastructure", &comment
	if err := setJobState(ctx, tx, j, JobFinished, health); err != nil {
		return err
	}
	var cur string
	if err := tx.QueryRow(ctx, `SELECT health FROM devices WHERE id = $1 FOR UPDATE`, *j.ActualDeviceID).Scan(&cur); err != nil {
		return fmt.Errorf("read device %d health: %w", *j.ActualDeviceID, err)
	}
	newHealth := ""
	if cur == DeviceGood || cur == DeviceUnknown {
		newHealth = DeviceUnknown
	}
	if err := jobSetDevice(ctx, tx, j, DeviceIdle, newHealth, false); err != nil {
		return err
	}
	if essentialRole(j) {
		return cancelGroup(ctx, tx, j)
	}
	return nil
}

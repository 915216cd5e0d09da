package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"golava/pkg/events"
)

// Applying a pass's single-node placements one transaction each costs ten
// round trips a job; ApplyPlacements does a batch of them with a few
// set-based statements in one transaction instead. It keeps the guarantees
// of ApplyAssignment: rows are locked with SKIP LOCKED and checked again, so
// two appliers racing never give a job two devices or a device two jobs, and
// every change writes its events in the same transaction.

// lockBatchJobsSQL locks the queued single-node jobs among $2, reading what
// their events need.
const lockBatchJobsSQL = `-- name: SchedulerLockBatchJobs :many
SELECT j.id, j.realm_id, u.username, j.description, dt.name, j.priority, j.state, j.health,
    j.health_check, j.submit_time, j.start_time, j.end_time
FROM jobs j JOIN users u ON u.id = j.submitter_id
LEFT JOIN device_types dt ON dt.id = j.requested_device_type_id
WHERE j.realm_id = $1 AND j.id = ANY($2::bigint[]) AND j.state = 'Submitted' AND j.target_group IS NULL
FOR UPDATE OF j SKIP LOCKED`

// lockBatchDevicesSQL is lockFreeDevicesSQL with the device type's name,
// which the device event needs.
const lockBatchDevicesSQL = `-- name: SchedulerLockBatchDevices :many
SELECT d.id, d.hostname, dt.name, w.hostname, d.health
FROM devices d JOIN workers w ON w.id = d.worker_id JOIN device_types dt ON dt.id = d.device_type_id
WHERE d.realm_id = $1 AND d.id = ANY($2::bigint[]) AND d.state = 'Idle'
  AND w.state = 'Online' AND w.health = 'Active'
  AND NOT EXISTS (SELECT 1 FROM jobs a WHERE a.actual_device_id = d.id
      AND a.state IN ('Scheduled', 'Running', 'Canceling'))
FOR UPDATE OF d SKIP LOCKED`

const reserveBatchDevicesSQL = `-- name: SchedulerReserveDevices :exec
UPDATE devices d SET state = 'Reserved' FROM unnest($1::bigint[]) AS u(id)
WHERE d.id = u.id AND d.state = 'Idle'`

const scheduleBatchJobsSQL = `-- name: SchedulerScheduleJobs :exec
UPDATE jobs j SET state = 'Scheduled', actual_device_id = u.dev, last_update = now()
FROM unnest($1::bigint[], $2::bigint[]) AS u(id, dev)
WHERE j.id = u.id AND j.state = 'Submitted'`

// insertBatchEventsSQL inserts the events in the order given (ids follow
// it) and notifies the first and last ids, which is all the listeners need:
// the publisher reads rows in id order, the scheduler scans the id range.
const insertBatchEventsSQL = `-- name: SchedulerInsertEvents :exec
WITH ins AS (
    INSERT INTO events (realm_id, topic, username, data)
    SELECT $1, e.topic, e.username, e.data
    FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS e(topic, username, data, n)
    ORDER BY e.n
    RETURNING id)
SELECT pg_notify($5, min(id)::text), pg_notify($5, max(id)::text) FROM ins`

type batchDevice struct {
	freeDevice
	deviceType string
}

// ApplyPlacements schedules single-node placements (each a job on a device)
// in one transaction: each job Submitted -> Scheduled, each device Idle ->
// Reserved, with their events, device event first. It returns those it
// applied; the others were skipped, their job no longer queued, their
// device no longer free or fit, or either locked by another transaction
// (or named twice in placements), and are for the next pass. A placement
// without a device is an error (groups and dynamic connections go through
// ApplyAssignment).
func (s *Store) ApplyPlacements(ctx context.Context, realmID int64, placements []Placement) ([]Placement, error) {
	if !JobTransitionAllowed(JobSubmitted, JobScheduled) {
		return nil, fmt.Errorf("apply placements: %s -> %s: %w", JobSubmitted, JobScheduled, ErrTransition)
	}
	jobIDs := make([]int64, 0, len(placements))
	for _, p := range placements {
		if p.DeviceID == 0 {
			return nil, fmt.Errorf("apply placements: job %d has no device", p.JobID)
		}
		jobIDs = append(jobIDs, p.JobID)
	}
	if len(placements) == 0 {
		return nil, nil
	}
	var applied []Placement
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		applied = nil
		jobs, err := lockBatchJobs(ctx, tx, realmID, jobIDs)
		if err != nil {
			return err
		}
		var devIDs []int64
		for _, p := range placements {
			if jobs[p.JobID] != nil {
				devIDs = append(devIDs, p.DeviceID)
			}
		}
		devices, err := lockBatchDevices(ctx, tx, realmID, devIDs)
		if err != nil {
			return err
		}
		applied = pairPlacements(placements, jobs, devices)
		if len(applied) == 0 {
			return nil
		}
		return writePlacements(ctx, tx, realmID, applied, jobs, devices)
	})
	if err != nil {
		return nil, fmt.Errorf("apply %d placements: %w", len(placements), err)
	}
	return applied, nil
}

// pairPlacements keeps the placements whose job and device are both locked
// and free, and whose device fits the job, each job and device once.
func pairPlacements(placements []Placement, jobs map[int64]*Job, devices map[int64]batchDevice) []Placement {
	var out []Placement
	usedJob := make(map[int64]bool, len(placements))
	usedDev := make(map[int64]bool, len(placements))
	free := make(map[int64]freeDevice, len(devices))
	for id, d := range devices {
		free[id] = d.freeDevice
	}
	for _, p := range placements {
		j := jobs[p.JobID]
		if j == nil || usedJob[p.JobID] || usedDev[p.DeviceID] || deviceFits(free, p, j.HealthCheck) != nil {
			continue
		}
		usedJob[p.JobID], usedDev[p.DeviceID] = true, true
		out = append(out, p)
	}
	return out
}

// writePlacements moves the locked rows and writes the events, in one
// round trip.
func writePlacements(ctx context.Context, tx pgx.Tx, realmID int64, applied []Placement,
	jobs map[int64]*Job, devices map[int64]batchDevice) error {
	jobIDs := make([]int64, len(applied))
	devIDs := make([]int64, len(applied))
	topics := make([]string, 0, 2*len(applied))
	users := make([]string, 0, 2*len(applied))
	data := make([]string, 0, 2*len(applied))
	for i, p := range applied {
		jobIDs[i], devIDs[i] = p.JobID, p.DeviceID
		j, d := jobs[p.JobID], devices[p.DeviceID]
		dev := Device{RealmID: realmID, Hostname: d.hostname, DeviceType: d.deviceType, Worker: &d.worker,
			State: DeviceReserved, Health: d.health, CurrentJob: &j.ID}
		j.State, j.ActualDeviceID = JobScheduled, &p.DeviceID
		j.ActualDevice, j.Worker = &d.hostname, &d.worker
		topics = append(topics, events.TopicDevice, events.TopicTestJob)
		users = append(users, events.ServerUser, j.Submitter)
		data = append(data, deviceEventData(&dev), jobEventData(j))
	}
	b := &pgx.Batch{}
	b.Queue(reserveBatchDevicesSQL, devIDs)
	b.Queue(scheduleBatchJobsSQL, jobIDs, devIDs)
	b.Queue(insertBatchEventsSQL, realmID, topics, users, data, NotifyEvents)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	// The rows are locked and were checked: every update must land, else
	// the events would not match the rows.
	for _, what := range []string{"reserve devices", "schedule jobs"} {
		tag, err := br.Exec()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if n := tag.RowsAffected(); n != int64(len(applied)) {
			return fmt.Errorf("%s: %d of %d rows changed: %w", what, n, len(applied), ErrConflict)
		}
	}
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("insert events of %d jobs: %w", len(applied), err)
	}
	return br.Close()
}

// lockBatchJobs locks the queued single-node jobs among ids, by id.
func lockBatchJobs(ctx context.Context, tx pgx.Tx, realmID int64, ids []int64) (map[int64]*Job, error) {
	out := make(map[int64]*Job, len(ids))
	rows, err := tx.Query(ctx, lockBatchJobsSQL, realmID, ids)
	if err != nil {
		return nil, fmt.Errorf("lock jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		j := &Job{}
		if err := rows.Scan(&j.ID, &j.RealmID, &j.Submitter, &j.Description, &j.RequestedDeviceType,
			&j.Priority, &j.State, &j.Health, &j.HealthCheck, &j.SubmitTime, &j.StartTime, &j.EndTime); err != nil {
			return nil, fmt.Errorf("lock jobs: %w", err)
		}
		out[j.ID] = j
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lock jobs: %w", err)
	}
	return out, nil
}

// lockBatchDevices locks the free devices among ids, by id.
func lockBatchDevices(ctx context.Context, tx pgx.Tx, realmID int64, ids []int64) (map[int64]batchDevice, error) {
	out := make(map[int64]batchDevice, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, lockBatchDevicesSQL, realmID, ids)
	if err != nil {
		return nil, fmt.Errorf("lock devices: %w", err)
	}
	var id int64
	var d batchDevice
	_, err = pgx.ForEachRow(rows, []any{&id, &d.hostname, &d.deviceType, &d.worker, &d.health}, func() error {
		out[id] = d
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lock devices: %w", err)
	}
	return out, nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"

	"golava/pkg/workerapi"
)

// Job state changes, as LAVA's TestJob.go_state_* and Device.testjob_signal.
// setJobState is the only writer of a job's state and health; jobSetDevice
// is how a job moves its device.

// Errors of the job state API.
var (
	// ErrInvalidResult is a FINISHED post whose result is not pass or fail.
	ErrInvalidResult = errors.New("invalid result")
	// ErrForbidden is a change the user may not make (the job is visible).
	ErrForbidden = errors.New("forbidden")
)

// lockJob reads a job with its joined names and locks its row.
func lockJob(ctx context.Context, tx pgx.Tx, id int64) (*Job, error) {
	j, err := scanJob(tx.QueryRow(ctx, selectJobSQL+` WHERE j.id = $1 FOR UPDATE OF j`, id))
	if err != nil {
		return nil, fmt.Errorf("lock job %d: %w", id, err)
	}
	return j, nil
}

const updateJobStateSQL = `-- name: JobSetState :exec
UPDATE jobs SET state = $2, health = $3, start_time = $4, end_time = $5, failure_comment = $6,
    failure_type = $7, pipeline_description = $8, actual_device_id = $9, last_update = now()
WHERE id = $1`

// setJobState moves the locked job j to state to with health, writing the
// other mutable fields of j as the caller set them, and the .testjob event
// when state or health changed. A transition JobTransitionAllowed refuses is
// ErrTransition.
func setJobState(ctx context.Context, tx pgx.Tx, j *Job, to, health string) error {
	if !JobTransitionAllowed(j.State, to) {
		return fmt.Errorf("job %d %s -> %s: %w", j.ID, j.State, to, ErrTransition)
	}
	changed := j.State != to || j.Health != health
	j.State, j.Health = to, health
	_, err := tx.Exec(ctx, updateJobStateSQL, j.ID, j.State, j.Health, j.StartTime, j.EndTime,
		j.FailureComment, j.FailureType, j.PipelineDescription, j.ActualDeviceID)
	if err != nil {
		return fmt.Errorf("set job %d state %s: %w", j.ID, to, err)
	}
	if !changed {
		return nil
	}
	if to == JobFinished {
		return finishedEvents(ctx, tx, j) // with the realm's notice (notices.go)
	}
	return jobEvent(ctx, tx, j)
}

const lockJobDeviceSQL = `SELECT d.id, d.realm_id, d.hostname, d.device_type_id, dt.name, d.worker_id,
    w.hostname, d.state, d.health
FROM devices d JOIN device_types dt ON dt.id = d.device_type_id
LEFT JOIN workers w ON w.id = d.worker_id
WHERE d.id = $1 FOR UPDATE OF d`

// jobSetDevice sets the state of job j's device, and its health unless
// health is "", writing the .device event when either changed. The device's
// current job in the event is j unless the device goes Idle.
func jobSetDevice(ctx context.Context, tx pgx.Tx, j *Job, state, health string, report bool) error {
	var d Device
	err := tx.QueryRow(ctx, lockJobDeviceSQL, *j.ActualDeviceID).Scan(&d.ID, &d.RealmID, &d.Hostname,
		&d.DeviceTypeID, &d.DeviceType, &d.WorkerID, &d.Worker, &d.State, &d.Health)
	if err != nil {
		return fmt.Errorf("lock device %d of job %d: %w", *j.ActualDeviceID, j.ID, err)
	}
	if health == "" {
		health = d.Health
	}
	changed := d.State != state || d.Health != health
	d.State, d.Health = state, health
	q := `UPDATE devices SET state = $2, health = $3 WHERE id = $1`
	args := []any{d.ID, d.State, d.Health}
	if report {
		q = `UPDATE devices SET state = $2, health = $3, last_health_report_job_id = $4 WHERE id = $1`
		args = append(args, j.ID)
	}
	if _, err := tx.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("set device %s %s/%s: %w", d.Hostname, state, health, err)
	}
	if !changed {
		return nil
	}
	if state != DeviceIdle {
		d.CurrentJob, d.CurrentSubID = &j.ID, j.SubID
	}
	return deviceEvent(ctx, tx, &d)
}

// JobStarted records the worker's RUNNING post: Scheduled -> Running with
// start_time, the device Reserved -> Running. A job already Running,
// Canceling or Finished is left alone (the post is idempotent).
func (s *Store) JobStarted(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		j, err := lockJob(ctx, tx, id)
		if err != nil {
			return err
		}
		switch j.State {
		case JobRunning, JobCanceling, JobFinished:
			return nil
		}
		now := time.Now().UTC()
		j.StartTime = &now
		if err := setJobState(ctx, tx, j, JobRunning, j.Health); err != nil {
			return err
		}
		if j.ActualDeviceID == nil {
			return nil
		}
		return jobSetDevice(ctx, tx, j, DeviceRunning, "", false)
	})
}

// infrastructureErrors are the error types after which LAVA does not trust
// the device any more (its health goes Unknown).
var infrastructureErrors = map[string]bool{"Bug": true, "Configuration": true, "Infrastructure": true}

// JobFinished records the worker's FINISHED post (PROTOCOLS.md "End of
// job"). A job already Finished is left alone.
func (s *Store) JobFinished(ctx context.Context, id int64, f workerapi.Finish) error {
	health := JobHealthComplete
	switch f.Result {
	case "pass":
	case "fail":
		health = JobHealthIncomplete
	default:
		return fmt.Errorf("job %d: %w %q", id, ErrInvalidResult, f.Result)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		j, err := lockJob(ctx, tx, id)
		if err != nil {
			return err
		}
		if j.State == JobFinished {
			return nil
		}
		if f.Errors != "" {
			j.FailureComment = &f.Errors
		}
		j.FailureType = f.ErrorType
		j.PipelineDescription = &f.Description
		return finishJob(ctx, tx, j, health, infrastructureErrors[f.ErrorType])
	})
}

// finishJob is LAVA's go_state_finished on a locked job.
func finishJob(ctx context.Context, tx pgx.Tx, j *Job, health string, infraError bool) error {
	final := health
	if j.State == JobCanceling {
		final = JobHealthCanceled
	}
	now := time.Now().UTC()
	if j.StartTime == nil {
		j.StartTime = &now
	}
	j.EndTime = &now
	if err := setJobState(ctx, tx, j, JobFinished, final); err != nil {
		return err
	}
	if j.ActualDeviceID != nil {
		if err := finishDevice(ctx, tx, j, infraError); err != nil {
			return err
		}
	}
	if health == JobHealthIncomplete && essentialRole(j) {
		return cancelGroup(ctx, tx, j)
	}
	return nil
}

// finishDevice frees the device: a health check sets Good or Bad (a Looping
// device stays Looping); an infrastructure error sets Unknown.
func finishDevice(ctx context.Context, tx pgx.Tx, j *Job, infraError bool) error {
	var cur string
	if err := tx.QueryRow(ctx, `SELECT health FROM devices WHERE id = $1 FOR UPDATE`, *j.ActualDeviceID).Scan(&cur); err != nil {
		return fmt.Errorf("read device %d health: %w", *j.ActualDeviceID, err)
	}
	health := ""
	switch {
	case j.HealthCheck:
		if cur == DeviceGood || cur == DeviceUnknown || cur == DeviceBad {
			health = DeviceBad
			if j.Health == JobHealthComplete {
				health = DeviceGood
			}
		}
	case infraError:
		health = DeviceUnknown
	}
	return jobSetDevice(ctx, tx, j, DeviceIdle, health, j.HealthCheck)
}

// cancelJob is LAVA's go_state_canceling on a locked job.
func cancelJob(ctx context.Context, tx pgx.Tx, j *Job, subCancel bool) error {
	switch j.State {
	case JobCanceling, JobFinished:
		return nil
	case JobSubmitted:
		return finishJob(ctx, tx, j, JobHealthCanceled, false)
	}
	if err := setJobState(ctx, tx, j, JobCanceling, j.Health); err != nil {
		return err
	}
	if !subCancel && essentialRole(j) {
		return cancelGroup(ctx, tx, j)
	}
	return nil
}

// cancelGroup cancels the other jobs of j's MultiNode group.
func cancelGroup(ctx context.Context, tx pgx.Tx, j *Job) error {
	rows, err := tx.Query(ctx, `SELECT id FROM jobs WHERE target_group = $1 AND id <> $2 ORDER BY id`, *j.TargetGroup, j.ID)
	if err != nil {
		return fmt.Errorf("list group of job %d: %w", j.ID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("list group of job %d: %w", j.ID, err)
	}
	for _, id := range ids {
		sub, err := lockJob(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := cancelJob(ctx, tx, sub, true); err != nil {
			return err
		}
	}
	return nil
}

// essentialRole reads protocols.lava-multinode.essential of a sub-job's
// definition (LAVA's TestJob.essential_role).
func essentialRole(j *Job) bool {
	if !j.IsMultinode() {
		return false
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(j.Definition), &root); err != nil {
		return false
	}
	n := mapGet(mapGet(mapGet(topMapping(&root), "protocols"), "lava-multinode"), "essential")
	if n == nil {
		return false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Value {
		case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON":
			return true
		}
		return false
	case yaml.MappingNode, yaml.SequenceNode:
		return len(n.Content) > 0
	}
	return false
}

// CancelJob cancels a job the user can see, as LAVA's TestJob.cancel: the
// submitter or a superuser may cancel; a MultiNode job cancels its whole
// group. Canceling a job that already ended is a no-op.
func (s *Store) CancelJob(ctx context.Context, realmID, id int64, user *User) error {
	if _, err := s.GetJob(ctx, realmID, id, user); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		j, err := lockJob(ctx, tx, id)
		if err != nil {
			return err
		}
		allowed := user != nil && (user.IsSuperuser || user.ID == j.SubmitterID)
		if !allowed || j.State == JobCanceling || j.State == JobFinished {
			if j.State == JobCanceling || j.State == JobFinished {
				return nil
			}
			return fmt.Errorf("cancel job %d: %w", id, ErrForbidden)
		}
		if !j.IsMultinode() {
			return cancelJob(ctx, tx, j, false)
		}
		rows, err := tx.Query(ctx, `SELECT id FROM jobs WHERE target_group = $1 ORDER BY id`, *j.TargetGroup)
		if err != nil {
			return fmt.Errorf("list group of job %d: %w", id, err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("list group of job %d: %w", id, err)
		}
		for _, gid := range ids {
			sub, err := lockJob(ctx, tx, gid)
			if err != nil {
				return err
			}
			if err := cancelJob(ctx, tx, sub, false); err != nil {
				return err
			}
		}
		return nil
	})
}

package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"
)

// The scheduler's writes. Each applies one decision in one transaction,
// after locking the rows it changes with SKIP LOCKED and checking again that
// they are still as the decision saw them, so two schedulers racing (or a
// cancel, or a worker going away, meanwhile) never give a job two devices or
// a device two jobs: the loser gets ErrConflict and changes nothing.

// ErrInvalidHealthCheck is a device type's health-check definition that
// cannot make a job; the device was set Bad, as LAVA does.
var ErrInvalidHealthCheck = errors.New("invalid health check")

// HealthCheckUser is the account that submits health checks, as in LAVA.
const HealthCheckUser = "lava-health"

// A device is free when Idle, on an Online and Active worker, and no job
// holds it (a belt to the state's braces).
const lockFreeDevicesSQL = `-- name: SchedulerLockDevices :many
SELECT d.id, d.hostname, w.hostname, d.health FROM devices d JOIN workers w ON w.id = d.worker_id
WHERE d.realm_id = $1 AND d.id = ANY($2::bigint[]) AND d.state = 'Idle'
  AND w.state = 'Online' AND w.health = 'Active'
  AND NOT EXISTS (SELECT 1 FROM jobs a WHERE a.actual_device_id = d.id
      AND a.state IN ('Scheduled', 'Running', 'Canceling'))
FOR UPDATE OF d SKIP LOCKED`

type freeDevice struct {
	hostname, worker, health string
}

// lockFreeDevices locks the free devices among ids and returns them by id.
func lockFreeDevices(ctx context.Context, tx pgx.Tx, realmID int64, ids []int64) (map[int64]freeDevice, error) {
	rows, err := tx.Query(ctx, lockFreeDevicesSQL, realmID, ids)
	if err != nil {
		return nil, fmt.Errorf("lock devices: %w", err)
	}
	out := make(map[int64]freeDevice, len(ids))
	var id int64
	var d freeDevice
	_, err = pgx.ForEachRow(rows, []any{&id, &d.hostname, &d.worker, &d.health}, func() error {
		out[id] = d
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lock devices: %w", err)
	}
	return out, nil
}

// ApplyAssignment schedules the placements of one assignment (one job, or
// every sub-job of a MultiNode group) in one transaction: each job
// Submitted -> Scheduled on its device, each device Idle -> Reserved, with
// their events; a group's sub-jobs learn the roles of the whole group. When
// a job is no longer queued, a device is no longer free (or is locked by
// another transaction), or the group is not whole, nothing changes and the
// error is ErrConflict.
func (s *Store) ApplyAssignment(ctx context.Context, realmID int64, placements []Placement) error {
	if len(placements) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		jobIDs := make([]int64, len(placements))
		var devIDs []int64
		for i, p := range placements {
			jobIDs[i] = p.JobID
			if p.DeviceID != 0 {
				devIDs = append(devIDs, p.DeviceID)
			}
		}
		jobs, err := lockQueuedJobs(ctx, tx, realmID, jobIDs)
		if err != nil {
			return err
		}
		devices, err := lockFreeDevices(ctx, tx, realmID, devIDs)
		if err != nil {
			return err
		}
		for _, p := range placements {
			if err := deviceFits(devices, p, jobs[p.JobID].HealthCheck); err != nil {
				return err
			}
		}
		if len(placements) > 1 {
			if err := setGroupRoles(ctx, tx, jobs); err != nil {
				return err
			}
		}
		for _, p := range placements {
			if err := scheduleJob(ctx, tx, jobs[p.JobID], p.DeviceID, devices[p.DeviceID]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("apply assignment of job %d: %w", placements[0].JobID, err)
	}
	return nil
}

// lockQueuedJobs locks and reads the jobs, all of which must be queued and
// be one single-node job or a whole MultiNode group.
func lockQueuedJobs(ctx context.Context, tx pgx.Tx, realmID int64, ids []int64) (map[int64]*Job, error) {
	rows, err := tx.Query(ctx, selectJobSQL+` WHERE j.realm_id = $1 AND j.id = ANY($2::bigint[])
    AND j.state = 'Submitted' FOR UPDATE OF j SKIP LOCKED`, realmID, ids)
	if err != nil {
		return nil, fmt.Errorf("lock jobs: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Job, error) { return scanJob(r) })
	if err != nil {
		return nil, fmt.Errorf("lock jobs: %w", err)
	}
	if len(list) != len(ids) {
		return nil, fmt.Errorf("%d of %d jobs no longer queued or locked: %w", len(ids)-len(list), len(ids), ErrConflict)
	}
	jobs := make(map[int64]*Job, len(list))
	for _, j := range list {
		jobs[j.ID] = j
	}
	group := list[0].TargetGroup
	if group == nil {
		if len(list) != 1 {
			return nil, fmt.Errorf("%d single-node jobs in one assignment: %w", len(list), ErrConflict)
		}
		return jobs, nil
	}
	for _, j := range list {
		if j.TargetGroup == nil || *j.TargetGroup != *group {
			return nil, fmt.Errorf("jobs of several groups in one assignment: %w", ErrConflict)
		}
	}
	var size int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE target_group = $1`, *group).Scan(&size); err != nil {
		return nil, fmt.Errorf("count group %s: %w", *group, err)
	}
	if size != len(list) {
		return nil, fmt.Errorf("group %s has %d jobs, %d placed: %w", *group, size, len(list), ErrConflict)
	}
	return jobs, nil
}

// deviceFits checks that the placement's device is locked and free, and
// healthy enough: Good or Unknown, or Looping for a health check.
func deviceFits(devices map[int64]freeDevice, p Placement, healthCheck bool) error {
	if p.DeviceID == 0 {
		return nil
	}
	d, ok := devices[p.DeviceID]
	if !ok {
		return fmt.Errorf("device %d no longer free or locked: %w", p.DeviceID, ErrConflict)
	}
	switch d.health {
	case DeviceGood, DeviceUnknown:
		return nil
	case DeviceLooping:
		if healthCheck {
			return nil
		}
	}
	return fmt.Errorf("device %s is %s: %w", d.hostname, d.health, ErrConflict)
}

// scheduleJob moves a locked, queued job to Scheduled on its device (which
// goes Reserved; 0 for a dynamic connection), device event first, as LAVA's
// go_state_scheduled saves the device before the job.
func scheduleJob(ctx context.Context, tx pgx.Tx, j *Job, deviceID int64, dev freeDevice) error {
	if deviceID != 0 {
		j.ActualDeviceID = &deviceID
		if err := jobSetDevice(ctx, tx, j, DeviceReserved, "", false); err != nil {
			return err
		}
		j.ActualDevice, j.Worker = &dev.hostname, &dev.worker
	}
	return setJobState(ctx, tx, j, JobScheduled, j.Health)
}

// setGroupRoles writes into every sub-job's definition the roles of the
// group, protocols.lava-multinode.roles = {"<job id>": role} over the
// sub-jobs that have a device, as LAVA's transition_multinode_jobs does
// when a group is scheduled.
func setGroupRoles(ctx context.Context, tx pgx.Tx, jobs map[int64]*Job) error {
	ids := make([]int64, 0, len(jobs))
	for id := range jobs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	roles := newMap()
	for _, id := range ids {
		if j := jobs[id]; j.RequestedDeviceTypeID != nil || j.RequestedDeviceID != nil {
			mapSet(roles, strconv.FormatInt(id, 10), strScalar(j.Role))
		}
	}
	for _, id := range ids {
		def, err := withRoles(jobs[id].Definition, roles)
		if err != nil {
			return fmt.Errorf("set roles of job %d: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE jobs SET definition = $2 WHERE id = $1`, id, def); err != nil {
			return fmt.Errorf("set roles of job %d: %w", id, err)
		}
		jobs[id].Definition = def
	}
	return nil
}

// withRoles returns definition with protocols.lava-multinode.roles set.
func withRoles(definition string, roles *yaml.Node) (string, error) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(definition), &root); err != nil {
		return "", err
	}
	mn := mapGet(mapGet(topMapping(&root), "protocols"), "lava-multinode")
	if mn == nil || mn.Kind != yaml.MappingNode {
		return "", errors.New("no protocols.lava-multinode mapping")
	}
	mapSet(mn, "roles", copyNode(roles))
	return encodeYAML(&root)
}

// ApplyHealthCheck creates the health-check job of the device's type,
// submitted by lava-health, and schedules it on the device in one
// transaction. It returns the new job's id. ErrConflict: the device is no
// longer free, or its type has no (enabled) health check. A definition that
// cannot make a job sets the device Bad and returns ErrInvalidHealthCheck.
func (s *Store) ApplyHealthCheck(ctx context.Context, realmID, deviceID int64) (int64, error) {
	var id int64
	var invalid error
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		devices, err := lockFreeDevices(ctx, tx, realmID, []int64{deviceID})
		if err != nil {
			return err
		}
		dev, ok := devices[deviceID]
		if !ok || !(dev.health == DeviceGood || dev.health == DeviceUnknown || dev.health == DeviceLooping) {
			return fmt.Errorf("device %d no longer free: %w", deviceID, ErrConflict)
		}
		var typeID int64
		var def string
		var disabled bool
		err = tx.QueryRow(ctx, `SELECT t.id, coalesce(t.health_check, ''), t.disable_health_check
FROM devices d JOIN device_types t ON t.id = d.device_type_id WHERE d.id = $1`, deviceID).Scan(&typeID, &def, &disabled)
		if err != nil {
			return fmt.Errorf("read health check of device %d: %w", deviceID, err)
		}
		if def == "" || disabled {
			return fmt.Errorf("device %s: no health check: %w", dev.hostname, ErrConflict)
		}
		nj, perr := parseHealthCheck(def)
		if perr != nil {
			invalid = fmt.Errorf("device %s: %w: %v", dev.hostname, ErrInvalidHealthCheck, perr)
			return schedSetDeviceHealth(ctx, tx, realmID, deviceID, DeviceBad)
		}
		nj.deviceTypeID = &typeID
		id, err = insertHealthCheck(ctx, tx, realmID, nj)
		if err != nil {
			return err
		}
		j, err := lockJob(ctx, tx, id)
		if err != nil {
			return err
		}
		return scheduleJob(ctx, tx, j, deviceID, dev)
	})
	if err != nil {
		return 0, fmt.Errorf("health check on device %d: %w", deviceID, err)
	}
	return id, invalid
}

// insertHealthCheck stores the health-check job as Submitted, with its event.
func insertHealthCheck(ctx context.Context, tx pgx.Tx, realmID int64, nj *newJob) (int64, error) {
	var userID int64
	err := tx.QueryRow(ctx, `WITH ins AS (
    INSERT INTO users (username, is_active) VALUES ($1, true) ON CONFLICT (username) DO NOTHING RETURNING id)
SELECT id FROM ins UNION ALL SELECT id FROM users WHERE username = $1 LIMIT 1`, HealthCheckUser).Scan(&userID)
	if err != nil {
		return 0, fmt.Errorf("user %s: %w", HealthCheckUser, err)
	}
	id, err := insertJob(ctx, tx, realmID, &User{ID: userID}, nj)
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `UPDATE jobs SET health_check = true WHERE id = $1`, id); err != nil {
		return 0, fmt.Errorf("mark job %d health check: %w", id, err)
	}
	return id, emitJobEvent(ctx, tx, id)
}

// parseHealthCheck reads the fields LAVA's _create_pipeline_job takes from
// a health-check definition: job_name (required), priority and visibility.
func parseHealthCheck(def string) (*newJob, error) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(def), &root); err != nil {
		return nil, err
	}
	top := topMapping(&root)
	if top == nil {
		return nil, errors.New("not a mapping")
	}
	nj := &newJob{definition: def, original: def, priority: 50}
	name := mapGet(top, "job_name")
	if name == nil || name.Kind != yaml.ScalarNode {
		return nil, errors.New("job_name: required")
	}
	nj.description = name.Value
	if p := mapGet(top, "priority"); p != nil {
		n, ok := map[string]int{"low": 0, "medium": 50, "high": 100}[strings.ToLower(p.Value)]
		if !ok {
			var err error
			if n, err = strconv.Atoi(p.Value); err != nil || n < 0 || n > 100 {
				return nil, fmt.Errorf("priority: invalid %q", p.Value)
			}
		}
		nj.priority = n
	}
	v := mapGet(top, "visibility")
	switch {
	case v == nil:
		return nil, errors.New("visibility: required")
	case v.Kind == yaml.ScalarNode && v.Value == "public":
		nj.visibility = "public"
	case v.Kind == yaml.ScalarNode:
		nj.visibility = "personal"
	default:
		nj.visibility = "group"
	}
	return nj, nil
}

// schedSetDeviceHealth sets a device's health, with its event when it
// changes (the devices file's SetDeviceHealth is the admin's, by hostname).
func schedSetDeviceHealth(ctx context.Context, tx pgx.Tx, realmID, deviceID int64, health string) error {
	var d Device
	err := tx.QueryRow(ctx, `SELECT d.id, d.realm_id, d.hostname, d.device_type_id, dt.name, d.worker_id,
    w.hostname, d.state, d.health, a.id, coalesce(a.sub_id, '')
FROM devices d JOIN device_types dt ON dt.id = d.device_type_id
LEFT JOIN workers w ON w.id = d.worker_id
LEFT JOIN jobs a ON a.actual_device_id = d.id AND a.state IN ('Scheduled', 'Running', 'Canceling')
WHERE d.id = $1 AND d.realm_id = $2 FOR UPDATE OF d`, deviceID, realmID).Scan(&d.ID, &d.RealmID, &d.Hostname,
		&d.DeviceTypeID, &d.DeviceType, &d.WorkerID, &d.Worker, &d.State, &d.Health, &d.CurrentJob, &d.CurrentSubID)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if d.Health == health {
		return nil
	}
	d.Health = health
	if _, err := tx.Exec(ctx, `UPDATE devices SET health = $2 WHERE id = $1`, d.ID, health); err != nil {
		return err
	}
	return deviceEvent(ctx, tx, &d)
}

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The scheduler's reads: one consistent snapshot of the queue and of the
// devices that could take a job, as plain values for scheduler.Decide. The
// writes that apply its plan are in scheduler_apply.go.

// SchedJob is one queued (Submitted) job, or one sub-job of a MultiNode group.
type SchedJob struct {
	ID       int64
	Priority int
	// DeviceType is the requested device type id; 0 when the job asks for
	// one device (Device) or needs no device (a MultiNode dynamic connection).
	DeviceType int64
	// Device is the requested device id (a target), 0 for any device of the type.
	Device      int64
	Tags        []string
	HealthCheck bool
	// Group is the MultiNode target group, "" for a single-node job.
	Group string
	// GroupSize is how many sub-jobs the group has in all; the group is
	// scheduled only when all of them are queued and all get a device.
	GroupSize int
	// Share is the weighted group (fair share) of the submitter, 0 for none.
	Share int64
}

// SchedDevice is one board with what the decision needs of it.
type SchedDevice struct {
	ID       int64
	Hostname string
	Type     int64
	// Worker is the id of the worker the device is attached to, 0 for none.
	Worker int64
	State  string
	Health string
	Tags   []string
	// LastHealthCheck is the submit time of the device's last health-check
	// job, nil when it never had one.
	LastHealthCheck *time.Time
	// JobsSinceHealthCheck counts the normal jobs started on the device since
	// LastHealthCheck; only filled for types whose frequency is in jobs.
	JobsSinceHealthCheck int
}

// SchedDeviceType carries the health-check policy of its devices.
type SchedDeviceType struct {
	ID   int64
	Name string
	// Display false hides the type; LAVA never schedules on hidden types.
	Display bool
	// HasHealthCheck is true when the type has a health-check definition.
	HasHealthCheck      bool
	HealthCheckDisabled bool
	// HealthFrequency is in hours, or in jobs when HealthPerJobs.
	HealthFrequency int
	HealthPerJobs   bool
}

// SchedWorker is a lab host; Busy counts its devices that are Reserved or Running.
type SchedWorker struct {
	ID       int64
	Hostname string
	State    string
	Health   string
	// JobLimit caps Busy; 0 means no limit.
	JobLimit int
	Busy     int
}

// SchedulerState is what one scheduling pass reads.
type SchedulerState struct {
	// Now is the database clock when the snapshot was taken.
	Now         time.Time
	Jobs        []SchedJob
	Devices     []SchedDevice
	DeviceTypes []SchedDeviceType
	Workers     []SchedWorker
	// Shares are the weighted groups by id (nil when none is weighted).
	Shares map[int64]SchedShare
}

// Placement puts one job on one device; DeviceID is 0 for a MultiNode
// dynamic connection, which needs no device.
type Placement struct {
	JobID    int64
	DeviceID int64
}

const schedDeviceTypesSQL = `-- name: SchedulerDeviceTypes :many
SELECT id, name, display, coalesce(health_check, '') <> '', disable_health_check,
    health_frequency, health_denominator = 'jobs'
FROM device_types WHERE realm_id = $1`

const schedWorkersSQL = `-- name: SchedulerWorkers :many
SELECT w.id, w.hostname, w.state, w.health, w.job_limit,
    (SELECT count(*) FROM devices d WHERE d.worker_id = w.id AND d.state <> 'Idle')
FROM workers w WHERE w.realm_id = $1`

// Only devices that could take a job or a health check are read: Idle and
// not Bad, in Maintenance or Retired.
const schedDevicesSQL = `-- name: SchedulerDevices :many
SELECT d.id, d.hostname, d.device_type_id, coalesce(d.worker_id, 0), d.state, d.health,
    ARRAY(SELECT t.name FROM device_tags dt JOIN tags t ON t.id = dt.tag_id WHERE dt.device_id = d.id),
    (SELECT h.submit_time FROM jobs h WHERE h.id = d.last_health_report_job_id)
FROM devices d
WHERE d.realm_id = $1 AND d.state = 'Idle' AND d.health IN ('Good', 'Unknown', 'Looping')`

// Normal jobs started on each Idle, Good device since its last health check,
// for types that count health-check frequency in jobs. One scan of those
// devices' jobs, run only when such a type exists.
const schedJobsSinceCheckSQL = `-- name: SchedulerJobsSinceCheck :many
SELECT d.id, count(j.id)
FROM devices d
JOIN device_types t ON t.id = d.device_type_id AND t.health_denominator = 'jobs'
JOIN jobs h ON h.id = d.last_health_report_job_id
JOIN jobs j ON j.actual_device_id = d.id AND NOT j.health_check AND j.start_time >= h.submit_time
WHERE d.realm_id = $1 AND d.state = 'Idle' AND d.health = 'Good'
GROUP BY d.id`

// The queue, bounded: for each device type with Idle devices that could
// work, the first jobs in priority then submission order, at most max($2,
// 4 × its Idle devices), read by a short scan of the index jobs_queue_type;
// jobs of a type with no such device are not read at all, since no device
// could take them this pass. Jobs that name a device and no type come from
// the same index (type NULL). Sub-jobs of MultiNode groups cut by the bound
// are added by schedGroupsSQL, so that groups are whole.
const schedJobColumns = `j.id, j.priority, coalesce(j.requested_device_type_id, 0),
    coalesce(j.requested_device_id, 0), j.health_check, coalesce(j.target_group, ''),
    CASE WHEN j.target_group IS NULL THEN 0
        ELSE (SELECT count(*) FROM jobs g WHERE g.target_group = j.target_group) END`

const schedQueueSQL = `-- name: SchedulerQueue :many
WITH idle AS (
    SELECT device_type_id, count(*) AS n FROM devices
    WHERE realm_id = $1 AND state = 'Idle' AND health IN ('Good', 'Unknown', 'Looping')
    GROUP BY device_type_id
)
SELECT ` + schedJobColumns + `
FROM idle CROSS JOIN LATERAL (
    SELECT * FROM jobs j
    WHERE j.realm_id = $1 AND j.state = 'Submitted' AND j.requested_device_type_id = idle.device_type_id
    ORDER BY j.priority DESC, j.id
    LIMIT greatest($2, 4 * idle.n)) j
UNION ALL
SELECT ` + schedJobColumns + `
FROM (SELECT * FROM jobs j
    WHERE j.realm_id = $1 AND j.state = 'Submitted' AND j.requested_device_type_id IS NULL
      AND j.requested_device_id IS NOT NULL
    ORDER BY j.priority DESC, j.id
    LIMIT greatest($2, 4 * (SELECT coalesce(sum(n), 0) FROM idle))) j`

const schedGroupsSQL = `-- name: SchedulerGroups :many
SELECT ` + schedJobColumns + `
FROM jobs j
WHERE j.target_group = ANY($1::text[]) AND j.state = 'Submitted' AND NOT j.id = ANY($2::bigint[])`

const schedJobTagsSQL = `-- name: SchedulerJobTags :many
SELECT jt.job_id, t.name FROM job_tags jt JOIN tags t ON t.id = jt.tag_id
WHERE jt.job_id = ANY($1::bigint[])`

// DefaultQueueWindow is SchedulerState's per-type bound when given 0.
const DefaultQueueWindow = 500

// SchedulerState reads the queue and the schedulable devices of a realm in
// one read-only snapshot. window bounds the jobs read per requested device
// type (see schedQueueSQL); 0 means DefaultQueueWindow. A job beyond the
// window waits for a later pass, which only matters when the first window
// of jobs of a type all ask for tags no idle device has.
func (s *Store) SchedulerState(ctx context.Context, realmID int64, window int) (*SchedulerState, error) {
	if window <= 0 {
		window = DefaultQueueWindow
	}
	st := &SchedulerState{}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			// The queries are cheap but large: PostgreSQL's JIT would spend
			// more compiling them (0.5 s at 100,000 jobs) than running them,
			// and the queue's sort should stay in memory.
			if _, err := tx.Exec(ctx, `SET LOCAL jit = off; SET LOCAL work_mem = '64MB'`); err != nil {
				return fmt.Errorf("tune snapshot: %w", err)
			}
			if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&st.Now); err != nil {
				return fmt.Errorf("read clock: %w", err)
			}
			if err := loadSchedTypes(ctx, tx, realmID, st); err != nil {
				return err
			}
			if err := loadSchedWorkers(ctx, tx, realmID, st); err != nil {
				return err
			}
			if err := loadSchedDevices(ctx, tx, realmID, st); err != nil {
				return err
			}
			return loadSchedQueue(ctx, tx, realmID, window, st)
		})
	if err != nil {
		return nil, fmt.Errorf("scheduler state of realm %d: %w", realmID, err)
	}
	return st, nil
}

func loadSchedTypes(ctx context.Context, tx pgx.Tx, realmID int64, st *SchedulerState) error {
	rows, err := tx.Query(ctx, schedDeviceTypesSQL, realmID)
	if err != nil {
		return fmt.Errorf("read device types: %w", err)
	}
	var t SchedDeviceType
	_, err = pgx.ForEachRow(rows, []any{&t.ID, &t.Name, &t.Display, &t.HasHealthCheck,
		&t.HealthCheckDisabled, &t.HealthFrequency, &t.HealthPerJobs}, func() error {
		st.DeviceTypes = append(st.DeviceTypes, t)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read device types: %w", err)
	}
	return nil
}

func loadSchedWorkers(ctx context.Context, tx pgx.Tx, realmID int64, st *SchedulerState) error {
	rows, err := tx.Query(ctx, schedWorkersSQL, realmID)
	if err != nil {
		return fmt.Errorf("read workers: %w", err)
	}
	var w SchedWorker
	_, err = pgx.ForEachRow(rows, []any{&w.ID, &w.Hostname, &w.State, &w.Health, &w.JobLimit, &w.Busy},
		func() error {
			st.Workers = append(st.Workers, w)
			return nil
		})
	if err != nil {
		return fmt.Errorf("read workers: %w", err)
	}
	return nil
}

func loadSchedDevices(ctx context.Context, tx pgx.Tx, realmID int64, st *SchedulerState) error {
	rows, err := tx.Query(ctx, schedDevicesSQL, realmID)
	if err != nil {
		return fmt.Errorf("read devices: %w", err)
	}
	var d SchedDevice
	_, err = pgx.ForEachRow(rows, []any{&d.ID, &d.Hostname, &d.Type, &d.Worker, &d.State, &d.Health,
		&d.Tags, &d.LastHealthCheck}, func() error {
		st.Devices = append(st.Devices, d)
		d = SchedDevice{}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read devices: %w", err)
	}
	perJobs := false
	for _, t := range st.DeviceTypes {
		perJobs = perJobs || t.HealthPerJobs
	}
	if !perJobs {
		return nil
	}
	index := make(map[int64]int, len(st.Devices))
	for i, d := range st.Devices {
		index[d.ID] = i
	}
	rows, err = tx.Query(ctx, schedJobsSinceCheckSQL, realmID)
	if err != nil {
		return fmt.Errorf("count jobs since health checks: %w", err)
	}
	var id int64
	var n int
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		if i, ok := index[id]; ok {
			st.Devices[i].JobsSinceHealthCheck = n
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("count jobs since health checks: %w", err)
	}
	return nil
}

func loadSchedQueue(ctx context.Context, tx pgx.Tx, realmID int64, window int, st *SchedulerState) error {
	if len(st.Devices) == 0 {
		return nil // nothing could run: do not read the queue at all
	}
	if err := scanSchedJobs(ctx, tx, st, schedQueueSQL, realmID, window); err != nil {
		return fmt.Errorf("read queue: %w", err)
	}
	if err := loadShareWindow(ctx, tx, realmID, window, st); err != nil {
		return err
	}
	ids := make([]int64, len(st.Jobs))
	var groups []string
	seen := map[string]bool{}
	for i, j := range st.Jobs {
		ids[i] = j.ID
		if j.Group != "" && !seen[j.Group] {
			seen[j.Group] = true
			groups = append(groups, j.Group)
		}
	}
	if len(groups) > 0 {
		if err := scanSchedJobs(ctx, tx, st, schedGroupsSQL, groups, ids); err != nil {
			return fmt.Errorf("read queued groups: %w", err)
		}
	}
	if err := loadSchedJobTags(ctx, tx, st); err != nil {
		return err
	}
	return loadShares(ctx, tx, realmID, st)
}

func scanSchedJobs(ctx context.Context, tx pgx.Tx, st *SchedulerState, q string, args ...any) error {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	var j SchedJob
	_, err = pgx.ForEachRow(rows, []any{&j.ID, &j.Priority, &j.DeviceType, &j.Device, &j.HealthCheck,
		&j.Group, &j.GroupSize}, func() error {
		st.Jobs = append(st.Jobs, j)
		return nil
	})
	return err
}

func loadSchedJobTags(ctx context.Context, tx pgx.Tx, st *SchedulerState) error {
	if len(st.Jobs) == 0 {
		return nil
	}
	ids := make([]int64, len(st.Jobs))
	index := make(map[int64]int, len(st.Jobs))
	for i, j := range st.Jobs {
		ids[i], index[j.ID] = j.ID, i
	}
	rows, err := tx.Query(ctx, schedJobTagsSQL, ids)
	if err != nil {
		return fmt.Errorf("read queue tags: %w", err)
	}
	var id int64
	var tag string
	_, err = pgx.ForEachRow(rows, []any{&id, &tag}, func() error {
		i := index[id]
		st.Jobs[i].Tags = append(st.Jobs[i].Tags, tag)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read queue tags: %w", err)
	}
	return nil
}

package store

import (
	"context"
	"fmt"
	"time"
)

// Availability is what a CI orchestrator polls to decide where to submit:
// the devices of a type by what they can do now, and the queue in front.
type Availability struct {
	DeviceType string `json:"device_type"`
	// Idle devices can take a job now: Idle, Good or Unknown, on an Online
	// Active worker.
	Idle int `json:"idle"`
	// Busy devices run or are reserved for a job.
	Busy int `json:"busy"`
	// Offline devices cannot run jobs: Bad, Maintenance, Looping, or their
	// worker is Offline, in Maintenance or missing. Retired devices are left out.
	Offline int `json:"offline"`
	// Queued jobs wait for this type; OldestQueuedSeconds is the age of the
	// oldest (0 when none).
	Queued              int     `json:"queued"`
	OldestQueuedSeconds float64 `json:"oldest_queued_seconds"`
}

// One statement over indexed columns: the device counts come from the
// devices of the type (small), the queue from the partial index on
// Submitted jobs, so polling it every second costs little.
const availabilitySQL = `-- name: Availability :many
SELECT dt.name,
    COUNT(d.id) FILTER (WHERE d.state = 'Idle' AND d.health IN ('Good', 'Unknown')
        AND w.state = 'Online' AND w.health = 'Active'),
    COUNT(d.id) FILTER (WHERE d.state <> 'Idle'),
    COUNT(d.id) FILTER (WHERE d.state = 'Idle' AND (d.health NOT IN ('Good', 'Unknown')
        OR w.id IS NULL OR w.state <> 'Online' OR w.health <> 'Active')),
    COALESCE(q.n, 0), COALESCE(EXTRACT(EPOCH FROM now() - q.oldest), 0)::float8
FROM device_types dt
LEFT JOIN devices d ON d.device_type_id = dt.id AND d.health <> 'Retired'
LEFT JOIN workers w ON w.id = d.worker_id
LEFT JOIN LATERAL (
    SELECT COUNT(*) AS n, MIN(j.submit_time) AS oldest FROM jobs j
    WHERE j.realm_id = dt.realm_id AND j.requested_device_type_id = dt.id AND j.state = 'Submitted'
) q ON true
WHERE dt.realm_id = $1 AND ($2 = '' OR dt.name = $2)
GROUP BY dt.id, dt.name, q.n, q.oldest
ORDER BY dt.name`

// DeviceTypeAvailability returns the availability of one device type
// (name != "") or of every type of the realm. ErrNotFound for an unknown name.
func (s *Store) DeviceTypeAvailability(ctx context.Context, realmID int64, name string) ([]Availability, error) {
	rows, err := s.pool.Query(ctx, availabilitySQL, realmID, name)
	if err != nil {
		return nil, fmt.Errorf("availability: %w", err)
	}
	defer rows.Close()
	var out []Availability
	for rows.Next() {
		var a Availability
		if err := rows.Scan(&a.DeviceType, &a.Idle, &a.Busy, &a.Offline, &a.Queued, &a.OldestQueuedSeconds); err != nil {
			return nil, fmt.Errorf("availability: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("availability: %w", err)
	}
	if name != "" && len(out) == 0 {
		return nil, fmt.Errorf("availability of device type %q: %w", name, ErrNotFound)
	}
	return out, nil
}

// DefaultJobDuration is assumed for a device type with no finished job yet.
const DefaultJobDuration = 5 * time.Minute

// estimateSQL reads, for a queued job: the jobs ahead of it on its type
// (higher priority, or same priority and older, as the scheduler orders),
// the devices that can run jobs, those idle now, and the mean duration of
// the last 20 finished jobs of the type. The jobs ahead are counted up to
// EstimateRounds turns of the usable devices only: a submission does not
// pay for counting a deep queue, and beyond that horizon the estimate is
// the horizon (a lower bound).
const estimateSQL = `-- name: EstimateStart :one
WITH j AS (SELECT id, realm_id, requested_device_type_id, priority, state FROM jobs WHERE realm_id = $1 AND id = $2),
dev AS (SELECT COUNT(*) AS usable, COUNT(*) FILTER (WHERE d.state = 'Idle') AS idle
    FROM devices d JOIN workers w ON w.id = d.worker_id, j
    WHERE d.device_type_id = j.requested_device_type_id AND d.health IN ('Good', 'Unknown')
      AND w.state = 'Online' AND w.health = 'Active')
SELECT
    (SELECT COUNT(*) FROM (SELECT 1 FROM jobs a WHERE a.realm_id = j.realm_id AND a.state = 'Submitted'
        AND a.requested_device_type_id = j.requested_device_type_id AND a.id <> j.id
        AND (a.priority > j.priority OR (a.priority = j.priority AND a.id < j.id))
        LIMIT dev.idle + dev.usable * ` + estimateRounds + ` + 1) ahead),
    dev.usable, dev.idle,
    (SELECT EXTRACT(EPOCH FROM AVG(f.end_time - f.start_time))::float8 FROM (
        SELECT f.start_time, f.end_time FROM jobs f
        WHERE f.realm_id = j.realm_id AND f.requested_device_type_id = j.requested_device_type_id
          AND f.state = 'Finished' AND f.start_time IS NOT NULL AND f.end_time IS NOT NULL
        ORDER BY f.end_time DESC LIMIT 20) f),
    j.state
FROM j, dev`

// EstimateRounds is the horizon of start estimates, in turns of a device
// type's usable devices.
const EstimateRounds = 50

const estimateRounds = "50" // EstimateRounds, in the SQL text

// Estimate is when a queued job is expected to start.
type Estimate struct {
	// Start is nil when no device of the type can run jobs now.
	Start *time.Time
	// Ahead is the number of queued jobs before it.
	Ahead int
}

// EstimateStart estimates when a queued job starts: the jobs ahead of it
// fill the idle devices first, then take turns on every usable device for
// the recent mean duration. A job already past the queue starts now.
func (s *Store) EstimateStart(ctx context.Context, realmID, jobID int64) (*Estimate, error) {
	var ahead, usable, idle int
	var mean *float64
	var state string
	err := s.pool.QueryRow(ctx, estimateSQL, realmID, jobID).Scan(&ahead, &usable, &idle, &mean, &state)
	if err != nil {
		return nil, notFound(err, "job %d", jobID)
	}
	now := time.Now().UTC()
	return estimate(now, state, ahead, usable, idle, mean), nil
}

func estimate(now time.Time, state string, ahead, usable, idle int, meanSeconds *float64) *Estimate {
	e := &Estimate{Ahead: ahead}
	if state != JobSubmitted || ahead < idle {
		e.Start = &now
		return e
	}
	if usable == 0 {
		return e
	}
	mean := DefaultJobDuration
	if meanSeconds != nil && *meanSeconds > 0 {
		mean = time.Duration(*meanSeconds * float64(time.Second))
	}
	// Rounds of the usable devices before a device is free for this job.
	rounds := min((ahead-idle)/usable+1, EstimateRounds)
	start := now.Add(time.Duration(rounds) * mean)
	e.Start = &start
	return e
}

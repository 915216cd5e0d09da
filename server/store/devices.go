package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// NewDevice is what CreateDevice needs. DeviceType and Worker are names;
// Worker may be empty (no worker yet). Health defaults to Unknown, so the
// scheduler runs a health check before the first job when the type has one.
type NewDevice struct {
	Hostname    string
	DeviceType  string
	Worker      string
	Description string
	Dictionary  string
	Tags        []string
	Health      string
	Private     bool
}

// DeviceHealths lists the device healths in LAVA's order (their index is
// LAVA's integer code).
var DeviceHealths = []string{DeviceGood, DeviceUnknown, DeviceLooping, DeviceBad, DeviceMaintenance, DeviceRetired}

// DeviceStates lists the device states in LAVA's order.
var DeviceStates = []string{DeviceIdle, DeviceReserved, DeviceRunning}

func validDeviceHealth(h string) bool {
	for _, x := range DeviceHealths {
		if h == x {
			return true
		}
	}
	return false
}

// deviceSelect reads a Device with its joined names, tags and current job.
const deviceSelect = `SELECT d.id, d.realm_id, d.hostname, d.device_type_id, dt.name, d.worker_id,
    w.hostname, d.description, d.state, d.health, d.dictionary, d.is_public,
    ARRAY(SELECT t.name FROM device_tags x JOIN tags t ON t.id = x.tag_id
          WHERE x.device_id = d.id ORDER BY t.name),
    cj.id, COALESCE(cj.sub_id, ''), d.last_health_report_job_id
FROM devices d
JOIN device_types dt ON dt.id = d.device_type_id
LEFT JOIN workers w ON w.id = d.worker_id
LEFT JOIN LATERAL (
    SELECT j.id, j.sub_id FROM jobs j
    WHERE j.actual_device_id = d.id AND j.state IN ('Scheduled', 'Running', 'Canceling')
    ORDER BY j.id LIMIT 1
) cj ON true`

func scanDevice(row pgx.Row) (*Device, error) {
	var d Device
	err := row.Scan(&d.ID, &d.RealmID, &d.Hostname, &d.DeviceTypeID, &d.DeviceType, &d.WorkerID,
		&d.Worker, &d.Description, &d.State, &d.Health, &d.Dictionary, &d.IsPublic, &d.Tags,
		&d.CurrentJob, &d.CurrentSubID, &d.LastHealthReportJob)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

const deviceTypeIDSQL = `-- name: DeviceTypeID :one
SELECT id FROM device_types WHERE realm_id = $1 AND name = $2`

const workerIDSQL = `-- name: WorkerID :one
SELECT id FROM workers WHERE realm_id = $1 AND hostname = $2`

const createDeviceSQL = `-- name: DeviceCreate :one
INSERT INTO devices (realm_id, hostname, device_type_id, worker_id, description, health,
    dictionary, is_public)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`

// CreateDevice adds a device (Idle) with its tags, creating unknown tags,
// and records a device event. ErrNotFound names a missing device type or
// worker; ErrConflict a taken hostname.
func (s *Store) CreateDevice(ctx context.Context, realmID int64, n NewDevice) (*Device, error) {
	if err := ValidHostname("device", n.Hostname); err != nil {
		return nil, fmt.Errorf("create device: %w", err)
	}
	if n.Health == "" {
		n.Health = DeviceUnknown
	}
	if !validDeviceHealth(n.Health) {
		return nil, fmt.Errorf("create device %q: health %q is not one of %v", n.Hostname, n.Health, DeviceHealths)
	}
	var d *Device
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var dtID int64
		if err := tx.QueryRow(ctx, deviceTypeIDSQL, realmID, n.DeviceType).Scan(&dtID); err != nil {
			return notFound(err, "device type %q", n.DeviceType)
		}
		var workerID *int64
		if n.Worker != "" {
			workerID = new(int64)
			if err := tx.QueryRow(ctx, workerIDSQL, realmID, n.Worker).Scan(workerID); err != nil {
				return notFound(err, "worker %q", n.Worker)
			}
		}
		var id int64
		if err := tx.QueryRow(ctx, createDeviceSQL, realmID, n.Hostname, dtID, workerID, n.Description,
			n.Health, n.Dictionary, !n.Private).Scan(&id); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("already exists: %w", ErrConflict)
			}
			return err
		}
		if err := setDeviceTags(ctx, tx, realmID, id, n.Tags); err != nil {
			return err
		}
		var err error
		if d, err = scanDevice(tx.QueryRow(ctx, deviceSelect+` WHERE d.id = $1`, id)); err != nil {
			return err
		}
		return deviceEvent(ctx, tx, d)
	})
	if err != nil {
		return nil, fmt.Errorf("create device %q: %w", n.Hostname, err)
	}
	return d, nil
}

// notFound turns pgx.ErrNoRows into ErrNotFound naming what was missing.
func notFound(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

const ensureTagsSQL = `-- name: TagsEnsure :many
INSERT INTO tags (realm_id, name) SELECT $1, unnest($2::text[])
ON CONFLICT (realm_id, name) DO UPDATE SET name = EXCLUDED.name
RETURNING id`

const deleteDeviceTagsSQL = `-- name: DeviceTagsDelete :exec
DELETE FROM device_tags WHERE device_id = $1`

const insertDeviceTagsSQL = `-- name: DeviceTagsInsert :exec
INSERT INTO device_tags (device_id, tag_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING`

// setDeviceTags replaces a device's tags, creating the tags that are new.
func setDeviceTags(ctx context.Context, tx pgx.Tx, realmID, deviceID int64, names []string) error {
	if _, err := tx.Exec(ctx, deleteDeviceTagsSQL, deviceID); err != nil {
		return fmt.Errorf("clear tags: %w", err)
	}
	if len(names) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var uniq []string
	for _, n := range names {
		if !slugRE.MatchString(n) {
			return fmt.Errorf("tag %q: must be 1 to 50 letters, digits, '-' or '_'", n)
		}
		if !seen[n] {
			seen[n] = true
			uniq = append(uniq, n)
		}
	}
	rows, err := tx.Query(ctx, ensureTagsSQL, realmID, uniq)
	if err != nil {
		return fmt.Errorf("create tags: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("create tags: %w", err)
	}
	if _, err := tx.Exec(ctx, insertDeviceTagsSQL, deviceID, ids); err != nil {
		return fmt.Errorf("tag device: %w", err)
	}
	return nil
}

// DeviceByName returns a device with its current job, or ErrNotFound.
func (s *Store) DeviceByName(ctx context.Context, realmID int64, hostname string) (*Device, error) {
	// -- name: DeviceByName :one
	d, err := scanDevice(s.pool.QueryRow(ctx, deviceSelect+` WHERE d.realm_id = $1 AND d.hostname = $2`, realmID, hostname))
	if err != nil {
		return nil, fmt.Errorf("device %q: %w", hostname, err)
	}
	return d, nil
}

var deviceListColumns = map[string]listColumn{
	"hostname":    {"d.hostname", colText, ""},
	"description": {"d.description", colText, ""},
	"state":       {"d.state", colText, "array_position(ARRAY['Idle', 'Reserved', 'Running'], d.state)"},
	"health":      {"d.health", colText, "array_position(ARRAY['Good', 'Unknown', 'Looping', 'Bad', 'Maintenance', 'Retired'], d.health)"},
	"device_type": {"dt.name", colText, ""},
	"worker_host": {"w.hostname", colText, ""},
	"is_public":   {"d.is_public", colBool, ""},
	"tags":        {"(SELECT string_agg(t.name, ',' ORDER BY t.name) FROM device_tags x JOIN tags t ON t.id = x.tag_id WHERE x.device_id = d.id)", colText, ""},
}

// DeviceTagFilter is a ListQuery field matching devices carrying a tag
// (Values: tag names, any of which matches; Op "in" or "exact").
const DeviceTagFilter = "tag"

// ListDevices returns one page of devices and the number matching. Retired
// devices are left out unless withRetired.
func (s *Store) ListDevices(ctx context.Context, realmID int64, q ListQuery, withRetired bool) ([]Device, int64, error) {
	var tagNames []string
	var rest []Filter
	for _, f := range q.Filters {
		if f.Field == DeviceTagFilter {
			tagNames = append(tagNames, f.Values...)
			continue
		}
		rest = append(rest, f)
	}
	q.Filters = rest
	l, err := buildList(deviceListColumns, q, 3, "d.hostname")
	if err != nil {
		return nil, 0, fmt.Errorf("list devices: %w", err)
	}
	where := ` WHERE d.realm_id = $1 AND ($2 OR d.health <> 'Retired')
  AND (cardinality($3::text[]) = 0 OR EXISTS (SELECT 1 FROM device_tags x JOIN tags t ON t.id = x.tag_id
       WHERE x.device_id = d.id AND t.name = ANY($3)))` + l.where
	if tagNames == nil {
		tagNames = []string{}
	}
	args := append([]any{realmID, withRetired, tagNames}, l.args...)
	if q.Restrict {
		su, uid := placeholders(&args, q.Viewer)
		where += " AND " + DeviceVisibleSQL("d.id", "d.device_type_id", su, uid)
	}
	var total int64
	// -- name: DeviceCount :one
	countSQL := `SELECT count(*) FROM devices d JOIN device_types dt ON dt.id = d.device_type_id
LEFT JOIN workers w ON w.id = d.worker_id` + where
	if err := s.pool.QueryRow(ctx, countSQL, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count devices: %w", err)
	}
	// -- name: DeviceList :many
	rows, err := s.pool.Query(ctx, deviceSelect+where+" "+l.order+" "+l.page, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list devices: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Device, error) {
		d, err := scanDevice(r)
		if err != nil {
			return Device{}, err
		}
		return *d, nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list devices: %w", err)
	}
	return out, total, nil
}

const lockDeviceSQL = `-- name: DeviceLock :one
SELECT id FROM devices WHERE realm_id = $1 AND hostname = $2 FOR UPDATE`

const setDeviceHealthSQL = `-- name: DeviceSetHealth :exec
UPDATE devices SET health = $2 WHERE id = $1`

// SetDeviceHealth changes a device's health (an admin action: Maintenance,
// Retired, or Unknown to ask for a health check) and records a device event
// when it changed. A job running on the device is not touched.
func (s *Store) SetDeviceHealth(ctx context.Context, realmID int64, hostname, health string) (*Device, error) {
	if !validDeviceHealth(health) {
		return nil, fmt.Errorf("device %q: health %q is not one of %v: %w", hostname, health, DeviceHealths, ErrInvalidFilter)
	}
	var d *Device
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, lockDeviceSQL, realmID, hostname).Scan(&id); err != nil {
			return notFound(err, "device %q", hostname)
		}
		var err error
		if d, err = scanDevice(tx.QueryRow(ctx, deviceSelect+` WHERE d.id = $1`, id)); err != nil {
			return err
		}
		if d.Health == health {
			return nil
		}
		if _, err := tx.Exec(ctx, setDeviceHealthSQL, id, health); err != nil {
			return err
		}
		d.Health = health
		return deviceEvent(ctx, tx, d)
	})
	if err != nil {
		return nil, fmt.Errorf("set health of device %q: %w", hostname, err)
	}
	return d, nil
}

const setDictionarySQL = `-- name: DeviceSetDictionary :execrows
UPDATE devices SET dictionary = $3 WHERE realm_id = $1 AND hostname = $2`

// SetDeviceDictionary replaces a device's Jinja2 dictionary.
func (s *Store) SetDeviceDictionary(ctx context.Context, realmID int64, hostname, dictionary string) error {
	tag, err := s.pool.Exec(ctx, setDictionarySQL, realmID, hostname, dictionary)
	if err != nil {
		return fmt.Errorf("set dictionary of device %q: %w", hostname, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set dictionary of device %q: %w", hostname, ErrNotFound)
	}
	return nil
}

// SetDeviceTags replaces a device's tags, creating new tags.
func (s *Store) SetDeviceTags(ctx context.Context, realmID int64, hostname string, tags []string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, lockDeviceSQL, realmID, hostname).Scan(&id); err != nil {
			return notFound(err, "device %q", hostname)
		}
		return setDeviceTags(ctx, tx, realmID, id, tags)
	})
	if err != nil {
		return fmt.Errorf("set tags of device %q: %w", hostname, err)
	}
	return nil
}

// TagIDs maps tag names to ids in a realm (for the REST API, which shows
// tags by id as LAVA does).
func (s *Store) TagIDs(ctx context.Context, realmID int64, names []string) (map[string]int64, error) {
	// -- name: TagIDs :many
	rows, err := s.pool.Query(ctx, `SELECT name, id FROM tags WHERE realm_id = $1 AND name = ANY($2)`, realmID, names)
	if err != nil {
		return nil, fmt.Errorf("tag ids: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var n string
		var id int64
		if err := rows.Scan(&n, &id); err != nil {
			return nil, fmt.Errorf("tag ids: %w", err)
		}
		out[n] = id
	}
	return out, rows.Err()
}

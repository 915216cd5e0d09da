package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Tags, aliases and the admin edits of device types, devices and workers
// that the XML-RPC API (lavacli) makes.

// Tag is a device/job tag.
type Tag struct {
	ID          int64
	Name        string
	Description string
	Devices     []string // hostnames carrying it, by name
}

// ListTags returns the realm's tags by name with their devices.
func (s *Store) ListTags(ctx context.Context, realmID int64) ([]Tag, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.id, t.name, t.description, ARRAY(SELECT d.hostname FROM device_tags x
    JOIN devices d ON d.id = x.device_id WHERE x.tag_id = t.id ORDER BY d.hostname)
FROM tags t WHERE t.realm_id = $1 ORDER BY t.name`, realmID)
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tag, error) {
		var t Tag
		err := r.Scan(&t.ID, &t.Name, &t.Description, &t.Devices)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	return out, nil
}

// TagByName returns one tag, or ErrNotFound.
func (s *Store) TagByName(ctx context.Context, realmID int64, name string) (*Tag, error) {
	tags, err := s.ListTags(ctx, realmID)
	if err != nil {
		return nil, err
	}
	for i := range tags {
		if tags[i].Name == name {
			return &tags[i], nil
		}
	}
	return nil, fmt.Errorf("tag %q: %w", name, ErrNotFound)
}

// CreateTag adds a tag; ErrConflict when it exists.
func (s *Store) CreateTag(ctx context.Context, realmID int64, name, description string) error {
	if !slugRE.MatchString(name) {
		return fmt.Errorf("create tag %q: name must be 1 to 50 letters, digits, '-' or '_': %w", name, ErrInvalidFilter)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tags (realm_id, name, description) VALUES ($1, $2, $3)`, realmID, name, description)
	if isUniqueViolation(err) {
		return fmt.Errorf("create tag %q: already exists: %w", name, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create tag %q: %w", name, err)
	}
	return nil
}

// DeleteTag removes a tag from the realm, its devices and jobs.
func (s *Store) DeleteTag(ctx context.Context, realmID int64, name string) error {
	return s.execOne(ctx, fmt.Sprintf("tag %q", name), `DELETE FROM tags WHERE realm_id = $1 AND name = $2`, realmID, name)
}

// AddDeviceTag tags a device, creating the tag when new.
func (s *Store) AddDeviceTag(ctx context.Context, realmID int64, hostname, tag string) error {
	d, err := s.DeviceByName(ctx, realmID, hostname)
	if err != nil {
		return err
	}
	return s.SetDeviceTags(ctx, realmID, hostname, append(d.Tags, tag))
}

// RemoveDeviceTag untags a device; ErrNotFound when the tag does not exist.
func (s *Store) RemoveDeviceTag(ctx context.Context, realmID int64, hostname, tag string) error {
	if _, err := s.TagByName(ctx, realmID, tag); err != nil {
		return err
	}
	d, err := s.DeviceByName(ctx, realmID, hostname)
	if err != nil {
		return err
	}
	var keep []string
	for _, t := range d.Tags {
		if t != tag {
			keep = append(keep, t)
		}
	}
	return s.SetDeviceTags(ctx, realmID, hostname, keep)
}

// Alias is another name of a device type.
type Alias struct {
	Name       string
	DeviceType string
	// DeviceTypeID lets callers check the type's visibility.
	DeviceTypeID int64
}

// ListAliases returns the realm's aliases by name.
func (s *Store) ListAliases(ctx context.Context, realmID int64) ([]Alias, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.name, dt.name, dt.id FROM aliases a
JOIN device_types dt ON dt.id = a.device_type_id WHERE a.realm_id = $1 ORDER BY a.name`, realmID)
	if err != nil {
		return nil, fmt.Errorf("list aliases: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Alias, error) {
		var a Alias
		err := r.Scan(&a.Name, &a.DeviceType, &a.DeviceTypeID)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("list aliases: %w", err)
	}
	return out, nil
}

// AliasByName returns one alias, or ErrNotFound.
func (s *Store) AliasByName(ctx context.Context, realmID int64, name string) (*Alias, error) {
	var a Alias
	err := s.pool.QueryRow(ctx, `SELECT a.name, dt.name, dt.id FROM aliases a
JOIN device_types dt ON dt.id = a.device_type_id WHERE a.realm_id = $1 AND a.name = $2`, realmID, name).
		Scan(&a.Name, &a.DeviceType, &a.DeviceTypeID)
	if err != nil {
		return nil, notFound(err, "alias %q", name)
	}
	return &a, nil
}

// CreateAlias names a device type; ErrNotFound for an unknown type,
// ErrConflict when the alias exists (for another type) or is a type's name.
func (s *Store) CreateAlias(ctx context.Context, realmID int64, name, deviceType string) error {
	if !slugRE.MatchString(name) {
		return fmt.Errorf("create alias %q: name must be 1 to 50 letters, digits, '-' or '_': %w", name, ErrInvalidFilter)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var dtID int64
		if err := tx.QueryRow(ctx, deviceTypeIDSQL, realmID, deviceType).Scan(&dtID); err != nil {
			return notFound(err, "device type %q", deviceType)
		}
		var clash int64
		err := tx.QueryRow(ctx, deviceTypeIDSQL, realmID, name).Scan(&clash)
		if err == nil {
			return fmt.Errorf("alias %q: a device type has that name: %w", name, ErrConflict)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO aliases (realm_id, name, device_type_id) VALUES ($1, $2, $3)
ON CONFLICT (realm_id, name) DO UPDATE SET name = EXCLUDED.name WHERE aliases.device_type_id = EXCLUDED.device_type_id`,
			realmID, name, dtID)
		if err != nil {
			return fmt.Errorf("create alias %q: %w", name, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("alias %q: already names another device type: %w", name, ErrConflict)
		}
		return nil
	})
}

// DeleteAlias removes an alias.
func (s *Store) DeleteAlias(ctx context.Context, realmID int64, name string) error {
	return s.execOne(ctx, fmt.Sprintf("alias %q", name), `DELETE FROM aliases WHERE realm_id = $1 AND name = $2`, realmID, name)
}

func (s *Store) execOne(ctx context.Context, what, sql string, args ...any) error {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// DeviceTypeUpdate holds the fields to change; nil keeps the value.
type DeviceTypeUpdate struct {
	Description        *string
	Display            *bool
	HealthFrequency    *int
	HealthDenominator  *string
	DisableHealthCheck *bool
}

// UpdateDeviceType changes fields of a device type.
func (s *Store) UpdateDeviceType(ctx context.Context, realmID int64, name string, u DeviceTypeUpdate) error {
	if u.HealthDenominator != nil && *u.HealthDenominator != "hours" && *u.HealthDenominator != "jobs" {
		return fmt.Errorf("device type %q: health denominator %q is not hours or jobs: %w", name, *u.HealthDenominator, ErrInvalidFilter)
	}
	return s.execOne(ctx, fmt.Sprintf("device type %q", name), `UPDATE device_types SET
    description = COALESCE($3, description), display = COALESCE($4, display),
    health_frequency = COALESCE($5, health_frequency), health_denominator = COALESCE($6, health_denominator),
    disable_health_check = COALESCE($7, disable_health_check)
WHERE realm_id = $1 AND name = $2`, realmID, name, u.Description, u.Display, u.HealthFrequency,
		u.HealthDenominator, u.DisableHealthCheck)
}

// DeviceTypeDocs returns the edited template and health check of a device
// type (nil: none stored, use the files).
func (s *Store) DeviceTypeDocs(ctx context.Context, realmID int64, name string) (template, healthCheck *string, err error) {
	err = s.pool.QueryRow(ctx, `SELECT template, health_check FROM device_types WHERE realm_id = $1 AND name = $2`,
		realmID, name).Scan(&template, &healthCheck)
	if err != nil {
		return nil, nil, notFound(err, "device type %q", name)
	}
	return template, healthCheck, nil
}

// SetDeviceTypeDoc stores the template ("template") or health check
// ("health_check") of a device type.
func (s *Store) SetDeviceTypeDoc(ctx context.Context, realmID int64, name, kind, doc string) error {
	if kind != "template" && kind != "health_check" {
		return fmt.Errorf("device type document %q: %w", kind, ErrInvalidFilter)
	}
	return s.execOne(ctx, fmt.Sprintf("device type %q", name),
		`UPDATE device_types SET `+kind+` = $3 WHERE realm_id = $1 AND name = $2`, realmID, name, doc)
}

// DeviceUpdate holds the fields to change; nil keeps the value.
type DeviceUpdate struct {
	Worker      *string
	Health      *string
	Description *string
	DeviceType  *string
}

// UpdateDevice changes a device; a health change goes through SetDeviceHealth
// (with its event). ErrNotFound names a missing worker or device type.
func (s *Store) UpdateDevice(ctx context.Context, realmID int64, hostname string, u DeviceUpdate) error {
	if u.Health != nil && !validDeviceHealth(*u.Health) {
		return fmt.Errorf("device %q: health %q is not one of %v: %w", hostname, *u.Health, DeviceHealths, ErrInvalidFilter)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, lockDeviceSQL, realmID, hostname).Scan(&id); err != nil {
			return notFound(err, "device %q", hostname)
		}
		if u.Worker != nil {
			var wid int64
			if err := tx.QueryRow(ctx, workerIDSQL, realmID, *u.Worker).Scan(&wid); err != nil {
				return notFound(err, "worker %q", *u.Worker)
			}
			if _, err := tx.Exec(ctx, `UPDATE devices SET worker_id = $2 WHERE id = $1`, id, wid); err != nil {
				return err
			}
		}
		if u.DeviceType != nil {
			var dtID int64
			if err := tx.QueryRow(ctx, deviceTypeIDSQL, realmID, *u.DeviceType).Scan(&dtID); err != nil {
				return notFound(err, "device type %q", *u.DeviceType)
			}
			if _, err := tx.Exec(ctx, `UPDATE devices SET device_type_id = $2 WHERE id = $1`, id, dtID); err != nil {
				return err
			}
		}
		if u.Description != nil {
			if _, err := tx.Exec(ctx, `UPDATE devices SET description = $2 WHERE id = $1`, id, *u.Description); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update device %q: %w", hostname, err)
	}
	if u.Health != nil {
		_, err = s.SetDeviceHealth(ctx, realmID, hostname, *u.Health)
	}
	return err
}

// WorkerUpdate holds the fields to change; nil keeps the value.
type WorkerUpdate struct {
	Description *string
	Health      *string
	JobLimit    *int
}

// UpdateWorker changes a worker; health goes through SetWorkerHealth.
func (s *Store) UpdateWorker(ctx context.Context, realmID int64, hostname string, u WorkerUpdate) error {
	if u.JobLimit != nil && *u.JobLimit < 0 {
		return fmt.Errorf("worker %q: job limit %d is negative: %w", hostname, *u.JobLimit, ErrInvalidFilter)
	}
	err := s.execOne(ctx, fmt.Sprintf("worker %q", hostname), `UPDATE workers SET
    description = COALESCE($3, description), job_limit = COALESCE($4, job_limit)
WHERE realm_id = $1 AND hostname = $2`, realmID, hostname, u.Description, u.JobLimit)
	if err == nil && u.Health != nil {
		_, err = s.SetWorkerHealth(ctx, realmID, hostname, *u.Health)
	}
	return err
}

// workerDocColumns maps lavacli's names to the columns of workers.
var workerDocColumns = map[string]string{"dispatcher": "dispatcher_config", "env": "env", "env-dut": "env_dut"}

// WorkerDoc returns a worker's "dispatcher", "env" or "env-dut" document
// ("" when none is stored).
func (s *Store) WorkerDoc(ctx context.Context, realmID int64, hostname, kind string) (string, error) {
	col, ok := workerDocColumns[kind]
	if !ok {
		return "", fmt.Errorf("worker document %q: %w", kind, ErrInvalidFilter)
	}
	var doc string
	err := s.pool.QueryRow(ctx, `SELECT `+col+` FROM workers WHERE realm_id = $1 AND hostname = $2`, realmID, hostname).Scan(&doc)
	if err != nil {
		return "", notFound(err, "worker %q", hostname)
	}
	return doc, nil
}

// SetWorkerDoc stores a worker's document.
func (s *Store) SetWorkerDoc(ctx context.Context, realmID int64, hostname, kind, doc string) error {
	col, ok := workerDocColumns[kind]
	if !ok {
		return fmt.Errorf("worker document %q: %w", kind, ErrInvalidFilter)
	}
	return s.execOne(ctx, fmt.Sprintf("worker %q", hostname),
		`UPDATE workers SET `+col+` = $3 WHERE realm_id = $1 AND hostname = $2`, realmID, hostname, doc)
}

// DevicesOfWorker returns the hostnames of a worker's devices, by name.
func (s *Store) DevicesOfWorker(ctx context.Context, workerID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT hostname FROM devices WHERE worker_id = $1 ORDER BY hostname`, workerID)
	if err != nil {
		return nil, fmt.Errorf("devices of worker: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("devices of worker: %w", err)
	}
	return out, nil
}

// IsNotFound reports ErrNotFound in err's chain (shorthand for handlers).
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

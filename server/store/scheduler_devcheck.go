package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// DeviceConfig is what renders a device's configuration: its dictionary,
// its type and the type's edited template (nil: the template file).
type DeviceConfig struct {
	ID         int64
	Hostname   string
	Dictionary string
	DeviceType string
	Template   *string
	// Hash changes whenever the dictionary or the edited template does.
	Hash string
}

// The devices the scheduler may give jobs (Good, Unknown, Looping) with a
// hash of what renders them, so only changed ones are rendered again.
const deviceConfigHashesSQL = `-- name: SchedulerDeviceConfigHashes :many
SELECT d.id, md5(d.dictionary || E'\x1f' || COALESCE(dt.template, '')) FROM devices d
JOIN device_types dt ON dt.id = d.device_type_id
WHERE d.realm_id = $1 AND d.health IN ('Good', 'Unknown', 'Looping') AND d.dictionary <> ''`

// DeviceConfigHashes maps the schedulable devices of the realm that have a
// dictionary to the hash of their dictionary and edited template.
func (s *Store) DeviceConfigHashes(ctx context.Context, realmID int64) (map[int64]string, error) {
	rows, err := s.pool.Query(ctx, deviceConfigHashesSQL, realmID)
	if err != nil {
		return nil, fmt.Errorf("device config hashes: %w", err)
	}
	out := map[int64]string{}
	var id int64
	var h string
	if _, err := pgx.ForEachRow(rows, []any{&id, &h}, func() error { out[id] = h; return nil }); err != nil {
		return nil, fmt.Errorf("device config hashes: %w", err)
	}
	return out, nil
}

const deviceConfigSQL = `-- name: SchedulerDeviceConfig :many
SELECT d.id, d.hostname, d.dictionary, dt.name, dt.template,
    md5(d.dictionary || E'\x1f' || COALESCE(dt.template, ''))
FROM devices d JOIN device_types dt ON dt.id = d.device_type_id
WHERE d.id = ANY($1::bigint[])`

// DeviceConfigs returns what renders the given devices.
func (s *Store) DeviceConfigs(ctx context.Context, ids []int64) ([]DeviceConfig, error) {
	rows, err := s.pool.Query(ctx, deviceConfigSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("device configs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeviceConfig, error) {
		var c DeviceConfig
		err := r.Scan(&c.ID, &c.Hostname, &c.Dictionary, &c.DeviceType, &c.Template, &c.Hash)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("device configs: %w", err)
	}
	return out, nil
}

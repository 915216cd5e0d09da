package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
)

// NewDeviceType is what CreateDeviceType needs; zero values take LAVA's
// defaults (health check every 24 hours, displayed).
type NewDeviceType struct {
	Name               string
	Description        string
	HealthFrequency    int
	HealthDenominator  string // "hours" or "jobs"
	DisableHealthCheck bool
	Hidden             bool // not displayed in listings
}

// DeviceTypeInfo is a device type with its aliases and device counts.
type DeviceTypeInfo struct {
	DeviceType
	Aliases []string
	// Devices counts the devices that are not Retired; Idle those of them
	// Idle and Good or Unknown; Busy those Reserved or Running; Retired the rest.
	Devices, Idle, Busy, Retired int
}

// slugRE is Django's SlugField: device type and tag names.
var slugRE = regexp.MustCompile(`^[-a-zA-Z0-9_]{1,50}$`)

const deviceTypeColumns = `dt.id, dt.realm_id, dt.name, dt.description, dt.display,
    dt.health_frequency, dt.health_denominator, dt.disable_health_check`

func scanDeviceType(row pgx.Row, extra ...any) (*DeviceType, error) {
	var d DeviceType
	dest := append([]any{&d.ID, &d.RealmID, &d.Name, &d.Description, &d.Display,
		&d.HealthFrequency, &d.HealthDenominator, &d.DisableHealthCheck}, extra...)
	err := row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

const createDeviceTypeSQL = `-- name: DeviceTypeCreate :one
INSERT INTO device_types AS dt (realm_id, name, description, health_frequency, health_denominator,
    disable_health_check, display)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING ` + deviceTypeColumns

// CreateDeviceType adds a device type; ErrConflict when the name is taken.
func (s *Store) CreateDeviceType(ctx context.Context, realmID int64, n NewDeviceType) (*DeviceType, error) {
	if !slugRE.MatchString(n.Name) {
		return nil, fmt.Errorf("create device type %q: name must be 1 to 50 letters, digits, '-' or '_'", n.Name)
	}
	if n.HealthFrequency == 0 {
		n.HealthFrequency = 24
	}
	if n.HealthDenominator == "" {
		n.HealthDenominator = "hours"
	}
	if n.HealthDenominator != "hours" && n.HealthDenominator != "jobs" {
		return nil, fmt.Errorf("create device type %q: health denominator %q is not hours or jobs", n.Name, n.HealthDenominator)
	}
	dt, err := scanDeviceType(s.pool.QueryRow(ctx, createDeviceTypeSQL, realmID, n.Name, n.Description,
		n.HealthFrequency, n.HealthDenominator, n.DisableHealthCheck, !n.Hidden))
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("create device type %q: already exists: %w", n.Name, ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("create device type %q: %w", n.Name, err)
	}
	return dt, nil
}

// deviceTypeInfoFrom adds aliases and counts to the device type rows of dt.
const deviceTypeInfoFrom = `, ARRAY(SELECT a.name FROM aliases a WHERE a.device_type_id = dt.id ORDER BY a.name),
    (SELECT count(*) FILTER (WHERE d.health <> 'Retired') FROM devices d WHERE d.device_type_id = dt.id),
    (SELECT count(*) FILTER (WHERE d.state = 'Idle' AND d.health IN ('Good', 'Unknown'))
        FROM devices d WHERE d.device_type_id = dt.id),
    (SELECT count(*) FILTER (WHERE d.state <> 'Idle' AND d.health <> 'Retired') FROM devices d WHERE d.device_type_id = dt.id),
    (SELECT count(*) FILTER (WHERE d.health = 'Retired') FROM devices d WHERE d.device_type_id = dt.id)
FROM device_types dt`

func scanDeviceTypeInfo(row pgx.Row) (*DeviceTypeInfo, error) {
	var info DeviceTypeInfo
	dt, err := scanDeviceType(row, &info.Aliases, &info.Devices, &info.Idle, &info.Busy, &info.Retired)
	if err != nil {
		return nil, err
	}
	info.DeviceType = *dt
	return &info, nil
}

const deviceTypeByNameSQL = `-- name: DeviceTypeByName :one
SELECT ` + deviceTypeColumns + deviceTypeInfoFrom + ` WHERE dt.realm_id = $1 AND dt.name = $2`

// DeviceTypeByName returns a device type with its aliases and counts, or ErrNotFound.
func (s *Store) DeviceTypeByName(ctx context.Context, realmID int64, name string) (*DeviceTypeInfo, error) {
	info, err := scanDeviceTypeInfo(s.pool.QueryRow(ctx, deviceTypeByNameSQL, realmID, name))
	if err != nil {
		return nil, fmt.Errorf("device type %q: %w", name, err)
	}
	return info, nil
}

var deviceTypeListColumns = map[string]listColumn{
	"name":                 {"dt.name", colText, ""},
	"description":          {"dt.description", colText, ""},
	"health_frequency":     {"dt.health_frequency", colInt, ""},
	"health_denominator":   {"dt.health_denominator", colText, ""},
	"disable_health_check": {"dt.disable_health_check", colBool, ""},
	"display":              {"dt.display", colBool, ""},
}

// ListDeviceTypes returns one page of device types with counts, and the
// number matching the filters.
func (s *Store) ListDeviceTypes(ctx context.Context, realmID int64, q ListQuery) ([]DeviceTypeInfo, int64, error) {
	l, err := buildList(deviceTypeListColumns, q, 1, "dt.name")
	if err != nil {
		return nil, 0, fmt.Errorf("list device types: %w", err)
	}
	args := append([]any{realmID}, l.args...)
	if q.Restrict {
		su, uid := placeholders(&args, q.Viewer)
		l.where += " AND " + DeviceTypeVisibleSQL("dt.id", su, uid)
	}
	var total int64
	// -- name: DeviceTypeCount :one
	countSQL := `SELECT count(*) FROM device_types dt WHERE dt.realm_id = $1` + l.where
	if err := s.pool.QueryRow(ctx, countSQL, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count device types: %w", err)
	}
	// -- name: DeviceTypeList :many
	listSQL := `SELECT ` + deviceTypeColumns + deviceTypeInfoFrom + ` WHERE dt.realm_id = $1` +
		l.where + " " + l.order + " " + l.page
	rows, err := s.pool.Query(ctx, listSQL, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list device types: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeviceTypeInfo, error) {
		info, err := scanDeviceTypeInfo(r)
		if err != nil {
			return DeviceTypeInfo{}, err
		}
		return *info, nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list device types: %w", err)
	}
	return out, total, nil
}

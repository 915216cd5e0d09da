package store

import (
	"context"
	"fmt"
)

// Visibility checks for event subscribers: an event names its job by id and
// its device by hostname, so these look objects up by those, across realms
// for jobs (ids are global) and within the named realm for devices.

// CanViewJobID reports whether viewer (nil: anonymous) may see job id, as
// GetJob decides; a missing job is false.
func (s *Store) CanViewJobID(ctx context.Context, id int64, viewer *User) (bool, error) {
	su, uid := viewerArgs(viewer)
	var ok bool
	q := `SELECT EXISTS (SELECT 1 FROM jobs j WHERE j.id = $1 AND ` + visibleSQL("$2::boolean", "$3::bigint") + `)`
	if err := s.pool.QueryRow(ctx, q, id, su, uid).Scan(&ok); err != nil {
		return false, fmt.Errorf("job %d visibility: %w", id, err)
	}
	return ok, nil
}

// CanViewDeviceNamed reports whether viewer may see the device hostname of
// the realm named realm ("" is the default realm); a missing device is false.
func (s *Store) CanViewDeviceNamed(ctx context.Context, realm, hostname string, viewer *User) (bool, error) {
	if realm == "" {
		realm = "default"
	}
	su, uid := viewerArgs(viewer)
	var ok bool
	q := `SELECT EXISTS (SELECT 1 FROM devices d JOIN realms r ON r.id = d.realm_id
WHERE r.name = $1 AND d.hostname = $2 AND ` + DeviceVisibleSQL("d.id", "d.device_type_id", "$3::boolean", "$4::bigint") + `)`
	if err := s.pool.QueryRow(ctx, q, realm, hostname, su, uid).Scan(&ok); err != nil {
		return false, fmt.Errorf("device %s visibility: %w", hostname, err)
	}
	return ok, nil
}

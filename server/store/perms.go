package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Permissions of groups on device types and devices, as LAVA's
// GroupDeviceTypePermission/GroupDevicePermission: see 00010_permissions.sql.
// The *SQL helpers return conditions over placeholders of the caller, so
// lists filter in the database rather than after the fact.

// Permission names.
const (
	PermView   = "view"
	PermSubmit = "submit"
	PermChange = "change"
)

// ValidPermission reports whether p is one of view, submit, change.
func ValidPermission(p string) bool { return p == PermView || p == PermSubmit || p == PermChange }

// permSQL is true when the object (id expression obj of kind "device_type"
// or "device") has no rule for perm, or the user uid is in a granted group.
// su short-cuts it for superusers. open=false means no rule grants nothing.
func permSQL(kind, obj, perm, su, uid string, open bool) string {
	table, col := "device_type_permissions", "device_type_id"
	if kind == "device" {
		table, col = "device_permissions", "device_id"
	}
	granted := `EXISTS (SELECT 1 FROM ` + table + ` p JOIN user_groups ug ON ug.group_id = p.group_id
        WHERE p.` + col + ` = ` + obj + ` AND p.permission = '` + perm + `' AND ug.user_id = ` + uid + `)`
	if !open {
		return `(` + su + ` OR ` + granted + `)`
	}
	return `(` + su + ` OR NOT EXISTS (SELECT 1 FROM ` + table + ` p WHERE p.` + col + ` = ` + obj +
		` AND p.permission = '` + perm + `') OR ` + granted + `)`
}

// DeviceTypeVisibleSQL is the condition for viewer ($su, $uid) to see the
// device type whose id is the expression dt.
func DeviceTypeVisibleSQL(dt, su, uid string) string {
	return permSQL("device_type", dt, PermView, su, uid, true)
}

// DeviceVisibleSQL is the condition to see device d of type dt: both must be visible.
func DeviceVisibleSQL(d, dt, su, uid string) string {
	return `(` + DeviceTypeVisibleSQL(dt, su, uid) + ` AND ` + permSQL("device", d, PermView, su, uid, true) + `)`
}

// placeholders appends the viewer's arguments and returns their names.
func placeholders(args *[]any, viewer *User) (su, uid string) {
	s, u := viewerArgs(viewer)
	*args = append(*args, s, u)
	n := len(*args)
	return "$" + strconv.Itoa(n-1) + "::boolean", "$" + strconv.Itoa(n) + "::bigint"
}

// CanViewDeviceType reports whether viewer (nil: anonymous) may see it.
func (s *Store) CanViewDeviceType(ctx context.Context, dtID int64, viewer *User) (bool, error) {
	return s.check(ctx, DeviceTypeVisibleSQL("$1", "$2", "$3"), dtID, viewer)
}

// CanViewDevice reports whether viewer may see the device (and its type).
func (s *Store) CanViewDevice(ctx context.Context, d *Device, viewer *User) (bool, error) {
	su, uid := viewerArgs(viewer)
	var ok bool
	q := `SELECT ` + DeviceVisibleSQL("$1", "$4", "$2", "$3")
	if err := s.pool.QueryRow(ctx, q, d.ID, su, uid, d.DeviceTypeID).Scan(&ok); err != nil {
		return false, fmt.Errorf("device permission: %w", err)
	}
	return ok, nil
}

// CanChangeDeviceType reports whether user may administer the device type.
func (s *Store) CanChangeDeviceType(ctx context.Context, dtID int64, user *User) (bool, error) {
	if user == nil {
		return false, nil
	}
	return s.check(ctx, permSQL("device_type", "$1", PermChange, "$2", "$3", false), dtID, user)
}

// CanChangeDevice reports whether user may administer the device: a change
// grant on the device or on its type.
func (s *Store) CanChangeDevice(ctx context.Context, d *Device, user *User) (bool, error) {
	if user == nil {
		return false, nil
	}
	if ok, err := s.CanChangeDeviceType(ctx, d.DeviceTypeID, user); ok || err != nil {
		return ok, err
	}
	return s.check(ctx, permSQL("device", "$1", PermChange, "$2", "$3", false), d.ID, user)
}

// submitPermSQL is CanSubmitToDeviceType in one round trip: the name
// ($2 in realm $1) resolves to at most one type (a name first, then an
// alias), and the condition for user ($3 superuser, $4 id) is evaluated on
// it; no row is an unknown name.
var submitPermSQL = `SELECT ` + DeviceTypeVisibleSQL("dt.id", "$3", "$4") + ` AND ` +
	permSQL("device_type", "dt.id", PermSubmit, "$3", "$4", true) + `
FROM (SELECT id FROM device_types WHERE realm_id = $1 AND name = $2
UNION ALL SELECT device_type_id FROM aliases WHERE realm_id = $1 AND name = $2 LIMIT 1) dt (id)`

// CanSubmitToDeviceType reports whether user may submit jobs to the device
// type or alias name: it must be visible, and carry no submit rule or one
// granting a group of the user. An unknown name is true (submission itself
// reports it).
func (s *Store) CanSubmitToDeviceType(ctx context.Context, realmID int64, name string, user *User) (bool, error) {
	if user == nil {
		return false, nil
	}
	su, uid := viewerArgs(user)
	var ok bool
	err := s.pool.QueryRow(ctx, submitPermSQL, realmID, name, su, uid).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, nil // unknown type: SubmitJob answers
	}
	if err != nil {
		return false, fmt.Errorf("submit permission on %q: %w", name, err)
	}
	return ok, nil
}

// CanSubmitToDevice reports whether user's jobs may run on the device: it
// and its type visible, and neither carrying a submit rule that leaves the
// user out. The scheduler can consult it (or DeviceSubmitSQL) when it
// places jobs on devices with device-level submit grants.
func (s *Store) CanSubmitToDevice(ctx context.Context, d *Device, user *User) (bool, error) {
	if user == nil {
		return false, nil
	}
	su, uid := viewerArgs(user)
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT `+DeviceSubmitSQL("$1", "$4", "$2", "$3"), d.ID, su, uid, d.DeviceTypeID).Scan(&ok); err != nil {
		return false, fmt.Errorf("device permission: %w", err)
	}
	return ok, nil
}

// DeviceSubmitSQL is the condition for user ($su, $uid) to submit to device
// d of type dt (view and submit on both).
func DeviceSubmitSQL(d, dt, su, uid string) string {
	return `(` + DeviceVisibleSQL(d, dt, su, uid) + ` AND ` + permSQL("device_type", dt, PermSubmit, su, uid, true) +
		` AND ` + permSQL("device", d, PermSubmit, su, uid, true) + `)`
}

func (s *Store) check(ctx context.Context, cond string, id int64, viewer *User) (bool, error) {
	su, uid := viewerArgs(viewer)
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT `+cond, id, su, uid).Scan(&ok); err != nil {
		return false, fmt.Errorf("permission check: %w", err)
	}
	return ok, nil
}

// Grant is one permission row.
type Grant struct {
	ID         int64  // set by ListGrants
	Kind       string // "device-type" or "device"
	Object     string // its name or hostname
	Group      string
	Permission string
}

// GrantPermission gives group perm on a device type (kind "device-type")
// or device (kind "device"). Granting twice is not an error.
func (s *Store) GrantPermission(ctx context.Context, realmID int64, g Grant) error {
	return s.changeGrant(ctx, realmID, g, true)
}

// RevokePermission removes a grant; ErrNotFound when it did not exist.
func (s *Store) RevokePermission(ctx context.Context, realmID int64, g Grant) error {
	return s.changeGrant(ctx, realmID, g, false)
}

func (s *Store) changeGrant(ctx context.Context, realmID int64, g Grant, add bool) error {
	if !ValidPermission(g.Permission) {
		return fmt.Errorf("permission %q: not one of view, submit, change: %w", g.Permission, ErrBadFilter)
	}
	table, col, objTable, nameCol := "device_type_permissions", "device_type_id", "device_types", "name"
	switch g.Kind {
	case "device-type":
	case "device":
		table, col, objTable, nameCol = "device_permissions", "device_id", "devices", "hostname"
	default:
		return fmt.Errorf("permission kind %q: not device-type or device: %w", g.Kind, ErrBadFilter)
	}
	var objID, groupID int64
	if err := s.pool.QueryRow(ctx, `SELECT id FROM `+objTable+` WHERE realm_id = $1 AND `+nameCol+` = $2`,
		realmID, g.Object).Scan(&objID); err != nil {
		return fmt.Errorf("%s %q: %w", g.Kind, g.Object, ErrNotFound)
	}
	// A group of another realm looks missing: grants never cross realms.
	if err := s.pool.QueryRow(ctx, `SELECT id FROM groups WHERE name = $1 AND realm_id = $2`, g.Group, realmID).Scan(&groupID); err != nil {
		return fmt.Errorf("group %q: %w", g.Group, ErrNotFound)
	}
	if add {
		_, err := s.pool.Exec(ctx, `INSERT INTO `+table+` (`+col+`, group_id, permission) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING`, objID, groupID, g.Permission)
		if err != nil {
			return fmt.Errorf("grant %s: %w", g.Permission, err)
		}
		return nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+table+` WHERE `+col+` = $1 AND group_id = $2 AND permission = $3`,
		objID, groupID, g.Permission)
	if err != nil {
		return fmt.Errorf("revoke %s: %w", g.Permission, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke %s on %q from %q: %w", g.Permission, g.Object, g.Group, ErrNotFound)
	}
	return nil
}

// ListGrants returns every grant of the realm, device types first.
func (s *Store) ListGrants(ctx context.Context, realmID int64) ([]Grant, error) {
	rows, err := s.pool.Query(ctx, `SELECT p.id, 'device-type', dt.name, g.name, p.permission
FROM device_type_permissions p JOIN device_types dt ON dt.id = p.device_type_id JOIN groups g ON g.id = p.group_id
WHERE dt.realm_id = $1
UNION ALL SELECT p.id, 'device', d.hostname, g.name, p.permission
FROM device_permissions p JOIN devices d ON d.id = p.device_id JOIN groups g ON g.id = p.group_id
WHERE d.realm_id = $1 ORDER BY 2 DESC, 3, 4, 5`, realmID)
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	defer rows.Close()
	var out []Grant
	for rows.Next() {
		var g Grant
		if err := rows.Scan(&g.ID, &g.Kind, &g.Object, &g.Group, &g.Permission); err != nil {
			return nil, fmt.Errorf("list grants: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

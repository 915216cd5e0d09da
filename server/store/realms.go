package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
)

// Realms: named, isolated parts of one installation (00080_realms.sql).
// Users are installation-wide; a user acts in a realm when a member of it
// (superusers act in any), through a token or web session bound to it.

// DefaultRealmName is the name of DefaultRealm.
const DefaultRealmName = "default"

// Realm is one lab of the installation.
type Realm struct {
	ID          int64
	Name        string
	Description string
	CreatedAt   time.Time
	// PayloadDays and TempDays expire artifacts of each area that many
	// days after upload; 0 keeps them.
	PayloadDays int
	TempDays    int
}

// realmNameRE is the realms table's CHECK, kept here to answer with a
// clear message rather than a constraint name.
var realmNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// ValidRealmName explains what is wrong with a realm name, or returns nil.
func ValidRealmName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("realm name is empty: %w", ErrInvalid)
	case len(name) > 64:
		return fmt.Errorf("realm name %q: longer than 64 characters: %w", name, ErrInvalid)
	case !realmNameRE.MatchString(name):
		return fmt.Errorf("realm name %q: use lower-case letters, digits, '_' and '-', starting with a letter or digit: %w", name, ErrInvalid)
	}
	return nil
}

func realmOrDefault(id int64) int64 {
	if id == 0 {
		return DefaultRealm
	}
	return id
}

const realmColumns = `id, name, description, created_at, payload_days, temp_days`

func scanRealm(row pgx.Row) (*Realm, error) {
	var r Realm
	err := row.Scan(&r.ID, &r.Name, &r.Description, &r.CreatedAt, &r.PayloadDays, &r.TempDays)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &r, err
}

// CreateRealm adds a realm; ErrConflict when the name is taken.
func (s *Store) CreateRealm(ctx context.Context, name, description string) (*Realm, error) {
	if err := ValidRealmName(name); err != nil {
		return nil, fmt.Errorf("create realm: %w", err)
	}
	r, err := scanRealm(s.pool.QueryRow(ctx, `INSERT INTO realms (name, description) VALUES ($1, $2)
RETURNING `+realmColumns, name, description))
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("create realm %q: already exists: %w", name, ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("create realm %q: %w", name, err)
	}
	return r, nil
}

// RealmByName returns the realm, or ErrNotFound.
func (s *Store) RealmByName(ctx context.Context, name string) (*Realm, error) {
	r, err := scanRealm(s.pool.QueryRow(ctx, `SELECT `+realmColumns+` FROM realms WHERE name = $1`, name))
	if err != nil {
		return nil, fmt.Errorf("realm %q: %w", name, err)
	}
	return r, nil
}

// RealmByID returns the realm, or ErrNotFound.
func (s *Store) RealmByID(ctx context.Context, id int64) (*Realm, error) {
	r, err := scanRealm(s.pool.QueryRow(ctx, `SELECT `+realmColumns+` FROM realms WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("realm %d: %w", id, err)
	}
	return r, nil
}

// ListRealms returns the realms u may use (all for a superuser), by name.
func (s *Store) ListRealms(ctx context.Context, u *User) ([]*Realm, error) {
	su, uid := viewerArgs(u)
	rows, err := s.pool.Query(ctx, `SELECT `+realmColumns+` FROM realms r WHERE $1::boolean
    OR EXISTS (SELECT 1 FROM realm_members m WHERE m.realm_id = r.id AND m.user_id = $2) ORDER BY name`, su, uid)
	if err != nil {
		return nil, fmt.Errorf("list realms: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Realm, error) { return scanRealm(r) })
	if err != nil {
		return nil, fmt.Errorf("list realms: %w", err)
	}
	return out, nil
}

// SetRealmLifecycle sets the artifact expiry, in days, of both areas.
func (s *Store) SetRealmLifecycle(ctx context.Context, realmID int64, payloadDays, tempDays int) error {
	if payloadDays < 0 || tempDays < 0 {
		return fmt.Errorf("realm lifecycle: days must be 0 (keep) or more: %w", ErrInvalid)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE realms SET payload_days = $2, temp_days = $3 WHERE id = $1`,
		realmID, payloadDays, tempDays)
	if err != nil {
		return fmt.Errorf("realm %d lifecycle: %w", realmID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("realm %d: %w", realmID, ErrNotFound)
	}
	return nil
}

// CanUseRealm reports whether u may act in the realm: a member, or a
// superuser. Anonymous users use only the default realm.
func (s *Store) CanUseRealm(ctx context.Context, realmID int64, u *User) (bool, error) {
	if u == nil {
		return realmID == DefaultRealm, nil
	}
	if u.IsSuperuser {
		return true, nil
	}
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM realm_members WHERE realm_id = $1 AND user_id = $2)`,
		realmID, u.ID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("realm %d membership: %w", realmID, err)
	}
	return ok, nil
}

// AddRealmMember lets the user act in the realm; adding twice is no error.
func (s *Store) AddRealmMember(ctx context.Context, realmID, userID int64) error {
	defer s.tokens.clear()
	_, err := s.pool.Exec(ctx, `INSERT INTO realm_members (realm_id, user_id) VALUES ($1, $2)
ON CONFLICT DO NOTHING`, realmID, userID)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("add member %d to realm %d: %w", userID, realmID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("add member %d to realm %d: %w", userID, realmID, err)
	}
	return nil
}

// RemoveRealmMember ends the user's membership; their tokens and sessions
// of that realm stop working at once (UserByToken checks membership).
func (s *Store) RemoveRealmMember(ctx context.Context, realmID, userID int64) error {
	defer s.tokens.clear()
	tag, err := s.pool.Exec(ctx, `DELETE FROM realm_members WHERE realm_id = $1 AND user_id = $2`, realmID, userID)
	if err != nil {
		return fmt.Errorf("remove member %d from realm %d: %w", userID, realmID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("user %d in realm %d: %w", userID, realmID, ErrNotFound)
	}
	return nil
}

// RealmMembers lists the usernames of a realm's members.
func (s *Store) RealmMembers(ctx context.Context, realmID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT u.username FROM realm_members m JOIN users u ON u.id = m.user_id
WHERE m.realm_id = $1 ORDER BY u.username`, realmID)
	if err != nil {
		return nil, fmt.Errorf("realm %d members: %w", realmID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("realm %d members: %w", realmID, err)
	}
	return out, nil
}

// InRealm returns a copy of u acting in realm r.
func (u *User) InRealm(r *Realm) *User {
	c := *u
	c.RealmID, c.Realm = r.ID, r.Name
	return &c
}

// RealmIDs lists every realm's id, for the processes that serve them all.
func (s *Store) RealmIDs(ctx context.Context) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM realms ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("realm ids: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("realm ids: %w", err)
	}
	return ids, nil
}

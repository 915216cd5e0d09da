package store

import (
	"context"
	"fmt"
)

// Groups of users (Django's auth groups): job visibility and permissions.

// CreateGroup adds a group; ErrConflict when the name is taken.
func (s *Store) CreateGroup(ctx context.Context, name string) (int64, error) {
	return s.CreateGroupIn(ctx, DefaultRealm, name)
}

// CreateGroupIn adds a group belonging to a realm: only that realm's
// devices and device types can grant it permissions. Names stay unique
// across realms, as LAVA's job definitions name groups.
func (s *Store) CreateGroupIn(ctx context.Context, realmID int64, name string) (int64, error) {
	if name == "" || len(name) > 150 {
		return 0, fmt.Errorf("create group: name must be 1 to 150 characters: %w", ErrBadFilter)
	}
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO groups (name, realm_id) VALUES ($1, $2) RETURNING id`, name, realmID).Scan(&id)
	if isUniqueViolation(err) {
		return 0, fmt.Errorf("create group %q: already exists: %w", name, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("create group %q: %w", name, err)
	}
	return id, nil
}

// DeleteGroup removes a group, its memberships and grants.
func (s *Store) DeleteGroup(ctx context.Context, name string) error {
	defer s.tokens.clear() // after the write: see tokenCacheTTL
	tag, err := s.pool.Exec(ctx, `DELETE FROM groups WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("delete group %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("group %q: %w", name, ErrNotFound)
	}
	return nil
}

// GroupInfo is a group with its members.
type GroupInfo struct {
	Name    string
	Members []string
}

// ListGroups returns every group with its members, by name.
func (s *Store) ListGroups(ctx context.Context) ([]GroupInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT g.name, ARRAY(SELECT u.username FROM user_groups ug
    JOIN users u ON u.id = ug.user_id WHERE ug.group_id = g.id ORDER BY u.username)
FROM groups g ORDER BY g.name`)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	defer rows.Close()
	var out []GroupInfo
	for rows.Next() {
		var g GroupInfo
		if err := rows.Scan(&g.Name, &g.Members); err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// AddUserToGroup makes username a member of group (no error if already).
func (s *Store) AddUserToGroup(ctx context.Context, username, group string) error {
	defer s.tokens.clear() // after the write: see tokenCacheTTL
	tag, err := s.pool.Exec(ctx, `INSERT INTO user_groups (user_id, group_id)
SELECT u.id, g.id FROM users u, groups g WHERE u.username = $1 AND g.name = $2
ON CONFLICT DO NOTHING`, username, group)
	if err != nil {
		return fmt.Errorf("add %q to %q: %w", username, group, err)
	}
	if tag.RowsAffected() == 0 {
		if err := s.membershipTargets(ctx, username, group); err != nil {
			return err
		}
	}
	return nil
}

// RemoveUserFromGroup ends a membership; ErrNotFound when there was none.
func (s *Store) RemoveUserFromGroup(ctx context.Context, username, group string) error {
	defer s.tokens.clear() // after the write: see tokenCacheTTL
	tag, err := s.pool.Exec(ctx, `DELETE FROM user_groups ug USING users u, groups g
WHERE ug.user_id = u.id AND ug.group_id = g.id AND u.username = $1 AND g.name = $2`, username, group)
	if err != nil {
		return fmt.Errorf("remove %q from %q: %w", username, group, err)
	}
	if tag.RowsAffected() == 0 {
		if err := s.membershipTargets(ctx, username, group); err != nil {
			return err
		}
		return fmt.Errorf("%q is not in group %q: %w", username, group, ErrNotFound)
	}
	return nil
}

func (s *Store) membershipTargets(ctx context.Context, username, group string) error {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE username = $1`, username).Scan(&n); err != nil || n == 0 {
		return fmt.Errorf("user %q: %w", username, ErrNotFound)
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM groups WHERE name = $1`, group).Scan(&n); err != nil || n == 0 {
		return fmt.Errorf("group %q: %w", group, ErrNotFound)
	}
	return nil
}

// ListUsers returns every user by name, with groups.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.pool.Query(ctx, `SELECT username FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list users: %w", err)
		}
		names = append(names, n)
	}
	rows.Close()
	out := make([]User, 0, len(names))
	for _, n := range names {
		u, err := s.UserByName(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, nil
}

// UpdateUser sets the flags of a user; nil fields are kept.
func (s *Store) UpdateUser(ctx context.Context, username string, superuser, staff, active *bool) error {
	defer s.tokens.clear() // after the write: see tokenCacheTTL
	tag, err := s.pool.Exec(ctx, `UPDATE users SET is_superuser = COALESCE($2, is_superuser),
    is_staff = COALESCE($3, is_staff), is_active = COALESCE($4, is_active) WHERE username = $1`,
		username, superuser, staff, active)
	if err != nil {
		return fmt.Errorf("update user %q: %w", username, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("user %q: %w", username, ErrNotFound)
	}
	return nil
}

// DeleteUser removes an account with no jobs (jobs keep their submitter);
// ErrConflict when it has submitted jobs: deactivate it instead.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	defer s.tokens.clear() // after the write: see tokenCacheTTL
	tag, err := s.pool.Exec(ctx, `DELETE FROM users WHERE username = $1`, username)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("delete user %q: it has submitted jobs, deactivate it instead: %w", username, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("delete user %q: %w", username, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("user %q: %w", username, ErrNotFound)
	}
	return nil
}

// JobViewingGroupNames returns the names of a group job's viewing groups.
func (s *Store) JobViewingGroupNames(ctx context.Context, jobID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT g.name FROM job_viewing_groups v JOIN groups g ON g.id = v.group_id
WHERE v.job_id = $1 ORDER BY g.name`, jobID)
	if err != nil {
		return nil, fmt.Errorf("viewing groups of job %d: %w", jobID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("viewing groups of job %d: %w", jobID, err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Web UI sessions (00030_web.sql, realm from 00080): the caller keeps the
// session id in a cookie; only its SHA-256 (idHash) is stored.

// CreateWebSession stores a session of user acting in realmID, valid for
// ttl, and drops expired ones (cheap with the index, and no janitor).
func (s *Store) CreateWebSession(ctx context.Context, idHash []byte, userID, realmID int64, csrf string, ttl time.Duration) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO web_sessions (id_hash, user_id, csrf, expires_at, realm_id)
VALUES ($1, $2, $3, now() + $4::interval, $5)`, idHash, userID, csrf, fmt.Sprintf("%d seconds", int(ttl.Seconds())), realmID)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM web_sessions WHERE expires_at < now()`); err != nil {
		return fmt.Errorf("drop expired sessions: %w", err)
	}
	return nil
}

// webSessionSQL reads a live session with its user acting in the
// session's realm, in one query: a user who has left the realm since
// logging in (not a member, not a superuser) has no session.
const webSessionSQL = `-- name: WebSession :one
SELECT ` + userColumns + `, s.csrf, r.id, r.name
FROM web_sessions s JOIN users u ON u.id = s.user_id JOIN realms r ON r.id = s.realm_id
WHERE s.id_hash = $1 AND s.expires_at > now()
    AND (u.is_superuser OR EXISTS (SELECT 1 FROM realm_members m WHERE m.user_id = u.id AND m.realm_id = s.realm_id))`

// WebSession returns the session's user, acting in its realm, and its
// CSRF token; ErrNotFound for an unknown or expired session.
func (s *Store) WebSession(ctx context.Context, idHash []byte) (*User, string, error) {
	var u User
	var csrf string
	err := s.pool.QueryRow(ctx, webSessionSQL, idHash).Scan(&u.ID, &u.Username, &u.Email, &u.FirstName,
		&u.LastName, &u.IsSuperuser, &u.IsStaff, &u.IsActive, &u.DateJoined, &u.LastLogin, &u.Groups,
		&csrf, &u.RealmID, &u.Realm)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", ErrNotFound
	}
	if err != nil {
		return nil, "", fmt.Errorf("load session: %w", err)
	}
	return &u, csrf, nil
}

// DeleteWebSession ends a session (logout); an unknown one is no error.
func (s *Store) DeleteWebSession(ctx context.Context, idHash []byte) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM web_sessions WHERE id_hash = $1`, idHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

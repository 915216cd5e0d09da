package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// API tokens: the secret is shown once at creation; only its SHA-256 is
// stored, so a database leak gives no usable token. A secret has enough
// entropy that a plain hash (not a slow one) is safe.

// Token describes an API token without its secret.
type Token struct {
	ID          int64
	UserID      int64
	RealmID     int64
	Description string
	CreatedAt   time.Time
	LastUsed    *time.Time
}

// secretAlphabet is the alphabet of LAVA's API token secrets.
const secretAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// newSecret returns n random characters of alphabet, each equally likely.
func newSecret(n int, alphabet string) string {
	limit := byte(256 - 256%len(alphabet))
	out := make([]byte, 0, n)
	var b [64]byte
	for len(out) < n {
		_, _ = rand.Read(b[:]) // never fails (crypto/rand contract)
		for _, c := range b {
			if c < limit && len(out) < n {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

const createTokenSQL = `-- name: TokenCreate :one
INSERT INTO tokens (user_id, realm_id, hash, description)
SELECT $1, $4, $2, $3 FROM users u WHERE u.id = $1
    AND (u.is_superuser OR EXISTS (SELECT 1 FROM realm_members m WHERE m.user_id = u.id AND m.realm_id = $4))
RETURNING id, user_id, realm_id, description, created_at, last_used`

// CreateToken makes an API token for a user, acting in realmID, and
// returns its secret, which cannot be read back later. The user must be a
// member of the realm (or a superuser): ErrForbidden otherwise.
func (s *Store) CreateToken(ctx context.Context, userID, realmID int64, description string) (string, *Token, error) {
	secret := newSecret(64, secretAlphabet)
	var t Token
	err := s.pool.QueryRow(ctx, createTokenSQL, userID, hashSecret(secret), description, realmID).
		Scan(&t.ID, &t.UserID, &t.RealmID, &t.Description, &t.CreatedAt, &t.LastUsed)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, uerr := s.UserByID(ctx, userID); uerr != nil {
			return "", nil, fmt.Errorf("create token: %w", uerr)
		}
		return "", nil, fmt.Errorf("create token for user %d in realm %d: not a member: %w", userID, realmID, ErrForbidden)
	}
	if err != nil {
		if isForeignKeyViolation(err) {
			return "", nil, fmt.Errorf("create token for user %d in realm %d: %w", userID, realmID, ErrNotFound)
		}
		return "", nil, fmt.Errorf("create token for user %d: %w", userID, err)
	}
	return secret, &t, nil
}

// The token row is found by its hash; last_used is written at most once a
// minute (a separate statement, only then), so a busy client does not turn
// every read into a write.
const userByTokenSQL = `-- name: UserByToken :one
SELECT ` + userColumns + `, t.id, t.last_used IS NULL OR t.last_used < now() - interval '1 minute',
    t.realm_id, r.name
FROM tokens t JOIN users u ON u.id = t.user_id JOIN realms r ON r.id = t.realm_id
WHERE t.hash = $1
    AND (u.is_superuser OR EXISTS (SELECT 1 FROM realm_members m WHERE m.user_id = u.id AND m.realm_id = t.realm_id))`

const touchTokenSQL = `-- name: TokenTouch :exec
UPDATE tokens SET last_used = now()
WHERE id = $1 AND (last_used IS NULL OR last_used < now() - interval '1 minute')`

// UserByToken returns the owner of an API token secret, acting in the
// token's realm, or ErrNotFound (also when the owner has since left that
// realm). The user may be inactive: callers refuse those.
func (s *Store) UserByToken(ctx context.Context, secret string) (*User, error) {
	if secret == "" {
		return nil, ErrNotFound
	}
	var u User
	var tokenID int64
	var stale bool
	err := s.pool.QueryRow(ctx, userByTokenSQL, hashSecret(secret)).Scan(&u.ID, &u.Username, &u.Email,
		&u.FirstName, &u.LastName, &u.IsSuperuser, &u.IsStaff, &u.IsActive, &u.DateJoined, &u.LastLogin,
		&u.Groups, &tokenID, &stale, &u.RealmID, &u.Realm)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	if stale {
		if _, err := s.pool.Exec(ctx, touchTokenSQL, tokenID); err != nil {
			return nil, fmt.Errorf("record token use: %w", err)
		}
	}
	return &u, nil
}

const listTokensSQL = `-- name: TokenList :many
SELECT id, user_id, realm_id, description, created_at, last_used FROM tokens WHERE user_id = $1 ORDER BY id`

// ListTokens lists a user's tokens (without secrets).
func (s *Store) ListTokens(ctx context.Context, userID int64) ([]Token, error) {
	rows, err := s.pool.Query(ctx, listTokensSQL, userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens of user %d: %w", userID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Token, error) {
		var t Token
		err := r.Scan(&t.ID, &t.UserID, &t.RealmID, &t.Description, &t.CreatedAt, &t.LastUsed)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens of user %d: %w", userID, err)
	}
	return out, nil
}

const deleteTokenSQL = `-- name: TokenDelete :execrows
DELETE FROM tokens WHERE id = $1 AND user_id = $2`

// DeleteToken revokes one of a user's tokens.
func (s *Store) DeleteToken(ctx context.Context, userID, tokenID int64) error {
	defer s.tokens.clear() // after the write: see tokenCacheTTL
	tag, err := s.pool.Exec(ctx, deleteTokenSQL, tokenID, userID)
	if err != nil {
		return fmt.Errorf("delete token %d: %w", tokenID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete token %d of user %d: %w", tokenID, userID, ErrNotFound)
	}
	return nil
}

package store

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/crypto/argon2"
)

// Users are global (not per realm): one account may be granted several realms.

// ErrBadCredentials is returned when a username/password pair does not match
// an active user. It does not tell which part was wrong.
var ErrBadCredentials = errors.New("invalid username or password")

// NewUser is what CreateUser needs. An empty Password leaves the account
// without password login (token only).
type NewUser struct {
	Username    string
	Email       string
	FirstName   string
	LastName    string
	Password    string
	IsSuperuser bool
	IsStaff     bool
	// RealmID is the realm the account is first a member of; 0 is the
	// default realm.
	RealmID int64
}

// argon2id parameters: OWASP's minimum (19 MiB, 2 passes), slow enough for
// offline guessing and cheap enough for a login per request in tests.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// hashPassword returns a PHC string: $argon2id$v=19$m=..,t=..,p=..$salt$hash.
func hashPassword(pw string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt) // never fails (crypto/rand contract)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		argonMemory, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// checkPassword compares pw with a hash from hashPassword in constant time.
// Hashes with other parameters still verify (the parameters are read back).
func checkPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<22 || t > 100 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

func validUsername(name string) error {
	if name == "" || len(name) > 150 {
		return fmt.Errorf("username %q: must be 1 to 150 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@.+-_", r)) {
			return fmt.Errorf("username %q: only letters, digits and @.+-_ are allowed", name)
		}
	}
	return nil
}

const userColumns = `u.id, u.username, u.email, u.first_name, u.last_name, u.is_superuser,
    u.is_staff, u.is_active, u.date_joined, u.last_login,
    ARRAY(SELECT g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id
          WHERE ug.user_id = u.id ORDER BY g.name)`

func scanUser(row pgx.Row) (*User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.FirstName, &u.LastName, &u.IsSuperuser,
		&u.IsStaff, &u.IsActive, &u.DateJoined, &u.LastLogin, &u.Groups)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	u.RealmID, u.Realm = DefaultRealm, DefaultRealmName
	return &u, nil
}

const createUserSQL = `-- name: UserCreate :one
WITH u AS (INSERT INTO users (username, email, first_name, last_name, password_hash, is_superuser, is_staff)
    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id),
m AS (INSERT INTO realm_members (realm_id, user_id) SELECT $8, id FROM u)
SELECT id FROM u`

// CreateUser adds an account; ErrConflict when the username is taken.
func (s *Store) CreateUser(ctx context.Context, nu NewUser) (*User, error) {
	if err := validUsername(nu.Username); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	hash := ""
	if nu.Password != "" {
		hash = hashPassword(nu.Password)
	}
	var id int64
	err := s.pool.QueryRow(ctx, createUserSQL, nu.Username, nu.Email, nu.FirstName, nu.LastName,
		hash, nu.IsSuperuser, nu.IsStaff, realmOrDefault(nu.RealmID)).Scan(&id)
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("create user %q: already exists: %w", nu.Username, ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("create user %q: %w", nu.Username, err)
	}
	return s.UserByID(ctx, id)
}

const userByIDSQL = `-- name: UserByID :one
SELECT ` + userColumns + ` FROM users u WHERE u.id = $1`

// UserByID returns the user with that id, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (*User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, userByIDSQL, id))
	if err != nil {
		return nil, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

const userByNameSQL = `-- name: UserByName :one
SELECT ` + userColumns + ` FROM users u WHERE u.username = $1`

// UserByName returns the user with that username, or ErrNotFound.
func (s *Store) UserByName(ctx context.Context, name string) (*User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, userByNameSQL, name))
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

const userPasswordSQL = `-- name: UserPassword :one
SELECT password_hash, is_active FROM users WHERE username = $1`

const userLoginSQL = `-- name: UserLogin :exec
UPDATE users SET last_login = now() WHERE username = $1`

// dummyHash makes a login for an unknown user cost as much as a real one.
var dummyHash = hashPassword("golava-dummy-password")

// AuthenticateUser checks a password and records the login. Unknown users,
// inactive users and wrong passwords all give ErrBadCredentials.
func (s *Store) AuthenticateUser(ctx context.Context, name, password string) (*User, error) {
	var hash string
	var active bool
	err := s.pool.QueryRow(ctx, userPasswordSQL, name).Scan(&hash, &active)
	if errors.Is(err, pgx.ErrNoRows) {
		checkPassword(dummyHash, password)
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate %q: %w", name, err)
	}
	if !checkPassword(hash, password) || !active {
		return nil, ErrBadCredentials
	}
	defer s.tokens.clear() // after the write: see tokenCacheTTL
	if _, err := s.pool.Exec(ctx, userLoginSQL, name); err != nil {
		return nil, fmt.Errorf("record login of %q: %w", name, err)
	}
	return s.UserByName(ctx, name)
}

const setPasswordSQL = `-- name: UserSetPassword :execrows
UPDATE users SET password_hash = $2 WHERE id = $1`

// SetPassword replaces a user's password; "" disables password login.
func (s *Store) SetPassword(ctx context.Context, userID int64, password string) error {
	hash := ""
	if password != "" {
		hash = hashPassword(password)
	}
	tag, err := s.pool.Exec(ctx, setPasswordSQL, userID, hash)
	if err != nil {
		return fmt.Errorf("set password of user %d: %w", userID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set password of user %d: %w", userID, ErrNotFound)
	}
	return nil
}

// isUniqueViolation reports a UNIQUE constraint failure (SQLSTATE 23505).
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// isForeignKeyViolation reports a REFERENCES failure (SQLSTATE 23503).
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

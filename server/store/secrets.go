package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SealedSecret is one stored secret: the value sealed by server/secrets
// with the realm's data key. The store never sees a plaintext.
type SealedSecret struct {
	Name       string
	Ciphertext []byte
	Nonce      []byte
}

// RealmIDByName returns the id of a realm, ErrNotFound when none has name.
func (s *Store) RealmIDByName(ctx context.Context, name string) (int64, error) {
	r, err := s.RealmByName(ctx, name)
	if err != nil {
		return 0, err
	}
	return r.ID, nil
}

// RealmKey returns the wrapped data key of a realm, ErrNotFound when the
// realm has none yet.
func (s *Store) RealmKey(ctx context.Context, realmID int64) ([]byte, error) {
	var wrapped []byte
	err := s.pool.QueryRow(ctx, `SELECT wrapped_key FROM realm_keys WHERE realm_id = $1`, realmID).Scan(&wrapped)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("key of realm %d: %w", realmID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("key of realm %d: %w", realmID, err)
	}
	return wrapped, nil
}

// AddRealmKey stores wrapped as the realm's key unless it already has one,
// and returns the key the realm has afterwards: two servers creating the
// first key of a realm at once end up using the same one.
func (s *Store) AddRealmKey(ctx context.Context, realmID int64, wrapped []byte) ([]byte, error) {
	// Two statements: a single one could not see a key another transaction
	// committed after it began (its snapshot predates that key).
	var stored []byte
	err := s.pool.QueryRow(ctx, `
		INSERT INTO realm_keys (realm_id, wrapped_key) VALUES ($1, $2)
		ON CONFLICT (realm_id) DO NOTHING RETURNING wrapped_key`, realmID, wrapped).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return s.RealmKey(ctx, realmID)
	}
	if err != nil {
		return nil, fmt.Errorf("add key of realm %d: %w", realmID, err)
	}
	return stored, nil
}

// HasRealmKeys reports whether any realm has a key: then a master key
// exists somewhere, and generating a new one would be a mistake.
func (s *Store) HasRealmKeys(ctx context.Context) (bool, error) {
	var has bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM realm_keys)`).Scan(&has); err != nil {
		return false, fmt.Errorf("realm keys: %w", err)
	}
	return has, nil
}

// RewrapRealmKeys replaces every realm's wrapped key by fn's result in one
// transaction, so a failure (say, a key the old master key does not open)
// leaves every key as it was. It returns how many keys it rewrapped.
func (s *Store) RewrapRealmKeys(ctx context.Context, fn func(realmID int64, wrapped []byte) ([]byte, error)) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT realm_id, wrapped_key FROM realm_keys ORDER BY realm_id FOR UPDATE`)
		if err != nil {
			return fmt.Errorf("read realm keys: %w", err)
		}
		type key struct {
			realm   int64
			wrapped []byte
		}
		keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (key, error) {
			var k key
			err := r.Scan(&k.realm, &k.wrapped)
			return k, err
		})
		if err != nil {
			return fmt.Errorf("read realm keys: %w", err)
		}
		for _, k := range keys {
			nw, err := fn(k.realm, k.wrapped)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE realm_keys SET wrapped_key = $2 WHERE realm_id = $1`, k.realm, nw); err != nil {
				return fmt.Errorf("rewrap key of realm %d: %w", k.realm, err)
			}
			n++
		}
		return nil
	})
	return n, err
}

// PutSecret creates or replaces a sealed secret of a realm.
func (s *Store) PutSecret(ctx context.Context, realmID int64, sec SealedSecret) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO secrets (realm_id, name, ciphertext, nonce) VALUES ($1, $2, $3, $4)
		ON CONFLICT (realm_id, name) DO UPDATE
		SET ciphertext = EXCLUDED.ciphertext, nonce = EXCLUDED.nonce, updated_at = now()`,
		realmID, sec.Name, sec.Ciphertext, sec.Nonce)
	if err != nil {
		return fmt.Errorf("put secret %q: %w", sec.Name, err)
	}
	return nil
}

// Secret returns one sealed secret of a realm, ErrNotFound when absent.
func (s *Store) Secret(ctx context.Context, realmID int64, name string) (*SealedSecret, error) {
	sec := SealedSecret{Name: name}
	err := s.pool.QueryRow(ctx, `SELECT ciphertext, nonce FROM secrets WHERE realm_id = $1 AND name = $2`,
		realmID, name).Scan(&sec.Ciphertext, &sec.Nonce)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("secret %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	return &sec, nil
}

// SecretNames lists the names of a realm's secrets, sorted.
func (s *Store) SecretNames(ctx context.Context, realmID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT name FROM secrets WHERE realm_id = $1 ORDER BY name`, realmID)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	return names, nil
}

// DeleteSecret removes a realm's secret, ErrNotFound when absent.
func (s *Store) DeleteSecret(ctx context.Context, realmID int64, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM secrets WHERE realm_id = $1 AND name = $2`, realmID, name)
	if err != nil {
		return fmt.Errorf("delete secret %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("secret %q: %w", name, ErrNotFound)
	}
	return nil
}

// SecretInfo is what may be shown of a secret: never its value.
type SecretInfo struct {
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SecretInfos lists a realm's secrets by name, without values.
func (s *Store) SecretInfos(ctx context.Context, realmID int64) ([]SecretInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, created_at, updated_at FROM secrets WHERE realm_id = $1 ORDER BY name`, realmID)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	infos, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SecretInfo, error) {
		var i SecretInfo
		err := r.Scan(&i.Name, &i.CreatedAt, &i.UpdatedAt)
		return i, err
	})
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	return infos, nil
}

// SecretInfo returns one secret's name and times, ErrNotFound when absent.
func (s *Store) SecretInfo(ctx context.Context, realmID int64, name string) (*SecretInfo, error) {
	i := SecretInfo{Name: name}
	err := s.pool.QueryRow(ctx, `SELECT created_at, updated_at FROM secrets WHERE realm_id = $1 AND name = $2`,
		realmID, name).Scan(&i.CreatedAt, &i.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("secret %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	return &i, nil
}

package store

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// tokenCacheTTL bounds how long a token lookup is reused. Every write this
// Store makes to users, groups, memberships or tokens empties the cache at
// once; another process (lava-server manage, another API replica) revoking
// a token or deactivating a user takes effect here within this TTL.
const tokenCacheTTL = 2 * time.Second

// tokenCacheMax bounds the entries; a full cache is emptied rather than
// scanned, so a flood of distinct tokens cannot grow memory.
const tokenCacheMax = 4096

// tokenCache maps the SHA-256 of a secret to its user for tokenCacheTTL.
// Only successful lookups are kept: a wrong token always reaches the database.
type tokenCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]tokenEntry
}

type tokenEntry struct {
	user    User
	expires time.Time
}

func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (*User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || now.After(e.expires) {
		return nil, false
	}
	u := e.user // a copy: callers may not change the cached user
	return &u, true
}

func (c *tokenCache) put(key [sha256.Size]byte, u *User, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= tokenCacheMax {
		c.entries = map[[sha256.Size]byte]tokenEntry{}
	}
	c.entries[key] = tokenEntry{user: *u, expires: now.Add(tokenCacheTTL)}
}

// clear forgets every entry; the user and group writers call it.
func (c *tokenCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
}

// UserByTokenCached is UserByToken for authenticating requests: it reuses a
// successful lookup for up to tokenCacheTTL (2 s), saving a database round
// trip per request. last_used is still refreshed, within a minute plus the TTL.
func (s *Store) UserByTokenCached(ctx context.Context, secret string) (*User, error) {
	if secret == "" {
		return nil, ErrNotFound
	}
	key := sha256.Sum256([]byte(secret))
	now := time.Now()
	if u, ok := s.tokens.get(key, now); ok {
		return u, nil
	}
	u, err := s.UserByToken(ctx, secret)
	if err != nil {
		return nil, err
	}
	s.tokens.put(key, u, now)
	return u, nil
}

package artifacts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"golava/server/store"
)

// Service pairs a Backend (the bytes) with the store's artifacts table
// (who, when, checksum, expiry). Order of writes: object first, then row,
// so a row always names a complete object; a crash in between leaves at
// worst an unlisted object that the next upload of the path replaces.
// Writes of one key are serialised in the process, so two uploads of a
// path cannot leave one's bytes under the other's row (between server
// replicas they still can: the download's size check then catches most).
type Service struct {
	backend Backend
	store   *store.Store
	logger  *slog.Logger
	locks   keyLocks
	// MaxSize bounds one upload; the REST and worker API enforce it.
	MaxSize int64
}

// keyLocks is a mutex per storage key, dropped when unused.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	sync.Mutex
	users int
}

func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// NewService joins b and st; maxSize <= 0 means DefaultMaxSize.
func NewService(st *store.Store, b Backend, logger *slog.Logger, maxSize int64) *Service {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{backend: b, store: st, logger: logger, MaxSize: maxSize}
}

// Backend returns the object store.
func (s *Service) Backend() Backend { return s.backend }

// Upload describes one Put.
type Upload struct {
	RealmID    int64
	Realm      string // the realm's name: the key's first segment
	Area       string
	Path       string
	Size       int64  // -1 when unknown
	SHA256     string // expected digest; empty: computed only
	JobID      *int64
	UploaderID *int64
}

// Put stores body and records it, replacing an artifact of the same path.
// Refusals wrap ErrInvalidPath, ErrChecksum, ErrSize or ErrConflict, and
// leave nothing stored.
func (s *Service) Put(ctx context.Context, u Upload, body io.Reader) (*store.Artifact, error) {
	key, err := Key(u.Realm, u.Area, u.Path)
	if err != nil {
		return nil, err
	}
	if u.SHA256 != "" {
		if u.SHA256, err = ParseSHA256(u.SHA256); err != nil {
			return nil, err
		}
	}
	if u.Size > s.MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, more than the limit of %d", ErrSize, u.Size, s.MaxSize)
	}
	unlock := s.locks.lock(key)
	defer unlock()
	info, err := s.backend.Put(ctx, key, body, u.Size, u.SHA256)
	if err != nil {
		return nil, err
	}
	a, err := s.store.PutArtifact(ctx, store.Artifact{RealmID: u.RealmID, Area: u.Area, Path: u.Path,
		Size: info.Size, SHA256: info.SHA256, JobID: u.JobID, UploaderID: u.UploaderID})
	if err != nil {
		// The object may have replaced the one an older row describes:
		// drop both rather than serve bytes that do not match their row.
		bg := context.WithoutCancel(ctx)
		if derr := s.backend.Delete(bg, key); derr != nil {
			s.logger.Warn("artifact upload: cannot remove the unrecorded object", "key", key, "err", derr)
		}
		_ = s.store.DeleteArtifact(bg, u.RealmID, u.Area, u.Path, "")
		return nil, err
	}
	return a, nil
}

// Open returns an artifact's row and its bytes; ErrNotFound (from either
// package) when the path has no artifact.
func (s *Service) Open(ctx context.Context, realmID int64, area, path string) (*store.Artifact, io.ReadCloser, error) {
	if err := ValidArea(area); err != nil {
		return nil, nil, err
	}
	if err := ValidPath(path); err != nil {
		return nil, nil, err
	}
	a, err := s.store.Artifact(ctx, realmID, area, path)
	if err != nil {
		return nil, nil, err
	}
	key, err := Key(a.Realm, area, path)
	if err != nil {
		return nil, nil, err
	}
	rc, size, err := s.backend.Open(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	if size != a.Size {
		// Replaced while we looked: the row of the new object is written
		// just after it, so read the row again once.
		if b, err := s.store.Artifact(ctx, realmID, area, path); err == nil && b.Size == size {
			a = b
		} else {
			rc.Close()
			return nil, nil, fmt.Errorf("%s: stored object has %d bytes, its record %d: try again", key, size, a.Size)
		}
	}
	return a, rc, nil
}

// Get returns an artifact's row without its bytes.
func (s *Service) Get(ctx context.Context, realmID int64, area, path string) (*store.Artifact, error) {
	if err := ValidArea(area); err != nil {
		return nil, err
	}
	if err := ValidPath(path); err != nil {
		return nil, err
	}
	return s.store.Artifact(ctx, realmID, area, path)
}

// List returns a page of an area's artifacts under prefix and the total.
func (s *Service) List(ctx context.Context, realmID int64, area, prefix string, offset, limit int) ([]store.Artifact, int64, error) {
	if err := ValidArea(area); err != nil {
		return nil, 0, err
	}
	if err := ValidPrefix(prefix); err != nil {
		return nil, 0, err
	}
	return s.store.ListArtifacts(ctx, realmID, area, prefix, offset, limit)
}

// Delete removes the artifact a (as returned by Get or Open): the object,
// then the row.
func (s *Service) Delete(ctx context.Context, a *store.Artifact) error {
	key, err := Key(a.Realm, a.Area, a.Path)
	if err != nil {
		return err
	}
	unlock := s.locks.lock(key)
	defer unlock()
	if err := s.backend.Delete(ctx, key); err != nil {
		return err
	}
	return s.store.DeleteArtifact(ctx, a.RealmID, a.Area, a.Path, "")
}

// Expiry batches: one Expire call removes at most expireBatches of
// expireBatch artifacts, so a backlog (say after an outage) is worked off
// over several calls without holding the leader.
const (
	expireBatch   = 100
	expireBatches = 20
)

// Expire removes the artifacts of realmID (0: of every realm) whose expiry
// is before now: object first, then row, so an interrupted run leaves rows
// that the next one finishes. It returns how many went; an object that
// cannot be deleted keeps its row and is reported.
func (s *Service) Expire(ctx context.Context, realmID int64, now time.Time) (int, error) {
	if s == nil {
		return 0, nil // storage off: nothing to expire
	}
	removed := 0
	var errs []error
	for range expireBatches {
		list, err := s.store.ExpiredArtifacts(ctx, realmID, now, expireBatch)
		if err != nil {
			return removed, err
		}
		progress := 0
		for _, a := range list {
			gone, err := s.expireOne(ctx, a, now)
			if errors.Is(err, errBackend) {
				errs = append(errs, err)
				continue
			}
			if err != nil {
				return removed, errors.Join(append(errs, err)...)
			}
			if gone {
				removed++
			}
			progress++
		}
		if len(list) < expireBatch || progress < len(list) {
			break
		}
	}
	return removed, errors.Join(errs...)
}

// errBackend marks an expiry that failed in the backend: that artifact
// waits for the next run, the others go on.
var errBackend = errors.New("backend")

// expireOne deletes an expired artifact under its key's lock: if it was
// uploaded again since it was listed, the new upload's row (another
// checksum or expiry) keeps it, and its object, alive.
func (s *Service) expireOne(ctx context.Context, a store.Artifact, now time.Time) (bool, error) {
	key, err := Key(a.Realm, a.Area, a.Path)
	if err != nil {
		return false, fmt.Errorf("expire %s/%s/%s: %w: %w", a.Realm, a.Area, a.Path, errBackend, err)
	}
	unlock := s.locks.lock(key)
	defer unlock()
	cur, err := s.store.Artifact(ctx, a.RealmID, a.Area, a.Path)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil // deleted meanwhile
	}
	if err != nil {
		return false, err
	}
	if cur.ID != a.ID || cur.SHA256 != a.SHA256 || cur.ExpiresAt == nil || !cur.ExpiresAt.Before(now) {
		return false, nil // replaced meanwhile
	}
	if err := s.backend.Delete(ctx, key); err != nil {
		return false, fmt.Errorf("expire %s: %w: %w", key, errBackend, err)
	}
	return s.store.DeleteExpiredArtifact(ctx, a.ID, a.SHA256, now)
}

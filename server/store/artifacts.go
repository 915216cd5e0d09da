package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Artifact areas (issue 10): payload holds submitters' inputs, temp holds
// what jobs upload from their DUT.
const (
	AreaPayload = "payload"
	AreaTemp    = "temp"
)

// Artifact is the metadata of one stored object; server/artifacts keeps the
// bytes under Realm/Area/Path.
type Artifact struct {
	ID         int64
	RealmID    int64
	Realm      string
	Area       string
	Path       string
	Size       int64
	SHA256     string
	JobID      *int64
	UploaderID *int64
	CreatedAt  time.Time
	ExpiresAt  *time.Time
}

const artifactCols = `a.id, a.realm_id, r.name, a.area, a.path, a.size, a.sha256, a.job_id,
	a.uploader_id, a.created_at, a.expires_at`

func scanArtifact(row pgx.Row) (*Artifact, error) {
	var a Artifact
	err := row.Scan(&a.ID, &a.RealmID, &a.Realm, &a.Area, &a.Path, &a.Size, &a.SHA256, &a.JobID,
		&a.UploaderID, &a.CreatedAt, &a.ExpiresAt)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// PutArtifact records a stored object, replacing the row of the same realm,
// area and path. The expiry is computed here from the realm's days for the
// area (0 = never), so the one clock is the database's.
func (s *Store) PutArtifact(ctx context.Context, a Artifact) (*Artifact, error) {
	row := s.pool.QueryRow(ctx, `
		WITH r AS (SELECT id, name, CASE $2::text WHEN 'payload' THEN payload_days ELSE temp_days END AS days
		           FROM realms WHERE id = $1),
		a AS (
			INSERT INTO artifacts AS a (realm_id, area, path, size, sha256, job_id, uploader_id, created_at, expires_at)
			SELECT r.id, $2, $3, $4, $5, $6, $7, now(),
			       CASE WHEN r.days > 0 THEN now() + r.days * interval '1 day' END
			FROM r
			ON CONFLICT (realm_id, area, path) DO UPDATE SET size = EXCLUDED.size,
				sha256 = EXCLUDED.sha256, job_id = EXCLUDED.job_id, uploader_id = EXCLUDED.uploader_id,
				created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
			RETURNING a.*)
		SELECT `+artifactCols+` FROM a JOIN r ON r.id = a.realm_id`,
		a.RealmID, a.Area, a.Path, a.Size, a.SHA256, a.JobID, a.UploaderID)
	out, err := scanArtifact(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("artifact %s/%s: realm %d: %w", a.Area, a.Path, a.RealmID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("artifact %s/%s: %w", a.Area, a.Path, err)
	}
	return out, nil
}

// Artifact returns the row of realmID/area/path, ErrNotFound when none.
func (s *Store) Artifact(ctx context.Context, realmID int64, area, path string) (*Artifact, error) {
	a, err := scanArtifact(s.pool.QueryRow(ctx, `SELECT `+artifactCols+`
		FROM artifacts a JOIN realms r ON r.id = a.realm_id
		WHERE a.realm_id = $1 AND a.area = $2 AND a.path = $3`, realmID, area, path))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("artifact %s/%s: %w", area, path, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("artifact %s/%s: %w", area, path, err)
	}
	return a, nil
}

// likePrefix escapes prefix for LIKE so '%' and '_' in a path match
// themselves.
func likePrefix(prefix string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(prefix) + "%"
}

// ListArtifacts returns one page of an area's artifacts whose path starts
// with prefix, ordered by path, and how many match in all.
func (s *Store) ListArtifacts(ctx context.Context, realmID int64, area, prefix string, offset, limit int) ([]Artifact, int64, error) {
	var count int64
	like := likePrefix(prefix)
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM artifacts
		WHERE realm_id = $1 AND area = $2 AND path LIKE $3`, realmID, area, like).Scan(&count)
	if err != nil {
		return nil, 0, fmt.Errorf("count artifacts: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+artifactCols+`
		FROM artifacts a JOIN realms r ON r.id = a.realm_id
		WHERE a.realm_id = $1 AND a.area = $2 AND a.path LIKE $3
		ORDER BY a.path COLLATE "C" OFFSET $4 LIMIT $5`, realmID, area, like, offset, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list artifacts: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Artifact, error) {
		a, err := scanArtifact(row)
		if err != nil {
			return Artifact{}, err
		}
		return *a, nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list artifacts: %w", err)
	}
	return list, count, nil
}

// DeleteArtifact removes the row of realmID/area/path when its checksum is
// still sha256 (empty: any), so a delete racing a re-upload does not drop
// the newer row; ErrNotFound when no such row.
func (s *Store) DeleteArtifact(ctx context.Context, realmID int64, area, path, sha256 string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM artifacts
		WHERE realm_id = $1 AND area = $2 AND path = $3 AND ($4 = '' OR sha256 = $4)`,
		realmID, area, path, sha256)
	if err != nil {
		return fmt.Errorf("delete artifact %s/%s: %w", area, path, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("artifact %s/%s: %w", area, path, ErrNotFound)
	}
	return nil
}

// ExpiredArtifacts returns up to limit artifacts of realmID (0: of every
// realm) whose expiry is before now, oldest expiry first.
func (s *Store) ExpiredArtifacts(ctx context.Context, realmID int64, now time.Time, limit int) ([]Artifact, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+artifactCols+`
		FROM artifacts a JOIN realms r ON r.id = a.realm_id
		WHERE a.expires_at < $1 AND ($3 = 0 OR a.realm_id = $3)
		ORDER BY a.expires_at, a.id LIMIT $2`, now, limit, realmID)
	if err != nil {
		return nil, fmt.Errorf("expired artifacts: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Artifact, error) {
		a, err := scanArtifact(row)
		if err != nil {
			return Artifact{}, err
		}
		return *a, nil
	})
	if err != nil {
		return nil, fmt.Errorf("expired artifacts: %w", err)
	}
	return list, nil
}

// DeleteExpiredArtifact removes the row id if it is still the expired one
// (same checksum, expiry before now): a re-upload in between keeps its row.
// It reports whether a row went.
func (s *Store) DeleteExpiredArtifact(ctx context.Context, id int64, sha256 string, now time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM artifacts WHERE id = $1 AND sha256 = $2 AND expires_at < $3`,
		id, sha256, now)
	if err != nil {
		return false, fmt.Errorf("delete expired artifact %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Periodic jobs (migrations/00021_periodic_jobs.sql). The store keeps the
// schedules; the scheduler parses the cron expressions and fires them.

// PeriodicJob is one schedule.
type PeriodicJob struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Cron       string     `json:"cron"`
	Timezone   string     `json:"timezone"`
	Definition string     `json:"definition"`
	Owner      string     `json:"owner"`
	OwnerID    int64      `json:"-"`
	Enabled    bool       `json:"enabled"`
	NextRun    *time.Time `json:"next_run"`
	LastRun    *time.Time `json:"last_run"`
	LastJobID  *int64     `json:"last_job"`
	LastError  string     `json:"last_error"`
}

const periodicColumns = `p.id, p.name, p.cron, p.timezone, p.definition, u.username, p.owner_id, p.enabled,
    p.next_run, p.last_run, p.last_job_id, p.last_error`

const periodicFrom = ` FROM periodic_jobs p JOIN users u ON u.id = p.owner_id`

func scanPeriodic(r pgx.Row) (*PeriodicJob, error) {
	var p PeriodicJob
	err := r.Scan(&p.ID, &p.Name, &p.Cron, &p.Timezone, &p.Definition, &p.Owner, &p.OwnerID, &p.Enabled,
		&p.NextRun, &p.LastRun, &p.LastJobID, &p.LastError)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// CreatePeriodicJob stores a schedule whose first run is next;
// ErrConflict when the name is taken.
func (s *Store) CreatePeriodicJob(ctx context.Context, realmID int64, p PeriodicJob, next time.Time) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO periodic_jobs (realm_id, name, cron, timezone, definition, owner_id, enabled, next_run)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		realmID, p.Name, p.Cron, p.Timezone, p.Definition, p.OwnerID, p.Enabled, next).Scan(&id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return 0, fmt.Errorf("periodic job %q: %w", p.Name, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("create periodic job %q: %w", p.Name, err)
	}
	return id, nil
}

// ListPeriodicJobs returns the realm's schedules by name.
func (s *Store) ListPeriodicJobs(ctx context.Context, realmID int64) ([]PeriodicJob, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+periodicColumns+periodicFrom+` WHERE p.realm_id = $1 ORDER BY p.name`, realmID)
	if err != nil {
		return nil, fmt.Errorf("list periodic jobs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PeriodicJob, error) {
		p, err := scanPeriodic(r)
		if err != nil {
			return PeriodicJob{}, err
		}
		return *p, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list periodic jobs: %w", err)
	}
	return out, nil
}

// PeriodicJobByName returns one schedule, or ErrNotFound.
func (s *Store) PeriodicJobByName(ctx context.Context, realmID int64, name string) (*PeriodicJob, error) {
	p, err := scanPeriodic(s.pool.QueryRow(ctx, `SELECT `+periodicColumns+periodicFrom+` WHERE p.realm_id = $1 AND p.name = $2`, realmID, name))
	if err != nil {
		return nil, notFound(err, "periodic job %q", name)
	}
	return p, nil
}

// DeletePeriodicJob removes a schedule; ErrNotFound when there is none.
func (s *Store) DeletePeriodicJob(ctx context.Context, realmID int64, name string) error {
	return s.execOne(ctx, fmt.Sprintf("periodic job %q", name), `DELETE FROM periodic_jobs WHERE realm_id = $1 AND name = $2`, realmID, name)
}

// SetPeriodicJobEnabled turns a schedule on (with its next run) or off.
func (s *Store) SetPeriodicJobEnabled(ctx context.Context, realmID int64, name string, enabled bool, next time.Time) error {
	return s.execOne(ctx, fmt.Sprintf("periodic job %q", name),
		`UPDATE periodic_jobs SET enabled = $3, next_run = $4 WHERE realm_id = $1 AND name = $2`, realmID, name, enabled, next)
}

// ClaimDuePeriodicJob takes the first enabled schedule due at now: in one
// transaction it is locked (SKIP LOCKED: two schedulers never take the same
// one), next(p) becomes its next run and last_run is now. The caller then
// submits the job and records it with PeriodicJobFired. A crash between the
// two loses that one run rather than firing it twice. nil when none is due.
func (s *Store) ClaimDuePeriodicJob(ctx context.Context, realmID int64, next func(*PeriodicJob) (time.Time, error)) (*PeriodicJob, error) {
	var p *PeriodicJob
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		p, err = scanPeriodic(tx.QueryRow(ctx, `SELECT `+periodicColumns+periodicFrom+`
WHERE p.realm_id = $1 AND p.enabled AND p.next_run <= now() ORDER BY p.next_run, p.id LIMIT 1 FOR UPDATE OF p SKIP LOCKED`, realmID))
		if errors.Is(err, pgx.ErrNoRows) {
			p = nil
			return nil
		}
		if err != nil {
			return err
		}
		var nextRun *time.Time
		n, nerr := next(p)
		lastErr := ""
		if nerr != nil {
			lastErr = nerr.Error() // the schedule cannot fire again: disabled below
		} else if !n.IsZero() {
			nextRun = &n
		}
		_, err = tx.Exec(ctx, `UPDATE periodic_jobs SET next_run = $2, last_run = now(), last_error = $3,
    enabled = enabled AND $2::timestamptz IS NOT NULL WHERE id = $1`, p.ID, nextRun, lastErr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim periodic job: %w", err)
	}
	return p, nil
}

// PeriodicJobFired records the job a run submitted, or why it could not.
func (s *Store) PeriodicJobFired(ctx context.Context, id int64, jobID int64, fireErr string) error {
	var job *int64
	if jobID != 0 {
		job = &jobID
	}
	_, err := s.pool.Exec(ctx, `UPDATE periodic_jobs SET last_job_id = coalesce($2, last_job_id), last_error = $3 WHERE id = $1`, id, job, fireErr)
	if err != nil {
		return fmt.Errorf("record periodic job %d run: %w", id, err)
	}
	return nil
}

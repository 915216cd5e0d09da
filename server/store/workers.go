package store

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
)

// workerTokenAlphabet is LAVA's worker token alphabet (32 characters).
const workerTokenAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// hostnameRE is LAVA's lookup_value_regex for workers and devices.
var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,200}$`)

// ValidHostname checks a worker or device name (kind names it in the error).
func ValidHostname(kind, name string) error {
	if !hostnameRE.MatchString(name) {
		return fmt.Errorf("%s name %q: use 1 to 200 letters, digits, '.', '_' or '-'", kind, name)
	}
	return nil
}

const workerColumns = `w.id, w.realm_id, w.hostname, w.description, w.state, w.health, w.version,
    w.last_ping, w.job_limit`

func scanWorker(row pgx.Row) (*Worker, error) {
	var w Worker
	err := row.Scan(&w.ID, &w.RealmID, &w.Hostname, &w.Description, &w.State, &w.Health,
		&w.Version, &w.LastPing, &w.JobLimit)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &w, nil
}

const createWorkerSQL = `-- name: WorkerCreate :one
INSERT INTO workers AS w (realm_id, hostname, description, token_hash) VALUES ($1, $2, $3, $4)
RETURNING ` + workerColumns

// CreateWorker adds a worker (Offline, Active) and returns its token, which
// cannot be read back later. ErrConflict when the hostname is taken.
func (s *Store) CreateWorker(ctx context.Context, realmID int64, hostname, description string) (*Worker, string, error) {
	if err := ValidHostname("worker", hostname); err != nil {
		return nil, "", fmt.Errorf("create worker: %w", err)
	}
	token := newSecret(32, workerTokenAlphabet)
	var w *Worker
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		w, err = scanWorker(tx.QueryRow(ctx, createWorkerSQL, realmID, hostname, description, hashSecret(token)))
		if err != nil {
			return err
		}
		return workerEvent(ctx, tx, w)
	})
	if isUniqueViolation(err) {
		return nil, "", fmt.Errorf("create worker %q: already exists: %w", hostname, ErrConflict)
	}
	if err != nil {
		return nil, "", fmt.Errorf("create worker %q: %w", hostname, err)
	}
	return w, token, nil
}

const rotateWorkerTokenSQL = `-- name: WorkerRotateToken :execrows
UPDATE workers SET token_hash = $3 WHERE realm_id = $1 AND hostname = $2`

// RotateWorkerToken gives a worker a new token (the old one stops working)
// and returns it. Only hashes are stored, so an existing token cannot be
// handed out again.
func (s *Store) RotateWorkerToken(ctx context.Context, realmID int64, hostname string) (string, error) {
	token := newSecret(32, workerTokenAlphabet)
	tag, err := s.pool.Exec(ctx, rotateWorkerTokenSQL, realmID, hostname, hashSecret(token))
	if err != nil {
		return "", fmt.Errorf("rotate token of worker %q: %w", hostname, err)
	}
	if tag.RowsAffected() == 0 {
		return "", fmt.Errorf("rotate token of worker %q: %w", hostname, ErrNotFound)
	}
	return token, nil
}

const workerAuthSQL = `-- name: WorkerAuth :many
SELECT ` + workerColumns + `, w.token_hash FROM workers w
WHERE ($1 = 0 OR w.realm_id = $1) AND w.hostname = $2 ORDER BY w.id`

// AuthWorker returns the worker when token is its token: ErrNotFound for an
// unknown worker, ErrInvalidToken for a wrong or empty token. The
// comparison takes the same time whatever the token. realmID 0 looks in
// every realm: hostnames are unique only within a realm, so the token
// tells which realm's worker is calling, and binds it to that realm.
func (s *Store) AuthWorker(ctx context.Context, realmID int64, hostname, token string) (*Worker, error) {
	rows, err := s.pool.Query(ctx, workerAuthSQL, realmID, hostname)
	if err != nil {
		return nil, fmt.Errorf("worker %q: %w", hostname, err)
	}
	defer rows.Close()
	got := hashSecret(token)
	var found *Worker
	seen := false
	for rows.Next() {
		var w Worker
		var hash []byte
		if err := rows.Scan(&w.ID, &w.RealmID, &w.Hostname, &w.Description, &w.State, &w.Health,
			&w.Version, &w.LastPing, &w.JobLimit, &hash); err != nil {
			return nil, fmt.Errorf("worker %q: %w", hostname, err)
		}
		seen = true
		if subtle.ConstantTimeCompare(got, hash) == 1 && token != "" && found == nil {
			found = &w
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("worker %q: %w", hostname, err)
	}
	switch {
	case !seen:
		return nil, fmt.Errorf("worker %q: %w", hostname, ErrNotFound)
	case found == nil:
		return nil, fmt.Errorf("worker %q: %w", hostname, ErrInvalidToken)
	}
	return found, nil
}

const workerByNameSQL = `-- name: WorkerByName :one
SELECT ` + workerColumns + ` FROM workers w WHERE w.realm_id = $1 AND w.hostname = $2`

// WorkerByName returns a worker or ErrNotFound.
func (s *Store) WorkerByName(ctx context.Context, realmID int64, hostname string) (*Worker, error) {
	w, err := scanWorker(s.pool.QueryRow(ctx, workerByNameSQL, realmID, hostname))
	if err != nil {
		return nil, fmt.Errorf("worker %q: %w", hostname, err)
	}
	return w, nil
}

// workerListColumns are the fields ListWorkers filters and orders by.
var workerListColumns = map[string]listColumn{
	"hostname":    {"w.hostname", colText, ""},
	"description": {"w.description", colText, ""},
	"state":       {"w.state", colText, "array_position(ARRAY['Online', 'Offline'], w.state)"},
	"health":      {"w.health", colText, "array_position(ARRAY['Active', 'Maintenance', 'Retired'], w.health)"},
	"last_ping":   {"w.last_ping", colTime, ""},
	"version":     {"w.version", colText, ""},
	"job_limit":   {"w.job_limit", colInt, ""},
}

// ListWorkers returns one page of the realm's workers and the total count of
// workers matching the filters.
func (s *Store) ListWorkers(ctx context.Context, realmID int64, q ListQuery) ([]Worker, int64, error) {
	l, err := buildList(workerListColumns, q, 1, "w.hostname")
	if err != nil {
		return nil, 0, fmt.Errorf("list workers: %w", err)
	}
	args := append([]any{realmID}, l.args...)
	var total int64
	// -- name: WorkerCount :one
	countSQL := `SELECT count(*) FROM workers w WHERE w.realm_id = $1` + l.where
	if err := s.pool.QueryRow(ctx, countSQL, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count workers: %w", err)
	}
	// -- name: WorkerList :many
	listSQL := `SELECT ` + workerColumns + ` FROM workers w WHERE w.realm_id = $1` + l.where + " " + l.order + " " + l.page
	rows, err := s.pool.Query(ctx, listSQL, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list workers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Worker, error) {
		w, err := scanWorker(r)
		if err != nil {
			return Worker{}, err
		}
		return *w, nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list workers: %w", err)
	}
	return out, total, nil
}

const lockWorkerSQL = `-- name: WorkerLock :one
SELECT ` + workerColumns + ` FROM workers w WHERE w.realm_id = $1 AND w.hostname = $2 FOR UPDATE`

const setWorkerHealthSQL = `-- name: WorkerSetHealth :exec
UPDATE workers SET health = $2 WHERE id = $1`

// SetWorkerHealth moves a worker to Active, Maintenance or Retired and
// records a worker event when that is a change.
func (s *Store) SetWorkerHealth(ctx context.Context, realmID int64, hostname, health string) (*Worker, error) {
	switch health {
	case WorkerActive, WorkerMaintenance, WorkerRetired:
	default:
		return nil, fmt.Errorf("worker %q: health %q is not one of Active, Maintenance, Retired: %w", hostname, health, ErrInvalidFilter)
	}
	var w *Worker
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if w, err = scanWorker(tx.QueryRow(ctx, lockWorkerSQL, realmID, hostname)); err != nil {
			return err
		}
		if w.Health == health {
			return nil
		}
		w.Health = health
		if _, err := tx.Exec(ctx, setWorkerHealthSQL, w.ID, health); err != nil {
			return err
		}
		return workerEvent(ctx, tx, w)
	})
	if err != nil {
		return nil, fmt.Errorf("set health of worker %q: %w", hostname, err)
	}
	return w, nil
}

const workerPingSQL = `-- name: WorkerPing :exec
UPDATE workers SET version = $2, state = $3,
    last_ping = CASE WHEN $4::boolean THEN now() ELSE last_ping END
WHERE id = $1`

const lockWorkerByIDSQL = `-- name: WorkerLockByID :one
SELECT ` + workerColumns + ` FROM workers w WHERE w.id = $1 FOR UPDATE`

// PingWorker records a worker's ping: its version is stored; when accepted
// (the version matches, or mismatches are allowed) last_ping is set and an
// Offline worker goes Online, otherwise the worker goes Offline. A state
// change writes a worker event.
func (s *Store) PingWorker(ctx context.Context, workerID int64, version string, accepted bool) (*Worker, error) {
	var w *Worker
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if w, err = scanWorker(tx.QueryRow(ctx, lockWorkerByIDSQL, workerID)); err != nil {
			return err
		}
		state := WorkerOffline
		if accepted {
			state = WorkerOnline
		}
		changed := state != w.State
		w.State, w.Version = state, version
		if _, err := tx.Exec(ctx, workerPingSQL, w.ID, version, state, accepted); err != nil {
			return err
		}
		if changed {
			return workerEvent(ctx, tx, w)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ping of worker %d: %w", workerID, err)
	}
	return s.workerByID(ctx, workerID)
}

const workerByIDSQL = `-- name: WorkerByID :one
SELECT ` + workerColumns + ` FROM workers w WHERE w.id = $1`

func (s *Store) workerByID(ctx context.Context, id int64) (*Worker, error) {
	w, err := scanWorker(s.pool.QueryRow(ctx, workerByIDSQL, id))
	if err != nil {
		return nil, fmt.Errorf("worker %d: %w", id, err)
	}
	return w, nil
}

// JobRef names a job and its token, as the ping reply lists them.
type JobRef struct {
	ID    int64
	Token string
}

// WorkerJobs are a worker's jobs by what it must do with them.
type WorkerJobs struct {
	Start   []JobRef // Scheduled: start them
	Running []JobRef // Running: keep (or restart) them
	Cancel  []JobRef // Canceling: stop them
}

// Jobs on the worker's devices in Scheduled, Running or Canceling, plus the
// device-less (dynamic connection) sub-jobs of their MultiNode groups, which
// run on the same worker under the state of the job that carries them.
const workerJobsSQL = `-- name: WorkerJobs :many
WITH own AS (
    SELECT j.id, j.token, j.state, j.target_group
    FROM jobs j JOIN devices d ON d.id = j.actual_device_id
    WHERE d.worker_id = $1 AND j.realm_id = $2
      AND j.state IN ('Scheduled', 'Running', 'Canceling')
)
SELECT id, token, state FROM own
UNION
SELECT dj.id, dj.token, own.state FROM own
JOIN jobs dj ON dj.target_group = own.target_group
WHERE own.target_group IS NOT NULL AND dj.actual_device_id IS NULL AND dj.realm_id = $2
  AND dj.state <> 'Finished'
ORDER BY id`

// JobsOfWorker lists what a ping reply tells the worker.
func (s *Store) JobsOfWorker(ctx context.Context, realmID, workerID int64) (*WorkerJobs, error) {
	rows, err := s.pool.Query(ctx, workerJobsSQL, workerID, realmID)
	if err != nil {
		return nil, fmt.Errorf("jobs of worker %d: %w", workerID, err)
	}
	defer rows.Close()
	out := &WorkerJobs{Start: []JobRef{}, Running: []JobRef{}, Cancel: []JobRef{}}
	for rows.Next() {
		var r JobRef
		var state string
		if err := rows.Scan(&r.ID, &r.Token, &state); err != nil {
			return nil, fmt.Errorf("jobs of worker %d: %w", workerID, err)
		}
		switch state {
		case JobScheduled:
			out.Start = append(out.Start, r)
		case JobRunning:
			out.Running = append(out.Running, r)
		case JobCanceling:
			out.Cancel = append(out.Cancel, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobs of worker %d: %w", workerID, err)
	}
	return out, nil
}

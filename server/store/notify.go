package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notification bookkeeping for server/notify (00050_notifications.sql).

// NotifyCursor returns the id of the last event the notifier named name
// handled, and false when it never ran.
func (s *Store) NotifyCursor(ctx context.Context, name string) (int64, bool, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT event_id FROM notify_cursor WHERE name = $1`, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read notify cursor: %w", err)
	}
	return id, true, nil
}

// SetNotifyCursor records the last handled event id; it never moves back.
func (s *Store) SetNotifyCursor(ctx context.Context, name string, eventID int64) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO notify_cursor (name, event_id) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET event_id = GREATEST(notify_cursor.event_id, EXCLUDED.event_id)`, name, eventID)
	if err != nil {
		return fmt.Errorf("save notify cursor: %w", err)
	}
	return nil
}

// ClaimNotification reserves the sending of one notification; false means
// it was already claimed (sent, failed, or being sent by another notifier).
func (s *Store) ClaimNotification(ctx context.Context, jobID int64, state, target string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO job_notifications (job_id, state, target) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING`, jobID, state, target)
	if err != nil {
		return false, fmt.Errorf("claim notification of job %d: %w", jobID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// FinishNotification records the outcome of a claimed notification.
func (s *Store) FinishNotification(ctx context.Context, jobID int64, state, target string, sent bool, attempts int, detail string) error {
	status := "failed"
	if sent {
		status = "sent"
	}
	_, err := s.pool.Exec(ctx, `UPDATE job_notifications SET status = $4, attempts = $5, detail = $6, updated_at = now()
WHERE job_id = $1 AND state = $2 AND target = $3`, jobID, state, target, status, attempts, detail)
	if err != nil {
		return fmt.Errorf("record notification of job %d: %w", jobID, err)
	}
	return nil
}

// NotificationStatus returns target -> status of a job's notifications.
func (s *Store) NotificationStatus(ctx context.Context, jobID int64) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT target, status FROM job_notifications WHERE job_id = $1`, jobID)
	if err != nil {
		return nil, fmt.Errorf("notifications of job %d: %w", jobID, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var t, st string
		if err := rows.Scan(&t, &st); err != nil {
			return nil, err
		}
		out[t] = st
	}
	return out, rows.Err()
}

// PreviousJobHealth is the health of the latest finished job before j with
// the same submitter, description and requested device type ("" when none):
// the "previous job" that regression and progression compare with.
func (s *Store) PreviousJobHealth(ctx context.Context, j *Job) (string, error) {
	var h string
	err := s.pool.QueryRow(ctx, `SELECT health FROM jobs
WHERE id < $1 AND submitter_id = $2 AND description = $3
  AND requested_device_type_id IS NOT DISTINCT FROM $4 AND state = 'Finished'
ORDER BY id DESC LIMIT 1`, j.ID, j.SubmitterID, j.Description, j.RequestedDeviceTypeID).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("previous job of %d: %w", j.ID, err)
	}
	return h, nil
}

// JobByID returns a job of any realm, for services acting for the server
// (notifications); no visibility applies.
func (s *Store) JobByID(ctx context.Context, id int64) (*Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, selectJobSQL+` WHERE j.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get job %d: %w", id, err)
	}
	return j, nil
}

// StaleNotification is a notification claimed long ago and never finished
// (its notifier died while sending).
type StaleNotification struct {
	JobID int64
	State string
}

// ReleaseStaleNotifications deletes the claims still "sending" after
// olderThan and returns their jobs and states, to be sent again.
func (s *Store) ReleaseStaleNotifications(ctx context.Context, olderThan time.Duration) ([]StaleNotification, error) {
	rows, err := s.pool.Query(ctx, `DELETE FROM job_notifications
WHERE status = 'sending' AND updated_at < now() - make_interval(secs => $1)
RETURNING job_id, state`, olderThan.Seconds())
	if err != nil {
		return nil, fmt.Errorf("release stale notifications: %w", err)
	}
	defer rows.Close()
	seen := map[StaleNotification]bool{}
	var out []StaleNotification
	for rows.Next() {
		var n StaleNotification
		if err := rows.Scan(&n.JobID, &n.State); err != nil {
			return nil, err
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, rows.Err()
}

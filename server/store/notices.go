package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"golava/pkg/events"
)

// A job reaching Finished writes two outbox rows in one statement: its
// .testjob event and its .notice, the summary realm subscribers and
// webhooks get. The realm name and the server's address are read by the
// statement itself, so finishing a job costs no extra round trip.

// BaseURLSetting is the settings key holding the server's public address;
// a notice's url is that address followed by /scheduler/job/<id>, or the
// bare path when it is unset.
const BaseURLSetting = "base_url"

// finishedEventsSQL: $4 is the notice up to the realm name, $5 from after
// it to the url's value, $6 the job's path; UNION ALL keeps the testjob
// event's id below the notice's.
const finishedEventsSQL = `-- name: EventInsertFinished :exec
WITH e AS (INSERT INTO events (realm_id, topic, username, data)
    SELECT $1::bigint, 'testjob', $2::text, $3::text
    UNION ALL
    SELECT r.id, 'notice', $2::text, $4::text || to_json(r.name)::text || $5::text
        || to_json(coalesce((SELECT rtrim(value, '/') FROM settings WHERE key = '` + BaseURLSetting + `'), '') || $6::text)::text || '}'
    FROM realms r WHERE r.id = $1::bigint
    RETURNING id)
SELECT pg_notify('` + NotifyEvents + `', max(e.id)::text) FROM e`

// finishedEvents records the .testjob event and the .notice of j, which
// has just reached Finished and whose joined names are filled.
func finishedEvents(ctx context.Context, tx pgx.Tx, j *Job) error {
	head, tail := noticeParts(j)
	if _, err := tx.Exec(ctx, finishedEventsSQL, j.RealmID, j.Submitter, jobEventData(j), head, tail, JobPath(j.ID)); err != nil {
		return fmt.Errorf("insert events of finished job %d: %w", j.ID, err)
	}
	return nil
}

// JobPath is the path of a job's page on the web UI, as LAVA's.
func JobPath(id int64) string { return "/scheduler/job/" + strconv.FormatInt(id, 10) }

// noticeParts splits j's notice around the two values the database fills:
// {"job": N, "realm": <name>, "health": ..., "end_time": ..., "url": <url>}.
func noticeParts(j *Job) (head, tail string) {
	var o events.Ordered
	o.Set("health", j.Health).Set("state", j.State).Set("submitter", j.Submitter).
		Set("device_type", j.RequestedDeviceType).Set("device", j.ActualDevice).
		Set("description", j.Description).Set("end_time", j.EndTime)
	fields := o.String()
	head = `{"job": ` + strconv.FormatInt(j.ID, 10) + `, "realm": `
	tail = ", " + strings.TrimSuffix(strings.TrimPrefix(fields, "{"), "}") + `, "url": `
	return head, tail
}

// SetBaseURL records the server's public address (http or https, no
// trailing slash needed) for the url of later notices; "" removes it.
func (s *Store) SetBaseURL(ctx context.Context, baseURL string) error {
	baseURL = strings.TrimRight(strings.TrimSpace(baseURL), "/")
	if baseURL == "" {
		if _, err := s.pool.Exec(ctx, `DELETE FROM settings WHERE key = $1`, BaseURLSetting); err != nil {
			return fmt.Errorf("clear base URL: %w", err)
		}
		return nil
	}
	if !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://") {
		return fmt.Errorf("base URL %q: must start with http:// or https://: %w", baseURL, ErrInvalid)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, BaseURLSetting, baseURL)
	if err != nil {
		return fmt.Errorf("save base URL: %w", err)
	}
	return nil
}

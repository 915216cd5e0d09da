package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"golava/pkg/events"
	"golava/pkg/jobdef"
)

// A single-node submission takes two round trips: one batch of reads (the
// checks, and the job's id and submit time) and one batch of writes. pgx
// sends a batch as one pipeline ending in a single Sync, which PostgreSQL
// runs as one implicit transaction: the writes are all stored or none are,
// as with BEGIN/COMMIT, without their two extra round trips.

// submitDeviceTypeSQL resolves the device type (alias first, as
// lookupDeviceType) and counts its non-retired devices, all of them and
// those carrying every tag named in $3 (as countDevicesSQL; the counts only
// matter when every tag exists, and then the ids are the same).
const submitDeviceTypeSQL = `-- name: SubmitDeviceType :one
SELECT t.id, t.name, c.n_all, c.n_tagged
FROM device_types t CROSS JOIN LATERAL (
    SELECT count(*) AS n_all, count(*) FILTER (WHERE
        (SELECT count(*) FROM device_tags dt WHERE dt.device_id = d.id AND dt.tag_id = ANY(tg.ids)) = cardinality(tg.ids)) AS n_tagged
    FROM devices d, (SELECT ARRAY(SELECT DISTINCT id FROM tags WHERE realm_id = $1 AND name = ANY($3::text[])) AS ids) tg
    WHERE d.realm_id = $1 AND d.device_type_id = t.id AND d.health <> 'Retired') c
WHERE t.realm_id = $1 AND t.id = COALESCE(
    (SELECT device_type_id FROM aliases WHERE realm_id = $1 AND name = $2),
    (SELECT id FROM device_types WHERE realm_id = $1 AND name = $2))`

// nextJobSQL reserves the job's id and its submit time (now() of this
// statement, microseconds before the insert) so the write batch can carry
// the event, which names both, without reading the row back.
const nextJobSQL = `SELECT nextval('jobs_id_seq'), now()`

const insertJobWithIDSQL = `-- name: JobInsertWithID :exec
INSERT INTO jobs (id, realm_id, submitter_id, description, definition, original_definition,
    requested_device_type_id, priority, visibility, is_public, token, submit_time, last_update)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`

// submitEventSQL is insertEventSQL that also wakes the scheduler: both
// NOTIFYs in the statement that writes the event.
const submitEventSQL = `-- name: SubmitEventInsert :exec
WITH e AS (INSERT INTO events (realm_id, topic, username, data) VALUES ($1, $2, $3, $4) RETURNING id)
SELECT pg_notify('` + NotifyEvents + `', e.id::text), pg_notify('` + NotifyJobs + `', $5) FROM e`

// submitChecks is what the read batch found.
type submitChecks struct {
	allowed     bool // the submitter may submit to the type
	groupIDs    []int64
	dtID        *int64
	dtName      string
	all, tagged int
	dtFound     bool
	tagsByName  map[string]int64
	jobID       int64
	submitTime  time.Time
}

// SubmitDeniedError is a submission to a device type the submitter may not
// submit to (CanSubmitToDeviceType is false).
type SubmitDeniedError struct{ DeviceType string }

func (e *SubmitDeniedError) Error() string {
	return fmt.Sprintf("device type %q is not available to the submitter", e.DeviceType)
}

// SubmitJobEstimate is CanSubmitToDeviceType on the job's device types (or
// its roles'), refusing with *SubmitDeniedError, then SubmitJob, then
// EstimateStart of its (first) job; est is nil when the estimate could not
// be made. For a single-node job the permission is read in the check batch
// and the estimate in the write batch (after the insert, in the same
// transaction), saving two round trips.
func (s *Store) SubmitJobEstimate(ctx context.Context, realmID int64, submitter *User, definition string, job *jobdef.Job) (ids []int64, est *Estimate, err error) {
	if submitter == nil {
		return nil, nil, fmt.Errorf("submit job: no submitter")
	}
	if job.MultiNode != nil {
		if err := s.submitAllowed(ctx, realmID, submitter, job); err != nil {
			return nil, nil, err
		}
		if ids, err = s.SubmitJob(ctx, realmID, submitter, definition, job); err != nil {
			return nil, nil, err
		}
		est, _ = s.EstimateStart(ctx, realmID, ids[0]) //nolint:errcheck // the estimate is optional
		return ids, est, nil
	}
	return s.submitSingleBatched(ctx, realmID, submitter, definition, job, true)
}

// submitAllowed checks every role's device type, as the API did before
// submitting a MultiNode job.
func (s *Store) submitAllowed(ctx context.Context, realmID int64, submitter *User, job *jobdef.Job) error {
	types := []string{job.DeviceType}
	if job.MultiNode != nil {
		types = types[:0]
		for _, role := range job.MultiNode.Roles {
			types = append(types, role.DeviceType)
		}
	}
	for _, name := range types {
		if name == "" {
			continue
		}
		ok, err := s.CanSubmitToDeviceType(ctx, realmID, name, submitter)
		if err != nil {
			return err
		}
		if !ok {
			return &SubmitDeniedError{DeviceType: name}
		}
	}
	return nil
}

func (s *Store) submitSingleBatched(ctx context.Context, realmID int64, submitter *User, definition string, job *jobdef.Job, withEstimate bool) ([]int64, *Estimate, error) {
	// SubmitJobEstimate (withEstimate) checks the permission too; SubmitJob does not.
	c, err := s.submitReads(ctx, realmID, job, submitter, withEstimate)
	if err != nil {
		return nil, nil, err
	}
	if !c.allowed {
		return nil, nil, &SubmitDeniedError{DeviceType: job.DeviceType}
	}
	// The refusals in SubmitJob's order: groups, type, tags, devices.
	if job.Visibility.Kind == "group" && len(c.groupIDs) == 0 {
		return nil, nil, badSubmission("No known groups were found in the visibility list.")
	}
	var tagIDs []int64
	if job.DeviceType != "" {
		if !c.dtFound {
			return nil, nil, devicesUnavailable("Device type '%s' is unavailable.", job.DeviceType)
		}
		if len(job.Tags) > 0 {
			if tagIDs, err = resolveTags(c.tagsByName, job.Tags); err != nil {
				return nil, nil, err
			}
		}
		if err := deviceCountsError(c.all, c.tagged, c.dtName, job.Tags, 0); err != nil {
			return nil, nil, err
		}
	}
	j := &Job{ID: c.jobID, RealmID: realmID, SubmitterID: submitter.ID, Submitter: submitter.Username,
		Description: job.JobName, Definition: definition, OriginalDefinition: definition,
		RequestedDeviceTypeID: c.dtID, Priority: job.Priority, Visibility: visibilityKind(job.Visibility),
		State: JobSubmitted, Health: JobHealthUnknown, Token: newJobToken(),
		SubmitTime: c.submitTime, LastUpdate: c.submitTime, Tags: job.Tags}
	j.IsPublic = j.Visibility == jobdefPublic
	j.RequestedDeviceType = &c.dtName // "" without a type, as before
	est, err := s.submitWrites(ctx, j, tagIDs, c.groupIDs, withEstimate)
	if err != nil {
		return nil, nil, err
	}
	return []int64{j.ID}, est, nil
}

// submitReads runs the checks of a single-node job in one round trip.
// checkPerm adds CanSubmitToDeviceType's statement, first.
func (s *Store) submitReads(ctx context.Context, realmID int64, job *jobdef.Job, submitter *User, checkPerm bool) (*submitChecks, error) {
	b := &pgx.Batch{}
	c := &submitChecks{allowed: true}
	if checkPerm && job.DeviceType != "" {
		su, uid := viewerArgs(submitter)
		b.Queue(submitPermSQL, realmID, job.DeviceType, su, uid).QueryRow(func(row pgx.Row) error {
			err := row.Scan(&c.allowed)
			if errors.Is(err, pgx.ErrNoRows) {
				c.allowed = true // unknown type: the checks below answer
				return nil
			}
			if err != nil {
				return fmt.Errorf("submit permission on %q: %w", job.DeviceType, err)
			}
			return nil
		})
	}
	if job.Visibility.Kind == "group" {
		b.Queue(`SELECT id FROM groups WHERE name = ANY($1) ORDER BY id`, job.Visibility.Groups).Query(func(rows pgx.Rows) error {
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return fmt.Errorf("look up visibility groups: %w", err)
			}
			c.groupIDs = ids
			return nil
		})
	}
	if job.DeviceType != "" {
		tags := job.Tags
		if tags == nil {
			tags = []string{}
		}
		b.Queue(submitDeviceTypeSQL, realmID, job.DeviceType, tags).QueryRow(func(row pgx.Row) error {
			var id int64
			err := row.Scan(&id, &c.dtName, &c.all, &c.tagged)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("look up device type %q: %w", job.DeviceType, err)
			}
			c.dtFound, c.dtID = true, &id
			return nil
		})
		if len(job.Tags) > 0 {
			b.Queue(`SELECT id, name FROM tags WHERE realm_id = $1 AND name = ANY($2)`, realmID, job.Tags).Query(func(rows pgx.Rows) error {
				c.tagsByName = map[string]int64{}
				var id int64
				var name string
				if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error { c.tagsByName[name] = id; return nil }); err != nil {
					return fmt.Errorf("look up tags: %w", err)
				}
				return nil
			})
		}
	}
	b.Queue(nextJobSQL).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(&c.jobID, &c.submitTime); err != nil {
			return fmt.Errorf("reserve job id: %w", err)
		}
		return nil
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("submit job: %w", err)
	}
	return c, nil
}

// submitWrites stores j, its tags and viewing groups and its event, and
// NOTIFYs, in one round trip and one (implicit) transaction; withEstimate
// adds EstimateStart's query, which sees the new row.
func (s *Store) submitWrites(ctx context.Context, j *Job, tagIDs, groupIDs []int64, withEstimate bool) (*Estimate, error) {
	b := &pgx.Batch{}
	b.Queue(insertJobWithIDSQL, j.ID, j.RealmID, j.SubmitterID, j.Description, j.Definition,
		j.OriginalDefinition, j.RequestedDeviceTypeID, j.Priority, j.Visibility, j.IsPublic, j.Token,
		j.SubmitTime)
	steps := []string{"insert job"}
	if len(tagIDs) > 0 {
		b.Queue(insertJobTagsSQL, j.ID, tagIDs)
		steps = append(steps, fmt.Sprintf("insert job %d tags", j.ID))
	}
	if len(groupIDs) > 0 {
		b.Queue(insertJobGroupsSQL, j.ID, groupIDs)
		steps = append(steps, fmt.Sprintf("insert job %d groups", j.ID))
	}
	b.Queue(submitEventSQL, j.RealmID, events.TopicTestJob, j.Submitter, jobEventData(j), strconv.FormatInt(j.ID, 10))
	steps = append(steps, "insert "+events.TopicTestJob+" event")
	if withEstimate {
		b.Queue(estimateSQL, j.RealmID, j.ID)
	}
	br := s.pool.SendBatch(ctx, b)
	defer br.Close() //nolint:errcheck // errors are read statement by statement
	for _, step := range steps {
		if _, err := br.Exec(); err != nil {
			return nil, fmt.Errorf("%s: %w", step, err)
		}
	}
	var est *Estimate
	if withEstimate {
		var ahead, usable, idle int
		var mean *float64
		var state string
		if err := br.QueryRow().Scan(&ahead, &usable, &idle, &mean, &state); err != nil {
			return nil, fmt.Errorf("estimate start of job %d: %w", j.ID, err)
		}
		est = estimate(time.Now().UTC(), state, ahead, usable, idle, mean)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("submit job %d: %w", j.ID, err)
	}
	return est, nil
}

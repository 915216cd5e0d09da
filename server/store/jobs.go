package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"golava/pkg/jobdef"
)

// SubmitError is a submission refused for a reason outside the YAML itself:
// an unknown device type or tag, no device able to run it. Msg is LAVA's
// wording; Kind is LAVA's prefix for the REST and XML-RPC replies.
type SubmitError struct {
	Kind string // "Devices unavailable" or "Problem with submitted job data"
	Msg  string
}

func (e *SubmitError) Error() string { return e.Kind + ": " + e.Msg }

func devicesUnavailable(format string, args ...any) error {
	return &SubmitError{Kind: "Devices unavailable", Msg: fmt.Sprintf(format, args...)}
}

func badSubmission(format string, args ...any) error {
	return &SubmitError{Kind: "Problem with submitted job data", Msg: fmt.Sprintf(format, args...)}
}

// tokenAlphabet is the job token alphabet of LAVA (Django's get_random_string).
const tokenAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newJobToken returns 32 random characters of tokenAlphabet.
func newJobToken() string {
	var b [32]byte
	out := make([]byte, 0, 32)
	for len(out) < 32 {
		rand.Read(b[:]) // never fails (crypto/rand contract)
		for _, c := range b {
			// 248 = 4*62: reject the tail so every character is equally likely.
			if c < 248 && len(out) < 32 {
				out = append(out, tokenAlphabet[int(c)%len(tokenAlphabet)])
			}
		}
	}
	return string(out)
}

// newJob is one row to insert.
type newJob struct {
	description, definition, original, multinodeDef string
	deviceTypeID                                    *int64 // nil: none (a MultiNode dynamic connection)
	priority                                        int
	visibility                                      string
	groupIDs, tagIDs                                []int64
	targetGroup                                     *string
	role                                            string
}

const insertJobSQL = `-- name: JobInsert :one
INSERT INTO jobs (realm_id, submitter_id, description, definition, original_definition,
    multinode_definition, requested_device_type_id, priority, visibility, is_public, token,
    target_group, role)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING id, submit_time`

const insertJobTagsSQL = `-- name: JobTagsInsert :exec
INSERT INTO job_tags (job_id, tag_id) SELECT $1, unnest($2::bigint[])`

const insertJobGroupsSQL = `-- name: JobGroupsInsert :exec
INSERT INTO job_viewing_groups (job_id, group_id) SELECT $1, unnest($2::bigint[])`

func insertJob(ctx context.Context, tx pgx.Tx, realmID int64, submitter *User, nj *newJob) (int64, error) {
	j, err := insertJobRow(ctx, tx, realmID, submitter, nj)
	if err != nil {
		return 0, err
	}
	return j.ID, nil
}

// insertJobRow inserts a job and returns it as its event needs it (the
// caller fills RequestedDeviceType and SubID), saving a read back.
func insertJobRow(ctx context.Context, tx pgx.Tx, realmID int64, submitter *User, nj *newJob) (*Job, error) {
	j := &Job{RealmID: realmID, SubmitterID: submitter.ID, Submitter: submitter.Username,
		Description: nj.description, Definition: nj.definition, OriginalDefinition: nj.original,
		RequestedDeviceTypeID: nj.deviceTypeID, Priority: nj.priority, Visibility: nj.visibility,
		State: JobSubmitted, Health: JobHealthUnknown, IsPublic: nj.visibility == jobdefPublic,
		Token: newJobToken(), TargetGroup: nj.targetGroup, Role: nj.role}
	err := tx.QueryRow(ctx, insertJobSQL, realmID, submitter.ID, nj.description, nj.definition,
		nj.original, nj.multinodeDef, nj.deviceTypeID, nj.priority, nj.visibility,
		j.IsPublic, j.Token, nj.targetGroup, nj.role).Scan(&j.ID, &j.SubmitTime)
	if err != nil {
		return nil, fmt.Errorf("insert job: %w", err)
	}
	j.LastUpdate = j.SubmitTime
	if len(nj.tagIDs) > 0 {
		if _, err := tx.Exec(ctx, insertJobTagsSQL, j.ID, nj.tagIDs); err != nil {
			return nil, fmt.Errorf("insert job %d tags: %w", j.ID, err)
		}
	}
	if len(nj.groupIDs) > 0 {
		if _, err := tx.Exec(ctx, insertJobGroupsSQL, j.ID, nj.groupIDs); err != nil {
			return nil, fmt.Errorf("insert job %d groups: %w", j.ID, err)
		}
	}
	return j, nil
}

const jobdefPublic = "public"

// SubmitJob stores a parsed job definition as Submitted: one row, or for a
// MultiNode job one row per role and count sharing a target group. It checks,
// as LAVA does, that the device type (or alias) and tags exist in the realm
// and that enough non-retired devices carry the tags; such refusals are
// *SubmitError. Nothing is stored on error.
func (s *Store) SubmitJob(ctx context.Context, realmID int64, submitter *User, definition string, job *jobdef.Job) ([]int64, error) {
	if submitter == nil {
		return nil, fmt.Errorf("submit job: no submitter")
	}
	if job.MultiNode == nil {
		ids, _, err := s.submitSingleBatched(ctx, realmID, submitter, definition, job, false)
		return ids, err
	}
	var ids []int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		groupIDs, err := visibilityGroups(ctx, tx, job.Visibility)
		if err != nil {
			return err
		}
		jobs, err := submitMultinode(ctx, tx, realmID, submitter, definition, job, groupIDs)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if err := jobEvent(ctx, tx, j); err != nil {
				return err
			}
			ids = append(ids, j.ID)
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyJobs, strconv.FormatInt(ids[0], 10))
		if err != nil {
			return fmt.Errorf("notify job %d: %w", ids[0], err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

func visibilityKind(v jobdef.Visibility) string {
	switch v.Kind {
	case "personal", "group":
		return v.Kind
	}
	return jobdefPublic
}

// visibilityGroups resolves a group visibility to group ids. As LAVA, names
// that match no group are ignored, and none matching is an error.
func visibilityGroups(ctx context.Context, tx pgx.Tx, v jobdef.Visibility) ([]int64, error) {
	if v.Kind != "group" {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT id FROM groups WHERE name = ANY($1) ORDER BY id`, v.Groups)
	if err != nil {
		return nil, fmt.Errorf("look up visibility groups: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("look up visibility groups: %w", err)
	}
	if len(ids) == 0 {
		return nil, badSubmission("No known groups were found in the visibility list.")
	}
	return ids, nil
}

const lookupDeviceTypeSQL = `-- name: DeviceTypeByNameOrAlias :one
SELECT t.id, t.name FROM device_types t
WHERE t.realm_id = $1 AND t.id = COALESCE(
    (SELECT device_type_id FROM aliases WHERE realm_id = $1 AND name = $2),
    (SELECT id FROM device_types WHERE realm_id = $1 AND name = $2))`

// lookupDeviceType finds a device type by alias first, then by name (LAVA's
// order), and returns its id and real name.
func lookupDeviceType(ctx context.Context, tx pgx.Tx, realmID int64, name string) (int64, string, error) {
	var id int64
	var real string
	err := tx.QueryRow(ctx, lookupDeviceTypeSQL, realmID, name).Scan(&id, &real)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", devicesUnavailable("Device type '%s' is unavailable.", name)
	}
	if err != nil {
		return 0, "", fmt.Errorf("look up device type %q: %w", name, err)
	}
	return id, real, nil
}

// lookupTags returns the ids of the named tags; an unknown tag is an error.
func lookupTags(ctx context.Context, tx pgx.Tx, realmID int64, names []string) ([]int64, error) {
	if len(names) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT id, name FROM tags WHERE realm_id = $1 AND name = ANY($2)`, realmID, names)
	if err != nil {
		return nil, fmt.Errorf("look up tags: %w", err)
	}
	byName := map[string]int64{}
	var id int64
	var name string
	if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error { byName[name] = id; return nil }); err != nil {
		return nil, fmt.Errorf("look up tags: %w", err)
	}
	return resolveTags(byName, names)
}

// resolveTags maps tag names to their distinct ids in order; a name missing
// from byName is LAVA's unknown tag error.
func resolveTags(byName map[string]int64, names []string) ([]int64, error) {
	ids := make([]int64, 0, len(names))
	seen := map[int64]bool{}
	for _, n := range names {
		tid, ok := byName[n]
		if !ok {
			return nil, badSubmission("Device tag '%s' does not exist in the database.", n)
		}
		if !seen[tid] {
			seen[tid] = true
			ids = append(ids, tid)
		}
	}
	return ids, nil
}

const countDevicesSQL = `-- name: DevicesForSubmission :one
SELECT count(*), count(*) FILTER (WHERE
    (SELECT count(*) FROM device_tags t WHERE t.device_id = d.id AND t.tag_id = ANY($3::bigint[])) = cardinality($3::bigint[]))
FROM devices d
WHERE d.realm_id = $1 AND d.device_type_id = $2 AND d.health <> 'Retired'`

// checkDevices refuses a job no device could ever run, as LAVA does at
// submission: no non-retired device of the type (or fewer than count for a
// MultiNode role), or none carrying every requested tag. count 0 is a
// single-node job.
func checkDevices(ctx context.Context, tx pgx.Tx, realmID, dtID int64, dtName string, tagIDs []int64, tags []string, count int) error {
	if tagIDs == nil {
		tagIDs = []int64{}
	}
	var all, tagged int
	if err := tx.QueryRow(ctx, countDevicesSQL, realmID, dtID, tagIDs).Scan(&all, &tagged); err != nil {
		return fmt.Errorf("count devices of type %q: %w", dtName, err)
	}
	return deviceCountsError(all, tagged, dtName, tags, count)
}

// deviceCountsError is checkDevices' verdict on the counts of non-retired
// devices of the type (all) and of those carrying every tag (tagged).
func deviceCountsError(all, tagged int, dtName string, tags []string, count int) error {
	switch {
	case count == 0 && all == 0:
		return devicesUnavailable("No devices of type %s are available.", dtName)
	case count == 0 && tagged == 0:
		return devicesUnavailable("No devices of type %s are available which have all of the tags '%s'.", dtName, strings.Join(tags, ", "))
	case count > 0 && all < count:
		return devicesUnavailable("Not enough devices of type %s are currently available.", dtName)
	case count > 0 && tagged < count:
		return devicesUnavailable("Not enough devices available matching the requested tags.")
	}
	return nil
}

// emitJobEvent reads the job with its joined names and writes its event.
func emitJobEvent(ctx context.Context, tx pgx.Tx, id int64) error {
	j, err := scanJob(tx.QueryRow(ctx, selectJobSQL+` WHERE j.id = $1`, id))
	if err != nil {
		return fmt.Errorf("read job %d: %w", id, err)
	}
	return jobEvent(ctx, tx, j)
}

// ErrInvalidToken is a job token that does not match the job's.
var ErrInvalidToken = errors.New("invalid token")

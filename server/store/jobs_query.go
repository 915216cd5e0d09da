package store

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// selectJobSQL reads a job with the names joined from other tables; callers
// append WHERE (and FOR UPDATE OF j when they change it).
const selectJobSQL = `SELECT j.id, j.realm_id, j.submitter_id, u.username, j.description,
    j.definition, j.original_definition, j.requested_device_type_id, dt.name,
    j.requested_device_id, j.actual_device_id, d.hostname, w.hostname, j.priority,
    j.visibility, j.state, j.health, j.health_check, j.is_public, j.token, j.submit_time,
    j.start_time, j.end_time, j.last_update, j.target_group, j.sub_id, j.role,
    j.failure_comment, j.failure_type, j.pipeline_description,
    ARRAY(SELECT t.name FROM job_tags jt JOIN tags t ON t.id = jt.tag_id WHERE jt.job_id = j.id ORDER BY t.name),
    j.log_lines
FROM jobs j
JOIN users u ON u.id = j.submitter_id
LEFT JOIN device_types dt ON dt.id = j.requested_device_type_id
LEFT JOIN devices d ON d.id = j.actual_device_id
LEFT JOIN workers w ON w.id = d.worker_id`

func scanJob(row pgx.Row) (*Job, error) {
	var j Job
	err := row.Scan(&j.ID, &j.RealmID, &j.SubmitterID, &j.Submitter, &j.Description,
		&j.Definition, &j.OriginalDefinition, &j.RequestedDeviceTypeID, &j.RequestedDeviceType,
		&j.RequestedDeviceID, &j.ActualDeviceID, &j.ActualDevice, &j.Worker, &j.Priority,
		&j.Visibility, &j.State, &j.Health, &j.HealthCheck, &j.IsPublic, &j.Token, &j.SubmitTime,
		&j.StartTime, &j.EndTime, &j.LastUpdate, &j.TargetGroup, &j.SubID, &j.Role,
		&j.FailureComment, &j.FailureType, &j.PipelineDescription, &j.Tags, &j.LogLines)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// visibleSQL is the condition for a viewer to see job j: $su is the viewer's
// superuser flag and $uid their id (0 for anonymous). Public jobs, one's own
// jobs, and group jobs whose every group the viewer belongs to (LAVA's
// TestJob.can_view), on a device type and device the viewer may see
// (perms.go).
func visibleSQL(su, uid string) string {
	return `((` + su + ` OR j.visibility = 'public' OR j.submitter_id = ` + uid + ` OR (j.visibility = 'group'
    AND NOT EXISTS (SELECT 1 FROM job_viewing_groups g WHERE g.job_id = j.id
        AND NOT EXISTS (SELECT 1 FROM user_groups ug WHERE ug.user_id = ` + uid + ` AND ug.group_id = g.group_id))))
    AND (j.requested_device_type_id IS NULL OR ` + DeviceTypeVisibleSQL("j.requested_device_type_id", su, uid) + `)
    AND (j.actual_device_id IS NULL OR ` + permSQL("device", "j.actual_device_id", PermView, su, uid, true) + `))`
}

func viewerArgs(viewer *User) (bool, int64) {
	if viewer == nil {
		return false, 0
	}
	return viewer.IsSuperuser, viewer.ID
}

// GetJob returns the job if viewer (nil: anonymous) may see it; a job they
// may not see is ErrNotFound, as a missing one.
func (s *Store) GetJob(ctx context.Context, realmID, id int64, viewer *User) (*Job, error) {
	su, uid := viewerArgs(viewer)
	q := selectJobSQL + ` WHERE j.realm_id = $1 AND j.id = $2 AND ` + visibleSQL("$3", "$4")
	j, err := scanJob(s.pool.QueryRow(ctx, q, realmID, id, su, uid))
	if err != nil {
		return nil, fmt.Errorf("get job %d: %w", id, err)
	}
	return j, nil
}

// JobFilter selects jobs for ListJobs; zero fields do not filter.
type JobFilter struct {
	States       []string
	Healths      []string
	DeviceType   string
	Submitter    string
	ActualDevice string
	HealthCheck  *bool
	TargetGroup  string
	IDGt, IDLt   int64
	IDs          []int64
	// Times compares submit_time, start_time or end_time with a moment.
	Times []TimeFilter
	// Ordering is one of id, submit_time, start_time, end_time, with an
	// optional "-" for descending; "" is -id (newest first).
	Ordering string
	Limit    int // 0 means no limit
	Offset   int
}

var jobOrderings = map[string]string{
	"id": "j.id", "submit_time": "j.submit_time", "start_time": "j.start_time", "end_time": "j.end_time",
}

// ErrBadFilter is a filter or ordering the store does not know.
var ErrBadFilter = errors.New("invalid filter")

// ListJobs returns one page of the jobs viewer may see, and the total count.
func (s *Store) ListJobs(ctx context.Context, realmID int64, viewer *User, f JobFilter) ([]*Job, int64, error) {
	su, uid := viewerArgs(viewer)
	args := []any{realmID, su, uid}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where := append([]string{"j.realm_id = $1", visibleSQL("$2", "$3")}, jobConditions(f, arg)...)
	order, err := jobOrder(f.Ordering)
	if err != nil {
		return nil, 0, err
	}
	cond := " WHERE " + strings.Join(where, " AND ")
	var count int64
	countSQL := `SELECT count(*) FROM jobs j JOIN users u ON u.id = j.submitter_id
LEFT JOIN device_types dt ON dt.id = j.requested_device_type_id
LEFT JOIN devices d ON d.id = j.actual_device_id` + cond
	if err := s.pool.QueryRow(ctx, countSQL, args...).Scan(&count); err != nil {
		return nil, 0, fmt.Errorf("count jobs: %w", err)
	}
	q := selectJobSQL + cond + " ORDER BY " + order
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	if f.Offset > 0 {
		q += " OFFSET " + arg(f.Offset)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var jobs []*Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list jobs: %w", err)
	}
	return jobs, count, nil
}

// jobConditions turns a filter into SQL conditions, adding their arguments
// with arg.
func jobConditions(f JobFilter, arg func(any) string) []string {
	var where []string
	add := func(cond string, v any) { where = append(where, strings.Replace(cond, "?", arg(v), 1)) }
	if len(f.States) > 0 {
		add("j.state = ANY(?)", f.States)
	}
	if len(f.Healths) > 0 {
		add("j.health = ANY(?)", f.Healths)
	}
	for cond, v := range map[string]string{"dt.name = ?": f.DeviceType, "u.username = ?": f.Submitter,
		"d.hostname = ?": f.ActualDevice, "j.target_group = ?": f.TargetGroup} {
		if v != "" {
			add(cond, v)
		}
	}
	if f.HealthCheck != nil {
		add("j.health_check = ?", *f.HealthCheck)
	}
	if f.IDGt != 0 {
		add("j.id > ?", f.IDGt)
	}
	if f.IDLt != 0 {
		add("j.id < ?", f.IDLt)
	}
	if f.IDs != nil {
		add("j.id = ANY(?)", f.IDs)
	}
	for _, t := range f.Times {
		col, okCol := jobOrderings[t.Field]
		op, okOp := timeOps[t.Op]
		if okCol && okOp && t.Field != "id" {
			add(col+" "+op+" ?", t.At)
		}
	}
	return where
}

// TimeFilter is one Django-style time lookup: submit_time__gt=T is
// {Field: "submit_time", Op: "gt", At: T}. Unknown fields or ops are ignored
// (callers validate with ValidTimeFilter).
type TimeFilter struct {
	Field, Op string
	At        time.Time
}

var timeOps = map[string]string{"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

// ValidTimeFilter reports whether field__op is a time lookup jobs support.
func ValidTimeFilter(field, op string) bool {
	_, okOp := timeOps[op]
	return okOp && (field == "submit_time" || field == "start_time" || field == "end_time")
}

func jobOrder(o string) (string, error) {
	if o == "" {
		return "j.id DESC", nil
	}
	dir := "ASC"
	if strings.HasPrefix(o, "-") {
		dir, o = "DESC", o[1:]
	}
	col, ok := jobOrderings[o]
	if !ok {
		return "", fmt.Errorf("%w: ordering %q", ErrBadFilter, o)
	}
	return col + " " + dir + " NULLS LAST, j.id " + dir, nil
}

// JobExtra holds what only the REST serializer shows of a job.
type JobExtra struct {
	MultinodeDefinition string
	TagIDs              []int64
	ViewingGroupIDs     []int64
}

// JobExtras returns the extras of the given jobs, by id.
func (s *Store) JobExtras(ctx context.Context, ids []int64) (map[int64]JobExtra, error) {
	rows, err := s.pool.Query(ctx, `SELECT j.id, j.multinode_definition,
    ARRAY(SELECT tag_id FROM job_tags WHERE job_id = j.id ORDER BY tag_id),
    ARRAY(SELECT group_id FROM job_viewing_groups WHERE job_id = j.id ORDER BY group_id)
FROM jobs j WHERE j.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("job extras: %w", err)
	}
	out := make(map[int64]JobExtra, len(ids))
	var id int64
	var e JobExtra
	_, err = pgx.ForEachRow(rows, []any{&id, &e.MultinodeDefinition, &e.TagIDs, &e.ViewingGroupIDs}, func() error {
		out[id] = e
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("job extras: %w", err)
	}
	return out, nil
}

// CheckJobToken returns ErrNotFound for an unknown job and ErrInvalidToken
// when token is not the job's (compared in constant time).
func (s *Store) CheckJobToken(ctx context.Context, id int64, token string) error {
	var want string
	err := s.pool.QueryRow(ctx, `SELECT token FROM jobs WHERE id = $1`, id).Scan(&want)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("job %d token: %w", id, err)
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(token)) != 1 {
		return fmt.Errorf("job %d: %w", id, ErrInvalidToken)
	}
	return nil
}

// WorkerJob is what the worker API needs to start a job.
type WorkerJob struct {
	Job *Job
	// DeviceDictionary is the actual device's dictionary; DeviceType its type
	// and DeviceTypeTemplate the type's edited template (nil: use the file).
	DeviceDictionary   string
	DeviceType         string
	DeviceTypeTemplate *string
	// Worker is the device's worker; its configuration files follow.
	Worker           string
	DispatcherConfig string
	Env              string
	EnvDUT           string
}

const workerJobSQL = `-- name: WorkerJobDevice :one
SELECT d.dictionary, dt.name, dt.template, COALESCE(w.hostname, ''),
    COALESCE(w.dispatcher_config, ''), COALESCE(w.env, ''), COALESCE(w.env_dut, '')
FROM devices d JOIN device_types dt ON dt.id = d.device_type_id
LEFT JOIN workers w ON w.id = d.worker_id
WHERE d.id = $1`

// JobForWorker returns the job with its device and worker configuration
// after checking token: ErrNotFound, ErrInvalidToken, or ErrConflict when
// the job has no device yet.
func (s *Store) JobForWorker(ctx context.Context, id int64, token string) (*WorkerJob, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, selectJobSQL+` WHERE j.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("job %d: %w", id, err)
	}
	if subtle.ConstantTimeCompare([]byte(j.Token), []byte(token)) != 1 {
		return nil, fmt.Errorf("job %d: %w", id, ErrInvalidToken)
	}
	if j.ActualDeviceID == nil {
		return nil, fmt.Errorf("job %d has no device: %w", id, ErrConflict)
	}
	wj := &WorkerJob{Job: j}
	err = s.pool.QueryRow(ctx, workerJobSQL, *j.ActualDeviceID).Scan(&wj.DeviceDictionary,
		&wj.DeviceType, &wj.DeviceTypeTemplate, &wj.Worker, &wj.DispatcherConfig, &wj.Env, &wj.EnvDUT)
	if err != nil {
		return nil, fmt.Errorf("job %d device: %w", id, err)
	}
	return wj, nil
}

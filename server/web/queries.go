package web

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"golava/server/store"
)

// The UI reads lists through its own queries: keyset pages (id < cursor)
// without a count, so the job list costs the same on page 1 and page 20,000
// of a million jobs.

// jobRow is one line of a job list.
type jobRow struct {
	ID          int64
	Description string
	State       string
	Health      string
	Submitter   string
	DeviceType  *string
	Device      *string
	HealthCheck bool
	Priority    int
	SubmitTime  time.Time
	StartTime   *time.Time
	EndTime     *time.Time
}

// jobListFilter is the job list's form; empty fields do not filter.
type jobListFilter struct {
	State, Health, DeviceType, Submitter, Tag, Text string
	Device, Group                                   string
	HealthCheck                                     bool
	Before, After                                   int64 // keyset cursors
	Limit                                           int
}

// visibleCond is store's job visibility rule (public, own, or every viewing
// group of the job among the viewer's groups, and the requested device type
// and the actual device visible); superusers see everything. The query must
// join devices as d (jobRowSelect does).
func visibleCond(viewer *store.User, arg func(any) string) string {
	if viewer != nil && viewer.IsSuperuser {
		return "true"
	}
	var uid int64
	if viewer != nil {
		uid = viewer.ID
	}
	su, u := arg(false)+"::boolean", arg(uid)+"::bigint"
	return `((j.visibility = 'public' OR j.submitter_id = ` + u + ` OR (j.visibility = 'group'
    AND NOT EXISTS (SELECT 1 FROM job_viewing_groups g WHERE g.job_id = j.id
        AND NOT EXISTS (SELECT 1 FROM user_groups ug WHERE ug.user_id = ` + u + ` AND ug.group_id = g.group_id))))
    AND (j.requested_device_type_id IS NULL OR ` + store.DeviceTypeVisibleSQL("j.requested_device_type_id", su, u) + `)
    AND (j.actual_device_id IS NULL OR ` + store.DeviceVisibleSQL("j.actual_device_id", "d.device_type_id", su, u) + `))`
}

// likePattern escapes LIKE's wildcards in s.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

const jobRowSelect = `SELECT j.id, j.description, j.state, j.health, u.username, dt.name, d.hostname,
    j.health_check, j.priority, j.submit_time, j.start_time, j.end_time
FROM jobs j JOIN users u ON u.id = j.submitter_id
LEFT JOIN device_types dt ON dt.id = j.requested_device_type_id
LEFT JOIN devices d ON d.id = j.actual_device_id`

// listJobs returns up to f.Limit jobs newest first, and whether more exist
// past the page in the direction read.
func (s *Server) listJobs(ctx context.Context, viewer *store.User, f jobListFilter) ([]jobRow, bool, error) {
	args := []any{s.realmOf(viewer)}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where := []string{"j.realm_id = $1", visibleCond(viewer, arg)}
	add := func(cond string, v any) { where = append(where, strings.Replace(cond, "?", arg(v), 1)) }
	if f.State != "" {
		add("j.state = ?", f.State)
	}
	if f.Health != "" {
		add("j.health = ?", f.Health)
	}
	if f.DeviceType != "" {
		add("j.requested_device_type_id = (SELECT id FROM device_types WHERE realm_id = $1 AND name = ?)", f.DeviceType)
	}
	if f.Device != "" {
		add("j.actual_device_id = (SELECT id FROM devices WHERE realm_id = $1 AND hostname = ?)", f.Device)
	}
	if f.Submitter != "" {
		add("j.submitter_id = (SELECT id FROM users WHERE username = ?)", f.Submitter)
	}
	if f.Group != "" {
		add("j.target_group = ?", f.Group)
	}
	if f.HealthCheck {
		where = append(where, "j.health_check")
	}
	if f.Tag != "" {
		// A semi-join: the tagged jobs are read once, not probed per job.
		add("j.id IN (SELECT jt.job_id FROM job_tags jt JOIN tags t ON t.id = jt.tag_id WHERE t.realm_id = $1 AND t.name = ?)", f.Tag)
	}
	if f.Text != "" {
		if id, err := strconv.ParseInt(strings.TrimSpace(f.Text), 10, 64); err == nil {
			add("(j.id = ? OR j.description ILIKE "+arg(likePattern(f.Text))+")", id)
		} else {
			add("j.description ILIKE ?", likePattern(f.Text))
		}
	}
	order := "DESC"
	switch {
	case f.After > 0:
		add("j.id > ?", f.After)
		order = "ASC"
	case f.Before > 0:
		add("j.id < ?", f.Before)
	}
	q := jobRowSelect + " WHERE " + strings.Join(where, " AND ") + " ORDER BY j.id " + order + " LIMIT " + arg(f.Limit+1)
	out, err := s.scanJobRows(ctx, q, args...)
	if err != nil {
		return nil, false, err
	}
	more := len(out) > f.Limit
	if more {
		out = out[:f.Limit]
	}
	if order == "ASC" {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, more, nil
}

// countRow is a label and a number, for the dashboard's bars.
type countRow struct {
	Label string
	N     int64
}

func (s *Server) counts(ctx context.Context, q string, args ...any) ([]countRow, error) {
	rows, err := s.st.Pool().Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (countRow, error) {
		var c countRow
		err := r.Scan(&c.Label, &c.N)
		return c, err
	})
}

// hourBucket is one hour of the failures chart.
type hourBucket struct {
	Hour       time.Time
	Total, Bad int64
}

// hourly counts the jobs that ended in each of the last 24 hours: one
// range scan of the end_time index, bucketed here.
func (s *Server) hourly(ctx context.Context, realmID int64) ([]hourBucket, error) {
	now := time.Now().UTC().Truncate(time.Hour)
	first := now.Add(-23 * time.Hour)
	rows, err := s.st.Pool().Query(ctx, `SELECT date_trunc('hour', end_time AT TIME ZONE 'UTC'), count(*),
    count(*) FILTER (WHERE health = 'Incomplete')
FROM jobs WHERE realm_id = $1 AND end_time >= $2 GROUP BY 1`, realmID, first)
	if err != nil {
		return nil, fmt.Errorf("hourly jobs: %w", err)
	}
	out := make([]hourBucket, 24)
	for i := range out {
		out[i].Hour = first.Add(time.Duration(i) * time.Hour)
	}
	for rows.Next() {
		var h time.Time
		var total, bad int64
		if err := rows.Scan(&h, &total, &bad); err != nil {
			rows.Close()
			return nil, fmt.Errorf("hourly jobs: %w", err)
		}
		if i := int(h.Sub(first) / time.Hour); i >= 0 && i < len(out) {
			out[i].Total, out[i].Bad = total, bad
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("hourly jobs: %w", err)
	}
	return out, nil
}

func itoa(i int) string { return strconv.Itoa(i) }

func (s *Server) scanJobRows(ctx context.Context, q string, args ...any) ([]jobRow, error) {
	rows, err := s.st.Pool().Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (jobRow, error) {
		var j jobRow
		err := r.Scan(&j.ID, &j.Description, &j.State, &j.Health, &j.Submitter, &j.DeviceType, &j.Device,
			&j.HealthCheck, &j.Priority, &j.SubmitTime, &j.StartTime, &j.EndTime)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return out, nil
}

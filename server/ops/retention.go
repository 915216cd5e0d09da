package ops

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"golava/pkg/metrics"
)

// Retention applies a Policy to the finished jobs of one realm. Run it
// where exactly one process does it: lava-scheduler runs it while it leads.
type Retention struct {
	pool    *pgxpool.Pool
	realm   int64
	policy  Policy
	logger  *slog.Logger
	deleted *prometheus.CounterVec
	runs    *prometheus.CounterVec
	last    prometheus.Gauge
}

// RetentionReport counts what one run removed.
type RetentionReport struct {
	Jobs, Logs, Results int // jobs deleted; jobs whose logs or results were deleted
	Scanned             int // finished jobs read
}

// NewRetention prepares the policy p for realm; realm 0 is every realm
// (the policy names device types, so it applies to each realm's type of
// that name).
func NewRetention(pool *pgxpool.Pool, realm int64, p Policy, logger *slog.Logger) *Retention {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Retention{
		pool: pool, realm: realm, policy: p.withDefaults(), logger: logger,
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "retention", Name: "deleted_total",
			Help: "Finished jobs whose data retention removed, by kind (jobs, logs, results).",
		}, []string{"kind"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "retention", Name: "runs_total",
			Help: "Retention runs, by outcome (ok, error).",
		}, []string{"outcome"}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Subsystem: "retention", Name: "last_run_seconds",
			Help: "Duration of the last retention run.",
		}),
	}
}

// Collectors returns the retention metrics.
func (r *Retention) Collectors() []prometheus.Collector {
	return []prometheus.Collector{r.deleted, r.runs, r.last}
}

// Run applies the policy at once and then every Interval until ctx ends.
// Failures are logged and retried at the next interval.
func (r *Retention) Run(ctx context.Context) {
	if r.policy.Empty() {
		return
	}
	for {
		start := time.Now()
		rep, err := r.RunOnce(ctx, start)
		r.last.Set(time.Since(start).Seconds())
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.runs.WithLabelValues("error").Inc()
			r.logger.Warn("retention failed", "error", err)
		} else {
			r.runs.WithLabelValues("ok").Inc()
			r.logger.Info("retention done", "jobs", rep.Jobs, "logs", rep.Logs, "results", rep.Results,
				"scanned", rep.Scanned, "took", time.Since(start).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(r.policy.Interval)):
		}
	}
}

// candidates reads every finished job of the realm once, with its device
// type, end and rank among its type's finished jobs (1 = newest), and
// whether logs and results are still there. A plain read: no lock.
const candidatesSQL = `
WITH f AS (
    SELECT j.id, coalesce(j.end_time, j.last_update) AS ended,
           coalesce(j.requested_device_type_id, d.device_type_id) AS dt, j.target_group
    FROM jobs j
    LEFT JOIN devices d ON d.id = coalesce(j.actual_device_id, j.requested_device_id)
    WHERE j.state = 'Finished' AND ($1::bigint = 0 OR j.realm_id = $1)
)
SELECT f.id, coalesce(t.name, ''), f.ended,
       row_number() OVER (PARTITION BY f.dt ORDER BY f.ended DESC, f.id DESC),
       EXISTS (SELECT 1 FROM log_chunks l WHERE l.job_id = f.id),
       EXISTS (SELECT 1 FROM test_suites s WHERE s.job_id = f.id),
       coalesce(f.target_group, ''),
       CASE WHEN f.target_group IS NULL THEN 1
            ELSE (SELECT count(*) FROM jobs g WHERE g.target_group = f.target_group) END
FROM f LEFT JOIN device_types t ON t.id = f.dt`

// plan is what one run deletes.
type plan struct{ jobs, logs, results []int64 }

func (r *Retention) plan(ctx context.Context, now time.Time) (plan, int, error) {
	var p plan
	rows, err := r.pool.Query(ctx, candidatesSQL, r.realm)
	if err != nil {
		return p, 0, fmt.Errorf("read finished jobs: %w", err)
	}
	defer rows.Close()
	n := 0
	var (
		id, rank            int64
		dt                  string
		ended               time.Time
		hasLogs, hasResults bool
		group               string
		members             int64
		groups              = map[string]*groupPlan{}
		cache               = map[string]Rules{}
	)
	for rows.Next() {
		if err := rows.Scan(&id, &dt, &ended, &rank, &hasLogs, &hasResults, &group, &members); err != nil {
			return p, 0, fmt.Errorf("read finished jobs: %w", err)
		}
		n++
		rules, ok := cache[dt]
		if !ok {
			rules = r.policy.rules(dt)
			cache[dt] = rules
		}
		switch {
		case rules.Jobs.expired(now, ended, rank) && group != "":
			g := groups[group]
			if g == nil {
				g = &groupPlan{members: members}
				groups[group] = g
			}
			g.ids = append(g.ids, id)
		case rules.Jobs.expired(now, ended, rank):
			p.jobs = append(p.jobs, id)
		default:
			if hasLogs && rules.Logs.expired(now, ended, rank) {
				p.logs = append(p.logs, id)
			}
			if hasResults && rules.Results.expired(now, ended, rank) {
				p.results = append(p.results, id)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return p, 0, fmt.Errorf("read finished jobs: %w", err)
	}
	for _, g := range groups {
		if int64(len(g.ids)) == g.members {
			p.jobs = append(p.jobs, g.ids...)
		}
	}
	return p, n, nil
}

// groupPlan gathers the expired jobs of one MultiNode group: a group goes
// whole or not at all, so that no job is left without its peers.
type groupPlan struct {
	members int64
	ids     []int64
}

// RunOnce applies the policy as of now and returns what it removed.
func (r *Retention) RunOnce(ctx context.Context, now time.Time) (RetentionReport, error) {
	var rep RetentionReport
	p, n, err := r.plan(ctx, now)
	if err != nil {
		return rep, err
	}
	rep.Scanned = n
	// Logs and results first: a job deleted later takes its own with it.
	steps := []struct {
		kind string
		ids  []int64
		sql  string
		out  *int
	}{
		// The job's line count goes with its lines: the API then answers
		// 404 for the log, as for a job that never logged.
		{"logs", p.logs, `WITH gone AS (DELETE FROM log_chunks WHERE job_id = ANY($1))
			UPDATE jobs SET log_lines = 0, log_bytes = 0 WHERE id = ANY($1) AND state = 'Finished'`, &rep.Logs},
		{"results", p.results, `DELETE FROM test_suites WHERE job_id = ANY($1)`, &rep.Results},
		// state is checked again: a finished job never changes state, but
		// an id read a moment ago must not take anything else with it.
		{"jobs", p.jobs, `DELETE FROM jobs WHERE id = ANY($1) AND state = 'Finished'`, &rep.Jobs},
	}
	for _, s := range steps {
		done, err := r.batches(ctx, s.ids, s.sql)
		*s.out = done
		r.deleted.WithLabelValues(s.kind).Add(float64(done))
		if err != nil {
			return rep, fmt.Errorf("delete %s: %w", s.kind, err)
		}
	}
	return rep, nil
}

// batches runs sql on ids BatchSize at a time, each its own short
// transaction, pausing between them; it returns how many ids it covered.
func (r *Retention) batches(ctx context.Context, ids []int64, sql string) (int, error) {
	done := 0
	for len(ids) > 0 {
		n := min(len(ids), r.policy.BatchSize)
		bctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err := r.pool.Exec(bctx, sql, ids[:n])
		cancel()
		if err != nil {
			return done, err
		}
		done += n
		ids = ids[n:]
		if len(ids) > 0 {
			select {
			case <-ctx.Done():
				return done, ctx.Err()
			case <-time.After(time.Duration(r.policy.Pause)):
			}
		}
	}
	return done, nil
}

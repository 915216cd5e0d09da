package ops

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"golava/pkg/metrics"
)

// DBCollector exports the lab's state from the database at scrape time.
// Results are cached (CacheFor) so that several Prometheus servers, or a
// dashboard refreshing often, cost one set of queries; finished jobs, the
// only count that grows with the history, are recounted less often.
type DBCollector struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	// CacheFor is how long a scrape reuses the last figures (5 s).
	CacheFor time.Duration
	// FinishedCacheFor is how long finished-job counts are reused (60 s).
	FinishedCacheFor time.Duration

	mu        sync.Mutex
	at        time.Time
	finAt     time.Time
	samples   []prometheus.Metric
	finished  []prometheus.Metric
	lastError error
}

// Every lab figure carries the realm's name as its first label: realms are
// separate labs, and a dashboard sums over the label for the installation.
var (
	descJobs = prometheus.NewDesc(metrics.Namespace+"_jobs", "Jobs by realm, state and health (Finished jobs are recounted every minute).",
		[]string{"realm", "state", "health"}, nil)
	descQueue = prometheus.NewDesc(metrics.Namespace+"_queue_jobs", "Jobs waiting in the queue (Submitted), by realm and requested device type.",
		[]string{"realm", "device_type"}, nil)
	descQueueAge = prometheus.NewDesc(metrics.Namespace+"_queue_oldest_seconds", "Age of the oldest queued job, by realm and requested device type.",
		[]string{"realm", "device_type"}, nil)
	descDevices = prometheus.NewDesc(metrics.Namespace+"_devices", "Devices by realm, device type, state and health.",
		[]string{"realm", "device_type", "state", "health"}, nil)
	descWorkers = prometheus.NewDesc(metrics.Namespace+"_workers", "Workers by realm, state (Online, Offline) and health.",
		[]string{"realm", "state", "health"}, nil)
	descUp = prometheus.NewDesc(metrics.Namespace+"_database_up", "1 when the last database scrape succeeded.", nil, nil)
)

// NewDBCollector returns a collector reading pool.
func NewDBCollector(pool *pgxpool.Pool, logger *slog.Logger) *DBCollector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DBCollector{pool: pool, logger: logger, CacheFor: 5 * time.Second, FinishedCacheFor: time.Minute}
}

// Describe sends the descriptors of every metric.
func (c *DBCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJobs, descQueue, descQueueAge, descDevices, descWorkers, descUp} {
		ch <- d
	}
}

// Collect sends the cached figures, refreshing them when stale.
func (c *DBCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if now.Sub(c.at) >= c.CacheFor {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.samples, c.lastError = c.query(ctx)
		if c.lastError == nil && now.Sub(c.finAt) >= c.FinishedCacheFor {
			var fin []prometheus.Metric
			if fin, c.lastError = c.queryFinished(ctx); c.lastError == nil {
				c.finished, c.finAt = fin, now
			}
		}
		cancel()
		c.at = now
		if c.lastError != nil {
			c.logger.Warn("metrics: read the database", "error", c.lastError)
		}
	}
	up := 1.0
	if c.lastError != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up)
	for _, m := range c.samples {
		ch <- m
	}
	for _, m := range c.finished {
		ch <- m
	}
}

// queries of the active state: each reads a small set (the queue, the
// running jobs, devices, workers) through an index.
var activeQueries = []struct {
	desc *prometheus.Desc
	sql  string
}{
	{descJobs, `SELECT r.name, j.state, j.health, count(*)::float8 FROM jobs j JOIN realms r ON r.id = j.realm_id
		WHERE j.state IN ('Submitted', 'Scheduling', 'Scheduled', 'Running', 'Canceling') GROUP BY 1, 2, 3`},
	{descQueue, `SELECT r.name, coalesce(dt.name, ''), count(*)::float8 FROM jobs j
		JOIN realms r ON r.id = j.realm_id
		LEFT JOIN devices d ON d.id = j.requested_device_id
		LEFT JOIN device_types dt ON dt.id = coalesce(j.requested_device_type_id, d.device_type_id)
		WHERE j.state = 'Submitted' GROUP BY 1, 2`},
	{descQueueAge, `SELECT r.name, coalesce(dt.name, ''), extract(epoch FROM now() - min(j.submit_time))::float8 FROM jobs j
		JOIN realms r ON r.id = j.realm_id
		LEFT JOIN devices d ON d.id = j.requested_device_id
		LEFT JOIN device_types dt ON dt.id = coalesce(j.requested_device_type_id, d.device_type_id)
		WHERE j.state = 'Submitted' GROUP BY 1, 2`},
	{descDevices, `SELECT r.name, dt.name, d.state, d.health, count(*)::float8 FROM devices d
		JOIN realms r ON r.id = d.realm_id
		JOIN device_types dt ON dt.id = d.device_type_id GROUP BY 1, 2, 3, 4`},
	{descWorkers, `SELECT r.name, w.state, w.health, count(*)::float8 FROM workers w
		JOIN realms r ON r.id = w.realm_id GROUP BY 1, 2, 3`},
}

func (c *DBCollector) query(ctx context.Context) ([]prometheus.Metric, error) {
	var out []prometheus.Metric
	for _, q := range activeQueries {
		ms, err := c.gauges(ctx, q.desc, q.sql)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

func (c *DBCollector) queryFinished(ctx context.Context) ([]prometheus.Metric, error) {
	return c.gauges(ctx, descJobs, `SELECT r.name, j.state, j.health, count(*)::float8 FROM jobs j
		JOIN realms r ON r.id = j.realm_id WHERE j.state = 'Finished' GROUP BY 1, 2, 3`)
}

// gauges runs sql, whose rows are the label values then the value.
func (c *DBCollector) gauges(ctx context.Context, desc *prometheus.Desc, sql string) ([]prometheus.Metric, error) {
	rows, err := c.pool.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []prometheus.Metric
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		labels := make([]string, len(vals)-1)
		for i := range labels {
			labels[i], _ = vals[i].(string)
		}
		v, _ := vals[len(vals)-1].(float64)
		out = append(out, prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...))
	}
	return out, rows.Err()
}

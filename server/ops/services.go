package ops

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"golava/pkg/metrics"
	"golava/server/publisher"
	"golava/server/scheduler"
)

// PublisherCollectors export a publisher hub's counters at scrape time.
func PublisherCollectors(hub interface{ Stats() publisher.Stats }) []prometheus.Collector {
	opts := func(name, help string) prometheus.GaugeOpts {
		return prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "publisher", Name: name, Help: help}
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(opts("clients", "Event subscribers connected now (WebSocket and ZMQ)."),
			func() float64 { return float64(hub.Stats().Subscribers) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts(opts("events_published_total", "Events published since start.")),
			func() float64 { return float64(hub.Stats().Published) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts(opts("clients_dropped_total", "Subscribers dropped for falling too far behind.")),
			func() float64 { return float64(hub.Stats().Dropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts(opts("replays_total", "Catch-ups read back from the database.")),
			func() float64 { return float64(hub.Stats().Replays) }),
		prometheus.NewGaugeFunc(opts("waiting_gap", "1 while delivery waits for a missing event id."),
			func() float64 {
				if hub.Stats().WaitingGap {
					return 1
				}
				return 0
			}),
	}
}

// SchedulerMetrics turns the scheduler's pass statistics into metrics;
// set its OnPass as scheduler.Config.OnPass.
type SchedulerMetrics struct {
	duration  *prometheus.HistogramVec
	decisions *prometheus.CounterVec
	leading   prometheus.Collector
	// isLeading counts the realms this process leads: lava-scheduler runs
	// one scheduler per realm, each reporting its own leadership.
	isLeading atomic.Int32
}

// NewSchedulerMetrics creates them; set OnLeadership as
// scheduler.Config.OnLeadership too.
func NewSchedulerMetrics() *SchedulerMetrics {
	m := &SchedulerMetrics{}
	*m = SchedulerMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Subsystem: "scheduler", Name: "pass_duration_seconds",
			Help:    "Duration of scheduling passes, by phase (load, decide, apply, total).",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10},
		}, []string{"phase"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "scheduler", Name: "decisions_total",
			Help: "Outcomes of scheduling passes: assigned jobs, health checks created, conflicts, errors.",
		}, []string{"outcome"}),
		leading: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Subsystem: "scheduler", Name: "leading",
			Help: "Number of realms this scheduler process leads (1 while a one-realm scheduler leads).",
		}, func() float64 { return float64(m.isLeading.Load()) }),
	}
	return m
}

// OnLeadership records that a realm's scheduler took (true) or lost
// (false) leadership; the scheduler calls it on changes only.
func (m *SchedulerMetrics) OnLeadership(v bool) {
	if v {
		m.isLeading.Add(1)
	} else {
		m.isLeading.Add(-1)
	}
}

// Collectors returns the collectors to register.
func (m *SchedulerMetrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.duration, m.decisions, m.leading}
}

// OnPass records one pass.
func (m *SchedulerMetrics) OnPass(s scheduler.PassStats) {
	m.duration.WithLabelValues("load").Observe(s.Load.Seconds())
	m.duration.WithLabelValues("decide").Observe(s.Decide.Seconds())
	m.duration.WithLabelValues("apply").Observe(s.Apply.Seconds())
	m.duration.WithLabelValues("total").Observe(s.Total.Seconds())
	m.decisions.WithLabelValues("assigned").Add(float64(s.Assigned))
	m.decisions.WithLabelValues("health_check").Add(float64(s.HealthChecks))
	m.decisions.WithLabelValues("conflict").Add(float64(s.Conflicts))
	m.decisions.WithLabelValues("error").Add(float64(s.Errors))
}

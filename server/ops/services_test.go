package ops

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"golava/server/publisher"
	"golava/server/scheduler"
)

type hubStats struct{ s publisher.Stats }

func (h *hubStats) Stats() publisher.Stats { return h.s }

// text gathers reg in the exposition format.
func text(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func TestServiceCollectors(t *testing.T) {
	t.Parallel()
	hub := &hubStats{}
	sm := NewSchedulerMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(PublisherCollectors(hub)...)
	reg.MustRegister(sm.Collectors()...)

	hub.s = publisher.Stats{Subscribers: 3, Published: 10, Dropped: 1, WaitingGap: true}
	// Two realms' schedulers lead, one loses: one realm led.
	sm.OnLeadership(true)
	sm.OnLeadership(true)
	sm.OnLeadership(false)
	sm.OnPass(scheduler.PassStats{Assigned: 2, Conflicts: 1, Total: 25 * time.Millisecond, Load: 10 * time.Millisecond})
	sm.OnPass(scheduler.PassStats{Assigned: 1, Total: 25 * time.Millisecond})
	got := text(t, reg)
	for _, want := range []string{
		"lava_publisher_clients 3", "lava_publisher_events_published_total 10",
		"lava_publisher_clients_dropped_total 1", "lava_publisher_waiting_gap 1",
		`lava_scheduler_decisions_total{outcome="assigned"} 3`, `lava_scheduler_decisions_total{outcome="conflict"} 1`,
		`lava_scheduler_pass_duration_seconds_count{phase="total"} 2`, `lava_scheduler_pass_duration_seconds_sum{phase="total"} 0.05`,
		"lava_scheduler_leading 1",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

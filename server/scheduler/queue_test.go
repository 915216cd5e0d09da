package scheduler

import (
	"testing"
	"time"
)

func TestQueueTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, def string
		want      time.Duration
		ok        bool
	}{
		{"none", "job_name: x\ntimeouts:\n  job:\n    minutes: 5\n", 0, false},
		{"minutes", "job_name: x\ntimeouts:\n  job:\n    minutes: 5\n  queue:\n    minutes: 30\n", 30 * time.Minute, true},
		{"summed", "timeouts:\n  queue:\n    days: 1\n    hours: 2\n    seconds: 3\n", 26*time.Hour + 3*time.Second, true},
		{"flow style", "timeouts: {queue: {hours: 1}}", time.Hour, true},
		{"word elsewhere", "job_name: queue test\n", 0, false},
		{"zero", "timeouts:\n  queue:\n    minutes: 0\n", 0, false},
		{"not yaml", "timeouts: [queue", 0, false},
		{"queue not a mapping", "timeouts:\n  queue: 5\n", 0, false},
	} {
		got, ok := queueTimeout(tc.def)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: queueTimeout = %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

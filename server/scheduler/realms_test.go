package scheduler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golava/server/scheduler"
	"golava/server/store"
)

// RunRealms schedules each realm's queue on that realm's devices only,
// though both realms name their type qemu and their worker w1.
func TestRunRealms(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	blue := l.id(`INSERT INTO realms (name) VALUES ('blue') RETURNING id`)
	qemu := l.deviceType("qemu", "")
	l.device("default-01", qemu, l.worker("w1"), store.DeviceGood)
	blueQemu := l.id(`INSERT INTO device_types (realm_id, name) VALUES ($1, 'qemu') RETURNING id`, blue)
	blueWorker := l.id(`INSERT INTO workers (realm_id, hostname, state, last_ping) VALUES ($1, 'w1', 'Online', now()) RETURNING id`, blue)
	l.id(`INSERT INTO devices (realm_id, hostname, device_type_id, worker_id, health) VALUES ($1, 'blue-01', $2, $3, 'Good') RETURNING id`,
		blue, blueQemu, blueWorker)
	defJob := l.job(qemu, 50)
	blueJob := l.id(`INSERT INTO jobs (realm_id, submitter_id, description, definition, original_definition,
    requested_device_type_id, token) VALUES ($1, $2, 'blue', 'job_name: b', 'job_name: b', $3, 'tok') RETURNING id`, blue, l.uid, blueQemu)
	// Two jobs for one device each: the second of blue waits, whatever default has free.
	blueWaiting := l.id(`INSERT INTO jobs (realm_id, submitter_id, description, definition, original_definition,
    requested_device_type_id, token) VALUES ($1, $2, 'blue', 'job_name: b', 'job_name: b', $3, 'tok') RETURNING id`, blue, l.uid, blueQemu)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- scheduler.RunRealms(ctx, l.st, testLogger(t), scheduler.Config{Tick: 50 * time.Millisecond, LeaderRetry: 50 * time.Millisecond})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunRealms: %v", err)
		}
	}()
	waitCount(t, 20*time.Second, "both realms' jobs scheduled", func() bool {
		return strings.HasPrefix(l.state(defJob), "Scheduled/") && strings.HasPrefix(l.state(blueJob), "Scheduled/")
	})
	if got := l.state(defJob); got != "Scheduled/Unknown/default-01" {
		t.Errorf("default job: %s, want on default-01", got)
	}
	if got := l.state(blueJob); got != "Scheduled/Unknown/blue-01" {
		t.Errorf("blue job: %s, want on blue-01", got)
	}
	if got := l.state(blueWaiting); got != "Submitted/Unknown/-" {
		t.Errorf("second blue job: %s, want still queued (blue has one device)", got)
	}
}

package scheduler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"golava/server/store"
	"golava/server/store/storetest"
)

// lab builds fixtures with plain SQL on a fresh database.
type lab struct {
	t   testing.TB
	st  *store.Store
	ctx context.Context
	uid int64
}

func newLab(t testing.TB) *lab {
	l := &lab{t: t, st: storetest.New(t), ctx: context.Background()}
	l.uid = l.id(`INSERT INTO users (username) VALUES ('submitter') RETURNING id`)
	return l
}

func (l *lab) exec(q string, args ...any) {
	l.t.Helper()
	if _, err := l.st.Pool().Exec(l.ctx, q, args...); err != nil {
		l.t.Fatalf("%s: %v", q, err)
	}
}

func (l *lab) id(q string, args ...any) int64 {
	l.t.Helper()
	var id int64
	if err := l.st.Pool().QueryRow(l.ctx, q, args...).Scan(&id); err != nil {
		l.t.Fatalf("%s: %v", q, err)
	}
	return id
}

func (l *lab) str(q string, args ...any) string {
	l.t.Helper()
	var s string
	if err := l.st.Pool().QueryRow(l.ctx, q, args...).Scan(&s); err != nil {
		l.t.Fatalf("%s: %v", q, err)
	}
	return s
}

func (l *lab) deviceType(name, healthCheck string) int64 {
	var hc any
	if healthCheck != "" {
		hc = healthCheck
	}
	return l.id(`INSERT INTO device_types (realm_id, name, health_check) VALUES (1, $1, $2) RETURNING id`, name, hc)
}

func (l *lab) worker(name string) int64 {
	return l.id(`INSERT INTO workers (realm_id, hostname, state, last_ping) VALUES (1, $1, 'Online', now()) RETURNING id`, name)
}

func (l *lab) device(name string, typ, worker int64, health string, tags ...string) int64 {
	l.t.Helper()
	id := l.id(`INSERT INTO devices (realm_id, hostname, device_type_id, worker_id, health)
VALUES (1, $1, $2, $3, $4) RETURNING id`, name, typ, worker, health)
	for _, tag := range tags {
		l.exec(`INSERT INTO tags (realm_id, name) VALUES (1, $1) ON CONFLICT DO NOTHING`, tag)
		l.exec(`INSERT INTO device_tags (device_id, tag_id) SELECT $1, id FROM tags WHERE name = $2`, id, tag)
	}
	return id
}

// job queues a job as submission does, without the notification.
func (l *lab) job(typ int64, priority int, tags ...string) int64 {
	l.t.Helper()
	def := fmt.Sprintf("job_name: test\nvisibility: public\npriority: %d\n", priority)
	id := l.id(`INSERT INTO jobs (realm_id, submitter_id, description, definition, original_definition,
    requested_device_type_id, priority, token) VALUES (1, $1, 'test', $2, $2, $3, $4, 'tok') RETURNING id`,
		l.uid, def, typ, priority)
	for _, tag := range tags {
		l.exec(`INSERT INTO tags (realm_id, name) VALUES (1, $1) ON CONFLICT DO NOTHING`, tag)
		l.exec(`INSERT INTO job_tags (job_id, tag_id) SELECT $1, id FROM tags WHERE name = $2`, id, tag)
	}
	return id
}

// state is "State/Health/device hostname" of a job.
func (l *lab) state(job int64) string {
	return l.str(`SELECT j.state || '/' || j.health || '/' || coalesce(d.hostname, '-')
FROM jobs j LEFT JOIN devices d ON d.id = j.actual_device_id WHERE j.id = $1`, job)
}

func (l *lab) deviceState(dev int64) string {
	return l.str(`SELECT state || '/' || health FROM devices WHERE id = $1`, dev)
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// waitFor polls cond (a database read) until it holds, failing after 10 s.
// Every check follows a pass of the scheduler under test (passes), so the
// wait is on the scheduler's own signal, not on time.
func waitFor(t testing.TB, passes <-chan struct{}, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-passes:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

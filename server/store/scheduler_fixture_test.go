package store_test

import (
	"context"
	"fmt"
	"testing"

	"golava/server/store"
	"golava/server/store/storetest"
)

// schedLab builds scheduler fixtures with plain SQL on a fresh database.
type schedLab struct {
	t    testing.TB
	st   *store.Store
	ctx  context.Context
	user int64
	n    int
}

func newSchedLab(t testing.TB) *schedLab {
	st := storetest.New(t)
	l := &schedLab{t: t, st: st, ctx: context.Background()}
	l.user = l.id(`INSERT INTO users (username) VALUES ('submitter') RETURNING id`)
	return l
}

func (l *schedLab) exec(q string, args ...any) {
	l.t.Helper()
	if _, err := l.st.Pool().Exec(l.ctx, q, args...); err != nil {
		l.t.Fatalf("%s: %v", q, err)
	}
}

func (l *schedLab) id(q string, args ...any) int64 {
	l.t.Helper()
	var id int64
	if err := l.st.Pool().QueryRow(l.ctx, q, args...).Scan(&id); err != nil {
		l.t.Fatalf("%s: %v", q, err)
	}
	return id
}

func (l *schedLab) str(q string, args ...any) string {
	l.t.Helper()
	var s string
	if err := l.st.Pool().QueryRow(l.ctx, q, args...).Scan(&s); err != nil {
		l.t.Fatalf("%s: %v", q, err)
	}
	return s
}

// deviceType adds a type; healthCheck "" means none.
func (l *schedLab) deviceType(name, healthCheck string) int64 {
	var hc any
	if healthCheck != "" {
		hc = healthCheck
	}
	return l.id(`INSERT INTO device_types (realm_id, name, health_check) VALUES (1, $1, $2) RETURNING id`, name, hc)
}

// worker adds an Online, Active worker that just pinged.
func (l *schedLab) worker(name string) int64 {
	return l.id(`INSERT INTO workers (realm_id, hostname, state, last_ping) VALUES (1, $1, 'Online', now()) RETURNING id`, name)
}

// device adds an Idle device with the given health and tags.
func (l *schedLab) device(name string, typ, worker int64, health string, tags ...string) int64 {
	l.t.Helper()
	id := l.id(`INSERT INTO devices (realm_id, hostname, device_type_id, worker_id, health)
VALUES (1, $1, $2, $3, $4) RETURNING id`, name, typ, worker, health)
	for _, tag := range tags {
		l.exec(`INSERT INTO tags (realm_id, name) VALUES (1, $1) ON CONFLICT DO NOTHING`, tag)
		l.exec(`INSERT INTO device_tags (device_id, tag_id) SELECT $1, id FROM tags WHERE name = $2`, id, tag)
	}
	return id
}

// job adds a Submitted job of the type.
func (l *schedLab) job(typ int64, priority int, tags ...string) int64 {
	l.t.Helper()
	l.n++
	def := fmt.Sprintf("job_name: job%d\nvisibility: public\npriority: %d\n", l.n, priority)
	id := l.id(`INSERT INTO jobs (realm_id, submitter_id, description, definition, original_definition,
    requested_device_type_id, priority, token) VALUES (1, $1, $2, $3, $3, $4, $5, 'tok') RETURNING id`,
		l.user, fmt.Sprintf("job%d", l.n), def, typ, priority)
	for _, tag := range tags {
		l.exec(`INSERT INTO tags (realm_id, name) VALUES (1, $1) ON CONFLICT DO NOTHING`, tag)
		l.exec(`INSERT INTO job_tags (job_id, tag_id) SELECT $1, id FROM tags WHERE name = $2`, id, tag)
	}
	return id
}

// group adds a Submitted MultiNode group, one sub-job per type given.
func (l *schedLab) group(name string, types ...int64) []int64 {
	l.t.Helper()
	var ids []int64
	for i, typ := range types {
		role := fmt.Sprintf("role%d", i)
		def := fmt.Sprintf("job_name: %s\nvisibility: public\nprotocols:\n  lava-multinode:\n    role: %s\n    target_group: %s\n", name, role, name)
		ids = append(ids, l.id(`INSERT INTO jobs (realm_id, submitter_id, description, definition,
    original_definition, requested_device_type_id, token, target_group, role, sub_id)
VALUES (1, $1, $2, $3, $3, $4, 'tok', $2, $5, $6) RETURNING id`, l.user, name, def, typ, role, fmt.Sprintf("%s.%d", name, i)))
	}
	return ids
}

func (l *schedLab) jobState(id int64) string {
	return l.str(`SELECT state || '/' || health || '/' || coalesce(actual_device_id::text, '-') FROM jobs WHERE id = $1`, id)
}

func (l *schedLab) deviceState(id int64) string {
	return l.str(`SELECT state || '/' || health FROM devices WHERE id = $1`, id)
}

// events returns the data of the events of topic, in order.
func (l *schedLab) events(topic string) []string {
	l.t.Helper()
	rows, err := l.st.Pool().Query(l.ctx, `SELECT data FROM events WHERE topic = $1 ORDER BY id`, topic)
	if err != nil {
		l.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			l.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

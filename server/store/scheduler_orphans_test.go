package store_test

import (
	"testing"
	"time"

	"golava/server/store"
)

func TestFailOrphanJobs(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	typ := l.deviceType("board", "")
	w := l.worker("w1")
	dev := l.device("b1", typ, w, store.DeviceGood)
	// hostEnded says how long ago the group's device job ended ("" when
	// still running); the dynamic sub-job is in state dyn.
	group := func(name, hostState, hostEnded, dyn string) int64 {
		host := l.job(typ, 50)
		l.exec(`UPDATE jobs SET target_group = $2, actual_device_id = $3, state = $4, start_time = now() - interval '1 hour',
    end_time = CASE WHEN $5 = '' THEN NULL ELSE now() - $5::interval END WHERE id = $1`, host, name, dev, hostState, hostEnded)
		d := l.job(typ, 50)
		l.exec(`UPDATE jobs SET target_group = $2, requested_device_type_id = NULL, state = $3 WHERE id = $1`, d, name, dyn)
		return d
	}
	orphan := group("g1", "Finished", "10 minutes", "Running")
	canceling := group("g2", "Finished", "10 minutes", "Canceling")
	recent := group("g3", "Finished", "1 minute", "Running")
	hostRunning := group("g4", "Running", "", "Running")
	ended, err := l.st.FailOrphanJobs(l.ctx, store.DefaultRealm, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(ended) != 2 || ended[0] != orphan || ended[1] != canceling {
		t.Errorf("ended %v, want [%d %d]", ended, orphan, canceling)
	}
	tests := []struct {
		id                  int64
		state, health, fail string
	}{
		{orphan, "Finished", "Incomplete", "Infrastructure"},
		{canceling, "Finished", "Canceled", "Infrastructure"},
		{recent, "Running", "Unknown", ""},
		{hostRunning, "Running", "Unknown", ""},
	}
	for _, tt := range tests {
		got := l.str(`SELECT state || '/' || health || '/' || failure_type FROM jobs WHERE id = $1`, tt.id)
		if want := tt.state + "/" + tt.health + "/" + tt.fail; got != want {
			t.Errorf("job %d: %s, want %s", tt.id, got, want)
		}
	}
	if again, err := l.st.FailOrphanJobs(l.ctx, store.DefaultRealm, 5*time.Minute); err != nil || len(again) != 0 {
		t.Errorf("second call ended %v, %v", again, err)
	}
}

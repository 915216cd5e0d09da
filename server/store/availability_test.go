package store_test

import (
	"testing"
	"time"

	"golava/server/store"
)

func TestEstimateStart(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	typ := l.deviceType("board", "")
	w := l.worker("w1")
	l.device("b1", typ, w, store.DeviceGood)
	l.device("b2", typ, w, store.DeviceGood)
	l.device("b3", typ, w, store.DeviceMaintenance)
	// Two finished jobs of 100 s and 300 s: a mean of 200 s.
	for _, secs := range []int{100, 300} {
		id := l.job(typ, 50)
		l.exec(`UPDATE jobs SET state = 'Finished', health = 'Complete', start_time = now() - make_interval(secs => $2),
    end_time = now() WHERE id = $1`, id, secs)
	}
	var queued []int64
	for range 5 {
		queued = append(queued, l.job(typ, 50))
	}
	urgent := l.job(typ, 100)
	// Ahead of each: the urgent job, then older ones of the same priority.
	// Two idle usable devices take the first two; then rounds of 200 s.
	tests := []struct {
		id     int64
		ahead  int
		rounds int
	}{
		{urgent, 0, 0},
		{queued[0], 1, 0},
		{queued[1], 2, 1},
		{queued[2], 3, 1},
		{queued[3], 4, 2},
		{queued[4], 5, 2},
	}
	for _, tt := range tests {
		before := time.Now()
		e, err := l.st.EstimateStart(l.ctx, store.DefaultRealm, tt.id)
		if err != nil {
			t.Fatal(err)
		}
		want := before.Add(time.Duration(tt.rounds) * 200 * time.Second)
		if e.Ahead != tt.ahead || e.Start == nil || e.Start.Sub(want).Abs() > 5*time.Second {
			t.Errorf("job %d: ahead %d start %v, want ahead %d start ~%v", tt.id, e.Ahead, e.Start, tt.ahead, want)
		}
	}
	// No usable device: no estimate.
	other := l.deviceType("nothing", "")
	l.device("n1", other, w, store.DeviceBad)
	e, err := l.st.EstimateStart(l.ctx, store.DefaultRealm, l.job(other, 50))
	if err != nil || e.Start != nil {
		t.Errorf("type without usable device: %+v, %v", e, err)
	}
	if _, err := l.st.EstimateStart(l.ctx, store.DefaultRealm, 999999); err == nil {
		t.Error("unknown job: no error")
	}
}

// A queue deeper than EstimateRounds turns of the usable devices is
// counted only that far: the estimate is the horizon.
func TestEstimateStartHorizon(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	typ := l.deviceType("board", "")
	l.device("b1", typ, l.worker("w1"), store.DeviceGood)
	l.exec(`UPDATE devices SET state = 'Running' WHERE hostname = 'b1'`)
	l.exec(`INSERT INTO jobs (realm_id, submitter_id, definition, original_definition, requested_device_type_id, token)
SELECT 1, $1, 'x', 'x', $2, 't' FROM generate_series(1, $3)`, l.user, typ, store.EstimateRounds+20)
	last := l.job(typ, 50)
	before := time.Now()
	e, err := l.st.EstimateStart(l.ctx, store.DefaultRealm, last)
	if err != nil {
		t.Fatal(err)
	}
	want := before.Add(store.EstimateRounds * store.DefaultJobDuration)
	if e.Ahead != store.EstimateRounds+1 || e.Start == nil || e.Start.Sub(want).Abs() > 5*time.Second {
		t.Errorf("deep queue: ahead %d start %v, want ahead %d (counted to the horizon) start ~%v", e.Ahead, e.Start, store.EstimateRounds+1, want)
	}
}

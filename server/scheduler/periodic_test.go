package scheduler_test

import (
	"testing"
	"time"

	"golava/server/scheduler"
	"golava/server/store"
)

const periodicDef = `device_type: sim
job_name: nightly
visibility: public
timeouts: {job: {minutes: 5}}
actions:
- boot: {method: minimal}
`

// TestPeriodicJobsFireOnce: a schedule whose next run is hours overdue
// (runs missed while no scheduler ran) fires once, not once per missed
// run, with two schedulers running; its next run moves into the future.
// A broken definition records its error; a disabled schedule never fires.
func TestPeriodicJobsFireOnce(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.device("sim-1", l.deviceType("sim", ""), l.worker("w1"), store.DeviceGood)
	past := time.Now().Add(-3 * time.Hour)
	for _, p := range []store.PeriodicJob{
		{Name: "nightly", Cron: "*/5 * * * *", Timezone: "Europe/Paris", Definition: periodicDef, OwnerID: l.uid, Enabled: true},
		{Name: "broken", Cron: "* * * * *", Definition: "job_name: [", OwnerID: l.uid, Enabled: true},
		{Name: "off", Cron: "* * * * *", Definition: periodicDef, OwnerID: l.uid, Enabled: false},
	} {
		if _, err := l.st.CreatePeriodicJob(l.ctx, store.DefaultRealm, p, past); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.st.CreatePeriodicJob(l.ctx, store.DefaultRealm, store.PeriodicJob{Name: "nightly", Cron: "* * * * *",
		Definition: periodicDef, OwnerID: l.uid}, past); err == nil {
		t.Error("duplicate name: no error")
	}
	a := start(t, l.st, scheduler.Config{Tick: 50 * time.Millisecond})
	b := start(t, l.st, scheduler.Config{Tick: 50 * time.Millisecond})
	fired := func() bool {
		return l.id(`SELECT count(*) FROM periodic_jobs WHERE last_run IS NOT NULL`) == 2
	}
	waitCount(t, 20*time.Second, "the due schedules to fire", fired)
	// Let both schedulers tick a few more times: nothing fires again.
	for range 5 {
		select {
		case <-a.passes:
		case <-b.passes:
		case <-time.After(10 * time.Second):
			t.Fatal("no pass for 10 s")
		}
	}
	if n := l.id(`SELECT count(*) FROM jobs WHERE description = 'nightly'`); n != 1 {
		t.Errorf("%d nightly jobs submitted, want 1", n)
	}
	p, err := l.st.PeriodicJobByName(l.ctx, store.DefaultRealm, "nightly")
	if err != nil {
		t.Fatal(err)
	}
	if p.NextRun == nil || !p.NextRun.After(time.Now()) || p.NextRun.After(time.Now().Add(5*time.Minute)) || p.LastJobID == nil || p.LastError != "" {
		t.Errorf("nightly after firing: %+v", p)
	}
	if p.NextRun.Minute()%5 != 0 {
		t.Errorf("next run %v is not on a 5-minute boundary", p.NextRun)
	}
	broken, err := l.st.PeriodicJobByName(l.ctx, store.DefaultRealm, "broken")
	if err != nil || broken.LastError == "" || broken.LastJobID != nil {
		t.Errorf("broken after firing: %+v, %v", broken, err)
	}
	if off, _ := l.st.PeriodicJobByName(l.ctx, store.DefaultRealm, "off"); off == nil || off.LastRun != nil {
		t.Errorf("disabled schedule fired: %+v", off)
	}
}

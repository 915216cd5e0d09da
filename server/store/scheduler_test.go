package store_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golava/server/store"
)

func TestSchedulerState(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	qemu := l.deviceType("qemu", "")
	bbb := l.deviceType("bbb", "job_name: hc\nvisibility: public\n")
	busyType := l.deviceType("busy", "")
	w := l.worker("w1")
	d1 := l.device("qemu01", qemu, w, store.DeviceGood, "usb", "hdmi")
	l.device("qemu02", qemu, w, store.DeviceBad)
	l.device("qemu03", qemu, w, store.DeviceMaintenance)
	d4 := l.device("bbb01", bbb, w, store.DeviceLooping)
	busy := l.device("busy01", busyType, w, store.DeviceGood)
	l.exec(`UPDATE devices SET state = 'Running' WHERE id = $1`, busy)
	j1 := l.job(qemu, 50, "usb")
	j2 := l.job(qemu, 90)
	l.job(busyType, 50) // no idle device of its type: not read
	g := l.group("g1", qemu, bbb)
	finished := l.job(qemu, 50)
	l.exec(`UPDATE jobs SET state = 'Finished' WHERE id = $1`, finished)

	st, err := l.st.SchedulerState(l.ctx, store.DefaultRealm, 0)
	if err != nil {
		t.Fatal(err)
	}
	var devs []string
	for _, d := range st.Devices {
		slices.Sort(d.Tags)
		devs = append(devs, fmt.Sprintf("%d %s %s %v", d.ID, d.Hostname, d.Health, d.Tags))
	}
	if want := []string{fmt.Sprintf("%d qemu01 Good [hdmi usb]", d1), fmt.Sprintf("%d bbb01 Looping []", d4)}; !sameSet(devs, want) {
		t.Errorf("devices = %q, want %q", devs, want)
	}
	var jobs []string
	for _, j := range st.Jobs {
		jobs = append(jobs, fmt.Sprintf("%d p%d t%d %v %q/%d", j.ID, j.Priority, j.DeviceType, j.Tags, j.Group, j.GroupSize))
	}
	want := []string{
		fmt.Sprintf("%d p50 t%d [usb] \"\"/0", j1, qemu),
		fmt.Sprintf("%d p90 t%d [] \"\"/0", j2, qemu),
		fmt.Sprintf("%d p50 t%d [] \"g1\"/2", g[0], qemu),
		fmt.Sprintf("%d p50 t%d [] \"g1\"/2", g[1], bbb),
	}
	if !sameSet(jobs, want) {
		t.Errorf("jobs = %q, want %q", jobs, want)
	}
	var types []string
	for _, dt := range st.DeviceTypes {
		types = append(types, fmt.Sprintf("%s hc=%v", dt.Name, dt.HasHealthCheck))
	}
	if want := []string{"qemu hc=false", "bbb hc=true", "busy hc=false"}; !sameSet(types, want) {
		t.Errorf("types = %q, want %q", types, want)
	}
	if len(st.Workers) != 1 || st.Workers[0].Busy != 1 || st.Workers[0].State != store.WorkerOnline {
		t.Errorf("workers = %+v, want w1 Online with 1 busy device", st.Workers)
	}
}

func TestSchedulerStateWindow(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	qemu := l.deviceType("qemu", "")
	l.device("qemu01", qemu, l.worker("w1"), store.DeviceGood)
	var ids []int64
	for i := range 10 {
		ids = append(ids, l.job(qemu, i*10))
	}
	l.group("g1", qemu, qemu) // priority 50: after the window
	st, err := l.st.SchedulerState(l.ctx, store.DefaultRealm, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, j := range st.Jobs {
		got = append(got, j.ID)
	}
	slices.Sort(got)
	// The window is max(3, 4 × 1 idle device) = 4: priorities 90, 80, 70, 60.
	if want := []int64{ids[6], ids[7], ids[8], ids[9]}; !slices.Equal(got, want) {
		t.Errorf("jobs = %v, want %v", got, want)
	}
}

func TestSchedulerStateHealthCheckHistory(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	perJobs := l.deviceType("perjobs", "job_name: hc\nvisibility: public\n")
	l.exec(`UPDATE device_types SET health_denominator = 'jobs', health_frequency = 3 WHERE id = $1`, perJobs)
	w := l.worker("w1")
	d := l.device("dev01", perJobs, w, store.DeviceGood)
	never := l.device("dev02", perJobs, w, store.DeviceGood)
	hc := l.job(perJobs, 50)
	checked := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	l.exec(`UPDATE jobs SET state = 'Finished', health = 'Complete', health_check = true, submit_time = $2,
    start_time = $2, actual_device_id = $3 WHERE id = $1`, hc, checked, d)
	l.exec(`UPDATE devices SET last_health_report_job_id = $1 WHERE id = $2`, hc, d)
	for _, start := range []time.Duration{-time.Hour, time.Minute, 2 * time.Minute, 3 * time.Minute} {
		j := l.job(perJobs, 50)
		l.exec(`UPDATE jobs SET state = 'Finished', health = 'Complete', start_time = $2, actual_device_id = $3
WHERE id = $1`, j, checked.Add(start), d)
	}
	st, err := l.st.SchedulerState(l.ctx, store.DefaultRealm, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]store.SchedDevice{}
	for _, dev := range st.Devices {
		got[dev.ID] = dev
	}
	if dev := got[d]; dev.LastHealthCheck == nil || !dev.LastHealthCheck.Equal(checked) || dev.JobsSinceHealthCheck != 3 {
		t.Errorf("checked device: last %v, jobs since %d; want %v, 3", dev.LastHealthCheck, dev.JobsSinceHealthCheck, checked)
	}
	if dev := got[never]; dev.LastHealthCheck != nil || dev.JobsSinceHealthCheck != 0 {
		t.Errorf("never checked device: last %v, jobs since %d", dev.LastHealthCheck, dev.JobsSinceHealthCheck)
	}
}

// A group cut by the window is read whole.
func TestSchedulerStateWindowKeepsGroups(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	qemu := l.deviceType("qemu", "")
	l.device("qemu01", qemu, l.worker("w1"), store.DeviceGood)
	var want []int64
	for range 3 {
		want = append(want, l.job(qemu, 90))
	}
	g := l.group("g1", qemu, qemu)
	l.exec(`UPDATE jobs SET priority = 90 WHERE target_group = 'g1'`)
	l.job(qemu, 90) // after the group: outside the window of 4
	want = append(want, g...)
	st, err := l.st.SchedulerState(l.ctx, store.DefaultRealm, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, j := range st.Jobs {
		got = append(got, j.ID)
		if j.Group == "g1" && j.GroupSize != 2 {
			t.Errorf("job %d group size %d, want 2", j.ID, j.GroupSize)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("jobs = %v, want %v", got, want)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestApplyAssignment(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	qemu := l.deviceType("qemu", "")
	d := l.device("qemu01", qemu, l.worker("w1"), store.DeviceGood)
	j := l.job(qemu, 50)
	if err := l.st.ApplyAssignment(l.ctx, store.DefaultRealm, []store.Placement{{JobID: j, DeviceID: d}}); err != nil {
		t.Fatal(err)
	}
	if got, want := l.jobState(j), fmt.Sprintf("Scheduled/Unknown/%d", d); got != want {
		t.Errorf("job = %s, want %s", got, want)
	}
	if got := l.deviceState(d); got != "Reserved/Good" {
		t.Errorf("device = %s, want Reserved/Good", got)
	}
	devEvents, jobEvents := l.events("device"), l.events("testjob")
	if len(devEvents) != 1 || !strings.Contains(devEvents[0], `"state": "Reserved"`) ||
		!strings.Contains(devEvents[0], fmt.Sprintf(`"job": %d`, j)) || !strings.Contains(devEvents[0], `"worker": "w1"`) {
		t.Errorf("device events = %q", devEvents)
	}
	if len(jobEvents) != 1 || !strings.Contains(jobEvents[0], `"state": "Scheduled"`) ||
		!strings.Contains(jobEvents[0], `"device": "qemu01"`) || !strings.Contains(jobEvents[0], `"worker": "w1"`) {
		t.Errorf("job events = %q", jobEvents)
	}
	// Applying again: the job is no longer queued.
	err := l.st.ApplyAssignment(l.ctx, store.DefaultRealm, []store.Placement{{JobID: j, DeviceID: d}})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("second apply: %v, want ErrConflict", err)
	}
}

func TestApplyAssignmentConflicts(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	qemu := l.deviceType("qemu", "")
	w := l.worker("w1")
	off := l.worker("w2")
	l.exec(`UPDATE workers SET state = 'Offline' WHERE id = $1`, off)
	for _, tc := range []struct {
		name  string
		setup func(dev, job int64)
	}{
		{"device running", func(dev, _ int64) { l.exec(`UPDATE devices SET state = 'Running' WHERE id = $1`, dev) }},
		{"device bad", func(dev, _ int64) { l.exec(`UPDATE devices SET health = 'Bad' WHERE id = $1`, dev) }},
		{"device maintenance", func(dev, _ int64) { l.exec(`UPDATE devices SET health = 'Maintenance' WHERE id = $1`, dev) }},
		{"device looping for a normal job", func(dev, _ int64) { l.exec(`UPDATE devices SET health = 'Looping' WHERE id = $1`, dev) }},
		{"worker offline", func(dev, _ int64) { l.exec(`UPDATE devices SET worker_id = $2 WHERE id = $1`, dev, off) }},
		{"job canceled", func(_, job int64) { l.exec(`UPDATE jobs SET state = 'Finished' WHERE id = $1`, job) }},
	} {
		dev := l.device("dev-"+strings.ReplaceAll(tc.name, " ", "-"), qemu, w, store.DeviceGood)
		job := l.job(qemu, 50)
		tc.setup(dev, job)
		before := l.jobState(job) + " " + l.deviceState(dev)
		err := l.st.ApplyAssignment(l.ctx, store.DefaultRealm, []store.Placement{{JobID: job, DeviceID: dev}})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: %v, want ErrConflict", tc.name, err)
		}
		if after := l.jobState(job) + " " + l.deviceState(dev); after != before {
			t.Errorf("%s: changed %s -> %s", tc.name, before, after)
		}
	}
	if ev := l.events("device"); len(ev) != 0 {
		t.Errorf("events written by refused applies: %q", ev)
	}
}

// TestApplyAssignmentRace has many appliers place overlapping jobs and
// devices at once: every job ends on at most one device and every device
// holds at most one job, and each success is one such pair.
func TestApplyAssignmentRace(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	qemu := l.deviceType("qemu", "")
	w := l.worker("w1")
	var devs, jobs []int64
	for i := range 6 {
		devs = append(devs, l.device(fmt.Sprintf("qemu%02d", i), qemu, w, store.DeviceGood))
	}
	for range 12 {
		jobs = append(jobs, l.job(qemu, 50))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok int
	for g := range 8 {
		wg.Go(func() {
			for k := range 24 {
				p := store.Placement{JobID: jobs[(g+k)%len(jobs)], DeviceID: devs[(g*5+k)%len(devs)]}
				err := l.st.ApplyAssignment(l.ctx, store.DefaultRealm, []store.Placement{p})
				if err != nil && !errors.Is(err, store.ErrConflict) {
					t.Errorf("apply %+v: %v", p, err)
				}
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	scheduled := l.id(`SELECT count(*) FROM jobs WHERE state = 'Scheduled'`)
	distinct := l.id(`SELECT count(DISTINCT actual_device_id) FROM jobs WHERE state = 'Scheduled'`)
	reserved := l.id(`SELECT count(*) FROM devices WHERE state = 'Reserved'`)
	if int64(ok) != scheduled || scheduled != distinct || distinct != reserved || ok != len(devs) {
		t.Errorf("successes %d, scheduled jobs %d on %d distinct devices, %d reserved, want all %d",
			ok, scheduled, distinct, reserved, len(devs))
	}
	if n := l.id(`SELECT count(*) FROM events WHERE topic = 'testjob'`); n != scheduled {
		t.Errorf("%d job events for %d scheduled jobs", n, scheduled)
	}
}

func TestApplyAssignmentGroup(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	qemu := l.deviceType("qemu", "")
	w := l.worker("w1")
	d1, d2 := l.device("qemu01", qemu, w, store.DeviceGood), l.device("qemu02", qemu, w, store.DeviceGood)
	g := l.group("g1", qemu, qemu)
	// Half a group is refused.
	err := l.st.ApplyAssignment(l.ctx, store.DefaultRealm, []store.Placement{{JobID: g[0], DeviceID: d1}})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("half group: %v, want ErrConflict", err)
	}
	err = l.st.ApplyAssignment(l.ctx, store.DefaultRealm, []store.Placement{{JobID: g[0], DeviceID: d1}, {JobID: g[1], DeviceID: d2}})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range g {
		if got, want := l.jobState(id), fmt.Sprintf("Scheduled/Unknown/%d", []int64{d1, d2}[i]); got != want {
			t.Errorf("sub-job %d = %s, want %s", id, got, want)
		}
		def := l.str(`SELECT definition FROM jobs WHERE id = $1`, id)
		wantRoles := fmt.Sprintf("roles:\n      \"%d\": role0\n      \"%d\": role1\n", g[0], g[1])
		if !strings.Contains(def, wantRoles) || !strings.Contains(def, "role: role"+fmt.Sprint(i)) {
			t.Errorf("sub-job %d definition lacks the group's roles:\n%s", id, def)
		}
	}
}

func TestApplyHealthCheck(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	bbb := l.deviceType("bbb", "job_name: bbb health check\npriority: high\nvisibility: public\nactions: []\n")
	broken := l.deviceType("broken", "visibility: public\n")
	none := l.deviceType("none", "")
	w := l.worker("w1")
	d := l.device("bbb01", bbb, w, store.DeviceLooping)
	id, err := l.st.ApplyHealthCheck(l.ctx, store.DefaultRealm, d)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.jobState(id), fmt.Sprintf("Scheduled/Unknown/%d", d); got != want {
		t.Errorf("health check = %s, want %s", got, want)
	}
	got := l.str(`SELECT u.username || ' ' || j.health_check || ' ' || j.priority || ' ' || j.description
FROM jobs j JOIN users u ON u.id = j.submitter_id WHERE j.id = $1`, id)
	if got != "lava-health true 100 bbb health check" {
		t.Errorf("health check job = %q", got)
	}
	if got := l.deviceState(d); got != "Reserved/Looping" {
		t.Errorf("device = %s, want Reserved/Looping", got)
	}
	if ev := l.events("testjob"); len(ev) != 2 || !strings.Contains(ev[0], `"state": "Submitted"`) ||
		!strings.Contains(ev[1], `"state": "Scheduled"`) || !strings.Contains(ev[1], `"health_check": true`) {
		t.Errorf("job events = %q", ev)
	}
	// The device is Reserved now: a second health check is refused.
	if _, err := l.st.ApplyHealthCheck(l.ctx, store.DefaultRealm, d); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second health check: %v, want ErrConflict", err)
	}
	// No health check defined: refused.
	dn := l.device("none01", none, w, store.DeviceUnknown)
	if _, err := l.st.ApplyHealthCheck(l.ctx, store.DefaultRealm, dn); !errors.Is(err, store.ErrConflict) {
		t.Errorf("type without health check: %v, want ErrConflict", err)
	}
	// An invalid definition makes the device Bad.
	db := l.device("broken01", broken, w, store.DeviceUnknown)
	if _, err := l.st.ApplyHealthCheck(l.ctx, store.DefaultRealm, db); !errors.Is(err, store.ErrInvalidHealthCheck) {
		t.Errorf("broken health check: %v, want ErrInvalidHealthCheck", err)
	}
	if got := l.deviceState(db); got != "Idle/Bad" {
		t.Errorf("device with broken health check = %s, want Idle/Bad", got)
	}
}

func TestWorkerLiveness(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	qemu := l.deviceType("qemu", "")
	stale, alive := l.worker("stale"), l.worker("alive")
	l.exec(`UPDATE workers SET last_ping = now() - interval '10 minutes' WHERE id = $1`, stale)
	dRun, dCancel, dAlive := l.device("run01", qemu, stale, store.DeviceGood),
		l.device("cancel01", qemu, stale, store.DeviceMaintenance), l.device("alive01", qemu, alive, store.DeviceGood)
	jRun, jCancel, jAlive := l.job(qemu, 50), l.job(qemu, 50), l.job(qemu, 50)
	for _, p := range [][2]int64{{jRun, dRun}, {jCancel, dCancel}, {jAlive, dAlive}} {
		l.exec(`UPDATE jobs SET state = 'Running', actual_device_id = $2, start_time = now() WHERE id = $1`, p[0], p[1])
		l.exec(`UPDATE devices SET state = 'Running' WHERE id = $1`, p[1])
	}
	l.exec(`UPDATE jobs SET state = 'Canceling' WHERE id = $1`, jCancel)

	// Online workers are not lost yet.
	if lost, err := l.st.FailLostJobs(l.ctx, store.DefaultRealm, time.Minute); err != nil || len(lost) != 0 {
		t.Fatalf("lost jobs of online workers: %v %v", lost, err)
	}
	names, err := l.st.MarkStaleWorkersOffline(l.ctx, store.DefaultRealm, time.Minute)
	if err != nil || !slices.Equal(names, []string{"stale"}) {
		t.Fatalf("stale workers = %v %v, want [stale]", names, err)
	}
	if ev := l.events("worker"); len(ev) != 1 || !strings.Contains(ev[0], `"state": "Offline"`) {
		t.Errorf("worker events = %q", ev)
	}
	// Offline for less than the grace period: jobs kept.
	if lost, err := l.st.FailLostJobs(l.ctx, store.DefaultRealm, time.Hour); err != nil || len(lost) != 0 {
		t.Fatalf("lost jobs within grace: %v %v", lost, err)
	}
	lost, err := l.st.FailLostJobs(l.ctx, store.DefaultRealm, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.LostJob{{ID: jRun, Worker: "stale"}, {ID: jCancel, Worker: "stale"}}; !slices.Equal(lost, want) {
		t.Errorf("lost = %v, want %v", lost, want)
	}
	for _, tc := range []struct {
		job, dev       int64
		wantJ, wantD   string
		comment, ftype string
	}{
		{jRun, dRun, "Finished/Incomplete", "Idle/Unknown", "Worker stale lost", "Infrastructure"},
		{jCancel, dCancel, "Finished/Canceled", "Idle/Maintenance", "Worker stale lost", "Infrastructure"},
		{jAlive, dAlive, "Running/Unknown", "Running/Good", "", ""},
	} {
		if got := l.jobState(tc.job); !strings.HasPrefix(got, tc.wantJ+"/") {
			t.Errorf("job %d = %s, want %s", tc.job, got, tc.wantJ)
		}
		if got := l.deviceState(tc.dev); got != tc.wantD {
			t.Errorf("device %d = %s, want %s", tc.dev, got, tc.wantD)
		}
		got := l.str(`SELECT failure_type || '|' || coalesce(failure_comment, '') FROM jobs WHERE id = $1`, tc.job)
		if ft, c, _ := strings.Cut(got, "|"); ft != tc.ftype || !strings.HasPrefix(c, tc.comment) {
			t.Errorf("job %d failure = %q, want %s %q", tc.job, got, tc.ftype, tc.comment)
		}
	}
}

func TestLeaderElection(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	a, err := l.st.TryLeadScheduler(l.ctx, store.DefaultRealm)
	if err != nil || a == nil {
		t.Fatalf("first leader: %v %v", a, err)
	}
	b, err := l.st.TryLeadScheduler(l.ctx, store.DefaultRealm)
	if err != nil || b != nil {
		t.Fatalf("second while first leads: %v %v, want nil", b, err)
	}
	other, err := l.st.TryLeadScheduler(l.ctx, 2)
	if err != nil || other == nil {
		t.Fatalf("other realm: %v %v", other, err)
	}
	other.Release(l.ctx)
	a.Release(l.ctx)
	a.Release(l.ctx) // twice is fine
	b, err = l.st.TryLeadScheduler(l.ctx, store.DefaultRealm)
	if err != nil || b == nil {
		t.Fatalf("after release: %v %v", b, err)
	}
	// Killing the leader's session frees the lock and fails its wait.
	if err := b.Listen(l.ctx, store.NotifyJobs); err != nil {
		t.Fatal(err)
	}
	// Only this test's database: other tests share the cluster and their
	// leaders hold advisory locks too.
	l.exec(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
	if _, err := b.WaitForNotification(l.ctx); err == nil {
		t.Error("wait on a killed session succeeded")
	}
	b.Release(l.ctx)
	// The dead backend drops its locks as it exits, just after closing the
	// socket: retry until it has.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		c, err := l.st.TryLeadScheduler(l.ctx, store.DefaultRealm)
		if err != nil {
			t.Fatal(err)
		}
		if c != nil {
			c.Release(l.ctx)
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("lock still held after the leader's session died")
		}
	}
}

func TestEventsWakeScheduler(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	add := func(topic, data string) int64 {
		return l.id(`INSERT INTO events (realm_id, topic, username, data) VALUES (1, $1, 'x', $2) RETURNING id`, topic, data)
	}
	a := add("testjob", `{"state": "Running"}`)
	b := add("device", `{"health": "Good", "state": "Running"}`)
	c := add("device", `{"health": "Good", "state": "Idle"}`)
	d := add("worker", `{"state": "Online"}`)
	for _, tc := range []struct {
		after, upTo int64
		want        bool
	}{
		{0, a, false},
		{0, b, false},
		{b, c, true},
		{c, d, true},
		{0, d, true},
	} {
		got, err := l.st.EventsWakeScheduler(l.ctx, store.DefaultRealm, tc.after, tc.upTo)
		if err != nil || got != tc.want {
			t.Errorf("events (%d, %d]: %v %v, want %v", tc.after, tc.upTo, got, err, tc.want)
		}
	}
}

func TestQueuedDefinitionsAndCancelQueued(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	qemu := l.deviceType("qemu", "")
	plain := l.job(qemu, 50)
	timed := l.job(qemu, 50)
	l.exec(`UPDATE jobs SET definition = definition || E'timeouts:\n  queue:\n    minutes: 5\n' WHERE id = $1`, timed)
	defs, next, err := l.st.QueuedDefinitions(l.ctx, store.DefaultRealm, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) != 1 || defs[0].ID != timed || next < timed {
		t.Fatalf("definitions = %+v next %d, want job %d only", defs, next, timed)
	}
	if again, _, err := l.st.QueuedDefinitions(l.ctx, store.DefaultRealm, next); err != nil || len(again) != 0 {
		t.Errorf("second read = %+v %v, want nothing new", again, err)
	}
	ok, err := l.st.CancelQueued(l.ctx, store.DefaultRealm, timed, "queue timeout")
	if err != nil || !ok {
		t.Fatalf("cancel = %v %v", ok, err)
	}
	if got := l.jobState(timed); got != "Finished/Canceled/-" {
		t.Errorf("canceled job = %s", got)
	}
	if got := l.str(`SELECT failure_comment FROM jobs WHERE id = $1`, timed); got != "queue timeout" {
		t.Errorf("comment = %q", got)
	}
	if ok, err := l.st.CancelQueued(l.ctx, store.DefaultRealm, timed, "again"); err != nil || ok {
		t.Errorf("cancel of a finished job = %v %v, want false", ok, err)
	}
	if got := l.jobState(plain); got != "Submitted/Unknown/-" {
		t.Errorf("other job = %s", got)
	}
	g := l.group("g1", qemu, qemu)
	if ok, err := l.st.CancelQueued(l.ctx, store.DefaultRealm, g[1], "queue timeout"); err != nil || !ok {
		t.Fatalf("cancel group = %v %v", ok, err)
	}
	for _, id := range g {
		if got := l.jobState(id); got != "Finished/Canceled/-" {
			t.Errorf("sub-job %d = %s, want canceled with its group", id, got)
		}
	}
}

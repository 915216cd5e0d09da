package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golava/server/scheduler"
	"golava/server/store"
	"golava/server/store/storetest"
)

// started is a Scheduler running in the background for one test.
type started struct {
	s       *scheduler.Scheduler
	passes  chan struct{}
	leading chan bool
	stop    func()
}

// start runs a scheduler until the test ends (or stop is called). Its
// tick is an hour unless cfg sets one, so passes come from notifications.
func start(t *testing.T, st *store.Store, cfg scheduler.Config) *started {
	t.Helper()
	r := &started{passes: make(chan struct{}, 1), leading: make(chan bool, 16)}
	if cfg.Tick == 0 {
		cfg.Tick = time.Hour
	}
	cfg.OnPass = func(scheduler.PassStats) {
		select {
		case r.passes <- struct{}{}:
		default:
		}
	}
	cfg.OnLeadership = func(v bool) { r.leading <- v }
	r.s = scheduler.New(st, testLogger(t), cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.s.Run(ctx) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(r.stop)
	return r
}

// awaitLeading waits for the scheduler to report leadership v.
func (r *started) awaitLeading(t *testing.T, v bool) {
	t.Helper()
	select {
	case got := <-r.leading:
		if got != v {
			t.Fatalf("leadership = %v, want %v", got, v)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for leadership %v", v)
	}
}

func TestPass(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	qemu := l.deviceType("qemu", "")
	w := l.worker("w1")
	plain := l.device("plain", qemu, w, store.DeviceGood)
	usb := l.device("usb", qemu, w, store.DeviceGood, "usb")
	maint := l.device("maint", qemu, w, store.DeviceMaintenance, "usb")
	old := l.job(qemu, 50)
	tagged := l.job(qemu, 50, "usb")
	urgent := l.job(qemu, 100)
	young := l.job(qemu, 50)

	s := scheduler.New(l.st, testLogger(t), scheduler.Config{RealmID: store.DefaultRealm})
	stats, err := s.Pass(l.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// urgent first, then old (age); tagged needs the usb device, which
	// urgent or old may have taken: only two devices take jobs.
	if stats.Assigned != 2 || stats.Conflicts != 0 {
		t.Errorf("stats = %+v, want 2 assigned", stats)
	}
	if got := l.state(urgent); !strings.HasPrefix(got, "Scheduled/") {
		t.Errorf("urgent job = %s, want Scheduled", got)
	}
	if got := l.state(young); got != "Submitted/Unknown/-" {
		t.Errorf("youngest job = %s, want Submitted", got)
	}
	placed := map[string]bool{l.state(old): true, l.state(tagged): true}
	if !placed["Scheduled/Unknown/plain"] && !placed["Scheduled/Unknown/usb"] {
		t.Errorf("old %s, tagged %s: want one of them on the other device", l.state(old), l.state(tagged))
	}
	if got := l.state(tagged); got != "Submitted/Unknown/-" && got != "Scheduled/Unknown/usb" {
		t.Errorf("tagged job = %s: must wait or run on the usb device", got)
	}
	if got := l.deviceState(maint); got != "Idle/Maintenance" {
		t.Errorf("maintenance device = %s, want Idle/Maintenance", got)
	}
	for _, d := range []int64{plain, usb} {
		if got := l.deviceState(d); got != "Reserved/Good" {
			t.Errorf("device %d = %s, want Reserved/Good", d, got)
		}
	}
	// The next pass has no idle device left.
	if stats, err := s.Pass(l.ctx); err != nil || stats.Assigned != 0 {
		t.Errorf("second pass: %+v %v", stats, err)
	}
}

func TestPassTagsAndPriority(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	qemu := l.deviceType("qemu", "")
	w := l.worker("w1")
	l.device("usb", qemu, w, store.DeviceGood, "usb")
	l.device("plain", qemu, w, store.DeviceGood)
	tagged := l.job(qemu, 90, "usb")
	low := l.job(qemu, 10)
	lower := l.job(qemu, 0)
	if _, err := scheduler.New(l.st, testLogger(t), scheduler.Config{}).Pass(l.ctx); err != nil {
		t.Fatal(err)
	}
	for job, want := range map[int64]string{tagged: "Scheduled/Unknown/usb", low: "Scheduled/Unknown/plain", lower: "Submitted/Unknown/-"} {
		if got := l.state(job); got != want {
			t.Errorf("job %d = %s, want %s", job, got, want)
		}
	}
}

func TestPassHealthCheckFirst(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	bbb := l.deviceType("bbb", "job_name: hc\nvisibility: public\nactions: []\n")
	dev := l.device("bbb01", bbb, l.worker("w1"), store.DeviceUnknown)
	job := l.job(bbb, 100)
	stats, err := scheduler.New(l.st, testLogger(t), scheduler.Config{}).Pass(l.ctx)
	if err != nil || stats.HealthChecks != 1 || stats.Assigned != 0 {
		t.Fatalf("pass = %+v %v, want one health check", stats, err)
	}
	if got := l.state(job); got != "Submitted/Unknown/-" {
		t.Errorf("job = %s, want it to wait for the health check", got)
	}
	hc := l.str(`SELECT state || ' ' || health_check FROM jobs WHERE actual_device_id = $1`, dev)
	if hc != "Scheduled true" {
		t.Errorf("health check job = %q", hc)
	}
}

func TestRunSchedulesOnNotification(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	qemu := l.deviceType("qemu", "")
	dev := l.device("qemu01", qemu, l.worker("w1"), store.DeviceGood)
	r := start(t, l.st, scheduler.Config{})
	r.awaitLeading(t, true)
	// Submission: job row + NOTIFY lava_jobs (the tick is an hour away).
	job := l.job(qemu, 50)
	l.exec(`SELECT pg_notify($1, $2)`, store.NotifyJobs, fmt.Sprint(job))
	waitFor(t, r.passes, "job scheduled", func() bool { return strings.HasPrefix(l.state(job), "Scheduled/") })

	// A second job waits for the device; the device going Idle (its event)
	// wakes the scheduler.
	next := l.job(qemu, 50)
	l.exec(`SELECT pg_notify($1, $2)`, store.NotifyJobs, fmt.Sprint(next))
	l.exec(`UPDATE jobs SET state = 'Finished', health = 'Complete' WHERE id = $1`, job)
	l.exec(`UPDATE devices SET state = 'Idle' WHERE id = $1`, dev)
	ev := l.id(`INSERT INTO events (realm_id, topic, username, data)
VALUES (1, 'device', 'lavaserver', '{"health": "Good", "state": "Idle", "device": "qemu01"}') RETURNING id`)
	l.exec(`SELECT pg_notify($1, $2)`, store.NotifyEvents, fmt.Sprint(ev))
	waitFor(t, r.passes, "second job scheduled", func() bool { return strings.HasPrefix(l.state(next), "Scheduled/") })
}

func TestRunCoalescesNotifications(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	qemu := l.deviceType("qemu", "")
	l.device("qemu01", qemu, l.worker("w1"), store.DeviceGood)
	r := start(t, l.st, scheduler.Config{})
	r.awaitLeading(t, true)
	waitFor(t, r.passes, "first pass", func() bool { return r.s.Passes() >= 1 })
	before := r.s.Passes()
	l.exec(`SELECT pg_notify($1, g::text) FROM generate_series(1, 1000) g`, store.NotifyJobs)
	// Notifications arrive in order: once this job is scheduled, the burst
	// before it has been read.
	job := l.job(qemu, 50)
	l.exec(`SELECT pg_notify($1, 'last')`, store.NotifyJobs)
	waitFor(t, r.passes, "job scheduled", func() bool { return strings.HasPrefix(l.state(job), "Scheduled/") })
	n := r.s.Passes() - before
	t.Logf("%d passes for 1,001 notifications", n)
	if n > 100 {
		t.Errorf("%d passes for 1,001 notifications, want them coalesced", n)
	}
}

// TestOneLeaderAndTakeOver runs two schedulers as two processes would
// (a pool each): one leads, the other keeps trying and takes over when the
// first stops.
func TestOneLeaderAndTakeOver(t *testing.T) {
	t.Parallel()
	url := storetest.URL(t)
	open := func(name string) *store.Store {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		st, err := store.Open(context.Background(), url+sep+"application_name="+name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		return st
	}
	stA, stB := open("sched_a"), open("sched_b")
	a := start(t, stA, scheduler.Config{LeaderRetry: 50 * time.Millisecond})
	a.awaitLeading(t, true)
	b := start(t, stB, scheduler.Config{LeaderRetry: 50 * time.Millisecond})
	waitAttempts(t, stA, "sched_b")
	if b.s.Leading() || !a.s.Leading() {
		t.Fatalf("leading: a %v, b %v; want only a", a.s.Leading(), b.s.Leading())
	}
	a.stop()
	b.awaitLeading(t, true)
	if a.s.Leading() {
		t.Error("a still leading after stop")
	}
	select {
	case v := <-a.leading:
		if v {
			t.Error("a reported leading twice")
		}
	default:
		t.Error("a did not report losing leadership")
	}
}

// waitAttempts waits until a session of application app has tried to take
// the scheduler lock: its pool only runs that query while it does not lead,
// and an idle session keeps its last query in pg_stat_activity.
func waitAttempts(t *testing.T, st *store.Store, app string) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		var seen int64
		err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
WHERE application_name = $1 AND query LIKE '%pg_try_advisory_lock%'`, app).Scan(&seen)
		if err != nil {
			t.Fatal(err)
		}
		if seen > 0 {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no leadership attempt by %s seen", app)
		}
	}
}

func TestRunCancelsAtQueueTimeout(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	nodev := l.deviceType("nodev", "") // no device: the jobs wait
	timed, waiting := l.job(nodev, 50), l.job(nodev, 50)
	l.exec(`UPDATE jobs SET definition = definition || E'timeouts:\n  queue:\n    minutes: 10\n',
    submit_time = now() - interval '1 hour' WHERE id = $1`, timed)
	l.exec(`UPDATE jobs SET definition = definition || E'timeouts:\n  queue:\n    days: 1\n',
    submit_time = now() - interval '1 hour' WHERE id = $1`, waiting)
	r := start(t, l.st, scheduler.Config{})
	waitFor(t, r.passes, "job canceled", func() bool { return strings.HasPrefix(l.state(timed), "Finished/") })
	if got := l.state(timed); got != "Finished/Canceled/-" {
		t.Errorf("timed out job = %s, want Finished/Canceled", got)
	}
	if got := l.state(waiting); got != "Submitted/Unknown/-" {
		t.Errorf("job within its queue timeout = %s, want Submitted", got)
	}
}

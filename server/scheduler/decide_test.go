package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golava/server/store"
)

var testNow = time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)

// Device types of the test lab: qemu has no health check, bbb has one every
// 24 hours, hidden is not displayed.
const (
	qemu   = 1
	bbb    = 2
	hidden = 3
	// Workers: w1 online and active, w2 offline, w3 in maintenance, w4
	// online with a limit of one busy device.
	w1, w2, w3, w4 = 1, 2, 3, 4
)

func baseState() State {
	return State{
		Now: testNow,
		DeviceTypes: []DeviceType{
			{ID: qemu, Name: "qemu", Display: true},
			{ID: bbb, Name: "bbb", Display: true, HasHealthCheck: true, HealthFrequency: 24},
			{ID: hidden, Name: "hidden", Display: false},
		},
		Workers: []Worker{
			{ID: w1, Hostname: "w1", State: store.WorkerOnline, Health: store.WorkerActive},
			{ID: w2, Hostname: "w2", State: store.WorkerOffline, Health: store.WorkerActive},
			{ID: w3, Hostname: "w3", State: store.WorkerOnline, Health: store.WorkerMaintenance},
			{ID: w4, Hostname: "w4", State: store.WorkerOnline, Health: store.WorkerActive, JobLimit: 1},
		},
	}
}

type devOpt func(*Device)

func health(h string) devOpt  { return func(d *Device) { d.Health = h } }
func state(s string) devOpt   { return func(d *Device) { d.State = s } }
func onWorker(w int64) devOpt { return func(d *Device) { d.Worker = w } }
func tags(t ...string) devOpt { return func(d *Device) { d.Tags = t } }
func checkedAgo(a time.Duration) devOpt {
	return func(d *Device) { v := testNow.Add(-a); d.LastHealthCheck = &v }
}

// dev is an Idle, Good device on w1, health-checked an hour ago.
func dev(id int64, typ int64, opts ...devOpt) Device {
	d := Device{ID: id, Hostname: fmt.Sprintf("dev%02d", id), Type: typ, Worker: w1,
		State: store.DeviceIdle, Health: store.DeviceGood}
	checkedAgo(time.Hour)(&d)
	for _, o := range opts {
		o(&d)
	}
	return d
}

type jobOpt func(*Job)

func prio(p int) jobOpt            { return func(j *Job) { j.Priority = p } }
func jtags(t ...string) jobOpt     { return func(j *Job) { j.Tags = t } }
func target(d int64) jobOpt        { return func(j *Job) { j.Device = d; j.DeviceType = 0 } }
func hc(d int64) jobOpt            { return func(j *Job) { j.HealthCheck = true; j.Device = d } }
func group(g string, n int) jobOpt { return func(j *Job) { j.Group = g; j.GroupSize = n } }
func dynamic() jobOpt              { return func(j *Job) { j.DeviceType = 0; j.Device = 0 } }
func job(id, typ int64, opts ...jobOpt) Job {
	j := Job{ID: id, DeviceType: typ, Priority: 50}
	for _, o := range opts {
		o(&j)
	}
	return j
}

// describe renders a plan as short lines: "hc dev03", "job5 dev02",
// "group g: job1 dev01, job2 dev02".
func describe(p Plan) []string {
	var out []string
	for _, h := range p.HealthChecks {
		out = append(out, fmt.Sprintf("hc dev%02d", h.DeviceID))
	}
	for _, a := range p.Assignments {
		var parts []string
		for _, pl := range a.Placements {
			if pl.DeviceID == 0 {
				parts = append(parts, fmt.Sprintf("job%d -", pl.JobID))
			} else {
				parts = append(parts, fmt.Sprintf("job%d dev%02d", pl.JobID, pl.DeviceID))
			}
		}
		line := strings.Join(parts, ", ")
		if a.Group != "" {
			line = "group " + a.Group + ": " + line
		}
		out = append(out, line)
	}
	return out
}

func TestDecide(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		devices []Device
		jobs    []Job
		want    []string
	}{
		{"empty", nil, nil, nil},
		{"no devices", nil, []Job{job(1, qemu)}, nil},
		{"one job one device", []Device{dev(1, qemu)}, []Job{job(1, qemu)}, []string{"job1 dev01"}},
		{"priority before age", []Device{dev(1, qemu)},
			[]Job{job(1, qemu, prio(50)), job(2, qemu, prio(100)), job(3, qemu, prio(0))},
			[]string{"job2 dev01"}},
		{"age within a priority", []Device{dev(1, qemu), dev(2, qemu)},
			[]Job{job(3, qemu), job(2, qemu), job(1, qemu)},
			[]string{"job1 dev01", "job2 dev02"}},
		{"a device gets one job per pass", []Device{dev(1, qemu)},
			[]Job{job(1, qemu), job(2, qemu)}, []string{"job1 dev01"}},
		{"type must match", []Device{dev(1, qemu)}, []Job{job(1, bbb)}, nil},
		{"each type its devices", []Device{dev(1, qemu), dev(2, bbb)},
			[]Job{job(1, bbb), job(2, qemu)}, []string{"job1 dev02", "job2 dev01"}},
		{"requested device", []Device{dev(1, qemu), dev(2, qemu)},
			[]Job{job(1, qemu, target(2))}, []string{"job1 dev02"}},
		{"requested device busy", []Device{dev(1, qemu), dev(2, qemu, state(store.DeviceRunning))},
			[]Job{job(1, qemu, target(2))}, nil},
		{"requested device taken by a higher priority job", []Device{dev(1, qemu)},
			[]Job{job(1, qemu, prio(10), target(1)), job(2, qemu, prio(90))}, []string{"job2 dev01"}},
		{"tags respected", []Device{dev(1, qemu), dev(2, qemu, tags("usb", "hdmi"))},
			[]Job{job(1, qemu, jtags("hdmi"))}, []string{"job1 dev02"}},
		{"tags missing", []Device{dev(1, qemu, tags("usb"))},
			[]Job{job(1, qemu, jtags("usb", "sata"))}, nil},
		{"tagged job does not block untagged lower job", []Device{dev(1, qemu)},
			[]Job{job(1, qemu, prio(90), jtags("usb")), job(2, qemu)}, []string{"job2 dev01"}},
		{"untagged job may take a tagged device", []Device{dev(1, qemu, tags("usb"))},
			[]Job{job(1, qemu)}, []string{"job1 dev01"}},
		{"plainest device first keeps tagged ones for tagged jobs",
			[]Device{dev(1, qemu, tags("usb", "hdmi")), dev(2, qemu, tags("usb")), dev(3, qemu)},
			[]Job{job(1, qemu, prio(90)), job(2, qemu, prio(80), jtags("usb")), job(3, qemu, jtags("usb", "hdmi"))},
			[]string{"job1 dev03", "job2 dev02", "job3 dev01"}},
		{"reserved and running devices", []Device{dev(1, qemu, state(store.DeviceReserved)), dev(2, qemu, state(store.DeviceRunning))},
			[]Job{job(1, qemu)}, nil},
		{"unknown device without health check takes jobs", []Device{dev(1, qemu, health(store.DeviceUnknown))},
			[]Job{job(1, qemu)}, []string{"job1 dev01"}},
		{"bad maintenance retired get nothing", []Device{
			dev(1, qemu, health(store.DeviceBad)), dev(2, qemu, health(store.DeviceMaintenance)),
			dev(3, qemu, health(store.DeviceRetired)),
			dev(4, bbb, health(store.DeviceBad)), dev(5, bbb, health(store.DeviceMaintenance)),
			dev(6, bbb, health(store.DeviceRetired))},
			[]Job{job(1, qemu), job(2, bbb)}, nil},
		{"looping without health check gets nothing", []Device{dev(1, qemu, health(store.DeviceLooping))},
			[]Job{job(1, qemu)}, nil},
		{"offline worker", []Device{dev(1, qemu, onWorker(w2))}, []Job{job(1, qemu)}, nil},
		{"worker in maintenance", []Device{dev(1, qemu, onWorker(w3))}, []Job{job(1, qemu)}, nil},
		{"no worker", []Device{dev(1, qemu, onWorker(0))}, []Job{job(1, qemu)}, nil},
		{"worker job limit", []Device{dev(1, qemu, onWorker(w4)), dev(2, qemu, onWorker(w4))},
			[]Job{job(1, qemu), job(2, qemu)}, []string{"job1 dev01"}},
		{"hidden type", []Device{dev(1, hidden)}, []Job{job(1, hidden)}, nil},
		{"unknown device gets a health check first", []Device{dev(1, bbb, health(store.DeviceUnknown)), dev(2, bbb)},
			[]Job{job(1, bbb), job(2, bbb)}, []string{"hc dev01", "job1 dev02"}},
		{"looping device gets a health check", []Device{dev(1, bbb, health(store.DeviceLooping))},
			[]Job{job(1, bbb)}, []string{"hc dev01"}},
		{"health check due by time", []Device{dev(1, bbb, checkedAgo(25*time.Hour))},
			[]Job{job(1, bbb)}, []string{"hc dev01"}},
		{"health check never run", []Device{dev(1, bbb, func(d *Device) { d.LastHealthCheck = nil })},
			nil, []string{"hc dev01"}},
		{"health check not due", []Device{dev(1, bbb, checkedAgo(23*time.Hour))},
			[]Job{job(1, bbb)}, []string{"job1 dev01"}},
		{"health check on busy device waits", []Device{dev(1, bbb, health(store.DeviceUnknown), state(store.DeviceRunning))},
			nil, nil},
		{"health check on offline worker waits", []Device{dev(1, bbb, health(store.DeviceUnknown), onWorker(w2))},
			nil, nil},
		{"health check respects job limit", []Device{dev(1, bbb, health(store.DeviceUnknown), onWorker(w4)),
			dev(2, bbb, health(store.DeviceUnknown), onWorker(w4))},
			nil, []string{"hc dev01"}},
		{"queued health check used instead of a new one", []Device{dev(1, bbb, health(store.DeviceUnknown))},
			[]Job{job(1, bbb), job(2, bbb, hc(1))}, []string{"job2 dev01"}},
		{"queued health check goes first", []Device{dev(1, bbb)},
			[]Job{job(1, bbb, prio(100)), job(2, bbb, prio(0), hc(1))}, []string{"job2 dev01"}},
		{"multinode placed whole", []Device{dev(1, qemu), dev(2, bbb)},
			[]Job{job(1, qemu, group("g", 2)), job(2, bbb, group("g", 2))},
			[]string{"group g: job1 dev01, job2 dev02"}},
		{"multinode none if one role lacks a device", []Device{dev(1, qemu), dev(2, qemu)},
			[]Job{job(1, qemu, group("g", 2)), job(2, bbb, group("g", 2)), job(3, qemu, prio(0))},
			[]string{"job3 dev01"}},
		{"multinode roles need distinct devices", []Device{dev(1, qemu)},
			[]Job{job(1, qemu, group("g", 2)), job(2, qemu, group("g", 2))}, nil},
		{"multinode waits for all sub-jobs", []Device{dev(1, qemu), dev(2, qemu)},
			[]Job{job(1, qemu, group("g", 3)), job(2, qemu, group("g", 3))}, nil},
		{"multinode dynamic connection", []Device{dev(1, qemu)},
			[]Job{job(1, qemu, group("g", 2)), job(2, 0, dynamic(), group("g", 2))},
			[]string{"group g: job1 dev01, job2 -"}},
		{"multinode by priority", []Device{dev(1, qemu), dev(2, qemu)},
			[]Job{job(1, qemu), job(2, qemu, prio(90), group("g", 2)), job(3, qemu, prio(90), group("g", 2))},
			[]string{"group g: job2 dev01, job3 dev02"}},
		{"multinode tags per role", []Device{dev(1, qemu, tags("a")), dev(2, qemu, tags("b"))},
			[]Job{job(1, qemu, group("g", 2), jtags("b")), job(2, qemu, group("g", 2), jtags("a"))},
			[]string{"group g: job1 dev02, job2 dev01"}},
		{"multinode job limit", []Device{dev(1, qemu, onWorker(w4)), dev(2, qemu, onWorker(w4))},
			[]Job{job(1, qemu, group("g", 2)), job(2, qemu, group("g", 2)), job(3, qemu, prio(0))},
			[]string{"job3 dev01"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := baseState()
			s.Devices, s.Jobs = tc.devices, tc.jobs
			if got := describe(Decide(s)); !slices.Equal(got, tc.want) {
				t.Errorf("plan = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecideHealthCheckPerJobs(t *testing.T) {
	t.Parallel()
	s := baseState()
	s.DeviceTypes[1].HealthPerJobs, s.DeviceTypes[1].HealthFrequency = true, 3
	s.Devices = []Device{
		dev(1, bbb, func(d *Device) { d.JobsSinceHealthCheck = 3 }),
		dev(2, bbb, func(d *Device) { d.JobsSinceHealthCheck = 2 }),
	}
	s.Jobs = []Job{job(1, bbb)}
	if got, want := describe(Decide(s)), []string{"hc dev01", "job1 dev02"}; !slices.Equal(got, want) {
		t.Errorf("plan = %q, want %q", got, want)
	}
}

func TestDecideDisabledHealthCheck(t *testing.T) {
	t.Parallel()
	s := baseState()
	s.DeviceTypes[1].HealthCheckDisabled = true
	s.Devices = []Device{dev(1, bbb, health(store.DeviceUnknown)), dev(2, bbb, health(store.DeviceLooping))}
	s.Jobs = []Job{job(1, bbb), job(2, bbb)}
	if got, want := describe(Decide(s)), []string{"job1 dev01"}; !slices.Equal(got, want) {
		t.Errorf("plan = %q, want %q", got, want)
	}
}

// TestDecideInvariants checks on a random lab that no job and no device is
// used twice, that every placement obeys the rules, and that the input is
// left alone.
func TestDecideInvariants(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 20; seed++ {
		s := randomLab(seed, 400, 60)
		before := fmt.Sprint(s)
		plan := Decide(s)
		if fmt.Sprint(s) != before {
			t.Fatalf("seed %d: Decide modified its input", seed)
		}
		checkPlan(t, s, plan)
	}
}

func checkPlan(t *testing.T, s State, plan Plan) {
	t.Helper()
	jobs, devices := map[int64]*Job{}, map[int64]*Device{}
	for i := range s.Jobs {
		jobs[s.Jobs[i].ID] = &s.Jobs[i]
	}
	for i := range s.Devices {
		devices[s.Devices[i].ID] = &s.Devices[i]
	}
	usedJob, usedDev := map[int64]bool{}, map[int64]bool{}
	for _, h := range plan.HealthChecks {
		if usedDev[h.DeviceID] {
			t.Fatalf("device %d used twice", h.DeviceID)
		}
		usedDev[h.DeviceID] = true
	}
	for _, a := range plan.Assignments {
		for _, pl := range a.Placements {
			j, d := jobs[pl.JobID], devices[pl.DeviceID]
			if usedJob[pl.JobID] || (pl.DeviceID != 0 && usedDev[pl.DeviceID]) {
				t.Fatalf("job %d or device %d used twice", pl.JobID, pl.DeviceID)
			}
			usedJob[pl.JobID], usedDev[pl.DeviceID] = true, true
			if j.Group != a.Group {
				t.Fatalf("job %d of group %q placed in group %q", j.ID, j.Group, a.Group)
			}
			if pl.DeviceID == 0 {
				continue
			}
			if !typeMatches(j, d) || !deviceIdle(d) || !healthTakesHealthCheck(d.Health) {
				t.Fatalf("job %+v placed on unfit device %+v", j, d)
			}
			dt := map[string]struct{}{}
			for _, tg := range d.Tags {
				dt[tg] = struct{}{}
			}
			if !hasTags(j.Tags, dt) {
				t.Fatalf("job %d tags %v on device %d tags %v", j.ID, j.Tags, d.ID, d.Tags)
			}
		}
	}
}

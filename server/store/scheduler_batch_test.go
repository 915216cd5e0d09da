package store_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"golava/server/store"
)

// allEvents returns topic and data of every event, in id order.
func (l *schedLab) allEvents() []string {
	l.t.Helper()
	rows, err := l.st.Pool().Query(l.ctx, `SELECT topic || ' ' || username || ' ' || data FROM events ORDER BY id`)
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

// TestApplyPlacementsSameAsApplyAssignment schedules the same jobs once
// with ApplyAssignment and once, after putting the rows back, with
// ApplyPlacements: rows and events (topic, user, data bytes, order) must be
// the same.
func TestApplyPlacementsSameAsApplyAssignment(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	qemu := l.deviceType("qemu", "job_name: hc\nvisibility: public\n")
	w := l.worker("w1")
	d1 := l.device("qemu01", qemu, w, store.DeviceGood)
	d2 := l.device("qemu02", qemu, w, store.DeviceUnknown)
	d3 := l.device("qemu03", qemu, w, store.DeviceLooping)
	j1, j2 := l.job(qemu, 50, "usb"), l.job(qemu, 100)
	j3 := l.job(qemu, 0)
	l.exec(`UPDATE jobs SET health_check = true WHERE id = $1`, j3)
	placements := []store.Placement{{JobID: j1, DeviceID: d1}, {JobID: j2, DeviceID: d2}, {JobID: j3, DeviceID: d3}}
	snapshot := func() string {
		var rows []string
		for _, p := range placements {
			rows = append(rows, l.jobState(p.JobID)+" "+l.deviceState(p.DeviceID))
		}
		return strings.Join(append(rows, l.allEvents()...), "\n")
	}

	for _, p := range placements {
		if err := l.st.ApplyAssignment(l.ctx, store.DefaultRealm, []store.Placement{p}); err != nil {
			t.Fatal(err)
		}
	}
	want := snapshot()
	l.exec(`UPDATE jobs SET state = 'Submitted', actual_device_id = NULL WHERE state = 'Scheduled'`)
	l.exec(`UPDATE devices SET state = 'Idle' WHERE state = 'Reserved'`)
	l.exec(`DELETE FROM events`)

	applied, err := l.st.ApplyPlacements(l.ctx, store.DefaultRealm, placements)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(applied, placements) {
		t.Errorf("applied %v, want %v", applied, placements)
	}
	if got := snapshot(); got != want {
		t.Errorf("ApplyPlacements wrote\n%s\nApplyAssignment wrote\n%s", got, want)
	}
	if n := strings.Count(want, "\n"); n != 3+2*len(placements)-1 {
		t.Errorf("%d lines in snapshot:\n%s", n+1, want)
	}
}

// TestApplyPlacementsSkips: placements whose job or device changed are
// skipped and change nothing, the others in the batch are applied.
func TestApplyPlacementsSkips(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	qemu := l.deviceType("qemu", "")
	w := l.worker("w1")
	off := l.worker("w2")
	l.exec(`UPDATE workers SET state = 'Offline' WHERE id = $1`, off)
	skip := map[string]func(dev, job int64){
		"device running":     func(dev, _ int64) { l.exec(`UPDATE devices SET state = 'Running' WHERE id = $1`, dev) },
		"device bad":         func(dev, _ int64) { l.exec(`UPDATE devices SET health = 'Bad' WHERE id = $1`, dev) },
		"device maintenance": func(dev, _ int64) { l.exec(`UPDATE devices SET health = 'Maintenance' WHERE id = $1`, dev) },
		"device looping":     func(dev, _ int64) { l.exec(`UPDATE devices SET health = 'Looping' WHERE id = $1`, dev) },
		"worker offline":     func(dev, _ int64) { l.exec(`UPDATE devices SET worker_id = $2 WHERE id = $1`, dev, off) },
		"job canceled":       func(_, job int64) { l.exec(`UPDATE jobs SET state = 'Finished' WHERE id = $1`, job) },
		"job in a group":     func(_, job int64) { l.exec(`UPDATE jobs SET target_group = 'g' WHERE id = $1`, job) },
	}
	var placements, good []store.Placement
	before := map[store.Placement]string{}
	for name, setup := range skip {
		p := store.Placement{DeviceID: l.device("dev-"+strings.ReplaceAll(name, " ", "-"), qemu, w, store.DeviceGood), JobID: l.job(qemu, 50)}
		setup(p.DeviceID, p.JobID)
		before[p] = l.jobState(p.JobID) + " " + l.deviceState(p.DeviceID)
		placements = append(placements, p)
		g := store.Placement{DeviceID: l.device("ok-"+strings.ReplaceAll(name, " ", "-"), qemu, w, store.DeviceGood), JobID: l.job(qemu, 50)}
		placements, good = append(placements, g), append(good, g)
	}
	// The same job or device twice: only the first placement is applied.
	placements = append(placements, store.Placement{JobID: good[0].JobID, DeviceID: l.device("spare", qemu, w, store.DeviceGood)},
		store.Placement{JobID: l.job(qemu, 50), DeviceID: good[1].DeviceID})
	applied, err := l.st.ApplyPlacements(l.ctx, store.DefaultRealm, placements)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(applied, good) {
		t.Errorf("applied %v, want %v", applied, good)
	}
	for _, p := range good {
		if got, want := l.jobState(p.JobID)+" "+l.deviceState(p.DeviceID), fmt.Sprintf("Scheduled/Unknown/%d Reserved/Good", p.DeviceID); got != want {
			t.Errorf("placement %v: %s, want %s", p, got, want)
		}
	}
	for p, was := range before {
		if now := l.jobState(p.JobID) + " " + l.deviceState(p.DeviceID); now != was {
			t.Errorf("skipped placement %v changed %s -> %s", p, was, now)
		}
	}
	if n := len(l.events("device")) + len(l.events("testjob")); n != 2*len(good) {
		t.Errorf("%d events for %d placements", n, len(good))
	}
	if _, err := l.st.ApplyPlacements(l.ctx, store.DefaultRealm, []store.Placement{{JobID: l.job(qemu, 50)}}); err == nil {
		t.Error("placement without a device: no error")
	}
}

// TestApplyPlacementsRace has appliers race on the same batch of jobs and
// devices, each pairing them differently: every job ends on at most one
// device, every device holds at most one job, and each applied placement is
// one such pair with its two events.
func TestApplyPlacementsRace(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	qemu := l.deviceType("qemu", "")
	w := l.worker("w1")
	const n = 60
	var devs, jobs []int64
	for i := range n {
		devs = append(devs, l.device(fmt.Sprintf("qemu%02d", i), qemu, w, store.DeviceGood))
		jobs = append(jobs, l.job(qemu, 50))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var applied []store.Placement
	for g := range 4 {
		wg.Go(func() {
			for round := range 10 {
				batch := make([]store.Placement, n)
				for i := range n {
					batch[i] = store.Placement{JobID: jobs[i], DeviceID: devs[(i+g*7+round)%n]}
				}
				got, err := l.st.ApplyPlacements(l.ctx, store.DefaultRealm, batch)
				if err != nil {
					t.Errorf("applier %d: %v", g, err)
					return
				}
				mu.Lock()
				applied = append(applied, got...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Then one applier over every pairing, alone: whatever the race left
	// (a pair skipped because the other's transaction held a row) is taken.
	for shift := range n {
		batch := make([]store.Placement, n)
		for i := range n {
			batch[i] = store.Placement{JobID: jobs[i], DeviceID: devs[(i+shift)%n]}
		}
		got, err := l.st.ApplyPlacements(l.ctx, store.DefaultRealm, batch)
		if err != nil {
			t.Fatal(err)
		}
		applied = append(applied, got...)
	}
	seenJob, seenDev := map[int64]bool{}, map[int64]bool{}
	for _, p := range applied {
		if seenJob[p.JobID] || seenDev[p.DeviceID] {
			t.Errorf("placement %v applied with its job or device already used", p)
		}
		seenJob[p.JobID], seenDev[p.DeviceID] = true, true
		if got, want := l.jobState(p.JobID), fmt.Sprintf("Scheduled/Unknown/%d", p.DeviceID); got != want {
			t.Errorf("job %d = %s, want %s", p.JobID, got, want)
		}
	}
	scheduled := l.id(`SELECT count(*) FROM jobs WHERE state = 'Scheduled'`)
	distinct := l.id(`SELECT count(DISTINCT actual_device_id) FROM jobs WHERE state = 'Scheduled'`)
	reserved := l.id(`SELECT count(*) FROM devices WHERE state = 'Reserved'`)
	if int64(len(applied)) != scheduled || scheduled != distinct || distinct != reserved || len(applied) != n {
		t.Errorf("applied %d, scheduled jobs %d on %d distinct devices, %d reserved, want all %d",
			len(applied), scheduled, distinct, reserved, n)
	}
	if je, de := len(l.events("testjob")), len(l.events("device")); int64(je) != scheduled || int64(de) != reserved {
		t.Errorf("%d job events and %d device events for %d scheduled jobs", je, de, scheduled)
	}
}

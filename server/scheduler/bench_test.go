package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"golava/server/store"
)

// randomLab builds a lab of nDevices boards over 20 device types and 50
// workers, and a queue of nJobs jobs with mixed priorities, a few tags and
// a few MultiNode groups.
func randomLab(seed uint64, nJobs, nDevices int) State {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := State{Now: testNow, Seed: seed}
	const nTypes, nWorkers = 20, 50
	allTags := []string{"usb", "hdmi", "sata", "wifi", "can"}
	for i := 1; i <= nTypes; i++ {
		s.DeviceTypes = append(s.DeviceTypes, DeviceType{ID: int64(i), Name: fmt.Sprintf("type%d", i),
			Display: true, HasHealthCheck: i%2 == 0, HealthFrequency: 24})
	}
	for i := 1; i <= nWorkers; i++ {
		w := Worker{ID: int64(i), Hostname: fmt.Sprintf("w%d", i), State: store.WorkerOnline, Health: store.WorkerActive}
		if i%10 == 0 {
			w.State = store.WorkerOffline
		}
		if i%7 == 0 {
			w.JobLimit = 2
		}
		s.Workers = append(s.Workers, w)
	}
	states := []string{store.DeviceIdle, store.DeviceIdle, store.DeviceIdle, store.DeviceRunning}
	healths := []string{store.DeviceGood, store.DeviceGood, store.DeviceGood, store.DeviceGood,
		store.DeviceUnknown, store.DeviceBad, store.DeviceMaintenance, store.DeviceLooping}
	for i := 1; i <= nDevices; i++ {
		d := Device{ID: int64(i), Hostname: fmt.Sprintf("dev%05d", i), Type: int64(rng.IntN(nTypes) + 1),
			Worker: int64(rng.IntN(nWorkers) + 1), State: states[rng.IntN(len(states))],
			Health: healths[rng.IntN(len(healths))]}
		last := testNow.Add(-testHour(rng.IntN(30)))
		d.LastHealthCheck = &last
		for _, tg := range allTags {
			if rng.IntN(4) == 0 {
				d.Tags = append(d.Tags, tg)
			}
		}
		s.Devices = append(s.Devices, d)
	}
	for i := 1; i <= nJobs; i++ {
		j := Job{ID: int64(i), Priority: []int{0, 50, 50, 50, 100}[rng.IntN(5)], DeviceType: int64(rng.IntN(nTypes) + 1)}
		if rng.IntN(10) == 0 {
			j.Tags = []string{allTags[rng.IntN(len(allTags))]}
		}
		if rng.IntN(50) == 0 && i+2 <= nJobs {
			g := fmt.Sprintf("g%d", i)
			for k := range 3 {
				s.Jobs = append(s.Jobs, Job{ID: int64(i + k), Priority: j.Priority,
					DeviceType: int64(rng.IntN(nTypes) + 1), Group: g, GroupSize: 3})
			}
			i += 2
			continue
		}
		s.Jobs = append(s.Jobs, j)
	}
	return s
}

func BenchmarkDecide(b *testing.B) {
	s := randomLab(42, 100_000, 2_000)
	var placed int
	for b.Loop() {
		plan := Decide(s)
		placed = len(plan.Assignments)
	}
	b.ReportMetric(float64(len(s.Jobs))*float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	b.ReportMetric(float64(placed), "assigned/op")
}

func testHour(n int) time.Duration { return time.Duration(n) * time.Hour }

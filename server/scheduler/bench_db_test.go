package scheduler_test

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"golava/server/scheduler"
	"golava/server/store"
)

// benchLab fills a database with a lab of 2,000 idle Good devices over 20
// device types and 50 workers, and a queue of 100,000 jobs (priorities 0,
// 50 and 100; one in ten asks for the tag that one device in four has).
// It is built with set-returning SQL, in a few seconds.
func benchLab(b *testing.B) *lab {
	l := newLab(b)
	l.exec(`INSERT INTO device_types (realm_id, name) SELECT 1, 'type' || g FROM generate_series(1, 20) g`)
	l.exec(`INSERT INTO workers (realm_id, hostname, state, last_ping) SELECT 1, 'w' || g, 'Online', now() FROM generate_series(1, 50) g`)
	l.exec(`INSERT INTO devices (realm_id, hostname, device_type_id, worker_id, health)
SELECT 1, 'dev' || g, t.id, w.id, 'Good' FROM generate_series(1, 2000) g
JOIN device_types t ON t.name = 'type' || (g % 20 + 1) JOIN workers w ON w.hostname = 'w' || (g % 50 + 1)`)
	l.exec(`INSERT INTO tags (realm_id, name) VALUES (1, 'usb')`)
	l.exec(`INSERT INTO device_tags (device_id, tag_id) SELECT d.id, t.id FROM devices d, tags t WHERE d.id % 4 = 0`)
	l.exec(`INSERT INTO jobs (realm_id, submitter_id, description, definition, original_definition,
    requested_device_type_id, priority, token)
SELECT 1, $1, 'bench', 'job_name: bench', 'job_name: bench', t.id, (ARRAY[0, 50, 50, 50, 100])[1 + g % 5], 'tok'
FROM generate_series(1, 100000) g JOIN device_types t ON t.name = 'type' || (g * 7 % 20 + 1)`, l.uid)
	l.exec(`INSERT INTO job_tags (job_id, tag_id) SELECT j.id, t.id FROM jobs j, tags t WHERE j.id % 10 = 0`)
	l.exec(`ANALYZE`)
	return l
}

// BenchmarkPassDB measures scheduling against a real database:
// read+decide is the part of a pass that reads the whole lab (ns/op is one
// pass; jobs/s counts the queued jobs a pass covers); pass is a full pass
// that also schedules a job on each of the 2,000 devices (jobs/s counts the
// jobs scheduled), the queue being reset between passes outside the timer.
func BenchmarkPassDB(b *testing.B) {
	l := benchLab(b)
	const queued = 100_000
	b.Run("read+decide", func(b *testing.B) {
		var loaded, placed int
		for b.Loop() {
			st, err := l.st.SchedulerState(l.ctx, store.DefaultRealm, 0)
			if err != nil {
				b.Fatal(err)
			}
			plan := scheduler.Decide(scheduler.State{Now: st.Now, Seed: 1, Jobs: st.Jobs, Devices: st.Devices,
				DeviceTypes: st.DeviceTypes, Workers: st.Workers})
			loaded, placed = len(st.Jobs), len(plan.Assignments)
		}
		b.ReportMetric(float64(queued)*float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		b.ReportMetric(float64(loaded), "read/op")
		b.ReportMetric(float64(placed), "assigned/op")
		fmt.Printf("scheduling pass read+decide over %d queued jobs and 2000 devices: %.0f ms/pass (%.0f jobs/s)\n",
			queued, float64(b.Elapsed().Milliseconds())/float64(b.N), float64(queued)*float64(b.N)/b.Elapsed().Seconds())
	})
	b.Run("pass", func(b *testing.B) {
		s := scheduler.New(l.st, slog.New(slog.NewTextHandler(io.Discard, nil)), scheduler.Config{})
		var assigned int
		var load, decide, apply time.Duration
		for range b.N {
			b.StopTimer()
			l.exec(`UPDATE jobs SET state = 'Submitted', actual_device_id = NULL WHERE state = 'Scheduled'`)
			l.exec(`UPDATE devices SET state = 'Idle' WHERE state = 'Reserved'`)
			l.exec(`DELETE FROM events`)
			b.StartTimer()
			stats, err := s.Pass(l.ctx)
			if err != nil {
				b.Fatal(err)
			}
			assigned += stats.Assigned
			load, decide, apply = load+stats.Load, decide+stats.Decide, apply+stats.Apply
		}
		b.ReportMetric(float64(assigned)/b.Elapsed().Seconds(), "jobs/s")
		b.ReportMetric(float64(assigned)/float64(b.N), "assigned/op")
		fmt.Printf("full scheduling pass over %d queued jobs and 2000 devices, assigning %d: %.0f ms/pass (%.0f jobs/s)\n",
			queued, assigned/max(1, b.N), float64(b.Elapsed().Milliseconds())/float64(b.N), float64(assigned)/b.Elapsed().Seconds())
		fmt.Printf("full scheduling pass: load %.0f ms, decide %.0f ms, apply %.0f ms per pass\n",
			ms(load)/float64(b.N), ms(decide)/float64(b.N), ms(apply)/float64(b.N))
	})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

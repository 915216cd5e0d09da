package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golava/pkg/workerapi"
	"golava/server/api"
	"golava/server/scheduler"
	"golava/server/store"
)

// fleet is a set of fake workers, one simulated device each, that take
// jobs through the real worker API and finish them at once. It records
// every start so a test can tell a job that ran twice or a device that was
// given two jobs at a time.
type fleet struct {
	t      testing.TB
	client *workerapi.Client
	mu     sync.Mutex
	starts map[int64]int // job id -> times started
	faults []string
}

func (f *fleet) fault(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.faults) < 20 {
		f.faults = append(f.faults, fmt.Sprintf(format, args...))
	}
}

// work is one worker's loop: ping, run what it is told to start, cancel
// what it is told to cancel; ping again at once after work, else after idle.
func (f *fleet) work(ctx context.Context, name, token string, idle time.Duration) {
	tick := time.NewTicker(idle)
	defer tick.Stop()
	for ctx.Err() == nil {
		reply, err := f.client.Ping(ctx, name, token)
		if err != nil {
			if ctx.Err() == nil {
				f.fault("%s ping: %v", name, err)
			}
			return
		}
		// One device per worker: two jobs to start at once, or one while
		// another still runs, is a device with two jobs.
		if len(reply.Start) > 1 || len(reply.Start) == 1 && len(reply.Running) > 0 {
			f.fault("%s: told to start %v while running %v", name, reply.Start, reply.Running)
		}
		for _, j := range reply.Start {
			f.run(ctx, name, j)
		}
		for _, j := range reply.Cancel {
			_ = f.client.JobFinished(ctx, j.ID, j.Token, workerapi.Finish{Result: "fail", ErrorType: "Canceled"})
		}
		if len(reply.Start) == 0 {
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}
}

func (f *fleet) run(ctx context.Context, name string, j workerapi.JobRef) {
	f.mu.Lock()
	f.starts[j.ID]++
	f.mu.Unlock()
	if _, err := f.client.JobConfig(ctx, j.ID, j.Token); err != nil {
		f.fault("%s job %d config: %v", name, j.ID, err)
		return
	}
	if err := f.client.JobRunning(ctx, j.ID, j.Token); err != nil {
		f.fault("%s job %d running: %v", name, j.ID, err)
		return
	}
	if err := f.client.JobFinished(ctx, j.ID, j.Token, workerapi.Finish{Result: "pass"}); err != nil && !errors.Is(err, context.Canceled) {
		f.fault("%s job %d finished: %v", name, j.ID, err)
	}
}

// TestTwoSchedulersTenThousandJobs is the fleet acceptance: two schedulers
// (the leader is stopped a third of the way through, the other takes over)
// and 10,000 jobs over 50 simulated devices behind 50 fake workers on the
// worker API. Every job must run exactly once, end Complete, and no device
// may ever hold two jobs.
// fleetJobs is the size of the fleet acceptance (about 2.5 min on two busy cores).
var fleetJobs = 10_000

func TestTwoSchedulersTenThousandJobs(t *testing.T) {
	t.Parallel()
	const devices = 50
	jobs := fleetJobs
	l := newLab(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	typ := l.deviceType("sim", "")
	tokens := make([]string, devices)
	for i := range devices {
		name := fmt.Sprintf("fw%02d", i)
		w, tok, err := l.st.CreateWorker(ctx, store.DefaultRealm, name, "")
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tok
		l.exec(`INSERT INTO devices (realm_id, hostname, device_type_id, worker_id, health, dictionary)
VALUES (1, $1, $2, $3, 'Good', '{% extends ''dut-sim.jinja2'' %}')`, fmt.Sprintf("sim-%02d", i), typ, w.ID)
	}
	l.exec(`INSERT INTO jobs (realm_id, submitter_id, description, definition, original_definition,
    requested_device_type_id, priority, token)
SELECT 1, $1, 'fleet', $2, $2, $3, (ARRAY[0, 50, 100])[1 + g % 3], 'tok' || g FROM generate_series(1, $4) g`,
		l.uid, "device_type: sim\njob_name: fleet\nvisibility: public\ntimeouts: {job: {minutes: 1}}\nactions:\n- boot: {method: minimal}\n",
		typ, jobs)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(api.New(l.st, quiet, api.Config{}).Handler())
	defer srv.Close()
	f := &fleet{t: t, client: workerapi.NewClient(srv.URL, nil, ""), starts: map[int64]int{}}

	var passes, passNanos, assigned atomic.Int64
	cfg := scheduler.Config{Tick: 200 * time.Millisecond, LeaderRetry: 200 * time.Millisecond,
		OnPass: func(s scheduler.PassStats) {
			passes.Add(1)
			passNanos.Add(int64(s.Total))
			assigned.Add(int64(s.Assigned))
		}}
	a, b := startWith(t, l.st, cfg), startWith(t, l.st, cfg)

	var wg sync.WaitGroup
	for i := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.work(ctx, fmt.Sprintf("fw%02d", i), tokens[i], 100*time.Millisecond)
		}()
	}
	defer func() { cancel(); wg.Wait() }()

	finished := func() int {
		var n int
		if err := l.st.Pool().QueryRow(ctx, `SELECT COUNT(*) FROM jobs WHERE state = 'Finished'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	began := time.Now()
	waitCount(t, 3*time.Minute, "a third of the jobs to finish", func() bool { return finished() >= jobs/3 })
	// Stop whichever leads: the other must take over and finish the queue.
	if a.s.Leading() {
		a.stop()
	} else {
		b.stop()
	}
	waitCount(t, 5*time.Minute, "every job to finish", func() bool { return finished() == jobs })
	took := time.Since(began)
	cancel()
	wg.Wait()

	for _, msg := range f.faults {
		t.Error(msg)
	}
	if len(f.starts) != jobs {
		t.Errorf("%d jobs started, want %d", len(f.starts), jobs)
	}
	for id, n := range f.starts {
		if n != 1 {
			t.Errorf("job %d started %d times", id, n)
		}
	}
	if n := l.id(`SELECT COUNT(*) FROM jobs WHERE health <> 'Complete'`); n != 0 {
		t.Errorf("%d jobs did not end Complete", n)
	}
	// No device ran two jobs whose lifetimes overlap.
	if n := l.id(`SELECT COUNT(*) FROM jobs a JOIN jobs b ON a.actual_device_id = b.actual_device_id AND a.id < b.id
WHERE a.start_time < b.end_time AND b.start_time < a.end_time`); n != 0 {
		t.Errorf("%d pairs of jobs overlapped on one device", n)
	}
	fmt.Printf("fleet: %d jobs over %d simulated devices, two schedulers (leader stopped at a third): %.0f jobs/s; %d passes of %v on average\n",
		jobs, devices, float64(jobs)/took.Seconds(), passes.Load(), time.Duration(passNanos.Load()/max(1, passes.Load())))
}

// startWith runs a scheduler with cfg as given (its own OnPass) until the
// test ends or stop is called.
func startWith(t *testing.T, st *store.Store, cfg scheduler.Config) *started {
	t.Helper()
	r := &started{s: scheduler.New(st, testLogger(t), cfg)}
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

// waitCount polls cond every 100 ms until it holds or the deadline passes.
func waitCount(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

package daemon

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golava/pkg/workerapi"
)

const workerName = "w1"

// harness is a worker directory, a fake server and a way to run the daemon
// against them, possibly several times in a row.
type harness struct {
	t   *testing.T
	fs  *fakeServer
	cfg Config
	tm  timings
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	fs := newFakeServer(t, workerName)
	fs.workerToken = "worker-token-given"
	h := &harness{
		t:  t,
		fs: fs,
		cfg: Config{
			Name: workerName, URL: fs.URL(), Token: fs.workerToken, WorkerDir: t.TempDir(),
			PingInterval: time.Hour, HTTPTimeout: 10 * time.Second, LavaRun: fakeLavaRun,
			JobLogInterval: 5, Nice: true,
		},
		tm: timings{
			retry: 10 * time.Millisecond, register: 10 * time.Millisecond,
			cancelTerm: time.Hour, cancelKill: time.Hour, adoptPoll: 10 * time.Millisecond,
			wsReconnect: 10 * time.Millisecond, wsHeartbeat: 30 * time.Second,
		},
	}
	t.Cleanup(h.killLeftovers)
	return h
}

// daemonRun is one Run of the daemon.
type daemonRun struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned err
	err    error
}

// start runs the daemon until stop (or the end of the test).
func (h *harness) start() *daemonRun {
	logger := testLogger(h.t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &daemonRun{t: h.t, cancel: cancel, done: make(chan struct{})}
	go func() { r.err = run(ctx, h.cfg, logger, h.tm); close(r.done) }()
	h.t.Cleanup(func() { r.stop() })
	return r
}

// stop cancels the run and returns what Run returned.
func (r *daemonRun) stop() error {
	r.cancel()
	return r.wait()
}

// wait waits for Run to return by itself.
func (r *daemonRun) wait() error {
	select {
	case <-r.done:
		return r.err
	case <-time.After(20 * time.Second):
		r.t.Fatal("daemon did not return")
		return nil
	}
}

// killLeftovers ends the fake lava-runs a test left running; only this
// harness's: the pid of one that ended may since have been reused, even by
// the fake lava-run of a parallel test.
func (h *harness) killLeftovers() {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	for _, j := range h.fs.jobs {
		for _, rl := range j.Ready {
			if h.ownLavaRun(rl.PID) {
				syscall.Kill(rl.PID, syscall.SIGKILL)
			}
		}
	}
}

// ownLavaRun tells whether pid is a live fake lava-run of this harness:
// its command line names this test binary's lava-run link and a job dir
// in this harness's worker dir.
func (h *harness) ownLavaRun(pid int) bool {
	args := cmdline(pid)
	return slices.Contains(args, fakeLavaRun) &&
		slices.ContainsFunc(args, func(a string) bool {
			return strings.HasPrefix(a, "--output-dir="+filepath.Join(h.cfg.WorkerDir, "tmp")+string(filepath.Separator))
		})
}

// jobDir is where the worker runs job id.
func (h *harness) jobDir(prefix string, id int64) string {
	return filepath.Join(h.cfg.WorkerDir, "tmp", prefix+strconv.FormatInt(id, 10))
}

// jobsFile reads the worker's jobs table.
func (h *harness) jobsFile() map[int64]jobRecord {
	h.t.Helper()
	data, err := os.ReadFile(filepath.Join(h.cfg.WorkerDir, "jobs.json"))
	if err != nil {
		h.t.Fatalf("read jobs.json: %v", err)
	}
	var f struct{ Jobs []jobRecord }
	if err := json.Unmarshal(data, &f); err != nil {
		h.t.Fatalf("parse jobs.json: %v", err)
	}
	out := map[int64]jobRecord{}
	for _, j := range f.Jobs {
		out[j.ID] = j
	}
	return out
}

// ready waits for the n-th lava-run of job id to report and returns it.
func (h *harness) ready(id int64, n int) readyLine {
	h.t.Helper()
	h.fs.waitFor("lava-run of job "+strconv.FormatInt(id, 10)+" started", func() bool {
		return len(h.fs.jobs[id].Ready) >= n
	})
	return h.fs.job(id).Ready[n-1]
}

// finished waits for the end report of job id.
func (h *harness) finished(id int64) fakeJob {
	h.t.Helper()
	h.fs.waitFor("job "+strconv.FormatInt(id, 10)+" finished", func() bool {
		return h.fs.jobs[id].State == "Finished"
	})
	return h.fs.job(id)
}

// eventually polls cond, for conditions outside the fake server.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// jobConfig is a job whose lava-run is the fake in mode.
func jobConfig(mode string) workerapi.JobConfig {
	return workerapi.JobConfig{
		Definition: "job_name: fake " + mode + "\n",
		Device:     "constants: {}\n",
		Env:        "overrides:\n  " + fakeModeEnv + ": " + mode + "\n",
	}
}

// testLogger logs through t until the test ends; the process watchers of
// a stopped daemon may still log after that.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

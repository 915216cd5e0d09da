package lab_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"golava/server/store/storetest"
)

// faultLab is a split lab (lava-server, lava-scheduler(s), lava-worker and
// dut-sim boards as separate processes) whose parts the fault tests kill.
type faultLab struct {
	*split
	c           *client
	workerToken string
	worker      *proc
}

var leadingRE = regexp.MustCompile(`scheduler leading`)

// newFaultLab sets up boards b1..bN on worker w1 and starts the server,
// the dut-sim boards and the worker; schedulers are the caller's to start.
func newFaultLab(t *testing.T, boards int) *faultLab {
	t.Helper()
	s := &split{t: t, dbURL: storetest.URL(t), listen: freeAddr(t), dir: shortTempDir(t)}
	runCmd(t, "lava-server", "migrate", "--database-url", s.dbURL)
	s.admin("users", "add", "admin", "--superuser")
	token := lastLine(s.admin("tokens", "add", "--user", "admin"))
	f := &faultLab{split: s, workerToken: lastLine(s.admin("workers", "add", "w1"))}
	s.admin("device-types", "add", "dut-sim", "--disable-health-check")
	for i := 1; i <= boards; i++ {
		name := fmt.Sprintf("b%d", i)
		board := filepath.Join(s.dir, name)
		dict := filepath.Join(s.dir, name+".jinja2")
		if err := os.WriteFile(dict, []byte(fmt.Sprintf("{%% extends 'dut-sim.jinja2' %%}\n{%% set dut_sim_dir = '%s' %%}\n{%% set dut_sim_bin = '%s' %%}\n",
			board, filepath.Join(binDir, "lava-dut-sim"))), 0o644); err != nil {
			t.Fatal(err)
		}
		s.admin("devices", "add", name, "--device-type", "dut-sim", "--worker", "w1", "--dict", dict, "--health", "Good")
		startProc(t, "lava-dut-sim", "serve", "--dir", board, "--name", name)
	}
	s.startServer()
	f.c = &client{t: t, base: "http://" + s.listen, token: token}
	f.startWorker()
	return f
}

func (f *faultLab) startWorker() {
	f.worker = startProc(f.t, "lava-worker", "--name", "w1", "--url", f.c.base+"/", "--token", f.workerToken,
		"--worker-dir", filepath.Join(f.dir, "worker"), "--lava-run", filepath.Join(binDir, "lava-run"),
		"--download-dir", filepath.Join(f.dir, "downloads"), // not the host's, which Debian's lava-run uses in TestRealLavaWorker
		"--job-log-interval", "1", "--ping-interval", "1", "--log-file", "-")
}

func (f *faultLab) startScheduler(args ...string) *proc {
	return startProc(f.t, "lava-scheduler", append([]string{"--database-url", f.dbURL, "--tick", "200ms"}, args...)...)
}

// query runs one SQL statement returning one integer.
func (f *faultLab) count(q string, args ...any) int {
	f.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.dbURL)
	if err != nil {
		f.t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// checkRanOnce checks every job ended Complete with its one test case
// recorded once, and that no device ever held two jobs at a time.
func (f *faultLab) checkRanOnce(ids []int64) {
	f.t.Helper()
	for _, id := range ids {
		j := f.c.waitFinished(id, 3*time.Minute)
		if j.Health != "Complete" {
			f.t.Errorf("job %d: %s (%s)", id, j.Health, deref(j.FailureComment))
			continue
		}
		if n := strings.Count(f.c.logs(id), `"case": "once"`) + strings.Count(f.c.logs(id), `case: once`); n > 1 {
			f.t.Errorf("job %d: its test case is in the log %d times", id, n)
		}
		if got := f.c.testCases(id)["once"]; got != "pass" {
			f.t.Errorf("job %d: test case once = %q", id, got)
		}
	}
	if n := f.count(`SELECT count(*) FROM jobs a JOIN jobs b ON a.actual_device_id = b.actual_device_id AND a.id < b.id
WHERE a.start_time < b.end_time AND b.start_time < a.end_time`); n != 0 {
		f.t.Errorf("%d pairs of jobs overlapped on one device", n)
	}
	if n := f.count(`SELECT count(*) FROM events WHERE topic = 'testjob' AND data::json->>'state' = 'Running'`); n != len(ids) {
		f.t.Errorf("%d Running events for %d jobs: a job started twice", n, len(ids))
	}
}

func (f *faultLab) submitMany(n int) []int64 {
	var ids []int64
	for i := range n {
		ids = append(ids, f.c.submit(jobWithSteps(fmt.Sprintf("fault-%d", i), 2*time.Minute, "lava-test-case once --result pass")))
	}
	return ids
}

// TestSchedulerKilledAndDatabaseCut: two schedulers; the leader is killed
// (SIGKILL, in whatever pass it is in) while jobs flow, then every database
// connection of the lab is cut. The other scheduler takes over and every
// job runs exactly once.
func TestSchedulerKilledAndDatabaseCut(t *testing.T) {
	t.Parallel()
	f := newFaultLab(t, 2)
	a := f.startScheduler()
	a.waitOutput(leadingRE, 30*time.Second)
	b := f.startScheduler()
	ids := f.submitMany(6)
	waitFor(t, 2*time.Minute, "two jobs to finish", func() bool {
		return f.count(`SELECT count(*) FROM jobs WHERE state = 'Finished'`) >= 2
	})
	a.kill()
	ids = append(ids, f.submitMany(4)...)
	b.waitOutput(leadingRE, 60*time.Second)
	waitFor(t, 2*time.Minute, "five jobs to finish", func() bool {
		return f.count(`SELECT count(*) FROM jobs WHERE state = 'Finished'`) >= 5
	})
	cut := f.count(`SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()) t`)
	t.Logf("cut %d database connections", cut)
	// A request on a cut connection may fail once (500); the server must
	// answer again right after.
	waitFor(t, 30*time.Second, "the API to answer after the cut", func() bool {
		code, _ := f.c.do("GET", "/api/v0.2/jobs/?limit=1", "", nil)
		return code == 200
	})
	ids = append(ids, f.submitMany(4)...)
	f.checkRanOnce(ids)
}

// TestWorkerKilledMidJob: lava-worker is killed (SIGKILL) while a job
// runs; its lava-run lives on, and the restarted worker picks the job up
// and reports it: it ends Complete, having run once.
func TestWorkerKilledMidJob(t *testing.T) {
	t.Parallel()
	f := newFaultLab(t, 1)
	f.startScheduler()
	id := f.c.submit(jobWithSteps("worker-killed", 2*time.Minute, "echo waiting-now", "sleep 3", "lava-test-case once --result pass"))
	waitFor(t, 2*time.Minute, "the test to start", func() bool {
		return strings.Contains(f.c.logsSoFar(id), "waiting-now")
	})
	f.worker.kill()
	f.startWorker()
	f.checkRanOnce([]int64{id})
}

// TestWorkerNeverComesBack: the worker and its lava-run are killed and
// never restarted; the scheduler sets the worker Offline and, after the
// grace, ends the job Incomplete with an infrastructure error, the device
// Unknown and Idle, so nothing is stuck.
func TestWorkerNeverComesBack(t *testing.T) {
	t.Parallel()
	f := newFaultLab(t, 1)
	f.startScheduler("--worker-timeout", "2s", "--lost-job-grace", "2s")
	id := f.c.submit(jobWithSteps("worker-gone", 5*time.Minute, "echo sleeping-now", "sleep 300"))
	waitFor(t, 2*time.Minute, "the test to start sleeping", func() bool {
		return strings.Contains(f.c.logsSoFar(id), "sleeping-now")
	})
	pid := findLavaRun(t, id, filepath.Join(f.dir, "worker"))
	f.worker.kill()
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	j := f.c.waitFinished(id, time.Minute)
	if j.Health != "Incomplete" || !strings.Contains(deref(j.FailureComment), "Worker w1 lost") {
		t.Fatalf("job %d: %s (%s), want Incomplete with the worker lost", id, j.Health, deref(j.FailureComment))
	}
	if n := f.count(`SELECT count(*) FROM devices WHERE hostname = 'b1' AND state = 'Idle' AND health = 'Unknown'`); n != 1 {
		t.Error("device b1 is not Idle and Unknown after its worker was lost")
	}
	if n := f.count(`SELECT count(*) FROM workers WHERE hostname = 'w1' AND state = 'Offline'`); n != 1 {
		t.Error("worker w1 is not Offline")
	}
}

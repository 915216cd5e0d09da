package lab_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"golava/server/store/storetest"
)

// scrapeMetrics reads a /metrics page into "name{labels}" -> value.
func scrapeMetrics(t testing.TB, url string) map[string]float64 {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%s: bad line %q", url, line)
		}
		out[line[:i]] = v
	}
	return out
}

// sumOf adds every series of metric name whose labels contain all of sub.
func sumOf(m map[string]float64, name string, sub ...string) (float64, bool) {
	var sum float64
	found := false
	for k, v := range m {
		base, labels, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		ok := true
		for _, s := range sub {
			ok = ok && strings.Contains(labels, s)
		}
		if ok {
			sum += v
			found = true
		}
	}
	return sum, found
}

// TestMetricsOfEveryProcessDuringAJob runs the lab split into its
// processes, each with its metrics endpoint, and scrapes all of them
// while a job runs and after it ends.
func TestMetricsOfEveryProcessDuringAJob(t *testing.T) {
	t.Parallel()
	s := &split{t: t, dbURL: storetest.URL(t), listen: freeAddr(t), dir: shortTempDir(t)}
	runCmd(t, "lava-server", "migrate", "--database-url", s.dbURL)
	s.admin("users", "add", "admin", "--superuser")
	token := lastLine(s.admin("tokens", "add", "--user", "admin"))
	workerToken := lastLine(s.admin("workers", "add", "w1"))
	s.admin("device-types", "add", "dut-sim")
	board := filepath.Join(s.dir, "b1")
	dict := filepath.Join(s.dir, "b1.jinja2")
	if err := os.WriteFile(dict, []byte(fmt.Sprintf("{%% extends 'dut-sim.jinja2' %%}\n{%% set dut_sim_dir = '%s' %%}\n{%% set dut_sim_bin = '%s' %%}\n",
		board, filepath.Join(binDir, "lava-dut-sim"))), 0o644); err != nil {
		t.Fatal(err)
	}
	s.admin("devices", "add", "b1", "--device-type", "dut-sim", "--worker", "w1", "--dict", dict)
	policy := filepath.Join(s.dir, "retention.yaml")
	if err := os.WriteFile(policy, []byte("default: {jobs: {max_age: 3650d}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	m := map[string]string{} // process -> metrics address
	for _, p := range []string{"scheduler", "publisher", "coordinator", "worker"} {
		m[p] = freeAddr(t)
	}
	wsAddr := freeAddr(t)
	startProc(t, "lava-dut-sim", "serve", "--dir", board, "--name", "b1")
	s.startServer()
	startProc(t, "lava-scheduler", "--database-url", s.dbURL, "--metrics-listen", m["scheduler"], "--retention", policy)
	startProc(t, "lava-publisher", "--database-url", s.dbURL, "--metrics-listen", m["publisher"], "--ws-listen", wsAddr, "--zmq-listen=")
	startProc(t, "lava-coordinator", "--listen", freeAddr(t), "--metrics-listen", m["coordinator"])
	startProc(t, "lava-worker", "--name", "w1", "--url", "http://"+s.listen+"/", "--token", workerToken,
		"--worker-dir", filepath.Join(s.dir, "worker"), "--lava-run", filepath.Join(binDir, "lava-run"),
		"--download-dir", filepath.Join(s.dir, "downloads"), // not the host's, which Debian's lava-run uses in TestRealLavaWorker
		"--job-log-interval", "1", "--ping-interval", "2", "--log-file", "-", "--metrics-listen", m["worker"])
	m["server"] = s.listen
	for p, addr := range m {
		waitFor(t, 30*time.Second, p+" /readyz", func() bool { return httpOK("http://" + addr + "/readyz") })
		if !httpOK("http://" + addr + "/healthz") {
			t.Errorf("%s /healthz is not 200", p)
		}
	}
	// A subscriber of the standalone publisher shows up in its metrics.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+wsAddr+"/ws/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	go func() {
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	}()

	c := &client{t: t, base: "http://" + s.listen, token: token}
	id := c.submit(jobWithSteps("metrics", 5*time.Minute,
		"for i in $(seq 1 40); do echo console-line-$i; sleep 0.2; done",
		"lava-test-case metrics-case --result pass"))

	// During the job: the server sees it running on the board and the
	// worker online; the scheduler has passed and assigned it.
	var srv map[string]float64
	waitFor(t, 2*time.Minute, "the running job in the server's metrics", func() bool {
		srv = scrapeMetrics(t, "http://"+s.listen+"/metrics")
		running, _ := sumOf(srv, "lava_jobs", `state="Running"`)
		return running == 1
	})
	if c.job(id).State != "Running" {
		t.Fatalf("job %d is %s, the scrape must happen while it runs", id, c.job(id).State)
	}
	checks := []struct {
		proc, name string
		labels     []string
		ok         func(float64) bool
	}{
		{"server", "lava_devices", []string{`device_type="dut-sim"`, `state="Running"`}, eq(1)},
		{"server", "lava_workers", []string{`state="Online"`}, eq(1)},
		{"server", "lava_database_up", nil, eq(1)},
		{"server", "lava_queue_jobs", nil, eq(0)},
		{"server", "lava_http_requests_total", []string{`route="/scheduler/internal/v1/jobs/{id}/logs"`, `code="200"`}, atLeast(1)},
		{"server", "lava_http_request_duration_seconds_count", []string{`route="/api/v0.2/jobs"`, `method="POST"`}, eq(1)},
		{"server", "lava_publisher_clients", nil, atLeast(1)},
		{"server", "go_goroutines", nil, atLeast(1)},
	}
	for _, ck := range checks {
		if v, found := sumOf(srv, ck.name, ck.labels...); !ck.ok(v) {
			t.Errorf("server %s%v = %v (found %v)", ck.name, ck.labels, v, found)
		}
	}
	sched := scrapeMetrics(t, "http://"+m["scheduler"]+"/metrics")
	pub := scrapeMetrics(t, "http://"+m["publisher"]+"/metrics")
	coord := scrapeMetrics(t, "http://"+m["coordinator"]+"/metrics")
	for _, ck := range []struct {
		proc string
		m    map[string]float64
		name string
		lbl  []string
		ok   func(float64) bool
	}{
		{"scheduler", sched, "lava_scheduler_pass_duration_seconds_count", []string{`phase="total"`}, atLeast(1)},
		{"scheduler", sched, "lava_scheduler_pass_duration_seconds_sum", []string{`phase="total"`}, between(0, 60)},
		{"scheduler", sched, "lava_scheduler_decisions_total", []string{`outcome="assigned"`}, eq(1)},
		{"scheduler", sched, "lava_scheduler_leading", nil, eq(1)},
		{"scheduler", sched, "lava_retention_runs_total", []string{`outcome="ok"`}, atLeast(1)},
		{"publisher", pub, "lava_publisher_clients", nil, eq(1)},
		{"publisher", pub, "lava_publisher_events_published_total", nil, atLeast(1)},
		{"publisher", pub, "lava_publisher_clients_dropped_total", nil, eq(0)},
		{"coordinator", coord, "lava_coordinator_groups", nil, eq(0)},
		{"coordinator", coord, "process_resident_memory_bytes", nil, atLeast(1)},
	} {
		v, found := sumOf(ck.m, ck.name, ck.lbl...)
		if !found || !ck.ok(v) {
			t.Errorf("%s %s%v = %v (found %v)", ck.proc, ck.name, ck.lbl, v, found)
		}
	}

	j := c.waitFinished(id, 3*time.Minute)
	if j.Health != "Complete" {
		t.Fatalf("job health %s (%s)", j.Health, deref(j.FailureComment))
	}
	// lava-run's figures reach the worker's metrics once the job is reported.
	var wk map[string]float64
	waitFor(t, time.Minute, "the worker to count the job", func() bool {
		wk = scrapeMetrics(t, "http://"+m["worker"]+"/metrics")
		v, _ := sumOf(wk, "lava_worker_jobs_finished_total", `result="pass"`)
		return v == 1
	})
	if v, _ := sumOf(wk, "lava_run_console_lines_total"); v < 40 {
		t.Errorf("worker lava_run_console_lines_total = %v, want >= 40 (the job printed 40 lines)", v)
	}
	if v, _ := sumOf(wk, "lava_run_console_bytes_total"); v < float64(40*len("console-line-1")) {
		t.Errorf("worker lava_run_console_bytes_total = %v", v)
	}
	if n, _ := sumOf(wk, "lava_run_action_duration_seconds_count"); n < 2 {
		t.Errorf("worker action durations: %v observations", n)
	}
	if secs, _ := sumOf(wk, "lava_run_action_duration_seconds_sum"); secs < 4 || secs > 600 {
		t.Errorf("worker action durations sum to %v s; the test alone sleeps 8 s", secs)
	}
}

func eq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }

func atLeast(n float64) func(float64) bool { return func(v float64) bool { return v >= n } }

func between(lo, hi float64) func(float64) bool {
	return func(v float64) bool { return v >= lo && v <= hi }
}

// TestLabMetricsShowEveryService: lava-lab is one process, whose /metrics
// carries the API's, the scheduler's, the publisher's and the worker's.
func TestLabMetricsShowEveryService(t *testing.T) {
	t.Parallel()
	l := startLab(t, 1, storetest.URL(t))
	id := l.submit(jobWithSteps("lab-metrics", 2*time.Minute, "echo hello-metrics"))
	if j := l.waitFinished(id, 3*time.Minute); j.Health != "Complete" {
		t.Fatalf("job health %s (%s)", j.Health, deref(j.FailureComment))
	}
	var m map[string]float64
	waitFor(t, time.Minute, "the lab's worker metrics", func() bool {
		m = scrapeMetrics(t, l.base+"/metrics")
		v, _ := sumOf(m, "lava_worker_jobs_finished_total", `result="pass"`)
		return v == 1
	})
	for _, ck := range []struct {
		name string
		lbl  []string
		ok   func(float64) bool
	}{
		{"lava_scheduler_decisions_total", []string{`outcome="assigned"`}, eq(1)},
		{"lava_scheduler_leading", nil, eq(1)},
		{"lava_publisher_clients", nil, atLeast(1)},
		{"lava_run_console_lines_total", nil, atLeast(1)},
		{"lava_devices", []string{`device_type="dut-sim"`}, eq(1)},
		{"lava_http_requests_total", []string{`route="/api/v0.2/jobs"`, `method="POST"`, `code="201"`}, eq(1)},
	} {
		if v, found := sumOf(m, ck.name, ck.lbl...); !found || !ck.ok(v) {
			t.Errorf("%s%v = %v (found %v)", ck.name, ck.lbl, v, found)
		}
	}
}

package lab_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"

	"golava/server/store/storetest"
)

var readyRE = regexp.MustCompile(`ready (http://127\.0\.0\.1:\d+)`)

type lab struct {
	*client
	dir   string
	dbURL string
	proc  *proc
}

// startLab runs bin/lava-lab on a fresh database (or its own cluster when
// dbURL is "") and returns a client for its API.
func startLab(t testing.TB, boards int, dbURL string) *lab {
	t.Helper()
	dir := shortTempDir(t)
	args := []string{"--data", dir, "--listen", "127.0.0.1:0", "--boards", strconv.Itoa(boards),
		"--coordinator-listen", "127.0.0.1:0"}
	if dbURL != "" {
		args = append(args, "--database-url", dbURL)
	}
	p := startProc(t, "lava-lab", args...)
	m := p.waitOutput(readyRE, 90*time.Second)
	token := readFile(t, filepath.Join(dir, "admin-token"))
	return &lab{client: &client{t: t, base: m[1], token: token}, dir: dir, dbURL: dbURL, proc: p}
}

func (l *lab) boardDir(name string) string { return filepath.Join(l.dir, "boards", name) }

func smokeJob(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jobWithSteps is a dut-sim job whose test runs steps, with the given job timeout.
func jobWithSteps(name string, jobTimeout time.Duration, steps ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `device_type: dut-sim
job_name: %s
visibility: public
timeouts:
  job: {seconds: %d}
  action: {seconds: %d}
actions:
- boot:
    method: minimal
    auto_login: {login_prompt: 'dut-sim login:', username: root}
    prompts: ['root@dut-sim:~# ']
- test:
    definitions:
    - from: inline
      name: steps
      path: inline/steps.yaml
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: steps}
        run:
          steps:
`, name, int(jobTimeout.Seconds()), int(jobTimeout.Seconds()))
	for _, s := range steps {
		fmt.Fprintf(&b, "          - %q\n", s)
	}
	return b.String()
}

type testCase struct {
	Name   string `json:"name"`
	Result string `json:"result"`
	Suite  any    `json:"suite"`
}

func (c *client) testCases(id int64) map[string]string {
	c.t.Helper()
	var page struct {
		Results []testCase `json:"results"`
	}
	c.getJSON(fmt.Sprintf("/api/v0.2/jobs/%d/tests/?limit=1000", id), &page)
	out := map[string]string{}
	for _, tc := range page.Results {
		out[tc.Name] = tc.Result
	}
	return out
}

// checkLogYAML parses the log as LAVA's YAML list and returns its records.
func checkLogYAML(t testing.TB, log string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	if err := yaml.Unmarshal([]byte(log), &recs); err != nil {
		t.Fatalf("log is not valid YAML: %v", err)
	}
	if len(recs) == 0 {
		t.Fatal("log is empty")
	}
	for i, r := range recs {
		for _, k := range []string{"dt", "lvl", "msg"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("log record %d has no %q: %v", i, k, r)
			}
		}
	}
	return recs
}

func TestJobWithPassAndFailCompletes(t *testing.T) {
	t.Parallel()
	l := startLab(t, 2, storetest.URL(t))
	id := l.submit(smokeJob(t))
	j := l.waitFinished(id, 3*time.Minute)
	if j.Health != "Complete" {
		t.Fatalf("job %d health = %s, want Complete (failure: %v)\n%s", id, j.Health, deref(j.FailureComment), l.logs(id))
	}
	cases := l.testCases(id)
	if cases["pass-case"] != "pass" || cases["fail-case"] != "fail" {
		t.Fatalf("test cases = %v, want pass-case=pass fail-case=fail", cases)
	}
	if cases["job"] != "pass" {
		t.Errorf("lava job result = %q, want pass (cases %v)", cases["job"], cases)
	}
	checkLogYAML(t, l.logs(id))
}

func TestBoardHangingAtBootTimesOut(t *testing.T) {
	t.Parallel()
	l := startLab(t, 1, storetest.URL(t))
	board := l.boardDir("dut-sim-01")
	runCmd(t, "lava-dut-sim", "set", "--dir", board, "hang-at-boot=true")
	const jobTimeout = 30 * time.Second
	id := l.submit(jobWithSteps("hang", jobTimeout, "echo never"))
	var started time.Time
	waitFor(t, time.Minute, "job to run", func() bool {
		j := l.job(id)
		if j.State == "Running" || j.State == "Finished" {
			started = time.Now()
			return true
		}
		return false
	})
	j := l.waitFinished(id, jobTimeout+30*time.Second)
	if took := time.Since(started); took > jobTimeout+15*time.Second {
		t.Errorf("job took %s after it started, job timeout is %s", took, jobTimeout)
	}
	if j.Health != "Incomplete" {
		t.Fatalf("health = %s, want Incomplete", j.Health)
	}
	log := l.logs(id)
	if !regexp.MustCompile(`(?i)time(d)? ?out`).MatchString(log) {
		t.Fatalf("no timeout error in the log:\n%s", tail(log, 30))
	}
	if got := strings.TrimSpace(runCmd(t, "lava-dut-sim", "power", "--dir", board, "status")); got != "off" {
		t.Fatalf("board power = %q after the job, want off", got)
	}
}

func TestLavaRunKilledEndsIncomplete(t *testing.T) {
	t.Parallel()
	dbURL := storetest.URL(t)
	l := startLab(t, 1, dbURL)
	id := l.submit(jobWithSteps("killed", 5*time.Minute, "echo sleeping-now", "sleep 300"))
	waitFor(t, 2*time.Minute, "the test to start sleeping", func() bool {
		return strings.Contains(l.logsSoFar(id), "sleeping-now")
	})
	pid := findLavaRun(t, id, l.dir)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill lava-run %d: %v", pid, err)
	}
	killed := time.Now()
	j := l.waitFinished(id, 60*time.Second)
	t.Logf("job ended %s after lava-run was killed", time.Since(killed).Round(time.Millisecond))
	if j.Health != "Incomplete" {
		t.Fatalf("health = %s, want Incomplete", j.Health)
	}
	if !deviceWentUnknown(t, dbURL, "dut-sim-01", id) {
		t.Fatal("device dut-sim-01 never went to health Unknown after the job")
	}
	next := l.submit(smokeJob(t))
	if j := l.waitFinished(next, 3*time.Minute); j.Health != "Complete" {
		t.Fatalf("next job %d: health %s\n%s", next, j.Health, tail(l.logs(next), 30))
	}
}

// deviceWentUnknown reads the device events of the outbox: the device's
// health is Unknown right after the job, before the scheduler moves it on.
func deviceWentUnknown(t testing.TB, dbURL, device string, jobID int64) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM events WHERE topic = 'device'
		AND data::json->>'device' = $1 AND data::json->>'health' = 'Unknown'
		AND id > (SELECT min(id) FROM events WHERE topic = 'testjob' AND (data::json->>'job')::bigint = $2 AND data::json->>'state' = 'Running')`,
		device, jobID).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// findLavaRun finds the lava-run process of a job by its command line: its
// job id and its output folder under dir (parallel tests share job ids).
func findLavaRun(t testing.TB, jobID int64, dir string) int {
	t.Helper()
	want := fmt.Sprintf("--job-id=%d", jobID)
	var pid int
	waitFor(t, 30*time.Second, "lava-run process", func() bool {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			n, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil {
				continue
			}
			args := strings.Split(string(b), "\x00")
			if len(args) > 0 && strings.HasSuffix(args[0], "lava-run") && slices.Contains(args, want) &&
				strings.Contains(string(b), "--output-dir="+dir+"/") {
				pid = n
				return true
			}
		}
		return false
	})
	return pid
}

func TestBadInputIsRejectedAndNothingStored(t *testing.T) {
	t.Parallel()
	l := startLab(t, 1, storetest.URL(t))
	anon := &client{t: t, base: l.base}
	tests := []struct {
		name     string
		c        *client
		body     []byte
		wantCode int
		wantText string
	}{
		{"invalid YAML", l.client, []byte(`{"definition": "device_type: [unclosed\njob_name: x"}`), 400, "line"},
		{"not JSON", l.client, []byte("\x00\xff garbage"), 400, ""},
		{"schema error", l.client, []byte(`{"definition": "job_name: x\n"}`), 400, "device_type"},
		{"50 MB body", l.client, bytes.Repeat([]byte("a"), 50<<20), 413, ""},
		{"missing token", anon, []byte(`{"definition": "job_name: x"}`), 403, "Authentication credentials were not provided."},
	}
	for _, tt := range tests {
		code, body := tt.c.do("POST", "/api/v0.2/jobs/", "application/json", bytes.NewReader(tt.body))
		if code != tt.wantCode {
			t.Errorf("%s: code %d, want %d (%s)", tt.name, code, tt.wantCode, trunc(body))
		}
		if !strings.Contains(string(body), tt.wantText) {
			t.Errorf("%s: body %s does not say %q", tt.name, trunc(body), tt.wantText)
		}
	}
	var page struct {
		Count int `json:"count"`
	}
	l.getJSON("/api/v0.2/jobs/", &page)
	if page.Count != 0 {
		t.Fatalf("%d jobs stored after bad submissions, want 0", page.Count)
	}
}

// TestLabOwnCluster is `make run`: lava-lab initialises its own PostgreSQL
// under the data folder, and reuses it on the next start.
func TestLabOwnCluster(t *testing.T) {
	t.Parallel()
	l := startLab(t, 1, "")
	if _, err := os.Stat(filepath.Join(l.dir, "pg", "data", "PG_VERSION")); err != nil {
		t.Fatalf("no cluster under the data folder: %v", err)
	}
	id := l.submit(smokeJob(t))
	if j := l.waitFinished(id, 3*time.Minute); j.Health != "Complete" {
		t.Fatalf("health %s\n%s", j.Health, tail(l.logs(id), 30))
	}
	l.proc.stop()
	p := startProc(t, "lava-lab", "--data", l.dir, "--listen", "127.0.0.1:0", "--boards", "1", "--coordinator-listen", "127.0.0.1:0")
	base := p.waitOutput(readyRE, 90*time.Second)[1]
	again := &client{t: t, base: base, token: readFile(t, filepath.Join(l.dir, "admin-token"))}
	if j := again.job(id); j.Health != "Complete" {
		t.Fatalf("after restart job %d health = %s", id, j.Health)
	}
}

func runCmd(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(binDir, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func trunc(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

var _ = http.StatusOK

package lab_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golava/server/store/storetest"
)

// split runs the lab as separate processes, as in production, so one of
// them can be killed and restarted.
type split struct {
	t      *testing.T
	dbURL  string
	listen string
	dir    string
	server *proc
}

func (s *split) admin(args ...string) string {
	s.t.Helper()
	return strings.TrimSpace(runCmd(s.t, "lava-server", append(args, "--database-url", s.dbURL)...))
}

func (s *split) startServer() {
	s.server = startProc(s.t, "lava-server", "serve", "--database-url", s.dbURL, "--listen", s.listen)
	waitFor(s.t, 30*time.Second, "lava-server to answer", func() bool {
		c := &client{t: s.t, base: "http://" + s.listen}
		return httpOK(c.base + "/api/v0.2/devicetypes/")
	})
}

func TestServerRestartMidJobLosesNoLogLine(t *testing.T) {
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

	startProc(t, "lava-dut-sim", "serve", "--dir", board, "--name", "b1")
	s.startServer()
	startProc(t, "lava-scheduler", "--database-url", s.dbURL)
	startProc(t, "lava-worker", "--name", "w1", "--url", "http://"+s.listen+"/", "--token", workerToken,
		"--worker-dir", filepath.Join(s.dir, "worker"), "--lava-run", filepath.Join(binDir, "lava-run"),
		"--download-dir", filepath.Join(s.dir, "downloads"), // not the host's, which Debian's lava-run uses in TestRealLavaWorker
		"--job-log-interval", "1", "--ping-interval", "2")

	c := &client{t: t, base: "http://" + s.listen, token: token}
	const lines = 150
	id := c.submit(jobWithSteps("restart", 5*time.Minute,
		fmt.Sprintf("for i in $(seq 1 %d); do echo out-line-$i; sleep 0.05; done", lines),
		"lava-test-case after-restart --result pass"))
	waitFor(t, 2*time.Minute, "the job to print its first lines", func() bool {
		return strings.Contains(c.logsSoFar(id), "out-line-5\"")
	})
	s.server.kill()
	s.startServer()
	j := c.waitFinished(id, 3*time.Minute)
	log := c.logs(id)
	if j.Health != "Complete" {
		t.Fatalf("health = %s\n%s", j.Health, tail(log, 40))
	}
	recs := checkLogYAML(t, log)
	seen := map[string]int{}
	for _, r := range recs {
		key := fmt.Sprint(r["dt"], r["lvl"], r["msg"])
		seen[key]++
		if seen[key] > 1 {
			t.Errorf("log record stored twice: %v", r)
		}
	}
	for i := 1; i <= lines; i++ {
		re := regexp.MustCompile(fmt.Sprintf(`"out-line-%d"`, i))
		if n := len(re.FindAllString(log, -1)); n != 1 {
			t.Errorf("out-line-%d appears %d times in the log, want 1", i, n)
		}
	}
	if got := c.testCases(id)["after-restart"]; got != "pass" {
		t.Errorf("after-restart = %q, want pass", got)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	f := strings.Fields(lines[len(lines)-1])
	return f[len(f)-1]
}

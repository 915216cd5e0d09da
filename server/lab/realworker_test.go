package lab_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golava/server/store/storetest"
)

// lavaRefDir is the unpacked Debian LAVA packages: LAVA_REF_DIR, else
// <repo>/.cache/lava-ref (made by `make ref`).
func lavaRefDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("LAVA_REF_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".cache", "lava-ref")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// realJob runs on LAVA's own lava-run: it has no golava-only shortcut, so the
// overlay is deployed with "to: overlay" and moved onto the board with
// transfer_overlay. dut-sim's shell runs on the worker host in the board's fs
// folder, so "downloading" is a copy out of LAVA's DISPATCHER_DOWNLOAD_DIR.
const realJob = `device_type: dut-sim
job_name: real lava-worker and lava-run on dut-sim
priority: medium
visibility: public
timeouts:
  job: {minutes: 3}
  action: {minutes: 2}
  connection: {minutes: 1}
actions:
- deploy:
    to: overlay
- boot:
    method: minimal
    auto_login:
      login_prompt: 'dut-sim login:'
      username: root
    prompts:
    - 'root@dut-sim:~# '
    transfer_overlay:
      download_command: fetch() { cp /var/lib/lava/dispatcher/tmp/${1#http://*/tmp/} . ; } ; fetch
      unpack_command: tar -xzf
- test:
    definitions:
    - from: inline
      name: smoke
      path: inline/smoke.yaml
      repository:
        metadata:
          format: Lava-Test Test Definition 1.0
          name: smoke
          description: one passing and one failing case
        run:
          steps:
`

// realJobWith is realJob running the given test steps.
func realJobWith(steps ...string) string {
	var b strings.Builder
	b.WriteString(realJob)
	for _, s := range steps {
		fmt.Fprintf(&b, "          - %q\n", s)
	}
	return b.String()
}

var workerLineRE = regexp.MustCompile(`worker (\S+): start it with --name \S+ --token-file (\S+) --url (\S+)`)

// TestRealLavaWorker runs one job through Debian's lava-worker and lava-run
// (LAVA 2023.01, from the reference packages) against lava-lab: the worker
// registers by token, pings, is told to START, runs lava-run, streams logs
// and reports FINISHED; the job must end Complete with its results stored.
func TestRealLavaWorker(t *testing.T) {
	t.Parallel()
	ref := lavaRefDir(t)
	pyPath := filepath.Join(ref, "usr", "lib", "python3", "dist-packages")
	worker := filepath.Join(ref, "usr", "bin", "lava-worker")
	for _, p := range []string{worker, filepath.Join(ref, "usr", "bin", "lava-run"), filepath.Join(pyPath, "lava_dispatcher_host")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("LAVA reference packages incomplete (%v): run `make ref` or set LAVA_REF_DIR", err)
		}
	}
	dir := shortTempDir(t)
	p := startProc(t, "lava-lab", "--data", dir, "--listen", "127.0.0.1:0", "--boards", "1",
		"--coordinator-listen", "127.0.0.1:0", "--external-worker", "--database-url", storetest.URL(t))
	ready := p.waitOutput(readyRE, 90*time.Second)
	w := p.waitOutput(workerLineRE, 5*time.Second)
	c := &client{t: t, base: ready[1], token: readFile(t, filepath.Join(dir, "admin-token"))}

	// guestfs (python3-guestfs pulls in qemu and a kernel) is only used to
	// modify disk images, which this job does not do: an empty module lets
	// lava_dispatcher import.
	stub := filepath.Join(dir, "pystub")
	if err := os.MkdirAll(stub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stub, "guestfs.py"), []byte("# not used by dut-sim jobs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lw := startPython(t, "lava-worker", []string{"PYTHONPATH=" + stub + ":" + pyPath},
		worker, "--name", w[1], "--token-file", w[2], "--url", strings.TrimSuffix(w[3], "/"),
		"--worker-dir", filepath.Join(dir, "real-worker"), "--ping-interval", "1", "--job-log-interval", "1", "--level", "DEBUG", "--log-file", "-")

	// LAVA's lava-run runs in a process group of its own: a failed test
	// must not leave it behind (registered after lw, so it runs first).
	t.Cleanup(func() { killUnder(filepath.Join(dir, "real-worker")) })

	id := c.submit(realJobWith("lava-test-case pass-case --shell true", "lava-test-case fail-case --shell false"))
	j := c.waitFinished(id, 3*time.Minute)
	if j.Health != "Complete" {
		t.Fatalf("job %d health = %s, want Complete (failure: %v)\n%s\n---- lava-worker ----\n%s", id, j.Health, deref(j.FailureComment), c.logs(id), lw.output())
	}
	cases := c.testCases(id)
	if cases["pass-case"] != "pass" || cases["fail-case"] != "fail" || cases["job"] != "pass" {
		t.Fatalf("test cases = %v, want pass-case=pass fail-case=fail job=pass", cases)
	}
	log := c.logs(id)
	if !strings.Contains(log, "lava-test-runner") || !strings.Contains(log, "Job finished correctly") {
		t.Fatalf("log of job %d lacks LAVA's lava-run output:\n%s", id, log)
	}
	checkLogYAML(t, log)

	// Cancel through the real worker: it stops lava-run, which powers the
	// board off in its finalize, and reports the job Canceled.
	long := c.submit(realJobWith("echo sleeping-now", "sleep 300"))
	waitFor(t, 2*time.Minute, "the long job to sleep", func() bool {
		return strings.Contains(c.logsSoFar(long), "sleeping-now")
	})
	if code, b := c.do("POST", fmt.Sprintf("/api/v0.2/jobs/%d/cancel/", long), "", nil); code != 200 {
		t.Fatalf("cancel: %d %s", code, b)
	}
	if j := c.waitFinished(long, 2*time.Minute); j.Health != "Canceled" {
		t.Fatalf("canceled job %d: %s (%s)\n---- lava-worker ----\n%s", long, j.Health, deref(j.FailureComment), lw.output())
	}
	power := readFile(t, filepath.Join(dir, "boards", "dut-sim-01", "power.log"))
	if lines := strings.Split(power, "\n"); !strings.HasSuffix(lines[len(lines)-1], " off") {
		t.Errorf("board not powered off after the cancel; power log:\n%s", power)
	}
}

// startPython runs a LAVA Python program with Debian's interpreter, in its
// own process group so the cleanup also ends the lava-run it started.
func startPython(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	py := os.Getenv("LAVA_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	cmd := exec.Command(py, args...)
	cmd.Env = append(os.Environ(), env...)
	return runProc(t, name, cmd)
}

// killUnder sends SIGKILL to the process group of every process whose
// command line mentions folder (the lava-run processes of one worker dir).
func killUnder(folder string) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(b), folder+"/") {
			continue
		}
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		} else {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

package lab_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golava/server/store/storetest"
)

// lavacliBin is Debian's lavacli (package lavacli): LAVACLI, else /usr/bin/lavacli.
func lavacliBin() string {
	if p := os.Getenv("LAVACLI"); p != "" {
		return p
	}
	return "/usr/bin/lavacli"
}

// lockedBuffer collects a child's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Acceptance 1: Debian's `lavacli events listen` (WebSocket /ws/) and
// `lavacli jobs wait` (XML-RPC scheduler.jobs.show) against lava-lab show a
// job's transitions in order.
func TestLavacliEventsListenAndJobsWait(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(lavacliBin()); err != nil {
		t.Fatalf("lavacli missing (%v): install the Debian package lavacli (scripts/install-deps.sh test) or set LAVACLI", err)
	}
	dir := shortTempDir(t)
	// Two boards: dut-sim-02's health changes are the probe that lavacli listens.
	p := startProc(t, "lava-lab", "--data", dir, "--listen", "127.0.0.1:0", "--boards", "2",
		"--coordinator-listen", "127.0.0.1:0", "--zmq-listen", "tcp://"+freeAddr(t), "--database-url", storetest.URL(t))
	m := p.waitOutput(readyRE, 90*time.Second)
	token := readFile(t, filepath.Join(dir, "admin-token"))
	c := &client{t: t, base: m[1], token: token}
	uri := strings.Replace(m[1], "http://", "http://admin:"+token+"@", 1) + "/RPC2"
	env := append(os.Environ(), "HOME="+dir) // no user lavacli.yaml

	ctx, cancel := context.WithCancel(context.Background())
	listen := exec.CommandContext(ctx, lavacliBin(), "--uri", uri, "events", "listen")
	listen.Env, listen.SysProcAttr = env, &syscall.SysProcAttr{Setpgid: true}
	listen.Cancel = func() error { return syscall.Kill(-listen.Process.Pid, syscall.SIGKILL) }
	var out lockedBuffer
	listen.Stdout, listen.Stderr = &out, &out
	if err := listen.Start(); err != nil {
		t.Fatalf("lavacli events listen: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = listen.Wait() })
	// lavacli listens once it prints an event made after it started: other
	// subscribers (the lab's worker, its notifier) make a count of /ws/
	// clients ambiguous. dut-sim-02 goes in and out of maintenance until
	// one of its events shows; the job then runs on dut-sim-01.
	health := []string{"Maintenance", "Unknown"}
	for i := 0; !strings.Contains(out.String(), "[dut-sim-02]"); i++ {
		if i == 60 {
			t.Fatalf("lavacli events listen printed no probe event in 60 tries:\n%s", out.String())
		}
		if code, b := c.do("POST", "/api/v0.2/devices/dut-sim-02/set_health/", "application/x-www-form-urlencoded", strings.NewReader("health="+health[i%2])); code != 202 {
			t.Fatalf("set dut-sim-02 health: %d %s", code, b)
		}
		poll := time.NewTicker(50 * time.Millisecond)
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end) && !strings.Contains(out.String(), "[dut-sim-02]"); {
			<-poll.C
		}
		poll.Stop()
	}

	id := c.submit(jobWithSteps("lavacli acceptance", 2*time.Minute, "sleep 3", "lava-test-case ok --shell true"))
	wait := exec.Command(lavacliBin(), "--uri", uri, "jobs", "wait", strconv.FormatInt(id, 10), "--polling", "1", "--timeout", "120")
	wait.Env = env
	waitOut, err := wait.CombinedOutput()
	if err != nil {
		t.Fatalf("lavacli jobs wait: %v\n%s", err, waitOut)
	}
	if j := c.job(id); j.State != "Finished" || j.Health != "Complete" {
		t.Fatalf("job %d is %s/%s after jobs wait", id, j.State, j.Health)
	}
	// jobs wait prints each state it saw once, then dots while it holds.
	order := []string{"Submitted", "Scheduling", "Scheduled", "Running"}
	if seen := regexp.MustCompile(`[A-Z][a-z]+`).FindAllString(string(waitOut), -1); !inOrder(seen, order) || len(seen) == 0 {
		t.Fatalf("jobs wait printed %q, want states in the order %v", waitOut, order)
	}

	// events listen prints one line per event: "[id] <device> state=S health=H (description)".
	re := regexp.MustCompile(fmt.Sprintf(`org\.lavasoftware\.testjob admin - \[%d\] <[^>]*> state=(\w+) health=(\w+)`, id))
	var states []string
	waitFor(t, 30*time.Second, "events listen to print the Finished event", func() bool {
		states = nil
		for _, m := range re.FindAllStringSubmatch(out.String(), -1) {
			states = append(states, m[1]+"/"+m[2])
		}
		return len(states) > 0 && states[len(states)-1] == "Finished/Complete"
	})
	want := []string{"Submitted/Unknown", "Scheduled/Unknown", "Running/Unknown", "Finished/Complete"}
	if strings.Join(states, " ") != strings.Join(want, " ") {
		t.Fatalf("events listen showed %v, want %v\n%s", states, want, out.String())
	}
}

// inOrder reports whether seen follows order without going back.
func inOrder(seen, order []string) bool {
	pos := 0
	for _, s := range seen {
		i := pos
		for i < len(order) && order[i] != s {
			i++
		}
		if i == len(order) {
			return false
		}
		pos = i
	}
	return true
}

package lab_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golava/server/store/storetest"
)

// binDir holds the binaries the end-to-end tests run: LAVA_BIN_DIR (make
// sets it to bin/ after building) or a folder TestMain builds them into.
var binDir string

func TestMain(m *testing.M) {
	code := func() int {
		dir := os.Getenv("LAVA_BIN_DIR")
		if dir == "" || !hasBinaries(dir) {
			tmp, err := os.MkdirTemp("", "golava-bin")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(tmp)
			cmd := exec.Command("go", "build", "-o", tmp+"/", "golava/cmd/...")
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "build binaries:", err)
				return 1
			}
			dir = tmp
		}
		binDir = dir
		return storetest.Run(m)
	}()
	os.Exit(code)
}

func hasBinaries(dir string) bool {
	for _, b := range []string{"lava-lab", "lava-server", "lava-scheduler", "lava-worker", "lava-run", "lava-dut-sim"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return false
		}
	}
	return true
}

// proc is a child process whose output is kept for the test log.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func startProc(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	return runProc(t, name, exec.Command(filepath.Join(binDir, name), args...))
}

// runProc starts cmd in its own process group, keeps its output for the
// test log, and stops the whole group when the test ends.
func runProc(t testing.TB, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{t: t, name: name, done: make(chan struct{}), cmd: cmd}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 4<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.Write(sc.Bytes())
			p.out.WriteByte('\n')
			p.mu.Unlock()
		}
	}()
	go func() {
		_ = p.cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("---- %s (pid %d) output ----\n%s", name, p.cmd.Process.Pid, p.output())
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// stop sends SIGTERM to the process group and SIGKILL after a grace period.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// kill sends SIGKILL to the process group at once.
func (p *proc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// waitOutput waits until re matches the output and returns the submatches.
func (p *proc) waitOutput(re *regexp.Regexp, timeout time.Duration) []string {
	p.t.Helper()
	var m []string
	waitFor(p.t, timeout, "output of "+p.name+" to match "+re.String(), func() bool {
		m = re.FindStringSubmatch(p.output())
		return m != nil
	})
	return m
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// shortTempDir keeps unix socket paths under the 108-byte limit.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lab")
	if err != nil {
		t.Fatal(err)
	}
	// The postgres user of a private cluster must traverse it.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// client talks to the REST API with a token.
type client struct {
	t     testing.TB
	base  string
	token string
}

func (c *client) do(method, path, contentType string, body io.Reader) (int, []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Token "+c.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

func (c *client) getJSON(path string, v any) {
	c.t.Helper()
	code, b := c.do("GET", path, "", nil)
	if code != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		c.t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

func (c *client) submit(definition string) int64 {
	c.t.Helper()
	body, _ := json.Marshal(map[string]string{"definition": definition})
	code, b := c.do("POST", "/api/v0.2/jobs/", "application/json", bytes.NewReader(body))
	if code != http.StatusCreated {
		c.t.Fatalf("submit: %d %s", code, b)
	}
	var r struct {
		JobIDs []int64 `json:"job_ids"`
	}
	if err := json.Unmarshal(b, &r); err != nil || len(r.JobIDs) != 1 {
		c.t.Fatalf("submit reply %s: %v", b, err)
	}
	return r.JobIDs[0]
}

type jobView struct {
	ID             int64   `json:"id"`
	State          string  `json:"state"`
	Health         string  `json:"health"`
	ActualDevice   *string `json:"actual_device"`
	FailureComment *string `json:"failure_comment"`
}

func (c *client) job(id int64) jobView {
	c.t.Helper()
	var j jobView
	c.getJSON(fmt.Sprintf("/api/v0.2/jobs/%d/", id), &j)
	return j
}

// waitFinished waits for the job to reach Finished and returns it.
func (c *client) waitFinished(id int64, timeout time.Duration) jobView {
	c.t.Helper()
	var j jobView
	waitFor(c.t, timeout, fmt.Sprintf("job %d to finish", id), func() bool {
		j = c.job(id)
		return j.State == "Finished"
	})
	return j
}

func (c *client) logs(id int64) string {
	c.t.Helper()
	code, b := c.do("GET", fmt.Sprintf("/api/v0.2/jobs/%d/logs/", id), "", nil)
	if code != http.StatusOK {
		c.t.Fatalf("logs of %d: %d %s", id, code, b)
	}
	return string(b)
}

// logsSoFar is the log, or "" while the job has none yet.
func (c *client) logsSoFar(id int64) string {
	c.t.Helper()
	code, b := c.do("GET", fmt.Sprintf("/api/v0.2/jobs/%d/logs/", id), "", nil)
	if code == http.StatusNotFound {
		return ""
	}
	if code != http.StatusOK {
		c.t.Fatalf("logs of %d: %d %s", id, code, b)
	}
	return string(b)
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func httpOK(url string) bool {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

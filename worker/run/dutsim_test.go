package run

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golava/pkg/logfmt"
	"golava/worker/dutsim"
)

// logServer is the logs endpoint of the server: it skips lines it already
// has (by index) and fails every third request, before or after storing.
type logServer struct {
	mu    sync.Mutex
	lines []string
	n     int
}

func (s *logServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if r.URL.Path != "/scheduler/internal/v1/jobs/42/logs/" || r.Header.Get("LAVA-Token") != "job-token" {
		http.Error(w, `{"error": "bad request"}`, http.StatusBadRequest)
		return
	}
	if s.n%3 == 1 {
		http.Error(w, `{"error": "restarting"}`, http.StatusServiceUnavailable)
		return
	}
	index, err := strconv.Atoi(r.FormValue("index"))
	raw := r.FormValue("lines")
	if err != nil || !strings.HasPrefix(raw, "- ") {
		http.Error(w, `{"error": "Invalid 'index'"}`, http.StatusBadRequest)
		return
	}
	recs := strings.Split(raw[2:], "\n- ")
	if skip := len(s.lines) - index; skip >= 0 && skip < len(recs) {
		s.lines = append(s.lines, recs[skip:]...)
	}
	if s.n%3 == 2 {
		http.Error(w, `{"error": "reply lost"}`, http.StatusBadGateway)
		return
	}
	fmt.Fprintf(w, `{"line_count": %d}`, len(recs))
}

func (s *logServer) records(t *testing.T) []logfmt.Line {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]logfmt.Line, 0, len(s.lines))
	for _, l := range s.lines {
		rec, err := logfmt.Decode(l)
		if err != nil {
			t.Fatalf("bad record %q: %v", l, err)
		}
		out = append(out, rec)
	}
	return out
}

// startBoard serves a dutsim board in-process until the test ends.
func startBoard(t *testing.T, flags dutsim.Flags) string {
	t.Helper()
	return startBoardDelay(t, flags, 50*time.Millisecond)
}

// startBoardDelay is startBoard with the U-Boot autoboot countdown given:
// interrupting it takes longer than the power-on command needs to return.
func startBoardDelay(t *testing.T, flags dutsim.Flags, autoboot time.Duration) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ds")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- dutsim.Run(ctx, dutsim.Config{Dir: dir, AutobootDelay: autoboot, BootLines: 5, Flags: flags}, nil)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dutsim: %v", err)
		}
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, dutsim.ConsoleSocket)); err == nil {
			return dir
		}
		if time.Now().After(deadline) {
			t.Fatal("dutsim board did not start")
		}
		select {
		case err := <-done:
			t.Fatalf("dutsim ended: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

const dutsimJob = `job_name: dutsim smoke
device_type: dut-sim
visibility: public
priority: medium
timeouts:
  job: {minutes: 2}
  action: {seconds: 30}
actions:
- boot:
    method: minimal
    auto_login:
      login_prompt: 'dut-sim login:'
      username: root
    prompts: ['root@dut-sim:~# ']
    timeout: {seconds: %d}
- test:
    timeout: {seconds: 60}
    definitions:
    - from: inline
      name: smoke
      path: inline/smoke.yaml
      repository:
        metadata:
          format: Lava-Test Test Definition 1.0
          name: smoke
          description: one pass one fail
        run:
          steps:
          - lava-test-case pass-case --result pass
          - lava-test-case fail-case --result fail
`

func dutsimConfig(t *testing.T, board string, bootTimeout int, url string) Config {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	client := dutsimEnv + "=%s " + exe + " " + board
	device := fmt.Sprintf(`device_type: dut-sim
constants:
  posix:
    lava_test_results_dir: %s/lava-%%s
commands:
  connect: %s
  power_on: %s on
  power_off: %s off
actions:
  boot:
    methods:
      minimal: {}
      u-boot:
        parameters:
          bootloader_prompt: '=>'
          interrupt_prompt: Hit any key to stop autoboot
          interrupt_char: ' '
          boot_message: Starting kernel
`, dir, fmt.Sprintf(client, "console"), fmt.Sprintf(client, "power"), fmt.Sprintf(client, "power"))
	write(t, filepath.Join(dir, "device.yaml"), device)
	write(t, filepath.Join(dir, "job.yaml"), fmt.Sprintf(dutsimJob, bootTimeout))
	return Config{
		JobPath: filepath.Join(dir, "job.yaml"), DevicePath: filepath.Join(dir, "device.yaml"),
		OutputDir: filepath.Join(dir, "out"), JobID: "42", URL: url, Token: "job-token",
		LogInterval: 20 * time.Millisecond, FlushTimeout: 30 * time.Second, CleanupTimeout: 20 * time.Second,
		Stdout: &logBuffer{}, Stderr: &logBuffer{},
	}
}

func TestDutsimJob(t *testing.T) {
	t.Parallel()
	for name, flags := range map[string]dutsim.Flags{"clean": {}, "garbage": {Garbage: true}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testDutsimJob(t, flags)
		})
	}
}

func testDutsimJob(t *testing.T, flags dutsim.Flags) {
	board := startBoard(t, flags)
	logs := &logServer{}
	srv := httptest.NewServer(logs)
	t.Cleanup(srv.Close)
	out := Run(context.Background(), dutsimConfig(t, board, 60, srv.URL))
	recs := logs.records(t)
	if out.Result != "pass" {
		t.Fatalf("outcome %+v\n%s", out, dump(recs))
	}
	res := results(recs)
	for k, v := range map[string]string{"0_smoke/pass-case": "pass", "0_smoke/fail-case": "fail", "lava/0_smoke": "pass", "lava/job": "pass"} {
		if got := res[k]; got == nil || got["result"] != v {
			t.Errorf("result %s = %v, want %s\n%s", k, got, v, dump(recs))
		}
	}
	if last := recs[len(recs)-1].Msg.(map[string]any); last["case"] != "job" {
		t.Errorf("last record = %v", last)
	}
	st, err := dutsim.GetStatus(context.Background(), board)
	if err != nil || st.Power != "off" {
		t.Errorf("board after the job: %+v, %v", st, err)
	}
}

func TestDutsimUBoot(t *testing.T) {
	t.Parallel()
	board := startBoardDelay(t, dutsim.Flags{}, 3*time.Second)
	cfg := dutsimConfig(t, board, 60, "")
	out := cfg.Stdout.(*logBuffer)
	job := strings.Replace(fmt.Sprintf(dutsimJob, 60), "    method: minimal\n",
		"    method: u-boot\n    commands:\n    - setenv bootargs console=ttyAMA0\n    - boot\n", 1)
	write(t, cfg.JobPath, job)
	res := Run(context.Background(), cfg)
	recs := out.records(t)
	if res.Result != "pass" {
		t.Fatalf("outcome %+v\n%s", res, dump(recs))
	}
	got := results(recs)
	for k, v := range map[string]string{"lava/bootloader-interrupt": "pass", "lava/bootloader-commands": "pass",
		"lava/uboot-action": "pass", "0_smoke/pass-case": "pass", "0_smoke/fail-case": "fail"} {
		if got[k] == nil || got[k]["result"] != v {
			t.Errorf("%s = %v, want %s", k, got[k], v)
		}
	}
}

func TestDutsimFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		flags             dutsim.Flags
		wantType, wantMsg string
	}{
		{"hang at boot", dutsim.Flags{HangAtBoot: true}, TypeJob, "auto-login-action timed out after"},
		{"panic", dutsim.Flags{Panic: true}, TypeJob, "Kernel panic - not syncing"},
		{"drop", dutsim.Flags{DropConnection: true}, TypeInfrastructure, "Connection closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			board := startBoard(t, tt.flags)
			logs := &logServer{}
			srv := httptest.NewServer(logs)
			t.Cleanup(srv.Close)
			out := Run(context.Background(), dutsimConfig(t, board, 6, srv.URL))
			recs := logs.records(t)
			if out.Result != "fail" || out.ErrorType != tt.wantType || !strings.Contains(out.ErrorMsg, tt.wantMsg) {
				t.Fatalf("outcome %+v\n%s", out, dump(recs))
			}
			if job := results(recs)["lava/job"]; job == nil || job["result"] != "fail" || job["error_type"] != tt.wantType {
				t.Errorf("lava/job = %v", job)
			}
			st, err := dutsim.GetStatus(context.Background(), board)
			if err != nil || st.Power != "off" {
				t.Errorf("board after the job: %+v, %v", st, err)
			}
		})
	}
}

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mainEnv switches the test binary into lava-run itself.
const mainEnv = "GOLAVA_TEST_LAVA_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) != "" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const hangJob = `job_name: cancel me
device_type: fake
visibility: public
priority: medium
timeouts:
  job: {minutes: 5}
  action: {minutes: 2}
actions:
- boot:
    method: minimal
    auto_login: {login_prompt: 'login:', username: root}
    prompts: ['# ']
`

// TestSIGTERM runs lava-run as a process and cancels it like lava-worker:
// the DUT is powered off, the result is Canceled and the exit code 1.
func TestSIGTERM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	power := filepath.Join(dir, "power.log")
	device := fmt.Sprintf("commands:\n  connect: echo booting; exec sleep 1000\n  power_on: echo on >> %s\n  power_off: echo off >> %s\n", power, power)
	for name, data := range map[string]string{"device.yaml": device, "job.yaml": hangJob, "dispatcher.yaml": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "--device="+filepath.Join(dir, "device.yaml"), "--dispatcher="+filepath.Join(dir, "dispatcher.yaml"),
		"--output-dir="+filepath.Join(dir, "out"), "--job-id=9", filepath.Join(dir, "job.yaml"))
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waiting := make(chan struct{})
	var log strings.Builder
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stdout)
		seen := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !seen && strings.Contains(sc.Text(), "Waiting for the login prompt") {
				seen = true
				close(waiting)
			}
		}
	}()
	select {
	case <-waiting:
	case <-time.After(30 * time.Second):
		t.Fatal("lava-run never waited for the login prompt")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-copied
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v\n%s", err, log.String())
	}
	res, _ := os.ReadFile(filepath.Join(dir, "out", "result.yaml"))
	if !strings.Contains(string(res), "error_type: Canceled") {
		t.Errorf("result.yaml:\n%s", res)
	}
	if p, _ := os.ReadFile(power); strings.Join(strings.Fields(string(p)), " ") != "off on off" {
		t.Errorf("power sequence %q", p)
	}
	if !strings.Contains(log.String(), `"case": "job"`) {
		t.Errorf("no job result in the log:\n%s", log.String())
	}
}

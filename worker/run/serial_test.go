package run

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golava/worker/dutsim"
)

// socatLine is a real serial line to a dut-sim board: a socat pty pair
// (lava-run opens one end with go.bug.st/serial) whose other end a second
// socat bridges to the board's console socket, as a console server would.
func socatLine(t *testing.T, board string) string {
	t.Helper()
	if _, err := exec.LookPath("socat"); err != nil {
		t.Fatalf("socat is required (scripts/install-deps.sh test): %v", err)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "ttyA"), filepath.Join(dir, "ttyB")
	startTestProc(t, "socat", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	waitPath(t, a, b)
	startTestProc(t, "socat", b+",raw,echo=0", "UNIX-CONNECT:"+filepath.Join(board, dutsim.ConsoleSocket))
	// The bridge is attached when the board counts a console client.
	waitCond(t, 10*time.Second, "the bridge to attach", func() bool {
		st, err := dutsim.GetStatus(context.Background(), board)
		return err == nil && st.ConsoleConnected
	})
	return a
}

// startTestProc runs a helper until the test ends (killed by its pid).
func startTestProc(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
}

func waitPath(t *testing.T, paths ...string) {
	t.Helper()
	waitCond(t, 10*time.Second, strings.Join(paths, " and "), func() bool {
		for _, p := range paths {
			if _, err := os.Stat(p); err != nil {
				return false
			}
		}
		return true
	})
}

// waitCond polls cond every 10 ms until it holds or the timeout passes.
func waitCond(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// serialConfig is dutsimConfig with the console on a serial port, a
// power_on command that fails failOn times before it works and the boot's
// failure_retry set to attempts.
func serialConfig(t *testing.T, board, port string, bootTimeout, failOn, attempts int) Config {
	t.Helper()
	cfg := dutsimConfig(t, board, bootTimeout, "")
	dir := filepath.Dir(cfg.DevicePath)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	client := dutsimEnv + "=power " + exe + " " + board
	counter := filepath.Join(dir, "power-on-failures")
	powerOn := fmt.Sprintf(`n=$(cat %[1]s 2>/dev/null || echo 0); if [ "$n" -lt %[2]d ]; then echo $((n+1)) > %[1]s; echo "PDU busy" >&2; exit 1; fi; %[3]s on`, counter, failOn, client)
	device := fmt.Sprintf(`device_type: dut-sim
constants:
  posix:
    lava_test_results_dir: %s/lava-%%s
commands:
  connections:
    uart0:
      serial: {port: %s, baud: 115200}
      tags: [primary]
  power_on: '%s'
  power_off: %s off
timeouts:
  actions:
    power-on: {seconds: 20}
    power-off: {seconds: 20}
`, dir, port, strings.ReplaceAll(powerOn, "'", "''"), client)
	write(t, cfg.DevicePath, device)
	job, err := os.ReadFile(cfg.JobPath)
	if err != nil {
		t.Fatal(err)
	}
	write(t, cfg.JobPath, strings.Replace(string(job), "    method: minimal\n", fmt.Sprintf("    method: minimal\n    failure_retry: %d\n", attempts), 1))
	cfg.Stdout = &logBuffer{}
	return cfg
}

// TestSerialLine runs dut-sim jobs over a real serial line with power
// commands that need retries; every misbehaviour ends as LAVA would and
// the board is off after each job.
func TestSerialLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		flags            dutsim.Flags
		boot             int
		result, wantType string
		wantMsg          string
	}{
		// The PDU fails once: the boot's failure_retry powers it again.
		{"clean", dutsim.Flags{}, 30, "pass", "", ""},
		{"garbage", dutsim.Flags{Garbage: true}, 30, "pass", "", ""},
		{"slow", dutsim.Flags{SlowBytesPerSec: 4000}, 30, "pass", "", ""},
		{"slow beyond the boot timeout", dutsim.Flags{SlowBytesPerSec: 40}, 4, "fail", TypeJob, "auto-login-action timed out after"},
		{"hang", dutsim.Flags{HangAtBoot: true}, 4, "fail", TypeJob, "auto-login-action timed out after"},
		{"panic", dutsim.Flags{Panic: true}, 30, "fail", TypeJob, "Kernel panic - not syncing"},
		// On a serial line (as behind ser2net) a board that drops its side
		// is silence, not a closed connection: the boot times out.
		{"drop", dutsim.Flags{DropConnection: true}, 4, "fail", TypeJob, "auto-login-action timed out after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			board := startBoard(t, tt.flags)
			port := socatLine(t, board)
			failOn, attempts := 0, 1
			if tt.result == "pass" {
				failOn, attempts = 1, 2
			}
			cfg := serialConfig(t, board, port, tt.boot, failOn, attempts)
			out := Run(context.Background(), cfg)
			recs := cfg.Stdout.(*logBuffer).records(t)
			if out.Result != tt.result || out.ErrorType != tt.wantType || !strings.Contains(out.ErrorMsg, tt.wantMsg) {
				t.Fatalf("outcome %+v\n%s", out, dump(recs))
			}
			log := dump(recs)
			if retried := strings.Contains(log, "minimal-boot failed: 1 of 2 attempts"); retried != (attempts == 2) || !strings.Contains(log, "using serial port "+port) {
				t.Errorf("retried %v, or no serial connection in the log", retried)
			}
			st, err := dutsim.GetStatus(context.Background(), board)
			if err != nil || st.Power != "off" {
				t.Errorf("board after the job: %+v, %v", st, err)
			}
		})
	}
}

// TestSerialPowerFailures: a power command that keeps failing or hangs is
// an InfrastructureError and the board is still powered off.
func TestSerialPowerFailures(t *testing.T) {
	t.Parallel()
	board := startBoard(t, dutsim.Flags{})
	port := socatLine(t, board)
	cfg := serialConfig(t, board, port, 30, 5, 3)
	out := Run(context.Background(), cfg)
	log := dump(cfg.Stdout.(*logBuffer).records(t))
	if out.Result != "fail" || out.ErrorType != TypeInfrastructure || !strings.Contains(out.ErrorMsg, "PDU busy") && !strings.Contains(out.ErrorMsg, "exit status 1") {
		t.Fatalf("outcome %+v\n%s", out, log)
	}
	if !strings.Contains(log, "minimal-boot failed: 2 of 3 attempts") || strings.Contains(log, "3 of 3 attempts") {
		t.Errorf("not three attempts:\n%s", log)
	}
	st, err := dutsim.GetStatus(context.Background(), board)
	if err != nil || st.Power != "off" {
		t.Errorf("board after the job: %+v, %v", st, err)
	}

	missing := serialConfig(t, board, filepath.Join(t.TempDir(), "no-such-tty"), 30, 0, 1)
	out = Run(context.Background(), missing)
	if out.Result != "fail" || out.ErrorType != TypeInfrastructure || !strings.Contains(out.ErrorMsg, "Unable to open serial port") {
		t.Fatalf("missing port: outcome %+v", out)
	}
}

func TestCoalesceFor(t *testing.T) {
	for baud, want := range map[int]time.Duration{
		0:       0,
		9600:    25 * time.Millisecond,
		115200:  25 * time.Millisecond,
		1152000: 8888888 * time.Nanosecond, // 1 KiB at 115.2 KB/s
		3000000: 3413333 * time.Nanosecond,
	} {
		if got := coalesceFor(baud); (got - want).Abs() > time.Microsecond {
			t.Errorf("coalesceFor(%d) = %v, want %v", baud, got, want)
		}
	}
}

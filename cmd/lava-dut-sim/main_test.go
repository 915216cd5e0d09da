package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"golava/worker/dutsim"
)

// The test binary re-executes itself as lava-dut-sim when this is set.
const runMainEnv = "LAVA_DUT_SIM_TEST_RUN_MAIN"

const waitTimeout = 15 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	return cmd
}

// cli runs one client command and returns stdout, stderr and the exit code.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := command(args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errOut.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errOut.String(), 0
}

// startServe runs `serve` as a child process, stopped with SIGTERM in cleanup.
func startServe(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ds")
	if err != nil {
		t.Fatal(err)
	}
	serve := command("serve", "--dir", dir, "--autoboot-delay", "100ms", "--boot-lines", "3")
	serve.Stderr = t.Output()
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	t.Cleanup(func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("serve exited with %v, want 0 on SIGTERM", err)
			}
		case <-time.After(waitTimeout):
			_ = serve.Process.Kill()
			t.Errorf("serve did not stop on SIGTERM")
		}
		if _, err := os.Stat(filepath.Join(dir, dutsim.ControlSocket)); !os.IsNotExist(err) {
			t.Errorf("control socket left behind: %v", err)
		}
		_ = os.RemoveAll(dir)
	})
	waitCond(t, "serve ready", func() bool { _, _, code := cli(t, "power", "--dir", dir, "status"); return code == 0 })
	return dir
}

func boardStatus(t *testing.T, dir string) dutsim.Status {
	t.Helper()
	out, errOut, code := cli(t, "status", "--dir", dir)
	var st dutsim.Status
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status output %q: %v", out, err)
	}
	return st
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// recorder collects a stream so tests can wait for text in it.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *recorder) waitFor(t *testing.T, s string) {
	t.Helper()
	waitCond(t, "console output "+s, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return strings.Contains(r.buf.String(), s)
	})
}

func TestCLIPowerSetStatusConsole(t *testing.T) {
	t.Parallel()
	dir := startServe(t)
	if out, _, _ := cli(t, "power", "status", "--dir", dir); out != "off\n" {
		t.Fatalf("power status = %q, want off", out)
	}
	if _, errOut, code := cli(t, "set", "--dir", dir, "garbage=false", "slow=0"); code != 0 {
		t.Fatalf("set: exit %d: %s", code, errOut)
	}

	console := command("console", "--dir", dir)
	stdin, err := console.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out recorder
	console.Stdout = &out
	if err := console.Start(); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "console attach", func() bool { return boardStatus(t, dir).ConsoleAttaches == 1 })
	if got, _, _ := cli(t, "power", "--dir", dir, "on"); got != "on\n" {
		t.Fatalf("power on printed %q", got)
	}
	out.waitFor(t, "dut-sim login: ")
	_, _ = io.WriteString(stdin, "root\n")
	out.waitFor(t, "root@dut-sim:~# ")
	_, _ = io.WriteString(stdin, "echo $((6*7))\n")
	out.waitFor(t, "\r\n42\r\n")
	_ = stdin.Close() // stdin EOF ends the bridge
	if err := console.Wait(); err != nil {
		t.Fatalf("console exit: %v", err)
	}

	if got, _, _ := cli(t, "power", "--dir", dir, "off"); got != "off\n" {
		t.Fatalf("power off printed %q", got)
	}
	if st := boardStatus(t, dir); st.Power != "off" || st.Boots != 1 {
		t.Fatalf("status = %+v, want off after 1 boot", st)
	}
	log, err := os.ReadFile(filepath.Join(dir, dutsim.PowerLogFile))
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(log)), " off") {
		t.Fatalf("power.log = %q, %v; want it to end powered off", log, err)
	}
}

func TestCLIErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(os.TempDir(), "ds-missing-board")
	tests := []struct {
		args     []string
		code     int
		inStderr string
	}{
		{[]string{"power", "--dir", missing, "on"}, 1, "socket missing"},
		{[]string{"console", "--dir", missing}, 1, "socket missing"},
		{[]string{"set", "--dir", missing}, 1, "no settings"},
		{[]string{"set", "--dir", missing, "panic"}, 1, "want name=value"},
		{[]string{"power", "--dir", missing}, 2, "want exactly one action"},
		{[]string{"power", "on"}, 2, "--dir is required"},
		{[]string{"serve", "--dir", missing, "extra"}, 1, `unexpected argument "extra"`},
		{[]string{"serve", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"frob"}, 2, `unknown command "frob"`},
		{nil, 2, "usage: lava-dut-sim"},
		{[]string{"--help"}, 0, ""},
		{[]string{"power", "--help"}, 0, "-dir"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			_, errOut, code := cli(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.inStderr) {
				t.Fatalf("exit %d stderr %q; want exit %d and %q", code, errOut, tt.code, tt.inStderr)
			}
		})
	}
}

// TestConsoleRawTerminal runs `console` in a pty as lava-run does: keys such
// as Ctrl-C reach the board instead of signalling, and ^] leaves.
func TestConsoleRawTerminal(t *testing.T) {
	t.Parallel()
	dir := startServe(t)
	if _, errOut, code := cli(t, "set", "--dir", dir, "autoboot-delay=10s"); code != 0 {
		t.Fatalf("set: %s", errOut)
	}
	console := command("console", "--dir", dir)
	ptmx, err := pty.Start(console)
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var out recorder
	go func() { _, _ = io.Copy(&out, ptmx) }()
	out.waitFor(t, "Escape character is '^]'")
	waitCond(t, "console attach", func() bool { return boardStatus(t, dir).ConsoleAttaches == 1 })
	cli(t, "power", "--dir", dir, "on")
	out.waitFor(t, "Hit any key to stop autoboot: 10 ")
	_, _ = ptmx.Write([]byte{0x03}) // Ctrl-C: a key for the board, not SIGINT
	out.waitFor(t, "=> ")
	_, _ = ptmx.Write([]byte("version\r"))
	out.waitFor(t, "GNU ld")
	_, _ = ptmx.Write([]byte{0x1d})
	if err := console.Wait(); err != nil {
		t.Fatalf("console after ^]: %v", err)
	}
}

package dutsim

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAutobootLoginShellPowerOff(t *testing.T) {
	t.Parallel()
	b := startBoard(t, Config{})
	tm := b.connect()
	if st := b.status(); st.Power != "off" || st.Stage != StageOff {
		t.Fatalf("new board: power %q stage %q, want off/off", st.Power, st.Stage)
	}
	b.power("on", "on")
	b.power("on", "on") // no-op while on
	tm.expect("U-Boot 2023.01 (dut-sim)\r\n")
	tm.expect("DRAM:")
	tm.expect("Hit any key to stop autoboot:  1 ")
	tm.expect("Starting kernel ...")
	tm.expect("[    0.000000] Linux version 6.1.0-dut-sim ")
	tm.expect(loginPrompt)
	tm.send("bob\n")
	tm.expect("bob\r\n")
	tm.expect("Login incorrect\r\n" + loginPrompt)
	tm.send("root\n")
	tm.expect(shellPrompt)

	tm.send("echo $((40+2)); pwd; touch marker\n")
	tm.expect("\r\n42\r\n")
	tm.expect(filepath.Join(b.dir, RootFSDir) + "\r\n")
	tm.expect(shellPrompt)
	if _, err := os.Stat(filepath.Join(b.dir, RootFSDir, "marker")); err != nil {
		t.Fatalf("shell cwd is not the board root fs: %v", err)
	}
	st := b.status()
	if st.Stage != StageShell || st.ShellPID == 0 || st.Boots != 1 {
		t.Fatalf("status after login = %+v, want shell stage, a shell pid, 1 boot", st)
	}

	b.power("off", "off")
	if !processGone(st.ShellPID) {
		t.Fatalf("shell pid %d still alive after power off", st.ShellPID)
	}
	if st := b.status(); st.Power != "off" || st.Stage != StageOff || st.ShellPID != 0 {
		t.Fatalf("status after power off = %+v", st)
	}
	b.power("off", "off") // no-op while off

	// The root fs is a ramdisk: wiped at power-on.
	b.power("on", "on")
	tm.expect("U-Boot 2023.01")
	if _, err := os.Stat(filepath.Join(b.dir, RootFSDir, "marker")); !os.IsNotExist(err) {
		t.Fatalf("root fs not wiped at power-on: stat marker: %v", err)
	}
	b.power("reset", "on")
	if got := b.status().Boots; got != 3 {
		t.Fatalf("boots = %d after on, off, on, reset; want 3", got)
	}
	b.power("off", "off")
	checkPowerLog(t, b.dir, []string{"on", "off", "on", "off", "on", "off"})
}

func checkPowerLog(t *testing.T, dir string, want []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, PowerLogFile))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("power.log line %q: want 'TIMESTAMP STATE'", line)
		}
		got = append(got, f[1])
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("power.log states = %v, want %v", got, want)
	}
}

func TestBootloaderPrompt(t *testing.T) {
	t.Parallel()
	b := startBoard(t, Config{AutobootDelay: 5_000_000_000})
	tm := b.connect()
	b.power("on", "on")
	tm.expect("Hit any key to stop autoboot:  5 ")
	tm.send(" ")
	tm.expect("\r\n" + ubootPrompt)
	if st := b.status(); st.Stage != StageBootloader {
		t.Fatalf("stage = %q, want bootloader", st.Stage)
	}
	steps := []struct{ send, want string }{
		{"printenv\r", "bootcmd=booti ${kernel_addr_r} - ${fdt_addr_r}\r\n"},
		{"printenv nope\n", "## Error: \"nope\" not defined"},
		{"setenv foo 'bar  baz'\r\n", ubootPrompt},
		{"printenv foo\n", "foo=bar  baz\r\n"},
		{"echo hi ${foo}; echo $baudrate\n", "hi bar  baz\r\n115200\r\n"},
		{"frob x\n", "Unknown command 'frob' - try 'help'\r\n"},
		{"help\n", "printenv  - "},
		{"version\n", "U-Boot 2023.01 (dut-sim)\r\n"},
		{"ecx\bho typed\n", "ecx\b \bho typed\r\ntyped\r\n"},
		{"junk\x03", "junk^C\r\n" + ubootPrompt},
		{"dhcp; setenv serverip 10.0.2.2; tftp 0x80080000 Image\n", "TFTP from server 10.0.2.2; our IP address is 10.0.2.15\r\nFilename 'Image'."},
		{"printenv filesize\n", "filesize=400\r\n"},
		{"setenv bootargs quiet ip=dhcp\n", ubootPrompt},
		{"reset\n", "resetting ...\r\n"},
	}
	for _, s := range steps {
		tm.send(s.send)
		tm.expect(s.want)
	}
	tm.expect("U-Boot 2023.01 (dut-sim)")
	tm.expect("Hit any key")
	tm.send("\n")
	tm.expect(ubootPrompt)
	tm.send("printenv foo\n") // kept across a bootloader reset, until power off
	tm.expect("foo=bar  baz\r\n")
	tm.send("run bootcmd\n")
	tm.expect("Starting kernel ...")
	tm.expect("Kernel command line: console=ttyAMA0,115200 root=/dev/ram0 quiet ip=dhcp\r\n")
	tm.expect(loginPrompt)
	if got := b.status().Boots; got != 2 {
		t.Fatalf("boots = %d after a bootloader reset, want 2", got)
	}
	// Power off forgets the environment.
	b.power("reset", "on")
	tm.expect("Hit any key")
	tm.send("x")
	tm.expect(ubootPrompt)
	tm.send("printenv foo\nbooti\n")
	tm.expect("## Error: \"foo\" not defined")
	tm.expect(loginPrompt)
}

func TestShellExitAndChildren(t *testing.T) {
	t.Parallel()
	b := startBoard(t, Config{})
	tm := b.connect()
	b.power("on", "on")
	tm.login()
	first := b.status().ShellPID

	// Like getty: when the shell exits, the login prompt comes back.
	tm.send("exit\n")
	tm.expect(loginPrompt)
	waitCond(t, "first shell reaped", func() bool { return processGone(first) })
	tm.send("root\r\n")
	tm.expect(shellPrompt)
	tm.send("echo ready\n")
	tm.expect("ready\r\n" + shellPrompt) // the LF of the CRLF made no extra prompt

	// Power off also ends background jobs, which have process groups of their own.
	tm.send("sleep 1000 & echo child=$!\n")
	out := tm.expect(shellPrompt)
	m := regexp.MustCompile(`child=(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no child pid in %q", out)
	}
	child, _ := strconv.Atoi(m[1])
	shell := b.status().ShellPID
	b.power("off", "off")
	for _, pid := range []int{shell, child} {
		if !processGone(pid) {
			t.Errorf("pid %d alive after power off", pid)
		}
	}
}

func TestConsoleOneClientAtATime(t *testing.T) {
	t.Parallel()
	b := startBoard(t, Config{})
	first := b.connect()
	second := b.connect()
	first.waitClosed() // replaced, like ser2net
	b.power("on", "on")
	second.login()
	second.send("echo second\n")
	second.expect("second\r\n")

	// Output while nobody listens is lost; input goes to the board again on reconnect.
	_ = second.conn.Close()
	second.waitClosed()
	third := b.connect()
	third.send("echo third\n")
	third.expect("third\r\n" + shellPrompt)
	if strings.Contains(string(third.all()), "U-Boot") {
		t.Fatalf("new client got old output:\n%s", third.all())
	}
}

func TestRunShutdownAndSecondBoard(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "ds")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cfg := Config{Dir: dir, AutobootDelay: 100 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(t.Output(), nil))) }()
	b := &testBoard{t: t, dir: dir, ctx: t.Context()}
	waitCond(t, "control socket", func() bool { _, err := GetStatus(b.ctx, dir); return err == nil })

	if err := Run(t.Context(), cfg, nil); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Run on the same dir: err = %v, want 'already running'", err)
	}
	tm := b.connect()
	b.power("on", "on")
	tm.login()
	pid := b.status().ShellPID

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return")
	}
	if !processGone(pid) {
		t.Errorf("shell %d alive after Run returned", pid)
	}
	for _, name := range []string{ControlSocket, ConsoleSocket} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", name, err)
		}
	}
	tm.waitClosed()
	checkPowerLog(t, dir, []string{"on", "off"})
	if _, err := Power(t.Context(), dir, "status"); err == nil || !strings.Contains(err.Error(), "socket missing") {
		t.Errorf("power status with no board: err = %v, want 'socket missing'", err)
	}
}

// TestRunReplacesStaleSockets: a board killed with SIGKILL leaves its socket
// files; the next Run on the dir must take them over.
func TestRunReplacesStaleSockets(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "ds")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	for _, name := range []string{ControlSocket, ConsoleSocket} {
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, name), Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		ln.SetUnlinkOnClose(false)
		_ = ln.Close()
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{Dir: dir}, nil) }()
	waitCtx, waitCancel := context.WithTimeout(t.Context(), waitTimeout)
	defer waitCancel()
	err = WaitReady(waitCtx, dir)
	cancel()
	if runErr := <-done; runErr != nil || err != nil {
		t.Fatalf("Run over stale sockets: %v; ready: %v", runErr, err)
	}
}

package run

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"golava/pkg/devconf"
	"golava/worker/dutsim"
)

// cpuTime is the user+system CPU time of this process.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSerialConsole feeds kernel-log lines into a pty that lava-run's
// console reads as a serial port (go.bug.st/serial), paced at 115200 baud,
// at 10x that and unthrottled, and prints the rate sustained and the CPU
// lava-run's side used (getrusage of this process). The feeder is a child
// process, as a real line's far end is another machine: its CPU, and the
// kernel's work on its writes, are printed apart.
func BenchmarkSerialConsole(b *testing.B) {
	for b.Loop() {
		for _, rate := range []int{115200 / 10, 1152000 / 10, 0} {
			serialThroughput(b, rate, 2*time.Second)
		}
	}
}

// serialFeedEnv makes the test binary the feeder: "RATE DURATION" (bytes
// per second, 0 unthrottled), writing to fd 3 (the pty master).
const serialFeedEnv = "GOLAVA_RUN_SERIALFEED"

var feedLine = []byte("[   12.345678] usb 1-1: new high-speed USB device number 2 using xhci_hcd\r\n")

// serialFeed is the feeder process: it writes whole lines for dur, paced
// in 10 ms slots at rate bytes/s, and prints how many bytes it sent.
func serialFeed(spec string) int {
	var rate int
	var durText string
	if _, err := fmt.Sscan(spec, &rate, &durText); err != nil {
		fmt.Fprintln(os.Stderr, "serial feed:", err)
		return 2
	}
	dur, err := time.ParseDuration(durText)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serial feed:", err)
		return 2
	}
	master := os.NewFile(3, "pty-master")
	chunk := bytes.Repeat(feedLine, 64)
	start, sent := time.Now(), 0
	pace := time.NewTicker(10 * time.Millisecond)
	defer pace.Stop()
	write := func(p []byte) bool {
		if _, err := master.Write(p); err != nil {
			fmt.Fprintln(os.Stderr, "serial feed:", err)
			return false
		}
		sent += len(p)
		return true
	}
	for time.Since(start) < dur {
		if rate == 0 {
			if !write(chunk) {
				return 1
			}
			continue
		}
		// What the line would carry by now, in whole lines.
		due := int(time.Since(start).Seconds()*float64(rate)) - sent
		if due < len(feedLine) {
			<-pace.C
			continue
		}
		for n := due / len(feedLine) * len(feedLine); n > 0; {
			w := min(n, len(chunk))
			if !write(chunk[:w]) {
				return 1
			}
			n -= w
		}
	}
	fmt.Println(sent)
	return 0
}

func serialThroughput(b *testing.B, rate int, dur time.Duration) {
	master, tty, err := pty.Open()
	if err != nil {
		b.Fatal(err)
	}
	defer master.Close()
	defer tty.Close()
	var lines atomic.Int64
	c, err := ConnectSerial(&devconf.SerialPort{Port: tty.Name(), Baud: 115200}, NewLogger(SinkFunc(func(string) {})))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.SetLineHandler(func(string) { lines.Add(1) })
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	feed := exec.Command(exe)
	feed.Env = append(os.Environ(), fmt.Sprintf("%s=%d %s", serialFeedEnv, rate, dur))
	feed.ExtraFiles = []*os.File{master}
	feed.Stderr = os.Stderr
	cpu0, start := cpuTime(b), time.Now()
	out, err := feed.Output()
	if err != nil {
		b.Fatalf("serial feeder: %v", err)
	}
	var sent int
	if _, err := fmt.Sscan(string(out), &sent); err != nil {
		b.Fatalf("serial feeder said %q: %v", out, err)
	}
	want := int64(sent / len(feedLine))
	deadline := time.Now().Add(30 * time.Second)
	poll := time.NewTicker(time.Millisecond)
	defer poll.Stop()
	for lines.Load() < want && time.Now().Before(deadline) {
		<-poll.C
	}
	wall, cpu := time.Since(start), cpuTime(b)-cpu0
	ps := feed.ProcessState
	feeder := ps.UserTime() + ps.SystemTime()
	label := "unthrottled"
	if rate > 0 {
		label = fmt.Sprintf("%d baud", rate*10)
	}
	fmt.Printf("lava-run serial console %-12s %10.0f B/s sustained (%d of %d lines), CPU %.1f%% of one core (the feeder process: %.1f%%)\n",
		label, float64(lines.Load()*int64(len(feedLine)))/wall.Seconds(), lines.Load(), want,
		100*cpu.Seconds()/wall.Seconds(), 100*feeder.Seconds()/wall.Seconds())
}

// BenchmarkLavaRunRSS runs the lava-run binary on a dut-sim job and prints
// its peak resident memory (getrusage of the child: ru_maxrss).
func BenchmarkLavaRunRSS(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(os.Getenv("LAVA_BIN_DIR"), "lava-run")
	if os.Getenv("LAVA_BIN_DIR") == "" {
		bin = filepath.Join(dir, "lava-run")
		if out, err := exec.Command("go", "build", "-o", bin, "golava/cmd/lava-run").CombinedOutput(); err != nil {
			b.Fatalf("build lava-run: %v\n%s", err, out)
		}
	}
	board, err := os.MkdirTemp("", "ds")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(board)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- dutsim.Run(ctx, dutsim.Config{Dir: board, AutobootDelay: 50 * time.Millisecond, BootLines: 2000}, nil)
	}()
	defer func() { cancel(); <-done }()
	readyCtx, readyCancel := context.WithTimeout(ctx, 30*time.Second)
	defer readyCancel()
	if err := dutsim.WaitReady(readyCtx, board); err != nil {
		b.Fatalf("board: %v", err)
	}
	exe, _ := os.Executable()
	client := dutsimEnv + "=%s " + exe + " " + board
	device := []byte(fmt.Sprintf("device_type: dut-sim\nconstants:\n  posix:\n    lava_test_results_dir: %s/lava-%%s\ncommands:\n  connect: %s\n  power_on: %s on\n  power_off: %s off\n",
		dir, fmt.Sprintf(client, "console"), fmt.Sprintf(client, "power"), fmt.Sprintf(client, "power")))
	if err := os.WriteFile(filepath.Join(dir, "device.yaml"), device, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), []byte(fmt.Sprintf(dutsimJob, 60)), 0o644); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		cmd := exec.Command(bin, "--device", filepath.Join(dir, "device.yaml"), "--output-dir", filepath.Join(dir, "out"),
			"--job-id", "1", filepath.Join(dir, "job.yaml"))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			// Under load the console client may attach after the board
			// printed its login prompt (a race of the simulated board).
			b.Logf("lava-run failed, once more: %v", err)
			out.Reset()
			cmd = exec.Command(cmd.Args[0], cmd.Args[1:]...)
			cmd.Stdout, cmd.Stderr = &out, &out
			start = time.Now()
			if err := cmd.Run(); err != nil {
				b.Fatalf("lava-run: %v\n%s", err, out.String())
			}
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		wall := time.Since(start).Seconds()
		fmt.Printf("lava-run dut-sim job (2000 boot lines, %.0f log KB/s over %.2f s): peak RSS %.1f MB, CPU %.2f s\n",
			float64(out.Len())/1024/wall, wall, float64(ru.Maxrss)/1024,
			time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Seconds())
	}
}

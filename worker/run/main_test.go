package run

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golava/worker/dutsim"
)

// dutsimEnv switches the test binary into the lava-dut-sim client commands
// (console DIR, power DIR ACTION) for the in-process dutsim board.
const dutsimEnv = "GOLAVA_RUN_DUTSIM"

func dutsimClient(mode string, args []string) int {
	ctx := context.Background()
	var err error
	switch {
	case mode == "console" && len(args) == 1:
		err = dutsim.Console(ctx, args[0], os.Stdin, os.Stdout)
	case mode == "power" && len(args) == 2:
		if args[1] == "on" {
			waitConsole(ctx, args[0])
		}
		_, err = dutsim.Power(ctx, args[0], args[1])
	default:
		err = fmt.Errorf("bad dutsim client call %s %v", mode, args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// waitConsole gives the console client lava-run started just before a
// power-on up to 5 s to attach: under load the board would otherwise print
// its first lines to nobody (a serial line does the same, but tests of
// prompts must not depend on the scheduler).
func waitConsole(ctx context.Context, dir string) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for {
		if st, err := dutsim.GetStatus(ctx, dir); err == nil && st.ConsoleConnected {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			return
		}
	}
}

// boardEnv switches the test binary into a fake board console: the device's
// connect command runs it, as lava-run would run telnet or ser2net.
const boardEnv = "GOLAVA_RUN_FAKE_BOARD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(boardEnv); mode != "" {
		os.Exit(fakeBoard(mode))
	}
	if mode := os.Getenv(dutsimEnv); mode != "" {
		os.Exit(dutsimClient(mode, os.Args[1:]))
	}
	if spec := os.Getenv(serialFeedEnv); spec != "" {
		os.Exit(serialFeed(spec))
	}
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 && !goroutinesSettle(before) {
		buf := make([]byte, 1<<20)
		fmt.Fprintf(os.Stderr, "goroutines leaked:\n%s\n", buf[:runtime.Stack(buf, true)])
		code = 1
	}
	os.Exit(code)
}

// goroutinesSettle waits for the goroutines started by the tests to end.
func goroutinesSettle(before int) bool {
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > before {
		select {
		case <-deadline:
			return false
		case <-tick.C:
		}
	}
	return true
}

// fakeBoard prints a boot log, then depending on mode logs in and runs a
// real /bin/sh, hangs, panics or drops the connection.
func fakeBoard(mode string) int {
	fmt.Print("U-Boot 2023.01\r\nStarting kernel ...\r\n")
	fmt.Print("[    0.000000] Linux version 6.1.0 (fake)\r\n")
	switch mode {
	case "hang":
		fmt.Print("[    1.000000] waiting for root device\r\n")
		block()
	case "panic":
		fmt.Print("[    1.000000] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\r\n")
		block()
	case "drop":
		return 0
	case "bytes":
		os.Stdout.Write([]byte("line1\r\r\nbin\x00\xff\x1b[0m end\r\nfirst second\r\npartial"))
		block()
	case "echo":
		// A line-based echo, as a board's shell without prompt.
		in := bufio.NewReader(os.Stdin)
		for {
			l, err := in.ReadString('\n')
			if err != nil {
				return 0
			}
			fmt.Print("got " + l)
		}
	}
	fmt.Print("\r\nfake login: ")
	in := bufio.NewReader(os.Stdin)
	user, err := in.ReadString('\n')
	if err != nil || user != "root\n" {
		fmt.Print("\r\nLogin incorrect\r\n")
		block()
	}
	if mode == "password" {
		fmt.Print("Password: ")
		if pw, err := in.ReadString('\n'); err != nil || pw != "secret\n" {
			fmt.Print("\r\nLogin incorrect\r\n")
			block()
		}
	}
	env := append(os.Environ(), "PS1=root@fake:~# ", "ENV=")
	// Hand the console to a real shell, as a board's getty does.
	if err := syscall.Exec("/bin/sh", []string{"sh", "-i"}, env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// block waits until the console goes away (lava-run kills the group).
func block() {
	b := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(b); err != nil {
			os.Exit(0)
		}
	}
}

package dutsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/creack/pty"
)

const (
	hostname    = "dut-sim"
	loginPrompt = hostname + " login: "
	shellPrompt = "root@" + hostname + ":~# "
	loginUser   = "root"
	// killGrace is how long a shell gets between SIGTERM/SIGHUP and SIGKILL.
	killGrace = 500 * time.Millisecond
	// drainWait bounds waiting for the last shell output after it exits.
	drainWait = 2 * time.Second
)

// login runs the getty: prompt, echo, accept root with no password.
func (s *session) login() error {
	s.stage(StageLogin)
	// getty flushes what was typed before the prompt.
	s.in.flush()
	s.lines.skipLF = false
	if err := s.maybeGarbage(); err != nil {
		return err
	}
	for {
		if err := s.print(loginPrompt); err != nil {
			return err
		}
		line, err := s.lines.readLine(true)
		if err != nil {
			return err
		}
		switch user := strings.TrimSpace(line); user {
		case "":
			continue
		case loginUser:
			s.lines.dropLF()
			return s.print("Linux dut-sim 6.1.0-dut-sim #1 SMP PREEMPT aarch64\r\n\r\n")
		default:
			if err := s.print("\r\nLogin incorrect\r\n"); err != nil {
				return err
			}
		}
	}
}

// shell runs /bin/sh -i on a pty bridged to the console until it exits or
// the power goes off; either way its whole session is killed.
func (s *session) shell() error {
	cmd := exec.Command("/bin/sh", "-i")
	cmd.Dir = s.b.fsDir()
	cmd.Env = shellEnv(s.b.fsDir())
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 200})
	if err != nil {
		return fmt.Errorf("start shell: %w", err)
	}
	defer ptmx.Close()
	pid := cmd.Process.Pid
	s.b.setStage(s, StageShell, pid)
	s.b.logger.Info("shell started", slog.String("board", s.b.name), slog.Int("pid", pid))

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	outDone := make(chan struct{})
	go s.copyShellOutput(ptmx, outDone)
	inCtx, stopInput := context.WithCancel(s.ctx)
	defer stopInput()
	go s.copyShellInput(inCtx, ptmx)

	select {
	case err := <-exited:
		stopInput()
		s.b.logger.Info("shell exited", slog.Int("pid", pid), slog.Any("status", err))
		killSession(pid, nil) // hang up whatever it left behind, as logind does
	case <-s.ctx.Done():
		stopInput()
		killSession(pid, exited)
		return s.ctx.Err() // powered off: the rest of its output is lost anyway
	}
	// Print the last output before the next login prompt.
	drain := time.NewTimer(drainWait)
	defer drain.Stop()
	select {
	case <-outDone:
	case <-drain.C:
	}
	return s.ctx.Err()
}

func shellEnv(home string) []string {
	return []string{
		"HOME=" + home,
		"PWD=" + home,
		"PS1=" + shellPrompt,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"TERM=dumb",
		"USER=root",
		"LOGNAME=root",
		"SHELL=/bin/sh",
		"LANG=C.UTF-8",
	}
}

func (s *session) copyShellOutput(ptmx *os.File, done chan<- struct{}) {
	defer close(done)
	buf := make([]byte, 4096)
	for {
		n, err := ptmx.Read(buf)
		if n > 0 {
			if werr := s.printBytes(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EIO: every holder of the pty slave is gone
		}
	}
}

func (s *session) copyShellInput(ctx context.Context, w io.Writer) {
	buf := make([]byte, 4096)
	for {
		n, err := s.in.read(ctx, buf)
		if err != nil {
			return
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return
		}
	}
}

// killSession ends every process of the shell's session and process group:
// SIGHUP and SIGTERM first (an interactive shell ignores SIGTERM), SIGKILL
// after killGrace. When exited is not nil it waits for the shell's own reaping.
func killSession(sid int, exited <-chan error) {
	signalAll(sid, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGCONT)
	deadline := time.Now().Add(killGrace)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for len(sessionMembers(sid)) > 0 && time.Now().Before(deadline) {
		<-tick.C
	}
	signalAll(sid, syscall.SIGKILL)
	if exited != nil {
		<-exited
	}
}

func signalAll(sid int, sigs ...syscall.Signal) {
	pids := sessionMembers(sid)
	for _, sig := range sigs {
		_ = syscall.Kill(-sid, sig)
		for _, p := range pids {
			_ = syscall.Kill(p, sig)
		}
	}
}

// sessionMembers lists live (not zombie) processes whose session or process
// group is sid, from /proc: background jobs of an interactive shell have
// process groups of their own.
func sessionMembers(sid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		state, pgrp, session, ok := parseStat(string(stat))
		if ok && state != "Z" && (pgrp == sid || session == sid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// parseStat reads state, pgrp and session from /proc/PID/stat; the command
// name in parentheses may hold spaces, so fields are counted after its ')'.
func parseStat(stat string) (state string, pgrp, session int, ok bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return "", 0, 0, false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 4 {
		return "", 0, 0, false
	}
	pg, err1 := strconv.Atoi(f[2])
	se, err2 := strconv.Atoi(f[3])
	if err := errors.Join(err1, err2); err != nil {
		return "", 0, 0, false
	}
	return f[0], pg, se, true
}

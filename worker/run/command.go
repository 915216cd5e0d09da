package run

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// runHostCommand runs a lab command (power, pre-os...) with /bin/sh -c in
// its own process group, logging its output at debug. A failure is an
// InfrastructureError, as LAVA's power actions; ctx bounds it.
func runHostCommand(ctx context.Context, log *Logger, command string) error {
	log.Debugf("Calling: '/bin/sh' '-c' '%s'", command)
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Kill the whole group: a power script may leave helpers behind.
	cmd.Cancel = func() error {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		return nil
	}
	cmd.WaitDelay = killGrace
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		pw.Close()
		return InfraError("start %q: %v", command, err)
	}
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 4096), maxLine)
		for sc.Scan() {
			log.Debugf(">> %s", strings.TrimRight(sc.Text(), "\r"))
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Wait()
	if ctx.Err() != nil {
		// Canceled or timed out: leave nothing of the command behind.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	pw.Close()
	<-logged
	log.Debugf("Returned %d in %d seconds", exitCode(err), int(time.Since(start).Seconds()))
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if err != nil {
		return InfraError("%s failed: %v", command, err)
	}
	return nil
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode()
	}
	return -1
}

// runHostCommands runs each command in turn and stops at the first failure.
func runHostCommands(ctx context.Context, log *Logger, commands []string) error {
	for _, c := range commands {
		if err := runHostCommand(ctx, log, c); err != nil {
			return err
		}
	}
	return nil
}

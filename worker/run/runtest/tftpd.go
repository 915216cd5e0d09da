package runtest

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Tftpd is Debian's tftpd-hpa serving a folder on 127.0.0.1:69, owned by
// the test. QEMU's user network forwards the guest's TFTP requests to
// 127.0.0.1 (sent through its gateway) to it.
type Tftpd struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

// TftpdBinary is the tftpd-hpa server.
const TftpdBinary = "/usr/sbin/in.tftpd"

// StartTftpd serves root until Stop. It fails when port 69 is taken.
func StartTftpd(root string) (*Tftpd, error) {
	out := &bytes.Buffer{}
	cmd := exec.Command(TftpdBinary, "--foreground", "--address", "127.0.0.1:69", "--secure",
		"--user", "root", "--verbose", root)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start tftpd-hpa (install tftpd-hpa): %w", err)
	}
	t := &Tftpd{cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(t.done) }()
	// A server that cannot bind exits at once; one that can keeps running.
	select {
	case <-t.done:
		return nil, fmt.Errorf("tftpd-hpa ended at start (is 127.0.0.1:69 taken?): %s", strings.TrimSpace(out.String()))
	case <-time.After(300 * time.Millisecond):
	}
	return t, nil
}

// Stop ends the server and the transfers it forked.
func (t *Tftpd) Stop() {
	_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-t.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
		<-t.done
	}
}

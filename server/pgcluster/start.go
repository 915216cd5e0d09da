package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// errEarlyExit means postgres exited before accepting connections.
var errEarlyExit = errors.New("postgres exited during startup")

// start runs postgres as a child. With Port 0 a free port is picked; another
// process may grab it first, so an early exit is retried with a new port.
func (c *Cluster) start(ctx context.Context, cred *syscall.Credential) error {
	logPath := filepath.Join(c.cfg.Dir, "postgres.log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgcluster: open %s: %w", logPath, err)
	}
	c.logFile = f
	attempts := 1
	if c.cfg.Port == 0 {
		attempts = 3
	}
	for i := 0; ; i++ {
		err = c.startOnce(ctx, cred)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errEarlyExit) || i+1 >= attempts {
			f.Close()
			c.logFile = nil
			return fmt.Errorf("%w (see %s)", err, logPath)
		}
		c.cfg.Logger.Warn("postgres failed to start, retrying with another port", "err", err)
	}
}

func (c *Cluster) startOnce(ctx context.Context, cred *syscall.Credential) error {
	port := c.cfg.Port
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return err
		}
		port = p
	}
	// A unix socket path is limited to 107 bytes; a deep folder gets TCP only.
	sockDir := c.cfg.Dir
	if len(sockDir)+len("/.s.PGSQL.65535") > 107 {
		c.cfg.Logger.Warn("folder path too long for a unix socket; TCP only", "dir", sockDir)
		sockDir = ""
	}
	args := []string{"-D", c.dataDir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port=" + strconv.Itoa(port),
		"-c", "unix_socket_directories=" + sockDir,
		"-c", "logging_collector=off",
		"-c", "max_connections=300",
	}
	if !c.cfg.Durable {
		args = append(args,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "shared_buffers=32MB",
		)
	}
	cmd := exec.Command(filepath.Join(c.cfg.BinDir, "postgres"), args...)
	cmd.Dir = c.cfg.Dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	cmd.Stdout, cmd.Stderr = c.logFile, c.logFile
	// Pdeathsig: if our process dies without Stop, postgres gets a fast
	// shutdown instead of lingering. Its own process group keeps a terminal's
	// Ctrl-C from reaching it before we stop it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	c.cmd, c.pid, c.port = cmd, cmd.Process.Pid, port
	c.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(c.exited)
	}()
	c.cfg.Logger.Info("started postgres", "dir", c.cfg.Dir, "pid", c.pid, "port", port)
	if err := c.waitReady(ctx); err != nil {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-c.exited
		return err
	}
	return nil
}

// waitReady polls until a connection succeeds, postgres exits or ctx ends.
func (c *Cluster) waitReady(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(cctx, c.URL())
		if err == nil {
			err = conn.Ping(cctx)
			conn.Close(cctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		lastErr = err
		select {
		case <-c.exitedChan():
			return fmt.Errorf("pgcluster: %w: %v", errEarlyExit, lastErr)
		case <-ctx.Done():
			return fmt.Errorf("pgcluster: postgres on port %d not ready: %w (last error: %v)", c.port, ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

// exitedChan is nil (never ready) for a reused postmaster.
func (c *Cluster) exitedChan() <-chan struct{} {
	if c.cmd == nil {
		return nil
	}
	return c.exited
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

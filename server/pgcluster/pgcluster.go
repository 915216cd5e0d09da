package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultBinDir is where Debian's postgresql-15 package puts the server binaries.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// Superuser is the role initdb creates; connections use it with trust auth.
const Superuser = "postgres"

// Config describes one cluster.
type Config struct {
	// Dir holds the data folder (Dir/data), the unix socket and postgres.log.
	// It is created when missing and reused when it already holds a cluster.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Durable keeps fsync and full page writes on. Only throw-away test
	// clusters should leave it false: a crash then may corrupt the data.
	Durable bool
	// BinDir holds initdb and postgres; empty means DefaultBinDir.
	BinDir string
	// StartTimeout bounds initdb plus startup; 0 means two minutes.
	StartTimeout time.Duration
	// Logger receives progress lines; nil discards them.
	Logger *slog.Logger
}

// Cluster is a running postmaster.
type Cluster struct {
	cfg     Config
	dataDir string
	port    int
	pid     int
	cmd     *exec.Cmd     // nil when an already running postmaster was reused
	exited  chan struct{} // closed when cmd exits
	logFile *os.File

	stopOnce sync.Once
	stopErr  error
}

// Start initialises the cluster when needed and starts postgres, or reuses
// the postmaster already running on the same data folder. It returns once
// the server accepts connections.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Dir == "" {
		return nil, errors.New("pgcluster: Config.Dir is empty")
	}
	if cfg.BinDir == "" {
		cfg.BinDir = DefaultBinDir
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: dir %q: %w", cfg.Dir, err)
	}
	cfg.Dir = dir
	for _, bin := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(cfg.BinDir, bin)); err != nil {
			return nil, fmt.Errorf("pgcluster: %s not found in %s (install the postgresql-15 package: apt-get install postgresql-15): %w", bin, cfg.BinDir, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()

	c := &Cluster{cfg: cfg, dataDir: filepath.Join(dir, "data")}
	cred, err := prepareDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	if pid, port, ok := runningPostmaster(c.dataDir); ok {
		cfg.Logger.Info("reusing running postgres", "dir", dir, "pid", pid, "port", port)
		c.pid, c.port = pid, port
		if err := c.waitReady(ctx); err != nil {
			return nil, err
		}
		return c, nil
	}
	if err := c.initdb(ctx, cred); err != nil {
		return nil, err
	}
	if err := c.start(ctx, cred); err != nil {
		return nil, err
	}
	return c, nil
}

// URL is a connection URL to the "postgres" database as the superuser.
func (c *Cluster) URL() string { return c.DatabaseURL("postgres") }

// DatabaseURL is a connection URL to database name as the superuser.
func (c *Cluster) DatabaseURL(name string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", Superuser, c.port, name)
}

// Port is the TCP port postgres listens on.
func (c *Cluster) Port() int { return c.port }

// Dir is the cluster's folder.
func (c *Cluster) Dir() string { return c.cfg.Dir }

// Stop asks postgres for a fast shutdown (active sessions are disconnected,
// a checkpoint is written) and waits for it to exit. Calling it again
// returns the first result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	defer func() {
		if c.logFile != nil {
			c.logFile.Close()
		}
	}()
	proc, err := os.FindProcess(c.pid)
	if err != nil {
		return fmt.Errorf("pgcluster: find postgres %d: %w", c.pid, err)
	}
	if err := proc.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		if c.cmd == nil && errors.Is(err, syscall.ESRCH) {
			return nil // a reused postmaster that is already gone
		}
		return fmt.Errorf("pgcluster: signal postgres %d: %w", c.pid, err)
	}
	if c.waitExit(60 * time.Second) {
		return nil
	}
	// Fast shutdown hung (a stuck client?): immediate shutdown is still
	// crash-safe when fsync is on, and a test cluster is thrown away.
	c.cfg.Logger.Warn("postgres did not stop in time, sending SIGQUIT", "pid", c.pid)
	_ = proc.Signal(syscall.SIGQUIT)
	if c.waitExit(30 * time.Second) {
		return nil
	}
	return fmt.Errorf("pgcluster: postgres %d did not exit", c.pid)
}

// waitExit waits for the postmaster to be gone.
func (c *Cluster) waitExit(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	if c.cmd != nil {
		select {
		case <-c.exited:
			return true
		case <-timer.C:
			return false
		}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if !pidAlive(c.pid) {
			return true
		}
		select {
		case <-tick.C:
		case <-timer.C:
			return false
		}
	}
}

// prepareDir creates dir and, when running as root, hands it to the postgres
// user, which initdb and postgres insist on running as. It returns the
// credential to run them with (nil: as ourselves).
func prepareDir(ctx context.Context, dir string) (*syscall.Credential, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pgcluster: create %s: %w", dir, err)
	}
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(Superuser)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root needs the %q system user (installed by the postgresql-15 package): %w", Superuser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("pgcluster: chown %s to %s: %w", dir, Superuser, err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	// Ask the kernel rather than guess from mode bits (ACLs, groups).
	check := exec.CommandContext(ctx, "/usr/bin/test", "-w", dir, "-a", "-x", dir)
	check.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := check.Run(); err != nil {
		return nil, fmt.Errorf("pgcluster: %s is not reachable by the %s user (uid %d): every parent folder must be traversable (chmod o+x), or use a folder under /tmp", dir, Superuser, uid)
	}
	return cred, nil
}

// runningPostmaster reads postmaster.pid: its first line is the pid and its
// fourth the port. A live pid means a postmaster we can reuse.
func runningPostmaster(dataDir string) (pid, port int, ok bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, 0, false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return 0, 0, false
	}
	pid, err1 := strconv.Atoi(strings.TrimSpace(lines[0]))
	port, err2 := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err1 != nil || err2 != nil || pid <= 0 || !pidAlive(pid) {
		return 0, 0, false
	}
	if !isPostgres(pid) {
		// The pid was reused after a crash or reboot: the lock file is
		// stale, and postgres would refuse to start while it names a live
		// process.
		_ = os.Remove(filepath.Join(dataDir, "postmaster.pid"))
		return 0, 0, false
	}
	return pid, port, true
}

// isPostgres reports whether pid runs the postgres binary.
func isPostgres(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return true // cannot tell (no /proc): trust the lock file
	}
	return strings.HasPrefix(strings.TrimSpace(string(b)), "postgres")
}

func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func (c *Cluster) initdb(ctx context.Context, cred *syscall.Credential) error {
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		return nil
	}
	c.cfg.Logger.Info("initialising postgres cluster", "dir", c.dataDir)
	cmd := exec.CommandContext(ctx, filepath.Join(c.cfg.BinDir, "initdb"),
		"-D", c.dataDir, "-U", Superuser, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
	cmd.Dir = c.cfg.Dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgcluster: initdb %s: %w\n%s", c.dataDir, err, out)
	}
	if c.cfg.Durable {
		// --no-sync saved time; a durable cluster must start from synced files.
		syncCmd := exec.CommandContext(ctx, filepath.Join(c.cfg.BinDir, "initdb"), "-D", c.dataDir, "--sync-only")
		syncCmd.Dir = c.cfg.Dir
		syncCmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := syncCmd.CombinedOutput(); err != nil {
			return fmt.Errorf("pgcluster: initdb --sync-only %s: %w\n%s", c.dataDir, err, out)
		}
	}
	return nil
}

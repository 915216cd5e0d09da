package daemon

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// proc tracks one live lava-run. done is closed once it is gone.
type proc struct {
	pid  int
	done chan struct{}
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// watchChild waits for a lava-run we spawned and wakes the loop as soon as
// it ends, whatever killed it, so its report does not wait for a ping.
func (d *daemon) watchChild(id int64, cmd *exec.Cmd) {
	p := &proc{pid: cmd.Process.Pid, done: make(chan struct{})}
	d.procs[id] = p
	go func() {
		err := cmd.Wait()
		d.log.Info("lava-run ended", "job_id", id, "pid", p.pid, "status", exitStatus(cmd, err))
		close(p.done)
		d.notifyExit(id)
	}()
}

// adopt watches a lava-run left by a previous worker process. It is not
// our child, so it cannot be waited for: its /proc entry is polled.
func (d *daemon) adopt(id int64, pid int) {
	p := &proc{pid: pid, done: make(chan struct{})}
	d.procs[id] = p
	go func() {
		tick := time.NewTicker(d.t.adoptPoll)
		defer tick.Stop()
		for d.lavaRunAlive(pid, id) {
			select {
			case <-tick.C:
			case <-d.stopped:
				return
			}
		}
		d.log.Info("adopted lava-run ended", "job_id", id, "pid", pid)
		close(p.done)
		d.notifyExit(id)
	}()
}

// notifyExit wakes the loop; after Run returned nobody listens any more.
func (d *daemon) notifyExit(id int64) {
	select {
	case d.exits <- id:
	case <-d.stopped:
	}
}

// running tells whether job j's lava-run is still there.
func (d *daemon) running(j *jobRecord) bool {
	p := d.procs[j.ID]
	return p != nil && p.pid == j.PID && p.alive()
}

func exitStatus(cmd *exec.Cmd, err error) string {
	if cmd.ProcessState != nil {
		return cmd.ProcessState.String()
	}
	if err != nil {
		return err.Error()
	}
	return "unknown"
}

// findLavaRun looks in /proc for a live lava-run of job id in this
// worker's dir, for a job this worker lost track of (jobs table lost, or a
// crash between spawning lava-run and saving the table): adopting it beats
// running the job twice on one device. It returns the pid and job dir prefix.
func (d *daemon) findLavaRun(id int64) (int, string, bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, "", false
	}
	dirArg := "--output-dir=" + d.tmpDir + string(filepath.Separator)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		args := cmdline(pid)
		if !d.isLavaRun(args, id) {
			continue
		}
		for _, a := range args {
			rest, ok := strings.CutPrefix(a, dirArg)
			if !ok || strings.Contains(rest, string(filepath.Separator)) {
				continue
			}
			if prefix, ok := strings.CutSuffix(rest, strconv.FormatInt(id, 10)); ok {
				return pid, prefix, true
			}
		}
	}
	return 0, "", false
}

// lavaRunAlive tells whether pid is still the lava-run of job id.
func (d *daemon) lavaRunAlive(pid int, id int64) bool {
	return pid > 0 && d.isLavaRun(cmdline(pid), id)
}

// isLavaRun tells whether a command line is a lava-run of job id. LAVA
// only looks for "lava-run" in it; the job id also guards against a pid
// recycled by the lava-run of another job, and the configured binary's
// name lets a lava-run installed under another name be recognised.
func (d *daemon) isLavaRun(args []string, id int64) bool {
	named := false
	for _, a := range args {
		named = named || strings.Contains(a, "lava-run") || filepath.Base(a) == d.runName
	}
	return named && slices.Contains(args, "--job-id="+strconv.FormatInt(id, 10))
}

// cmdline returns the arguments of process pid; nil once it is gone, and
// for a zombie, whose cmdline is empty.
func cmdline(pid int) []string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
}

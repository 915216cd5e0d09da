package daemon

import (
	"os/exec"
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
		for lavaRunAlive(pid) {
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

package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"golava/pkg/workerapi"
)

// maxErrorsBytes bounds the errors field, keeping the tail of stderr (the
// part that explains the end): LAVA's Django refuses form bodies over
// 2.5 MB and our server over 10 MB, and a refused report is retried forever.
// Percent-encoding can triple the size.
const maxErrorsBytes = 512 << 10

// check moves ended jobs to finished, escalates cancels that take too
// long, and reports finished jobs. A report the server does not take is
// retried at the next check.
func (d *daemon) check(ctx context.Context) {
	changed := false
	for _, st := range []jobStatus{statusRunning, statusCanceling} {
		for _, j := range d.jobs.withStatus(st) {
			if !d.running(j) {
				d.log.Info("job ended", "job_id", j.ID, "was", st)
				j.Status, j.LastUpdate = statusFinished, time.Now()
				delete(d.procs, j.ID)
				changed = true
			}
		}
	}
	if changed {
		d.saveJobs()
	}
	d.escalate(time.Now())
	for _, j := range d.jobs.withStatus(statusFinished) {
		if err := d.report(ctx, j); err != nil {
			d.log.Error("cannot report job end", "job_id", j.ID, "error", err)
			if herr, ok := errors.AsType[*workerapi.HTTPError](err); !ok || herr.ServerUnavailable() {
				return // the server is away: the other reports would fail as well
			}
		}
	}
}

// escalate sends a canceled lava-run that is still there a second SIGTERM
// after cancelTerm, and SIGKILL after cancelKill, as LAVA does.
func (d *daemon) escalate(now time.Time) {
	for _, j := range d.jobs.withStatus(statusCanceling) {
		var sig syscall.Signal
		switch age := now.Sub(j.LastUpdate); {
		case age >= d.t.cancelKill:
			sig = syscall.SIGKILL
		case age >= d.t.cancelTerm:
			sig = syscall.SIGTERM
		default:
			continue
		}
		d.log.Info("canceled job still running, signalling again", "job_id", j.ID, "pid", j.PID, "signal", sig.String())
		if err := signalJob(j.PID, sig); err != nil {
			d.log.Error("cannot signal", "job_id", j.ID, "error", err)
		}
	}
}

// nextEscalation is when escalate next has something to do.
func (d *daemon) nextEscalation(now time.Time) (time.Time, bool) {
	var next time.Time
	for _, j := range d.jobs.withStatus(statusCanceling) {
		for _, after := range []time.Duration{d.t.cancelTerm, d.t.cancelKill} {
			at := j.LastUpdate.Add(after)
			if at.After(now) {
				if next.IsZero() || at.Before(next) {
					next = at
				}
				break
			}
		}
	}
	return next, !next.IsZero()
}

// report posts the end of job j and, once the server has it, removes the
// job dir and forgets the job.
func (d *daemon) report(ctx context.Context, j *jobRecord) error {
	dir := d.jobDir(j)
	if err := scrubJob(dir); err != nil {
		d.log.Warn("cannot remove the job definition", "job_id", j.ID, "error", err)
	}
	f := finishOf(dir)
	d.log.Info("reporting job end", "job_id", j.ID, "result", f.Result, "error_type", f.ErrorType)
	if err := d.client.JobFinished(ctx, j.ID, j.Token, f); err != nil {
		return err
	}
	if d.cfg.OnJobEnd != nil {
		d.cfg.OnJobEnd(j.ID, f.Result, dir)
	}
	name := jobDirName(j.Prefix, j.ID)
	for _, base := range []string{d.tmpDir, d.cfg.DownloadDir} {
		if base == "" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(base, name)); err != nil {
			d.log.Warn("cannot remove job dir", "job_id", j.ID, "error", err)
		}
	}
	d.jobs.remove(j.ID)
	delete(d.procs, j.ID)
	d.saveJobs()
	return nil
}

// finishOf reads the end of a job from its dir: result.yaml (missing or
// unreadable means fail with a Bug), stderr and description.yaml.
func finishOf(dir string) workerapi.Finish {
	result := map[string]any{}
	if data, err := os.ReadFile(filepath.Join(dir, fileResult)); err == nil {
		var m map[string]any
		if yaml.Unmarshal(data, &m) == nil && m != nil {
			result = m
		}
	}
	f := workerapi.Finish{Result: "fail", ErrorType: "Bug"}
	if r, ok := result["result"]; ok && r != nil {
		f.Result = fmt.Sprint(r)
	}
	if f.Result == "pass" {
		f.ErrorType = ""
	}
	if e, ok := result["error_type"]; ok && e != nil {
		f.ErrorType = fmt.Sprint(e)
	}
	f.Errors = readTail(filepath.Join(dir, fileStderr), maxErrorsBytes)
	if data, err := os.ReadFile(filepath.Join(dir, fileDescription)); err == nil {
		f.Description = string(data)
	}
	return f
}

// readTail returns up to limit bytes from the end of a file, with invalid
// UTF-8 replaced as Python's errors="replace" does; "" if it is unreadable.
func readTail(path string, limit int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > limit {
		f.Seek(st.Size()-limit, io.SeekStart)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return ""
	}
	return strings.ToValidUTF8(string(data), "\uFFFD")
}

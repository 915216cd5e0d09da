package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golava/pkg/workerapi"
)

// daemon is one running worker. Everything but the WebSocket listener and
// the process watchers runs on the loop goroutine, which alone owns jobs
// and procs.
type daemon struct {
	cfg    Config
	t      timings
	log    *slog.Logger
	client *workerapi.Client
	token  string
	tmpDir string
	// runName is the base name of Config.LavaRun, to recognise lava-run.
	runName string

	jobs  *jobTable
	procs map[int64]*proc

	wake    chan struct{} // a WebSocket event asks for a ping now
	exits   chan int64    // a lava-run ended
	stopped chan struct{} // closed when Run returns
}

// Run runs the worker until ctx is done, then returns nil (after every job
// is reported when cfg.WaitJobs). Jobs keep running when Run returns: a
// restarted worker adopts them. It returns an error matching
// workerapi.ErrVersionMismatch on a 409 with cfg.ExitOnVersionMismatch.
func Run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	return run(ctx, cfg, logger, defaultTimings())
}

func run(ctx context.Context, cfg Config, logger *slog.Logger, t timings) error {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Name == "" || cfg.URL == "" {
		return errors.New("lava-worker: name and url are required")
	}
	d := &daemon{
		cfg:     cfg,
		t:       t,
		log:     logger,
		client:  workerapi.NewClient(cfg.URL, &http.Client{Timeout: cfg.HTTPTimeout}, workerapi.UserAgent),
		tmpDir:  filepath.Join(cfg.WorkerDir, "tmp"),
		runName: filepath.Base(cfg.LavaRun),
		procs:   map[int64]*proc{},
		wake:    make(chan struct{}, 1),
		exits:   make(chan int64),
		stopped: make(chan struct{}),
	}
	defer close(d.stopped)
	logger.Info("LAVA worker has started", "name", cfg.Name, "server", cfg.URL, "version", workerapi.Version)
	if _, err := exec.LookPath(cfg.LavaRun); err != nil {
		logger.Warn("lava-run not found: jobs will fail until it is installed", "error", err)
	}
	if err := os.MkdirAll(d.tmpDir, 0o755); err != nil {
		return fmt.Errorf("create worker dir: %w", err)
	}
	token, err := d.resolveToken(ctx)
	if err != nil || ctx.Err() != nil {
		return err
	}
	d.token = token
	if err := d.loadJobs(); err != nil {
		return err
	}
	listenCtx, stopListen := context.WithCancel(ctx)
	listening := make(chan struct{})
	go func() { defer close(listening); d.listen(listenCtx) }()
	defer func() { stopListen(); <-listening }()

	if err := d.loop(ctx); err != nil {
		return err
	}
	if cfg.StopJobsOnExit {
		d.stopJobs()
	}
	if cfg.WaitJobs {
		d.waitJobs(context.WithoutCancel(ctx))
	}
	logger.Info("LAVA worker stopped", "jobs_left", len(d.jobs.ids()))
	return nil
}

// loadJobs reads the jobs table and adopts the lava-run processes still
// alive; the others are reported by the first check.
func (d *daemon) loadJobs() error {
	path := filepath.Join(d.cfg.WorkerDir, "jobs.json")
	jobs, err := loadJobTable(path)
	if err != nil {
		// A worker that cannot start helps nobody: keep the file for a
		// post-mortem and start afresh; the server's running list brings
		// the jobs back.
		d.log.Error("ignoring unreadable jobs table", "error", err)
		if rerr := os.Rename(path, path+".bad"); rerr != nil {
			return fmt.Errorf("set aside jobs table: %w", rerr)
		}
	}
	d.jobs = jobs
	for _, id := range jobs.ids() {
		j := jobs.get(id)
		if j.Status != statusFinished && d.lavaRunAlive(j.PID, id) {
			d.log.Info("adopting lava-run", "job_id", id, "pid", j.PID, "status", j.Status)
			d.adopt(id, j.PID)
		}
	}
	return nil
}

// loop pings, then waits for the next ping, a wake-up, a lava-run that
// ended or a cancel escalation. It returns nil when ctx is done.
func (d *daemon) loop(ctx context.Context) error {
	nextPing := time.Now()
	for {
		if !time.Now().Before(nextPing) {
			wait, err := d.handle(ctx)
			if err != nil {
				return err
			}
			nextPing = time.Now().Add(wait)
		}
		deadline := nextPing
		if esc, ok := d.nextEscalation(time.Now()); ok && esc.Before(deadline) {
			deadline = esc
		}
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-d.wake:
			d.log.Info("event: worker mentioned, pinging now")
			nextPing = time.Now()
		case <-d.exits:
			d.check(ctx)
		case <-timer.C:
			if time.Now().Before(nextPing) {
				d.check(ctx)
			}
		}
		timer.Stop()
	}
}

// handle is one ping round: it returns how long to wait before the next.
func (d *daemon) handle(ctx context.Context) (time.Duration, error) {
	begin := time.Now()
	reply, err := d.client.Ping(ctx, d.cfg.Name, d.token)
	if err != nil {
		var herr *workerapi.HTTPError
		switch {
		case ctx.Err() != nil:
			return 0, nil
		case errors.Is(err, workerapi.ErrVersionMismatch):
			d.log.Error("server refuses this version", "error", err)
			if d.cfg.ExitOnVersionMismatch {
				return 0, fmt.Errorf("lava-worker %s: %w", workerapi.Version, err)
			}
			return jitter(d.cfg.PingInterval) - time.Since(begin), nil
		case errors.As(err, &herr) && herr.ServerUnavailable():
			d.log.Error("server unavailable", "error", err)
			return d.t.retry - time.Since(begin), nil
		default:
			// LAVA carries on with empty lists: finished jobs still get
			// reported.
			d.log.Error("ping failed", "error", err)
			reply = workerapi.PingReply{}
		}
	}
	for _, ref := range reply.Running {
		if d.jobs.get(ref.ID) == nil {
			d.start(ctx, ref)
		}
	}
	for _, ref := range reply.Cancel {
		d.cancel(ref)
	}
	for _, ref := range reply.Start {
		d.start(ctx, ref)
	}
	d.check(ctx)
	return jitter(d.cfg.PingInterval) - time.Since(begin), nil
}

// start launches a job unknown here and tells the server it runs. A job
// whose configuration cannot be fetched stays in the server's start list
// and is tried again at the next ping.
func (d *daemon) start(ctx context.Context, ref workerapi.JobRef) {
	log := d.log.With("job_id", ref.ID)
	switch {
	case d.jobs.get(ref.ID) != nil:
		log.Info("job already started")
	case d.adoptFound(ref):
	default:
		jc, err := d.client.JobConfig(ctx, ref.ID, ref.Token)
		if err != nil {
			log.Error("cannot get job configuration", "error", err)
			return
		}
		d.jobs.put(d.launch(ref, jc))
		d.saveJobs()
	}
	if err := d.client.JobRunning(ctx, ref.ID, ref.Token); err != nil {
		log.Error("cannot set job running", "error", err)
	}
}

// adoptFound adopts a lava-run of job ref found running though the jobs
// table does not know it.
func (d *daemon) adoptFound(ref workerapi.JobRef) bool {
	pid, prefix, ok := d.findLavaRun(ref.ID)
	if !ok {
		return false
	}
	d.log.Info("adopting a running lava-run of an unknown job", "job_id", ref.ID, "pid", pid)
	d.jobs.put(&jobRecord{ID: ref.ID, PID: pid, Status: statusRunning, LastUpdate: time.Now(), Prefix: prefix, Token: ref.Token})
	d.saveJobs()
	d.adopt(ref.ID, pid)
	return true
}

// cancel terminates a running job; an unknown one is recorded as finished
// so the server gets its end report.
func (d *daemon) cancel(ref workerapi.JobRef) {
	log := d.log.With("job_id", ref.ID)
	j := d.jobs.get(ref.ID)
	switch {
	case j == nil:
		log.Info("cancel of an unknown job")
		d.jobs.put(&jobRecord{ID: ref.ID, Token: ref.Token, Status: statusFinished, LastUpdate: time.Now()})
		os.MkdirAll(d.jobDir(d.jobs.get(ref.ID)), 0o755)
	case j.Status == statusRunning && d.running(j):
		log.Info("canceling job", "pid", j.PID)
		if err := signalJob(j.PID, syscall.SIGTERM); err != nil {
			log.Error("cannot cancel", "error", err)
		}
		j.Status, j.LastUpdate = statusCanceling, time.Now()
	default:
		return
	}
	d.saveJobs()
}

func (d *daemon) saveJobs() {
	if err := d.jobs.save(); err != nil {
		d.log.Error("cannot save jobs table", "error", err)
	}
}

// waitJobs reports every job before the worker exits (--wait-jobs).
func (d *daemon) waitJobs(ctx context.Context) {
	for {
		d.check(ctx)
		if d.jobs.empty() {
			return
		}
		d.log.Info("waiting for jobs to finish", "jobs", fmt.Sprint(d.jobs.ids()))
		timer := time.NewTimer(d.cfg.PingInterval)
		select {
		case <-d.exits:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// stopJobs ends every lava-run still running: SIGTERM (lava-run powers its
// board off and exits), then SIGKILL for those still there after StopGrace.
func (d *daemon) stopJobs() {
	grace := d.cfg.StopGrace
	if grace == 0 {
		grace = 20 * time.Second
	}
	var live []*proc
	for id, p := range d.procs {
		if p.alive() {
			d.log.Info("stopping lava-run", "job_id", id, "pid", p.pid)
			if err := signalJob(p.pid, syscall.SIGTERM); err != nil {
				d.log.Warn("stop lava-run", "job_id", id, "error", err)
			}
			live = append(live, p)
		}
	}
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	for _, p := range live {
		select {
		case <-p.done:
		case <-deadline.C:
			for _, q := range live {
				if q.alive() {
					_ = signalJob(q.pid, syscall.SIGKILL)
				}
			}
			// SIGKILL cannot be ignored: wait until they are reaped.
			for _, q := range live {
				select {
				case <-q.done:
				case <-time.After(5 * time.Second):
				}
			}
			return
		}
	}
}

package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"golava/server/store"
)

// Config tunes a Scheduler; zero fields take the defaults shown.
type Config struct {
	// RealmID is the realm scheduled; each realm elects its own leader.
	RealmID int64
	// Tick is the period of the pass that runs even without a notification
	// (1 s); it also checks worker liveness.
	Tick time.Duration
	// WorkerTimeout sets a worker Offline after that long without a ping (60 s, as LAVA).
	WorkerTimeout time.Duration
	// LostJobGrace is how long a worker stays Offline before its jobs end
	// Incomplete (5 min): long enough for a worker restart, short enough
	// that a dead host does not hold its boards for hours.
	LostJobGrace time.Duration
	// LeaderRetry is how often a non-leader tries to take over (1 s, with jitter).
	LeaderRetry time.Duration
	// LeaderCheck is how often the leader checks its connection while idle (5 s).
	LeaderCheck time.Duration
	// QueueWindow bounds the jobs read per device type per pass
	// (store.DefaultQueueWindow); larger costs load time.
	QueueWindow int
	// ApplyConcurrency is how many transactions apply the plan at once (4):
	// health checks and MultiNode groups one each, single-node jobs in
	// batches of applyBatch; they proceed in parallel on the database.
	ApplyConcurrency int
	// OnPass, if set, is called after every pass (tests and benchmarks wait on it).
	OnPass func(PassStats)
	// OnLeadership, if set, is called when leadership is taken (true) or lost (false).
	OnLeadership func(leading bool)
	// CheckDevices renders the configuration of every schedulable device
	// (again whenever its dictionary or edited template changes) and sets
	// Bad those that do not render, as LAVA does before scheduling.
	CheckDevices bool
	// DeviceTypesDir is the extra folder of device-type templates the
	// dictionaries extend, as the API's; used by CheckDevices.
	DeviceTypesDir string
	// WhileLeading, if set, runs in its own goroutine for as long as this
	// scheduler leads (its ctx ends when leadership does): work one lab
	// needs done once, such as retention. RunRealms gives it to the default
	// realm's leader only.
	WhileLeading func(ctx context.Context)
	// Artifacts, if set, is expired for the led realm while leading, every
	// ArtifactExpiry (DefaultArtifactExpiry); see artifacts.go.
	Artifacts      ArtifactExpirer
	ArtifactExpiry time.Duration
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Tick, time.Second)
	def(&c.WorkerTimeout, 60*time.Second)
	def(&c.LostJobGrace, 5*time.Minute)
	def(&c.LeaderRetry, time.Second)
	def(&c.LeaderCheck, 5*time.Second)
	if c.ApplyConcurrency <= 0 {
		c.ApplyConcurrency = 4
	}
	if c.RealmID == 0 {
		c.RealmID = store.DefaultRealm
	}
}

// PassStats describes one pass.
type PassStats struct {
	Jobs, Devices int // read from the store
	HealthChecks  int // health-check jobs created and scheduled
	Assigned      int // jobs scheduled (sub-jobs count one each)
	Conflicts     int // decisions the store refused because the rows changed
	Errors        int // decisions that failed otherwise
	Load, Decide  time.Duration
	Apply, Total  time.Duration
}

// Scheduler is the lava-scheduler service: while it leads its realm it runs
// a pass on every job submission, on every device going Idle or worker
// change, and on every tick; notifications that arrive during a pass
// coalesce into one more pass.
type Scheduler struct {
	st     *store.Store
	logger *slog.Logger
	cfg    Config

	passes  atomic.Int64
	leading atomic.Bool
	// Set by the listener, taken by the pass loop: whether a job was
	// submitted, and the range of event ids notified since the last check.
	jobsPending        atomic.Bool
	eventMin, eventMax atomic.Int64
	// queue is only used by the pass loop.
	queue queueWatch
	// devs is the device configuration check (nil: off); maintain uses it.
	devs *devCheck
}

// A database that stops answering must not hang the scheduler: each
// operation is bounded, and a leader that cannot reach the database gives
// up leadership (its lock goes with its session).
const (
	opTimeout   = 30 * time.Second
	passTimeout = 5 * time.Minute
)

// maxWakeScan bounds the events a wake-up check reads; a larger burst
// simply runs a pass.
const maxWakeScan = 10_000

// New returns a Scheduler; Run starts it.
func New(st *store.Store, logger *slog.Logger, cfg Config) *Scheduler {
	cfg.defaults()
	s := &Scheduler{st: st, logger: logger, cfg: cfg}
	if cfg.CheckDevices {
		s.devs = newDevCheck(cfg.DeviceTypesDir)
	}
	return s
}

// Passes counts the passes run so far.
func (s *Scheduler) Passes() int64 { return s.passes.Load() }

// Leading reports whether this scheduler currently holds the leadership.
func (s *Scheduler) Leading() bool { return s.leading.Load() }

// Run competes for leadership and schedules while it leads, until ctx ends
// (then it returns nil). Losing the database connection loses leadership;
// Run then waits (with back-off) and competes again.
func (s *Scheduler) Run(ctx context.Context) error {
	backoff := newBackoff(s.cfg.LeaderRetry, 30*time.Second)
	for {
		tctx, cancel := context.WithTimeout(ctx, opTimeout)
		leader, err := s.st.TryLeadScheduler(tctx, s.cfg.RealmID)
		cancel()
		if ctx.Err() != nil {
			if leader != nil {
				leader.Release(context.WithoutCancel(ctx))
			}
			return nil
		}
		wait := jitter(s.cfg.LeaderRetry)
		switch {
		case err != nil:
			wait = backoff.next()
			s.logger.WarnContext(ctx, "scheduler leadership attempt failed", slog.Any("error", err), slog.Duration("retry_in", wait))
		case leader != nil:
			backoff.reset()
			err = s.lead(ctx, leader)
			leader.Release(context.WithoutCancel(ctx))
			s.setLeading(false)
			if ctx.Err() != nil {
				return nil
			}
			wait = backoff.next()
			s.logger.WarnContext(ctx, "scheduler leadership lost", slog.Any("error", err), slog.Duration("retry_in", wait))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

func (s *Scheduler) setLeading(v bool) {
	if s.leading.Swap(v) != v && s.cfg.OnLeadership != nil {
		s.cfg.OnLeadership(v)
	}
}

// lead schedules until ctx ends (nil) or the leader connection fails.
func (s *Scheduler) lead(ctx context.Context, leader *store.Leader) error {
	if err := leader.Listen(ctx, store.NotifyJobs, store.NotifyEvents); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "scheduler leading", slog.Int64("realm", s.cfg.RealmID))
	s.setLeading(true)
	s.queue = queueWatch{} // another leader may have canceled meanwhile: read afresh
	lctx, cancel := context.WithCancel(ctx)
	wake := make(chan struct{}, 1)
	listenErr := make(chan error, 1)
	go func() { listenErr <- s.listen(lctx, leader, wake) }()
	leaderDone := make(chan struct{})
	go func() {
		defer close(leaderDone)
		if s.cfg.WhileLeading != nil {
			s.cfg.WhileLeading(lctx)
		}
	}()
	expiryDone := s.expireArtifacts(lctx)
	defer func() {
		cancel()
		<-listenErr
		<-leaderDone
		<-expiryDone
	}()
	ticker := time.NewTicker(s.cfg.Tick)
	defer ticker.Stop()
	s.maintain(ctx)
	s.runPass(ctx, wake)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-listenErr:
			listenErr <- err // for the deferred receive
			return err
		case <-wake:
			if s.woken(ctx) {
				s.runPass(ctx, wake)
			}
		case <-ticker.C:
			s.maintain(ctx)
			s.runPass(ctx, wake)
		}
	}
}

// listen turns notifications into wake-ups: a job submission always, events
// when EventsWakeScheduler says so (checked by the pass loop, in batches).
// It returns nil when ctx ends, and an error when the connection fails.
func (s *Scheduler) listen(ctx context.Context, leader *store.Leader, wake chan<- struct{}) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, s.cfg.LeaderCheck)
		n, err := leader.WaitForNotification(wctx)
		timedOut := wctx.Err() != nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && timedOut:
			pctx, cancel := context.WithTimeout(ctx, opTimeout)
			err := leader.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		s.note(n)
		select {
		case wake <- struct{}{}:
		default: // a pass is already due: coalesce
		}
	}
}

func (s *Scheduler) note(n *pgconn.Notification) {
	if n.Channel == store.NotifyJobs {
		s.jobsPending.Store(true)
		return
	}
	id, err := strconv.ParseInt(n.Payload, 10, 64)
	if err != nil || id <= 0 {
		return
	}
	raise(&s.eventMax, id, func(cur int64) bool { return id > cur })
	raise(&s.eventMin, id, func(cur int64) bool { return cur == 0 || id < cur })
}

// raise stores v in a while better(current value) holds.
func raise(a *atomic.Int64, v int64, better func(int64) bool) {
	for {
		cur := a.Load()
		if !better(cur) || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// woken decides whether a wake-up warrants a pass: a job was submitted, or
// among the events notified since the last check one frees a device or
// changes a worker.
func (s *Scheduler) woken(ctx context.Context) bool {
	lo := s.eventMin.Swap(0)
	hi := s.eventMax.Load()
	if s.jobsPending.Swap(false) {
		return true
	}
	if lo == 0 || hi < lo {
		return false
	}
	if hi-lo >= maxWakeScan {
		return true
	}
	ok, err := s.st.EventsWakeScheduler(ctx, s.cfg.RealmID, lo-1, hi)
	if err != nil {
		s.logger.WarnContext(ctx, "read wake-up events", slog.Any("error", err))
		return true // a pass is cheap next to a missed job
	}
	return ok
}

// maintain applies worker liveness (stale workers go Offline, and jobs of
// workers gone for longer than the grace end Incomplete) and queue timeouts.
func (s *Scheduler) maintain(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	names, err := s.st.MarkStaleWorkersOffline(ctx, s.cfg.RealmID, s.cfg.WorkerTimeout)
	if err != nil {
		s.logger.WarnContext(ctx, "mark stale workers", slog.Any("error", err))
	}
	for _, n := range names {
		s.logger.InfoContext(ctx, "worker offline", slog.String("worker", n), slog.Duration("silent_for", s.cfg.WorkerTimeout))
	}
	lost, err := s.st.FailLostJobs(ctx, s.cfg.RealmID, s.cfg.WorkerTimeout+s.cfg.LostJobGrace)
	if err != nil {
		s.logger.WarnContext(ctx, "fail lost jobs", slog.Any("error", err))
	}
	for _, j := range lost {
		s.logger.WarnContext(ctx, "job lost with its worker", slog.Int64("job_id", j.ID), slog.String("worker", j.Worker))
	}
	orphans, err := s.st.FailOrphanJobs(ctx, s.cfg.RealmID, s.cfg.WorkerTimeout+s.cfg.LostJobGrace)
	if err != nil {
		s.logger.WarnContext(ctx, "fail orphan jobs", slog.Any("error", err))
	}
	for _, id := range orphans {
		s.logger.WarnContext(ctx, "dynamic connection ended with its group", slog.Int64("job_id", id))
	}
	s.expireQueued(ctx, time.Now())
	s.checkDevices(ctx)
	s.firePeriodic(ctx)
}

// runPass runs one pass; when some decisions met changed rows, it asks for
// another pass at once, since the state it read is stale.
func (s *Scheduler) runPass(ctx context.Context, wake chan<- struct{}) {
	pctx, cancel := context.WithTimeout(ctx, passTimeout)
	stats, err := s.Pass(pctx)
	cancel()
	if err != nil && ctx.Err() == nil {
		s.logger.WarnContext(ctx, "scheduling pass failed", slog.Any("error", err))
		return
	}
	if stats.Conflicts > 0 {
		s.jobsPending.Store(true)
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// Pass runs one scheduling pass now: read the state, decide, apply. It does
// not need leadership (Run calls it only while leading); tests and
// benchmarks call it directly.
func (s *Scheduler) Pass(ctx context.Context) (PassStats, error) {
	var stats PassStats
	start := time.Now()
	defer func() {
		stats.Total = time.Since(start)
		s.passes.Add(1)
		if s.cfg.OnPass != nil {
			s.cfg.OnPass(stats)
		}
	}()
	st, err := s.st.SchedulerState(ctx, s.cfg.RealmID, s.cfg.QueueWindow)
	if err != nil {
		return stats, err
	}
	stats.Jobs, stats.Devices = len(st.Jobs), len(st.Devices)
	stats.Load = time.Since(start)
	plan := Decide(State{Now: st.Now, Seed: rand.Uint64() | 1, Jobs: st.Jobs, Devices: st.Devices,
		DeviceTypes: st.DeviceTypes, Workers: st.Workers, Shares: st.Shares})
	stats.Decide = time.Since(start) - stats.Load
	err = s.apply(ctx, plan, &stats)
	stats.Apply = time.Since(start) - stats.Load - stats.Decide
	if stats.HealthChecks+stats.Assigned > 0 || stats.Conflicts+stats.Errors > 0 {
		s.logger.DebugContext(ctx, "scheduling pass", slog.Int("jobs", stats.Jobs), slog.Int("devices", stats.Devices),
			slog.Int("assigned", stats.Assigned), slog.Int("health_checks", stats.HealthChecks),
			slog.Int("conflicts", stats.Conflicts), slog.Duration("took", time.Since(start)))
	}
	return stats, err
}

// apply applies the plan, health checks first, ApplyConcurrency at a time.
// It returns the first error that is not a conflict.
func (s *Scheduler) apply(ctx context.Context, plan Plan, stats *PassStats) error {
	var mu sync.Mutex
	var firstErr error
	record := func(what string, attrs []any, n int, err error, counter *int) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			*counter += n
			s.logger.InfoContext(ctx, what, attrs...)
		case errors.Is(err, store.ErrConflict):
			stats.Conflicts++
		case errors.Is(err, store.ErrInvalidHealthCheck):
			stats.Errors++
			s.logger.WarnContext(ctx, "health check invalid: device set Bad", slog.Any("error", err))
		default:
			stats.Errors++
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	sem := make(chan struct{}, s.cfg.ApplyConcurrency)
	var wg sync.WaitGroup
	run := func(fn func()) {
		sem <- struct{}{}
		wg.Go(func() { defer func() { <-sem }(); fn() })
	}
	for _, hc := range plan.HealthChecks {
		run(func() {
			id, err := s.st.ApplyHealthCheck(ctx, s.cfg.RealmID, hc.DeviceID)
			record("health check scheduled", []any{slog.Int64("job_id", id), slog.Int64("device_id", hc.DeviceID)},
				1, err, &stats.HealthChecks)
		})
	}
	var single []store.Placement
	for _, a := range plan.Assignments {
		if len(a.Placements) == 1 && a.Placements[0].DeviceID != 0 {
			single = append(single, a.Placements[0])
			continue
		}
		run(func() {
			err := s.st.ApplyAssignment(ctx, s.cfg.RealmID, a.Placements)
			p := a.Placements[0]
			record("job scheduled", []any{slog.Int64("job_id", p.JobID), slog.Int64("device_id", p.DeviceID),
				slog.Int("jobs", len(a.Placements))}, len(a.Placements), err, &stats.Assigned)
		})
	}
	for batch := range slices.Chunk(single, applyBatch) {
		run(func() {
			applied, err := s.st.ApplyPlacements(ctx, s.cfg.RealmID, batch)
			for _, p := range applied {
				record("job scheduled", []any{slog.Int64("job_id", p.JobID), slog.Int64("device_id", p.DeviceID),
					slog.Int("jobs", 1)}, 1, nil, &stats.Assigned)
			}
			if err != nil {
				record("", nil, 0, err, nil)
				return
			}
			mu.Lock()
			stats.Conflicts += len(batch) - len(applied)
			mu.Unlock()
		})
	}
	wg.Wait()
	return firstErr
}

// applyBatch is how many single-node placements one transaction applies:
// large enough that a pass over 2,000 devices takes a few transactions,
// small enough that they run in parallel and hold few locks.
const applyBatch = 250

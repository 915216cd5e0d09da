package run

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Step is one action of the pipeline: a leaf with Run, or a group whose
// Children run in order. Levels ("2.1") are assigned by number.
type Step struct {
	Name        string
	Description string
	Level       string
	Timeout     time.Duration
	// TimeoutType is the error type raised when the step runs out of time:
	// TypeJob for most actions, TypeTimeout for the test shell (LAVA
	// re-raises that one as a TestError), TypeInfrastructure for some.
	TimeoutType string
	// Skip lets the job continue after this top-level step times out
	// (the action block's timeout: {skip: true}).
	Skip     bool
	Run      func(ctx context.Context, s *Step) error
	Children []*Step
	// Extra is reported in the step's lava result; Run may fill it.
	Extra map[string]any
	// Namespace of the job action ("common" when the job has none).
	Namespace string
	// Attempts is the action's failure_retry: a top-level step that fails
	// with an InfrastructureError, JobError or TestError runs again, with a
	// fresh timeout, up to this many times in all (LAVA's RetryAction).
	Attempts      int
	RetryInterval time.Duration
}

func (s *Step) ns() string {
	if s.Namespace == "" {
		return "common"
	}
	return s.Namespace
}

// number assigns levels below prefix ("" for the root pipeline).
func number(steps []*Step, prefix string) {
	for i, s := range steps {
		s.Level = strconv.Itoa(i + 1)
		if prefix != "" {
			s.Level = prefix + "." + s.Level
		}
		number(s.Children, s.Level)
	}
}

// describe renders the pipeline as LAVA's description.yaml list.
func describe(steps []*Step) []map[string]any {
	out := make([]map[string]any, 0, len(steps))
	for _, s := range steps {
		d := map[string]any{
			"name": s.Name, "level": s.Level, "description": s.Description,
			"summary": s.Description, "timeout": int(s.Timeout.Seconds()), "max_retries": 1,
		}
		if len(s.Children) > 0 {
			d["pipeline"] = describe(s.Children)
		}
		out = append(out, d)
	}
	return out
}

// runner runs steps with their timeouts and logs LAVA's start/end lines and
// per-action results.
type runner struct {
	log *Logger
	now func() time.Time
	// base carries the job timeout and the cancel; every step's context
	// derives from it. Nil means the context passed to runSteps.
	base context.Context
}

// stepContext bounds a step by its own timeout and its parent's deadline.
// As LAVA's nested alarms, when the parent step runs out first the child
// still fails with its own error (a test shell stays a LAVATimeoutError):
// the child's context hangs off r.base (job timeout and cancel) rather than
// off the parent step, with the earlier of the two deadlines, so the
// parent's timer can never win the race.
func (r *runner) stepContext(parent context.Context, s *Step, start time.Time) (context.Context, context.CancelFunc, time.Duration) {
	base := r.base
	if base == nil {
		base = parent
	}
	dl := start.Add(s.Timeout)
	if pd, ok := parent.Deadline(); ok && pd.Before(dl) {
		dl = pd
	}
	if jd, ok := base.Deadline(); ok && !dl.Before(jd) {
		// The job (or cleanup) deadline comes first: its cause names it.
		ctx, cancel := context.WithCancel(base)
		return ctx, cancel, jd.Sub(start)
	}
	typ := s.TimeoutType
	if typ == "" {
		typ = TypeJob
	}
	secs := int(dl.Sub(start).Round(time.Second).Seconds())
	cause := &Error{Type: typ, Msg: fmt.Sprintf("%s timed out after %d seconds", s.Name, secs)}
	ctx, cancel := context.WithDeadlineCause(base, dl, cause)
	return ctx, cancel, dl.Sub(start)
}

func (r *runner) runSteps(ctx context.Context, steps []*Step, top bool) error {
	for _, s := range steps {
		err := r.runStep(ctx, s, top)
		if err == nil {
			continue
		}
		e := classify(ctx, err)
		if top && s.Skip && e.Type == TypeTimeout {
			r.log.Warningf("skip_timeout is set for %s - continuing to next action block.", s.Name)
			continue
		}
		return e
	}
	return nil
}

func (r *runner) runStep(parent context.Context, s *Step, top bool) error {
	attempts := max(1, s.Attempts)
	for i := 1; ; i++ {
		err := r.runStepOnce(parent, s, top)
		if err == nil || i >= attempts || parent.Err() != nil || !retryable(err) {
			return err
		}
		r.log.Errorf("%s failed: %d of %d attempts. '%v'", s.Name, i, attempts, err)
		if !sleepCtx(parent, s.RetryInterval) {
			return err
		}
		r.log.Warningf("Retrying: %s %s (timeout %s)", s.Level, s.Name, clock(s.Timeout))
	}
}

// retryable: LAVA retries these errors, never a bug or a cancel.
func retryable(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && (e.Type == TypeInfrastructure || e.Type == TypeJob || e.Type == TypeTest)
}

func (r *runner) runStepOnce(parent context.Context, s *Step, top bool) (err error) {
	start := r.now()
	ctx, cancel, remaining := r.stepContext(parent, s, start)
	defer cancel()
	logf := r.log.Debugf
	if top {
		logf = r.log.Infof
	}
	logf("start: %s %s (timeout %s) [%s]", s.Level, s.Name, clock(remaining), s.ns())
	defer func() {
		if p := recover(); p != nil {
			err = Bug("%s: panic: %v", s.Name, p)
		}
		if err != nil {
			if _, typed := errors.AsType[*Error](err); !typed && ctx.Err() != nil {
				err = context.Cause(ctx) // the timeout or cancel explains the failure
			}
			e := classify(ctx, err)
			if e.Type == TypeTimeout && !s.Skip {
				// LAVA turns a test shell timeout into a TestError.
				e = &Error{Type: TypeTest, Msg: e.Msg, Err: e}
			}
			err = e
			r.log.Exception(e.Msg)
		}
		elapsed := r.now().Sub(start)
		logf("end: %s %s (duration %s) [%s]", s.Level, s.Name, clock(elapsed.Round(time.Second)), s.ns())
		r.results(s, elapsed, err)
	}()
	if s.Run != nil {
		if err := s.Run(ctx, s); err != nil {
			return err
		}
	}
	if len(s.Children) > 0 {
		return r.runSteps(ctx, s.Children, false)
	}
	return nil
}

func (r *runner) results(s *Step, elapsed time.Duration, err error) {
	res := map[string]any{
		"definition": "lava", "namespace": s.ns(), "case": s.Name, "level": s.Level,
		"duration": fmt.Sprintf("%.02f", elapsed.Seconds()), "result": "pass",
	}
	extra := map[string]any{}
	for k, v := range s.Extra {
		extra[k] = v
	}
	if err != nil {
		res["result"] = "fail"
		extra["fail"] = err.Error()
	}
	if len(extra) > 0 {
		res["extra"] = extra
	}
	r.log.Results(res)
}

// clock formats a duration as LAVA's seconds_to_str: HH:MM:SS.
func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d.Seconds())
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"golava/pkg/jobdef"
	"golava/server/store"
)

// maxFiresPerTick bounds the periodic jobs fired in one maintenance run;
// the rest fire on the next tick.
const maxFiresPerTick = 100

// firePeriodic submits the periodic jobs that are due. Only the leader runs
// it; each schedule is claimed (next run moved past now) before its job is
// submitted, so a schedule fires once per due time even when runs were
// missed while no scheduler ran.
func (s *Scheduler) firePeriodic(ctx context.Context) {
	next := func(p *store.PeriodicJob) (time.Time, error) {
		c, err := ParseCron(p.Cron, p.Timezone)
		if err != nil {
			return time.Time{}, err
		}
		return c.Next(time.Now()), nil
	}
	for range maxFiresPerTick {
		p, err := s.st.ClaimDuePeriodicJob(ctx, s.cfg.RealmID, next)
		if err != nil {
			s.logger.WarnContext(ctx, "claim periodic job", slog.Any("error", err))
			return
		}
		if p == nil {
			return
		}
		jobID, ferr := s.submitPeriodic(ctx, p)
		msg := ""
		if ferr != nil {
			msg = ferr.Error()
			s.logger.WarnContext(ctx, "periodic job not submitted", slog.String("schedule", p.Name), slog.Any("error", ferr))
		} else {
			s.logger.InfoContext(ctx, "periodic job submitted", slog.String("schedule", p.Name), slog.Int64("job_id", jobID))
		}
		if err := s.st.PeriodicJobFired(ctx, p.ID, jobID, msg); err != nil {
			s.logger.WarnContext(ctx, "record periodic job", slog.Any("error", err))
		}
	}
}

func (s *Scheduler) submitPeriodic(ctx context.Context, p *store.PeriodicJob) (int64, error) {
	job, err := jobdef.ParseWith([]byte(p.Definition), jobdef.Options{Submission: true})
	if err != nil {
		return 0, fmt.Errorf("definition: %w", err)
	}
	owner, err := s.st.UserByID(ctx, p.OwnerID)
	if err != nil {
		return 0, fmt.Errorf("owner: %w", err)
	}
	ids, err := s.st.SubmitJob(ctx, s.cfg.RealmID, owner, p.Definition, job)
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

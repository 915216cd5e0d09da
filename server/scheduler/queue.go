package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Queue timeouts: a job whose definition sets timeouts.queue is canceled if
// it is still queued that long after submission (LAVA's check_queue_timeout).
// The scheduler reads each new queued job's definition once, keeps the
// deadlines of those that have one, and cancels on the tick.

// queueTimeout returns timeouts.queue of a job definition (days, hours,
// minutes and seconds added up, as LAVA's Timeout.parse), and false when
// there is none.
func queueTimeout(definition string) (time.Duration, bool) {
	if !strings.Contains(definition, "queue") {
		return 0, false
	}
	var doc struct {
		Timeouts struct {
			Queue map[string]float64 `yaml:"queue"`
		} `yaml:"timeouts"`
	}
	if err := yaml.Unmarshal([]byte(definition), &doc); err != nil {
		return 0, false
	}
	units := map[string]time.Duration{"days": 24 * time.Hour, "hours": time.Hour, "minutes": time.Minute, "seconds": time.Second}
	var d time.Duration
	for k, v := range doc.Timeouts.Queue {
		d += time.Duration(v * float64(units[k]))
	}
	return d, d > 0
}

// queueWatch is the pass loop's record of queue deadlines.
type queueWatch struct {
	after     int64 // newest job id whose definition was read
	deadlines map[int64]time.Time
}

// expireQueued reads the definitions of jobs queued since the last call and
// cancels the queued jobs whose queue timeout has passed.
func (s *Scheduler) expireQueued(ctx context.Context, now time.Time) {
	if s.queue.deadlines == nil {
		s.queue.deadlines = map[int64]time.Time{}
	}
	defs, next, err := s.st.QueuedDefinitions(ctx, s.cfg.RealmID, s.queue.after)
	if err != nil {
		s.logger.WarnContext(ctx, "read queue timeouts", slog.Any("error", err))
		return
	}
	s.queue.after = next
	for _, d := range defs {
		if t, ok := queueTimeout(d.Definition); ok {
			s.queue.deadlines[d.ID] = d.SubmitTime.Add(t)
		}
	}
	for id, deadline := range s.queue.deadlines {
		if now.Before(deadline) {
			continue
		}
		comment := fmt.Sprintf("Canceled: still queued at the end of its queue timeout (%s)", deadline.UTC().Format(time.RFC3339))
		canceled, err := s.st.CancelQueued(ctx, s.cfg.RealmID, id, comment)
		if err != nil {
			s.logger.WarnContext(ctx, "cancel job at queue timeout", slog.Int64("job_id", id), slog.Any("error", err))
			continue
		}
		delete(s.queue.deadlines, id)
		if canceled {
			s.logger.InfoContext(ctx, "job canceled at queue timeout", slog.Int64("job_id", id))
		}
	}
}

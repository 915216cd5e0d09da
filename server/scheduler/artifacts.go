package scheduler

import (
	"context"
	"log/slog"
	"time"
)

// ArtifactExpirer is the artifact lifecycle the leader enforces
// (server/artifacts.Service): it removes realmID's artifacts expired
// before now and says how many went.
type ArtifactExpirer interface {
	Expire(ctx context.Context, realmID int64, now time.Time) (int, error)
}

// DefaultArtifactExpiry is how often a leader expires its realm's
// artifacts.
const DefaultArtifactExpiry = time.Minute

// expireArtifacts runs the artifact lifecycle of the led realm at once and
// then every cfg.ArtifactExpiry until ctx ends; the returned channel closes
// when it has stopped. Nothing runs without cfg.Artifacts.
func (s *Scheduler) expireArtifacts(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if s.cfg.Artifacts == nil {
		close(done)
		return done
	}
	every := s.cfg.ArtifactExpiry
	if every <= 0 {
		every = DefaultArtifactExpiry
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			n, err := s.cfg.Artifacts.Expire(ctx, s.cfg.RealmID, time.Now())
			if n > 0 {
				s.logger.InfoContext(ctx, "artifacts expired", slog.Int64("realm", s.cfg.RealmID), slog.Int("count", n))
			}
			if err != nil && ctx.Err() == nil {
				s.logger.WarnContext(ctx, "artifact expiry", slog.Int64("realm", s.cfg.RealmID), slog.Any("error", err))
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return done
}

package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"golava/server/store"
)

// RealmsCheck is how often RunRealms looks for realms added since.
const RealmsCheck = 10 * time.Second

// RunRealms schedules every realm: one Scheduler (with its own leader
// election) per realm, started as realms appear, so `lava-server realms
// add` needs no scheduler restart. cfg.RealmID is ignored. It returns when
// ctx ends and every realm's scheduler has stopped.
func RunRealms(ctx context.Context, st *store.Store, logger *slog.Logger, cfg Config) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	started := map[int64]bool{}
	tick := time.NewTicker(RealmsCheck)
	defer tick.Stop()
	for {
		ids, err := st.RealmIDs(ctx)
		if err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "list realms", slog.Any("error", err))
		}
		for _, id := range ids {
			if started[id] {
				continue
			}
			started[id] = true
			c := cfg
			c.RealmID = id
			if id != store.DefaultRealm {
				// Installation-wide duties (retention of every realm) go
				// with the default realm's leader only.
				c.WhileLeading = nil
			}
			s := New(st, logger, c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Run(ctx); err != nil {
					logger.ErrorContext(ctx, "realm scheduler stopped", slog.Int64("realm", id), slog.Any("error", err))
				}
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

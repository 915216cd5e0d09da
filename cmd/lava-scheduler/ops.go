package main

import (
	"context"
	"log/slog"

	"golava/pkg/metrics"
	"golava/server/ops"
	"golava/server/scheduler"
	"golava/server/store"
)

// withOps adds to cfg the pass metrics and, with a policy file, retention
// while leading, and serves /metrics, /healthz and /readyz on listen
// (nothing when empty).
func withOps(ctx context.Context, cfg *scheduler.Config, st *store.Store, listen, retentionFile string, logger *slog.Logger) (<-chan error, error) {
	sm := ops.NewSchedulerMetrics()
	cfg.OnLeadership = sm.OnLeadership
	cfg.OnPass = sm.OnPass
	cs := sm.Collectors()
	if retentionFile != "" {
		pol, err := ops.LoadPolicy(retentionFile)
		if err != nil {
			return nil, err
		}
		ret := ops.NewRetention(st.Pool(), cfg.RealmID, *pol, logger.With("service", "retention"))
		cfg.WhileLeading = ret.Run
		cs = append(cs, ret.Collectors()...)
	}
	return metrics.Start(ctx, metrics.Config{
		Listen: listen, Gatherer: metrics.NewRegistry(cs...), Logger: logger,
		Ready: func(ctx context.Context) error { return st.Pool().Ping(ctx) },
	})
}

package main

import (
	"context"
	"log/slog"

	"golava/pkg/metrics"
	"golava/server/ops"
	"golava/server/publisher"
	"golava/server/store"
)

// startMetrics serves /metrics (clients, events, drops), /healthz and
// /readyz on listen; nothing when empty.
func startMetrics(ctx context.Context, listen string, hub *publisher.Hub, st *store.Store, logger *slog.Logger) error {
	_, err := metrics.Start(ctx, metrics.Config{
		Listen: listen, Gatherer: metrics.NewRegistry(ops.PublisherCollectors(hub)...), Logger: logger,
		Ready: func(ctx context.Context) error { return st.Pool().Ping(ctx) },
	})
	return err
}

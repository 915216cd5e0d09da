package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"golava/coordinator"
	"golava/pkg/metrics"
)

// startMetrics serves /metrics (open groups), /healthz and /readyz on
// listen; nothing when empty.
func startMetrics(ctx context.Context, listen string, srv *coordinator.Server, logger *slog.Logger) error {
	groups := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: metrics.Namespace, Subsystem: "coordinator", Name: "groups",
		Help: "MultiNode groups the coordinator holds now.",
	}, func() float64 { return float64(srv.Groups()) })
	_, err := metrics.Start(ctx, metrics.Config{Listen: listen, Gatherer: metrics.NewRegistry(groups), Logger: logger})
	return err
}

package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"golava/pkg/metrics"
	"golava/worker/daemon"
)

// startMetrics serves the worker's /metrics, /healthz and /readyz on
// listen (nothing when empty) and hooks the job-end metrics into cfg.
func startMetrics(ctx context.Context, listen string, cfg *daemon.Config, logger *slog.Logger) (<-chan error, error) {
	wm := metrics.NewWorkerMetrics()
	cfg.OnJobEnd = func(id int64, result, dir string) {
		if err := wm.JobEnded(result, dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			logger.Warn("read lava-run metrics", "job_id", id, "error", err)
		}
	}
	return metrics.Start(ctx, metrics.Config{
		Listen: listen, Gatherer: metrics.NewRegistry(wm.Collectors()...), Logger: logger,
	})
}

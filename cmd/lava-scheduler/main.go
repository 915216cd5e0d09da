// Command lava-scheduler hands queued jobs to idle devices. Run as many as
// you like: one leads (a PostgreSQL advisory lock), the others stand by.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golava/server/artifacts"
	"golava/server/scheduler"
	"golava/server/store"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// envDuration and envInt read a fallback, reporting a bad value by name.
func envDuration(name string, def time.Duration, bad *error) time.Duration {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		*bad = fmt.Errorf("%s=%q: %w", name, v, err)
		return def
	}
	return d
}

func envInt(name string, def int64, bad *error) int64 {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		*bad = fmt.Errorf("%s=%q: %w", name, v, err)
		return def
	}
	return n
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("lava-scheduler", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var envErr error
	dbURL := fs.String("database-url", env("LAVA_DATABASE_URL", ""), "PostgreSQL URL, e.g. postgres://lava@127.0.0.1/lava (env LAVA_DATABASE_URL; required)")
	realm := fs.Int64("realm", envInt("LAVA_REALM", 0, &envErr), "id of the one realm to schedule; 0 schedules every realm, including realms added later (env LAVA_REALM)")
	tick := fs.Duration("tick", envDuration("LAVA_SCHEDULER_TICK", time.Second, &envErr), "pass period without notifications; also the worker liveness check period (env LAVA_SCHEDULER_TICK)")
	workerTimeout := fs.Duration("worker-timeout", envDuration("LAVA_WORKER_TIMEOUT", 60*time.Second, &envErr), "a worker without a ping for this long goes Offline (env LAVA_WORKER_TIMEOUT)")
	lostGrace := fs.Duration("lost-job-grace", envDuration("LAVA_LOST_JOB_GRACE", 5*time.Minute, &envErr), "jobs of a worker Offline for this long end Incomplete (env LAVA_LOST_JOB_GRACE)")
	window := fs.Int("queue-window", int(envInt("LAVA_SCHEDULER_QUEUE_WINDOW", store.DefaultQueueWindow, &envErr)), "queued jobs read per device type per pass (env LAVA_SCHEDULER_QUEUE_WINDOW)")
	metricsListen := fs.String("metrics-listen", env("LAVA_METRICS_LISTEN", ""), "serve /metrics, /healthz and /readyz here, e.g. 127.0.0.1:9102; empty: off (env LAVA_METRICS_LISTEN)")
	retention := fs.String("retention", env("LAVA_RETENTION", ""), "retention policy file (YAML) applied while leading; empty: keep everything (env LAVA_RETENTION)")
	dtDir := fs.String("device-types", env("LAVA_DEVICE_TYPES_DIR", ""), "extra folder of device-type templates, as lava-server's (env LAVA_DEVICE_TYPES_DIR)")
	checkDevices := fs.Bool("check-devices", true, "set Bad the devices whose configuration does not render, as LAVA does")
	level := fs.String("log-level", env("LAVA_LOG_LEVEL", "info"), "debug, info, warn or error (env LAVA_LOG_LEVEL)")
	var artCfg artifacts.Config
	artCfg.Flags(fs, "") // the same storage as lava-server's; none: no artifact expiry
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if envErr != nil {
		fmt.Fprintf(stderr, "lava-scheduler: %v\n", envErr)
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "lava-scheduler: --log-level %q: %v\n", *level, err)
		return 2
	}
	if *dbURL == "" {
		fmt.Fprintln(stderr, "lava-scheduler: --database-url (or LAVA_DATABASE_URL) is required")
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := store.Open(ctx, *dbURL)
	if err != nil {
		logger.Error("open database", slog.Any("error", err))
		return 1
	}
	defer st.Close()
	cfg := scheduler.Config{
		RealmID: *realm, Tick: *tick, WorkerTimeout: *workerTimeout, LostJobGrace: *lostGrace, QueueWindow: *window,
		CheckDevices: *checkDevices, DeviceTypesDir: *dtDir,
	}
	if b, err := artCfg.Backend(ctx); err != nil {
		logger.Error("artifact storage", slog.Any("error", err))
		return 1
	} else if b != nil {
		cfg.Artifacts = artifacts.NewService(st, b, logger.With("service", "artifacts"), artCfg.MaxSize)
	}
	if _, err := withOps(ctx, &cfg, st, *metricsListen, *retention, logger); err != nil {
		logger.Error("metrics and retention", slog.Any("error", err))
		return 1
	}
	run := scheduler.New(st, logger, cfg).Run
	if *realm == 0 {
		run = func(ctx context.Context) error { return scheduler.RunRealms(ctx, st, logger, cfg) }
	}
	if err := run(ctx); err != nil {
		logger.Error("scheduler stopped", slog.Any("error", err))
		return 1
	}
	return 0
}

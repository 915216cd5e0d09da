// Command lava-coordinator runs the MultiNode coordinator (TCP, port 3079).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"golava/coordinator"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

// lavaConf is /etc/lava-coordinator/lava-coordinator.conf; only port is used
// by the server, the rest is for clients reading the same file.
type lavaConf struct {
	Port                int     `json:"port"`
	BlockSize           int     `json:"blocksize"`
	PollDelay           float64 `json:"poll_delay"`
	CoordinatorHostname string  `json:"coordinator_hostname"`
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("lava-coordinator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", env("LAVA_COORDINATOR_LISTEN", ""), "TCP address to listen on; default 0.0.0.0:<port from --config, else 3079> (env LAVA_COORDINATOR_LISTEN)")
	stateFile := fs.String("state-file", env("LAVA_COORDINATOR_STATE_FILE", ""), "file keeping group state across restarts; empty keeps it in memory only (env LAVA_COORDINATOR_STATE_FILE)")
	confPath := fs.String("config", env("LAVA_COORDINATOR_CONFIG", ""), "LAVA lava-coordinator.conf (JSON: port, blocksize, poll_delay, coordinator_hostname) (env LAVA_COORDINATOR_CONFIG)")
	maxMsg := fs.Int("max-message", coordinator.DefaultMaxMessage, "largest request accepted, in bytes")
	metricsListen := fs.String("metrics-listen", env("LAVA_METRICS_LISTEN", ""), "serve /metrics, /healthz and /readyz here, e.g. 127.0.0.1:9104; empty: off (env LAVA_METRICS_LISTEN)")
	level := fs.String("log-level", env("LAVA_LOG_LEVEL", "info"), "debug, info, warn or error (env LAVA_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "lava-coordinator: --log-level %q: %v\n", *level, err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	addr, err := listenAddr(*listen, *confPath)
	if err != nil {
		fmt.Fprintf(stderr, "lava-coordinator: %v\n", err)
		return 2
	}
	srv, err := coordinator.New(coordinator.Config{Listen: addr, StateFile: *stateFile, Logger: logger, MaxMessage: *maxMsg})
	if err != nil {
		logger.Error("start", slog.Any("error", err))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := startMetrics(ctx, *metricsListen, srv, logger); err != nil {
		logger.Error("start", slog.Any("error", err))
		return 1
	}
	if err := srv.Run(ctx); err != nil {
		logger.Error("coordinator stopped", slog.Any("error", err))
		return 1
	}
	return 0
}

// listenAddr is --listen, else 0.0.0.0 with the port of the LAVA config.
func listenAddr(listen, confPath string) (string, error) {
	if listen != "" {
		return listen, nil
	}
	port := coordinator.DefaultPort
	if confPath != "" {
		b, err := os.ReadFile(confPath)
		if err != nil {
			return "", fmt.Errorf("read --config: %w", err)
		}
		var c lavaConf
		if err := json.Unmarshal(b, &c); err != nil {
			return "", fmt.Errorf("parse --config %s: %w", confPath, err)
		}
		if c.Port != 0 {
			port = c.Port
		}
	}
	return net.JoinHostPort("0.0.0.0", strconv.Itoa(port)), nil
}

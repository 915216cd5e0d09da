// Command lava-run runs one LAVA job on one device; lava-worker starts it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golava/worker/run"
)

func main() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) }

// Main parses args like LAVA's lava-run, runs the job and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args, stderr)
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "lava-run: %v\n", err)
		return 2
	}
	cfg.Stdout, cfg.Stderr = stdout, stderr
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			cancel(run.ErrCanceled)
		}
	}()
	return run.Run(ctx, cfg).ExitCode()
}

func parseArgs(args []string, stderr io.Writer) (run.Config, error) {
	var cfg run.Config
	fs := flag.NewFlagSet("lava-run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lava-run --device=FILE --output-dir=DIR --job-id=ID [options] JOB.yaml [--env-dut=FILE]")
		fs.PrintDefaults()
	}
	interval := fs.Int("job-log-interval", 5, "seconds between two log uploads to the server")
	fs.StringVar(&cfg.DevicePath, "device", "", "device configuration (rendered device dictionary), required")
	fs.StringVar(&cfg.DispatcherPath, "dispatcher", "", "dispatcher configuration (may be empty)")
	fs.StringVar(&cfg.EnvDUTPath, "env-dut", "", "DUT environment file")
	fs.StringVar(&cfg.OutputDir, "output-dir", "", "directory for the job's files, required")
	fs.StringVar(&cfg.JobID, "job-id", "", "job identifier, required")
	fs.StringVar(&cfg.URL, "url", os.Getenv("LAVA_URL"), "server URL to send logs to; stdout when empty (env LAVA_URL)")
	fs.StringVar(&cfg.Token, "token", os.Getenv("LAVA_TOKEN"), "job token for the server (env LAVA_TOKEN)")
	fs.BoolVar(&cfg.Debug, "debug", false, "accepted for compatibility; no effect")
	fs.BoolVar(&cfg.ValidateOnly, "validate", false, "only validate the job and write description.yaml")
	tftpRoot := os.Getenv("LAVA_TFTP_ROOT")
	if tftpRoot == "" {
		tftpRoot = run.TFTPRootFromConfig("/etc/default/tftpd-hpa")
	}
	fs.StringVar(&cfg.TFTPRoot, "tftp-root", tftpRoot, "folder tftpd-hpa serves, for deploy to: tftp (env LAVA_TFTP_ROOT; default TFTP_DIRECTORY of /etc/default/tftpd-hpa)")
	coordConf := fs.String("coordinator-conf", "/etc/lava-coordinator/lava-coordinator.conf", "MultiNode coordinator settings (LAVA's JSON lava-coordinator.conf); optional")
	coordAddr := fs.String("coordinator", os.Getenv("LAVA_COORDINATOR"), "MultiNode coordinator host:port, overriding the conf file (env LAVA_COORDINATOR)")
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return cfg, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// LAVA's argparse accepts options after the job file (--env-dut).
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	if len(positional) != 1 {
		return cfg, fmt.Errorf("expected exactly one job definition, got %d (%s)", len(positional), strings.Join(positional, " "))
	}
	cfg.JobPath = positional[0]
	cc, _, err := run.ReadCoordinatorConf(*coordConf)
	if err != nil {
		return cfg, err
	}
	if *coordAddr != "" {
		if err := cc.SetAddr(*coordAddr); err != nil {
			return cfg, err
		}
	}
	cfg.Coordinator = cc
	cfg.LogInterval = time.Duration(*interval) * time.Second
	for name, v := range map[string]string{"--device": cfg.DevicePath, "--output-dir": cfg.OutputDir, "--job-id": cfg.JobID} {
		if v == "" {
			return cfg, fmt.Errorf("%s is required", name)
		}
	}
	return cfg, nil
}

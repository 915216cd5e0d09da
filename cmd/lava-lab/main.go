// Command lava-lab runs a whole golava lab on one machine.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golava/pkg/events"
	"golava/server/lab"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("lava-lab", flag.ContinueOnError)
	var cfg lab.Config
	level := new(slog.LevelVar)
	fs.StringVar(&cfg.DataDir, "data", env("LAVA_DATA_DIR", "data"), "folder for the PostgreSQL cluster, boards, worker and admin-token (env LAVA_DATA_DIR)")
	fs.StringVar(&cfg.Listen, "listen", env("LAVA_LISTEN", "127.0.0.1:8000"), "API address: REST, XML-RPC, worker API and /ws/ (env LAVA_LISTEN)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", os.Getenv("LAVA_DATABASE_URL"), "use this PostgreSQL instead of a private cluster under --data (env LAVA_DATABASE_URL)")
	fs.StringVar(&cfg.BinDir, "bin-dir", os.Getenv("LAVA_BIN_DIR"), "folder of lava-run and lava-dut-sim (default: this program's folder; env LAVA_BIN_DIR)")
	fs.IntVar(&cfg.Boards, "boards", 2, "number of simulated dut-sim boards")
	fs.StringVar(&cfg.CoordinatorListen, "coordinator-listen", env("LAVA_COORDINATOR_LISTEN", "127.0.0.1:3079"), "MultiNode coordinator address (env LAVA_COORDINATOR_LISTEN)")
	fs.StringVar(&cfg.ZMQListen, "zmq-listen", os.Getenv("LAVA_ZMQ_LISTEN"), "publish events on ZMQ PUB at this address, e.g. tcp://127.0.0.1:5500; empty: off (env LAVA_ZMQ_LISTEN)")
	zmqRealms := fs.String("zmq-realm", os.Getenv("LAVA_ZMQ_REALMS"), "comma-separated REALM=ADDRESS: a ZMQ PUB socket of its own for each of these realms (env LAVA_ZMQ_REALMS)")
	fs.StringVar(&cfg.DeviceTypesDir, "device-types", os.Getenv("LAVA_DEVICE_TYPES_DIR"), "extra folder of device-type templates (env LAVA_DEVICE_TYPES_DIR)")
	fs.DurationVar(&cfg.PingInterval, "ping-interval", 20*time.Second, "ping interval of the embedded worker")
	fs.BoolVar(&cfg.ExternalWorker, "external-worker", false, "start no embedded worker; write the worker token to <data>/worker-token for a lava-worker named lab started separately")
	fs.StringVar(&cfg.AdminPassword, "admin-password", os.Getenv("LAVA_ADMIN_PASSWORD"), "set the admin user's password, to log in to the web UI (env LAVA_ADMIN_PASSWORD)")
	smtp := fs.String("smtp", os.Getenv("LAVA_SMTP"), "SMTP server host:port for job notification mails; empty: no mail (env LAVA_SMTP)")
	fs.StringVar(&cfg.Notify.From, "mail-from", env("LAVA_MAIL_FROM", "lava@localhost"), "sender of notification mails (env LAVA_MAIL_FROM)")
	fs.StringVar(&cfg.MasterKeyFile, "master-key-file", os.Getenv("LAVA_MASTER_KEY_FILE"), "master key of realm secrets (default <data>/master.key, created 0600 when missing; env LAVA_MASTER_KEY_FILE)")
	cfg.Artifacts.Flags(fs, "") // empty: <data>/artifacts
	debug := fs.Bool("debug", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if cfg.ZMQRealms, err = events.ParseRealmSockets(*zmqRealms); err != nil {
		fmt.Fprintln(os.Stderr, "lava-lab: --zmq-realm:", err)
		return 2
	}
	if err := cfg.Notify.SetSMTPAddr(*smtp); err != nil {
		fmt.Fprintln(os.Stderr, "lava-lab:", err)
		return 2
	}
	if *debug {
		level.Set(slog.LevelDebug)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := lab.Run(ctx, cfg, logger); err != nil {
		fmt.Fprintln(os.Stderr, "lava-lab:", err)
		return 1
	}
	return 0
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Command lava-worker runs on a lab host: it registers with the server,
// pings it and runs one lava-run per job. Flags are LAVA 2023.01's, each with
// a LAVA_* environment fallback; see worker/daemon for the behaviour.
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
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golava/pkg/workerapi"
	"golava/worker/daemon"
)

const defaultLogFile = "/var/log/lava-dispatcher/lava-worker.log"

func main() { os.Exit(run(os.Args[1:], os.LookupEnv, os.Stdin, os.Stderr)) }

// options are the parsed flags.
type options struct {
	cfg      daemon.Config
	logFile  string
	logSet   bool // --log-file or LAVA_LOG_FILE given: no fallback to stderr
	level    slog.Level
	password bool // prompt for the password of --username
	// metricsListen serves /metrics, /healthz and /readyz; empty: off.
	metricsListen string
}

func run(args []string, lookup func(string) (string, bool), stdin *os.File, stderr io.Writer) int {
	opts, err := parseFlags(args, lookup, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "lava-worker: %v\n", err)
		return 2
	}
	if opts.password {
		if opts.cfg.Password, err = readPassword(stdin, stderr); err != nil {
			fmt.Fprintf(stderr, "lava-worker: %v\n", err)
			return 1
		}
	}
	out, err := openLog(opts.logFile, opts.logSet, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "lava-worker: %v\n", err)
		return 1
	}
	defer out.Close()
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: opts.level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second signal kills at once, even while --wait-jobs waits.
		<-ctx.Done()
		stop()
	}()
	if _, err := startMetrics(ctx, opts.metricsListen, &opts.cfg, logger); err != nil {
		fmt.Fprintf(stderr, "lava-worker: %v\n", err)
		return 1
	}
	err = daemon.Run(ctx, opts.cfg, logger)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, workerapi.ErrVersionMismatch):
		// LAVA exits 0 here so that a supervisor does not restart a worker
		// that is waiting for its package upgrade.
		logger.Info("exiting", "reason", err)
		return 0
	default:
		logger.Error("exiting", "error", err)
		return 1
	}
}

// env reads LAVA_* fallbacks for flag defaults.
type env func(string) (string, bool)

func (e env) str(name, def string) string {
	if v, ok := e(name); ok {
		return v
	}
	return def
}

func (e env) int(name string, def int) (int, error) {
	v, ok := e(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not an integer", name, v)
	}
	return n, nil
}

func (e env) bool(name string, def bool) (bool, error) {
	v, ok := e(name)
	if !ok {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: not a boolean", name, v)
	}
	return b, nil
}

var validName = regexp.MustCompile(`^[-_a-zA-Z0-9.]+$`)

func parseFlags(args []string, lookup func(string) (string, bool), stderr io.Writer) (options, error) {
	e := env(lookup)
	d := daemon.DefaultConfig()
	host, _ := os.Hostname()
	var errs []error
	intEnv := func(name string, def int) int { n, err := e.int(name, def); errs = append(errs, err); return n }
	boolEnv := func(name string, def bool) bool { b, err := e.bool(name, def); errs = append(errs, err); return b }

	fs := flag.NewFlagSet("lava-worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	c := &o.cfg
	fs.StringVar(&c.Name, "name", e.str("LAVA_WORKER_NAME", host), "name of the worker (env LAVA_WORKER_NAME)")
	fs.StringVar(&c.URL, "url", e.str("LAVA_SERVER_URL", ""), "base URL of the server, required (env LAVA_SERVER_URL)")
	fs.StringVar(&c.WSURL, "ws-url", e.str("LAVA_WS_URL", ""), "event WebSocket URL; default <url>/ws/ (env LAVA_WS_URL)")
	fs.StringVar(&c.Token, "token", e.str("LAVA_WORKER_TOKEN", ""), "worker token (env LAVA_WORKER_TOKEN)")
	fs.StringVar(&c.TokenFile, "token-file", e.str("LAVA_WORKER_TOKEN_FILE", ""), "worker token file; default <worker-dir>/token (env LAVA_WORKER_TOKEN_FILE)")
	fs.StringVar(&c.Username, "username", e.str("LAVA_WORKER_USERNAME", ""), "register with this user; the password is read from LAVA_WORKER_PASSWORD or prompted (env LAVA_WORKER_USERNAME)")
	fs.StringVar(&c.WorkerDir, "worker-dir", e.str("LAVA_WORKER_DIR", d.WorkerDir), "path to data storage (env LAVA_WORKER_DIR)")
	fs.StringVar(&c.DownloadDir, "download-dir", e.str("LAVA_DOWNLOAD_DIR", "/var/lib/lava/dispatcher/tmp"), "lava-run's download dir, cleaned after each job (env LAVA_DOWNLOAD_DIR)")
	ping := fs.Int("ping-interval", intEnv("LAVA_PING_INTERVAL", 20), "seconds between two pings to the server (env LAVA_PING_INTERVAL)")
	fs.IntVar(&c.JobLogInterval, "job-log-interval", intEnv("LAVA_JOB_LOG_INTERVAL", d.JobLogInterval), "seconds between two job log submissions to the server (env LAVA_JOB_LOG_INTERVAL)")
	httpTimeout := fs.Int("http-timeout", intEnv("LAVA_HTTP_TIMEOUT", 600), "HTTP timeout in seconds; keep it longer than the server's (env LAVA_HTTP_TIMEOUT)")
	fs.StringVar(&o.logFile, "log-file", e.str("LAVA_LOG_FILE", defaultLogFile), "log file, - for stdout (env LAVA_LOG_FILE)")
	level := e.str("LAVA_LOG_LEVEL", "INFO")
	fs.StringVar(&level, "level", level, "log level: DEBUG, ERROR, INFO or WARN (env LAVA_LOG_LEVEL)")
	fs.StringVar(&level, "l", level, "short for --level")
	fs.BoolVar(&c.Debug, "debug", boolEnv("LAVA_DEBUG", false), "debug lava-run (env LAVA_DEBUG)")
	fs.BoolVar(&c.ExitOnVersionMismatch, "exit-on-version-mismatch", boolEnv("LAVA_EXIT_ON_VERSION_MISMATCH", false), "exit when the server runs another version (env LAVA_EXIT_ON_VERSION_MISMATCH)")
	fs.BoolVar(&c.WaitJobs, "wait-jobs", boolEnv("LAVA_WAIT_JOBS", false), "on exit, wait for the jobs to finish and be reported (env LAVA_WAIT_JOBS)")
	fs.StringVar(&c.LavaRun, "lava-run", e.str("LAVA_RUN", d.LavaRun), "lava-run binary, a path or a name in PATH (env LAVA_RUN)")
	fs.BoolVar(&c.Nice, "nice", boolEnv("LAVA_NICE", d.Nice), "run lava-run under nice, as LAVA does (env LAVA_NICE)")
	fs.StringVar(&o.metricsListen, "metrics-listen", e.str("LAVA_METRICS_LISTEN", ""), "serve /metrics, /healthz and /readyz on this address, e.g. 127.0.0.1:9101; empty: off (env LAVA_METRICS_LISTEN)")
	if err := errors.Join(errs...); err != nil {
		return o, err
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, o.finish(fs, lookup, level, *ping, *httpTimeout)
}

// finish checks the options and fills what depends on several of them.
func (o *options) finish(fs *flag.FlagSet, lookup func(string) (string, bool), level string, ping, httpTimeout int) error {
	c := &o.cfg
	switch {
	case c.URL == "":
		return errors.New("--url is required")
	case !validName.MatchString(c.Name):
		return fmt.Errorf("--name %q: only letters, digits, '-', '_' and '.' are allowed", c.Name)
	case ping <= 0 || httpTimeout <= 0 || c.JobLogInterval <= 0:
		return errors.New("--ping-interval, --http-timeout and --job-log-interval must be positive")
	}
	set := 0
	for _, v := range []string{c.Username, c.Token, c.TokenFile} {
		if v != "" {
			set++
		}
	}
	if set > 1 {
		return errors.New("--username, --token and --token-file are mutually exclusive")
	}
	lvl, ok := map[string]slog.Level{"DEBUG": slog.LevelDebug, "INFO": slog.LevelInfo, "WARN": slog.LevelWarn, "ERROR": slog.LevelError}[strings.ToUpper(level)]
	if !ok {
		return fmt.Errorf("--level %q: want DEBUG, ERROR, INFO or WARN", level)
	}
	o.level = lvl
	c.PingInterval = time.Duration(ping) * time.Second
	c.HTTPTimeout = time.Duration(httpTimeout) * time.Second
	fs.Visit(func(f *flag.Flag) { o.logSet = o.logSet || f.Name == "log-file" })
	if _, ok := lookup("LAVA_LOG_FILE"); ok {
		o.logSet = true
	}
	if c.Username != "" {
		if pw, ok := lookup("LAVA_WORKER_PASSWORD"); ok {
			c.Password = pw
		} else {
			o.password = true
		}
	}
	return nil
}

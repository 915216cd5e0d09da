package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"golava/pkg/devconf"
	"golava/pkg/jobdef"
	"golava/pkg/mask"
	"golava/pkg/workerapi"
)

// Config is one lava-run invocation (the flags of LAVA's lava-run).
type Config struct {
	JobPath        string
	DevicePath     string
	DispatcherPath string // may be empty or point to an empty/missing file
	// TFTPRoot is the folder tftpd-hpa serves (deploy to: tftp); empty
	// means DefaultTFTPRoot.
	TFTPRoot   string
	EnvDUTPath string // optional
	OutputDir  string
	JobID      string
	// URL of the server; empty means log records go to Stdout as YAML lines.
	URL   string
	Token string
	// LogInterval is --job-log-interval; default 5 s.
	LogInterval time.Duration
	Debug       bool
	// ValidateOnly parses the job and writes description.yaml without
	// running anything (--validate).
	ValidateOnly bool
	// FlushTimeout bounds the final log upload; default 10 minutes, so a
	// server restart at the end of a job loses nothing.
	FlushTimeout time.Duration
	// Coordinator is the MultiNode coordinator (lava-coordinator.conf).
	Coordinator CoordinatorConfig
	// CleanupTimeout bounds finalize (power off); default CleanupTimeout.
	CleanupTimeout time.Duration
	Stdout         io.Writer
	Stderr         io.Writer
	Logger         *slog.Logger
	HTTPClient     *http.Client
}

// Outcome is what lava-run reports at the end: result.yaml's content.
type Outcome struct {
	Result    string // pass or fail
	ErrorMsg  string
	ErrorType string
}

// Run runs one job and returns its outcome; the exit code is 0 for pass.
// Cancel ctx with cause ErrCanceled to cancel the job (SIGTERM): the
// pipeline stops, the DUT is powered off and the result is Canceled.
func Run(ctx context.Context, cfg Config) Outcome {
	cfg = cfg.withDefaults()
	sink, closeSink := cfg.meteredSink()
	log := NewLogger(sink)
	// stderr becomes the job's failure comment on the server.
	cfg.Stderr = maskedWriter{w: cfg.Stderr, log: log}
	out := runJob(ctx, cfg, log)
	res := map[string]any{"definition": "lava", "case": "job", "result": out.Result}
	if out.Result == "pass" {
		log.Infof("Job finished correctly")
	} else {
		res["error_msg"] = log.Mask(out.ErrorMsg)
		res["error_type"] = out.ErrorType
		if h := (&Error{Type: out.ErrorType}).Help(); h != "" {
			log.Errorf("%s", h)
		}
	}
	log.Results(res)
	if err := closeSink(); err != nil {
		fmt.Fprintf(cfg.Stderr, "lava-run: %v\n", err)
	}
	if err := writeResult(cfg.OutputDir, res); err != nil {
		fmt.Fprintf(cfg.Stderr, "lava-run: %v\n", err)
	}
	return out
}

func (cfg Config) withDefaults() Config {
	if cfg.LogInterval <= 0 {
		cfg.LogInterval = 5 * time.Second
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = 10 * time.Minute
	}
	if cfg.CleanupTimeout <= 0 {
		cfg.CleanupTimeout = CleanupTimeout
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// sink picks the log destination and returns its closer.
func (cfg Config) sink() (Sink, func() error) {
	if cfg.URL == "" {
		var mu sync.Mutex
		return SinkFunc(func(rec string) {
				mu.Lock()
				defer mu.Unlock()
				_, _ = io.WriteString(cfg.Stdout, "- "+rec+"\n")
			}), func() error {
				return nil
			}
	}
	s := workerapi.NewLogSender(workerapi.LogSenderConfig{
		URL: cfg.URL, JobID: cfg.JobID, Token: cfg.Token, Interval: cfg.LogInterval,
		Client: cfg.HTTPClient, Logger: cfg.Logger,
		// A slow server must not grow lava-run's memory with the console.
		SpoolDir: cfg.OutputDir,
	})
	return s, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.FlushTimeout)
		defer cancel()
		return s.Close(ctx)
	}
}

func runJob(ctx context.Context, cfg Config, log *Logger) (out Outcome) {
	var j *Job
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(cfg.Stderr, "lava-run: panic: %v\n%s", p, debug.Stack())
			log.Exception(fmt.Sprintf("%v", p))
			out = Outcome{Result: "fail", ErrorType: TypeBug, ErrorMsg: fmt.Sprint(p)}
			if j != nil {
				j.finalize(ctx, cfg, nil)
			}
		}
	}()
	j, steps, err := prepare(cfg, log)
	if err != nil {
		e := classify(ctx, err)
		fmt.Fprintf(cfg.Stderr, "lava-run: %s\n", e.Msg)
		log.Results(map[string]any{"definition": "lava", "case": "validate", "result": "fail"})
		return Outcome{Result: "fail", ErrorType: e.Type, ErrorMsg: e.Msg}
	}
	if cfg.ValidateOnly {
		log.Results(map[string]any{"definition": "lava", "case": "validate", "result": "pass"})
		return Outcome{Result: "pass"}
	}
	log.Infof("start: 0 validate")
	log.Infof("Start time: %s (UTC)", time.Now().UTC().Format("2006-01-02 15:04:05.000000+00:00"))
	log.Infof("validate duration: 0.00")
	log.Results(map[string]any{"definition": "lava", "case": "validate", "result": "pass"})

	jobErr := &Error{Type: TypeJob, Msg: fmt.Sprintf("job timed out after %d seconds", int(j.Timeouts.Job.Seconds()))}
	jctx, cancel := context.WithTimeoutCause(ctx, j.Timeouts.Job, jobErr)
	defer cancel()
	r := &runner{log: log, now: time.Now, base: jctx}
	if err = j.multinodeStart(jctx); err == nil {
		err = r.runSteps(jctx, steps[:len(steps)-1], true)
	}
	j.multinodeEnd(ctx)
	if err != nil && errors.Is(context.Cause(jctx), jobErr) {
		err = jobErr // name the job timeout, not the action that was running
	}
	if ferr := j.finalize(ctx, cfg, steps[len(steps)-1]); err == nil {
		err = ferr
	}
	if err == nil {
		return Outcome{Result: "pass"}
	}
	e := classify(jctx, err)
	if e.Type == TypeBug {
		fmt.Fprintf(cfg.Stderr, "lava-run: bug: %s\n", e.Msg)
	}
	return Outcome{Result: "fail", ErrorType: e.Type, ErrorMsg: e.Msg}
}

// prepare reads the inputs, builds the pipeline and writes description.yaml.
func prepare(cfg Config, log *Logger) (*Job, []*Step, error) {
	if err := os.MkdirAll(cfg.OutputDir, 0o755); err != nil {
		return nil, nil, InfraError("Unable to create %s: %v", cfg.OutputDir, err)
	}
	devData, err := os.ReadFile(cfg.DevicePath)
	if err != nil {
		return nil, nil, InfraError("read device configuration: %v", err)
	}
	dev, err := devconf.Parse(devData)
	if err != nil {
		return nil, nil, ConfigError("%s: %v", cfg.DevicePath, err)
	}
	var dispatcher map[string]any
	if cfg.DispatcherPath != "" {
		if data, err := os.ReadFile(cfg.DispatcherPath); err == nil {
			var v any
			if err := yaml.Unmarshal(data, &v); err != nil {
				return nil, nil, ConfigError("%s: %v", cfg.DispatcherPath, err)
			}
			dispatcher, _ = v.(map[string]any)
		}
	}
	jobData, err := os.ReadFile(cfg.JobPath)
	if err != nil {
		return nil, nil, InfraError("read job definition: %v", err)
	}
	def, err := jobdef.Parse(jobData)
	if def != nil {
		log.SetMasker(secretMasker(def))
	}
	if err != nil && !isSubJob(def) {
		return nil, nil, JobError("Invalid job definition: %v", err)
	}
	to, err := NewTimeouts(dev.Timeouts, def.Timeouts)
	if err != nil {
		return nil, nil, err
	}
	log.Infof("lava-dispatcher, installed at version: %s", workerapi.Version)
	j := &Job{ID: cfg.JobID, Def: def, Device: dev, Timeouts: to, OutDir: cfg.OutputDir, Log: log, Downloads: map[string]string{},
		TFTPRoot: cfg.TFTPRoot, Dispatcher: dispatcher, artifacts: newArtifactServer(cfg)}
	steps, err := j.buildPipeline()
	if err != nil {
		return nil, nil, err
	}
	if err := j.setupMultinode(cfg.Coordinator); err != nil {
		return nil, nil, err
	}
	if err := j.loadEnvDUT(cfg.EnvDUTPath); err != nil {
		return nil, nil, err
	}
	fin := &Step{Name: "finalize", Description: "finish the process and cleanup", Timeout: cfg.CleanupTimeout,
		Children: []*Step{{Name: "power-off", Description: "discontinue power to device", Timeout: cfg.CleanupTimeout}}}
	steps = append(steps, fin)
	number(steps, "")
	desc, err := yaml.Marshal(log.MaskValue(describe(steps)))
	if err != nil {
		return nil, nil, Bug("describe pipeline: %v", err)
	}
	if err := os.WriteFile(filepath.Join(cfg.OutputDir, "description.yaml"), desc, 0o644); err != nil {
		return nil, nil, InfraError("write description.yaml: %v", err)
	}
	return j, steps, nil
}

// finalize powers the DUT off and closes the console, whatever happened
// before; it has its own time budget, detached from the job's context.
func (j *Job) finalize(ctx context.Context, cfg Config, fin *Step) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.CleanupTimeout)
	defer cancel()
	powerOff := func(ctx context.Context, s *Step) error {
		if len(j.Device.Commands.PowerOff) == 0 {
			j.Log.Debugf("No power off command for this device")
			return nil
		}
		return runHostCommands(ctx, j.Log, j.Device.Commands.PowerOff)
	}
	var err error
	if fin == nil {
		err = powerOff(cctx, nil)
	} else {
		fin.Children[0].Run = powerOff
		fin.Run = func(ctx context.Context, s *Step) error { return nil }
		err = (&runner{log: j.Log, now: time.Now, base: cctx}).runSteps(cctx, []*Step{fin}, true)
	}
	if j.Console != nil {
		j.Console.Close()
		j.Log.Infof("Disconnected from the device")
	}
	j.runCleanups()
	return err
}

// loadEnvDUT adds the overrides of env-dut.yaml to the DUT environment
// file of the overlay. Unlike LAVA, the worker's own environment is never
// copied to the DUT (purge is implied): a lab host's PATH means nothing there.
func (j *Job) loadEnvDUT(path string) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return InfraError("read %s: %v", path, err)
	}
	return j.applyEnvDUT(data, path)
}

func writeResult(dir string, res map[string]any) error {
	data, err := yaml.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode result.yaml: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "result.yaml"), data, 0o644); err != nil {
		return fmt.Errorf("write result.yaml: %w", err)
	}
	return nil
}

// secretMasker hides every value of the job's secrets: block: the server
// has replaced /lava/REALM/NAME paths by their values, and literal values
// are secrets too.
func secretMasker(def *jobdef.Job) *mask.Masker {
	vals := make([]string, 0, len(def.Secrets))
	for _, v := range def.Secrets {
		vals = append(vals, stringOf(v))
	}
	return mask.New(vals)
}

// maskedWriter hides the job's secret values in what lava-run writes to
// stderr (one Fprintf is one Write, so a value is never split).
type maskedWriter struct {
	w   io.Writer
	log *Logger
}

func (m maskedWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(m.w, m.log.Mask(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ExitCode is lava-run's exit status for an outcome.
func (o Outcome) ExitCode() int {
	if o.Result == "pass" {
		return 0
	}
	return 1
}

package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// RunFile is the file lava-run leaves in its output dir for the worker to
// read before it removes the dir: lava-run lives for one job, too short to
// be scraped, so its figures go through the long-lived worker.
const RunFile = "metrics.json"

// RunReport is what one lava-run measured.
type RunReport struct {
	// ConsoleBytes and ConsoleLines count the DUT console output logged.
	ConsoleBytes int64 `json:"console_bytes"`
	ConsoleLines int64 `json:"console_lines"`
	// Actions lists every pipeline action that ended, in order.
	Actions []ActionTiming `json:"actions"`
}

// ActionTiming is the duration of one pipeline action.
type ActionTiming struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Result  string  `json:"result"` // pass or fail
}

// maxRunFile bounds what the worker reads: a job has at most a few
// thousand actions.
const maxRunFile = 4 << 20

// WriteRunReport writes r to dir/RunFile.
func WriteRunReport(dir string, r RunReport) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode %s: %w", RunFile, err)
	}
	if err := os.WriteFile(filepath.Join(dir, RunFile), b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", RunFile, err)
	}
	return nil
}

// ReadRunReport reads dir/RunFile; a missing file is os.ErrNotExist.
func ReadRunReport(dir string) (RunReport, error) {
	var r RunReport
	path := filepath.Join(dir, RunFile)
	st, err := os.Stat(path)
	if err != nil {
		return r, err
	}
	if st.Size() > maxRunFile {
		return r, fmt.Errorf("%s: %d bytes, more than %d", path, st.Size(), maxRunFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	if r.ConsoleBytes < 0 || r.ConsoleLines < 0 {
		return r, errors.New(path + ": negative counts")
	}
	return r, nil
}

// WorkerMetrics are the lava-worker's metrics: the jobs it ran and what
// their lava-run measured.
type WorkerMetrics struct {
	jobs           *prometheus.CounterVec
	consoleBytes   prometheus.Counter
	consoleLines   prometheus.Counter
	actionDuration *prometheus.HistogramVec
}

// NewWorkerMetrics creates the collectors; register them with Collectors.
func NewWorkerMetrics() *WorkerMetrics {
	return &WorkerMetrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "worker", Name: "jobs_finished_total",
			Help: "Jobs this worker ran and reported, by lava-run result (pass, fail).",
		}, []string{"result"}),
		consoleBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "run", Name: "console_bytes_total",
			Help: "Bytes of DUT console output logged by the lava-run processes of this worker.",
		}),
		consoleLines: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "run", Name: "console_lines_total",
			Help: "Lines of DUT console output logged by the lava-run processes of this worker.",
		}),
		actionDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "run", Name: "action_duration_seconds",
			Help:    "Duration of lava-run pipeline actions, by action name and result.",
			Buckets: []float64{0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600},
		}, []string{"action", "result"}),
	}
}

// Collectors returns the collectors to register.
func (m *WorkerMetrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.jobs, m.consoleBytes, m.consoleLines, m.actionDuration}
}

// JobEnded records a reported job and what its lava-run left in dir.
// Action names are bounded (LAVA's action names are a fixed set); a name
// that looks made up is folded into "other" to keep the series bounded.
func (m *WorkerMetrics) JobEnded(result, dir string) error {
	if result != "pass" {
		result = "fail"
	}
	m.jobs.WithLabelValues(result).Inc()
	r, err := ReadRunReport(dir)
	if err != nil {
		return err
	}
	m.consoleBytes.Add(float64(r.ConsoleBytes))
	m.consoleLines.Add(float64(r.ConsoleLines))
	for _, a := range r.Actions {
		name := a.Name
		if !actionName(name) {
			name = "other"
		}
		res := a.Result
		if res != "pass" {
			res = "fail"
		}
		if a.Seconds >= 0 {
			m.actionDuration.WithLabelValues(name, res).Observe(a.Seconds)
		}
	}
	return nil
}

// actionName accepts LAVA-style action names: lower-case words and dashes.
func actionName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}

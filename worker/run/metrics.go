package run

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golava/pkg/logfmt"
	"golava/pkg/metrics"
)

// meteredSink is cfg.sink counting console output and action durations on
// the way; its closer also writes them to metrics.RunFile in the output dir,
// where the worker reads them (lava-run itself lives too short to scrape).
func (cfg Config) meteredSink() (Sink, func() error) {
	inner, closeInner := cfg.sink()
	m := &meter{inner: inner}
	return m, func() error {
		err := closeInner()
		if cfg.OutputDir == "" {
			return err
		}
		if werr := metrics.WriteRunReport(cfg.OutputDir, m.report()); werr != nil && err == nil {
			err = werr
		}
		return err
	}
}

// meter is a Sink that measures the records it passes on.
type meter struct {
	inner Sink
	mu    sync.Mutex
	r     metrics.RunReport
}

// maxActions bounds the report of a runaway pipeline.
const maxActions = 10000

func (m *meter) Send(rec string) {
	m.inner.Send(rec)
	// Cheap prefilter: only target and results records are decoded.
	isTarget := strings.Contains(rec, `"lvl": "target"`)
	if !isTarget && !strings.Contains(rec, `"lvl": "results"`) {
		return
	}
	l, err := logfmt.Decode(rec)
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch l.Lvl {
	case logfmt.LevelTarget:
		if s, ok := l.Msg.(string); ok {
			m.r.ConsoleBytes += int64(len(s))
			m.r.ConsoleLines++
		}
	case logfmt.LevelResults:
		if a, ok := actionTiming(l.Msg); ok && len(m.r.Actions) < maxActions {
			m.r.Actions = append(m.r.Actions, a)
		}
	}
}

// actionTiming reads the "lava" results record of an action's end.
func actionTiming(msg any) (metrics.ActionTiming, bool) {
	mm, ok := msg.(map[string]any)
	if !ok || fmt.Sprint(mm["definition"]) != "lava" {
		return metrics.ActionTiming{}, false
	}
	d, ok := mm["duration"]
	if !ok {
		return metrics.ActionTiming{}, false
	}
	secs, err := strconv.ParseFloat(fmt.Sprint(d), 64)
	if err != nil {
		return metrics.ActionTiming{}, false
	}
	return metrics.ActionTiming{Name: fmt.Sprint(mm["case"]), Seconds: secs, Result: fmt.Sprint(mm["result"])}, true
}

func (m *meter) report() metrics.RunReport {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.r
	r.Actions = append([]metrics.ActionTiming(nil), m.r.Actions...)
	return r
}

package run

import (
	"fmt"
	"sync"
	"time"

	"golava/pkg/logfmt"
	"golava/pkg/mask"
)

// Sink receives encoded log records (logfmt.Encode output).
type Sink interface {
	Send(record string)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(record string)

// Send calls f.
func (f SinkFunc) Send(record string) { f(record) }

// Logger writes LAVA log records to a Sink. It is safe for concurrent use;
// records keep the order of the calls.
type Logger struct {
	mu   sync.Mutex
	sink Sink
	now  func() time.Time
	// mask hides the job's secret values in every record; nil until the
	// job definition is read.
	mask *mask.Masker
}

// NewLogger returns a Logger writing to sink.
func NewLogger(sink Sink) *Logger {
	return &Logger{sink: sink, now: time.Now}
}

// SetMasker hides the values m knows in every later record (console
// lines, commands sent, results, errors).
func (l *Logger) SetMasker(m *mask.Masker) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mask = m
}

// Mask returns s with the job's secret values hidden, for text that leaves
// lava-run by another way than the log (stderr, result.yaml).
func (l *Logger) Mask(s string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mask.Apply(s)
}

// MaskValue is Mask for a decoded YAML value (see mask.Masker.Value).
func (l *Logger) MaskValue(v any) any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mask.Value(v)
}

func (l *Logger) log(lvl string, msg any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Before encoding: the encoder escapes characters, and a value with a
	// quote or a tab would no longer match in the record.
	if s, ok := msg.(string); ok {
		msg = logfmt.Msg(l.mask.Apply(s))
	} else {
		msg = l.mask.Value(msg)
	}
	line := logfmt.Line{DT: l.now(), Lvl: lvl, Msg: msg}
	rec := logfmt.Encode(line)
	if len(rec) >= maxRecord {
		// As LAVA's log dump: the server's YAML loader could not take it.
		if _, ok := msg.(map[string]any); ok {
			line.Msg = map[string]any{"skip": "line way too long ..."}
		} else {
			line.Msg = logfmt.Msg(lineTooLong)
		}
		rec = logfmt.Encode(line)
	}
	l.sink.Send(rec)
}

// maxRecord is LAVA's limit of an encoded log record (10**6 characters);
// lineTooLong replaces a message beyond it.
const (
	maxRecord   = 1000000
	lineTooLong = "<line way too long ...>"
)

// Debugf logs at level debug.
func (l *Logger) Debugf(format string, args ...any) { l.log(logfmt.LevelDebug, sprintf(format, args)) }

// Infof logs at level info.
func (l *Logger) Infof(format string, args ...any) { l.log(logfmt.LevelInfo, sprintf(format, args)) }

// Warningf logs at level warning.
func (l *Logger) Warningf(format string, args ...any) {
	l.log(logfmt.LevelWarning, sprintf(format, args))
}

// Errorf logs at level error.
func (l *Logger) Errorf(format string, args ...any) { l.log(logfmt.LevelError, sprintf(format, args)) }

// Exception logs at level exception.
func (l *Logger) Exception(msg string) { l.log(logfmt.LevelException, msg) }

// Target logs one line of console output.
func (l *Logger) Target(line string) { l.log(logfmt.LevelTarget, line) }

// Input logs what was sent to the DUT.
func (l *Logger) Input(s string) { l.log(logfmt.LevelInput, s) }

// Results logs a result mapping; the server creates a test case from it.
func (l *Logger) Results(m map[string]any) { l.log(logfmt.LevelResults, m) }

func sprintf(format string, args []any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}

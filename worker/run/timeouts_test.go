package run

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golava/pkg/jobdef"
)

func TestParseTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want time.Duration
		err  string
	}{
		{map[string]any{"minutes": 2}, 2 * time.Minute, ""},
		{map[string]any{"days": 1, "hours": 1, "minutes": 1, "seconds": 1}, 25*time.Hour + 61*time.Second, ""},
		{map[string]any{"seconds": 1.5}, time.Second, ""},
		{map[string]any{"seconds": 30, "skip": true}, 30 * time.Second, ""},
		{map[string]any{}, 0, ""},
		{map[string]any{"weeks": 1}, 0, "unknown unit"},
		{map[string]any{"minutes": "2"}, 0, "expected a number"},
		{map[string]any{"minutes": -2}, 0, "negative"},
		{"5m", 0, "expected a mapping"},
	}
	for _, tt := range tests {
		got, err := ParseTimeout(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTimeout(%v) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseTimeout(%v) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestTimeoutsPrecedence(t *testing.T) {
	t.Parallel()
	device := map[string]any{
		"action":     map[string]any{"seconds": 40},
		"connection": map[string]any{"seconds": 20},
		"actions": map[string]any{
			"auto-login-action": map[string]any{"minutes": 3},
			"lava-test-shell":   map[string]any{"minutes": 4},
		},
		"connections": map[string]any{"lava-test-shell": map[string]any{"seconds": 7}},
	}
	job := jobdef.Timeouts{
		Job: time.Hour, Action: 50 * time.Second,
		Actions: map[string]time.Duration{"lava-test-shell": 5 * time.Minute},
	}
	to, err := NewTimeouts(device, job)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		got  time.Duration
		want time.Duration
	}{
		{"job", to.Job, time.Hour},
		{"default action: job beats device", to.ForAction("connect-device", 0), 50 * time.Second},
		{"device per-action", to.ForAction("auto-login-action", 0), 3 * time.Minute},
		{"job per-action beats device", to.ForAction("lava-test-shell", 0), 5 * time.Minute},
		{"block timeout beats all", to.ForAction("lava-test-shell", 9*time.Second), 9 * time.Second},
		{"connection", to.ForConnection("auto-login-action"), 20 * time.Second},
		{"per-action connection", to.ForConnection("lava-test-shell"), 7 * time.Second},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if _, err := NewTimeouts(map[string]any{"action": "x"}, jobdef.Timeouts{}); err == nil {
		t.Error("bad device timeout accepted")
	}
	def, _ := NewTimeouts(nil, jobdef.Timeouts{})
	if def.Job != DefaultJobTimeout || def.Action != DefaultActionTimeout {
		t.Errorf("defaults = %+v", def)
	}
}

func TestHostCommandTimeout(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	ctx, cancel := context.WithTimeoutCause(context.Background(), 200*time.Millisecond, InfraError("power timed out"))
	defer cancel()
	start := time.Now()
	err := runHostCommand(ctx, NewLogger(rec), "echo started; sleep 1000 & wait")
	if e, ok := errors.AsType[*Error](err); !ok || e.Msg != "power timed out" {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	err = runHostCommand(context.Background(), NewLogger(rec), "echo out; exit 3")
	if e, ok := errors.AsType[*Error](err); !ok || e.Type != TypeInfrastructure || !strings.Contains(e.Msg, "exit status 3") {
		t.Fatalf("err = %v", err)
	}
	var sawOutput bool
	for _, l := range rec.recs {
		if l.Msg == ">> out" {
			sawOutput = true
		}
	}
	if !sawOutput {
		t.Error("command output not logged")
	}
}

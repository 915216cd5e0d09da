package run

import (
	"fmt"
	"time"

	"golava/pkg/jobdef"
)

// Defaults of LAVA: an action has 30 s unless told otherwise; the job has
// no limit of its own except what the definition sets (the schema requires it).
const (
	DefaultActionTimeout     = 30 * time.Second
	DefaultConnectionTimeout = 10 * time.Second
	DefaultJobTimeout        = 24 * time.Hour
	// CleanupTimeout bounds finalize (power off, close, flush).
	CleanupTimeout = 30 * time.Second
)

// ParseTimeout reads a LAVA timeout block {days, hours, minutes, seconds}.
// A block adding up to zero means "default" and returns 0.
func ParseTimeout(v any) (time.Duration, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return 0, fmt.Errorf("timeout: expected a mapping of days/hours/minutes/seconds, got %T", v)
	}
	units := map[string]time.Duration{"days": 24 * time.Hour, "hours": time.Hour, "minutes": time.Minute, "seconds": time.Second}
	var d time.Duration
	for k, val := range m {
		if k == "skip" {
			continue
		}
		unit, ok := units[k]
		if !ok {
			return 0, fmt.Errorf("timeout: unknown unit %q", k)
		}
		n, err := toFloat(val)
		if err != nil {
			return 0, fmt.Errorf("timeout.%s: %w", k, err)
		}
		d += time.Duration(n * float64(unit))
	}
	if d < 0 {
		return 0, fmt.Errorf("timeout: negative duration %s", d)
	}
	return d.Truncate(time.Second), nil
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return 0, fmt.Errorf("expected a number, got %T", v)
}

// Timeouts resolves the timeout of each action from the device's timeouts
// block, then the job's, as LAVA's Pipeline.add_action: the action's own
// block beats timeouts.actions.<name>, which beats timeouts.action.
type Timeouts struct {
	Job         time.Duration
	Action      time.Duration
	Connection  time.Duration
	actions     map[string]time.Duration
	connections map[string]time.Duration
}

// NewTimeouts merges device and job timeouts (the job wins).
func NewTimeouts(device map[string]any, job jobdef.Timeouts) (*Timeouts, error) {
	t := &Timeouts{
		Job: DefaultJobTimeout, Action: DefaultActionTimeout, Connection: DefaultConnectionTimeout,
		actions: map[string]time.Duration{}, connections: map[string]time.Duration{},
	}
	if err := t.mergeDevice(device); err != nil {
		return nil, err
	}
	setIf(&t.Job, job.Job)
	setIf(&t.Action, job.Action)
	setIf(&t.Connection, job.Connection)
	for k, v := range job.Actions {
		if v > 0 {
			t.actions[k] = v
		}
	}
	for k, v := range job.Connections {
		if v > 0 {
			t.connections[k] = v
		}
	}
	return t, nil
}

func setIf(dst *time.Duration, v time.Duration) {
	if v > 0 {
		*dst = v
	}
}

func (t *Timeouts) mergeDevice(device map[string]any) error {
	for _, key := range []string{"job", "action", "connection"} {
		v, ok := device[key]
		if !ok {
			continue
		}
		d, err := ParseTimeout(v)
		if err != nil {
			return ConfigError("device timeouts.%s: %v", key, err)
		}
		switch key {
		case "job":
			setIf(&t.Job, d)
		case "action":
			setIf(&t.Action, d)
		case "connection":
			setIf(&t.Connection, d)
		}
	}
	for key, dst := range map[string]map[string]time.Duration{"actions": t.actions, "connections": t.connections} {
		m, _ := device[key].(map[string]any)
		for name, v := range m {
			d, err := ParseTimeout(v)
			if err != nil {
				return ConfigError("device timeouts.%s.%s: %v", key, name, err)
			}
			if d > 0 {
				dst[name] = d
			}
		}
	}
	return nil
}

// ForAction returns the timeout of the named action; own is the action
// block's timeout (0 when not set) and applies to top-level actions only.
func (t *Timeouts) ForAction(name string, own time.Duration) time.Duration {
	if own > 0 {
		return own
	}
	if d, ok := t.actions[name]; ok {
		return d
	}
	return t.Action
}

// ForConnection returns the connection timeout of the named action.
func (t *Timeouts) ForConnection(name string) time.Duration {
	if d, ok := t.connections[name]; ok {
		return d
	}
	return t.Connection
}

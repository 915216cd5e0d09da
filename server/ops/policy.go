package ops

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Age is a duration written as Go does ("720h", "90m") or in days ("30d").
type Age time.Duration

// UnmarshalYAML reads "30d", "12h" or "1h30m".
func (a *Age) UnmarshalYAML(n *yaml.Node) error {
	d, err := ParseAge(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*a = Age(d)
	return nil
}

// ParseAge parses an Age.
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("age %q: want a number of days such as 30d", s)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("age %q: want 30d, 12h or 90m", s)
	}
	return d, nil
}

// Rule bounds one kind of data of finished jobs of a device type: data of
// jobs that ended more than MaxAge ago goes, and so does data beyond the
// Keep newest jobs. Zero fields do not limit.
type Rule struct {
	MaxAge Age `yaml:"max_age"`
	Keep   int `yaml:"keep"`
}

func (r *Rule) limits() bool { return r != nil && (r.MaxAge > 0 || r.Keep > 0) }

// expired reports whether a job ended at end, rank-th newest of its type
// (from 1), falls outside the rule at now.
func (r *Rule) expired(now, end time.Time, rank int64) bool {
	if r == nil {
		return false
	}
	return (r.MaxAge > 0 && end.Before(now.Add(-time.Duration(r.MaxAge)))) || (r.Keep > 0 && rank > int64(r.Keep))
}

// Rules are the rules of one device type: whole finished jobs (with their
// logs and results), logs only (log_chunks), results only (test suites,
// sets and cases). A nil rule does not limit.
type Rules struct {
	Jobs    *Rule `yaml:"jobs"`
	Logs    *Rule `yaml:"logs"`
	Results *Rule `yaml:"results"`
}

// Policy is the retention configuration (lava-scheduler --retention FILE):
//
//	interval: 1h
//	default:
//	  jobs: {max_age: 365d}
//	  logs: {max_age: 90d}
//	device_types:
//	  qemu:
//	    jobs: {keep: 20000}
//
// A device type's rule for a kind replaces the default's for that kind.
type Policy struct {
	Default     Rules            `yaml:"default"`
	DeviceTypes map[string]Rules `yaml:"device_types"`
	// Interval between two runs (1 h).
	Interval Age `yaml:"interval"`
	// BatchSize is the rows deleted per statement (500): each batch is its
	// own short transaction, so no lock is held for long.
	BatchSize int `yaml:"batch_size"`
	// Pause between two batches (20 ms), leaving room to other writers.
	Pause Age `yaml:"pause"`
}

// rules returns the effective rules of device type dt.
func (p *Policy) rules(dt string) Rules {
	r := p.Default
	if o, ok := p.DeviceTypes[dt]; ok {
		if o.Jobs != nil {
			r.Jobs = o.Jobs
		}
		if o.Logs != nil {
			r.Logs = o.Logs
		}
		if o.Results != nil {
			r.Results = o.Results
		}
	}
	return r
}

// Empty reports whether the policy removes nothing.
func (p *Policy) Empty() bool {
	all := []Rules{p.Default}
	for _, r := range p.DeviceTypes {
		all = append(all, r)
	}
	for _, r := range all {
		if r.Jobs.limits() || r.Logs.limits() || r.Results.limits() {
			return false
		}
	}
	return true
}

func (p *Policy) withDefaults() Policy {
	q := *p
	if q.Interval <= 0 {
		q.Interval = Age(time.Hour)
	}
	if q.BatchSize <= 0 {
		q.BatchSize = 500
	}
	if q.Pause <= 0 {
		q.Pause = Age(20 * time.Millisecond)
	}
	return q
}

// ParsePolicy reads a policy document; unknown keys are errors, so a typo
// does not silently keep everything.
func ParsePolicy(data []byte) (*Policy, error) {
	var p Policy
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("retention policy: %w", err)
	}
	for name, r := range p.DeviceTypes {
		for kind, rule := range map[string]*Rule{"jobs": r.Jobs, "logs": r.Logs, "results": r.Results} {
			if rule != nil && rule.Keep < 0 {
				return nil, fmt.Errorf("retention policy: device_types.%s.%s.keep: negative", name, kind)
			}
		}
	}
	for kind, rule := range map[string]*Rule{"jobs": p.Default.Jobs, "logs": p.Default.Logs, "results": p.Default.Results} {
		if rule != nil && rule.Keep < 0 {
			return nil, fmt.Errorf("retention policy: default.%s.keep: negative", kind)
		}
	}
	if p.BatchSize < 0 || p.BatchSize > 100000 {
		return nil, fmt.Errorf("retention policy: batch_size %d: want 1..100000", p.BatchSize)
	}
	return &p, nil
}

// LoadPolicy reads ParsePolicy from a file.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("retention policy: %w", err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

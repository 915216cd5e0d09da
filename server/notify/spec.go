package notify

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Spec is a job's notify block, as LAVA 2023.01 defines it.
type Spec struct {
	Criteria   Criteria    `yaml:"criteria"`
	Verbosity  string      `yaml:"verbosity"`
	Recipients []Recipient `yaml:"recipients"`
	Callbacks  []Callback  `yaml:"callbacks"`
	Callback   *Callback   `yaml:"callback"`
}

// Criteria says when to notify.
type Criteria struct {
	// Status: all (running or finished), running, finished, complete,
	// incomplete or canceled.
	Status string `yaml:"status"`
	// Type: regression (previous job Complete, this one Incomplete) or
	// progression (the other way round), with status complete/incomplete.
	Type string `yaml:"type"`
	// DependencyQuery needs LAVA's query language, which golava lacks.
	DependencyQuery any `yaml:"dependency_query"`
}

// Recipient is one "to" entry.
type Recipient struct {
	To struct {
		Method string `yaml:"method"` // email or irc
		User   string `yaml:"user"`
		Email  string `yaml:"email"`
		Handle string `yaml:"handle"`
		Server string `yaml:"server"`
	} `yaml:"to"`
}

// Callback is one HTTP call.
type Callback struct {
	URL         string `yaml:"url"`
	Method      string `yaml:"method"`  // GET or POST (GET by default, as LAVA)
	Token       string `yaml:"token"`   // header value
	Header      string `yaml:"header"`  // Authorization by default
	Dataset     string `yaml:"dataset"` // minimal, logs, results, all
	ContentType string `yaml:"content-type"`
}

// ParseSpec returns the notify block of a job definition, or nil.
func ParseSpec(definition string) (*Spec, error) {
	var doc struct {
		Notify *Spec `yaml:"notify"`
	}
	if err := yaml.Unmarshal([]byte(definition), &doc); err != nil {
		return nil, fmt.Errorf("notify block: %w", err)
	}
	s := doc.Notify
	if s == nil {
		return nil, nil
	}
	if s.Callback != nil {
		s.Callbacks = append(s.Callbacks, *s.Callback)
		s.Callback = nil
	}
	for i := range s.Callbacks {
		c := &s.Callbacks[i]
		c.Method = strings.ToUpper(c.Method)
		if c.Method == "" {
			c.Method = "GET"
		}
		if c.Header == "" {
			c.Header = "Authorization"
		}
		if c.Dataset == "" {
			c.Dataset = "minimal"
		}
		if c.ContentType == "" {
			c.ContentType = "urlencoded"
		}
	}
	return s, nil
}

// Matches reports whether a job that reached state/health notifies, as
// LAVA's notification_criteria; previous is the health of the previous
// job (PreviousJobHealth), used by regression and progression.
func (c Criteria) Matches(state, health, previous string) bool {
	switch c.Status {
	case "all":
		return state == "Running" || state == "Finished"
	case "finished":
		return state == "Finished"
	case "running":
		return state == "Running"
	}
	if state != "Finished" {
		return false
	}
	want := map[string]string{"complete": "Complete", "incomplete": "Incomplete", "canceled": "Canceled"}[c.Status]
	if want == "" {
		want = "Canceled" // LAVA's fallback for any other status
	}
	if health != want {
		return false
	}
	switch c.Type {
	case "":
		return true
	case "regression":
		return previous == "Complete" && health == "Incomplete"
	case "progression":
		return previous == "Incomplete" && health == "Complete"
	}
	return false
}

package jobdef

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Job is a parsed job definition. Fields the server and lava-run act on are
// typed; each action keeps its parameters as a generic map as well, so that
// methods not modelled yet still reach the runner.
type Job struct {
	JobName    string
	DeviceType string
	// Priority is 0..100; high/medium/low are mapped to 100/50/0.
	Priority   int
	Visibility Visibility
	Tags       []string
	Timeouts   Timeouts
	Context    map[string]any
	Metadata   map[string]any
	Secrets    map[string]any
	Protocols  map[string]any
	// MultiNode is non-nil when protocols: lava-multinode is present.
	MultiNode *MultiNode
	Actions   []Action
	// Root is the whole document as parsed, for re-dumping and generic access.
	Root *yaml.Node
}

// Visibility of a job: "public", "personal", or group with the group names.
type Visibility struct {
	Kind   string // public | personal | group
	Groups []string
}

// Timeouts holds the durations of the timeouts block. Zero means not set.
type Timeouts struct {
	Job        time.Duration
	Action     time.Duration
	Connection time.Duration
	// Actions and Connections are per action name overrides (timeouts.actions.<name>).
	Actions     map[string]time.Duration
	Connections map[string]time.Duration
	// Queue bounds how long the job may wait for a device (timeouts.queue).
	Queue time.Duration
}

// MultiNode is the lava-multinode protocol block.
type MultiNode struct {
	Timeout time.Duration
	Roles   map[string]Role
}

// Role is one MultiNode role.
type Role struct {
	DeviceType string
	Count      int
	Tags       []string
	Context    map[string]any
	Timeout    time.Duration
	// Connection, HostRole and ExpectRole are set for a role that runs on
	// another role's device (secondary connections, e.g. ssh).
	Connection string
	HostRole   string
	ExpectRole string
	Essential  bool
}

// Action is one item of the actions list: its kind (deploy, boot, test,
// command) and its parameters.
type Action struct {
	Kind string
	// Method is deploy "to", boot "method", or "" for test and command.
	Method string
	// Timeout is the action's own timeout block, zero when unset.
	Timeout time.Duration
	// Namespace and Role are empty when absent.
	Namespace string
	Role      []string
	Params    map[string]any
	Node      *yaml.Node
	Index     int
}

// Error is one problem with a job definition. Line and Column are 1-based;
// zero when the problem is about the whole document.
type Error struct {
	Path    string // e.g. actions[2].boot.method
	Line    int
	Column  int
	Message string // what was expected
}

func (e Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d column %d: ", e.Line, e.Column)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is every problem of one definition, in document order.
type ErrorList []Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

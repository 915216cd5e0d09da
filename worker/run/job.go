package run

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"golava/pkg/devconf"
	"golava/pkg/jobdef"
	"golava/worker/run/overlay"
)

// Job is the state shared by the actions of one run.
type Job struct {
	ID       string
	Def      *jobdef.Job
	Device   *devconf.Device
	Timeouts *Timeouts
	OutDir   string
	Log      *Logger

	// Console is the current DUT connection, nil before a boot.
	Console *Console
	// Prompts are the shell prompts of the last boot action.
	Prompts []*regexp.Regexp
	// Overlay describes the test overlay; OverlayData is built once.
	Overlay         overlay.Config
	OverlayData     []byte
	OverlayOnDevice bool
	// Downloads maps artifact keys to local paths.
	Downloads map[string]string
	// patterns per definition run id (parse.pattern).
	patterns map[string]*patternSpec
	// paths of the definitions per run id, for the lava results.
	paths map[string]string
	// multinode is the MultiNode state of a sub-job (multinode.go), nil otherwise.
	multinode *multinode
	// sources of the definitions per run id (inline, git).
	sources map[string]*defSource
	// TFTPRoot is the folder tftpd-hpa serves; Dispatcher the dispatcher
	// configuration (dispatcher_ip...).
	TFTPRoot   string
	Dispatcher map[string]any
	// tftpFiles are the deployed files by key, relative to TFTPRoot.
	tftpFiles map[string]string
	// artifacts serves the realm's artifact:// URLs; nil without a server URL.
	artifacts *artifactServer
	// cleanups run when the job ends, however it ends.
	cleanups []func()
}

type patternSpec struct {
	expr  string
	fixup map[string]string
}

// builder makes the step of one job action.
type builder func(j *Job, a jobdef.Action) (*Step, error)

// Registries of action methods; new methods plug in here.
var (
	deployMethods = map[string]builder{"tmpfs": buildDeploy, "overlay": buildDeploy}
	bootMethods   = map[string]builder{"minimal": buildMinimalBoot}
)

// buildPipeline turns the job's actions into numbered steps.
func (j *Job) buildPipeline() ([]*Step, error) {
	if err := j.planOverlay(); err != nil {
		return nil, err
	}
	var steps []*Step
	for _, a := range j.Def.Actions {
		var (
			b  builder
			ok bool
		)
		switch a.Kind {
		case "deploy":
			b, ok = deployMethods[a.Method]
		case "boot":
			b, ok = bootMethods[a.Method]
		case "test":
			b, ok = buildTest, true
		case "command":
			b, ok = buildCommand, true
		}
		if !ok {
			return nil, JobError("actions[%d].%s: method %q is not supported by this dispatcher", a.Index, a.Kind, a.Method)
		}
		s, err := b(j, a)
		if err != nil {
			return nil, err
		}
		setBlock(s, skipTimeout(a), a.Namespace)
		s.Attempts, s.RetryInterval = retryOf(a)
		steps = append(steps, s)
	}
	number(steps, "")
	return steps, nil
}

// setBlock marks a whole action block with its namespace and whether its
// timeout lets the job go on.
func setBlock(s *Step, skip bool, ns string) {
	s.Skip, s.Namespace = skip, ns
	for _, c := range s.Children {
		setBlock(c, skip, ns)
	}
}

func skipTimeout(a jobdef.Action) bool {
	t, _ := a.Params["timeout"].(map[string]any)
	b, _ := t["skip"].(bool)
	return b
}

// step makes a step with the timeout of its name within action a.
func (j *Job) step(a jobdef.Action, name, desc string, run func(ctx context.Context, s *Step) error, children ...*Step) *Step {
	return &Step{
		Name: name, Description: desc, Timeout: j.Timeouts.ForAction(name, a.Timeout),
		Run: run, Children: children,
	}
}

// charDelay is the device's character delay for a section (boot, test).
func (j *Job) charDelay(section string) time.Duration {
	return time.Duration(j.Device.CharacterDelays[section]) * time.Millisecond
}

// constant reads constants.<path...> from the device configuration.
func (j *Job) constant(path ...string) any {
	var cur any = j.Device.Constants
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func stringOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	}
	return fmt.Sprint(v)
}

// compilePrompts compiles prompts as LAVA's pexpect does: regular expressions.
func compilePrompts(prompts []string, where string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(prompts))
	for i, p := range prompts {
		if p == "" {
			return nil, JobError("%s[%d]: empty prompt", where, i)
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, JobError("%s[%d]: invalid prompt %q: %v", where, i, p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// buildCommand runs a device "users" command (do) by name.
func buildCommand(j *Job, a jobdef.Action) (*Step, error) {
	name := stringOf(a.Params["name"])
	users, _ := j.Device.Raw["commands"].(map[string]any)
	users, _ = users["users"].(map[string]any)
	spec, _ := users[name].(map[string]any)
	cmd := stringOf(spec["do"])
	if cmd == "" {
		return nil, JobError("actions[%d].command.name: unknown user command %q", a.Index, name)
	}
	return j.step(a, "user-command", "execute one of the commands listed by the admin",
		func(ctx context.Context, s *Step) error {
			return runHostCommand(ctx, j.Log, cmd)
		}), nil
}

// retryOf reads an action's failure_retry and failure_retry_interval
// (seconds, default 1).
func retryOf(a jobdef.Action) (int, time.Duration) {
	n, _ := a.Params["failure_retry"].(int)
	interval := time.Second
	if v, ok := a.Params["failure_retry_interval"].(int); ok && v >= 0 {
		interval = time.Duration(v) * time.Second
	}
	return n, interval
}

package run

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"golava/pkg/jobdef"
)

// interactiveScript is one entry of a test action's interactive list.
type interactiveScript struct {
	name    string
	prompts []*regexp.Regexp
	discard bool // echo: discard
	cmds    []interactiveCmd
}

type interactiveCmd struct {
	name          string
	command       *string // nil: send nothing, only wait
	delay         time.Duration
	successes     []*regexp.Regexp
	failures      []interactiveFailure
	waitForPrompt bool
}

type interactiveFailure struct {
	re               *regexp.Regexp
	exception, error string
}

// buildInteractive is LAVA's lava-test-interactive: send commands to a
// shell or a bootloader and match prompts, successes and failures.
func buildInteractive(j *Job, a jobdef.Action, stage int) (*Step, error) {
	scripts, err := parseInteractive(a)
	if err != nil {
		return nil, err
	}
	s := j.step(a, "lava-test-interactive", "Executing lava-test-interactive",
		func(ctx context.Context, s *Step) error { return j.runInteractive(ctx, stage, scripts) })
	s.TimeoutType = TypeTimeout
	return j.step(a, "lava-test-interactive-retry", "Retry wrapper for lava-test-interactive", nil, s), nil
}

func parseInteractive(a jobdef.Action) ([]interactiveScript, error) {
	list, ok := a.Params["interactive"].([]any)
	if !ok || len(list) == 0 {
		return nil, JobError("actions[%d].test.interactive: a list of scripts is required", a.Index)
	}
	var out []interactiveScript
	for i, v := range list {
		where := fmt.Sprintf("actions[%d].test.interactive[%d]", a.Index, i)
		m, _ := v.(map[string]any)
		sc := interactiveScript{name: stringOf(m["name"]), discard: stringOf(m["echo"]) == "discard"}
		cmds, _ := m["script"].([]any)
		if sc.name == "" || m["prompts"] == nil || cmds == nil {
			return nil, JobError("%s: missing a required parameter from [name prompts script]", where)
		}
		var err error
		if sc.prompts, err = compilePrompts(stringsOf(m["prompts"]), where+".prompts"); err != nil {
			return nil, err
		}
		for k, c := range cmds {
			cmd, err := parseInteractiveCmd(c, fmt.Sprintf("%s.script[%d]", where, k))
			if err != nil {
				return nil, err
			}
			sc.cmds = append(sc.cmds, cmd)
		}
		out = append(out, sc)
	}
	return out, nil
}

func parseInteractiveCmd(v any, where string) (interactiveCmd, error) {
	m, _ := v.(map[string]any)
	c := interactiveCmd{name: stringOf(m["name"]), waitForPrompt: true}
	if m == nil {
		return c, JobError("%s: expected a mapping", where)
	}
	for _, k := range []string{"lava-send", "lava-wait", "lava-wait-all", "lava-sync"} {
		if _, ok := m[k]; ok {
			return c, JobError("%s: %s needs the MultiNode protocol, not available in interactive tests here", where, k)
		}
	}
	if d, ok := m["delay"]; ok {
		n, ok := d.(int)
		if !ok || n < 0 {
			return c, JobError("%s.delay: a number of seconds is required", where)
		}
		c.delay = time.Duration(n) * time.Second
		return c, nil
	}
	if cmd, ok := m["command"]; !ok {
		return c, JobError("%s: command is required (null to only wait)", where)
	} else if cmd != nil {
		s := stringOf(cmd)
		c.command = &s
	}
	if b, ok := m["wait_for_prompt"].(bool); ok {
		c.waitForPrompt = b
	}
	list := func(key string) ([]map[string]any, error) {
		raw, _ := m[key].([]any)
		var out []map[string]any
		for i, e := range raw {
			em, _ := e.(map[string]any)
			if stringOf(em["message"]) == "" {
				return nil, JobError("%s.%s[%d].message is required", where, key, i)
			}
			out = append(out, em)
		}
		return out, nil
	}
	succ, err := list("successes")
	if err != nil {
		return c, err
	}
	for i, e := range succ {
		re, err := regexp.Compile(stringOf(e["message"]))
		if err != nil {
			return c, JobError("%s.successes[%d].message: %v", where, i, err)
		}
		c.successes = append(c.successes, re)
	}
	fails, err := list("failures")
	if err != nil {
		return c, err
	}
	for i, e := range fails {
		re, err := regexp.Compile(stringOf(e["message"]))
		if err != nil {
			return c, JobError("%s.failures[%d].message: %v", where, i, err)
		}
		c.failures = append(c.failures, interactiveFailure{re: re, exception: stringOf(e["exception"]), error: stringOf(e["error"])})
	}
	return c, nil
}

func (j *Job) runInteractive(ctx context.Context, stage int, scripts []interactiveScript) error {
	if j.Console == nil {
		return InfraError("Connection closed")
	}
	sub := map[string]string{"{JOB_ID}": j.ID}
	if ip, err := j.dispatcherIP(); err == nil {
		sub["{SERVER_IP}"] = ip
	}
	for _, sc := range scripts {
		start := time.Now()
		res := map[string]any{"definition": "lava", "case": fmt.Sprintf("%d_%s", stage, sc.name), "result": "fail"}
		err := j.runScript(ctx, stage, sc, sub)
		if err == nil {
			res["result"] = "pass"
		}
		res["duration"] = fmt.Sprintf("%.02f", time.Since(start).Seconds())
		j.Log.Results(res)
		if err != nil {
			return err
		}
	}
	return nil
}

func (j *Job) runScript(ctx context.Context, stage int, sc interactiveScript, sub map[string]string) error {
	for _, cmd := range sc.cmds {
		if cmd.delay > 0 {
			j.Log.Infof("Delaying for %ds", int(cmd.delay.Seconds()))
			if !sleepCtx(ctx, cmd.delay) {
				return context.Cause(ctx)
			}
			continue
		}
		start := time.Now()
		pass, err := j.interactiveCommand(ctx, sc, cmd, sub)
		if cmd.name != "" {
			res := "fail"
			if pass && err == nil {
				res = "pass"
			}
			j.Log.Results(map[string]any{"definition": fmt.Sprintf("%d_%s", stage, sc.name), "case": cmd.name,
				"result": res, "duration": fmt.Sprintf("%.02f", time.Since(start).Seconds())})
		}
		if err != nil {
			return err
		}
		if cmd.name == "" && !pass {
			return TestError("Failed to run command '%s'", derefOr(cmd.command, ""))
		}
	}
	return nil
}

func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

var echoLine = regexp.MustCompile(`[^\n]*\n`)

// interactiveCommand sends one command and reports whether it passed; a
// failure pattern with an exception ends the test with that error.
func (j *Job) interactiveCommand(ctx context.Context, sc interactiveScript, cmd interactiveCmd, sub map[string]string) (bool, error) {
	c := j.Console
	if cmd.command == nil {
		j.Log.Infof("Sending nothing, waiting")
	} else {
		line := substitute([]string{*cmd.command}, sub)[0]
		j.Log.Infof("Sending '%s'", line)
		if err := c.SendLine(ctx, line); err != nil {
			return false, err
		}
		if sc.discard {
			if _, echo, err := c.ExpectText(ctx, []*regexp.Regexp{echoLine}); err == nil {
				j.Log.Debugf("Ignoring echo: %q", echo)
			}
		}
	}
	expect := append(append(append([]*regexp.Regexp{}, sc.prompts...), failureRegexps(cmd.failures)...), cmd.successes...)
	idx, text, err := c.ExpectText(ctx, expect)
	if err != nil {
		return false, interactiveErr(ctx, err)
	}
	np, nf := len(sc.prompts), len(cmd.failures)
	switch {
	case idx < np:
		if len(cmd.successes) > 0 {
			j.Log.Errorf("Matched a prompt (was expecting a success): '%s'", expect[idx])
			return false, nil
		}
		j.Log.Debugf("Matched a prompt: '%s'", expect[idx])
		return true, nil
	case idx < np+nf:
		f := cmd.failures[idx-np]
		j.Log.Errorf("Matched a failure: '%s'", f.re)
		if f.exception != "" {
			msg := f.error
			if msg == "" {
				msg = f.re.String()
			}
			return false, interactiveException(f.exception, msg)
		}
	default:
		re := expect[idx]
		groups := map[string]string{}
		if m := re.FindStringSubmatch(text); m != nil {
			for i, n := range re.SubexpNames() {
				if n != "" && i < len(m) {
					groups[n] = m[i]
					sub["{"+n+"}"] = m[i]
				}
			}
		}
		if len(groups) > 0 {
			j.Log.Infof("Matched a success: '%s' (groups: %v)", re, groups)
		} else {
			j.Log.Infof("Matched a success: '%s'", re)
		}
	}
	pass := idx >= np+nf
	if cmd.waitForPrompt {
		if _, err := c.Expect(ctx, sc.prompts); err != nil {
			return pass, interactiveErr(ctx, err)
		}
	}
	return pass, nil
}

func failureRegexps(fs []interactiveFailure) []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(fs))
	for i, f := range fs {
		out[i] = f.re
	}
	return out
}

func interactiveErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return &Error{Type: TypeTimeout, Msg: "interactive connection timed out", Err: context.Cause(ctx)}
	}
	return err
}

func interactiveException(name, msg string) error {
	switch name {
	case "InfrastructureError":
		return InfraError("%s", msg)
	case "JobError":
		return JobError("%s", msg)
	case "TestError":
		return TestError("%s", msg)
	}
	return JobError("Unknown exception '%s' with '%s'", name, msg)
}

package run

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golava/pkg/jobdef"
)

// monitorSpec is one entry of a test action's monitors: watch the console
// without typing, from start to end, and record every pattern match.
type monitorSpec struct {
	name       string
	start, end *regexp.Regexp
	pattern    *regexp.Regexp
	fixup      map[string]string
}

var nonWord = regexp.MustCompile(`\W+`)

// buildMonitor is LAVA's lava-test-monitor.
func buildMonitor(j *Job, a jobdef.Action) (*Step, error) {
	list, ok := a.Params["monitors"].([]any)
	if !ok || len(list) == 0 {
		return nil, JobError("actions[%d].test.monitors: a list of monitors is required", a.Index)
	}
	var specs []monitorSpec
	for i, v := range list {
		where := fmt.Sprintf("actions[%d].test.monitors[%d]", a.Index, i)
		m, _ := v.(map[string]any)
		sp := monitorSpec{name: stringOf(m["name"]), fixup: map[string]string{}}
		if sp.name == "" {
			return nil, JobError("%s.name is required", where)
		}
		for key, dst := range map[string]**regexp.Regexp{"start": &sp.start, "end": &sp.end, "pattern": &sp.pattern} {
			s := stringOf(m[key])
			if s == "" {
				return nil, JobError("%s.%s is required", where, key)
			}
			re, err := regexp.Compile(s)
			if err != nil {
				return nil, JobError("%s.%s: %v", where, key, err)
			}
			*dst = re
		}
		fix, _ := m["fixupdict"].(map[string]any)
		for k, v := range fix {
			sp.fixup[k] = stringOf(v)
		}
		specs = append(specs, sp)
	}
	s := j.step(a, "lava-test-monitor", "Executing lava-test-monitor", nil)
	s.Run = func(ctx context.Context, st *Step) error { return j.runMonitors(ctx, st, specs) }
	s.TimeoutType = TypeTimeout
	return j.step(a, "lava-test-monitor-retry", "Retry wrapper for lava-test-monitor", nil, s), nil
}

func (j *Job) runMonitors(ctx context.Context, s *Step, specs []monitorSpec) error {
	c := j.Console
	if c == nil {
		return InfraError("Connection closed")
	}
	for _, sp := range specs {
		j.Log.Infof("Waiting for start message: %s", sp.start)
		if _, err := c.Expect(ctx, []*regexp.Regexp{sp.start}); err != nil {
			return err
		}
		j.Log.Infof("ok: start string found, lava test monitoring started")
		if err := j.monitor(ctx, s, sp); err != nil {
			return err
		}
	}
	return nil
}

// monitor records matches until the end string; a connection that stays
// quiet for the connection timeout ends the monitor (LAVA only warns).
func (j *Job) monitor(ctx context.Context, s *Step, sp monitorSpec) error {
	d := j.Timeouts.ForConnection(s.Name)
	for {
		mctx, cancel := context.WithTimeout(ctx, d)
		idx, text, err := j.Console.ExpectText(mctx, []*regexp.Regexp{sp.end, sp.pattern})
		quiet := err != nil && mctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case quiet:
			j.Log.Warningf("err: lava test monitoring has timed out")
			return nil
		case err != nil:
			return err
		case idx == 0:
			j.Log.Infof("ok: end string found, lava test monitoring stopped")
			return nil
		}
		j.Log.Infof("ok: test case found")
		j.monitorResult(s, sp, text)
	}
}

func (j *Job) monitorResult(s *Step, sp monitorSpec, text string) {
	m := sp.pattern.FindStringSubmatch(text)
	g := map[string]string{}
	for i, n := range sp.pattern.SubexpNames() {
		if n != "" && i < len(m) && m[i] != "" {
			g[n] = m[i]
		}
	}
	id := strings.TrimSpace(g["test_case_id"])
	if id == "" {
		return
	}
	res := map[string]any{
		"definition": strings.ToLower(strings.ReplaceAll(sp.name, " ", "-")),
		"case":       nonWord.ReplaceAllString(strings.ToLower(id), "_"),
		"level":      s.Level, "extra": map[string]any{"test_case_id": id},
	}
	if r, ok := g["result"]; ok {
		if f, ok := sp.fixup[r]; ok {
			r = f
		}
		switch r {
		case "pass", "fail", "skip", "unknown":
		default:
			j.Log.Errorf("error: bad test results: %s", r)
			return
		}
		res["result"] = r
	} else if g["measurement"] != "" {
		res["result"] = "pass"
	} else {
		return
	}
	if v, ok := g["measurement"]; ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			res["measurement"] = f
		}
	}
	if u, ok := g["units"]; ok {
		res["units"] = u
	}
	j.Log.Results(res)
}

package run

import (
	"context"
	"crypto/rand"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"golava/pkg/jobdef"
	"golava/pkg/logfmt"
	"golava/pkg/testshell"
	"golava/worker/run/overlay"
)

// planOverlay collects the inline test definitions of every test action
// into the overlay description; unsupported sources fail at parse time.
func (j *Job) planOverlay() error {
	j.Overlay = overlay.Config{
		ResultsDir:  j.Device.ResultsDir(j.ID),
		JobID:       j.ID,
		Environment: map[string]string{"LAVA_JOB_ID": j.ID},
	}
	if len(j.Def.Secrets) > 0 {
		j.Overlay.Secrets = map[string]string{}
		j.Overlay.JobSecrets = map[string]string{}
		for k, v := range j.Def.Secrets {
			j.Overlay.Secrets[k] = stringOf(v)
			j.Overlay.JobSecrets[k] = stringOf(v)
		}
	}
	if sh := stringOf(j.constant("posix", "lava_test_sh_cmd")); sh != "" {
		j.Overlay.Environment["SHELL"] = sh // the shell lava-test-shell runs run.sh with
	}
	j.patterns = map[string]*patternSpec{}
	j.paths = map[string]string{}
	j.sources = map[string]*defSource{}
	stage, index := 0, 0
	for _, a := range j.Def.Actions {
		if a.Kind != "test" {
			continue
		}
		defs, _ := a.Params["definitions"].([]any)
		_, interactive := a.Params["interactive"]
		_, monitors := a.Params["monitors"]
		if len(defs) == 0 && !interactive && !monitors {
			return JobError("actions[%d].test: Missing test 'definitions'", a.Index)
		}
		st := overlay.Stage{Index: stage}
		for i, d := range defs {
			def, err := j.inlineDefinition(a, i, d, index)
			if err != nil {
				return err
			}
			st.Definitions = append(st.Definitions, def)
			index++
		}
		j.Overlay.Stages = append(j.Overlay.Stages, st)
		stage++
	}
	return nil
}

func (j *Job) inlineDefinition(a jobdef.Action, i int, d any, index int) (overlay.Definition, error) {
	where := fmt.Sprintf("actions[%d].test.definitions[%d]", a.Index, i)
	m, _ := d.(map[string]any)
	name := stringOf(m["name"])
	if name == "" || strings.ContainsAny(name, "/ \t'\"") {
		return overlay.Definition{}, JobError("%s.name: invalid name %q", where, name)
	}
	if name == "lava" {
		return overlay.Definition{}, TestError("The \"lava\" test definition name is reserved.")
	}
	def := overlay.Definition{Name: name, Index: index, UUID: newUUID(), Params: map[string]string{}}
	j.paths[def.RunID()] = stringOf(m["path"])
	switch from := stringOf(m["from"]); from {
	case "inline":
		repo, _ := m["repository"].(map[string]any)
		if repo == nil {
			return def, JobError("%s.repository: expected the inline test definition", where)
		}
		j.sources[def.RunID()] = &defSource{from: "inline", repository: "inline", path: stringOf(m["path"])}
		return def, j.fillDefinition(&def, repo, m, where)
	case "git", "url":
		src, err := gitSourceOf(m, where)
		if err != nil {
			return def, err
		}
		j.sources[def.RunID()] = src
		return def, nil
	default:
		return def, JobError("%s: test definitions from %q are not supported by this dispatcher (use inline, git or url)", where, from)
	}
}

// fillDefinition reads the steps, parameters and parse pattern of a test
// definition document; the job's params and parameters win over the
// document's.
func (j *Job) fillDefinition(def *overlay.Definition, doc, m map[string]any, where string) error {
	run, _ := doc["run"].(map[string]any)
	def.RunSteps = stringsOf(run["steps"])
	install, _ := doc["install"].(map[string]any)
	def.InstallSteps = stringsOf(install["steps"])
	for _, src := range []any{doc["params"], doc["parameters"], m["parameters"], m["params"]} {
		if src == nil {
			continue
		}
		pm, ok := src.(map[string]any)
		if !ok {
			return TestError("%s: params and parameters must be mappings", where)
		}
		for k, v := range pm {
			def.Params[k] = stringOf(v)
		}
	}
	if parse, _ := doc["parse"].(map[string]any); parse != nil && stringOf(parse["pattern"]) != "" {
		spec := &patternSpec{expr: stringOf(parse["pattern"]), fixup: map[string]string{}}
		if _, err := testshell.CompilePattern(spec.expr, nil); err != nil {
			return TestError("%s.repository.parse.pattern: %v", where, err)
		}
		fix, _ := parse["fixupdict"].(map[string]any)
		for k, v := range fix {
			spec.fixup[k] = stringOf(v)
		}
		j.patterns[def.RunID()] = spec
	}
	return nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// buildOverlay packs the overlay once.
func (j *Job) buildOverlay(ctx context.Context) error {
	if j.OverlayData != nil {
		return nil
	}
	if err := j.fetchDefinitions(ctx); err != nil {
		return err
	}
	data, err := overlay.Build(j.Overlay)
	if err != nil {
		return JobError("%v", err)
	}
	j.OverlayData = data
	j.Log.Debugf("Test overlay: %d bytes for %s", len(data), j.Overlay.ResultsDir)
	return nil
}

func buildTest(j *Job, a jobdef.Action) (*Step, error) {
	stage := 0
	for _, b := range j.Def.Actions {
		if b.Index < a.Index && b.Kind == "test" {
			stage++
		}
	}
	if _, ok := a.Params["definitions"]; !ok {
		if _, ok := a.Params["interactive"]; ok {
			return buildInteractive(j, a, stage)
		}
		if _, ok := a.Params["monitors"]; ok {
			return buildMonitor(j, a)
		}
		return nil, JobError("actions[%d].test: definitions, interactive or monitors are required", a.Index)
	}
	shell := j.step(a, "lava-test-shell", "Executing lava-test-runner",
		func(ctx context.Context, s *Step) error { return j.testShell(ctx, stage, a.Namespace) })
	shell.TimeoutType = TypeTimeout
	return j.step(a, "lava-test-retry", "Retry support for Lava Test Shell", nil, shell), nil
}

// lineQueue hands console lines from the reader goroutine to the test shell.
type lineQueue struct {
	mu     sync.Mutex
	lines  []string
	notify chan struct{}
}

func (q *lineQueue) push(l string) {
	q.mu.Lock()
	q.lines = append(q.lines, l)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *lineQueue) next(ctx context.Context, done <-chan struct{}) (string, error) {
	for {
		q.mu.Lock()
		if len(q.lines) > 0 {
			l := q.lines[0]
			q.lines[0] = ""
			q.lines = q.lines[1:]
			q.mu.Unlock()
			return l, nil
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", context.Cause(ctx)
		case <-q.notify:
		case <-done:
			// Drain what the reader pushed before it ended.
			q.mu.Lock()
			n := len(q.lines)
			q.mu.Unlock()
			if n == 0 {
				return "", &Error{Type: TypeInfrastructure, Msg: "Connection closed", Err: ErrConnectionClosed}
			}
		}
	}
}

func (j *Job) testShell(ctx context.Context, stage int, ns string) error {
	c := j.Console
	if c == nil {
		j.Log.Errorf("No connection to the DUT, Check that a boot action precede test actions")
		return JobError("No connection to the DUT")
	}
	if len(j.Prompts) == 0 {
		p := stringOf(j.constant("default-shell-prompt"))
		if p == "" {
			p = "lava-test: # "
		}
		j.Prompts = []*regexp.Regexp{regexp.MustCompile(regexp.QuoteMeta(p))}
	}
	const action = "lava-test-shell"
	if err := j.transferOverlay(ctx, action); err != nil {
		return err
	}
	c.SetCharacterDelay(j.charDelay("test"))
	if err := j.shellCommand(ctx, action, ""); err != nil {
		return err
	}
	// Device environment (env-dut) and job variables, as LAVA sources it.
	if err := j.shellCommand(ctx, action, ". "+overlay.Quote(j.Overlay.ResultsDir+"/environment")); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		j.Log.Infof("Test shell timeout: %ds (minimum of the action and connection timeout)", int(time.Until(dl).Seconds()))
	}
	q := &lineQueue{notify: make(chan struct{}, 1)}
	c.SetLineHandler(q.push)
	defer c.SetLineHandler(nil)
	c.setLogFilter(&artifactGate{})
	defer c.setLogFilter(nil)
	if err := c.SendLine(ctx, j.Overlay.RunnerCommand(stage)); err != nil {
		return err
	}
	ts := &shellState{j: j, stage: stage, ns: ns}
	defer ts.finish()
	defer ts.endUpload(ctx)
	for {
		line, err := q.next(ctx, c.Done())
		if err != nil {
			return err
		}
		line = testshell.CleanLine(line)
		if ok, err := j.multinodeLine(ctx, ts.definition, line); ok {
			if err != nil {
				return err
			}
			continue
		}
		done, err := ts.handle(ctx, line)
		if err != nil {
			return err
		}
		if done {
			break
		}
	}
	if ts.errors != "" {
		return TestError("%s", ts.errors)
	}
	return nil
}

// shellState follows one lava-test-runner run, as LAVA's TestShellAction.
type shellState struct {
	j          *Job
	ns         string
	stage      int
	definition string
	testset    string
	start      time.Time
	currentRun map[string]any
	pattern    *testshell.Pattern
	errors     string
	upload     *upload // a file the DUT is sending (lava-artifact-upload)
}

func (ts *shellState) handle(ctx context.Context, line string) (bool, error) {
	sig, ok := testshell.ParseLine(line)
	if ts.artifactLine(ctx, line, sig, ok) {
		return false, nil
	}
	if !ok {
		if ts.pattern != nil {
			ts.matchPattern(line)
		}
		return false, nil
	}
	log := ts.j.Log
	log.Debugf("Received signal: <%s> %s", sig.Name, strings.Join(sig.Params, " "))
	switch sig.Name {
	case testshell.RunnerExit:
		log.Infof("ok: lava_test_shell seems to have completed")
		return true, nil
	case testshell.RunnerInstallFail:
		log.Errorf("Unable to start stage %d. Read the log for more details.", ts.stage)
		ts.errors = fmt.Sprintf("Unable to start test stage %d", ts.stage)
		ts.start = time.Now()
		ts.currentRun = map[string]any{"definition": "lava", "case": fmt.Sprintf("stage_%d", ts.stage), "result": "fail"}
	case testshell.StartRun:
		ts.startRun(sig.Params)
	case testshell.EndRun:
		ts.endRun(sig.Params)
	case testshell.TestCase:
		return false, ts.testCase(sig.Params)
	case testshell.TestSet:
		ts.testSet(sig.Params)
	case testshell.TestReference:
		return false, ts.reference(sig.Params)
	case testshell.TestRaise:
		return false, TestError("%s", strings.Join(sig.Params, " "))
	case testshell.TestEvent:
		log.log(logfmt.LevelEvent, strings.Join(sig.Params, " "))
	}
	return false, nil
}

func (ts *shellState) startRun(p []string) {
	if len(p) < 2 {
		ts.j.Log.Errorf("Invalid STARTRUN signal: %v", p)
		return
	}
	ts.finish() // a run left open (install failure, lost ENDRUN) is reported, not dropped
	ts.definition, ts.start = p[0], time.Now()
	ts.j.Log.Infof("Starting test lava.%s (%s)", p[0], p[1])
	ts.pattern = nil
	if spec := ts.j.patterns[p[0]]; spec != nil {
		ts.pattern, _ = testshell.CompilePattern(spec.expr, spec.fixup)
		ts.j.Log.Infof("Enabling test definition pattern %q", spec.expr)
	}
	ts.currentRun = map[string]any{"definition": "lava", "case": p[0], "uuid": p[1], "result": "fail"}
}

func (ts *shellState) endRun(p []string) {
	if len(p) < 2 {
		ts.j.Log.Errorf("Invalid ENDRUN signal: %v", p)
		return
	}
	if ts.start.IsZero() {
		ts.start = time.Now()
	}
	dur := time.Since(ts.start).Seconds()
	ts.j.Log.Infof("Ending use of test pattern.")
	ts.j.Log.Infof("Ending test lava.%s (%s), duration %.02f", p[0], p[1], dur)
	ts.pattern, ts.currentRun = nil, nil
	res := map[string]any{
		"definition": "lava", "case": p[0], "uuid": p[1], "path": ts.j.paths[p[0]],
		"duration": fmt.Sprintf("%.02f", dur), "result": "pass", "namespace": ts.namespace(),
	}
	res["repository"], res["revision"] = "inline", "unspecified"
	if src := ts.j.sources[p[0]]; src != nil {
		res["repository"] = src.repository
		if src.commit != "" {
			res["commit_id"], res["revision"] = src.commit, src.commit
		}
	}
	ts.j.Log.Results(res)
	ts.start = time.Time{}
}

func (ts *shellState) testCase(p []string) error {
	if ts.definition == "" {
		ts.j.Log.Errorf("Unknown test uuid. The STARTRUN signal for this test action was not received correctly.")
		return TestError("Invalid TESTCASE signal")
	}
	var fixup map[string]string
	if spec := ts.j.patterns[ts.definition]; spec != nil {
		fixup = spec.fixup
	}
	r, err := testshell.ParseTestCase(p, fixup)
	if err != nil {
		ts.j.Log.Errorf("%v", err)
		return nil
	}
	ts.report(r)
	return nil
}

func (ts *shellState) report(r testshell.Result) {
	res := map[string]any{"definition": ts.definition, "case": r.ID, "result": r.Result}
	if r.HasMeasurement {
		res["measurement"] = r.Measurement
		if r.Units != "" {
			res["units"] = r.Units
		}
	}
	if ts.testset != "" {
		res["set"] = ts.testset
	}
	ts.j.Log.Results(res)
}

func (ts *shellState) testSet(p []string) {
	switch p[0] {
	case "START":
		if len(p) < 2 {
			ts.j.Log.Errorf("Test set declared without a name")
			return
		}
		ts.testset = p[1]
		ts.j.Log.Infof("Starting test_set %s", ts.testset)
	case "STOP":
		ts.j.Log.Infof("Closing test_set %s", ts.testset)
		ts.testset = ""
	}
}

func (ts *shellState) reference(p []string) error {
	if len(p) != 3 {
		return TestError("Invalid use of TESTREFERENCE")
	}
	res := map[string]any{"definition": ts.definition, "case": p[0], "result": p[1], "reference": p[2]}
	if ts.testset != "" {
		res["set"] = ts.testset
	}
	ts.j.Log.Results(res)
	return nil
}

func (ts *shellState) matchPattern(line string) {
	r, ok, err := ts.pattern.Match(line)
	if !ok {
		return
	}
	if err != nil {
		ts.j.Log.Debugf("Skipping pattern match: %v", err)
		return
	}
	ts.report(r)
}

func (ts *shellState) namespace() string {
	if ts.ns == "" {
		return "common"
	}
	return ts.ns
}

// finish reports a run that never ended as failed.
func (ts *shellState) finish() {
	if ts.currentRun == nil {
		return
	}
	ts.j.Log.Errorf("Marking unfinished test run as failed")
	ts.currentRun["duration"] = fmt.Sprintf("%.02f", time.Since(ts.start).Seconds())
	ts.j.Log.Results(ts.currentRun)
	ts.currentRun = nil
}

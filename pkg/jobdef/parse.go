package jobdef

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"time"
)

// DefaultTimeout is what an all-zero timeout block means (lava-common's
// ACTION_TIMEOUT).
const DefaultTimeout = 30 * time.Second

// DefaultPriority is the priority of a job that sets none ("medium").
const DefaultPriority = 50

var (
	jobSchemaOnce sync.Once
	jobSchema     *mapS
)

func topSchema() *mapS {
	jobSchemaOnce.Do(func() { jobSchema = jobS() })
	return jobSchema
}

// ParseWith reads and validates a job definition. On a YAML syntax error it
// returns (nil, ErrorList); on schema errors it returns the Job as far as it
// could be read together with an ErrorList of every problem found.
func ParseWith(data []byte, opts Options) (*Job, error) {
	return parse(data, opts, true)
}

// parse validates, and builds the Job when build is set (Validate does not
// need it).
func parse(data []byte, opts Options, build bool) (*Job, error) {
	if len(data) > MaxDefinitionBytes {
		return nil, ErrorList{{Message: fmt.Sprintf("job definition is %d bytes, larger than the limit of %d", len(data), MaxDefinitionBytes)}}
	}
	root, node, err := loadYAML11(data)
	if err != nil {
		se := err.(*syntaxError)
		return nil, ErrorList{{Line: se.line, Column: se.column, Message: se.msg}}
	}
	if root.kind != kindMap {
		return nil, ErrorList{{Line: root.line, Column: root.column,
			Message: fmt.Sprintf("expected a mapping at the top level, got %s", root.typeName())}}
	}
	c := &checker{strict: opts.Strict}
	topSchema().check(c, root, "")
	extraChecks(c, root)
	if opts.Submission {
		c.errs = mergeErrors(c.errs, checkSubmission(root))
	}
	var job *Job
	if build {
		job = buildJob(root)
		job.Root = node
	}
	if len(c.errs) > 0 {
		sortErrors(c.errs)
		return job, c.errs
	}
	return job, nil
}

// Validate checks a definition and returns only its errors (nil when valid).
func Validate(data []byte, opts Options) ErrorList {
	_, err := parse(data, opts, false)
	if err == nil {
		return nil
	}
	return err.(ErrorList)
}

// timeoutOf converts a timeout block as lava-common's Timeout.parse does:
// the sum of its units in whole seconds, DefaultTimeout when zero. ok is
// false when v is not a mapping.
func timeoutOf(v *value) (time.Duration, bool) {
	if v == nil || v.kind != kindMap {
		return 0, false
	}
	secs := 0.0
	for unit, mult := range map[string]float64{"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1} {
		if n, ok := v.get(unit).numberOK(); ok {
			secs += n * mult
		}
	}
	if secs == 0 {
		return DefaultTimeout, true
	}
	if secs > math.MaxInt64/1e9 || secs < 0 {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(math.Trunc(secs)) * time.Second, true
}

// timeoutSeconds is Timeout.parse's integer, negative sums included, for
// comparing timeouts exactly as check_job_timeouts does.
func timeoutSeconds(v *value) (float64, bool) {
	if v == nil || v.kind != kindMap {
		return 0, false
	}
	secs := 0.0
	for unit, mult := range map[string]float64{"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1} {
		if n, ok := v.get(unit).numberOK(); ok {
			secs += n * mult
		}
	}
	if secs == 0 {
		return DefaultTimeout.Seconds(), true
	}
	return math.Trunc(secs), true
}

func (v *value) numberOK() (float64, bool) {
	if v == nil {
		return 0, false
	}
	n, ok := v.number()
	if !ok {
		return 0, false
	}
	f, _ := n.Float64()
	return f, true
}

// extraChecks are the rules across fields (lava-common's extra_checks).
func extraChecks(c *checker, root *value) {
	checkJobTimeouts(c, root)
	checkMultinode(c, root)
	checkNamespaces(c, root)
}

func actionBodies(root *value) (bodies []*value, paths []string) {
	actions := root.get("actions")
	if actions == nil || actions.kind != kindSeq {
		return nil, nil
	}
	for i, a := range actions.items {
		kind, body, ok := actionHead(a)
		if !ok || body.kind != kindMap {
			continue
		}
		bodies = append(bodies, body)
		paths = append(paths, joinPath(indexPath("actions", i), kind))
	}
	return bodies, paths
}

func checkJobTimeouts(c *checker, root *value) {
	timeouts := root.get("timeouts")
	if _, ok := timeoutOf(timeouts.get("job")); !ok {
		return
	}
	jobSecs, _ := timeoutSeconds(timeouts.get("job"))
	check := func(prefix string, v *value, path string) {
		if d, ok := timeoutSeconds(v); ok && d > jobSecs {
			c.add(v, path, "%s timeout is larger than job timeout", prefix)
		}
	}
	check("Global", timeouts.get("action"), "timeouts.action")
	check("Global", timeouts.get("connection"), "timeouts.connection")
	for _, group := range []string{"actions", "connections"} {
		m := timeouts.get(group)
		if m == nil || m.kind != kindMap {
			continue
		}
		for i, k := range m.keys {
			check("Global", m.vals[i], "timeouts."+group+"."+k.keyString())
		}
	}
	bodies, paths := actionBodies(root)
	for i, b := range bodies {
		check("Action", b.get("timeout"), paths[i]+".timeout")
	}
}

// truthy is Python truthiness for the values a job holds.
func truthy(v *value) bool {
	if v == nil {
		return false
	}
	switch v.kind {
	case kindNull:
		return false
	case kindBool:
		return v.b
	case kindInt:
		return v.i.Sign() != 0
	case kindFloat:
		return v.f != 0
	case kindStr:
		return v.s != ""
	case kindMap:
		return len(v.keys) > 0
	case kindSeq:
		return len(v.items) > 0
	}
	return true
}

func checkMultinode(c *checker, root *value) {
	multinode := truthy(root.get("protocols").get("lava-multinode"))
	for _, extra := range []string{"device_type", "environment", "context", "tags"} {
		v := root.get(extra)
		if truthy(v) && multinode {
			c.add(v, extra, "%q should not be used with multinode", extra)
		}
		if extra == "device_type" && !truthy(v) && !multinode {
			c.add(root, "device_type", "\"device_type\" or multinode should be defined")
		}
	}
	if !multinode {
		return
	}
	bodies, paths := actionBodies(root)
	for i, b := range bodies {
		if b.get("role") == nil {
			c.add(b, paths[i]+".role", "every action of a multinode job should have roles")
		}
	}
}

func checkNamespaces(c *checker, root *value) {
	bodies, paths := actionBodies(root)
	with := 0
	for _, b := range bodies {
		if b.get("namespace") != nil {
			with++
		}
	}
	if with == 0 || with == len(bodies) {
		return
	}
	for i, b := range bodies {
		if b.get("namespace") == nil {
			c.add(b, paths[i]+".namespace", "when using namespaces, every action should have a namespace")
		}
	}
}

// sortErrors orders errors by position; errors without one come first.
func sortErrors(l ErrorList) {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].Line != l[j].Line {
			return l[i].Line < l[j].Line
		}
		return l[i].Column < l[j].Column
	})
}

// mergeErrors appends the errors of b at paths a has no error for: one
// problem is reported once, in lava-common's words.
func mergeErrors(a, b ErrorList) ErrorList {
	seen := map[string]bool{}
	for _, e := range a {
		seen[e.Path] = true
	}
	for _, e := range b {
		if !seen[e.Path] {
			a = append(a, e)
		}
	}
	return a
}

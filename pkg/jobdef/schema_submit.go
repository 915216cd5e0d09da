package jobdef

import (
	"fmt"
	"regexp"
	"sync"
)

// The submission gate: lava-server checks a submitted job with a schema of
// its own (lava_scheduler_app/schema.py), looser in places and stricter in
// others than lava-common's: the top level and several blocks reject
// unknown keys, timeouts take one integer unit, metadata holds scalars
// only. Options.Submission applies it on top of lava-common's rules.

var (
	actionNameRe = regexp.MustCompile(`^[a-z-]+$`)
	vlanNameRe   = regexp.MustCompile(`^[_a-zA-Z0-9]+$`)
	subNameRe    = regexp.MustCompile(`^[a-zA-Z0-9-_]+$`)
	subName      = strS{re: subNameRe, reMsg: "invalid character: expected letters, digits, '-' and '_'"}
)

// closedMap is a mapping that rejects unknown keys whatever strict says.
func closedMap(fields ...field) *mapS { return &mapS{fields: fields, closed: true} }

func subTimeoutS() *mapS {
	m := closedMap(opt("skip", boolean))
	for _, u := range []string{"days", "hours", "minutes", "seconds"} {
		m.fields = append(m.fields, field{name: u, s: integer, exclusive: "timeout_unit"})
	}
	return m
}

// scalarMapS is voluptuous {Any(str, int): Any(str, int)}: keys and values
// are strings or integers (bool included, as in Python).
type scalarMapS struct{}

func scalarKind(v *value) bool { return v.kind == kindStr || v.kind == kindInt || v.kind == kindBool }

func (scalarMapS) check(c *checker, v *value, path string) {
	if v.kind != kindMap {
		c.add(v, path, "expected a mapping, got %s", v.typeName())
		return
	}
	for i, k := range v.keys {
		kp := joinPath(path, k.keyString())
		if !scalarKind(k) {
			c.add(k, kp, "extra key not allowed: keys are str or int")
			continue
		}
		if val := v.vals[i]; !scalarKind(val) {
			c.add(val, kp, "expected str or int, got %s", val.typeName())
		}
	}
}

func (scalarMapS) expect() string { return "a mapping of str or int to str or int" }

func (scalarMapS) jsonSchema() map[string]any {
	return map[string]any{"type": "object", "additionalProperties": map[string]any{"type": []string{"string", "integer"}}}
}

func submissionS() *mapS {
	timeout := subTimeoutS()
	named := &mapS{closed: true, rest: patternKeys{actionNameRe, timeout}}
	url := mapOf(req("url", str))
	tftp := mapOf(req("to", enumS{"tftp"}), opt("timeout", timeout))
	for _, k := range []string{"kernel", "ramdisk", "nbdroot", "initrd", "nfsrootfs", "dtb", "modules", "tee"} {
		tftp.fields = append(tftp.fields, opt(k, url))
	}
	deploy := anyOf(tftp, mapOf(req("to", str), opt("timeout", timeout)))
	boot := mapOf(req("method", str), opt("timeout", timeout),
		opt("auto_login", closedMap(req("login_prompt", str), req("username", str),
			opt("password_prompt", str), opt("password", str), opt("login_commands", anyList))),
		opt("parameters", &mapS{closed: true, rest: anyOf(str, boolean)}),
		opt("commands", anyOf(str, anyList)))
	script := closedMap(opt("name", subName), opt("command", anyOf(nullS{}, str)), opt("delay", integer),
		opt("lava-send", str), opt("lava-sync", str), opt("lava-wait", str), opt("lava-wait-all", str),
		opt("wait_for_prompt", boolean),
		opt("failures", listOf(closedMap(req("message", str),
			opt("exception", enumS{"InfrastructureError", "JobError", "TestError"}), opt("error", str)))),
		opt("successes", listOf(closedMap(req("message", str)))))
	inline := closedMap(opt("metadata", anyDict), opt("install", anyDict), opt("run", anyDict), opt("parse", anyDict))
	test := anyS{alts: []schema{
		mapOf(req("monitors", listOf(closedMap(req("name", subName), req("start", str), req("end", str),
			req("pattern", str), opt("fixupdict", anyDict)))), opt("timeout", timeout)),
		mapOf(req("interactive", listOf(closedMap(req("name", subName), req("prompts", anyList),
			opt("echo", enumS{"discard"}), req("script", listOf(script))))), opt("timeout", timeout)),
		mapOf(req("definitions", listOf(mapOf(req("repository", anyOf(inline, str)), req("from", str),
			req("name", str), req("path", str), opt("parameters", anyDict), opt("timeout", timeout)))),
			opt("timeout", timeout)),
	}}
	command := mapOf(req("name", str), opt("timeout", timeout), opt("namespace", str))
	callback := mapOf(req("url", str), opt("method", enumS{"GET", "POST"}), opt("token", str),
		opt("dataset", enumS{"minimal", "logs", "results", "all"}), opt("content-type", enumS{"json", "urlencoded"}))
	notify := mapOf(
		req("criteria", mapOf(req("status", enumS{"running", "complete", "incomplete", "canceled", "finished", "all"}),
			opt("dependency_query", str), opt("type", enumS{"progression", "regression"}))),
		opt("recipients", listOf(closedMap(req("to", closedMap(req("method", enumS{"email", "irc"}),
			opt("user", str), opt("email", str), opt("server", str), opt("handle", str)))))),
		field{name: "callback", s: callback, exclusive: "legacy_callback"},
		field{name: "callbacks", s: listOf(callback), exclusive: "legacy_callback"},
		opt("verbosity", enumS{"verbose", "quiet", "status-only"}),
		opt("compare", mapOf(
			opt("query", anyOf(closedMap(req("username", str), req("name", str)),
				closedMap(req("entity", str), opt("conditions", anyDict)))),
			opt("blacklist", strList))),
	)
	return closedMap(
		opt("device_type", strS{min: 1}),
		req("job_name", strS{min: 1, max: 200}),
		opt("priority", anyS{alts: []schema{enumS{"high", "medium", "low"}, integer}, msg: `"high", "medium", "low" or an int`}),
		opt("protocols", closedMap(
			opt("lava-multinode", closedMap(opt("timeout", timeout), opt("roles", anyDict))),
			opt("lava-vland", &mapS{closed: true, rest: &mapS{closed: true,
				rest: patternKeys{vlanNameRe, closedMap(opt("tags", strList))}}}),
			opt("lava-lxc", anyDict), opt("lava-xnbd", anyDict),
		)),
		opt("context", contextS()),
		opt("metadata", scalarMapS{}),
		opt("secrets", anyDict), opt("environment", anyDict),
		opt("tags", strList),
		req("visibility", anyS{alts: []schema{enumS{"public", "personal"}, closedMap(opt("group", strList))},
			msg: `"public", "personal" or a mapping {group: [names]}`}),
		req("timeouts", closedMap(req("job", timeout), opt("action", timeout), opt("connection", timeout),
			opt("queue", timeout), opt("actions", named), opt("connections", named))),
		req("actions", listOf(closedMap(opt("deploy", deploy), opt("boot", boot), opt("test", test), opt("command", command)))),
		opt("notify", notify),
		opt("reboot_to_fastboot", boolean),
	)
}

var (
	submitOnce   sync.Once
	submitSchema *mapS
)

// checkSubmission applies the submission gate and its extra rules.
func checkSubmission(root *value) ErrorList {
	submitOnce.Do(func() { submitSchema = submissionS() })
	c := &checker{}
	submitSchema.check(c, root, "")
	// golava refuses a job that would do nothing, though LAVA queues it.
	if a := root.get("actions"); a != nil && a.kind == kindSeq && len(a.items) == 0 {
		c.add(a, "actions", "a job needs at least one action")
	}
	checkShallowRevision(c, root)
	checkRoleLinks(c, root)
	return c.errs
}

// checkShallowRevision: a pinned revision cannot be fetched shallow.
func checkShallowRevision(c *checker, root *value) {
	bodies, paths := actionBodies(root)
	for i, b := range bodies {
		defs := b.get("definitions")
		if defs == nil || defs.kind != kindSeq {
			continue
		}
		for j, d := range defs.items {
			if sh := d.get("shallow"); d.get("revision") != nil && sh != nil && sh.kind == kindBool && sh.b {
				c.add(sh, fmt.Sprintf("%s.definitions[%d].shallow", paths[i], j), "when 'revision' is used, 'shallow' should not be true")
			}
		}
	}
}

// checkRoleLinks: host_role and expect_role name existing roles and go
// together.
func checkRoleLinks(c *checker, root *value) {
	roles := root.get("protocols").get("lava-multinode").get("roles")
	if roles == nil || roles.kind != kindMap {
		return
	}
	for i, k := range roles.keys {
		role := roles.vals[i]
		p := "protocols.lava-multinode.roles." + k.keyString()
		host, expect := role.get("host_role"), role.get("expect_role")
		switch {
		case host != nil && roles.lookup(host) == nil:
			c.add(host, p+".host_role", "'host_role' %q does not exist", host.keyString())
		case host != nil && expect == nil:
			c.add(role, p+".expect_role", "'expect_role' is required when 'host_role' is used")
		case host != nil && roles.lookup(expect) == nil:
			c.add(expect, p+".expect_role", "'expect_role' %q does not exist", expect.keyString())
		case host == nil && expect != nil:
			c.add(expect, p+".expect_role", "'expect_role' without 'host_role'")
		}
	}
}

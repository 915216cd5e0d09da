package jobdef

import "sort"

// ContextVariables are the keys lava-common accepts in a job's context (and
// a MultiNode role's context), strict or not.
var ContextVariables = []string{
	// QEMU
	"arch", "boot_console", "boot_root", "cpu", "extra_options",
	"guestfs_driveid", "guestfs_interface", "guestfs_size", "machine",
	"memory", "model", "monitor", "netdevice", "no_kvm", "serial", "vga",
	// U-Boot load addresses
	"booti_dtb_addr", "booti_kernel_addr", "booti_ramdisk_addr",
	"bootm_dtb_addr", "bootm_kernel_addr", "bootm_ramdisk_addr",
	"bootz_dtb_addr", "bootz_kernel_addr", "bootz_ramdisk_addr",
	// others
	"boot_character_delay", "boot_retry", "bootloader_prompt",
	"console_device", "custom_kernel_args", "extra_kernel_args",
	"extra_nfsroot_args", "failure_retry", "kernel_loglevel",
	"kernel_start_message", "lava_test_results_dir", "menu_interrupt_prompt",
	"mustang_menu_list", "test_character_delay", "tftp_mac_address",
	"uboot_extra_error_message", "uboot_needs_interrupt", "uboot_altbank",
}

var (
	str      = strS{}
	boolean  = boolS{}
	integer  = intS{}
	object   = anythingS{}
	anyDict  = typeS(kindMap)
	anyList  = typeS(kindSeq)
	strList  = listOf(str)
	positive = rng(i64(1), nil)
	natural  = rng(i64(0), nil)
)

// timeoutS is LAVA's timeout block: exactly one of days/hours/minutes/seconds
// (each >= 1) and an optional skip.
func timeoutS() schema {
	units := []string{"days", "hours", "minutes", "seconds"}
	alts := make([]schema, len(units))
	for i, u := range units {
		alts[i] = &mapS{fields: []field{req(u, positive), opt("skip", boolean)}}
	}
	return funcS{
		inner: anyS{alts: alts, msg: "a timeout: a mapping with one of days, hours, minutes or seconds (>= 1) and optional skip"},
		fn: func(c *checker, v *value, path string) {
			// Not strict, other units pass the schema as extra keys but are
			// summed all the same: they must be numbers.
			for _, u := range units {
				if x := v.get(u); x != nil {
					if _, ok := x.number(); !ok {
						c.add(x, joinPath(path, u), "expected a number, got %s", x.typeName())
					}
				}
			}
		},
	}
}

func contextS() schema {
	return &mapS{keyIn: ContextVariables, closed: true,
		rest:  anyOf(integer, str, listOf(integer, str)),
		title: "a mapping of known context variables"}
}

func lavaLXCS() *mapS {
	return mapOf(
		req("name", str), req("distribution", str), req("release", str),
		opt("arch", str), opt("mirror", str), opt("persist", boolean),
		opt("security_mirror", str), opt("template", str),
		opt("timeout", timeoutS()), opt("verbose", boolean),
	)
}

func protocolsS() *mapS {
	roleDevice := mapOf(
		req("device_type", str), req("count", natural),
		opt("context", contextS()), opt("tags", strList),
		opt("environment", anyDict), opt("essential", boolean),
		opt("timeout", timeoutS()),
	)
	roleHost := mapOf(
		req("connection", str), req("count", natural),
		req("expect_role", str), req("host_role", str),
		opt("essential", boolean), opt("request", str), opt("tags", strList),
		opt("timeout", timeoutS()), opt("context", contextS()),
	)
	tags := mapOf(req("tags", strList))
	return mapOf(
		opt("lava-lxc", anyOf(lavaLXCS(), &mapS{rest: lavaLXCS()})),
		opt("lava-multinode", mapOf(
			req("roles", &mapS{rest: anyOf(roleDevice, roleHost)}),
			opt("timeout", timeoutS()),
		)),
		opt("lava-vland", anyS{alts: []schema{
			&mapS{rest: &mapS{rest: tags}},
			&mapS{rest: tags},
		}, msg: "a mapping of VLAN names to {tags: [str]}, or of roles to such mappings"}),
		opt("lava-xnbd", mapOf(
			req("port", anyOf(enumS{"auto"}, integer)),
			opt("timeout", timeoutS()),
		)),
	)
}

func notifyS() *mapS {
	callback := mapOf(
		req("url", str),
		opt("method", enumS{"GET", "POST"}),
		opt("token", str), opt("header", str),
		opt("dataset", enumS{"minimal", "logs", "results", "all"}),
		opt("content-type", enumS{"json", "urlencoded"}),
	)
	criteria := anyS{alts: []schema{
		mapOf(req("status", enumS{"all"})),
		mapOf(req("status", enumS{"finished", "running", "complete", "canceled", "incomplete"}),
			opt("dependency_query", str)),
		mapOf(req("status", enumS{"complete", "incomplete"}),
			opt("type", enumS{"regression", "progression"})),
	}, msg: "criteria: status all, finished, running, complete, canceled or incomplete (type regression/progression only with complete or incomplete)"}
	return mapOf(
		req("criteria", criteria),
		opt("verbosity", enumS{"verbose", "quiet", "status-only"}),
		opt("recipients", listOf(mapOf(req("to", mapOf(
			req("method", enumS{"email", "irc"}),
			opt("user", str), opt("email", str), opt("handle", str), opt("server", str),
		))))),
		field{name: "callback", s: callback, exclusive: "callback"},
		field{name: "callbacks", s: listOf(callback), exclusive: "callback"},
		opt("compare", mapOf(
			opt("blacklist", strList),
			opt("query", anyOf(
				mapOf(req("username", str), req("name", str)),
				mapOf(req("entity", str), opt("conditions", &mapS{rest: str})),
			)),
		)),
	)
}

// jobS is the top level of a job definition; actions are checked by
// checkActions, item by item.
func jobS() *mapS {
	return mapOf(
		req("job_name", strS{min: 1, max: 200}),
		opt("device_type", strS{min: 1, max: 200}),
		req("timeouts", mapOf(
			req("job", timeoutS()),
			opt("action", timeoutS()),
			opt("actions", &mapS{rest: timeoutS()}),
			opt("connection", timeoutS()),
			opt("connections", &mapS{rest: timeoutS()}),
			opt("queue", timeoutS()),
		)),
		req("visibility", anyS{alts: []schema{
			enumS{"public", "personal"},
			mapOf(opt("group", strList)), // a plain key: optional in voluptuous
		}, msg: `"public", "personal" or a mapping {group: [names]}`}),
		opt("context", contextS()),
		opt("metadata", &mapS{rest: object}),
		opt("priority", anyS{alts: []schema{enumS{"high", "medium", "low"}, rng(i64(0), i64(100))},
			msg: `"high", "medium", "low" or a number in 0..100`}),
		opt("tags", strList),
		opt("secrets", anyDict),
		opt("environment", anyDict),
		opt("protocols", protocolsS()),
		opt("notify", notifyS()),
		opt("reboot_to_fastboot", boolean),
		// lava-common accepts an empty list; the submission gate does not.
		req("actions", listS{alts: []schema{actionItemS{}}}),
	)
}

// actionCommonS are the keys every action accepts.
func actionCommonS() *mapS {
	return mapOf(
		opt("namespace", strS{notIn: []string{"common", "docker-test-shell"},
			notInMsg: "'common' and 'docker-test-shell' are reserved namespace names"}),
		opt("connection-namespace", str),
		opt("protocols", object),
		opt("role", strList),
		opt("timeout", timeoutS()),
		opt("timeouts", &mapS{rest: timeoutS()}),
		opt("repeat", positive),
		opt("failure_retry", positive),
		opt("failure_retry_interval", positive),
	)
}

// actionKinds are the keys an action item may have.
var actionKinds = []string{"boot", "command", "deploy", "test"}

// actionItemS is one item of actions: a one-key mapping whose value is
// checked by the schema of its kind and method.
type actionItemS struct{}

func (actionItemS) expect() string {
	return "a mapping with one key: boot, command, deploy or test"
}

func (actionItemS) jsonSchema() map[string]any {
	alts := []any{}
	for _, kind := range actionKinds {
		alts = append(alts, map[string]any{
			"type":                 "object",
			"required":             []string{kind},
			"properties":           map[string]any{kind: actionKindJSONSchema(kind)},
			"additionalProperties": false,
		})
	}
	return map[string]any{"oneOf": alts}
}

// actionHead returns an action item's kind (its first key, as lava-common
// takes it) and body.
func actionHead(a *value) (string, *value, bool) {
	if a == nil || a.kind != kindMap || len(a.keys) == 0 || a.keys[0].kind != kindStr {
		return "", nil, false
	}
	return a.keys[0].s, a.vals[0], true
}

func (a actionItemS) check(c *checker, v *value, path string) {
	if v.kind != kindMap || len(v.keys) == 0 {
		c.add(v, path, "expected %s", a.expect())
		return
	}
	k, body := v.keys[0], v.vals[0]
	if k.kind != kindStr || !contains(actionKinds, k.s) {
		c.add(k, joinPath(path, k.keyString()), "invalid action %q: expected boot, command, deploy or test", k.keyString())
		return
	}
	// lava-common takes the first key and ignores the rest; its job schema
	// ({Any(boot, command, deploy, test): dict}) only wants a second action
	// kind to hold a mapping. Anything else is an extra key.
	for i, other := range v.keys[1:] {
		op := joinPath(path, other.keyString())
		if other.kind == kindStr && contains(actionKinds, other.s) {
			if ov := v.vals[i+1]; ov.kind != kindMap {
				c.add(ov, op, "expected a mapping, got %s", ov.typeName())
			}
		} else if c.strict {
			c.add(other, op, "extra key not allowed")
		}
	}
	kp := joinPath(path, k.s)
	if body.kind != kindMap {
		c.add(body, kp, "expected a mapping, got %s", body.typeName())
		return
	}
	s, key := actionSchema(k.s, body)
	if s == nil {
		switch key {
		case "":
			c.add(body, kp, "invalid test action: expected definitions, interactive or monitors")
		default:
			mv := body.get(key)
			if mv == nil {
				c.add(body, joinPath(kp, key), "required key not provided")
			} else {
				c.add(mv, joinPath(kp, key), "unknown %s %s %q: expected one of %s",
					k.s, key, mv.keyString(), quoteList(methodNames(k.s)))
			}
		}
		return
	}
	s.check(c, body, kp)
}

func quoteList(names []string) string {
	sort.Strings(names)
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}

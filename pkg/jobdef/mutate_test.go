package jobdef

import (
	"fmt"
	"math/rand"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A mutation turns a valid job into a probably-invalid one: the kinds of
// mistake people make in job definitions. Every mutation is deterministic
// for a given random source.
type mutation struct {
	name  string
	apply func(r *rand.Rand, root *yaml.Node) bool // false: not applicable
}

// mutations are weighted by repetition.
var mutations = []mutation{
	{"delete-key", deleteKey},
	{"delete-key", deleteKey},
	{"wrong-type", wrongType},
	{"wrong-type", wrongType},
	{"unknown-method", unknownMethod},
	{"swap-method", swapMethod},
	{"bad-timeout", badTimeout},
	{"bad-timeout", badTimeout},
	{"top-value", topValue},
	{"top-value", topValue},
	{"extra-key", extraKey},
	{"shape", shape},
	{"action-value", actionValue},
	{"action-value", actionValue},
}

// mutate parses doc, applies one random applicable mutation and returns the
// new document with the mutation's description.
func mutate(r *rand.Rand, doc []byte) ([]byte, string, error) {
	for range 20 {
		var root yaml.Node
		if err := yaml.Unmarshal(doc, &root); err != nil {
			return nil, "", fmt.Errorf("parse example: %w", err)
		}
		m := mutations[r.Intn(len(mutations))]
		if !m.apply(r, root.Content[0]) {
			continue
		}
		out, err := yaml.Marshal(&root)
		if err != nil {
			return nil, "", fmt.Errorf("encode %s: %w", m.name, err)
		}
		return out, m.name, nil
	}
	return nil, "", fmt.Errorf("no mutation applies")
}

// walk lists every node below n with the path to it.
type located struct {
	node   *yaml.Node
	parent *yaml.Node // the mapping or sequence holding node
	key    *yaml.Node // the key when parent is a mapping
	path   string
}

func walk(n *yaml.Node, path string, out []located) []located {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := strings.TrimPrefix(path+"."+k.Value, ".")
			out = append(out, located{v, n, k, p})
			out = walk(v, p, out)
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			out = append(out, located{v, n, nil, p})
			out = walk(v, p, out)
		}
	}
	return out
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.Intn(len(s))] }

func yscalar(tag, value string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
	if tag == "!!str" {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func ymap(kv ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: kv}
}
func yseq(v ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: v}
}

// randomValue is a value of a random type.
func randomValue(r *rand.Rand) *yaml.Node {
	switch r.Intn(9) {
	case 0:
		return yscalar("!!int", pick(r, []string{"0", "-1", "42", "101", "100000000000000000000"}))
	case 1:
		return yscalar("!!str", pick(r, []string{"", "x", "high", "10", "true", "public", "minutes"}))
	case 2:
		return yscalar("!!bool", pick(r, []string{"true", "false"}))
	case 3:
		return yscalar("!!null", "null")
	case 4:
		return yscalar("!!float", pick(r, []string{"1.5", "0.0", "-2.5"}))
	case 5:
		return yseq()
	case 6:
		return yseq(yscalar("!!str", "a"), yscalar("!!int", "1"))
	case 7:
		return ymap()
	default:
		return ymap(yscalar("!!str", "minutes"), yscalar("!!int", "5"))
	}
}

func deleteKey(r *rand.Rand, root *yaml.Node) bool {
	var keys []located
	for _, l := range walk(root, "", nil) {
		if l.key != nil {
			keys = append(keys, l)
		}
	}
	if len(keys) == 0 {
		return false
	}
	l := pick(r, keys)
	for i := 0; i+1 < len(l.parent.Content); i += 2 {
		if l.parent.Content[i] == l.key {
			l.parent.Content = append(l.parent.Content[:i:i], l.parent.Content[i+2:]...)
			return true
		}
	}
	return false
}

func wrongType(r *rand.Rand, root *yaml.Node) bool {
	all := walk(root, "", nil)
	if len(all) == 0 {
		return false
	}
	l := pick(r, all)
	*l.node = *randomValue(r)
	return true
}

// actionBodies are the mappings of deploy/boot/test/command actions.
func actionNodes(root *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for _, l := range walk(root, "", nil) {
		if strings.HasPrefix(l.path, "actions[") && strings.Count(l.path, ".") == 1 && l.node.Kind == yaml.MappingNode {
			out = append(out, l.node)
		}
	}
	return out
}

func yget(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func yset(m *yaml.Node, key string, v *yaml.Node) {
	if old := yget(m, key); old != nil {
		*old = *v
		return
	}
	m.Content = append(m.Content, yscalar("!!str", key), v)
	m.Content[len(m.Content)-2].Style = 0
}

var mutMethodNames = []string{
	"tftp", "nfs", "tmpfs", "fastboot", "flasher", "docker", "lxc", "overlay", "ssh", "usb", "sata", "iso-installer",
	"recovery", "mps", "musca", "vemsd", "download", "nbd", "uuu", "downloads", "qemu-nfs",
	"u-boot", "qemu", "minimal", "grub", "ipxe", "depthcharge", "bootloader", "fastboot", "uefi", "uefi-menu",
	"kexec", "pyocd", "jlink", "openocd", "dfu", "cmsis-dap", "gdb", "fvp", "barebox", "new-connection", "secondary-shell",
	"warp-drive", "U-Boot", "", "u_boot",
}

func unknownMethod(r *rand.Rand, root *yaml.Node) bool {
	for _, a := range shuffled(r, actionNodes(root)) {
		for _, k := range []string{"method", "to"} {
			if yget(a, k) != nil {
				yset(a, k, yscalar("!!str", pick(r, []string{"warp-drive", "U-Boot", "", "tftp ", "uboot"})))
				return true
			}
		}
	}
	return false
}

// swapMethod puts another known method in place: the fields no longer fit.
func swapMethod(r *rand.Rand, root *yaml.Node) bool {
	for _, a := range shuffled(r, actionNodes(root)) {
		for _, k := range []string{"method", "to"} {
			if yget(a, k) != nil {
				yset(a, k, yscalar("!!str", pick(r, mutMethodNames)))
				return true
			}
		}
	}
	return false
}

func shuffled[T any](r *rand.Rand, s []T) []T {
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

func badTimeout(r *rand.Rand, root *yaml.Node) bool {
	var blocks []*yaml.Node
	for _, l := range walk(root, "", nil) {
		if l.key != nil && (l.key.Value == "timeout" || l.key.Value == "job" || l.key.Value == "action" || l.key.Value == "connection") &&
			l.node.Kind == yaml.MappingNode {
			blocks = append(blocks, l.node)
		}
	}
	if len(blocks) == 0 {
		return false
	}
	b := pick(r, blocks)
	unit := pick(r, []string{"minutes", "seconds", "hours", "days", "weeks", "minute", "Minutes", "ms", "skip"})
	val := pick(r, []*yaml.Node{
		yscalar("!!int", "0"), yscalar("!!int", "-5"), yscalar("!!int", "99999999"), yscalar("!!float", "1.5"),
		yscalar("!!str", "10"), yscalar("!!str", "ten"), yscalar("!!bool", "true"), yscalar("!!null", "null"), yscalar("!!int", "7"),
	})
	if r.Intn(3) == 0 {
		b.Content = nil // replace the units
	}
	yset(b, unit, val)
	return true
}

// topValue gives a top-level field a value from its border cases.
func topValue(r *rand.Rand, root *yaml.Node) bool {
	s := func(v string) *yaml.Node { return yscalar("!!str", v) }
	i := func(v string) *yaml.Node { return yscalar("!!int", v) }
	choices := map[string][]*yaml.Node{
		"priority":           {i("-1"), i("0"), i("100"), i("101"), s("urgent"), s("HIGH"), s("low"), yscalar("!!float", "50.5"), yscalar("!!bool", "true")},
		"visibility":         {s("private"), s("personal"), ymap(s("group"), yseq()), ymap(s("group"), yseq(s("lab"))), ymap(s("group"), s("lab")), ymap(s("users"), yseq(s("a")))},
		"job_name":           {s(""), s(strings.Repeat("n", 200)), s(strings.Repeat("n", 201)), i("7")},
		"tags":               {yseq(), yseq(s("a"), s("a")), s("usb"), yseq(i("1"))},
		"device_type":        {s(""), i("1"), yseq(s("qemu"))},
		"failure_retry":      {i("0"), i("1"), i("-1"), s("x")},
		"reboot_to_fastboot": {yscalar("!!bool", "false"), s("false"), i("1")},
		"context":            {ymap(s("arch"), s("arm64")), ymap(s("no_such_var"), s("x")), ymap(s("extra_kernel_args"), s("quiet")), s("x")},
		"metadata":           {ymap(s("k"), ymap(s("a"), s("b"))), ymap(s("k"), yseq(s("a"))), ymap(s("k"), i("1")), yseq(s("a"))},
		"secrets":            {ymap(s("TOKEN"), s("x")), ymap(s("TOKEN"), i("1")), s("x")},
		"notify": {ymap(s("criteria"), ymap(s("status"), s("finished"))),
			ymap(s("criteria"), ymap(s("status"), s("complete")), s("recipients"), yseq(ymap(s("to"), ymap(s("method"), s("email"), s("email"), s("a@b.c"))))),
			ymap(s("criteria"), ymap(s("status"), s("bogus"))), ymap(s("recipients"), yseq())},
		"protocols": {ymap(s("lava-multinode"), ymap(s("roles"), ymap(s("r"), ymap(s("count"), i("1"), s("device_type"), s("qemu"))))),
			ymap(s("lava-lxc"), ymap(s("name"), s("c"), s("template"), s("debian"), s("distribution"), s("debian"), s("release"), s("sid"))),
			ymap(s("lava-vland"), ymap(s("r"), ymap(s("vlan"), ymap(s("tags"), yseq(s("10g")))))), ymap(s("bogus"), ymap())},
	}
	keys := make([]string, 0, len(choices))
	for k := range choices {
		keys = append(keys, k)
	}
	sortStrings(keys)
	k := pick(r, keys)
	yset(root, k, pick(r, choices[k]))
	return true
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// extraKey adds an unknown key somewhere: invalid only when strict.
func extraKey(r *rand.Rand, root *yaml.Node) bool {
	var maps []*yaml.Node
	maps = append(maps, root)
	for _, l := range walk(root, "", nil) {
		if l.node.Kind == yaml.MappingNode {
			maps = append(maps, l.node)
		}
	}
	yset(pick(r, maps), pick(r, []string{"bogus", "timeout", "namespace", "role", "connection", "parameters"}), randomValue(r))
	return true
}

// shape breaks the structure of actions.
func shape(r *rand.Rand, root *yaml.Node) bool {
	actions := yget(root, "actions")
	if actions == nil || actions.Kind != yaml.SequenceNode || len(actions.Content) == 0 {
		return false
	}
	s := func(v string) *yaml.Node { return yscalar("!!str", v) }
	switch r.Intn(6) {
	case 0:
		actions.Content = nil
	case 1:
		actions.Content = append(actions.Content, ymap(s("reboot"), ymap()))
	case 2: // two action kinds in one item
		a := actions.Content[r.Intn(len(actions.Content))]
		a.Content = append(a.Content, s("command"), ymap(s("name"), s("x")))
	case 3:
		actions.Content = append(actions.Content, s("boot"))
	case 4:
		actions.Content = append(actions.Content, ymap(s("test"), ymap(s("timeout"), ymap(s("minutes"), yscalar("!!int", "1")))))
	default:
		actions.Content = append(actions.Content, ymap(s("command"), ymap(s("name"), s(pick(r, []string{"pdu_off", "", "x"})))))
	}
	return true
}

// actionValue gives a known action field a border value.
func actionValue(r *rand.Rand, root *yaml.Node) bool {
	acts := actionNodes(root)
	if len(acts) == 0 {
		return false
	}
	a := pick(r, acts)
	s := func(v string) *yaml.Node { return yscalar("!!str", v) }
	i := func(v string) *yaml.Node { return yscalar("!!int", v) }
	fields := []struct {
		key  string
		vals []*yaml.Node
	}{
		{"failure_retry", []*yaml.Node{i("0"), i("3"), i("-2"), s("x")}},
		{"namespace", []*yaml.Node{s("ns"), i("1"), s("")}},
		{"role", []*yaml.Node{yseq(s("a")), s("a"), yseq()}},
		{"connection", []*yaml.Node{s("serial"), s("ssh"), s("bogus")}},
		{"prompts", []*yaml.Node{yseq(s("# ")), yseq(), s("# "), yseq(i("1"))}},
		{"repeat", []*yaml.Node{i("2"), i("0"), s("x")}},
		{"os", []*yaml.Node{s("debian"), s("windows"), s("oe")}},
		{"definitions", []*yaml.Node{yseq(), yseq(ymap(s("from"), s("git"), s("name"), s("n"), s("path"), s("p"))), yseq(ymap(s("from"), s("svn")))}},
		{"image", []*yaml.Node{s("debian:sid"), ymap(s("name"), s("d")), i("1")}},
		{"kernel", []*yaml.Node{ymap(s("url"), s("http://x/k")), ymap(s("url"), s("http://x/k"), s("type"), s("zimage")), ymap(s("url"), s("http://x/k"), s("type"), s("vmlinuz")), s("http://x/k")}},
		{"commands", []*yaml.Node{yseq(s("boot")), s("ramdisk"), i("1"), yseq()}},
		{"auto_login", []*yaml.Node{ymap(s("login_prompt"), s("login:"), s("username"), s("root")), ymap(s("login_prompt"), s("login:")), ymap(s("username"), s("root"))}},
		{"timeout", []*yaml.Node{ymap(), ymap(s("minutes"), i("2")), i("5")}},
	}
	f := pick(r, fields)
	yset(a, f.key, pick(r, f.vals))
	return true
}

package jobdef

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The yaml11 layer reads a document the way PyYAML's safe loader does (YAML
// 1.1): go.yaml.in/yaml/v3 only gives us the node tree, and the scalars are
// resolved here, duplicate keys keep the last value, merge keys are applied
// and aliases are expanded under a budget (a billion-laughs document is an
// error, not an out-of-memory).

// Kinds of values in the resolved tree.
const (
	kindNull = iota
	kindBool
	kindInt
	kindFloat
	kindStr
	kindTime
	kindBinary
	kindMap
	kindSeq
)

// value is one resolved node: a Python-like value with the position of the
// node it came from.
type value struct {
	node   *yaml.Node
	kind   int
	line   int
	column int
	b      bool
	i      *big.Int
	f      float64
	s      string
	t      time.Time
	bin    []byte
	// Mappings keep the first position of every key (as a Python dict does)
	// and the last value written to it.
	keys  []*value
	vals  []*value
	items []*value
	// idx maps canonical key to position, so big mappings stay linear.
	idx map[string]int
}

// MaxExpandedNodes bounds the node count of a document once aliases are
// expanded, so that alias bombs fail fast.
const MaxExpandedNodes = 1 << 21

var (
	reBool  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	reInt   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	reFloat = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	reNull  = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	reTime  = regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)
	reTimeP = regexp.MustCompile(`^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)?$`)
)

// syntaxError is a document that cannot be read at all.
type syntaxError struct {
	line, column int
	msg          string
}

// loadYAML11 parses one YAML document into a resolved tree.
func loadYAML11(data []byte) (*value, *yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, &syntaxError{msg: "empty document"}
		}
		return nil, nil, yamlSyntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, &syntaxError{line: extra.Line, column: extra.Column, msg: "expected a single document in the stream"}
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, yamlSyntaxError(err)
	}
	r := &resolver{memo: map[*yaml.Node]*value{}, busy: map[*yaml.Node]bool{}, size: map[*yaml.Node]int{}}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	if n := r.expandedSize(root, 0); n > MaxExpandedNodes {
		return nil, nil, &syntaxError{line: root.Line, column: root.Column,
			msg: fmt.Sprintf("document expands to more than %d nodes (too many aliases)", MaxExpandedNodes)}
	}
	if r.err != nil {
		return nil, nil, r.err
	}
	v := r.resolve(root, 0)
	if r.err != nil {
		return nil, nil, r.err
	}
	return v, root, nil
}

var reYAMLLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlSyntaxError(err error) *syntaxError {
	msg := err.Error()
	if m := reYAMLLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &syntaxError{line: line, msg: "invalid YAML: " + m[2]}
	}
	return &syntaxError{msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

func (e *syntaxError) Error() string { return e.msg }

type resolver struct {
	memo map[*yaml.Node]*value
	busy map[*yaml.Node]bool
	size map[*yaml.Node]int
	err  *syntaxError
}

func (r *resolver) fail(n *yaml.Node, format string, args ...any) {
	if r.err == nil {
		r.err = &syntaxError{line: n.Line, column: n.Column, msg: fmt.Sprintf(format, args...)}
	}
}

// expandedSize counts nodes with aliases expanded, memoized per node so that
// the count itself is linear in the document; it also bounds the depth and
// refuses recursive aliases.
func (r *resolver) expandedSize(n *yaml.Node, depth int) int {
	if r.err != nil {
		return 0
	}
	if depth > MaxDepth {
		r.fail(n, "document nested deeper than %d levels", MaxDepth)
		return 0
	}
	// Only an anchored node can be reached twice (through an alias), so
	// only those are memoized and watched for recursion.
	anchored := n.Anchor != ""
	if anchored {
		if s, ok := r.size[n]; ok {
			return s
		}
		if r.busy[n] {
			r.fail(n, "recursive alias")
			return 0
		}
		r.busy[n] = true
		defer delete(r.busy, n)
	}
	total := 1
	if n.Kind == yaml.AliasNode {
		total = r.expandedSize(n.Alias, depth)
	}
	for _, c := range n.Content {
		total += r.expandedSize(c, depth+1)
		if total > MaxExpandedNodes {
			total = MaxExpandedNodes + 1
			break
		}
	}
	if anchored {
		r.size[n] = total
	}
	return total
}

func (r *resolver) resolve(n *yaml.Node, depth int) *value {
	if r.err != nil {
		return &value{kind: kindNull}
	}
	if n.Kind == yaml.AliasNode {
		return r.resolve(n.Alias, depth)
	}
	if n.Anchor != "" {
		if v, ok := r.memo[n]; ok {
			return v
		}
	}
	var v *value
	switch n.Kind {
	case yaml.ScalarNode:
		v = r.scalar(n)
	case yaml.SequenceNode:
		v = &value{kind: kindSeq}
		if t := explicitTag(n); t != "" && t != "!!seq" {
			r.fail(n, "unsupported tag %s", n.Tag)
		}
		for _, c := range n.Content {
			v.items = append(v.items, r.resolve(c, depth+1))
		}
	case yaml.MappingNode:
		v = r.mapping(n, depth)
	default:
		v = &value{kind: kindNull}
	}
	v.line, v.column, v.node = n.Line, n.Column, n
	if n.Anchor != "" {
		r.memo[n] = v
	}
	return v
}

func explicitTag(n *yaml.Node) string {
	if n.Style&yaml.TaggedStyle == 0 {
		return ""
	}
	return n.ShortTag()
}

func (r *resolver) mapping(n *yaml.Node, depth int) *value {
	v := &value{kind: kindMap}
	if t := explicitTag(n); t != "" && t != "!!map" {
		r.fail(n, "unsupported tag %s", n.Tag)
	}
	var merged []*value
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.Value == "<<" && kn.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 {
			merged = append(merged, r.mergeSources(vn, depth)...)
			continue
		}
		k := r.resolve(kn, depth+1)
		if k.kind == kindMap || k.kind == kindSeq {
			r.fail(kn, "found unhashable key (a %s)", k.typeName())
			continue
		}
		v.set(k, r.resolve(vn, depth+1))
	}
	// Merged keys never override explicit ones; earlier sources win.
	for _, src := range merged {
		for j, k := range src.keys {
			if v.lookup(k) == nil {
				v.set(k, src.vals[j])
			}
		}
	}
	return v
}

func (r *resolver) mergeSources(vn *yaml.Node, depth int) []*value {
	src := r.resolve(vn, depth+1)
	switch src.kind {
	case kindMap:
		return []*value{src}
	case kindSeq:
		for _, it := range src.items {
			if it.kind != kindMap {
				r.fail(vn, "expected a mapping or list of mappings for merging")
			}
		}
		return src.items
	}
	r.fail(vn, "expected a mapping or list of mappings for merging")
	return nil
}

// set stores key=val, replacing the value of an equal key (PyYAML builds a
// dict, so the last duplicate wins and keeps the first position).
// smallMap is the size up to which a mapping finds keys by scanning (no
// index to build, no key strings to allocate): job mappings are small.
const smallMap = 12

func (v *value) set(k, val *value) {
	if i, ok := v.index(k); ok {
		v.vals[i] = val
		return
	}
	v.keys = append(v.keys, k)
	v.vals = append(v.vals, val)
	switch {
	case v.idx != nil:
		v.idx[k.canonical()] = len(v.keys) - 1
	case len(v.keys) > smallMap:
		v.idx = make(map[string]int, 2*len(v.keys))
		for i, kk := range v.keys {
			v.idx[kk.canonical()] = i
		}
	}
}

// index finds a key as a Python dict does (1, 1.0 and True are one key).
func (v *value) index(k *value) (int, bool) {
	if v.idx != nil {
		i, ok := v.idx[k.canonical()]
		return i, ok
	}
	if k.kind == kindStr {
		for i, kk := range v.keys {
			if kk.kind == kindStr && kk.s == k.s {
				return i, true
			}
		}
		return 0, false
	}
	ck := k.canonical()
	for i, kk := range v.keys {
		if kk.kind != kindStr && kk.canonical() == ck {
			return i, true
		}
	}
	return 0, false
}

func (v *value) lookup(k *value) *value {
	if i, ok := v.index(k); ok {
		return v.vals[i]
	}
	return nil
}

// get returns the value of a string key, nil when absent or not a mapping.
func (v *value) get(key string) *value {
	if v == nil || v.kind != kindMap {
		return nil
	}
	if v.idx == nil {
		for i, kk := range v.keys {
			if kk.kind == kindStr && kk.s == key {
				return v.vals[i]
			}
		}
		return nil
	}
	if i, ok := v.idx["s"+key]; ok {
		return v.vals[i]
	}
	return nil
}

// canonical is a key's identity as Python compares dict keys: 1, 1.0 and
// True are the same key.
func (v *value) canonical() string {
	if n, ok := v.number(); ok {
		return "n" + n.Text('g', -1)
	}
	switch v.kind {
	case kindStr:
		return "s" + v.s
	case kindNull:
		return "z"
	case kindTime:
		return "t" + v.t.UTC().Format(time.RFC3339Nano)
	case kindBinary:
		return "b" + string(v.bin)
	}
	return fmt.Sprintf("p%p", v) // NaN: never equal to anything
}

func (v *value) number() (*big.Float, bool) {
	switch v.kind {
	case kindBool:
		if v.b {
			return big.NewFloat(1), true
		}
		return big.NewFloat(0), true
	case kindInt:
		return new(big.Float).SetInt(v.i), true
	case kindFloat:
		if math.IsNaN(v.f) {
			return nil, false
		}
		return big.NewFloat(v.f), true
	}
	return nil, false
}

func (r *resolver) scalar(n *yaml.Node) *value {
	tag := explicitTag(n)
	plain := n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
	s := n.Value
	if tag == "" {
		if !plain {
			return &value{kind: kindStr, s: s}
		}
		tag = implicitTag(s)
	}
	switch tag {
	case "!!str":
		return &value{kind: kindStr, s: s}
	case "!!null":
		return &value{kind: kindNull}
	case "!!bool":
		switch strings.ToLower(s) {
		case "yes", "true", "on":
			return &value{kind: kindBool, b: true}
		case "no", "false", "off":
			return &value{kind: kindBool, b: false}
		}
	case "!!int":
		if i, ok := parseInt11(s); ok {
			return &value{kind: kindInt, i: i}
		}
	case "!!float":
		if f, ok := parseFloat11(s); ok {
			return &value{kind: kindFloat, f: f}
		}
	case "!!timestamp":
		if t, ok := parseTime11(s); ok {
			return &value{kind: kindTime, t: t}
		}
	case "!!binary":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err == nil {
			return &value{kind: kindBinary, bin: b}
		}
	default:
		r.fail(n, "could not determine a constructor for the tag %s", n.Tag)
		return &value{kind: kindNull}
	}
	r.fail(n, "invalid %s value %q", strings.TrimPrefix(tag, "!!"), s)
	return &value{kind: kindNull}
}

func implicitTag(s string) string {
	// As PyYAML's resolver, look at the first character before trying
	// the patterns: most scalars are plain words.
	if s != "" && !strings.ContainsRune("-+0123456789.:~nNtTfFyYoO", rune(s[0])) {
		return "!!str"
	}
	switch {
	case reNull.MatchString(s):
		return "!!null"
	case reBool.MatchString(s):
		return "!!bool"
	case reInt.MatchString(s):
		return "!!int"
	case reFloat.MatchString(s):
		return "!!float"
	case reTime.MatchString(s):
		return "!!timestamp"
	}
	return "!!str"
}

// parseInt11 reads a YAML 1.1 integer: binary, octal (leading 0), hex,
// decimal and sexagesimal (1:30 = 90), with underscores ignored.
func parseInt11(s string) (*big.Int, bool) {
	s = strings.ReplaceAll(s, "_", "")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	i := new(big.Int)
	ok := true
	switch {
	case s == "0":
	case strings.HasPrefix(s, "0b"):
		_, ok = i.SetString(s[2:], 2)
	case strings.HasPrefix(s, "0x"):
		_, ok = i.SetString(s[2:], 16)
	case strings.HasPrefix(s, "0"):
		_, ok = i.SetString(s[1:], 8)
	case strings.Contains(s, ":"):
		for _, part := range strings.Split(s, ":") {
			d, err := strconv.Atoi(part)
			if err != nil {
				return nil, false
			}
			i.Mul(i, big.NewInt(60))
			i.Add(i, big.NewInt(int64(d)))
		}
	default:
		_, ok = i.SetString(s, 10)
	}
	if neg {
		i.Neg(i)
	}
	return i, ok
}

func parseFloat11(s string) (float64, bool) {
	s = strings.ReplaceAll(s, "_", "")
	switch strings.ToLower(strings.TrimLeft(s, "+-")) {
	case ".inf":
		if strings.HasPrefix(s, "-") {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case ".nan":
		return math.NaN(), true
	}
	if strings.Contains(s, ":") {
		neg := strings.HasPrefix(s, "-")
		parts := strings.Split(strings.TrimLeft(s, "+-"), ":")
		f := 0.0
		for _, p := range parts {
			d, err := strconv.ParseFloat(p, 64)
			if err != nil {
				return 0, false
			}
			f = f*60 + d
		}
		if neg {
			f = -f
		}
		return f, true
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil || errors.Is(err, strconv.ErrRange)
}

func parseTime11(s string) (time.Time, bool) {
	m := reTimeP.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	atoi := func(x string) int { n, _ := strconv.Atoi(x); return n }
	loc := time.UTC
	if m[9] != "" {
		off := atoi(m[10])*3600 + atoi(m[11])*60
		if m[9] == "-" {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	nsec := 0
	if frac := m[7]; frac != "" {
		frac = (frac + "000000000")[:9]
		nsec = atoi(frac)
	}
	t := time.Date(atoi(m[1]), time.Month(atoi(m[2])), atoi(m[3]), atoi(m[4]), atoi(m[5]), atoi(m[6]), nsec, loc)
	if t.Month() != time.Month(atoi(m[2])) || t.Day() != atoi(m[3]) {
		return time.Time{}, false
	}
	return t, true
}

// goValue converts the resolved tree to plain Go values: map[string]any,
// []any, string, int (or *big.Int when it does not fit), float64, bool,
// time.Time, []byte, nil. Shared (aliased) subtrees stay shared.
func (v *value) goValue() any {
	return v.goValueMemo(map[*value]any{})
}

func (v *value) goValueMemo(memo map[*value]any) any {
	if g, ok := memo[v]; ok {
		return g
	}
	var g any
	switch v.kind {
	case kindNull:
		g = nil
	case kindBool:
		g = v.b
	case kindInt:
		if v.i.IsInt64() && v.i.Int64() >= math.MinInt && v.i.Int64() <= math.MaxInt {
			g = int(v.i.Int64())
		} else {
			g = new(big.Int).Set(v.i)
		}
	case kindFloat:
		g = v.f
	case kindStr:
		g = v.s
	case kindTime:
		g = v.t
	case kindBinary:
		g = v.bin
	case kindSeq:
		s := make([]any, len(v.items))
		memo[v] = s
		for i, it := range v.items {
			s[i] = it.goValueMemo(memo)
		}
		return s
	case kindMap:
		m := make(map[string]any, len(v.keys))
		memo[v] = m
		for i, k := range v.keys {
			m[k.keyString()] = v.vals[i].goValueMemo(memo)
		}
		return m
	}
	memo[v] = g
	return g
}

// keyString is how a key appears in paths and in map[string]any keys.
func (v *value) keyString() string {
	switch v.kind {
	case kindStr:
		return v.s
	case kindNull:
		return "None"
	case kindBool:
		if v.b {
			return "True"
		}
		return "False"
	case kindInt:
		return v.i.String()
	case kindFloat:
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	case kindTime:
		return v.t.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("<%s>", v.typeName())
}

// typeName names a value's type the way errors speak of it.
func (v *value) typeName() string {
	switch v.kind {
	case kindNull:
		return "null"
	case kindBool:
		return "bool"
	case kindInt:
		return "int"
	case kindFloat:
		return "float"
	case kindStr:
		return "str"
	case kindTime:
		return "timestamp"
	case kindBinary:
		return "binary"
	case kindMap:
		return "mapping"
	case kindSeq:
		return "list"
	}
	return "unknown"
}

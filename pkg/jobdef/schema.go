package jobdef

import (
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"
)

// A small declarative schema language, close to what lava-common writes with
// voluptuous: typed scalars, mappings with required/optional keys, lists,
// alternatives. Every node can check a value (collecting all errors) and
// describe itself as JSON Schema.

type schema interface {
	check(c *checker, v *value, path string)
	// expect says what the schema accepts, for error messages.
	expect() string
	jsonSchema() map[string]any
}

// checker collects errors while walking a document.
type checker struct {
	strict bool
	errs   ErrorList
}

func (c *checker) add(v *value, path, format string, args ...any) {
	e := Error{Path: path, Message: fmt.Sprintf(format, args...)}
	if v != nil {
		e.Line, e.Column = v.line, v.column
	}
	c.errs = append(c.errs, e)
}

// tryCheck checks v against s on a scratch checker and returns its errors.
func (c *checker) tryCheck(s schema, v *value, path string) ErrorList {
	sub := &checker{strict: c.strict}
	s.check(sub, v, path)
	return sub.errs
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// --- scalars ---

type strS struct {
	min, max int // lengths; max 0 = unbounded
	re       *regexp.Regexp
	reMsg    string
	notIn    []string // reserved values
	notInMsg string
}

func (s strS) check(c *checker, v *value, path string) {
	if v.kind != kindStr {
		c.add(v, path, "expected str, got %s", v.typeName())
		return
	}
	n := len([]rune(v.s))
	if n < s.min {
		c.add(v, path, "length of value must be at least %d", s.min)
	}
	if s.max > 0 && n > s.max {
		c.add(v, path, "length of value must be at most %d", s.max)
	}
	if s.re != nil && !s.re.MatchString(v.s) {
		c.add(v, path, "%s", s.reMsg)
	}
	if contains(s.notIn, v.s) {
		c.add(v, path, "%s", s.notInMsg)
	}
}

func (s strS) expect() string { return "str" }

func (s strS) jsonSchema() map[string]any {
	m := map[string]any{"type": "string"}
	if s.min > 0 {
		m["minLength"] = s.min
	}
	if s.max > 0 {
		m["maxLength"] = s.max
	}
	if s.re != nil {
		m["pattern"] = s.re.String()
	}
	return m
}

// boolS is Python's bool.
type boolS struct{}

func (boolS) check(c *checker, v *value, path string) {
	if v.kind != kindBool {
		c.add(v, path, "expected bool, got %s", v.typeName())
	}
}
func (boolS) expect() string             { return "bool" }
func (boolS) jsonSchema() map[string]any { return map[string]any{"type": "boolean"} }

// intS is Python's int, which bool is a subclass of.
type intS struct{}

func (intS) check(c *checker, v *value, path string) {
	if v.kind != kindInt && v.kind != kindBool {
		c.add(v, path, "expected int, got %s", v.typeName())
	}
}
func (intS) expect() string             { return "int" }
func (intS) jsonSchema() map[string]any { return map[string]any{"type": "integer"} }

// rangeS is voluptuous Range: any number (bool included) within bounds.
type rangeS struct {
	min, max *int64
}

func rng(min, max *int64) rangeS { return rangeS{min: min, max: max} }
func i64(n int64) *int64         { return &n }

func (s rangeS) check(c *checker, v *value, path string) {
	n, ok := v.number()
	if !ok {
		c.add(v, path, "expected a number%s, got %s", s.bounds(), v.typeName())
		return
	}
	if s.min != nil && n.Cmp(new(big.Float).SetInt64(*s.min)) < 0 {
		c.add(v, path, "value must be at least %d", *s.min)
	}
	if s.max != nil && n.Cmp(new(big.Float).SetInt64(*s.max)) > 0 {
		c.add(v, path, "value must be at most %d", *s.max)
	}
}

func (s rangeS) bounds() string {
	switch {
	case s.min != nil && s.max != nil:
		return fmt.Sprintf(" in %d..%d", *s.min, *s.max)
	case s.min != nil:
		return fmt.Sprintf(" >= %d", *s.min)
	case s.max != nil:
		return fmt.Sprintf(" <= %d", *s.max)
	}
	return ""
}

func (s rangeS) expect() string { return "number" + s.bounds() }

func (s rangeS) jsonSchema() map[string]any {
	m := map[string]any{"type": "number"}
	if s.min != nil {
		m["minimum"] = *s.min
	}
	if s.max != nil {
		m["maximum"] = *s.max
	}
	return m
}

// enumS accepts one of the given strings.
type enumS []string

func (s enumS) check(c *checker, v *value, path string) {
	if v.kind == kindStr {
		for _, x := range s {
			if x == v.s {
				return
			}
		}
	}
	c.add(v, path, "expected %s", s.expect())
}

func (s enumS) expect() string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	if len(q) == 1 {
		return q[0]
	}
	return "one of " + strings.Join(q, ", ")
}

func (s enumS) jsonSchema() map[string]any {
	if len(s) == 1 {
		return map[string]any{"const": s[0]}
	}
	return map[string]any{"enum": []string(s)}
}

// anythingS accepts any value (voluptuous object).
type anythingS struct{}

func (anythingS) check(*checker, *value, string) {}
func (anythingS) expect() string                 { return "any value" }
func (anythingS) jsonSchema() map[string]any     { return map[string]any{} }

// typeS accepts any value of one kind (voluptuous dict, list).
type typeS int

func (s typeS) check(c *checker, v *value, path string) {
	if v.kind != int(s) {
		c.add(v, path, "expected %s, got %s", s.expect(), v.typeName())
	}
}
func (s typeS) expect() string { return (&value{kind: int(s)}).typeName() }
func (s typeS) jsonSchema() map[string]any {
	if s == kindMap {
		return map[string]any{"type": "object"}
	}
	return map[string]any{"type": "array"}
}

// --- combinators ---

// anyS accepts a value matching any alternative. On failure it reports the
// alternative that got furthest (as voluptuous does), or what was expected.
type anyS struct {
	alts []schema
	msg  string
}

func anyOf(alts ...schema) anyS { return anyS{alts: alts} }

func (s anyS) check(c *checker, v *value, path string) {
	var best ErrorList
	var bestRank [3]int
	tie := false
	for _, a := range s.alts {
		errs := c.tryCheck(a, v, path)
		if len(errs) == 0 {
			return
		}
		// The mapping alternative closest to the value (most keys it
		// names, fewest required keys missing, fewest errors) is the shape
		// the author meant: its own errors say more than "expected one of".
		// A tie falls back to the summary.
		m, ok := a.(*mapS)
		if !ok || v.kind != kindMap {
			continue
		}
		known, missing := m.closeness(v)
		rank := [3]int{-known, missing, len(errs)}
		switch {
		case best == nil || less(rank, bestRank):
			best, bestRank, tie = errs, rank, false
		case rank == bestRank:
			tie = true
		}
	}
	if best != nil && !tie {
		c.errs = append(c.errs, best...)
		return
	}
	// Without a summary of its own, an alternative of the value's kind
	// (the list in "str or list of str") gives the precise errors.
	if s.msg == "" && v.kind != kindMap {
		var match schema
		n := 0
		for _, a := range s.alts {
			if kindOf(a) == v.kind {
				match = a
				n++
			}
		}
		if n == 1 {
			match.check(c, v, path)
			return
		}
	}
	c.add(v, path, "expected %s", s.expect())
}

// kindOf is the value kind a schema wants, -1 when it takes several.
func kindOf(s schema) int {
	switch s.(type) {
	case strS:
		return kindStr
	case listS:
		return kindSeq
	case *mapS:
		return kindMap
	}
	return -1
}

func less(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// closeness counts the keys of v that s names and the required keys of s
// that v lacks.
func (s *mapS) closeness(v *value) (known, missing int) {
	for _, f := range s.fields {
		if v.get(f.name) != nil {
			known++
		} else if f.required {
			missing++
		}
	}
	return known, missing
}

// hasRequired tells whether every required key of s is in v.
func (s *mapS) hasRequired(v *value) bool {
	for _, f := range s.fields {
		if f.required && v.get(f.name) == nil {
			return false
		}
	}
	return true
}

func isMapSchema(s schema) bool { _, ok := s.(*mapS); return ok }

func countMaps(alts []schema) int {
	n := 0
	for _, a := range alts {
		if isMapSchema(a) {
			n++
		}
	}
	return n
}

func (s anyS) expect() string {
	if s.msg != "" {
		return s.msg
	}
	parts := make([]string, len(s.alts))
	for i, a := range s.alts {
		parts[i] = a.expect()
	}
	return strings.Join(parts, " or ")
}

func (s anyS) jsonSchema() map[string]any {
	alts := make([]any, len(s.alts))
	for i, a := range s.alts {
		alts[i] = a.jsonSchema()
	}
	return map[string]any{"anyOf": alts}
}

// listS is voluptuous [a, b]: a list whose items each match one of alts.
type listS struct {
	alts []schema
	min  int
}

func listOf(alts ...schema) listS { return listS{alts: alts} }

func (s listS) check(c *checker, v *value, path string) {
	if v.kind != kindSeq {
		c.add(v, path, "expected a list, got %s", v.typeName())
		return
	}
	if len(v.items) < s.min {
		c.add(v, path, "expected at least %d item(s)", s.min)
	}
	item := s.item()
	for i, it := range v.items {
		item.check(c, it, indexPath(path, i))
	}
}

func (s listS) item() schema {
	if len(s.alts) == 1 {
		return s.alts[0]
	}
	return anyS{alts: s.alts}
}

func (s listS) expect() string { return "a list of " + s.item().expect() }

func (s listS) jsonSchema() map[string]any {
	m := map[string]any{"type": "array", "items": s.item().jsonSchema()}
	if s.min > 0 {
		m["minItems"] = s.min
	}
	return m
}

// field is one key of a mapping schema.
type field struct {
	name     string
	required bool
	s        schema
	// exclusive names a group of keys of which at most one may be given.
	exclusive string
}

func req(name string, s schema) field { return field{name: name, required: true, s: s} }
func opt(name string, s schema) field { return field{name: name, s: s} }

// mapS is a mapping with known keys; rest, when set, validates other string
// keys (voluptuous {str: X}). closed rejects unknown keys even when not
// strict (an explicit extra=False).
type mapS struct {
	fields []field
	rest   schema
	closed bool
	// keyCheck, when set, validates unknown keys' names (voluptuous In(...)).
	keyIn []string
	title string
}

func mapOf(fields ...field) *mapS { return &mapS{fields: fields} }

// with returns a copy with more fields (later fields replace earlier ones of
// the same name).
func (s *mapS) with(fields ...field) *mapS {
	out := &mapS{rest: s.rest, closed: s.closed, keyIn: s.keyIn, title: s.title}
	byName := map[string]bool{}
	for _, f := range fields {
		byName[f.name] = true
	}
	for _, f := range s.fields {
		if !byName[f.name] {
			out.fields = append(out.fields, f)
		}
	}
	out.fields = append(out.fields, fields...)
	return out
}

func (s *mapS) field(name string) *field {
	for i := range s.fields {
		if s.fields[i].name == name {
			return &s.fields[i]
		}
	}
	return nil
}

func (s *mapS) check(c *checker, v *value, path string) {
	if v.kind != kindMap {
		c.add(v, path, "expected a mapping, got %s", v.typeName())
		return
	}
	seenExcl := map[string]string{}
	for i, k := range v.keys {
		val := v.vals[i]
		kp := joinPath(path, k.keyString())
		var f *field
		if k.kind == kindStr {
			f = s.field(k.s)
		}
		switch {
		case f != nil:
			if f.exclusive != "" {
				if other, ok := seenExcl[f.exclusive]; ok {
					c.add(k, kp, "two or more values in the same group of exclusion %q (%s and %s)", f.exclusive, other, f.name)
				}
				seenExcl[f.exclusive] = f.name
			}
			f.s.check(c, val, kp)
		case s.keyIn != nil:
			if k.kind != kindStr || !contains(s.keyIn, k.s) {
				c.add(k, kp, "unknown key %q: not one of the allowed keys", k.keyString())
			} else if s.rest != nil {
				s.rest.check(c, val, kp)
			}
		case s.rest != nil && k.kind == kindStr && restKeyOK(s.rest, k.s):
			s.rest.check(c, val, kp)
		case s.closed || c.strict:
			c.add(k, kp, "extra key not allowed%s", s.allowedHint())
		}
	}
	for _, f := range s.fields {
		if f.required && v.get(f.name) == nil {
			c.add(v, joinPath(path, f.name), "required key not provided")
		}
	}
}

func (s *mapS) allowedHint() string {
	if len(s.fields) == 0 || len(s.fields) > 40 {
		return ""
	}
	names := make([]string, len(s.fields))
	for i, f := range s.fields {
		names[i] = f.name
	}
	sort.Strings(names)
	return " (expected one of " + strings.Join(names, ", ") + ")"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *mapS) expect() string {
	if s.title != "" {
		return s.title
	}
	var reqs []string
	for _, f := range s.fields {
		if f.required {
			reqs = append(reqs, f.name)
		}
	}
	if len(reqs) == 0 {
		return "a mapping"
	}
	return "a mapping with " + strings.Join(reqs, ", ")
}

func (s *mapS) jsonSchema() map[string]any {
	props := map[string]any{}
	var reqs []string
	for _, f := range s.fields {
		props[f.name] = f.s.jsonSchema()
		if f.required {
			reqs = append(reqs, f.name)
		}
	}
	m := map[string]any{"type": "object"}
	if len(props) > 0 {
		m["properties"] = props
	}
	if len(reqs) > 0 {
		m["required"] = reqs
	}
	if s.keyIn != nil {
		m["propertyNames"] = map[string]any{"enum": s.keyIn}
	}
	if s.rest != nil {
		m["additionalProperties"] = s.rest.jsonSchema()
	} else if s.closed {
		m["additionalProperties"] = false
	}
	if s.title != "" {
		m["description"] = s.title
	}
	return m
}

// funcS is a schema whose check is custom code (cross-field rules).
type funcS struct {
	inner schema
	fn    func(c *checker, v *value, path string)
}

func (s funcS) check(c *checker, v *value, path string) {
	n := len(c.errs)
	s.inner.check(c, v, path)
	if len(c.errs) == n {
		s.fn(c, v, path)
	}
}
func (s funcS) expect() string             { return s.inner.expect() }
func (s funcS) jsonSchema() map[string]any { return s.inner.jsonSchema() }

// restKeyOK tells whether an unknown key may be checked by rest: any key, or
// with patternKeys only the keys matching its pattern.
func restKeyOK(rest schema, key string) bool {
	if p, ok := rest.(patternKeys); ok {
		return p.re.MatchString(key)
	}
	return true
}

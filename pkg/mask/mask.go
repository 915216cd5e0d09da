package mask

import (
	"sort"
	"strings"
)

// Text replaces a secret value wherever it would be shown.
const Text = "[secret]"

// Masker hides a fixed set of values. A nil *Masker hides nothing, so
// callers without secrets need no special case. It is safe for concurrent use.
type Masker struct {
	r    *strings.Replacer
	vals []string
}

// New masks every non-empty value, also inside other words (a short secret
// hides more than itself: better than showing it). Longer values are
// matched first, so a secret that contains another is hidden whole. It
// returns nil when no value is non-empty.
func New(values []string) *Masker {
	vals := make([]string, 0, len(values))
	seen := map[string]bool{}
	for _, v := range values {
		if v != "" && !seen[v] {
			seen[v] = true
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return nil
	}
	// strings.Replacer tries the pairs in argument order at each position.
	sort.SliceStable(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	pairs := make([]string, 0, 2*len(vals))
	for _, v := range vals {
		pairs = append(pairs, v, Text)
	}
	return &Masker{r: strings.NewReplacer(pairs...), vals: vals}
}

// Apply returns s with every value replaced by Text.
func (m *Masker) Apply(s string) string {
	if m == nil || s == "" {
		return s
	}
	return m.r.Replace(s)
}

// Contains reports whether s shows any value.
func (m *Masker) Contains(s string) bool {
	if m == nil {
		return false
	}
	for _, v := range m.vals {
		if strings.Contains(s, v) {
			return true
		}
	}
	return false
}

// Value masks the strings of a decoded YAML/JSON value: strings, and the
// keys and elements of maps and lists, recursively (a results mapping
// carries test names, measurements, units and reference URLs). Other
// values are returned as they are; maps and lists are copied only when
// something in them changed, so the caller's value is never modified.
func (m *Masker) Value(v any) any {
	if m == nil {
		return v
	}
	out, _ := m.value(v)
	return out
}

// ValueChanged is Value that also reports whether anything was masked.
func (m *Masker) ValueChanged(v any) (any, bool) {
	if m == nil {
		return v, false
	}
	return m.value(v)
}

func (m *Masker) value(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		s := m.Apply(x)
		return s, s != x
	case map[string]any:
		changed := false
		for k, e := range x {
			if _, c := m.value(e); c || m.Contains(k) {
				changed = true
				break
			}
		}
		if !changed {
			return x, false
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			me, _ := m.value(e)
			out[m.Apply(k)] = me
		}
		return out, true
	case []map[string]any:
		var out []map[string]any
		for i, e := range x {
			me, c := m.value(e)
			if c && out == nil {
				out = make([]map[string]any, len(x))
				copy(out, x)
			}
			if out != nil {
				out[i] = me.(map[string]any)
			}
		}
		if out == nil {
			return x, false
		}
		return out, true
	case []any:
		var out []any
		for i, e := range x {
			me, c := m.value(e)
			if c && out == nil {
				out = make([]any, len(x))
				copy(out, x)
			}
			if out != nil {
				out[i] = me
			}
		}
		if out == nil {
			return x, false
		}
		return out, true
	}
	return v, false
}

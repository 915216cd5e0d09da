package devconf

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Python's str() and repr() of template values. Jinja2 prints a list or a
// dict with Python's repr, and LAVA templates rely on it to write YAML flow
// collections ({{ flash_cmds_order }}, device_info: [{'board_id': ...}]).
// gonja quotes strings inside collections naively ('it's' breaks the YAML),
// so every {{ }} goes through the pystr filter (see jinjaCompat).

// pyStr is str(v). gonja does not tell an undefined variable from None:
// both are nil and print as "" (Jinja2 prints Undefined as "").
func pyStr(v any) string {
	v = unwrap(v)
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	return pyRepr(v)
}

func unwrap(v any) any {
	for {
		ev, ok := v.(*exec.Value)
		if !ok || ev == nil {
			return v
		}
		v = ev.Interface()
	}
}

// pyRepr is repr(v). nil is either None or an undefined variable; in a
// collection it is nearly always the latter in LAVA's templates
// (device_info: [{'board_id': board_id}]), which Jinja2 shows as
// Undefined.
func pyRepr(v any) string {
	v = unwrap(v)
	switch x := v.(type) {
	case nil:
		return "Undefined"
	case string:
		return quotePy(x)
	case bool:
		if x {
			return "True"
		}
		return "False"
	case *exec.Dict:
		parts := make([]string, len(x.Pairs))
		for i, p := range x.Pairs {
			parts[i] = pyRepr(p.Key) + ": " + pyRepr(p.Value)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *exec.Pair:
		return "(" + pyRepr(x.Key) + ", " + pyRepr(x.Value) + ")"
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return exec.AsValue(v).String()
		}
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = pyRepr(rv.Index(i).Interface())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		// Go maps have no order; Python dicts keep insertion order. Sorted
		// keys at least make the output stable.
		keys := rv.MapKeys()
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyRepr(k.Interface()) + ": " + pyRepr(rv.MapIndex(k).Interface())
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.Pointer:
		if rv.IsNil() {
			return "None"
		}
	}
	if x, ok := v.(fmt.Stringer); ok {
		return x.String()
	}
	return exec.AsValue(v).String()
}

// quotePy quotes a string as Python's repr does: single quotes unless the
// string has a single quote and no double quote.
func quotePy(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// pystrFilter is the filter every {{ }} ends with.
func pystrFilter(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	return exec.AsValue(pyStr(in.Interface()))
}

package devconf

import (
	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// dictMethodNames are the dict methods gonja implements (builtins/methods).
var dictMethodNames = []string{"keys", "values", "items", "get", "pop", "popitem",
	"setdefault", "update", "clear", "copy", "fromkeys"}

// methods are gonja's Python methods with dict iteration in insertion order
// for dict literals, as in Python (gonja sorts the keys; mustang-uefi's
// menu depends on the order).
var methods = func() exec.Methods {
	m := builtins.Methods
	dict := map[string]exec.Method[map[string]any]{}
	for _, name := range dictMethodNames {
		if fn, ok := builtins.Methods.Dict.Get(name); ok {
			dict[name] = fn
		}
	}
	ordered := func(name string, each func(p *exec.Pair) any) {
		orig, ok := dict[name]
		if !ok {
			return
		}
		dict[name] = func(self map[string]any, sv *exec.Value, args *exec.VarArgs) (any, error) {
			d, isDict := sv.Interface().(*exec.Dict)
			if !isDict || len(args.Args) > 0 || len(args.KwArgs) > 0 {
				return orig(self, sv, args)
			}
			out := make([]any, 0, len(d.Pairs))
			for _, p := range d.Pairs {
				out = append(out, each(p))
			}
			return out, nil
		}
	}
	ordered("items", func(p *exec.Pair) any { return []any{p.Key.Interface(), p.Value.Interface()} })
	ordered("keys", func(p *exec.Pair) any { return p.Key.Interface() })
	ordered("values", func(p *exec.Pair) any { return p.Value.Interface() })
	m.Dict = exec.NewMethodSet(dict)
	return m
}()

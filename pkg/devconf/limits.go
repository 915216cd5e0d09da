package devconf

import (
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Limits of one render. A dictionary is data a lab admin (or an API
// caller) supplies, and the server renders it for every job: a loop that
// never ends, a macro that calls itself (a Go stack overflow kills the
// whole process, recover cannot catch it) or a value that doubles at each
// {% set %} must fail the render, not the server. LAVA's templates use a
// tiny fraction of each.
const (
	MaxLoopIterations = 200_000
	MaxMacroCalls     = 100_000
	MaxNesting        = 64 // macro calls and includes inside one another
	// MaxCollectionItems bounds a list or dict a {% set %} makes (a string
	// is bounded by MaxConfigBytes).
	MaxCollectionItems = 100_000
)

// MaxRenderTime bounds one render, for what the counts cannot see: a
// loop whose every iteration does something expensive.
const MaxRenderTime = 10 * time.Second

// renderBudget counts what one render has spent.
type renderBudget struct {
	iterations, calls, depth atomic.Int64
	deadline                 time.Time
}

func newRenderBudget() *renderBudget {
	return &renderBudget{deadline: time.Now().Add(MaxRenderTime)}
}

func (b *renderBudget) expired() error {
	if time.Now().After(b.deadline) {
		return fmt.Errorf("render took longer than %v", MaxRenderTime)
	}
	return nil
}

// guard wraps the control structures that can run away. name is the tag,
// first is its first argument token (the variable of a {% set %}).
func (b *renderBudget) guard(name string, first *tokens.Token, cs nodes.ControlStructure) nodes.ControlStructure {
	if first == nil {
		first = &tokens.Token{}
	}
	switch x := cs.(type) {
	case *controlStructures.ForControlStructure:
		// Every iteration first runs a tick that counts it and watches
		// the clock.
		if x.BodyWrapper != nil {
			tick := &nodes.ControlStructureBlock{Location: x.BodyWrapper.Location, Name: "tick", ControlStructure: &loopTick{b, x.BodyWrapper.Location}}
			x.BodyWrapper.Nodes = append([]nodes.Node{tick}, x.BodyWrapper.Nodes...)
		}
		return &budgetedFor{x, b}
	case *controlStructures.MacroControlStructure:
		return &budgetedMacro{x, b}
	case *controlStructures.IncludeControlStructure:
		return &budgetedInclude{x, b}
	case *controlStructures.SetControlStructure:
		if name == "set" && first != nil && first.Type == tokens.Name {
			return &boundedSet{x, first.Val, b}
		}
	}
	return cs
}

func (b *renderBudget) enter(what string) error {
	if b.depth.Add(1) > MaxNesting {
		b.depth.Add(-1)
		return fmt.Errorf("%s nested more than %d deep (recursion?)", what, MaxNesting)
	}
	return nil
}

func (b *renderBudget) leave() { b.depth.Add(-1) }

// budgetedFor refuses a loop the iteration budget cannot pay for before
// gonja materialises its items (which it does all at once).
type budgetedFor struct {
	*controlStructures.ForControlStructure
	b *renderBudget
}

func (f *budgetedFor) Execute(r *exec.Renderer, tag *nodes.ControlStructureBlock) error {
	obj := r.Eval(f.ObjectEvaluator)
	if !obj.IsError() && f.b.iterations.Load()+int64(iterLen(obj)) > MaxLoopIterations {
		return fmt.Errorf("loops ran more than %d iterations", MaxLoopIterations)
	}
	return f.ForControlStructure.Execute(r, tag)
}

// loopTick runs before each iteration of a loop.
type loopTick struct {
	b   *renderBudget
	loc *tokens.Token
}

func (t *loopTick) Position() *tokens.Token { return t.loc }
func (t *loopTick) String() string          { return "loop tick" }

func (t *loopTick) Execute(*exec.Renderer, *nodes.ControlStructureBlock) error {
	if t.b.iterations.Add(1) > MaxLoopIterations {
		return fmt.Errorf("loops ran more than %d iterations", MaxLoopIterations)
	}
	return t.b.expired()
}

// iterLen is how many items a loop over v runs (Value.Len logs noise on
// values without a length).
func iterLen(v *exec.Value) int {
	switch reflect.ValueOf(v.Interface()).Kind() {
	case reflect.Array, reflect.Slice, reflect.Map, reflect.String, reflect.Struct:
		return v.Len()
	}
	return 0
}

// budgetedMacro defines the macro through a wrapper that counts calls and
// their nesting.
type budgetedMacro struct {
	*controlStructures.MacroControlStructure
	b *renderBudget
}

func (m *budgetedMacro) Execute(r *exec.Renderer, tag *nodes.ControlStructureBlock) error {
	if err := m.MacroControlStructure.Execute(r, tag); err != nil {
		return err
	}
	v, ok := r.Environment.Context.Get(m.Name)
	inner, isMacro := v.(exec.Macro)
	if !ok || !isMacro {
		return nil
	}
	name, b := m.Name, m.b
	r.Environment.Context.Set(name, exec.Macro(func(params *exec.VarArgs) *exec.Value {
		if b.calls.Add(1) > MaxMacroCalls {
			return exec.AsValue(fmt.Errorf("macro %s: more than %d macro calls", name, MaxMacroCalls))
		}
		if err := b.expired(); err != nil {
			return exec.AsValue(err)
		}
		if err := b.enter("macro " + name + " calls"); err != nil {
			return exec.AsValue(err)
		}
		defer b.leave()
		return inner(params)
	}))
	return nil
}

// budgetedInclude bounds includes that include themselves.
type budgetedInclude struct {
	*controlStructures.IncludeControlStructure
	b *renderBudget
}

func (i *budgetedInclude) Execute(r *exec.Renderer, tag *nodes.ControlStructureBlock) error {
	if err := i.b.enter("includes"); err != nil {
		return err
	}
	defer i.b.leave()
	return i.IncludeControlStructure.Execute(r, tag)
}

// boundedSet refuses a variable larger than a device configuration may
// be: {% set s = s ~ s %} repeated would take all memory.
type boundedSet struct {
	*controlStructures.SetControlStructure
	name string
	b    *renderBudget
}

func (s *boundedSet) Execute(r *exec.Renderer, tag *nodes.ControlStructureBlock) error {
	if err := s.SetControlStructure.Execute(r, tag); err != nil {
		return err
	}
	if err := s.b.expired(); err != nil {
		return err
	}
	v, ok := r.Environment.Context.Get(s.name)
	if !ok {
		return nil
	}
	val := exec.AsValue(v)
	limit, what := MaxCollectionItems, "items"
	if val.IsString() {
		limit, what = MaxConfigBytes, "characters"
	}
	if n := iterLen(val); n > limit {
		return fmt.Errorf("{%% set %s %%}: value of %d %s, more than %d", s.name, n, what, limit)
	}
	return nil
}

package devconf

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/nikolalohinski/gonja/v2/builtins"
	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
)

//go:embed devicetypes/*.jinja2
var embedded embed.FS

// Embedded returns golava's own device-type templates.
func Embedded() fs.FS {
	sub, err := fs.Sub(embedded, "devicetypes")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// MaxDictionaryBytes bounds a device dictionary.
const MaxDictionaryBytes = 1 << 20

// dictionaryName is the name the dictionary itself has in the loader; the
// leading slash keeps it apart from any template file name.
const dictionaryName = "/device-dictionary.jinja2"

// Renderer renders device dictionaries through device-type templates, as
// lava-server does with Jinja2 (trim_blocks, no autoescape). It is safe
// for concurrent use; template sources are read and rewritten once and
// cached.
type Renderer struct {
	dirs  []fs.FS
	mu    sync.Mutex
	cache map[string]string // name -> rewritten source ("" cached misses too)
	found map[string]bool
}

// NewRenderer searches dirs in order for templates, after golava's own
// embedded ones.
func NewRenderer(dirs ...fs.FS) *Renderer {
	return &Renderer{
		dirs:  append([]fs.FS{Embedded()}, dirs...),
		cache: map[string]string{},
		found: map[string]bool{},
	}
}

// source returns the rewritten source of a device-type template.
func (r *Renderer) source(name string) (string, error) {
	name = path.Clean(strings.TrimPrefix(name, "/"))
	if !fs.ValidPath(name) || strings.Contains(name, "/") {
		return "", fmt.Errorf("invalid template name %q", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if src, ok := r.cache[name]; ok {
		if !r.found[name] {
			return "", fmt.Errorf("template %q not found", name)
		}
		return src, nil
	}
	for _, d := range r.dirs {
		data, err := fs.ReadFile(d, name)
		if err == nil {
			src := jinjaCompat(string(data))
			r.cache[name], r.found[name] = src, true
			return src, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("read template %q: %w", name, err)
		}
	}
	r.cache[name] = ""
	return "", fmt.Errorf("template %q not found", name)
}

// Render renders a device dictionary to the YAML device configuration.
func (r *Renderer) Render(dictionary string) (string, error) {
	return r.RenderWith(dictionary, nil)
}

// RenderWith renders with job context variables, as lava-server does when
// it builds a job's device configuration (context: arch, memory...).
func (r *Renderer) RenderWith(dictionary string, vars map[string]any) (string, error) {
	if len(dictionary) > MaxDictionaryBytes {
		return "", fmt.Errorf("device dictionary is %d bytes, larger than %d", len(dictionary), MaxDictionaryBytes)
	}
	out, err := r.render(dictionary, vars)
	if err != nil {
		return "", err
	}
	if _, err := DecodeYAML([]byte(out)); err != nil {
		return out, fmt.Errorf("rendered device configuration is not valid: %w", err)
	}
	return out, nil
}

func (r *Renderer) render(dictionary string, vars map[string]any) (out string, err error) {
	// gonja panics on some malformed input; a bad dictionary must be an
	// error, not a crash of the server.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("render device dictionary: template engine failed: %v", p)
		}
	}()
	cfg := config.New()
	cfg.TrimBlocks = true
	cfg.AutoEscape = false
	cfg.KeepTrailingNewline = true
	ld := &loader{r: r, dict: jinjaCompat(dictionary)}
	// The context top-level statements write to; blocks render in it (see
	// scopedBlock).
	top := exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables).
		Update(exec.NewContext(map[string]any{"range": boundedRange})).
		Inherit().Update(exec.NewContext(vars))
	env := &exec.Environment{
		Context:           top,
		Filters:           filters,
		Tests:             builtins.Tests,
		ControlStructures: controlStructuresFor(top),
		Methods:           methods,
	}
	tpl, err := exec.NewTemplate(dictionaryName, cfg, ld, env)
	if err != nil {
		return "", ld.explain(fmt.Errorf("parse device dictionary: %w", err))
	}
	buf := &cappedBuffer{max: MaxConfigBytes}
	if err := executeChain(tpl, env, cfg, ld, buf); err != nil {
		return "", ld.explain(fmt.Errorf("render device dictionary: %w", err))
	}
	return buf.String(), nil
}

// executeChain renders a template as Jinja2 does with inheritance: the
// top-level statements of each template, from the dictionary up to the
// base, run first in one shared context (so a dictionary's {% set %}
// reaches the base templates), then the base template renders. gonja
// alone only runs the base.
func executeChain(tpl *exec.Template, env *exec.Environment, cfg *config.Config, ld loaders.Loader, w io.Writer) error {
	rd := exec.NewRenderer(env, w, cfg, ld, tpl)
	for t := rd.RootNode; t.Parent != nil; t = t.Parent {
		// What a child template writes before its {% extends %} is
		// output; after it, only the side effects count.
		rd.Output = w
		for _, n := range t.Nodes {
			if isExtends(n) {
				rd.Output = io.Discard
			}
			if isBlock(n) {
				continue
			}
			if err := nodes.Walk(rd, n); err != nil {
				return err
			}
		}
	}
	rd.Output = w
	return rd.Execute()
}

func isExtends(n nodes.Node) bool {
	cs, ok := n.(*nodes.ControlStructureBlock)
	if !ok {
		return false
	}
	_, ok = cs.ControlStructure.(*controlStructures.ExtendsControlStructure)
	return ok
}

func isBlock(n nodes.Node) bool {
	cs, ok := n.(*nodes.ControlStructureBlock)
	if !ok {
		return false
	}
	_, ok = cs.ControlStructure.(*scopedBlock)
	return ok
}

// scopedBlock renders a block in the template context, as Jinja2 does: a
// block nested in another does not see the enclosing block's local
// {% set %} variables (d03.jinja2 depends on it). gonja would let them
// through.
type scopedBlock struct {
	*controlStructures.BlockControlStructure
	top *exec.Context
}

func (b *scopedBlock) Execute(r *exec.Renderer, tag *nodes.ControlStructureBlock) error {
	rr := *r
	env := *r.Environment
	env.Context = b.top
	rr.Environment = &env
	return b.BlockControlStructure.Execute(&rr, tag)
}

// tagNames are gonja's control structures (builtins/control_structures).
var tagNames = []string{"autoescape", "block", "extends", "filter", "for", "from", "if",
	"import", "include", "macro", "raw", "set", "with", "do", "break", "continue", "trans", "call"}

// controlStructuresFor returns gonja's control structures with blocks
// rendering in top, and parse errors naming the template and line of the
// tag (gonja leaves some without a position).
func controlStructuresFor(top *exec.Context) *exec.ControlStructureSet {
	budget := newRenderBudget()
	set := exec.NewControlStructureSet(map[string]parser.ControlStructureParser{})
	for _, name := range tagNames {
		parse, ok := builtins.ControlStructures.Get(name)
		if !ok {
			continue
		}
		name := name
		if err := set.Register(name, func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
			where := args.Current() // the tag's first argument
			if where == nil || where.Line == 0 {
				where = p.Current() // no arguments: the token after the tag
			}
			cs, err := parse(p, args)
			if err != nil {
				tpl := "?"
				if p.Template != nil {
					tpl = p.Template.Identifier
				}
				return nil, fmt.Errorf("%s line %d: {%% %s %%}: %w", templateLabel(tpl), where.Line, name, err)
			}
			if bcs, ok := cs.(*controlStructures.BlockControlStructure); ok {
				return &scopedBlock{BlockControlStructure: bcs, top: top}, nil
			}
			return budget.guard(name, where, cs), nil
		}); err != nil {
			panic(err)
		}
	}
	return set
}

func templateLabel(id string) string {
	if id == dictionaryName {
		return "device dictionary"
	}
	return id
}

// loader serves the dictionary and the device-type templates to gonja.
type loader struct {
	r    *Renderer
	dict string
}

func (l *loader) Read(name string) (io.Reader, error) {
	if name == dictionaryName {
		return strings.NewReader(l.dict), nil
	}
	src, err := l.r.source(name)
	if err != nil {
		return nil, err
	}
	return strings.NewReader(src), nil
}

func (l *loader) Resolve(name string) (string, error) {
	if name == dictionaryName {
		return name, nil
	}
	return path.Base(name), nil
}

func (l *loader) Inherit(string) (loaders.Loader, error) { return l, nil }

var _ loaders.Loader = (*loader)(nil)

var reTemplateQuote = regexp.MustCompile(`(?s)failed to parse template '.*?': `)

// explain shortens gonja's errors: they quote whole template sources.
func (l *loader) explain(err error) error {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, l.dict, "device dictionary")
	l.r.mu.Lock()
	for name, src := range l.r.cache {
		if src != "" {
			msg = strings.ReplaceAll(msg, src, name)
		}
	}
	l.r.mu.Unlock()
	msg = reTemplateQuote.ReplaceAllStringFunc(msg, func(s string) string {
		return "template '" + strings.TrimSuffix(strings.TrimPrefix(s, "failed to parse template '"), "': ") + "': "
	})
	return errors.New(msg)
}

// filters are gonja's with join fixed for LAVA: gonja has no Undefined
// apart from None, and Jinja2 joins an undefined item as "" (base-
// depthcharge.jinja2 joins possibly undefined kernel arguments).
var filters = func() *exec.FilterSet {
	fs := exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters)
	join, _ := builtins.Filters.Get("join")
	if err := fs.Replace("join", func(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		if in.IsList() {
			items := make([]any, 0, in.Len())
			for i := 0; i < in.Len(); i++ {
				it := in.Index(i)
				if it.IsNil() {
					items = append(items, "")
				} else {
					items = append(items, it.Interface())
				}
			}
			in = exec.AsValue(items)
		}
		return join(e, in, params)
	}); err != nil {
		panic(err)
	}
	if err := fs.Register(pystrName, pystrFilter); err != nil {
		panic(err)
	}
	return fs
}()

// cappedBuffer fails writes past max bytes, so that a runaway loop in a
// template ends in an error rather than in memory exhaustion.
type cappedBuffer struct {
	bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, fmt.Errorf("rendered device configuration is larger than %d bytes", b.max)
	}
	return b.Buffer.Write(p)
}

func (b *cappedBuffer) WriteString(s string) (int, error) { return b.Write([]byte(s)) }

// MaxRange bounds range() in templates.
const MaxRange = 100000

// boundedRange replaces gonja's range(), which feeds a loop from a
// goroutine that leaks when the loop stops early, with a bounded list.
func boundedRange(_ *exec.Evaluator, params *exec.VarArgs) ([]int, error) {
	args := make([]int, len(params.Args))
	for i, a := range params.Args {
		if !a.IsInteger() {
			return nil, fmt.Errorf("range() takes integers")
		}
		args[i] = a.Integer()
	}
	start, stop, step := 0, 0, 1
	switch len(args) {
	case 1:
		stop = args[0]
	case 2:
		start, stop = args[0], args[1]
	case 3:
		start, stop, step = args[0], args[1], args[2]
	default:
		return nil, fmt.Errorf("range() takes 1 to 3 integers")
	}
	if step == 0 {
		return nil, fmt.Errorf("range() step cannot be 0")
	}
	var out []int
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		if len(out) == MaxRange {
			return nil, fmt.Errorf("range() longer than %d", MaxRange)
		}
		out = append(out, i)
	}
	return out, nil
}

package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
)

// Lets are the named expressions of a mapping file ("let"), in the order
// written: a JSON object whose key order counts.
type Lets []Let

// Let is one named expression.
type Let struct {
	Name string
	Expr string
}

// UnmarshalJSON reads an object of expressions, keeping its order.
func (l *Lets) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return errors.New("let must be an object")
	}
	var out Lets
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		var src string
		if err := dec.Decode(&src); err != nil {
			return err
		}
		out = append(out, Let{Name: kt.(string), Expr: src})
	}
	*l = out
	return nil
}

// MarshalJSON writes the object back, in order.
func (l Lets) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.Name)
		v, _ := json.Marshal(e.Expr)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// letDef is a compiled let: its source, parsed afresh wherever it is used,
// and the names of the environment it reads (through the lets it uses too).
type letDef struct {
	name string
	src  string
	deps []string
}

// functionNames are the functions expressions may call: a let may not take
// one's name.
var functionNames = func() map[string]bool {
	out := map[string]bool{}
	for _, f := range builtin.Builtins {
		out[f.Name] = true
	}
	for _, n := range []string{"template", "fill", "render", "digits", "spaced", "twiml", "json", "json_object", "xml_escape", "mask"} {
		out[n] = true
	}
	return out
}()

// reservedNames are the names of the environment and expr's words.
var reservedNames = []string{"options", "tables", "route", "request", "result",
	"let", "in", "not", "and", "or", "matches", "contains", "startsWith", "endsWith", "nil", "true", "false", "if", "else"}

// compileLets compiles the lets in order. Each sees options, tables, route,
// request, every field, result and the lets above it; what it reads decides
// where it may be used (letPatcher).
func (c *compiler) compileLets(spec *Spec) error {
	env := c.baseEnv()
	fields := map[string]bool{}
	for _, f := range spec.Fields {
		env[f.Name] = ""
		fields[f.Name] = true
	}
	env["result"] = &Result{}
	c.letIndex = map[string]int{}
	for i, l := range spec.Let {
		if _, dup := c.letIndex[l.Name]; dup {
			return &ConfigError{Path: Path{"let", l.Name}, Key: true, Err: fmt.Errorf("let %q is declared twice", l.Name)}
		}
		c.letIndex[l.Name] = i
	}
	for _, l := range spec.Let {
		var clash string
		switch {
		case fields[l.Name]:
			clash = "a field's"
		case slices.Contains(reservedNames, l.Name):
			clash = "a reserved"
		case functionNames[l.Name]:
			clash = "a function's"
		}
		if clash != "" {
			return &ConfigError{Path: Path{"let", l.Name}, Key: true, Err: fmt.Errorf("%q is %s name: a let needs its own", l.Name, clash)}
		}
		_, deps, err := c.compileUses(l.Expr, env, kindAny, len(c.lets))
		if err != nil {
			return at(err, "let", l.Name)
		}
		c.lets = append(c.lets, &letDef{name: l.Name, src: l.Expr, deps: deps})
	}
	return nil
}

// letPatcher replaces each use of a let by the let's expression, parsed
// afresh, so that a let behaves exactly as its expression written in its
// place (in parentheses) and is evaluated where it is used. It refuses a
// let that reads what the expression cannot see (result outside replies, a
// field read after the one being computed, anything but options and tables
// in checks), a let declared below, and an expression's own "let" that
// would hide one.
type letPatcher struct {
	c       *compiler
	env     map[string]any
	visible int // the lets the expression sees: c.lets[:visible]
	err     error
	// nodes counts the nodes the lets added, against maxExprNodes: lets
	// that use lets twice could otherwise grow an expression exponentially.
	nodes *int
}

func (p *letPatcher) Visit(node *ast.Node) {
	if p.err != nil {
		return
	}
	switch n := (*node).(type) {
	case *ast.VariableDeclaratorNode:
		if _, ok := p.c.letIndex[n.Name]; ok {
			p.err = fmt.Errorf("\"let %s = ...\" inside the expression hides the mapping's let %q: choose another name", n.Name, n.Name)
		}
	case *ast.IdentifierNode:
		i, ok := p.c.letIndex[n.Value]
		if !ok {
			return
		}
		if _, inEnv := p.env[n.Value]; inEnv {
			return
		}
		if i >= p.visible {
			if i == len(p.c.lets) {
				p.err = fmt.Errorf("let %q cannot use itself", n.Value)
			} else {
				p.err = fmt.Errorf("let %q is declared below: an expression sees only the lets above it", n.Value)
			}
			return
		}
		l := p.c.lets[i]
		for _, dep := range l.deps {
			if _, ok := p.env[dep]; !ok {
				p.err = fmt.Errorf("let %q reads %s, %s", l.name, depName(dep), p.unseen(dep))
				return
			}
		}
		if p.nodes == nil {
			p.nodes = new(int)
		}
		fresh, err := p.c.expand(l, p.env, i, n.Location(), p.nodes)
		if err != nil {
			p.err = err
			return
		}
		ast.Patch(node, fresh)
	}
}

func depName(dep string) string {
	switch dep {
	case "result", "route", "request", "options", "tables":
		return dep
	}
	return fmt.Sprintf("field %q", dep)
}

// unseen says why the expression cannot see dep.
func (p *letPatcher) unseen(dep string) string {
	_, fieldsVisible := p.env["route"]
	switch {
	case dep == "result":
		return "which only replies see"
	case !fieldsVisible:
		return "and checks see only options and tables"
	}
	return "which is read after this field"
}

// expand parses let i afresh (a tree of its own: the checker annotates
// nodes per expression), with the lets it uses expanded in turn, every node
// placed at loc, the use.
func (c *compiler) expand(l *letDef, env map[string]any, i int, loc file.Location, nodes *int) (ast.Node, error) {
	cfg := conf.CreateNew()
	for _, op := range c.baseOptions(env) {
		op(cfg)
	}
	for _, op := range c.funcs {
		op(cfg)
	}
	tree, err := parser.ParseWithConfig(l.src, cfg)
	if err != nil {
		return nil, fmt.Errorf("let %q: %w", l.name, err)
	}
	inner := &letPatcher{c: c, env: env, visible: i, nodes: nodes}
	ast.Walk(&tree.Node, inner)
	if inner.err != nil {
		return nil, inner.err
	}
	loc2 := &locator{loc: loc}
	ast.Walk(&tree.Node, loc2)
	if *nodes += loc2.count; *nodes > maxExprNodes {
		return nil, fmt.Errorf("the expression is too large with its lets written out (over %d nodes)", maxExprNodes)
	}
	return tree.Node, nil
}

// locator places every node of a tree at one location, and counts them.
type locator struct {
	loc   file.Location
	count int
}

func (l *locator) Visit(node *ast.Node) {
	(*node).SetLocation(l.loc)
	l.count++
}

// renderPatcher gives render(key) and render(key, extra) the fields the
// expression sees, as render(key, fields) and render(key, fields, extra):
// render fills {{name}} from every field read before it (not the secret
// ones).
type renderPatcher struct {
	env       map[string]any
	secret    map[string]bool
	templates map[string]string
	fallback  string
	err       error
}

func (r *renderPatcher) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || r.err != nil {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || id.Value != "render" {
		return
	}
	if len(call.Arguments) < 1 || len(call.Arguments) > 2 {
		r.err = errors.New("render takes a template key and, optionally, a map of values that add to or replace the fields: render(key) or render(key, {'name': value})")
		return
	}
	if key, ok := call.Arguments[0].(*ast.StringNode); ok && r.fallback == "" {
		if _, ok := r.templates[key.Value]; !ok {
			r.err = fmt.Errorf("render(%q): no such template (and no template_fallback)", key.Value)
			return
		}
	}
	fields := &ast.MapNode{}
	for _, name := range slices.Sorted(maps.Keys(r.env)) {
		if _, isField := r.env[name].(string); !isField || r.secret[name] {
			continue
		}
		fields.Pairs = append(fields.Pairs, &ast.PairNode{Key: &ast.StringNode{Value: name}, Value: &ast.IdentifierNode{Value: name}})
	}
	args := append([]ast.Node{call.Arguments[0], fields}, call.Arguments[1:]...)
	ast.Walk(&args[1], &locator{loc: call.Location()})
	// A new node: the checker keeps the type it found for the old one.
	patched := &ast.CallNode{Callee: &ast.IdentifierNode{Value: "render"}, Arguments: args}
	patched.Callee.SetLocation(call.Callee.Location())
	ast.Patch(node, patched)
}

// compileTables makes the tables as expressions see them: a map per table,
// whole numbers as int.
func compileTables(spec map[string]map[string]any) map[string]any {
	out := make(map[string]any, len(spec))
	for name, t := range spec {
		m := make(map[string]any, len(t))
		for k, v := range t {
			if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				v = int(f)
			}
			m[k] = v
		}
		out[name] = m
	}
	return out
}

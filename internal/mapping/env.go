package mapping

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Route is what the route (Caddyfile) decided, visible to expressions as route.*.
// The handler fills From and MessagingServiceSID after choosing the sender.
type Route struct {
	Channel             string `expr:"channel"`
	StudioFlowSID       string `expr:"studio_flow_sid"`
	Account             string `expr:"account"`
	AccountSID          string `expr:"account_sid"`
	From                string `expr:"from"`
	MessagingServiceSID string `expr:"messaging_service_sid"`
	// Passthrough is true when the caller's own Twilio credentials send
	// (the caller owns the account: its Url and TwiML are its own business).
	Passthrough bool `expr:"passthrough"`
}

// Request is the inbound request's metadata, visible as request.*.
type Request struct {
	Method      string `expr:"method"`
	Path        string `expr:"path"`
	Format      string `expr:"format"`
	ContentType string `expr:"content_type"`
	// Ext is the {ext} path segment suffix: "", ".json" or ".xml".
	Ext string `expr:"ext"`
}

// Limits on expression evaluation (CVE-2025-29786 class: bounded AST and memory).
const (
	maxExprNodes       = 2000
	exprMemoryBudget   = 200_000
	maxExprSourceBytes = 8192
)

// Expression result kinds.
const (
	kindAny = iota
	kindBool
	kindInt
)

// program is one compiled expression. Simple forms skip the VM entirely: a bare
// field name is a map lookup, a literal is a constant.
type program struct {
	src   string
	field string // set when the expression is just a field name
	isLit bool
	lit   any
	prog  *vm.Program
	// fields are the mapping fields the expression reads, in order of first use,
	// so that an input error raised by a function can name the field at fault.
	fields []string
	// options are the options it reads.
	options []string
	// resultField is 1 + the index of the Result field when the expression
	// is just result.<name>, read then without the VM (which boxes the
	// value into an interface); 0 otherwise.
	resultField int
}

// resultFields are Result's fields by the name expressions use (their expr
// tag), as indexes for reflect.
var resultFields = func() map[string]int {
	t := reflect.TypeFor[Result]()
	out := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("expr"); tag != "" && tag != "-" {
			out[tag] = i
		}
	}
	return out
}()

// resultValue is the field result.<name> reads, when p is just that and env
// holds a result.
func (p *program) resultValue(env map[string]any) (reflect.Value, bool) {
	if p.resultField == 0 {
		return reflect.Value{}, false
	}
	res, _ := env["result"].(*Result)
	if res == nil {
		return reflect.Value{}, false
	}
	return reflect.ValueOf(res).Elem().Field(p.resultField - 1), true
}

// blame is the field an input error in this expression is about: the field
// itself, the only field it reads, or def.
func (p *program) blame(def string) string {
	if p.field != "" {
		return p.field
	}
	if len(p.fields) == 1 {
		return p.fields[0]
	}
	return def
}

// asInputError returns err as an *InputError about field when a function failed
// on what the caller sent (twiml, json_object), or nil.
func asInputError(err error, field string) *InputError {
	var ie *InputError
	if !errors.As(err, &ie) {
		return nil
	}
	out := *ie
	if out.Field == "" {
		out.Field = field
	}
	return &out
}

var vmPool = sync.Pool{New: func() any { return &vm.VM{MemoryBudget: exprMemoryBudget} }}

func (p *program) run(env map[string]any) (any, error) {
	if p.field != "" {
		return env[p.field], nil
	}
	if p.isLit {
		return p.lit, nil
	}
	machine := vmPool.Get().(*vm.VM)
	out, err := machine.Run(p.prog, env)
	vmPool.Put(machine)
	return out, err
}

func (p *program) runString(env map[string]any) (string, error) {
	v, err := p.run(env)
	if err != nil {
		return "", err
	}
	return toString(v), nil
}

func toString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// compiler compiles expressions against a known environment.
type compiler struct {
	options   map[string]string
	templates map[string]string
	fallback  string
	funcs     []expr.Option
	// tables are the mapping's lookup tables, as expressions see them.
	tables map[string]any
	// lets are the named expressions compiled so far, in order; letIndex
	// has every let of the file, for naming one declared below.
	lets     []*letDef
	letIndex map[string]int
	// secret fields are left out of render().
	secret map[string]bool
}

// compile compiles src with env (the names visible at that point). Unknown names,
// unknown options and tables, lets that read what env lacks, and type errors
// fail here.
func (c *compiler) compile(src string, env map[string]any, kind int) (*program, error) {
	p, _, err := c.compileUses(src, env, kind, len(c.lets))
	return p, err
}

// compileUses compiles src seeing the first nlets lets, and returns the
// names of env it reads (fields, result, route, request, options, tables),
// through the lets it uses too.
func (c *compiler) compileUses(src string, env map[string]any, kind int, nlets int) (*program, []string, error) {
	if len(src) > maxExprSourceBytes {
		return nil, nil, errors.New("expression is too long")
	}
	opts := c.baseOptions(env)
	switch kind {
	case kindBool:
		opts = append(opts, expr.AsBool())
	case kindInt:
		opts = append(opts, expr.AsInt())
	}
	lets := &letPatcher{c: c, env: env, visible: nlets}
	check := &nameCheck{options: c.options, tables: c.tables}
	uses := &uses{env: env}
	render := &renderPatcher{env: env, secret: c.secret, templates: c.templates, fallback: c.fallback}
	opts = append(opts, expr.Patch(lets), expr.Patch(check), expr.Patch(uses), expr.Patch(render))
	opts = append(opts, c.funcs...)
	prog, err := expr.Compile(src, opts...)
	for _, e := range []error{lets.err, check.err, render.err} {
		if e != nil {
			return nil, nil, e
		}
	}
	if err != nil {
		return nil, nil, err
	}
	p := &program{src: src, prog: prog, fields: uses.fields, options: check.read}
	switch n := prog.Node().(type) {
	case *ast.IdentifierNode:
		if _, isField := env[n.Value].(string); isField && kind == kindAny {
			p.field = n.Value
		}
	case *ast.StringNode:
		if kind == kindAny {
			p.isLit, p.lit = true, n.Value
		}
	case *ast.IntegerNode:
		if kind == kindInt || kind == kindAny {
			p.isLit, p.lit = true, n.Value
		}
	case *ast.BoolNode:
		if kind == kindBool || kind == kindAny {
			p.isLit, p.lit = true, n.Value
		}
	case *ast.MemberNode:
		id, isIdent := n.Node.(*ast.IdentifierNode)
		prop, isName := n.Property.(*ast.StringNode)
		if kind == kindAny && isIdent && isName && id.Value == "result" && !n.Optional && !n.Method {
			if _, isResult := env["result"].(*Result); isResult {
				if i, ok := resultFields[prop.Value]; ok {
					p.resultField = i + 1
				}
			}
		}
	}
	return p, uses.names, nil
}

// baseOptions are the options every expression compiles with: its
// environment and the limits.
func (c *compiler) baseOptions(env map[string]any) []expr.Option {
	return []expr.Option{
		expr.Env(env),
		expr.MaxNodes(maxExprNodes),
		expr.DisableBuiltin("now"),
		expr.DisableBuiltin("date"),
		expr.DisableBuiltin("timezone"),
		expr.DisableBuiltin("duration"),
	}
}

// uses collects the names of env an expression reads (in order of first
// use), and among them the mapping fields (strings in env). It runs after
// lets are expanded and before render() adds its fields.
type uses struct {
	env    map[string]any
	names  []string
	fields []string
}

func (u *uses) Visit(node *ast.Node) {
	id, ok := (*node).(*ast.IdentifierNode)
	if !ok {
		return
	}
	v, inEnv := u.env[id.Value]
	if !inEnv || slices.Contains(u.names, id.Value) {
		return
	}
	u.names = append(u.names, id.Value)
	if _, isField := v.(string); isField {
		u.fields = append(u.fields, id.Value)
	}
}

// nameCheck rejects options.<name> and tables.<name> for names the mapping
// does not declare, so a typo fails at provisioning instead of reading ""
// or nil at run time.
type nameCheck struct {
	options map[string]string
	tables  map[string]any
	err     error
	read    []string // the options read
}

func (o *nameCheck) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || o.err != nil {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "options" && id.Value != "tables" {
		return
	}
	s, ok := m.Property.(*ast.StringNode)
	if !ok {
		o.err = fmt.Errorf("%s must be read with a literal name, as %s.name", id.Value, id.Value)
		return
	}
	if id.Value == "tables" {
		if _, ok := o.tables[s.Value]; !ok {
			o.err = fmt.Errorf("unknown table %q (declare it in the mapping's tables)", s.Value)
		}
		return
	}
	if _, ok := o.options[s.Value]; !ok {
		o.err = fmt.Errorf("unknown option %q (declare it in the mapping's options)", s.Value)
		return
	}
	if !slices.Contains(o.read, s.Value) {
		o.read = append(o.read, s.Value)
	}
}

// baseEnv is the environment every expression sees: options, tables, route
// and request.
func (c *compiler) baseEnv() map[string]any {
	return map[string]any{
		"options": c.options,
		"tables":  c.tables,
		"route":   &Route{},
		"request": &Request{},
	}
}

func withField(env map[string]any, name string) map[string]any {
	out := make(map[string]any, len(env)+1)
	for k, v := range env {
		out[k] = v
	}
	out[name] = ""
	return out
}

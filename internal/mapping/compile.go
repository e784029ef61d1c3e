package mapping

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/schema"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// PhoneNormalizer validates "phone" and "sender" fields (package phone provides it).
type PhoneNormalizer interface {
	Normalize(raw string) (string, error)
	NormalizeSender(raw string) (string, error)
}

// How a product writes phone numbers that have no "+": the values of a phone
// field's "assume" setting (FieldSpec.Assume) and of Config.Assume. They are
// the values package phone's Normalizer.Assume takes.
const (
	// AssumeInternational reads digits without "+" as an international number,
	// country code first ("14155552671").
	AssumeInternational = "international"
	// AssumeNational reads digits without "+" as a national number in the
	// route's default region.
	AssumeNational = "national"
)

// ValidAssume reports whether s is "" (auto), AssumeInternational or
// AssumeNational.
func ValidAssume(s string) bool {
	return s == "" || s == AssumeInternational || s == AssumeNational
}

// Config is what a route adds to a mapping file at compile time.
type Config struct {
	// Options override the mapping's declared options. Unknown names are errors.
	Options map[string]string
	// Templates override or add templates.
	Templates map[string]string
	// Fields override the sources of named fields, e.g. {"to": ["form:mobileNumber"]}.
	Fields map[string][]string
	// Phone normalizes phone and sender fields. Required when the mapping has
	// any, except phone fields that PhoneFor serves.
	Phone PhoneNormalizer
	// PhoneFor returns the normalizer for phone fields that read numbers
	// with an assumption (AssumeInternational or AssumeNational): the
	// field's "assume" setting, or Assume below. It is called once per such
	// field, at compile time. When PhoneFor is nil or returns nil, Phone is
	// used, and the assumption is the one Phone makes. Sender fields always
	// use Phone.
	PhoneFor func(assume string) PhoneNormalizer
	// WithoutRoute compiles the mapping for no route in particular, as
	// `caddy twilio-sms check <file>` does: options the mapping requires
	// (required_options) may be left unset; they read "" and the checks
	// that read them are not run.
	WithoutRoute bool
	// Assume, when not empty, is the route's own assumption
	// (AssumeInternational or AssumeNational, in any case; PhoneFor gets it
	// in lower case): it wins over every phone field's "assume" setting, and
	// applies to phone fields without one. Any other value fails Compile.
	Assume string
}

// Mapping is a compiled mapping file, safe for concurrent use.
type Mapping struct {
	name       string
	file       string
	methods    []string
	format     string
	path       *pathPattern
	maxBody    int64
	needsBasic bool
	fields     []field
	fieldIndex map[string]int
	api        *program
	params     map[twilio.API][]param
	// feeds maps, per API, each field to the Twilio parameter it feeds
	// (paramOf).
	feeds     map[twilio.API]map[string]string
	success   []replyCase
	failure   []replyCase
	invalid   []replyCase
	options   map[string]string
	templates map[string]string
	tables    map[string]any
	defaults  RouteDefaults
	envSize   int
}

type field struct {
	name     string
	sources  []source
	value    *program
	def      string
	required bool
	typ      string
	maxLen   int
	pattern  *regexp.Regexp
	secret   bool
	// phone and sender fields: the normalizer, and the assumption it was
	// chosen for ("" for auto).
	phone  PhoneNormalizer
	assume string
}

type param struct {
	name string
	prog *program
}

// Field types.
const (
	TypeText   = "text"
	TypePhone  = "phone"
	TypeSender = "sender"
	TypeDigits = "digits"
	TypeJSON   = "json"
)

// Defaults.
const (
	DefaultMaxBodyBytes = 64 << 10
	DefaultMaxLength    = 4096
	// MaxBodyChars is Twilio's limit on a message Body.
	MaxBodyChars = 1600
	// MaxTwimlChars is Twilio's limit on a Calls Twiml parameter.
	MaxTwimlChars = 4000
)

// Compile compiles a parsed mapping for one route, checking what the schema
// cannot: that expressions compile against the names they can see, that
// patterns are regular expressions, that references between parts hold
// (path sources, the template fallback, required placeholders, duplicate
// field names), that the checks hold for the route's options, and the
// route's own settings (cfg). file names the mapping in errors
// ("builtin:pingone" or a path). An error is a *ConfigError placed in the
// file Parse read; a Spec built in code is first checked against the
// schema, as a file would be.
func Compile(spec *Spec, file string, cfg Config) (*Mapping, error) {
	if spec.src == nil {
		if err := spec.validate(file); err != nil {
			return nil, err
		}
	}
	m, err := compile(spec, file, cfg)
	if err != nil {
		ce, ok := err.(*ConfigError)
		if !ok {
			ce = &ConfigError{Err: err}
		}
		ce.File = file
		locateAll(spec.src, []*ConfigError{ce})
		return nil, ce
	}
	return m, nil
}

// validate checks a Spec built in code against the schema, as Parse checks
// a file.
func (s *Spec) validate(file string) error {
	data, err := json.Marshal(s)
	if err != nil {
		return &ConfigError{File: file, Err: err}
	}
	violations, err := schema.Validate(data)
	if err != nil {
		return &ConfigError{File: file, Err: err}
	}
	var problems []*ConfigError
	for _, v := range violations {
		problems = append(problems, &ConfigError{Path: v.Path, Key: v.Key, Err: errors.New(v.Message)})
	}
	if len(problems) == 0 {
		return nil
	}
	return fileErrors(file, nil, problems)
}

func compile(spec *Spec, file string, cfg Config) (*Mapping, error) {
	m := &Mapping{name: spec.Name, file: file, maxBody: spec.Request.MaxBodyBytes}
	if m.name == "" {
		m.name = file
	}
	if m.maxBody == 0 {
		m.maxBody = DefaultMaxBodyBytes
	}
	routeAssume := strings.ToLower(cfg.Assume)
	if !ValidAssume(routeAssume) {
		return nil, routeErr(fmt.Errorf("the route's assume %q is not %q or %q", cfg.Assume, AssumeInternational, AssumeNational))
	}

	m.methods = slices.Clone(spec.Request.Methods) // the spec may be compiled again
	if len(m.methods) == 0 {
		m.methods = []string{http.MethodPost}
	}
	m.format = cmp.Or(spec.Request.Format, FormatAuto)
	if spec.Request.Path != "" {
		pp, err := compilePath(spec.Request.Path)
		if err != nil {
			return nil, at(err, "request", "path")
		}
		m.path = pp
	}

	// Options and templates: declared defaults, then the route's overrides.
	m.options = maps.Clone(spec.Options)
	if m.options == nil {
		m.options = map[string]string{}
	}
	required := map[string]bool{}
	for i, name := range spec.RequiredOptions {
		if _, ok := m.options[name]; ok {
			return nil, &ConfigError{Path: Path{"options", name}, Key: true,
				Err: fmt.Errorf("option %q is in required_options: a route must set it, so it takes no default here", name)}
		}
		if required[name] {
			return nil, at(fmt.Errorf("option %q is listed twice", name), "required_options", i)
		}
		required[name] = true
		m.options[name] = ""
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Options)) {
		if _, ok := m.options[k]; !ok {
			has := "it declares none"
			if len(m.options) > 0 {
				has = "it has: " + strings.Join(slices.Sorted(maps.Keys(m.options)), ", ")
			}
			return nil, routeErr(fmt.Errorf("the route sets option %q, which the mapping does not declare (%s)", k, has))
		}
		m.options[k] = cfg.Options[k]
	}
	unset := map[string]bool{} // required options the route left unset (WithoutRoute only)
	for _, name := range spec.RequiredOptions {
		if m.options[name] != "" {
			continue
		}
		if !cfg.WithoutRoute {
			return nil, routeErr(fmt.Errorf("the mapping requires option %q, which the route does not set (option %s <value>)", name, name))
		}
		unset[name] = true
	}
	m.templates = maps.Clone(spec.Templates)
	if m.templates == nil {
		m.templates = map[string]string{}
	}
	maps.Copy(m.templates, cfg.Templates)
	if spec.TemplateFallback != "" {
		if _, ok := m.templates[spec.TemplateFallback]; !ok {
			return nil, at(fmt.Errorf("no template %q", spec.TemplateFallback), "template_fallback")
		}
	}
	for _, key := range slices.Sorted(maps.Keys(m.templates)) {
		have := placeholders(m.templates[key])
		for _, need := range spec.TemplateRequires {
			if have[need] {
				continue
			}
			if _, ok := cfg.Templates[key]; ok {
				return nil, routeErr(fmt.Errorf("the route's template %q must contain {{%s}}", key, need))
			}
			return nil, at(fmt.Errorf("must contain {{%s}}", need), "templates", key)
		}
	}

	// Route defaults: the route's own settings win.
	var err error
	if m.defaults, err = spec.routeDefaults(); err != nil {
		return nil, err
	}
	if routeAssume == "" {
		routeAssume = m.defaults.AssumeNumbers
	}

	m.tables = compileTables(spec.Tables)
	c := &compiler{options: m.options, templates: m.templates, fallback: spec.TemplateFallback, tables: m.tables,
		secret: map[string]bool{}}
	for _, f := range spec.Fields {
		c.secret[f.Name] = c.secret[f.Name] || f.Secret
	}
	c.funcs = c.functions()
	if err := c.compileLets(spec); err != nil {
		return nil, err
	}

	// Checks see the effective options and the tables only, and run once,
	// here; without a route, those that read a required option it did not
	// set are left for the route.
	checkEnv := map[string]any{"options": m.options, "tables": m.tables}
	for i, ch := range spec.Checks {
		p, err := c.compile(ch.Expr, checkEnv, kindBool)
		if err != nil {
			return nil, at(err, "checks", i, "expr")
		}
		if slices.ContainsFunc(p.options, func(o string) bool { return unset[o] }) {
			continue
		}
		ok, err := p.run(checkEnv)
		if err != nil {
			return nil, at(err, "checks", i, "expr")
		}
		if ok != true {
			msg := ch.Message
			if msg == "" {
				msg = "does not hold: " + ch.Expr
			}
			return nil, at(errors.New(msg), "checks", i)
		}
	}

	env := c.baseEnv()

	// Fields, in order: each sees only the fields before it.
	m.fieldIndex = map[string]int{}
	for i, fs := range spec.Fields {
		if _, dup := m.fieldIndex[fs.Name]; dup {
			return nil, at(fmt.Errorf("field %q is declared twice", fs.Name), "fields", i, "name")
		}
		f := field{name: fs.Name, def: fs.Default, required: fs.Required, typ: cmp.Or(fs.Type, TypeText),
			maxLen: cmp.Or(fs.MaxLength, DefaultMaxLength), secret: fs.Secret}
		if f.typ == TypePhone || f.typ == TypeSender {
			f.phone = cfg.Phone
			if f.typ == TypePhone {
				f.assume = cmp.Or(routeAssume, fs.Assume)
				if f.assume != "" && cfg.PhoneFor != nil {
					if n := cfg.PhoneFor(f.assume); n != nil {
						f.phone = n
					}
				}
			}
			if f.phone == nil {
				return nil, at(errors.New("has type "+f.typ+" but no phone normalizer is configured"), "fields", i, "type")
			}
		}
		if fs.Pattern != "" {
			re, err := regexp.Compile("^(?:" + fs.Pattern + ")$")
			if err != nil {
				return nil, at(err, "fields", i, "pattern")
			}
			f.pattern = re
		}
		srcs := fs.From
		over, overridden := cfg.Fields[fs.Name]
		if overridden {
			srcs = over
		}
		for j, s := range srcs {
			src, err := compileSource(s)
			if err == nil {
				if name, ok := strings.CutPrefix(s, "path:"); ok && (m.path == nil || !strings.Contains(m.path.pattern, "{"+name+"}")) {
					err = fmt.Errorf("source %q: request.path has no {%s}", s, name)
				}
			}
			if err != nil {
				if overridden {
					return nil, routeErr(fmt.Errorf("the route's sources for field %q: %w", fs.Name, err))
				}
				return nil, at(err, "fields", i, "from", j)
			}
			m.needsBasic = m.needsBasic || src.basic
			f.sources = append(f.sources, src)
		}
		if fs.Value != "" {
			p, err := c.compile(fs.Value, env, kindAny)
			if err != nil {
				return nil, at(err, "fields", i, "value")
			}
			f.value = p
		}
		if len(f.sources) == 0 && f.value == nil && f.def == "" && f.required {
			return nil, at(fmt.Errorf("field %q is required but has no from, value or default", fs.Name), "fields", i)
		}
		env = withField(env, fs.Name)
		m.fieldIndex[fs.Name] = len(m.fields)
		m.fields = append(m.fields, f)
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Fields)) {
		if _, ok := m.fieldIndex[name]; !ok {
			return nil, routeErr(fmt.Errorf("the route sets sources for field %q, which the mapping does not have", name))
		}
	}
	m.envSize = len(env) + 1

	// Twilio parameters: the schema knows which each API takes.
	if spec.Twilio.API != "" {
		p, err := c.compile(spec.Twilio.API, env, kindAny)
		if err != nil {
			return nil, at(err, "twilio", "api")
		}
		m.api = p
	}
	m.params = map[twilio.API][]param{}
	for _, api := range []twilio.API{twilio.Messages, twilio.Calls, twilio.Studio} {
		ps := map[twilio.API]map[string]string{twilio.Messages: spec.Twilio.Messages, twilio.Calls: spec.Twilio.Calls, twilio.Studio: spec.Twilio.Studio}[api]
		if ps == nil {
			continue
		}
		list := []param{}
		for _, name := range slices.Sorted(maps.Keys(ps)) {
			p, err := c.compile(ps[name], env, kindAny)
			if err != nil {
				return nil, at(err, "twilio", string(api), name)
			}
			list = append(list, param{name: name, prog: p})
		}
		m.params[api] = list
	}
	m.feeds = map[twilio.API]map[string]string{}
	for api, list := range m.params {
		m.feeds[api] = feedsOf(list)
	}

	// Replies see every field plus result.
	renv := maps.Clone(env)
	renv["result"] = &Result{}
	top := level{path: Path{"reply", "defaults"}, rc: spec.Reply.Defaults}
	if m.success, err = c.compileCases(spec.Reply.Success, top, renv, "success", "200"); err != nil {
		return nil, err
	}
	if m.failure, err = c.compileCases(spec.Reply.Failure, top, renv, "failure", "result.suggested_status"); err != nil {
		return nil, err
	}
	if !spec.Reply.Invalid.IsZero() {
		if m.invalid, err = c.compileCases(spec.Reply.Invalid, top, renv, "invalid", "result.suggested_status"); err != nil {
			return nil, err
		}
	} else {
		m.invalid = m.failure
	}
	return m, nil
}

// Name is the mapping's name.
func (m *Mapping) Name() string { return m.name }

// File is where the mapping came from ("builtin:pingone" or a path).
func (m *Mapping) File() string { return m.file }

// MaxBodyBytes is the inbound body cap.
func (m *Mapping) MaxBodyBytes() int64 { return m.maxBody }

// Supports reports whether the mapping defines parameters for api.
func (m *Mapping) Supports(api twilio.API) bool { _, ok := m.params[api]; return ok }

// HasField reports whether the mapping declares a field.
func (m *Mapping) HasField(name string) bool { _, ok := m.fieldIndex[name]; return ok }

// FieldAssume is the assumption a phone field reads numbers with: the
// route's Config.Assume, else the field's "assume" setting, else "" (auto).
// It is "" for other fields and unknown names.
func (m *Mapping) FieldAssume(name string) string {
	if i, ok := m.fieldIndex[name]; ok {
		return m.fields[i].assume
	}
	return ""
}

// SecretField reports whether a field is marked secret.
func (m *Mapping) SecretField(name string) bool {
	i, ok := m.fieldIndex[name]
	return ok && m.fields[i].secret
}

// Options returns the effective options (declared defaults plus overrides).
func (m *Mapping) Options() map[string]string { return maps.Clone(m.options) }

type replyCase struct {
	where       string
	when        *program
	status      *program
	contentType string
	headers     []header
	format      string
	root        string
	body        *node
	// size is the length of the case's last body, a hint for the next one.
	size *atomic.Int32
}

type header struct {
	name string
	prog *program
}

// Reply body formats.
const (
	ReplyJSON   = "json"
	ReplyXML    = "xml"
	ReplyText   = "text"
	ReplyForm   = "form"
	ReplyTwilio = "twilio"
	ReplyEmpty  = "empty"
)

// level is one place a reply case's keys may come from: the case itself, its
// group's defaults or the reply's defaults.
type level struct {
	path Path
	rc   *ReplyCase
}

// compileCases compiles one reply's cases, each merged with its group's
// defaults and the reply's (top): a key the case does not set comes from
// the nearest defaults that do; headers merge name by name. Errors name the
// place the key was written.
func (c *compiler) compileCases(cases Cases, top level, env map[string]any, which, defStatus string) ([]replyCase, error) {
	group := level{path: Path{"reply", which, "defaults"}, rc: cases.Defaults}
	var out []replyCase
	for i := range cases.List {
		rc := &cases.List[i]
		path := Path{"reply", which, i}
		if cases.Defaults != nil || cases.Group {
			path = Path{"reply", which, "cases", i}
		}
		levels := []level{{path, rc}, group, top}
		from := func(has func(*ReplyCase) bool) level {
			for _, l := range levels {
				if l.rc != nil && has(l.rc) {
					return l
				}
			}
			return levels[0]
		}
		fail := func(err error, l level, part ...any) error { return at(err, append(slices.Clone(l.path), part...)...) }
		st := from(func(r *ReplyCase) bool { return r.Status != "" })
		ct := from(func(r *ReplyCase) bool { return r.ContentType != "" })
		fm := from(func(r *ReplyCase) bool { return r.Format != "" })
		rt := from(func(r *ReplyCase) bool { return r.Root != "" })
		bd := from(func(r *ReplyCase) bool { return len(bytes.TrimSpace(r.Body)) > 0 })
		cc := replyCase{where: path.String(), format: cmp.Or(fm.rc.Format, ReplyJSON), root: rt.rc.Root, contentType: ct.rc.ContentType, size: new(atomic.Int32)}
		if rc.When != "" {
			p, err := c.compile(rc.When, env, kindBool)
			if err != nil {
				return nil, fail(err, levels[0], "when")
			}
			cc.when = p
		}
		p, err := c.compile(cmp.Or(st.rc.Status, defStatus), env, kindInt)
		if err != nil {
			return nil, fail(err, st, "status")
		}
		cc.status = p
		headers := map[string]level{} // canonical name: where it is written
		names := map[string]string{}  // canonical name: as written there
		for j := len(levels) - 1; j >= 0; j-- {
			if levels[j].rc == nil {
				continue
			}
			for name := range levels[j].rc.Headers {
				headers[http.CanonicalHeaderKey(name)], names[http.CanonicalHeaderKey(name)] = levels[j], name
			}
		}
		for _, canon := range slices.Sorted(maps.Keys(headers)) {
			l, name := headers[canon], names[canon]
			hp, err := c.compile(l.rc.Headers[name], env, kindAny)
			if err != nil {
				return nil, fail(err, l, "headers", name)
			}
			cc.headers = append(cc.headers, header{name: canon, prog: hp})
		}
		body := bd.rc.Body
		bodyPath := append(slices.Clone(bd.path), "body")
		switch cc.format {
		case ReplyJSON, ReplyForm, ReplyXML, ReplyTwilio:
			if cc.body, err = c.compileTree(body, env, bodyPath); err != nil {
				return nil, err
			}
		case ReplyText:
			if len(bytes.TrimSpace(body)) == 0 {
				return nil, fail(errors.New("format text needs a body: an expression (set it here or in the defaults)"), levels[0])
			}
			var src string
			if err := json.Unmarshal(body, &src); err != nil {
				return nil, fail(errors.New("must be an expression (a string) for format text"), bd, "body")
			}
			p, err := c.compile(src, env, kindAny)
			if err != nil {
				return nil, fail(err, bd, "body")
			}
			cc.body = &node{kind: nodeExpr, prog: p}
		}
		if err := cc.checkMerged(levels[0], rt, bd); err != nil {
			return nil, err
		}
		if cc.format == ReplyTwilio {
			cc.root = cmp.Or(cc.root, "json")
		}
		out = append(out, cc)
	}
	return out, nil
}

// checkMerged checks what the schema checks in one case object, on the case
// merged with its defaults: xml has a root element and an object body,
// form an object of values, twilio a root of json or xml and an object or
// expression body.
func (cc *replyCase) checkMerged(own, rt, bd level) error {
	bodyPath := append(slices.Clone(bd.path), "body")
	kindIs := func(kinds ...int) bool { return cc.body == nil || slices.Contains(kinds, cc.body.kind) }
	switch cc.format {
	case ReplyXML:
		if cc.root == "" {
			return at(errors.New("format xml needs root, the root element's name (set it here or in the defaults)"), own.path...)
		}
		if !xmlNameRE.MatchString(cc.root) {
			return at(fmt.Errorf("%q is not a valid XML name", cc.root), append(slices.Clone(rt.path), "root")...)
		}
		if !kindIs(nodeObject) {
			return at(errors.New("must be an object for format xml"), bodyPath...)
		}
		return cc.body.checkXMLNames(bodyPath)
	case ReplyForm:
		if !kindIs(nodeObject) {
			return at(errors.New("must be an object for format form"), bodyPath...)
		}
		if cc.body != nil {
			for i, ch := range cc.body.children {
				if ch.kind != nodeExpr && ch.kind != nodeLiteral {
					return at(errors.New("must be a value for format form"), append(bodyPath, cc.body.keys[i])...)
				}
			}
		}
	case ReplyTwilio:
		if cc.root != "" && cc.root != "json" && cc.root != "xml" {
			return at(fmt.Errorf("root %q: format twilio takes json or xml", cc.root), append(slices.Clone(rt.path), "root")...)
		}
		if !kindIs(nodeObject, nodeExpr) {
			return at(errors.New("must be an object or an expression for format twilio"), bodyPath...)
		}
	}
	return nil
}

// node is a compiled JSON/XML body template.
type node struct {
	kind     int
	keys     []string
	children []*node
	prog     *program
	literal  []byte
}

const (
	nodeObject = iota
	nodeArray
	nodeExpr
	nodeLiteral
)

// checkXMLNames checks that an xml body's keys are XML names (attributes
// "@name" too) and that attributes are values; path is the body's.
func (n *node) checkXMLNames(path Path) error {
	if n == nil {
		return nil
	}
	for i, k := range n.keys {
		p := append(slices.Clone(path), k)
		if !xmlNameRE.MatchString(strings.TrimPrefix(k, "@")) {
			return &ConfigError{Path: p, Key: true, Err: fmt.Errorf("%q is not a valid XML name", k)}
		}
		if strings.HasPrefix(k, "@") && n.children[i].kind != nodeExpr && n.children[i].kind != nodeLiteral {
			return at(fmt.Errorf("attribute %q must be a value", k), p...)
		}
		if err := n.children[i].checkXMLNames(p); err != nil {
			return err
		}
	}
	return nil
}

var xmlNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// compileTree reads a JSON template keeping key order: string leaves are
// expressions, other scalars are literals. path is the template's, for errors.
func (c *compiler) compileTree(raw json.RawMessage, env map[string]any, path Path) (*node, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	n, err := c.readNode(dec, env, path)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, at(errors.New("unexpected data after the body"), path...)
	}
	return n, nil
}

func (c *compiler) readNode(dec *json.Decoder, env map[string]any, path Path) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, at(err, path...)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: nodeObject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, at(err, path...)
				}
				key := kt.(string)
				p := append(slices.Clone(path), key)
				if slices.Contains(n.keys, key) {
					return nil, &ConfigError{Path: p, Key: true, Err: fmt.Errorf("key %q appears twice", key)}
				}
				ch, err := c.readNode(dec, env, p)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.children = append(n.children, ch)
			}
			_, err := dec.Token() // }
			return n, err
		case '[':
			n := &node{kind: nodeArray}
			for i := 0; dec.More(); i++ {
				ch, err := c.readNode(dec, env, append(slices.Clone(path), i))
				if err != nil {
					return nil, err
				}
				n.children = append(n.children, ch)
			}
			_, err := dec.Token() // ]
			return n, err
		}
	case string:
		p, err := c.compile(t, env, kindAny)
		if err != nil {
			return nil, at(err, path...)
		}
		return &node{kind: nodeExpr, prog: p}, nil
	}
	lit, err := json.Marshal(tok)
	if err != nil {
		return nil, at(err, path...)
	}
	return &node{kind: nodeLiteral, literal: lit}, nil
}

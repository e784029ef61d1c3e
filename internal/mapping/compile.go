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
	success    []replyCase
	failure    []replyCase
	invalid    []replyCase
	options    map[string]string
	templates  map[string]string
	envSize    int
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

	c := &compiler{options: m.options, templates: m.templates, fallback: spec.TemplateFallback}
	c.funcs = c.functions()

	// Checks see the effective options only, and run once, here.
	for i, ch := range spec.Checks {
		p, err := c.compile(ch.Expr, map[string]any{"options": m.options}, kindBool)
		if err != nil {
			return nil, at(err, "checks", i, "expr")
		}
		ok, err := p.run(map[string]any{"options": m.options})
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

	// Replies see every field plus result.
	renv := maps.Clone(env)
	renv["result"] = &Result{}
	var err error
	if m.success, err = c.compileCases(spec.Reply.Success, renv, "success", "200"); err != nil {
		return nil, err
	}
	if m.failure, err = c.compileCases(spec.Reply.Failure, renv, "failure", "result.suggested_status"); err != nil {
		return nil, err
	}
	if len(spec.Reply.Invalid) > 0 {
		if m.invalid, err = c.compileCases(spec.Reply.Invalid, renv, "invalid", "result.suggested_status"); err != nil {
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

func (c *compiler) compileCases(cases Cases, env map[string]any, which, defStatus string) ([]replyCase, error) {
	var out []replyCase
	for i, rc := range cases {
		path := Path{"reply", which, i}
		fail := func(err error, part ...any) error { return at(err, append(slices.Clone(path), part...)...) }
		cc := replyCase{where: path.String(), format: cmp.Or(rc.Format, ReplyJSON), root: rc.Root, contentType: rc.ContentType}
		if rc.When != "" {
			p, err := c.compile(rc.When, env, kindBool)
			if err != nil {
				return nil, fail(err, "when")
			}
			cc.when = p
		}
		p, err := c.compile(cmp.Or(rc.Status, defStatus), env, kindInt)
		if err != nil {
			return nil, fail(err, "status")
		}
		cc.status = p
		for _, name := range slices.Sorted(maps.Keys(rc.Headers)) {
			hp, err := c.compile(rc.Headers[name], env, kindAny)
			if err != nil {
				return nil, fail(err, "headers", name)
			}
			cc.headers = append(cc.headers, header{name: http.CanonicalHeaderKey(name), prog: hp})
		}
		switch cc.format {
		case ReplyJSON, ReplyForm, ReplyXML, ReplyTwilio:
			if cc.body, err = c.compileTree(rc.Body, env, append(slices.Clone(path), "body")); err != nil {
				return nil, err
			}
			if cc.format == ReplyXML {
				if err := cc.body.checkXMLNames(append(slices.Clone(path), "body")); err != nil {
					return nil, err
				}
			}
			if cc.format == ReplyTwilio {
				cc.root = cmp.Or(cc.root, "json")
			}
		case ReplyText:
			var src string
			if err := json.Unmarshal(rc.Body, &src); err != nil {
				return nil, fail(err, "body")
			}
			p, err := c.compile(src, env, kindAny)
			if err != nil {
				return nil, fail(err, "body")
			}
			cc.body = &node{kind: nodeExpr, prog: p}
		}
		out = append(out, cc)
	}
	return out, nil
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

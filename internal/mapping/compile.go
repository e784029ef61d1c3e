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

var (
	identRE   = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	xmlNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	headerRE  = regexp.MustCompile(`^[A-Za-z0-9-]+$`)
	reserved  = map[string]bool{"options": true, "route": true, "request": true, "result": true}
)

// twilioParams are the form parameters each API accepts (from Twilio's OpenAPI
// spec), so a typo such as "Boddy" fails at provisioning. From and
// MessagingServiceSid are left out on purpose: the route's sender settings own them.
var twilioParams = map[twilio.API][]string{
	twilio.Messages: {"To", "Body", "MediaUrl", "ContentSid", "ContentVariables", "StatusCallback",
		"ApplicationSid", "MaxPrice", "ProvideFeedback", "Attempt", "ValidityPeriod", "ForceDelivery",
		"ContentRetention", "AddressRetention", "SmartEncoded", "PersistentAction", "TrafficType",
		"ShortenUrls", "ScheduleType", "SendAt", "SendAsMms", "RiskCheck", "FallbackFrom"},
	twilio.Calls: {"To", "Url", "Twiml", "ApplicationSid", "Method", "FallbackUrl", "FallbackMethod",
		"StatusCallback", "StatusCallbackEvent", "StatusCallbackMethod", "SendDigits", "Timeout",
		"Record", "MachineDetection", "MachineDetectionTimeout", "TimeLimit", "CallerId", "CallReason", "Trim"},
	twilio.Studio: {"To", "Parameters"},
}

// Compile checks and compiles a parsed mapping for one route. file names the
// mapping in errors ("builtin:pingone" or a path).
func Compile(spec *Spec, file string, cfg Config) (*Mapping, error) {
	errAt := func(where string, err error) error {
		return &ConfigError{File: file, Where: where, Err: err}
	}
	m := &Mapping{name: spec.Name, file: file, maxBody: spec.Request.MaxBodyBytes}
	if m.name == "" {
		m.name = file
	}
	if m.maxBody == 0 {
		m.maxBody = DefaultMaxBodyBytes
	}
	if m.maxBody < 0 || m.maxBody > 10<<20 {
		return nil, errAt("request.max_body_bytes", errors.New("must be between 1 and 10485760"))
	}
	routeAssume := strings.ToLower(cfg.Assume)
	if !ValidAssume(routeAssume) {
		return nil, errAt("assume", fmt.Errorf("the route's assume %q is not %q or %q", cfg.Assume, AssumeInternational, AssumeNational))
	}

	m.methods = slices.Clone(spec.Request.Methods) // the spec may be compiled again
	if len(m.methods) == 0 {
		m.methods = []string{http.MethodPost}
	}
	for i, meth := range m.methods {
		m.methods[i] = strings.ToUpper(meth)
		switch m.methods[i] {
		case http.MethodGet, http.MethodPost, http.MethodPut:
		default:
			return nil, errAt("request.methods", fmt.Errorf("method %q is not supported (GET, POST, PUT)", meth))
		}
	}
	m.format = spec.Request.Format
	if m.format == "" {
		m.format = FormatAuto
	}
	switch m.format {
	case FormatAuto, FormatForm, FormatJSON, FormatXML, FormatText, FormatNone:
	default:
		return nil, errAt("request.format", fmt.Errorf("unknown format %q (auto, form, json, xml, text, none)", m.format))
	}
	if spec.Request.Path != "" {
		pp, err := compilePath(spec.Request.Path)
		if err != nil {
			return nil, errAt("request.path", err)
		}
		m.path = pp
	}

	// Options and templates: declared defaults, then the route's overrides.
	m.options = maps.Clone(spec.Options)
	if m.options == nil {
		m.options = map[string]string{}
	}
	for k, v := range cfg.Options {
		if _, ok := m.options[k]; !ok {
			return nil, errAt("option "+k, fmt.Errorf("the mapping declares no option %q (it has: %s)", k, strings.Join(slices.Sorted(maps.Keys(m.options)), ", ")))
		}
		m.options[k] = v
	}
	m.templates = maps.Clone(spec.Templates)
	if m.templates == nil {
		m.templates = map[string]string{}
	}
	maps.Copy(m.templates, cfg.Templates)
	if spec.TemplateFallback != "" {
		if _, ok := m.templates[spec.TemplateFallback]; !ok {
			return nil, errAt("template_fallback", fmt.Errorf("no template %q", spec.TemplateFallback))
		}
	}
	for key, text := range m.templates {
		have := placeholders(text)
		for _, need := range spec.TemplateRequires {
			if !have[need] {
				return nil, errAt("template "+key, fmt.Errorf("must contain {{%s}}", need))
			}
		}
	}

	c := &compiler{options: m.options, templates: m.templates, fallback: spec.TemplateFallback}
	c.funcs = c.functions()

	// Checks see the effective options only, and run once, here.
	for i, ch := range spec.Checks {
		where := fmt.Sprintf("checks[%d]", i)
		p, err := c.compile(ch.Expr, map[string]any{"options": m.options}, kindBool)
		if err != nil {
			return nil, errAt(where, err)
		}
		ok, err := p.run(map[string]any{"options": m.options})
		if err != nil {
			return nil, errAt(where, err)
		}
		if ok != true {
			msg := ch.Message
			if msg == "" {
				msg = "does not hold: " + ch.Expr
			}
			return nil, errAt(where, errors.New(msg))
		}
	}

	env := c.baseEnv()

	// Fields, in order: each sees only the fields before it.
	m.fieldIndex = map[string]int{}
	for i, fs := range spec.Fields {
		where := fmt.Sprintf("field %q", fs.Name)
		if !identRE.MatchString(fs.Name) || reserved[fs.Name] {
			return nil, errAt(fmt.Sprintf("fields[%d].name", i), fmt.Errorf("%q must be an identifier ([a-z_][a-z0-9_]*) and not options, route, request or result", fs.Name))
		}
		if _, dup := m.fieldIndex[fs.Name]; dup {
			return nil, errAt(where, errors.New("is declared twice"))
		}
		f := field{name: fs.Name, def: fs.Default, required: fs.Required, typ: fs.Type, maxLen: fs.MaxLength, secret: fs.Secret}
		if f.typ == "" {
			f.typ = TypeText
		}
		switch f.typ {
		case TypeText, TypeDigits, TypeJSON, TypePhone, TypeSender:
		default:
			return nil, errAt(where, fmt.Errorf("unknown type %q (text, phone, sender, digits, json)", f.typ))
		}
		if fs.Assume != "" {
			at := &ConfigError{File: file, Pos: valuePos(spec.src, "fields", fmt.Sprint(i), "assume"), Where: where + ".assume"}
			switch {
			case f.typ != TypePhone:
				at.Err = fmt.Errorf("only a field of type \"phone\" takes assume (this one is %q)", f.typ)
				return nil, at
			case !ValidAssume(fs.Assume):
				at.Err = fmt.Errorf("unknown value %q (%s or %s)", fs.Assume, AssumeInternational, AssumeNational)
				return nil, at
			}
		}
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
				return nil, errAt(where, errors.New("has type "+f.typ+" but no phone normalizer is configured"))
			}
		}
		if f.maxLen == 0 {
			f.maxLen = DefaultMaxLength
		}
		if f.maxLen < 0 || f.maxLen > 1<<20 {
			return nil, errAt(where+".max_length", errors.New("must be between 1 and 1048576"))
		}
		if fs.Pattern != "" {
			re, err := regexp.Compile("^(?:" + fs.Pattern + ")$")
			if err != nil {
				return nil, errAt(where+".pattern", err)
			}
			f.pattern = re
		}
		srcs := fs.From
		if over, ok := cfg.Fields[fs.Name]; ok {
			srcs = over
		}
		for j, s := range srcs {
			src, err := compileSource(s)
			if err != nil {
				return nil, errAt(fmt.Sprintf("%s.from[%d]", where, j), err)
			}
			if name, ok := strings.CutPrefix(s, "path:"); ok && (m.path == nil || !strings.Contains(m.path.pattern, "{"+name+"}")) {
				return nil, errAt(fmt.Sprintf("%s.from[%d]", where, j), fmt.Errorf("request.path has no {%s}", name))
			}
			m.needsBasic = m.needsBasic || src.basic
			f.sources = append(f.sources, src)
		}
		if fs.Value != "" {
			p, err := c.compile(fs.Value, env, kindAny)
			if err != nil {
				return nil, errAt(where+".value", err)
			}
			f.value = p
		}
		if len(f.sources) == 0 && f.value == nil && f.def == "" && f.required {
			return nil, errAt(where, errors.New("is required but has no from, value or default"))
		}
		env = withField(env, fs.Name)
		m.fieldIndex[fs.Name] = len(m.fields)
		m.fields = append(m.fields, f)
	}
	for name := range cfg.Fields {
		if _, ok := m.fieldIndex[name]; !ok {
			return nil, errAt("field "+name, errors.New("the mapping has no such field"))
		}
	}
	m.envSize = len(env) + 1

	// Twilio parameters.
	if spec.Twilio.API != "" {
		p, err := c.compile(spec.Twilio.API, env, kindAny)
		if err != nil {
			return nil, errAt("twilio.api", err)
		}
		m.api = p
	}
	m.params = map[twilio.API][]param{}
	for api, ps := range map[twilio.API]map[string]string{twilio.Messages: spec.Twilio.Messages, twilio.Calls: spec.Twilio.Calls, twilio.Studio: spec.Twilio.Studio} {
		if ps == nil {
			continue
		}
		list := []param{}
		for _, name := range slices.Sorted(maps.Keys(ps)) {
			where := fmt.Sprintf("twilio.%s.%s", api, name)
			if name == "From" || name == "MessagingServiceSid" {
				return nil, errAt(where, errors.New("is set by the route's sender settings (from, messaging_service_sid, senders), not by the mapping"))
			}
			if !slices.Contains(twilioParams[api], name) {
				return nil, errAt(where, fmt.Errorf("is not a parameter of Twilio's %s API", api))
			}
			p, err := c.compile(ps[name], env, kindAny)
			if err != nil {
				return nil, errAt(where, err)
			}
			list = append(list, param{name: name, prog: p})
		}
		if !slices.ContainsFunc(list, func(p param) bool { return p.name == "To" }) {
			return nil, errAt("twilio."+string(api), errors.New("must set To"))
		}
		m.params[api] = list
	}
	if len(m.params) == 0 {
		return nil, errAt("twilio", errors.New("must define at least one of messages, calls or studio"))
	}

	// Replies see every field plus result.
	renv := maps.Clone(env)
	renv["result"] = &Result{}
	var err error
	if m.success, err = c.compileCases(spec.Reply.Success, renv, "reply.success", "200"); err != nil {
		return nil, errAt("", err)
	}
	if m.failure, err = c.compileCases(spec.Reply.Failure, renv, "reply.failure", "result.suggested_status"); err != nil {
		return nil, errAt("", err)
	}
	if len(m.success) == 0 || len(m.failure) == 0 {
		return nil, errAt("reply", errors.New("needs both success and failure"))
	}
	if len(spec.Reply.Invalid) > 0 {
		if m.invalid, err = c.compileCases(spec.Reply.Invalid, renv, "reply.invalid", "result.suggested_status"); err != nil {
			return nil, errAt("", err)
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

func (c *compiler) compileCases(cases Cases, env map[string]any, where, defStatus string) ([]replyCase, error) {
	var out []replyCase
	for i, rc := range cases {
		w := fmt.Sprintf("%s[%d]", where, i)
		fail := func(part string, err error) error { return fmt.Errorf("%s%s: %w", w, part, err) }
		cc := replyCase{where: w, format: rc.Format, root: rc.Root, contentType: rc.ContentType}
		if rc.When != "" {
			p, err := c.compile(rc.When, env, kindBool)
			if err != nil {
				return nil, fail(".when", err)
			}
			cc.when = p
		}
		st := rc.Status
		if st == "" {
			st = defStatus
		}
		p, err := c.compile(st, env, kindInt)
		if err != nil {
			return nil, fail(".status", err)
		}
		cc.status = p
		for _, name := range slices.Sorted(maps.Keys(rc.Headers)) {
			if !headerRE.MatchString(name) {
				return nil, fail(".headers", fmt.Errorf("%q is not a valid header name", name))
			}
			hp, err := c.compile(rc.Headers[name], env, kindAny)
			if err != nil {
				return nil, fail(".headers."+name, err)
			}
			cc.headers = append(cc.headers, header{name: http.CanonicalHeaderKey(name), prog: hp})
		}
		if cc.format == "" {
			cc.format = ReplyJSON
		}
		switch cc.format {
		case ReplyJSON, ReplyForm:
			if cc.body, err = c.compileTree(rc.Body, env); err != nil {
				return nil, fail(".body", err)
			}
			if cc.format == ReplyForm && cc.body != nil && !cc.body.flatObject() {
				return nil, fail(".body", errors.New("a form body must be an object of expressions"))
			}
		case ReplyXML:
			if !xmlNameRE.MatchString(cc.root) {
				return nil, fail(".root", fmt.Errorf("%q is not a valid XML element name", cc.root))
			}
			if cc.body, err = c.compileTree(rc.Body, env); err != nil {
				return nil, fail(".body", err)
			}
			if cc.body != nil && cc.body.kind != nodeObject {
				return nil, fail(".body", errors.New("an xml body must be an object"))
			}
			if err := cc.body.checkXMLNames(); err != nil {
				return nil, fail(".body", err)
			}
		case ReplyText:
			var src string
			if err := json.Unmarshal(rc.Body, &src); err != nil {
				return nil, fail(".body", errors.New("a text body must be one expression string"))
			}
			p, err := c.compile(src, env, kindAny)
			if err != nil {
				return nil, fail(".body", err)
			}
			cc.body = &node{kind: nodeExpr, prog: p}
		case ReplyTwilio:
			if cc.root == "" {
				cc.root = "json"
			}
			if cc.root != "json" && cc.root != "xml" {
				return nil, fail(".root", errors.New(`format twilio takes root "json" or "xml"`))
			}
			if cc.body, err = c.compileTree(rc.Body, env); err != nil {
				return nil, fail(".body", err)
			}
			if cc.body != nil && cc.body.kind != nodeObject && cc.body.kind != nodeExpr {
				return nil, fail(".body", errors.New("a twilio body must be an object, or one expression giving a map"))
			}
		case ReplyEmpty:
		default:
			return nil, fail(".format", fmt.Errorf("unknown format %q (json, xml, text, form, twilio, empty)", cc.format))
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

func (n *node) flatObject() bool {
	if n.kind != nodeObject {
		return false
	}
	for _, ch := range n.children {
		if ch.kind != nodeExpr && ch.kind != nodeLiteral {
			return false
		}
	}
	return true
}

func (n *node) checkXMLNames() error {
	if n == nil {
		return nil
	}
	for i, k := range n.keys {
		name := strings.TrimPrefix(k, "@")
		if !xmlNameRE.MatchString(name) {
			return fmt.Errorf("%q is not a valid XML name", k)
		}
		if strings.HasPrefix(k, "@") && n.children[i].kind != nodeExpr && n.children[i].kind != nodeLiteral {
			return fmt.Errorf("attribute %q must be a value", k)
		}
		if err := n.children[i].checkXMLNames(); err != nil {
			return err
		}
	}
	return nil
}

// compileTree reads a JSON template keeping key order: string leaves are
// expressions, other scalars are literals.
func (c *compiler) compileTree(raw json.RawMessage, env map[string]any) (*node, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	n, err := c.readNode(dec, env, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the body")
	}
	return n, nil
}

func (c *compiler) readNode(dec *json.Decoder, env map[string]any, path string) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: nodeObject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key := kt.(string)
				if slices.Contains(n.keys, key) {
					return nil, fmt.Errorf("key %q appears twice", path+key)
				}
				ch, err := c.readNode(dec, env, path+key+".")
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
			for dec.More() {
				ch, err := c.readNode(dec, env, path+"[].")
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
			return nil, fmt.Errorf("%s: %w", strings.TrimSuffix(path, "."), err)
		}
		return &node{kind: nodeExpr, prog: p}, nil
	}
	lit, err := json.Marshal(tok)
	if err != nil {
		return nil, err
	}
	return &node{kind: nodeLiteral, literal: lit}, nil
}

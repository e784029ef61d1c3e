// Package schema holds the mapping file schema, mappings/schema.json (JSON
// Schema draft 2020-12): the only description of a mapping file's shape.
//
// Validate checks a document against it and reports each violation with the
// structured path of the part at fault, in the words of the mapping file
// reference; package mapping runs it on every file it loads (for `caddy run`
// and `caddy twilio-sms check` alike) and turns paths into line and column.
// Reference renders the schema's titles and descriptions as Markdown
// (mappings/REFERENCE.md, written by go generate). The package knows nothing
// of compiling: expressions, regular expressions and references between
// fields are package mapping's.
package schema

//go:generate go run genreference.go ../../mappings/REFERENCE.md

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/mappings"
)

// ID is the schema's $id.
const ID = "https://github.com/twilio-sms-adapter/caddy-twilio-sms/mappings/schema.json"

// A Violation is one way a document breaks the schema.
type Violation struct {
	// Path leads from the top of the document to the part at fault: object
	// keys (string) and array indexes (int); empty for the whole document.
	Path []any
	// Key is set when the fault is the name of Path's last key (an unknown
	// key, a key only some fields take), not its value.
	Key bool
	// Message says what is wrong, without the path.
	Message string
}

var loaded struct {
	once   sync.Once
	schema *jsonschema.Schema
	doc    map[string]any
	err    error
}

var printer = message.NewPrinter(language.English)

func compiled() (*jsonschema.Schema, map[string]any, error) {
	loaded.once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Source()))
		if err != nil {
			loaded.err = fmt.Errorf("mappings/schema.json: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource(ID, doc); err != nil {
			loaded.err = fmt.Errorf("mappings/schema.json: %w", err)
			return
		}
		loaded.schema, loaded.err = c.Compile(ID)
		loaded.doc, _ = doc.(map[string]any)
	})
	return loaded.schema, loaded.doc, loaded.err
}

// Source returns the schema document itself.
func Source() []byte {
	data, _ := fs.ReadFile(mappings.FS, "schema.json")
	return data
}

// Validate checks a mapping document, which must be standard JSON (package
// mapping turns comments into spaces first). It returns every violation, in
// no particular order; the error is for data that is not JSON or a broken
// schema, never for a document that breaks the schema.
func Validate(data []byte) ([]Violation, error) {
	sch, doc, err := compiled()
	if err != nil {
		return nil, err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil, nil
	}
	ve, ok := errors.AsType[*jsonschema.ValidationError](err)
	if !ok {
		return nil, err
	}
	r := reporter{inst: inst, doc: doc}
	r.walk(ve)
	return r.out, nil
}

// SourceKinds lists the kinds of field source the schema describes, in its
// order: of each alternative of $defs/source, the title up to its first ":"
// ("form:<key>" is kind form, "body" is kind body).
func SourceKinds() []string {
	var kinds []string
	for _, alt := range sourceAlternatives() {
		k, _, _ := strings.Cut(alt.title, ":")
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

type alternative struct{ title, description string }

func sourceAlternatives() []alternative {
	_, doc, _ := compiled()
	var out []alternative
	for _, a := range list(lookup(doc, "$defs", "source", "anyOf")) {
		m, _ := a.(map[string]any)
		t, _ := m["title"].(string)
		d, _ := m["description"].(string)
		out = append(out, alternative{t, d})
	}
	return out
}

type reporter struct {
	inst any
	doc  map[string]any
	out  []Violation
}

// add records a violation at the instance location tokens, plus key when the
// fault is that key's name.
func (r *reporter) add(tokens []string, key string, msg string) {
	p := r.path(tokens)
	if key != "" {
		p = append(p, key)
	}
	r.out = append(r.out, Violation{Path: p, Key: key != "", Message: msg})
}

// path turns instance location tokens into keys and indexes by walking the
// instance: a token is an index when it leads into an array.
func (r *reporter) path(tokens []string) []any {
	p := make([]any, 0, len(tokens)+1)
	cur := r.inst
	for _, t := range tokens {
		switch c := cur.(type) {
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				return append(p, t)
			}
			p, cur = append(p, i), c[i]
		case map[string]any:
			p, cur = append(p, t), c[t]
		default:
			p, cur = append(p, t), nil
		}
	}
	return p
}

// walk reports the leaves of the error tree, with messages rewritten where the
// schema's wording would not help. The words come from the schema itself (its
// titles, enums and required lists), so that nothing here repeats it.
func (r *reporter) walk(e *jsonschema.ValidationError) {
	kw := keywordLocation(e)
	if strings.Contains(kw, "/$defs/field/then/") {
		// The field has "assume" but its type is not phone (or is left out).
		tokens := e.InstanceLocation
		if _, ok := e.ErrorKind.(*kind.Const); ok && len(tokens) > 0 {
			tokens = tokens[:len(tokens)-1] // fields/N/type
		}
		then := r.schemaAt("#/$defs/field/then")
		want, _ := lookup(then, "properties", "type", "const").(string)
		r.add(tokens, "assume", fmt.Sprintf("only a field of type %q takes assume", want))
		return
	}
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		allowed := r.allowedKeys(kw)
		for _, key := range k.Properties {
			msg := fmt.Sprintf("unknown key %q", key)
			switch {
			case strings.HasSuffix(kw, "/properties/let/additionalProperties"), strings.HasSuffix(kw, "/properties/tables/additionalProperties"):
				what := kw[strings.LastIndex(strings.TrimSuffix(kw, "/additionalProperties"), "/")+1 : len(kw)-len("/additionalProperties")]
				what = strings.TrimSuffix(what, "s")
				msg = fmt.Sprintf("%q is not a valid %s name: it must be an identifier ([a-z_][a-z0-9_]*)", key, what)
				allowed = nil
			case key == "when" && strings.Contains(kw, "/$defs/reply_defaults/"):
				msg = `defaults take no "when": they apply to every case that does not set a key`
				allowed = nil
			case strings.Contains(kw, "/headers/"):
				msg = fmt.Sprintf("%q is not a valid header name", key)
				allowed = nil
			case strings.Contains(kw, "/$defs/twilio/properties/"):
				api := kw[strings.Index(kw, "/$defs/twilio/properties/")+len("/$defs/twilio/properties/"):]
				api, _, _ = strings.Cut(api, "/")
				msg = fmt.Sprintf("%q is not a parameter of Twilio's %s API", key, api)
				if key == "From" || key == "MessagingServiceSid" {
					msg += " here: the route's sender settings (from, messaging_service_sid, senders) set it"
					allowed = nil
				}
			}
			if len(allowed) > 0 {
				msg += " (allowed: " + strings.Join(allowed, ", ") + ")"
			}
			r.add(e.InstanceLocation, key, msg)
		}
		return
	case *kind.AnyOf:
		switch {
		case strings.HasSuffix(kw, "/$defs/twilio/anyOf"):
			var names []string
			for _, alt := range list(r.schemaAt(kw)) {
				for _, n := range list(lookup(alt, "required")) {
					names = append(names, fmt.Sprint(n))
				}
			}
			r.add(e.InstanceLocation, "", "must define at least one of "+orList(names))
			return
		case strings.HasSuffix(kw, "/$defs/source/anyOf"):
			r.add(e.InstanceLocation, "", sourceMessage(r.value(e.InstanceLocation)))
			return
		}
	case *kind.Not:
		if at := strings.TrimSuffix(kw, "/not"); strings.HasSuffix(at, "/$defs/field/properties/name") {
			var names []string
			for _, n := range list(lookup(r.schemaAt(at), "not", "enum")) {
				names = append(names, fmt.Sprint(n))
			}
			r.add(e.InstanceLocation, "", fmt.Sprintf("%q is a reserved name (%s)", r.value(e.InstanceLocation), andList(names)))
			return
		}
	case *kind.Pattern:
		if strings.HasSuffix(kw, "/$defs/field/properties/name/pattern") {
			r.add(e.InstanceLocation, "", fmt.Sprintf("%q must be an identifier (%s)", k.Got, strings.Trim(k.Want, "^$")))
			return
		}
		if title, _ := lookup(r.schemaAt(strings.TrimSuffix(kw, "/pattern")), "patternTitle").(string); title != "" {
			r.add(e.InstanceLocation, "", fmt.Sprintf("%q is not %s", k.Got, title))
			return
		}
		r.add(e.InstanceLocation, "", fmt.Sprintf("%q does not match %s", k.Got, k.Want))
		return
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = article(w)
		}
		r.add(e.InstanceLocation, "", fmt.Sprintf("must be %s, not %s", orList(want), article(k.Got)))
		return
	case *kind.Minimum:
		r.add(e.InstanceLocation, "", fmt.Sprintf("must be at least %s, not %s", k.Want.RatString(), k.Got.RatString()))
		return
	case *kind.Maximum:
		r.add(e.InstanceLocation, "", fmt.Sprintf("must be at most %s, not %s", k.Want.RatString(), k.Got.RatString()))
		return
	case *kind.MinItems:
		msg := fmt.Sprintf("must have at least %d items, not %d", k.Want, k.Got)
		if k.Want == 1 {
			msg = "must not be an empty list"
		}
		r.add(e.InstanceLocation, "", msg)
		return
	case *kind.Required:
		r.add(e.InstanceLocation, "", "missing "+quoteList(k.Missing))
		return
	}
	if len(e.Causes) == 0 {
		r.add(e.InstanceLocation, "", e.ErrorKind.LocalizedString(printer))
		return
	}
	for _, c := range e.Causes {
		r.walk(c)
	}
}

// sourceMessage explains a source string that matches no alternative of
// $defs/source: against its own kind's syntax when the kind is known.
func sourceMessage(v any) string {
	s, _ := v.(string)
	alts := sourceAlternatives()
	kind, _, _ := strings.Cut(s, ":")
	var syntax, withArg, bare []string
	for _, a := range alts {
		k, _, hasArg := strings.Cut(a.title, ":")
		if k == kind {
			syntax = append(syntax, a.title)
		}
		if hasArg {
			withArg = append(withArg, k)
		} else {
			bare = append(bare, strconv.Quote(k))
		}
	}
	if len(syntax) > 0 {
		return fmt.Sprintf("source %q must be %s", s, strings.Join(syntax, " or "))
	}
	return fmt.Sprintf(`source %q must be "kind:arg" with kind %s; or %s`, s, orList(withArg), orList(bare))
}

// value is the instance value at tokens.
func (r *reporter) value(tokens []string) any {
	cur := r.inst
	for _, t := range tokens {
		cur = child(cur, t)
	}
	return cur
}

// child is the member key of an object or the element at index key of an
// array, or nil.
func child(cur any, key string) any {
	switch c := cur.(type) {
	case map[string]any:
		return c[key]
	case []any:
		i, err := strconv.Atoi(key)
		if err != nil || i < 0 || i >= len(c) {
			return nil
		}
		return c[i]
	}
	return nil
}

// schemaAt returns the part of the schema document at a keyword location
// ("...schema.json#/$defs/twilio/anyOf").
func (r *reporter) schemaAt(kw string) any {
	_, frag, ok := strings.Cut(kw, "#")
	if !ok {
		return nil
	}
	var cur any = r.doc
	for p := range strings.SplitSeq(strings.TrimPrefix(frag, "/"), "/") {
		if p == "" {
			continue
		}
		cur = child(cur, unescape(p))
	}
	return cur
}

// allowedKeys lists the properties declared next to an additionalProperties keyword.
func (r *reporter) allowedKeys(kw string) []string {
	if !strings.HasSuffix(kw, "/additionalProperties") {
		return nil
	}
	props, _ := lookup(r.schemaAt(strings.TrimSuffix(kw, "/additionalProperties")), "properties").(map[string]any)
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func keywordLocation(e *jsonschema.ValidationError) string {
	if ref, ok := e.ErrorKind.(*kind.Reference); ok {
		return ref.URL
	}
	return strings.TrimSuffix(e.SchemaURL+"/"+strings.Join(e.ErrorKind.KeywordPath(), "/"), "/")
}

// lookup follows object keys from v.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any { l, _ := v.([]any); return l }

func article(s string) string {
	switch s {
	case "object", "array", "integer":
		return "an " + s
	case "string", "number", "boolean":
		return "a " + s
	}
	return s
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// orList joins "a, b or c".
func orList(s []string) string { return joinLast(s, " or ") }

// andList joins "a, b and c".
func andList(s []string) string { return joinLast(s, " and ") }

func joinLast(s []string, last string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + last + s[len(s)-1]
}

func unescape(t string) string {
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(t)
}

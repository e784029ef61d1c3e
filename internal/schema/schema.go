// Package schema validates mapping files against mappings/schema.json (JSON
// Schema draft 2020-12) and reports each problem with its line, column and the
// part of the file at fault, in the words of the mapping file reference.
//
// It complements mapping.Parse and mapping.Compile: the schema catches shape
// errors (unknown keys, wrong types, bad source strings) all at once and with
// positions; compiling catches what a schema cannot (expressions, regular
// expressions, references between fields).
package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
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

// Problem is one thing wrong in a mapping file.
type Problem struct {
	File string
	// Line and Col are 1-based (Col counts bytes); 0 when unknown.
	Line, Col int
	// Where names the part at fault as the mapping errors do: "fields[1].from[0]",
	// "twilio.messages.Boddy", "reply.success[0].status"; "" for the whole file.
	Where   string
	Message string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Col)
	}
	if p.Where != "" {
		b.WriteString(": " + p.Where)
	}
	b.WriteString(": " + p.Message)
	return b.String()
}

// Error lists every problem found in one file, in file order.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

var loaded struct {
	once   sync.Once
	schema *jsonschema.Schema
	doc    any
	err    error
}

var printer = message.NewPrinter(language.English)

func compiled() (*jsonschema.Schema, any, error) {
	loaded.once.Do(func() {
		data, err := fs.ReadFile(mappings.FS, "schema.json")
		if err != nil {
			loaded.err = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
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
		loaded.doc = doc
	})
	return loaded.schema, loaded.doc, loaded.err
}

// Source returns the schema document itself.
func Source() []byte {
	data, _ := fs.ReadFile(mappings.FS, "schema.json")
	return data
}

// Validate checks one mapping file. file names it in problems. The error is an
// *Error listing every problem, or a plain error when the schema itself is broken.
func Validate(file string, data []byte) error {
	sch, doc, err := compiled()
	if err != nil {
		return err
	}
	loc, problems := locate(file, data)
	if loc == nil {
		return &Error{Problems: problems}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return &Error{Problems: append(problems, Problem{File: file, Message: err.Error()})}
	}
	if err := sch.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		r := reporter{file: file, loc: loc, doc: doc}
		r.walk(ve)
		problems = append(problems, r.problems...)
	}
	if len(problems) == 0 {
		return nil
	}
	slices.SortStableFunc(problems, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
	problems = slices.CompactFunc(problems, func(a, b Problem) bool { return a == b })
	return &Error{Problems: problems}
}

type reporter struct {
	file     string
	loc      *locations
	doc      any
	problems []Problem
}

func (r *reporter) add(tokens []string, key string, msg string) {
	p := Problem{File: r.file, Where: where(tokens), Message: msg}
	off, ok := -1, false
	if key != "" {
		off, ok = r.loc.keys[pointer(append(slices.Clone(tokens), key))]
		p.Where = where(append(slices.Clone(tokens), key))
	}
	if !ok {
		off, ok = r.loc.values[pointer(tokens)]
	}
	if ok {
		p.Line, p.Col = lineCol(r.loc.data, off)
	}
	r.problems = append(r.problems, p)
}

// walk reports the leaves of the error tree, with messages rewritten where the
// schema's wording would not help (source strings, Twilio parameters, reserved names).
func (r *reporter) walk(e *jsonschema.ValidationError) {
	kw := keywordLocation(e)
	if strings.Contains(kw, "/$defs/field/then/") {
		// The field has "assume" but its type is not phone (or is left out).
		tokens := e.InstanceLocation
		if _, ok := e.ErrorKind.(*kind.Const); ok && len(tokens) > 0 {
			tokens = tokens[:len(tokens)-1] // fields/N/type
		}
		r.add(tokens, "assume", `only a field of type "phone" takes assume`)
		return
	}
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		allowed := r.allowedKeys(kw)
		for _, key := range k.Properties {
			msg := fmt.Sprintf("unknown key %q", key)
			switch {
			case strings.Contains(kw, "/headers/"):
				msg = fmt.Sprintf("%q is not a valid header name", key)
				allowed = nil
			case strings.Contains(kw, "/$defs/twilio/properties/"):
				api := kw[strings.Index(kw, "/$defs/twilio/properties/")+len("/$defs/twilio/properties/"):]
				api, _, _ = strings.Cut(api, "/")
				msg = fmt.Sprintf("%q is not a parameter of Twilio's %s API", key, api)
				if key == "From" || key == "MessagingServiceSid" {
					msg += " here: the route's sender settings (from, messaging_service_sid) set it"
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
		if strings.HasSuffix(kw, "/$defs/twilio/anyOf") {
			r.add(e.InstanceLocation, "", "must define at least one of messages, calls or studio")
			return
		}
	case *kind.Not:
		if strings.HasSuffix(kw, "/$defs/field/properties/name") {
			r.add(e.InstanceLocation, "", "options, route, request and result are reserved names")
			return
		}
	case *kind.Pattern:
		switch {
		case strings.HasSuffix(kw, "/$defs/source/pattern"):
			r.add(e.InstanceLocation, "", fmt.Sprintf(`source %q must be "kind:arg" with kind form, query, param, json, xml, header, path or any; or basic:user, basic:password, or "body"`, k.Got))
		case strings.HasSuffix(kw, "/$defs/field/properties/name/pattern"):
			r.add(e.InstanceLocation, "", fmt.Sprintf("%q must be an identifier ([a-z_][a-z0-9_]*)", k.Got))
		default:
			r.add(e.InstanceLocation, "", fmt.Sprintf("%q does not match %s", k.Got, k.Want))
		}
		return
	case *kind.Type:
		r.add(e.InstanceLocation, "", fmt.Sprintf("must be %s, not %s", article(strings.Join(k.Want, " or ")), article(k.Got)))
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

// allowedKeys lists the properties declared next to an additionalProperties keyword.
func (r *reporter) allowedKeys(kw string) []string {
	_, frag, ok := strings.Cut(kw, "#")
	if !ok {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(frag, "/"), "/")
	if len(parts) == 0 || parts[len(parts)-1] != "additionalProperties" {
		return nil
	}
	cur := r.doc
	for _, p := range parts[:len(parts)-1] {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[unescape(p)]
	}
	m, _ := cur.(map[string]any)
	props, _ := m["properties"].(map[string]any)
	var keys []string
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

// where renders instance tokens as the mapping errors name parts: a.b[0].c.
func where(tokens []string) string {
	var b strings.Builder
	for i, t := range tokens {
		if _, err := strconv.Atoi(t); err == nil && i > 0 {
			b.WriteString("[" + t + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(t)
	}
	return b.String()
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

func unescape(t string) string {
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(t)
}

// locations maps JSON pointers to byte offsets: of each value, and of each
// object key (for "unknown key" problems).
type locations struct {
	data   []byte
	values map[string]int
	keys   map[string]int
}

// locate tokenizes data once, recording where each value and key starts. A
// syntax error or a duplicate key is a problem; on a syntax error loc is nil.
func locate(file string, data []byte) (*locations, []Problem) {
	loc := &locations{data: data, values: map[string]int{}, keys: map[string]int{}}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var problems []Problem
	var walk func(ptr string, tokens []string) error
	walk = func(ptr string, tokens []string) error {
		start := skipSpace(data, int(dec.InputOffset()))
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		loc.values[ptr] = start
		d, ok := tok.(json.Delim)
		if !ok {
			return nil
		}
		switch d {
		case '{':
			seen := map[string]bool{}
			for dec.More() {
				kstart := skipSpace(data, int(dec.InputOffset()))
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				key := kt.(string)
				kptr := ptr + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
				ktokens := append(slices.Clone(tokens), key)
				if seen[key] {
					line, col := lineCol(data, kstart+1)
					problems = append(problems, Problem{File: file, Line: line, Col: col, Where: where(ktokens),
						Message: fmt.Sprintf("key %q appears twice (the last one would silently win)", key)})
				}
				seen[key] = true
				loc.keys[kptr] = kstart + 1
				if err := walk(kptr, ktokens); err != nil {
					return err
				}
			}
		case '[':
			for i := 0; dec.More(); i++ {
				if err := walk(ptr+"/"+strconv.Itoa(i), append(slices.Clone(tokens), strconv.Itoa(i))); err != nil {
					return err
				}
			}
		}
		_, err = dec.Token() // closing delimiter
		return err
	}
	err := walk("", nil)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			err = errors.New("unexpected data after the top-level value")
		}
	}
	if err != nil {
		p := Problem{File: file, Message: "not valid JSON: " + err.Error()}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			p.Message = "not valid JSON: the file ends before the top-level object is closed"
		}
		off := int(dec.InputOffset())
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			off = int(se.Offset)
			p.Message = "not valid JSON: " + se.Error()
		}
		p.Line, p.Col = lineCol(data, off)
		return nil, append(problems, p)
	}
	return loc, problems
}

func skipSpace(data []byte, off int) int {
	for off < len(data) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(data []byte, off int) (int, int) {
	off = min(max(off, 0), len(data))
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off + 1
	if i := bytes.LastIndexByte(data[:off], '\n'); i >= 0 {
		col = off - i
	}
	return line, col
}

// Position finds where the part named by a mapping error ("fields[1].from[0]",
// `field "to".pattern`, "twilio.messages.Body", "reply.success[0].status",
// "template login") is in data: the line and column of the deepest part that
// exists, or 0, 0 when none does (e.g. a route's option override).
func Position(data []byte, where string) (line, col int) {
	loc, _ := locate("", data)
	if loc == nil {
		return 0, 0
	}
	var doc any
	if json.Unmarshal(data, &doc) != nil {
		return 0, 0
	}
	var ptr []string
	cur := doc
walk:
	for _, t := range whereTokens(where, doc) {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				if _, err := strconv.Atoi(t); err == nil {
					continue // reply.success[0] where success is one case, not a list
				}
				break walk
			}
			ptr, cur = append(ptr, t), v
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				break walk
			}
			ptr, cur = append(ptr, t), c[i]
		default:
			break walk
		}
	}
	if len(ptr) == 0 {
		return 0, 0
	}
	off, ok := loc.values[pointer(ptr)]
	if !ok {
		return 0, 0
	}
	return lineCol(data, off)
}

var fieldWhereRE = regexp.MustCompile(`^field "([^"]*)"\.?(.*)$`)

// whereTokens splits a mapping error's part name into JSON keys and indexes.
func whereTokens(where string, doc any) []string {
	var tokens []string
	if m := fieldWhereRE.FindStringSubmatch(where); m != nil {
		top, _ := doc.(map[string]any)
		fields, _ := top["fields"].([]any)
		idx := slices.IndexFunc(fields, func(f any) bool {
			fm, _ := f.(map[string]any)
			return fm["name"] == m[1]
		})
		if idx < 0 {
			return nil
		}
		tokens, where = []string{"fields", strconv.Itoa(idx)}, m[2]
	} else if key, ok := strings.CutPrefix(where, "template "); ok {
		return []string{"templates", key}
	} else if strings.HasPrefix(where, "option ") {
		return nil
	}
	for part := range strings.SplitSeq(where, ".") {
		name, idx, _ := strings.Cut(part, "[")
		if name != "" {
			tokens = append(tokens, name)
		}
		for idx != "" {
			var n string
			n, idx, _ = strings.Cut(idx, "]")
			tokens = append(tokens, n)
			idx = strings.TrimPrefix(idx, "[")
		}
	}
	return tokens
}

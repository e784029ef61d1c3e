package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tailscale/hujson"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/mappings"
)

// standard turns a mapping file (HuJSON) into the standard JSON Validate takes.
func standard(t testing.TB, data []byte) []byte {
	t.Helper()
	out, err := hujson.Standardize(bytes.Clone(data))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSchemaBuiltins validates every shipped mapping against the schema.
func TestSchemaBuiltins(t *testing.T) {
	names := mappings.Names()
	if len(names) == 0 {
		t.Fatal("no built-in mappings")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			data, ok := mappings.Read(name)
			if !ok {
				t.Fatalf("mappings.Read(%q) found nothing", name)
			}
			v, err := Validate(standard(t, data))
			if err != nil || len(v) > 0 {
				t.Errorf("mappings/%s.json does not follow mappings/schema.json: %v %v", name, err, v)
			}
		})
	}
}

// valid is a small mapping that passes; the broken cases below edit it.
const valid = `{
  "$schema": "./schema.json",
  "name": "t",
  "request": {"methods": ["POST"], "format": "form"},
  "fields": [
    {"name": "to", "from": ["form:to"], "required": true, "type": "phone"},
    {"name": "message", "from": ["form:message"], "required": true}
  ],
  "twilio": {"messages": {"To": "to", "Body": "message"}},
  "reply": {
    "success": {"body": {"ok": true}},
    "failure": [{"when": "result.outcome == 'invalid'", "status": "400", "body": {"ok": false}}, {"body": {"ok": false}}]
  }
}`

func TestSchemaValid(t *testing.T) {
	v, err := Validate([]byte(valid))
	if err != nil || len(v) > 0 {
		t.Fatal(err, v)
	}
}

// TestSchemaBroken: each violation names the part at fault by its path
// (keys and indexes) and says what is wrong in the reference's words.
func TestSchemaBroken(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // new replaces old in valid
		want     []string
	}{
		{name: "unknown top-level key", old: `"name": "t",`, new: `"name": "t", "nmae": "x",`,
			want: []string{`[nmae] key: unknown key "nmae" (allowed: $schema, checks, description, fields, let, name, options, reply, request, required_options, route_defaults, tables, template_fallback, template_requires, templates, twilio)`}},
		{name: "unknown field key", old: `"required": true, "type": "phone"`, new: `"required": true, "typ": "phone"`,
			want: []string{`[fields 0 typ] key: unknown key "typ" (allowed: assume, default, from, max_length, name, pattern, required, secret, type, value)`}},
		{name: "unknown key in a reply case list", old: `"status": "400",`, new: `"statsu": "400",`,
			want: []string{`[reply failure 0 statsu] key: unknown key "statsu" (allowed: body, content_type, format, headers, root, status, when)`}},
		{name: "wrong type", old: `"required": true, "type": "phone"`, new: `"required": "yes", "type": "phone"`,
			want: []string{`[fields 0 required]: must be a boolean, not a string`}},
		{name: "bad source", old: `"from": ["form:message"]`, new: `"from": ["form_message"]`,
			want: []string{`[fields 1 from 0]: source "form_message" must be "kind:arg" with kind form, query, param, json, xml, header, path, basic or any; or "body"`}},
		{name: "bad basic source", old: `"from": ["form:message"]`, new: `"from": ["basic:token"]`,
			want: []string{`[fields 1 from 0]: source "basic:token" must be basic:user or basic:password`}},
		{name: "source without argument", old: `"from": ["form:message"]`, new: `"from": ["form:"]`,
			want: []string{`[fields 1 from 0]: source "form:" must be form:<key>`}},
		{name: "body with an argument", old: `"from": ["form:message"]`, new: `"from": ["body:x"]`,
			want: []string{`[fields 1 from 0]: source "body:x" must be body`}},
		{name: "unknown field type", old: `"type": "phone"`, new: `"type": "e164"`,
			want: []string{`[fields 0 type]: value must be one of 'text', 'phone', 'sender', 'digits', 'json'`}},
		{name: "unknown assume", old: `"type": "phone"`, new: `"type": "phone", "assume": "e164"`,
			want: []string{`[fields 0 assume]: value must be one of 'international', 'national'`}},
		{name: "assume on a text field", old: `{"name": "message", "from": ["form:message"]`, new: `{"name": "message", "from": ["form:message"], "assume": "national"`,
			want: []string{`[fields 1 assume] key: only a field of type "phone" takes assume`}},
		{name: "assume on a sender field", old: `{"name": "message", "from": ["form:message"]`, new: `{"name": "message", "from": ["form:message"], "type": "sender", "assume": "international"`,
			want: []string{`[fields 1 assume] key: only a field of type "phone" takes assume`}},
		{name: "reserved field name", old: `{"name": "message"`, new: `{"name": "result"`,
			want: []string{`[fields 1 name]: "result" is a reserved name (options, tables, route, request and result)`}},
		{name: "field name not an identifier", old: `{"name": "message"`, new: `{"name": "Message"`,
			want: []string{`[fields 1 name]: "Message" must be an identifier ([a-z_][a-z0-9_]*)`}},
		{name: "misspelt twilio parameter", old: `"Body": "message"`, new: `"Boddy": "message"`,
			want: []string{`[twilio messages Boddy] key: "Boddy" is not a parameter of Twilio's messages API (allowed: AddressRetention,`}},
		{name: "from in twilio parameters", old: `"Body": "message"`, new: `"Body": "message", "From": "'+15005550006'"`,
			want: []string{`[twilio messages From] key: "From" is not a parameter of Twilio's messages API here: the route's sender settings (from, messaging_service_sid, senders) set it`}},
		{name: "no To", old: `{"To": "to", "Body": "message"}`, new: `{"Body": "message"}`,
			want: []string{`[twilio messages]: missing "To"`}},
		{name: "no API", old: `"twilio": {"messages": {"To": "to", "Body": "message"}}`, new: `"twilio": {}`,
			want: []string{`[twilio]: must define at least one of messages, calls or studio`}},
		{name: "no failure reply", old: `"success": {"body": {"ok": true}},`, new: `"success": {"body": {"ok": true}}, "failures": [],`,
			want: []string{`[reply failures] key: unknown key "failures" (allowed: defaults, failure, invalid, success)`}},
		{name: "empty list of cases", old: `"success": {"body": {"ok": true}},`, new: `"success": [],`,
			want: []string{`[reply success]: must not be an empty list`}},
		{name: "unknown method", old: `["POST"]`, new: `["PATCH"]`,
			want: []string{`[request methods 0]: value must be one of 'GET', 'POST', 'PUT'`}},
		{name: "body size as text", old: `"format": "form"}`, new: `"format": "form", "max_body_bytes": "64k"}`,
			want: []string{`[request max_body_bytes]: must be an integer, not a string`}},
		{name: "body size too large", old: `"format": "form"}`, new: `"format": "form", "max_body_bytes": 10485761}`,
			want: []string{`[request max_body_bytes]: must be at most 10485760, not 10485761`}},
		{name: "relative path", old: `"format": "form"}`, new: `"format": "form", "path": "sms"}`,
			want: []string{`[request path]: "sms" does not match ^/`}},
		{name: "let name not an identifier", old: `"name": "t",`, new: `"name": "t", "let": {"Code": "1"},`,
			want: []string{`[let Code] key: "Code" is not a valid let name: it must be an identifier ([a-z_][a-z0-9_]*)`}},
		{name: "let not an expression", old: `"name": "t",`, new: `"name": "t", "let": {"code": 1},`,
			want: []string{`[let code]: must be a string, not a number`}},
		{name: "table name not an identifier", old: `"name": "t",`, new: `"name": "t", "tables": {"by-field": {}},`,
			want: []string{`[tables by-field] key: "by-field" is not a valid table name: it must be an identifier ([a-z_][a-z0-9_]*)`}},
		{name: "table value a list", old: `"name": "t",`, new: `"name": "t", "tables": {"codes": {"to": [1]}},`,
			want: []string{`[tables codes to]: must be a boolean, a number or a string, not an array`}},
		{name: "required option twice", old: `"name": "t",`, new: `"name": "t", "required_options": ["a", "a"],`,
			want: []string{`[required_options]: items at 0 and 1 are equal`}},
		{name: "route timeout not a duration", old: `"name": "t",`, new: `"name": "t", "route_defaults": {"timeout": "3 seconds"},`,
			want: []string{`[route_defaults timeout]: "3 seconds" is not a Go duration (3s, 1500ms, 2m)`}},
		{name: "route dedup", old: `"name": "t",`, new: `"name": "t", "route_defaults": {"dedup": "never"},`,
			want: []string{`[route_defaults dedup]: "never" is not a Go duration (30s, 2m) or off`}},
		{name: "route region", old: `"name": "t",`, new: `"name": "t", "route_defaults": {"default_region": "USA"},`,
			want: []string{`[route_defaults default_region]: "USA" is not a two-letter ISO 3166 region (US, GB)`}},
		{name: "route key unknown", old: `"name": "t",`, new: `"name": "t", "route_defaults": {"region": "US"},`,
			want: []string{`[route_defaults region] key: unknown key "region" (allowed: assume_numbers, dedup, default_region, timeout)`}},
		{name: "defaults with when", old: `"reply": {`, new: `"reply": {"defaults": {"when": "true"},`,
			want: []string{`[reply defaults when] key: defaults take no "when": they apply to every case that does not set a key`}},
		{name: "group without cases", old: `"success": {"body": {"ok": true}}`, new: `"success": {"defaults": {"status": "201"}}`,
			want: []string{`[reply success]: missing "cases"`}},
		{name: "group with an unknown key", old: `"success": {"body": {"ok": true}}`, new: `"success": {"cases": [{}], "when": "true"}`,
			want: []string{`[reply success when] key: unknown key "when" (allowed: cases, defaults)`}},
		{name: "xml reply with a bad root", old: `"success": {"body": {"ok": true}}`, new: `"success": {"format": "xml", "root": "1r", "body": {"ok": "true"}}`,
			want: []string{`[reply success root]: "1r" does not match ^[A-Za-z_][A-Za-z0-9_.-]*$`}},
		{name: "text reply with an object", old: `"success": {"body": {"ok": true}}`, new: `"success": {"format": "text", "body": {"ok": "true"}}`,
			want: []string{`[reply success body]: must be a string, not an object`}},
		{name: "form reply nested", old: `"success": {"body": {"ok": true}}`, new: `"success": {"format": "form", "body": {"ok": {"a": "1"}}}`,
			want: []string{`[reply success body ok]: must be null, a boolean, a number or a string, not an object`}},
		{name: "twilio reply with a list", old: `"success": {"body": {"ok": true}}`, new: `"success": {"format": "twilio", "body": ["result.sid"]}`,
			want: []string{`[reply success body]: must be a string or an object, not an array`}},
		{name: "twilio reply with another root", old: `"success": {"body": {"ok": true}}`, new: `"success": {"format": "twilio", "root": "csv"}`,
			want: []string{`[reply success root]: value must be one of 'json', 'xml'`}},
		{name: "bad header name", old: `"success": {"body": {"ok": true}}`, new: `"success": {"headers": {"X Bad": "'1'"}, "body": {"ok": true}}`,
			want: []string{`[reply success headers X Bad] key: "X Bad" is not a valid header name`}},
		{name: "not an object", old: valid, new: `[]`,
			want: []string{`[]: must be an object, not an array`}},
		{name: "several problems at once", old: `"required": true, "type": "phone"`, new: `"required": 1, "type": "cell", "colour": "red"`,
			want: []string{`[fields 0 colour] key: unknown key "colour"`, `[fields 0 required]: must be a boolean, not a number`, `[fields 0 type]: value must be one of`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(valid, tt.old) {
				t.Fatalf("test bug: %q is not in the valid mapping", tt.old)
			}
			vs, err := Validate([]byte(strings.Replace(valid, tt.old, tt.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vs {
				s := fmt.Sprint(v.Path)
				if v.Key {
					s += " key"
				}
				got = append(got, s+": "+v.Message)
			}
			slices.Sort(got)
			if len(got) != len(tt.want) {
				t.Fatalf("violations:\n%s\nwant %d", strings.Join(got, "\n"), len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("violation\n%s\nwant it to start with\n%s", got[i], w)
				}
			}
		})
	}
}

// TestPathIndexes: indexes in paths are ints, keys strings, even a key that
// looks like a number.
func TestPathIndexes(t *testing.T) {
	vs, err := Validate([]byte(`{"options": {"0": 1}, "fields": [{"name": 1}], "twilio": {"messages": {"To": "to"}}, "reply": {"success": {}, "failure": {}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, v := range vs {
		paths = append(paths, fmt.Sprintf("%#v", v.Path))
	}
	slices.Sort(paths)
	want := []string{`[]interface {}{"fields", 0, "name"}`, `[]interface {}{"options", "0"}`}
	if !slices.Equal(paths, want) {
		t.Errorf("paths %v, want %v", paths, want)
	}
}

func TestValidateNotJSON(t *testing.T) {
	if _, err := Validate([]byte(`{"name": `)); err == nil {
		t.Error("Validate accepted a truncated document")
	}
}

// TestSchemaDocumented: every key a mapping file may hold has a description
// (the reference is made of them), except Twilio's optional parameters, and
// every enum with descriptions has one per value.
func TestSchemaDocumented(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(Source(), &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			if l, ok := v.([]any); ok {
				for i, x := range l {
					walk(fmt.Sprintf("%s/%d", where, i), x)
				}
			}
			return
		}
		if props, ok := m["properties"].(map[string]any); ok && !strings.Contains(where, "/then") && !strings.Contains(where, "/if") {
			for k, p := range props {
				pm, _ := p.(map[string]any)
				_, hasDesc := pm["description"]
				_, ref := pm["$ref"]
				twilioParam := strings.HasPrefix(where, "/$defs/twilio/properties/") && ref
				if !hasDesc && !twilioParam && !(ref && len(pm) == 1) {
					t.Errorf("%s/properties/%s has no description", where, k)
				}
			}
		}
		if ed, ok := m["enumDescriptions"].([]any); ok {
			if e, _ := m["enum"].([]any); len(e) != len(ed) {
				t.Errorf("%s: %d enum values, %d descriptions", where, len(e), len(ed))
			}
		}
		for k, x := range m {
			walk(where+"/"+k, x)
		}
	}
	walk("", doc)
}

func TestSourceKinds(t *testing.T) {
	want := []string{"form", "query", "param", "json", "xml", "header", "path", "basic", "any", "body"}
	if got := SourceKinds(); !slices.Equal(got, want) {
		t.Errorf("SourceKinds() = %v, want %v", got, want)
	}
}

// TestReferenceUpToDate fails when mappings/REFERENCE.md is not what the
// schema renders: run `go generate ./internal/schema`.
func TestReferenceUpToDate(t *testing.T) {
	want, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../mappings/REFERENCE.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("mappings/REFERENCE.md is stale: run `go generate ./internal/schema`")
	}
	// Every source kind and every key of a field is in it.
	for _, s := range append(SourceKinds(), "`max_length`", "`template_requires`", "`enumDescriptions`") {
		if s == "`enumDescriptions`" {
			if bytes.Contains(want, []byte(s)) {
				t.Error("the reference shows schema keywords")
			}
			continue
		}
		if !bytes.Contains(want, []byte(s)) {
			t.Errorf("the reference lacks %s", s)
		}
	}
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(valid))
	for _, name := range mappings.Names() {
		data, _ := mappings.Read(name)
		f.Add(standard(f, data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vs, err := Validate(data)
		if err == nil && !json.Valid(data) {
			t.Fatalf("Validate accepted data that is not JSON")
		}
		for _, v := range vs {
			if v.Message == "" {
				t.Fatalf("a violation without a message: %#v", v)
			}
			for _, p := range v.Path {
				switch p.(type) {
				case string, int:
				default:
					t.Fatalf("a path element %T", p)
				}
			}
		}
	})
}

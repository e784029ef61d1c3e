package schema

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/mappings"
)

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
			if err := Validate("mappings/"+name+".json", data); err != nil {
				t.Errorf("mappings/%s.json does not follow mappings/schema.json:\n%v", name, err)
			}
		})
	}
}

// valid is a small mapping that passes; the broken cases below edit it.
const valid = `{
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
	if err := Validate("valid.json", []byte(valid)); err != nil {
		t.Fatal(err)
	}
}

func TestSchemaBroken(t *testing.T) {
	tests := []struct {
		name    string
		old     string // replaced in valid
		new     string
		want    []string // substrings of the message, in order
		goToo   bool     // mapping.Parse or Compile rejects it as well
		problem int      // expected number of problems
	}{
		{
			name: "unknown top-level key", old: `"name": "t",`, new: `"name": "t", "nmae": "x",`,
			want: []string{`bad.json:2:17: nmae: unknown key "nmae" (allowed: checks, description, fields, name,`}, goToo: true, problem: 1,
		},
		{
			name: "unknown field key", old: `"required": true, "type": "phone"`, new: `"required": true, "typ": "phone"`,
			want: []string{`bad.json:5:60: fields[0].typ: unknown key "typ" (allowed: assume, default, from, max_length, name, pattern, required, secret, type, value)`}, goToo: true, problem: 1,
		},
		{
			name: "unknown key in a reply case list", old: `"status": "400",`, new: `"statsu": "400",`,
			want: []string{`reply.failure[0].statsu: unknown key "statsu"`}, problem: 1,
		},
		{
			name: "wrong type", old: `"required": true, "type": "phone"`, new: `"required": "yes", "type": "phone"`,
			want: []string{`bad.json:5:53: fields[0].required: must be a boolean, not a string`}, goToo: true, problem: 1,
		},
		{
			name: "bad source", old: `"from": ["form:message"]`, new: `"from": ["form_message"]`,
			want: []string{`bad.json:6:34: fields[1].from[0]: source "form_message" must be "kind:arg" with kind form, query, param, json, xml, header, path or any`}, goToo: true, problem: 1,
		},
		{
			name: "bad basic source", old: `"from": ["form:message"]`, new: `"from": ["basic:token"]`,
			want: []string{`fields[1].from[0]: source "basic:token" must be`}, goToo: true, problem: 1,
		},
		{
			name: "unknown field type", old: `"type": "phone"`, new: `"type": "e164"`,
			want: []string{`fields[0].type: value must be one of 'text', 'phone', 'sender', 'digits', 'json'`}, goToo: true, problem: 1,
		},
		{
			name: "unknown assume", old: `"type": "phone"`, new: `"type": "phone", "assume": "e164"`,
			want: []string{`bad.json:5:86: fields[0].assume: value must be one of 'international', 'national'`}, goToo: true, problem: 1,
		},
		{
			name: "assume on a text field", old: `{"name": "message", "from": ["form:message"]`, new: `{"name": "message", "from": ["form:message"], "assume": "national"`,
			want: []string{`bad.json:6:52: fields[1].assume: only a field of type "phone" takes assume`}, goToo: true, problem: 1,
		},
		{
			name: "assume on a sender field", old: `{"name": "message", "from": ["form:message"]`, new: `{"name": "message", "from": ["form:message"], "type": "sender", "assume": "international"`,
			want: []string{`bad.json:6:70: fields[1].assume: only a field of type "phone" takes assume`}, goToo: true, problem: 1,
		},
		{
			name: "reserved field name", old: `{"name": "message"`, new: `{"name": "result"`,
			want: []string{`fields[1].name: options, route, request and result are reserved names`}, goToo: true, problem: 1,
		},
		{
			name: "field name not an identifier", old: `{"name": "message"`, new: `{"name": "Message"`,
			want: []string{`fields[1].name: "Message" must be an identifier`}, goToo: true, problem: 1,
		},
		{
			name: "misspelt twilio parameter", old: `"Body": "message"`, new: `"Boddy": "message"`,
			want: []string{`bad.json:8:40: twilio.messages.Boddy: "Boddy" is not a parameter of Twilio's messages API (allowed: AddressRetention,`}, goToo: true, problem: 1,
		},
		{
			name: "from in twilio parameters", old: `"Body": "message"`, new: `"Body": "message", "From": "'+15005550006'"`,
			want: []string{`twilio.messages.From: "From" is not a parameter of Twilio's messages API here: the route's sender settings`}, goToo: true, problem: 1,
		},
		{
			name: "no To", old: `{"To": "to", "Body": "message"}`, new: `{"Body": "message"}`,
			want: []string{`twilio.messages: missing "To"`}, goToo: true, problem: 1,
		},
		{
			name: "no API", old: `"twilio": {"messages": {"To": "to", "Body": "message"}}`, new: `"twilio": {}`,
			want: []string{`twilio: must define at least one of messages, calls or studio`}, goToo: true, problem: 1,
		},
		{
			name: "no failure reply", old: `"success": {"body": {"ok": true}},`, new: `"success": {"body": {"ok": true}}, "failures": [],`,
			want: []string{`reply.failures: unknown key "failures"`}, goToo: true, problem: 1,
		},
		{
			name: "unknown method", old: `["POST"]`, new: `["PATCH"]`,
			want: []string{`request.methods[0]: value must be one of 'GET', 'POST', 'PUT'`}, goToo: true, problem: 1,
		},
		{
			name: "body size as text", old: `"format": "form"}`, new: `"format": "form", "max_body_bytes": "64k"}`,
			want: []string{`request.max_body_bytes: must be an integer, not a string`}, goToo: true, problem: 1,
		},
		{
			name: "xml reply without root", old: `"success": {"body": {"ok": true}}`, new: `"success": {"format": "xml", "body": {"ok": "true"}}`,
			want: []string{`reply.success: missing "root"`}, goToo: true, problem: 1,
		},
		{
			name: "text reply with an object", old: `"success": {"body": {"ok": true}}`, new: `"success": {"format": "text", "body": {"ok": "true"}}`,
			want: []string{`reply.success.body: must be a string, not an object`}, goToo: true, problem: 1,
		},
		{
			name: "bad header name", old: `"success": {"body": {"ok": true}}`, new: `"success": {"headers": {"X Bad": "'1'"}, "body": {"ok": true}}`,
			want: []string{`reply.success.headers.X Bad: "X Bad" is not a valid header name`}, goToo: true, problem: 1,
		},
		{
			name: "duplicate key", old: `"name": "t",`, new: `"name": "t", "name": "u",`,
			want: []string{`bad.json:2:17: name: key "name" appears twice (the last one would silently win)`}, problem: 1,
		},
		{
			name: "several problems at once", old: `"required": true, "type": "phone"`, new: `"required": 1, "type": "cell", "colour": "red"`,
			want: []string{`fields[0].required: must be a boolean`, `fields[0].type: value must be one of`, `fields[0].colour: unknown key`}, goToo: true, problem: 3,
		},
		{
			name: "not JSON", old: `"fields": [`, new: `"fields": [,`,
			want: []string{`bad.json:4:14: not valid JSON: invalid character ','`}, goToo: true, problem: 1,
		},
		{
			name: "truncated", old: valid, new: valid[:40],
			want: []string{`not valid JSON: the file ends before the top-level object is closed`}, goToo: true, problem: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(valid, tt.old) {
				t.Fatalf("test bug: %q is not in the valid mapping", tt.old)
			}
			data := []byte(strings.Replace(valid, tt.old, tt.new, 1))
			err := Validate("bad.json", data)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Validate = %v, want an *Error", err)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("message lacks (or misorders) %q:\n%s", w, msg)
				}
				rest = rest[i+len(w):]
			}
			if len(se.Problems) != tt.problem {
				t.Errorf("%d problems, want %d:\n%s", len(se.Problems), tt.problem, msg)
			}
			if tt.goToo {
				if spec, err := mapping.Parse("bad.json", data); err == nil {
					if _, err := mapping.Compile(spec, "bad.json", mapping.Config{Phone: fakePhone{}}); err == nil {
						t.Errorf("the schema rejects this but mapping.Parse and Compile accept it: the two disagree")
					}
				}
			}
		})
	}
}

type fakePhone struct{}

func (fakePhone) Normalize(s string) (string, error)       { return s, nil }
func (fakePhone) NormalizeSender(s string) (string, error) { return s, nil }

// TestSchemaMatchesSpec keeps the schema in step with the Go types: every JSON
// key the decoder knows is described, and the schema knows no other.
func TestSchemaMatchesSpec(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(Source(), &doc); err != nil {
		t.Fatal(err)
	}
	defs := doc["$defs"].(map[string]any)
	props := func(m any) []string {
		p, _ := m.(map[string]any)["properties"].(map[string]any)
		return slices.Sorted(maps.Keys(p))
	}
	tests := []struct {
		name   string
		typ    reflect.Type
		schema any
	}{
		{"Spec", reflect.TypeFor[mapping.Spec](), doc},
		{"RequestSpec", reflect.TypeFor[mapping.RequestSpec](), defs["request"]},
		{"FieldSpec", reflect.TypeFor[mapping.FieldSpec](), defs["field"]},
		{"TwilioSpec", reflect.TypeFor[mapping.TwilioSpec](), defs["twilio"]},
		{"ReplySpec", reflect.TypeFor[mapping.ReplySpec](), defs["reply"]},
		{"ReplyCase", reflect.TypeFor[mapping.ReplyCase](), defs["case"]},
		{"CheckSpec", reflect.TypeFor[mapping.CheckSpec](), defs["check"]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var keys []string
			for f := range tt.typ.Fields() {
				if !f.IsExported() {
					continue
				}
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "-" {
					continue
				}
				if name == "" {
					name = f.Name
				}
				keys = append(keys, name)
			}
			slices.Sort(keys)
			if got := props(tt.schema); !slices.Equal(got, keys) {
				t.Errorf("schema properties %v, Go keys %v: update mappings/schema.json", got, keys)
			}
			if ap, _ := tt.schema.(map[string]any)["additionalProperties"].(bool); ap {
				t.Error("additionalProperties must be false: the Go decoder rejects unknown keys")
			}
		})
	}
}

func TestLineCol(t *testing.T) {
	data := []byte("ab\ncd\n\nef")
	tests := []struct {
		off, line, col int
	}{{0, 1, 1}, {1, 1, 2}, {3, 2, 1}, {4, 2, 2}, {6, 3, 1}, {7, 4, 1}, {99, 4, 3}, {-1, 1, 1}}
	for _, tt := range tests {
		if l, c := lineCol(data, tt.off); l != tt.line || c != tt.col {
			t.Errorf("lineCol(%d) = %d:%d, want %d:%d", tt.off, l, c, tt.line, tt.col)
		}
	}
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(valid))
	for _, name := range mappings.Names() {
		data, _ := mappings.Read(name)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Validate("fuzz.json", data)
		var se *Error
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("not an *Error: %v", err)
		}
		if se != nil && len(se.Problems) == 0 {
			t.Fatal("an *Error without problems")
		}
	})
}

func TestPosition(t *testing.T) {
	tests := []struct {
		where     string
		line, col int
	}{
		{`field "message"`, 6, 5},
		{`field "to".from[0]`, 5, 29},
		{`fields[1].name`, 6, 14},
		{`twilio.messages.Body`, 8, 47},
		{`twilio.messages`, 8, 26},
		{`reply.success[0].body`, 10, 25},
		{`reply.failure[1].body`, 11, 107},
		{`reply.failure[0].status`, 11, 67},
		{`request.format`, 3, 46},
		{`reply.invalid[0]`, 9, 12}, // deepest part that exists: reply
		{`option success_marker`, 0, 0},
		{`field "nope"`, 0, 0},
		{``, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.where, func(t *testing.T) {
			if l, c := Position([]byte(valid), tt.where); l != tt.line || c != tt.col {
				t.Errorf("Position(%q) = %d:%d, want %d:%d", tt.where, l, c, tt.line, tt.col)
			}
		})
	}
}

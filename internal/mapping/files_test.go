package mapping

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/schema"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/mappings"
)

// commented is a valid mapping file with comments, a trailing comma and a
// $schema key; the broken files below edit it. Positions in their errors are
// positions in this text, comments included.
const commented = `{
  // A mapping with comments: every position below is in this text.
  "$schema": "../../mappings/schema.json",
  "name": "t", /* the name */
  "request": {"methods": ["POST"], "format": "form"},
  "fields": [
    {"name": "to", "from": ["form:to"], "required": true, "type": "phone"},
    // The text to send.
    {"name": "message", "from": ["form:message"], "required": true},
  ],
  "twilio": {"messages": {"To": "to", "Body": "message"}},
  "reply": {
    "success": {"body": {"ok": true}},
    "failure": [{"when": "result.outcome == 'invalid'", "status": "400", "body": {"ok": false}}, {"body": {"ok": false}}],
  },
}
`

// runPath loads and compiles a mapping as a route's provisioning does
// (caddymodule's loadMapping: Load, then Compile).
func runPath(ref string, cfg Config) error {
	spec, file, err := Load(ref)
	if err != nil {
		return err
	}
	_, err = Compile(spec, file, cfg)
	return err
}

// TestBrokenFiles: every mistake in a mapping file gives the same message,
// with file, line and column, through the run path (Load and Compile, as
// `caddy run` provisions a route) and the check path (Check, what `caddy
// twilio-sms check` prints): the schema finds shape problems, Compile the
// rest, and one function places both.
func TestBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		old, new string // new replaces old in commented
		cfg      Config
		want     []string // the problems, %f standing for the file
		at       string   // the text where the first problem points
	}{
		{name: "unknown key", old: `"required": true}`, new: `"required": true, "maxlen": 5}`,
			want: []string{`%f:9:70: fields[1].maxlen: unknown key "maxlen" (allowed: assume, default, from, max_length, name, pattern, required, secret, type, value)`},
			at:   `maxlen"`},
		{name: "wrong type", old: `"required": true, "type": "phone"`, new: `"required": "yes", "type": "phone"`,
			want: []string{`%f:7:53: fields[0].required: must be a boolean, not a string`}, at: `"yes"`},
		{name: "bad enum", old: `"format": "form"`, new: `"format": "yaml"`,
			want: []string{`%f:5:46: request.format: value must be one of 'auto', 'form', 'json', 'xml', 'text', 'none'`}, at: `"yaml"`},
		{name: "bad source kind", old: `"form:message"`, new: `"cookie:message"`,
			want: []string{`%f:9:34: fields[1].from[0]: source "cookie:message" must be "kind:arg" with kind form, query, param, json, xml, header, path, basic or any; or "body"`},
			at:   `"cookie:message"`},
		{name: "bad source argument", old: `"form:message"`, new: `"basic:message"`,
			want: []string{`%f:9:34: fields[1].from[0]: source "basic:message" must be basic:user or basic:password`}, at: `"basic:message"`},
		{name: "bad expression", old: `"Body": "message"`, new: `"Body": "mesage"`,
			want: []string{"%f:11:47: twilio.messages.Body: unknown name mesage (1:1)\n | mesage\n | ^"}, at: `"mesage"`},
		{name: "bad expression in a reply case", old: `"status": "400"`, new: `"status": "'400'"`,
			want: []string{`%f:14:67: reply.failure[0].status: expected int, but got string`}, at: `"'400'"`},
		{name: "bad pattern", old: `"type": "phone"}`, new: `"type": "phone", "pattern": "[0-9"}`,
			want: []string{"%f:7:87: fields[0].pattern: error parsing regexp: missing closing ]: `[0-9)$`"}, at: `"[0-9"`},
		{name: "missing required", old: `"To": "to", `, new: ``,
			want: []string{`%f:11:26: twilio.messages: missing "To"`}, at: `{"Body"`},
		{name: "missing reply", old: `"twilio": {"messages": {"To": "to", "Body": "message"}},`, new: ``,
			want: []string{`%f:1:1: missing "twilio"`}, at: `{`},
		{name: "reserved field name", old: `{"name": "message"`, new: `{"name": "route"`,
			want: []string{`%f:9:14: fields[1].name: "route" is a reserved name (options, tables, route, request and result)`}, at: `"route"`},
		{name: "twilio parameter", old: `"Body": "message"`, new: `"Body": "message", "From": "'+15005550006'"`,
			want: []string{`%f:11:59: twilio.messages.From: "From" is not a parameter of Twilio's messages API here: the route's sender settings (from, messaging_service_sid, senders) set it`},
			at:   `From"`},
		{name: "assume on a text field", old: `"required": true}`, new: `"required": true, "assume": "national"}`,
			want: []string{`%f:9:70: fields[1].assume: only a field of type "phone" takes assume`}, at: `assume"`},
		{name: "path source without a path", old: `"form:message"`, new: `"path:Sid"`,
			want: []string{`%f:9:34: fields[1].from[0]: source "path:Sid": request.path has no {Sid}`}, at: `"path:Sid"`},
		{name: "duplicate key", old: `"name": "t",`, new: `"name": "t", "name": "u",`,
			want: []string{`%f:4:17: name: key "name" appears 2 times (only the last one would count)`}, at: `name": "u"`},
		{name: "several problems at once", old: `"required": true, "type": "phone"`, new: `"required": 1, "type": "cell", "colour": "red"`,
			want: []string{
				`%f:7:53: fields[0].required: must be a boolean, not a number`,
				`%f:7:64: fields[0].type: value must be one of 'text', 'phone', 'sender', 'digits', 'json'`,
				`%f:7:73: fields[0].colour: unknown key "colour" (allowed: assume, default, from, max_length, name, pattern, required, secret, type, value)`,
			}, at: `1, "type"`},
		{name: "comment syntax error", old: `/* the name */`, new: `/* the name`,
			want: []string{`%f:4:16: not valid JSON: the file ends inside a comment (/* without */)`}, at: `/* the name`},
		{name: "syntax error", old: `"fields": [`, new: `"fields": [,`,
			want: []string{`%f:6:14: not valid JSON: invalid character ',' at start of value`}, at: `,`},
		{name: "truncated", old: commented, new: commented[:120],
			want: []string{`%f:4:8: not valid JSON: the file ends before the top-level object is closed`}, at: ``},
		{name: "empty", old: commented, new: "  \n",
			want: []string{`%f: not valid JSON: the file is empty`}},
		{name: "the route's option", cfg: Config{Options: map[string]string{"brand": "x"}},
			want: []string{`%f: the route sets option "brand", which the mapping does not declare (it declares none)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(commented, tt.old) {
				t.Fatalf("test bug: %q is not in the file", tt.old)
			}
			src := strings.Replace(commented, tt.old, tt.new, 1)
			file := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".json")
			if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := tt.cfg
			cfg.Phone = testPhone
			runErr := runPath(file, cfg)
			lines := Check(file, cfg)
			want := strings.ReplaceAll(strings.Join(tt.want, "\n"), "%f", file)
			if runErr == nil {
				t.Fatal("the run path accepted the file")
			}
			if runErr.Error() != want {
				t.Errorf("run path:\n%v\nwant:\n%s", runErr, want)
			}
			if got := strings.Join(lines, "\n"); got != runErr.Error() {
				t.Errorf("the check path says\n%s\nthe run path\n%v", got, runErr)
			}
			if len(lines) != len(tt.want) {
				t.Errorf("%d problems, want %d", len(lines), len(tt.want))
			}
			ce := configErr(t, runErr)
			if got := textAt(src, ce.Line, ce.Col); !strings.HasPrefix(got, tt.at) {
				t.Errorf("the error points at %q, want %q", got, tt.at)
			}
		})
	}
}

// TestMissingMappings: a file that cannot be read and an unknown built-in
// are reported alike by both paths.
func TestMissingMappings(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.json")
	for ref, want := range map[string]string{
		missing:  missing + ": cannot read the mapping file: no such file or directory",
		"nosuch": "builtin:nosuch: no such built-in mapping (built-in: " + strings.Join(mappings.Names(), ", ") + "; or give a path to a .json file)",
	} {
		err := runPath(ref, Config{Phone: testPhone})
		if err == nil || err.Error() != want {
			t.Errorf("run path: %v, want %s", err, want)
		}
		if got := Check(ref, Config{Phone: testPhone}); !slices.Equal(got, []string{want}) {
			t.Errorf("check path: %q, want %q", got, want)
		}
	}
}

// TestCommentsAndSchemaKey: comments, trailing commas and a $schema key are
// allowed, and a good file has no problems.
func TestCommentsAndSchemaKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "good.json")
	if err := os.WriteFile(file, []byte(commented), 0o600); err != nil {
		t.Fatal(err)
	}
	if lines := Check(file, Config{Phone: testPhone}); lines != nil {
		t.Fatalf("problems in a good file: %q", lines)
	}
	m, err := LoadAndCompile(file, Config{Phone: testPhone})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "t" || !m.HasField("message") {
		t.Errorf("Name %q", m.Name())
	}
}

// TestStandardizeKeepsOffsets: turning comments and trailing commas into
// spaces keeps every other byte where it was, so a position found in the
// standard JSON is one in the file; and the file's bytes are left alone.
func TestStandardizeKeepsOffsets(t *testing.T) {
	srcs := []string{commented, "{\"a\": 1, // é ü\n /* ∑\n */ \"b\": [1, 2,],}\n"}
	for _, name := range mappings.Names() {
		data, _ := mappings.Read(name)
		srcs = append(srcs, string(data))
	}
	for _, src := range srcs {
		data := []byte(src)
		std, _, err := standardize(data)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != src {
			t.Fatal("standardize changed its input")
		}
		if len(std) != len(data) {
			t.Fatalf("length %d, want %d", len(std), len(data))
		}
		for i := range data {
			if std[i] != data[i] && std[i] != ' ' {
				t.Fatalf("byte %d is %q, was %q", i, std[i], data[i])
			}
			if data[i] == '\n' && std[i] != '\n' {
				t.Fatalf("line break at %d lost", i)
			}
		}
		if !json.Valid(std) {
			t.Fatalf("not standard JSON:\n%s", std)
		}
	}
}

// TestLocate: the one function that places a path in a file.
func TestLocate(t *testing.T) {
	src := "{\n  \"a\": [1, {\"b\": \"x\"},\n    {\"c\": {\"d\": true}}], // note\n  \"e\" :  null,\n  \"e\": {\"f\": 1},\n  \"s\": {\"t\": 2}\n}"
	tests := []struct {
		path Path
		key  bool
		want string // "line:col path", or "- path" for no position
	}{
		{Path{"a"}, false, "2:8 a"},
		{Path{"a", 0}, false, "2:9 a[0]"},
		{Path{"a", 1, "b"}, false, "2:18 a[1].b"},
		{Path{"a", 1, "b"}, true, "2:14 a[1].b"},
		{Path{"a", 2, "c", "d"}, false, "3:17 a[2].c.d"},
		{Path{"e"}, false, "5:8 e"}, // the last of two, the one that counts
		{Path{"e", "f"}, true, "5:10 e.f"},
		{Path{"s", 0, "t"}, false, "6:14 s.t"}, // one case for a list of them
		{Path{"s", 1, "t"}, false, "- s[1].t"},
		{Path{"a", 3}, false, "- a[3]"},
		{Path{"z", "y"}, false, "- z.y"},
		{Path{"a", "x"}, false, "- a.x"},
		{nil, false, "1:1 "},
	}
	for _, tt := range tests {
		e := &ConfigError{Path: slices.Clone(tt.path), Key: tt.key, Err: errors.New("x")}
		locateAll([]byte(src), []*ConfigError{e})
		got := "- " + e.Path.String()
		if e.Line > 0 {
			got = fmt.Sprintf("%d:%d %s", e.Line, e.Col, e.Path)
		}
		if got != tt.want {
			t.Errorf("locate(%v, key %v) = %q, want %q", tt.path, tt.key, got, tt.want)
		}
	}
	route := routeErr(errors.New("x"))
	locateAll([]byte(src), []*ConfigError{route})
	if route.Line != 0 {
		t.Error("a problem with the route's settings was placed in the file")
	}
}

func TestPathString(t *testing.T) {
	for p, want := range map[string]string{
		"fields[1].from[0]":              Path{"fields", 1, "from", 0}.String(),
		`reply.success.headers["X Bad"]`: Path{"reply", "success", "headers", "X Bad"}.String(),
		`$schema`:                        Path{"$schema"}.String(),
		`reply.failure[0].body.@a`:       Path{"reply", "failure", 0, "body", "@a"}.String(),
		`templates[""]`:                  Path{"templates", ""}.String(),
		`body["a.b"]["quote\"d"]`:        Path{"body", "a.b", `quote"d`}.String(),
		"":                               Path(nil).String(),
	} {
		if p != want {
			t.Errorf("got %s, want %s", want, p)
		}
	}
}

// TestSchemaMatchesSpec keeps the schema in step with the Go types: every JSON
// key the decoder knows is described, and the schema knows no other (but
// $schema, which is for editors).
func TestSchemaMatchesSpec(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(schema.Source(), &doc); err != nil {
		t.Fatal(err)
	}
	defs := doc["$defs"].(map[string]any)
	props := func(m any) []string {
		p, _ := m.(map[string]any)["properties"].(map[string]any)
		keys := slices.Sorted(maps.Keys(p))
		return slices.DeleteFunc(keys, func(k string) bool { return k == "$schema" })
	}
	tests := []struct {
		name   string
		typ    reflect.Type
		schema any
	}{
		{"Spec", reflect.TypeFor[Spec](), doc},
		{"RequestSpec", reflect.TypeFor[RequestSpec](), defs["request"]},
		{"FieldSpec", reflect.TypeFor[FieldSpec](), defs["field"]},
		{"TwilioSpec", reflect.TypeFor[TwilioSpec](), defs["twilio"]},
		{"ReplySpec", reflect.TypeFor[ReplySpec](), defs["reply"]},
		{"ReplyCase", reflect.TypeFor[ReplyCase](), defs["case"]},
		{"CheckSpec", reflect.TypeFor[CheckSpec](), defs["check"]},
		{"RouteDefaultsSpec", reflect.TypeFor[RouteDefaultsSpec](), defs["route_defaults"]},
		{"caseGroup", reflect.TypeFor[caseGroup](), defs["group"]},
	}
	// Defaults take every key of a case but when.
	caseKeys := props(defs["case"])
	if got, want := props(defs["reply_defaults"]), slices.DeleteFunc(slices.Clone(caseKeys), func(k string) bool { return k == "when" }); !slices.Equal(got, want) {
		t.Errorf("reply_defaults has %v, want the keys of a case but when: %v", got, want)
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
				keys = append(keys, cmp.Or(name, f.Name))
			}
			slices.Sort(keys)
			if got := props(tt.schema); !slices.Equal(got, keys) {
				t.Errorf("schema properties %v, Go keys %v: update mappings/schema.json", got, keys)
			}
			if ap, ok := tt.schema.(map[string]any)["additionalProperties"].(bool); !ok || ap {
				t.Error("additionalProperties must be false: an unknown key is a mistake")
			}
		})
	}
}

// TestSourceKindsMatchSchema: the source kinds exist once in Go
// (SourceKinds, which compileSource reads) and once in the schema
// ($defs/source, which the reference renders); they must agree, in order.
func TestSourceKindsMatchSchema(t *testing.T) {
	if got, want := SourceKinds(), schema.SourceKinds(); !slices.Equal(got, want) {
		t.Errorf("SourceKinds() = %v, the schema has %v", got, want)
	}
	for _, k := range SourceKinds() {
		arg := ":x"
		switch k {
		case "body":
			arg = ""
		case "basic":
			arg = ":user"
		}
		if _, err := compileSource(k + arg); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
}

// TestEnumsMatchSchema: the Go constants for the schema's enums hold the
// same values.
func TestEnumsMatchSchema(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(schema.Source(), &doc); err != nil {
		t.Fatal(err)
	}
	enum := func(path ...string) []string {
		var cur any = doc
		for _, p := range path {
			cur = cur.(map[string]any)[p]
		}
		var out []string
		for _, v := range cur.(map[string]any)["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	for name, tt := range map[string]struct{ got, want []string }{
		"request.format": {[]string{FormatAuto, FormatForm, FormatJSON, FormatXML, FormatText, FormatNone}, enum("$defs", "request", "properties", "format")},
		"field type":     {[]string{TypeText, TypePhone, TypeSender, TypeDigits, TypeJSON}, enum("$defs", "field", "properties", "type")},
		"field assume":   {[]string{AssumeInternational, AssumeNational}, enum("$defs", "field", "properties", "assume")},
		"reply format":   {[]string{ReplyJSON, ReplyXML, ReplyText, ReplyForm, ReplyTwilio, ReplyEmpty}, enum("$defs", "case", "properties", "format")},
	} {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s: Go %v, schema %v", name, tt.got, tt.want)
		}
	}
}

// FuzzParseFile: any bytes give a Spec or *ConfigErrors, each inside the file
// when it has a position, and Parse never panics.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(commented))
	f.Add([]byte(`{"a": /* x */ 1,}`))
	for _, name := range mappings.Names() {
		data, _ := mappings.Read(name)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := Parse("f.json", data)
		if err == nil {
			if spec == nil {
				t.Fatal("no Spec and no error")
			}
			return
		}
		lines := bytes.Count(data, []byte{'\n'}) + 1
		for _, p := range Problems(err) {
			ce, ok := p.(*ConfigError)
			if !ok {
				t.Fatalf("%T: %v", p, p)
			}
			if ce.Line > lines || ce.Line < 0 || (ce.Line > 0 && ce.Col < 1) {
				t.Fatalf("position %d:%d outside the file (%d lines): %v", ce.Line, ce.Col, lines, ce)
			}
		}
	})
}

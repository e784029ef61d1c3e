package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

// baseSrc is a small valid mapping; the compile tests break one part at a time.
const baseSrc = `{
  "name": "base",
  "request": {"methods": ["POST", "GET"], "path": "/2010-04-01/Accounts/{AccountSid}/Messages{ext}"},
  "options": {"marker": "<sid>", "risk": "enable"},
  "templates": {"Generic": "Your code is {{code}}", "SignIn": "Sign in with {{code}}"},
  "template_fallback": "Generic",
  "template_requires": ["code"],
  "fields": [
    {"name": "account", "from": ["path:AccountSid"]},
    {"name": "to", "from": ["any:To"], "required": true, "type": "phone"},
    {"name": "message", "from": ["any:Body"], "required": true}
  ],
  "twilio": {
    "messages": {"To": "to", "Body": "message", "RiskCheck": "options.risk"},
    "calls": {"To": "to", "Twiml": "twiml(message)"}
  },
  "reply": {
    "success": {"format": "text", "body": "options.marker + result.sid"},
    "failure": {"format": "json", "body": {"ok": false, "field": "result.field"}}
  }
}`

func baseSpec(t *testing.T) *Spec {
	t.Helper()
	s, err := Parse("t.json", []byte(baseSrc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCompileBase(t *testing.T) {
	m, err := Compile(baseSpec(t), "t.json", Config{Phone: testPhone})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "base" || m.File() != "t.json" || m.MaxBodyBytes() != DefaultMaxBodyBytes {
		t.Errorf("Name/File/MaxBodyBytes = %q %q %d", m.Name(), m.File(), m.MaxBodyBytes())
	}
	if !m.Supports("messages") || !m.Supports("calls") || m.Supports("studio") {
		t.Error("Supports is wrong")
	}
	if !m.HasField("to") || m.HasField("nope") || m.SecretField("to") {
		t.Error("HasField/SecretField is wrong")
	}
	opts := m.Options()
	opts["marker"] = "changed"
	if m.Options()["marker"] != "<sid>" {
		t.Error("Options must return a copy")
	}
	// Compiling the same spec twice must give the same result (no mutation).
	spec := baseSpec(t)
	before, _ := json.Marshal(spec)
	for range 2 {
		if _, err := Compile(spec, "t.json", Config{Phone: testPhone, Options: map[string]string{"marker": "<x>"},
			Templates: map[string]string{"SignIn": "{{code}}!"}}); err != nil {
			t.Fatal(err)
		}
	}
	if after, _ := json.Marshal(spec); string(after) != string(before) {
		t.Errorf("Compile changed the spec:\n%s\n%s", before, after)
	}
}

// TestCompileErrors: what the schema cannot see, Compile finds, naming the
// part by its path in the file and placing it there. Shape problems (unknown
// keys, types, enums, sources) are the schema's: see TestBrokenFiles.
func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *Spec)
		cfg    Config
		path   string // ConfigError.Path
		at     string // the text of baseSrc where the error points, "" for no position
		want   string // in the error text
	}{
		{name: "duplicate field", mutate: func(s *Spec) { s.Fields = append(s.Fields, FieldSpec{Name: "to", From: []string{"any:x"}}) },
			path: "fields[3].name", want: `field "to" is declared twice`},
		{name: "bad pattern", mutate: func(s *Spec) { s.Fields[2].Pattern = "([a-z" },
			path: "fields[2].pattern", want: "missing closing"},
		{name: "path source without its segment", mutate: func(s *Spec) { s.Fields[0].From = []string{"path:Sid"} },
			path: "fields[0].from[0]", at: `"path:AccountSid"`, want: `source "path:Sid": request.path has no {Sid}`},
		{name: "path source without a path", mutate: func(s *Spec) { s.Request.Path = "" },
			path: "fields[0].from[0]", at: `"path:AccountSid"`, want: "request.path has no {AccountSid}"},
		{name: "path ext without {ext}", mutate: func(s *Spec) {
			s.Request.Path = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
			s.Fields[2].From = []string{"path:ext"}
		}, path: "fields[2].from[0]", at: `"any:Body"`, want: "request.path has no {ext}"},
		{name: "required without any source", mutate: func(s *Spec) { s.Fields[2].From = nil },
			path: "fields[2]", at: `{"name": "message"`, want: `field "message" is required but has no from, value or default`},
		{name: "phone type without normalizer", cfg: Config{Phone: nil},
			path: "fields[1].type", at: `"phone"}`, want: "has type phone but no phone normalizer is configured"},
		{name: "unknown option in a field value", mutate: func(s *Spec) { s.Fields[2].Value = "options.markr" },
			path: "fields[2].value", want: `unknown option "markr"`},
		{name: "unknown option in a reply", mutate: func(s *Spec) {
			s.Reply.Success = One(ReplyCase{Format: "text", Body: json.RawMessage(`"options.nope"`)})
		}, path: "reply.success.body", at: `"options.marker + result.sid"`, want: `unknown option "nope"`},
		{name: "option read by a computed name", mutate: func(s *Spec) { s.Fields[2].Value = "options['mar' + 'ker']" },
			path: "fields[2].value", want: "literal name"},
		{name: "unknown name in a twilio param", mutate: func(s *Spec) { s.Twilio.Messages["Body"] = "mesage" },
			path: "twilio.messages.Body", at: `"message", "RiskCheck"`, want: "unknown name mesage (1:1)"},
		{name: "unknown name deeper in an expression", mutate: func(s *Spec) { s.Twilio.Messages["Body"] = "message + ' ' + codee" },
			path: "twilio.messages.Body", at: `"message", "RiskCheck"`, want: "unknown name codee (1:17)"},
		{name: "field used before it is read", mutate: func(s *Spec) { s.Fields[1].Value = "message" },
			path: "fields[1].value", want: "unknown name message"},
		{name: "unknown function", mutate: func(s *Spec) { s.Twilio.Messages["Body"] = "shout(message)" },
			path: "twilio.messages.Body", at: `"message", "RiskCheck"`, want: "unknown name shout"},
		{name: "removed builtin now", mutate: func(s *Spec) { s.Twilio.Messages["Body"] = "string(now())" },
			path: "twilio.messages.Body", at: `"message", "RiskCheck"`, want: "now"},
		{name: "type error", mutate: func(s *Spec) { s.Twilio.Messages["Body"] = "message - 1" },
			path: "twilio.messages.Body", at: `"message", "RiskCheck"`, want: "invalid operation"},
		{name: "expression too long", mutate: func(s *Spec) { s.Twilio.Messages["Body"] = "'" + strings.Repeat("a", 9000) + "'" },
			path: "twilio.messages.Body", at: `"message", "RiskCheck"`, want: "too long"},
		{name: "bad twilio.api", mutate: func(s *Spec) { s.Twilio.API = "chanel == 'voice'" },
			path: "twilio.api", want: "unknown name chanel"},
		{name: "bad xml element name", mutate: func(s *Spec) {
			s.Reply.Failure = One(ReplyCase{Format: "xml", Root: "r", Body: json.RawMessage(`{"a b": "result.sid"}`)})
		}, path: `reply.failure.body["a b"]`, want: `"a b" is not a valid XML name`},
		{name: "xml attribute that is an object", mutate: func(s *Spec) {
			s.Reply.Failure = One(ReplyCase{Format: "xml", Root: "r", Body: json.RawMessage(`{"@a": {"b": "1"}}`)})
		}, path: "reply.failure.body.@a", want: `attribute "@a" must be a value`},
		{name: "bad header expression", mutate: func(s *Spec) { s.Reply.Failure.List[0].Headers = map[string]string{"X-Sid": "result.sidd"} },
			path: "reply.failure.headers.X-Sid", want: "has no field sidd"},
		{name: "json body duplicate key", mutate: func(s *Spec) {
			s.Reply.Success = One(ReplyCase{Format: "json", Body: json.RawMessage(`{"a": "1", "a": "2"}`)})
		}, path: "reply.success.body.a", want: `key "a" appears twice`},
		{name: "json body bad expression names the key", mutate: func(s *Spec) {
			s.Reply.Failure.List[0].Body = json.RawMessage(`{"ok": false, "field": "result.feild"}`)
		}, path: "reply.failure.body.field", at: `"result.field"}`, want: "type mapping.Result has no field feild"},
		{name: "status not an int", mutate: func(s *Spec) { s.Reply.Success.List[0].Status = "'200'" },
			path: "reply.success.status", want: "expected int"},
		{name: "when not a bool", mutate: func(s *Spec) { s.Reply.Success.List[0].When = "result.sid" },
			path: "reply.success.when", want: "expected bool"},
		{name: "template without required placeholder", mutate: func(s *Spec) { s.Templates["Register"] = "Welcome!" },
			path: "templates.Register", want: "must contain {{code}}"},
		{name: "template in the file without required placeholder", mutate: func(s *Spec) { s.Templates["SignIn"] = "Welcome!" },
			path: "templates.SignIn", at: `"Sign in with {{code}}"`, want: "must contain {{code}}"},
		{name: "template override without required placeholder", cfg: Config{Templates: map[string]string{"SignIn": "Hi {{ user }}"}},
			want: `t.json: the route's template "SignIn" must contain {{code}}`},
		{name: "template_fallback missing", mutate: func(s *Spec) { s.TemplateFallback = "Default" },
			path: "template_fallback", at: `"Generic",`, want: `no template "Default"`},
		{name: "option override of an undeclared option", cfg: Config{Options: map[string]string{"succes_marker": "x"}},
			want: `t.json: the route sets option "succes_marker", which the mapping does not declare (it has: marker, risk)`},
		{name: "field override of an unknown field", cfg: Config{Fields: map[string][]string{"phone": {"form:mobile"}}},
			want: `t.json: the route sets sources for field "phone", which the mapping does not have`},
		{name: "field override with a bad source", cfg: Config{Fields: map[string][]string{"to": {"cookie:to"}}},
			want: `t.json: the route's sources for field "to": source "cookie:to" has no known kind (form, query, param, json, xml, header, path, basic, any, body)`},
		{name: "field override with a bad basic source", cfg: Config{Fields: map[string][]string{"to": {"basic:token"}}},
			want: `source "basic:token" must be "basic:user" or "basic:password"`},
		{name: "field override without an argument", cfg: Config{Fields: map[string][]string{"to": {"form:"}}},
			want: `source "form:" needs something after the colon`},
		{name: "ext not at the end", mutate: func(s *Spec) { s.Request.Path = "/a{ext}/b" },
			path: "request.path", at: `"/2010-04-01/Accounts/{AccountSid}/Messages{ext}"`, want: "{ext} may only end the last segment"},
		{name: "unbalanced brace", mutate: func(s *Spec) { s.Request.Path = "/a/{AccountSid" },
			path: "request.path", at: `"/2010`, want: "unbalanced brace"},
		{name: "check fails", mutate: func(s *Spec) {
			s.Checks = []CheckSpec{{Expr: "options.risk in ['enable', 'disable']", Message: "risk must be enable or disable"}}
		}, cfg: Config{Options: map[string]string{"risk": "off"}}, path: "checks[0]", want: "risk must be enable or disable"},
		{name: "check without a message", mutate: func(s *Spec) { s.Checks = []CheckSpec{{Expr: "options.marker == ''"}} },
			path: "checks[0]", want: "does not hold: options.marker == ''"},
		{name: "check reading a field", mutate: func(s *Spec) { s.Checks = []CheckSpec{{Expr: "to != ''", Message: "x"}} },
			path: "checks[0].expr", want: "unknown name to"},
		{name: "check reading an unknown option", mutate: func(s *Spec) { s.Checks = []CheckSpec{{Expr: "options.nope == ''", Message: "x"}} },
			path: "checks[0].expr", want: `unknown option "nope"`},
		{name: "check not boolean", mutate: func(s *Spec) { s.Checks = []CheckSpec{{Expr: "options.marker", Message: "x"}} },
			path: "checks[0].expr", want: "expected bool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := baseSpec(t)
			if tt.mutate != nil {
				tt.mutate(spec)
			}
			cfg := tt.cfg
			if cfg.Phone == nil && tt.name != "phone type without normalizer" {
				cfg.Phone = testPhone
			}
			_, err := Compile(spec, "t.json", cfg)
			if err == nil {
				t.Fatal("Compile succeeded")
			}
			ce := configErr(t, err)
			if ce.File != "t.json" {
				t.Errorf("File = %q", ce.File)
			}
			if got := ce.Path.String(); got != tt.path {
				t.Errorf("Path = %s, want %s (error: %v)", got, tt.path, err)
			}
			pos := ""
			if ce.Line > 0 {
				pos = fmt.Sprintf("%d:%d", ce.Line, ce.Col)
			}
			if got := textAt(baseSrc, ce.Line, ce.Col); !strings.HasPrefix(got, tt.at) || (tt.at == "") != (pos == "") {
				t.Errorf("points at %q (%s), want %q (error: %v)", got, pos, tt.at, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			prefix := "t.json"
			if pos != "" {
				prefix += ":" + pos
			}
			if tt.path != "" {
				prefix += ": " + tt.path
			}
			if !strings.HasPrefix(err.Error(), prefix+": ") {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
		})
	}
}

// TestCompileChecksSpecsBuiltInCode: a Spec that did not come from Parse is
// checked against the schema by Compile, as a file would be.
func TestCompileChecksSpecsBuiltInCode(t *testing.T) {
	spec := &Spec{
		Fields: []FieldSpec{{Name: "to", From: []string{"cookie:to"}, Type: "email"}},
		Twilio: TwilioSpec{Messages: map[string]string{"To": "to", "Boddy": "'x'"}},
		Reply:  ReplySpec{Success: One(ReplyCase{Format: "yaml"})},
	}
	_, err := Compile(spec, "code", Config{Phone: testPhone})
	want := []string{
		`code: fields[0].from[0]: source "cookie:to" must be "kind:arg" with kind form, query, param, json, xml, header, path, basic or any; or "body"`,
		`code: fields[0].type: value must be one of 'text', 'phone', 'sender', 'digits', 'json'`,
		`code: reply: missing "failure"`,
		`code: reply.success[0].format: value must be one of 'json', 'xml', 'text', 'form', 'twilio', 'empty'`,
		`code: twilio.messages.Boddy: "Boddy" is not a parameter of Twilio's messages API (allowed: AddressRetention, ApplicationSid, Attempt, Body, ContentRetention, ContentSid, ContentVariables, FallbackFrom, ForceDelivery, MaxPrice, MediaUrl, PersistentAction, ProvideFeedback, RiskCheck, ScheduleType, SendAsMms, SendAt, ShortenUrls, SmartEncoded, StatusCallback, To, TrafficType, ValidityPeriod)`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("error:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	if got := len(Problems(err)); got != len(want) {
		t.Errorf("%d problems, want %d", got, len(want))
	}
}

func TestCompileChecksPass(t *testing.T) {
	spec := baseSpec(t)
	spec.Checks = []CheckSpec{{Expr: "options.risk in ['enable', 'disable']", Message: "m"}}
	for _, v := range []string{"enable", "disable"} {
		if _, err := Compile(spec, "t.json", Config{Phone: testPhone, Options: map[string]string{"risk": v}}); err != nil {
			t.Errorf("risk %s: %v", v, err)
		}
	}
}

func TestLoad(t *testing.T) {
	if _, file, err := Load("nosuchmapping"); err == nil || file != "builtin:nosuchmapping" ||
		!strings.HasPrefix(err.Error(), "builtin:nosuchmapping: no such built-in mapping (built-in: adselfservice, ") || !strings.Contains(err.Error(), " generic, ") {
		t.Errorf("unknown built-in: %v %q", err, file)
	}
	_, file, err := Load("./testdata/none.json")
	if err == nil || file != "./testdata/none.json" || !errors.Is(err, fs.ErrNotExist) ||
		err.Error() != "./testdata/none.json: cannot read the mapping file: no such file or directory" {
		t.Errorf("missing file: %v %q", err, file)
	}
	configErr(t, err)
	if !IsBuiltin("pingone") || IsBuiltin("x.json") || IsBuiltin("a/b") {
		t.Error("IsBuiltin is wrong")
	}
}

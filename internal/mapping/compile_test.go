package mapping

import (
	"encoding/json"
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
	spec.Request.Methods = []string{"post"}
	if _, err := Compile(spec, "t.json", Config{Phone: testPhone}); err != nil {
		t.Fatal(err)
	}
	if spec.Request.Methods[0] != "post" {
		t.Error("Compile changed the spec's methods")
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *Spec)
		cfg    Config
		where  string // ConfigError.Where
		want   string // in the error text
	}{
		{name: "bad field name", mutate: func(s *Spec) { s.Fields[1].Name = "To" },
			where: "fields[1].name", want: `"To" must be an identifier`},
		{name: "reserved field name", mutate: func(s *Spec) { s.Fields[1].Name = "result" },
			where: "fields[1].name", want: "not options, route, request or result"},
		{name: "duplicate field", mutate: func(s *Spec) { s.Fields = append(s.Fields, FieldSpec{Name: "to", From: []string{"any:x"}}) },
			where: `field "to"`, want: "is declared twice"},
		{name: "unknown type", mutate: func(s *Spec) { s.Fields[2].Type = "email" },
			where: `field "message"`, want: `unknown type "email"`},
		{name: "bad pattern", mutate: func(s *Spec) { s.Fields[2].Pattern = "([a-z" },
			where: `field "message".pattern`, want: "missing closing"},
		{name: "bad max_length", mutate: func(s *Spec) { s.Fields[2].MaxLength = -1 },
			where: `field "message".max_length`, want: "between 1 and"},
		{name: "unknown source kind", mutate: func(s *Spec) { s.Fields[2].From = []string{"any:Body", "cookie:x"} },
			where: `field "message".from[1]`, want: "unknown source kind cookie"},
		{name: "source without argument", mutate: func(s *Spec) { s.Fields[2].From = []string{"form:"} },
			where: `field "message".from[0]`, want: `source must be "kind:arg"`},
		{name: "bad basic source", mutate: func(s *Spec) { s.Fields[2].From = []string{"basic:token"} },
			where: `field "message".from[0]`, want: `"basic:user" or "basic:password"`},
		{name: "path source without its segment", mutate: func(s *Spec) { s.Fields[0].From = []string{"path:Sid"} },
			where: `field "account".from[0]`, want: "request.path has no {Sid}"},
		{name: "path source without a path", mutate: func(s *Spec) { s.Request.Path = "" },
			where: `field "account".from[0]`, want: "request.path has no {AccountSid}"},
		{name: "path ext without {ext}", mutate: func(s *Spec) {
			s.Request.Path = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
			s.Fields[2].From = []string{"path:ext"}
		}, where: `field "message".from[0]`, want: "request.path has no {ext}"},
		{name: "required without any source", mutate: func(s *Spec) { s.Fields[2].From = nil },
			where: `field "message"`, want: "is required but has no from, value or default"},
		{name: "phone type without normalizer", cfg: Config{Phone: nil},
			where: `field "to"`, want: "no phone normalizer"},
		{name: "unknown option in a field value", mutate: func(s *Spec) { s.Fields[2].Value = "options.markr" },
			where: `field "message".value`, want: `unknown option "markr"`},
		{name: "unknown option in a reply", mutate: func(s *Spec) {
			s.Reply.Success = Cases{{Format: "text", Body: json.RawMessage(`"options.nope"`)}}
		}, where: "", want: `reply.success[0].body: unknown option "nope"`},
		{name: "option read by a computed name", mutate: func(s *Spec) { s.Fields[2].Value = "options['mar' + 'ker']" },
			where: `field "message".value`, want: "literal name"},
		{name: "unknown name in a twilio param", mutate: func(s *Spec) { s.Twilio.Messages["Body"] = "mesage" },
			where: "twilio.messages.Body", want: "unknown name mesage (1:1)"},
		{name: "unknown name deeper in an expression", mutate: func(s *Spec) { s.Twilio.Messages["Body"] = "message + ' ' + codee" },
			where: "twilio.messages.Body", want: "unknown name codee (1:17)"},
		{name: "field used before it is read", mutate: func(s *Spec) { s.Fields[1].Value = "message" },
			where: `field "to".value`, want: "unknown name message"},
		{name: "unknown function", mutate: func(s *Spec) { s.Twilio.Messages["Body"] = "shout(message)" },
			where: "twilio.messages.Body", want: "unknown name shout"},
		{name: "removed builtin now", mutate: func(s *Spec) { s.Twilio.Messages["Body"] = "string(now())" },
			where: "twilio.messages.Body", want: "now"},
		{name: "type error", mutate: func(s *Spec) { s.Twilio.Messages["Body"] = "message - 1" },
			where: "twilio.messages.Body", want: "invalid operation"},
		{name: "expression too long", mutate: func(s *Spec) { s.Twilio.Messages["Body"] = "'" + strings.Repeat("a", 9000) + "'" },
			where: "twilio.messages.Body", want: "too long"},
		{name: "From in twilio params", mutate: func(s *Spec) { s.Twilio.Messages["From"] = "'+15005550006'" },
			where: "twilio.messages.From", want: "set by the route's sender settings"},
		{name: "MessagingServiceSid in twilio params", mutate: func(s *Spec) { s.Twilio.Messages["MessagingServiceSid"] = "'MG1'" },
			where: "twilio.messages.MessagingServiceSid", want: "set by the route's sender settings"},
		{name: "From in calls params", mutate: func(s *Spec) { s.Twilio.Calls["From"] = "'+15005550006'" },
			where: "twilio.calls.From", want: "sender settings"},
		{name: "unknown Twilio param", mutate: func(s *Spec) { s.Twilio.Messages["Boddy"] = "message" },
			where: "twilio.messages.Boddy", want: "is not a parameter of Twilio's messages API"},
		{name: "messages param on studio", mutate: func(s *Spec) { s.Twilio.Studio = map[string]string{"To": "to", "Body": "message"} },
			where: "twilio.studio.Body", want: "is not a parameter of Twilio's studio API"},
		{name: "missing To", mutate: func(s *Spec) { delete(s.Twilio.Calls, "To") },
			where: "twilio.calls", want: "must set To"},
		{name: "no twilio section", mutate: func(s *Spec) { s.Twilio = TwilioSpec{} },
			where: "twilio", want: "at least one of messages, calls or studio"},
		{name: "bad twilio.api", mutate: func(s *Spec) { s.Twilio.API = "chanel == 'voice'" },
			where: "twilio.api", want: "unknown name chanel"},
		{name: "bad reply format", mutate: func(s *Spec) { s.Reply.Failure[0].Format = "yaml" },
			where: "", want: `reply.failure[0].format: unknown format "yaml"`},
		{name: "bad xml root", mutate: func(s *Spec) {
			s.Reply.Failure[0].Format, s.Reply.Failure[0].Root = "xml", "1root"
		}, want: `reply.failure[0].root: "1root" is not a valid XML element name`},
		{name: "xml body not an object", mutate: func(s *Spec) {
			s.Reply.Failure = Cases{{Format: "xml", Root: "r", Body: json.RawMessage(`"result.sid"`)}}
		}, want: "an xml body must be an object"},
		{name: "bad xml element name", mutate: func(s *Spec) {
			s.Reply.Failure = Cases{{Format: "xml", Root: "r", Body: json.RawMessage(`{"a b": "result.sid"}`)}}
		}, want: `"a b" is not a valid XML name`},
		{name: "xml attribute that is an object", mutate: func(s *Spec) {
			s.Reply.Failure = Cases{{Format: "xml", Root: "r", Body: json.RawMessage(`{"@a": {"b": "1"}}`)}}
		}, want: `attribute "@a" must be a value`},
		{name: "bad header name", mutate: func(s *Spec) { s.Reply.Failure[0].Headers = map[string]string{"Retry After": "'1'"} },
			want: `reply.failure[0].headers: "Retry After" is not a valid header name`},
		{name: "bad header expression", mutate: func(s *Spec) { s.Reply.Failure[0].Headers = map[string]string{"X-Sid": "result.sidd"} },
			want: "reply.failure[0].headers.X-Sid"},
		{name: "text body not a string", mutate: func(s *Spec) { s.Reply.Success[0].Body = json.RawMessage(`{"a": "1"}`) },
			want: "a text body must be one expression string"},
		{name: "form body nested", mutate: func(s *Spec) {
			s.Reply.Success = Cases{{Format: "form", Body: json.RawMessage(`{"a": {"b": "1"}}`)}}
		}, want: "a form body must be an object of expressions"},
		{name: "json body duplicate key", mutate: func(s *Spec) {
			s.Reply.Success = Cases{{Format: "json", Body: json.RawMessage(`{"a": "1", "a": "2"}`)}}
		}, want: `key "a" appears twice`},
		{name: "json body bad expression names the key", mutate: func(s *Spec) {
			s.Reply.Success = Cases{{Format: "json", Body: json.RawMessage(`{"error": {"code": "result.cod"}}`)}}
		}, want: "reply.success[0].body: error.code: type mapping.Result has no field cod"},
		{name: "twilio root", mutate: func(s *Spec) { s.Reply.Success = Cases{{Format: "twilio", Root: "csv"}} },
			want: `format twilio takes root "json" or "xml"`},
		{name: "twilio body not an object", mutate: func(s *Spec) {
			s.Reply.Success = Cases{{Format: "twilio", Body: json.RawMessage(`["result.sid"]`)}}
		}, want: "a twilio body must be an object"},
		{name: "status not an int", mutate: func(s *Spec) { s.Reply.Success[0].Status = "'200'" },
			want: "reply.success[0].status"},
		{name: "when not a bool", mutate: func(s *Spec) { s.Reply.Success[0].When = "result.sid" },
			want: "reply.success[0].when"},
		{name: "missing failure reply", mutate: func(s *Spec) { s.Reply.Failure = nil },
			where: "reply", want: "needs both success and failure"},
		{name: "bad invalid reply", mutate: func(s *Spec) { s.Reply.Invalid = Cases{{Format: "nope"}} },
			want: "reply.invalid[0].format"},
		{name: "template without required placeholder", mutate: func(s *Spec) { s.Templates["Register"] = "Welcome!" },
			where: "template Register", want: "must contain {{code}}"},
		{name: "template override without required placeholder", cfg: Config{Templates: map[string]string{"SignIn": "Hi {{ user }}"}},
			where: "template SignIn", want: "must contain {{code}}"},
		{name: "template_fallback missing", mutate: func(s *Spec) { s.TemplateFallback = "Default" },
			where: "template_fallback", want: `no template "Default"`},
		{name: "option override of an undeclared option", cfg: Config{Options: map[string]string{"succes_marker": "x"}},
			where: "option succes_marker", want: `the mapping declares no option "succes_marker" (it has: marker, risk)`},
		{name: "field override of an unknown field", cfg: Config{Fields: map[string][]string{"phone": {"form:mobile"}}},
			where: "field phone", want: "the mapping has no such field"},
		{name: "field override with a bad source", cfg: Config{Fields: map[string][]string{"to": {"cookie:to"}}},
			where: `field "to".from[0]`, want: "unknown source kind cookie"},
		{name: "unsupported method", mutate: func(s *Spec) { s.Request.Methods = []string{"DELETE"} },
			where: "request.methods", want: `method "DELETE" is not supported`},
		{name: "unknown request format", mutate: func(s *Spec) { s.Request.Format = "yaml" },
			where: "request.format", want: `unknown format "yaml"`},
		{name: "relative path", mutate: func(s *Spec) { s.Request.Path = "sms" },
			where: "request.path", want: "must start with /"},
		{name: "ext not at the end", mutate: func(s *Spec) { s.Request.Path = "/a{ext}/b" },
			where: "request.path", want: "{ext} may only end the last segment"},
		{name: "unbalanced brace", mutate: func(s *Spec) { s.Request.Path = "/a/{AccountSid" },
			where: "request.path", want: "unbalanced brace"},
		{name: "body cap too large", mutate: func(s *Spec) { s.Request.MaxBodyBytes = 11 << 20 },
			where: "request.max_body_bytes", want: "between 1 and"},
		{name: "check fails", mutate: func(s *Spec) {
			s.Checks = []CheckSpec{{Expr: "options.risk in ['enable', 'disable']", Message: "risk must be enable or disable"}}
		}, cfg: Config{Options: map[string]string{"risk": "off"}}, where: "checks[0]", want: "risk must be enable or disable"},
		{name: "check without a message", mutate: func(s *Spec) { s.Checks = []CheckSpec{{Expr: "options.marker == ''"}} },
			where: "checks[0]", want: "does not hold: options.marker == ''"},
		{name: "check reading a field", mutate: func(s *Spec) { s.Checks = []CheckSpec{{Expr: "to != ''", Message: "x"}} },
			where: "checks[0]", want: "unknown name to"},
		{name: "check reading an unknown option", mutate: func(s *Spec) { s.Checks = []CheckSpec{{Expr: "options.nope == ''", Message: "x"}} },
			where: "checks[0]", want: `unknown option "nope"`},
		{name: "check not boolean", mutate: func(s *Spec) { s.Checks = []CheckSpec{{Expr: "options.marker", Message: "x"}} },
			where: "checks[0]", want: "expected bool"},
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
			if tt.where != "" && ce.Where != tt.where {
				t.Errorf("Where = %q, want %q (error: %v)", ce.Where, tt.where, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "mapping t.json: ") {
				t.Errorf("error %q does not start with the file", err)
			}
		})
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

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // "" = no error
	}{
		{name: "valid", src: baseSrc},
		{name: "unknown top-level key", src: "{\n  \"name\": \"x\",\n  \"fieldz\": []\n}", want: `mapping t.json:3:3: json: unknown field "fieldz"`},
		{name: "unknown key after the same text as a value", src: "{\n  \"name\": \"nme\",\n  \"nme\": 1\n}", want: `t.json:3:3: json: unknown field "nme"`},
		{name: "unknown nested key", src: "{\n  \"request\": {\n    \"method\": [\"GET\"]\n  }\n}", want: `t.json:3:5: json: unknown field "method"`},
		{name: "unknown key in a reply case", src: `{"reply": {"success": {"fromat": "json"}}}`, want: `t.json:1:24: json: unknown field "fromat"`},
		{name: "unknown key in a list of reply cases", src: `{"reply": {"success": [{"format": "json"}, {"wen": "true"}]}}`, want: `unknown field "wen"`},
		{name: "syntax error", src: "{\n  \"name\": \"x\"\n  \"fields\": []\n}", want: `t.json:3:3: invalid character '"' after object key:value pair`},
		{name: "wrong type", src: "{\n  \"request\": {\"methods\": [1]}\n}", want: `t.json:2:27: json: cannot unmarshal number`},
		{name: "trailing data", src: `{"name": "x"} {}`, want: "unexpected data after the top-level object"},
		{name: "not an object", src: `[]`, want: "cannot unmarshal array"},
		{name: "empty", src: ``, want: "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.json", []byte(tt.src))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			configErr(t, err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	if _, _, err := Load("nosuchmapping"); err == nil || !strings.Contains(err.Error(), "built-in: ") {
		t.Errorf("unknown built-in: %v", err)
	}
	if _, file, err := Load("./testdata/none.json"); err == nil || file != "./testdata/none.json" {
		t.Errorf("missing file: %v %q", err, file)
	}
	if !IsBuiltin("pingone") || IsBuiltin("x.json") || IsBuiltin("a/b") {
		t.Error("IsBuiltin is wrong")
	}
}

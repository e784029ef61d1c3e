package mapping

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/schema"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// wrap makes a small mapping file from its top-level keys (without braces):
// twilio and reply are added when not given.
func wrap(parts string) string {
	if !strings.Contains(parts, `"twilio": {`) {
		parts += `, "twilio": {"messages": {"To": "'+14155552671'"}}`
	}
	if !strings.Contains(parts, `"reply"`) {
		parts += `, "reply": {"success": {}, "failure": {}}`
	}
	return "{" + strings.TrimPrefix(parts, ", ") + "}"
}

// TestLet: a let is its expression written where its name is used, seen
// by every expression below it that sees what it reads.
func TestLet(t *testing.T) {
	src := wrap(`
  "options": {"greeting": "Hi"},
  "let": {
    "hello": "options.greeting + ' there'",
    "loud": "upper(message)",
    "spoken": "twiml(message)",
    "louder": "loud + '!'",
    "outcome_word": "result.ok ? 'sent' : 'failed: ' + result.problem"
  },
  "fields": [
    {"name": "to", "from": ["any:to"], "required": true, "type": "phone"},
    {"name": "message", "from": ["any:message"], "required": true},
    {"name": "shout", "value": "louder"}
  ],
  "twilio": {"api": "route.channel == 'voice' ? 'calls' : 'messages'",
    "messages": {"To": "to", "Body": "hello + ': ' + shout"},
    "calls": {"To": "to", "Twiml": "spoken"}},
  "reply": {"success": {"format": "text", "body": "outcome_word"}, "failure": {"format": "text", "body": "outcome_word"}}`)
	m := mustCompile(t, src, Config{})
	// <Dial> would fail twiml(): a let is evaluated only where it is used.
	v, err := run(m, form("to=%2B14155552671&message=code+<Dial>1</Dial>"), Route{})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Field("shout"); got != "CODE <DIAL>1</DIAL>!" {
		t.Errorf("shout = %q", got)
	}
	p, err := m.Params(v, twilio.Messages)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Get("Body"); got != "Hi there: CODE <DIAL>1</DIAL>!" {
		t.Errorf("Body = %q", got)
	}
	if _, err := m.Params(v, twilio.Calls); inputErr(t, err).Field != "message" {
		t.Errorf("Twiml through a let blames %q, want message", inputErr(t, err).Field)
	}
	for res, want := range map[*Result]string{
		{OK: true, Outcome: OutcomeAccepted}:        "sent",
		{Outcome: OutcomeRateLimited, ErrorCode: 1}: "failed: rate_limited",
	} {
		r, err := m.Reply(v, res)
		if err != nil || string(r.Body) != want {
			t.Errorf("reply %q %v, want %q", r.Body, err, want)
		}
	}
}

func TestLetErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"declared below", wrap(`"let": {"a": "b", "b": "1"}`), `let.a: let "b" is declared below: an expression sees only the lets above it`},
		{"itself", wrap(`"let": {"a": "a + 1"}`), `let.a: let "a" cannot use itself`},
		{"result outside replies", wrap(`"let": {"a": "result.sid"}, "twilio": {"messages": {"To": "a"}}`),
			`twilio.messages.To: let "a" reads result, which only replies see`},
		{"a field read later", wrap(`"let": {"a": "y"}, "fields": [{"name": "x", "value": "a"}, {"name": "y", "from": ["any:y"]}], "twilio": {"messages": {"To": "x"}}`),
			`fields[0].value: let "a" reads field "y", which is read after this field`},
		{"route in a check", wrap(`"options": {"o": "1"}, "checks": [{"expr": "a != ''"}], "let": {"a": "route.channel"}`),
			`checks[0].expr: let "a" reads route, and checks see only options and tables`},
		{"hidden by the expression's own let", wrap(`"let": {"a": "'1'"}, "twilio": {"messages": {"To": "let a = '2'; a"}}`),
			`twilio.messages.To: "let a = ..." inside the expression hides the mapping's let "a": choose another name`},
		{"a function's name", wrap(`"let": {"len": "1"}`), `let.len: "len" is a function's name: a let needs its own`},
		{"render's name", wrap(`"let": {"render": "1"}`), `let.render: "render" is a function's name: a let needs its own`},
		{"a field's name", wrap(`"let": {"to": "1"}, "fields": [{"name": "to", "from": ["any:to"]}]`), `let.to: "to" is a field's name: a let needs its own`},
		{"a reserved name", wrap(`"let": {"result": "1"}`), `let.result: "result" is a reserved name: a let needs its own`},
		{"a word of the language", wrap(`"let": {"matches": "1"}`), `let.matches: "matches" is a reserved name: a let needs its own`},
		{"syntax", wrap(`"let": {"a": "1 +"}`), "let.a: unexpected token EOF"},
		{"unknown name", wrap(`"let": {"a": "nope"}`), "let.a: unknown name nope"},
		{"type error at the use", wrap(`"let": {"a": "1"}, "reply": {"success": {"status": "a + 'x'"}, "failure": {}}`), "reply.success.status: invalid operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileSrc(tt.src, Config{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestLetInChecks: a let over options only serves the checks too.
func TestLetInChecks(t *testing.T) {
	src := wrap(`"options": {"mode": "on"}, "let": {"mode_ok": "options.mode in ['on', 'off']"},
  "checks": [{"expr": "mode_ok", "message": "mode must be on or off"}]`)
	mustCompile(t, src, Config{})
	if _, err := compileSrc(src, Config{Options: map[string]string{"mode": "maybe"}}); err == nil || !strings.Contains(err.Error(), "checks[0]: mode must be on or off") {
		t.Errorf("error %v", err)
	}
}

func TestTables(t *testing.T) {
	src := wrap(`
  "tables": {"codes": {"to": 21211, "message": 21617}, "words": {"a": "apple", "yes": true, "half": 0.5}},
  "let": {"code": "tables.codes[result.field] ?? 20001"},
  "fields": [{"name": "k", "from": ["any:k"]}],
  "reply": {"success": {"body": {"word": "tables.words[k]", "code": "code", "plus": "code + 1", "s": "string(code)"}}, "failure": {}}`)
	m := mustCompile(t, src, Config{})
	for _, tt := range []struct{ k, field, want string }{
		{"a", "to", `{"word":"apple","code":21211,"plus":21212,"s":"21211"}`},
		{"yes", "nope", `{"word":true,"code":20001,"plus":20002,"s":"20001"}`},
		{"half", "", `{"word":0.5,"code":20001,"plus":20002,"s":"20001"}`},
		{"none", "message", `{"word":null,"code":21617,"plus":21618,"s":"21617"}`},
	} {
		v, err := run(m, form("k="+tt.k), Route{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := m.Reply(v, &Result{OK: true, Field: tt.field})
		if err != nil || string(r.Body) != tt.want {
			t.Errorf("%s/%s: %s %v, want %s", tt.k, tt.field, r.Body, err, tt.want)
		}
	}
	for name, tt := range map[string]struct{ src, want string }{
		"unknown table":  {wrap(`"tables": {"a": {}}, "let": {"x": "tables.b['k']"}`), `let.x: unknown table "b" (declare it in the mapping's tables)`},
		"computed table": {wrap(`"tables": {"a": {}}, "let": {"x": "tables[string(1)]"}`), "let.x: tables must be read with a literal name, as tables.name"},
		"field named tables": {wrap(`"fields": [{"name": "tables", "from": ["any:t"]}]`),
			`fields[0].name: "tables" is a reserved name (options, tables, route, request and result)`},
	} {
		if _, err := compileSrc(tt.src, Config{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", name, err, tt.want)
		}
	}
}

// TestRender: render(key) is fill(template(key), fields): the fields read
// before it, not later or secret ones; extra values add or replace; the
// route's templates count.
func TestRender(t *testing.T) {
	src := wrap(`
  "templates": {"Generic": "{{code}} for {{to}} by {{user}} ({{secret}}) {{later}} {{type}}", "Short": "{{code}}"},
  "template_fallback": "Generic",
  "fields": [
    {"name": "to", "from": ["any:to"], "type": "phone"},
    {"name": "code", "from": ["any:code"]},
    {"name": "user", "from": ["any:user"]},
    {"name": "secret", "from": ["any:pw"], "secret": true},
    {"name": "type", "from": ["any:type"], "default": "Generic"},
    {"name": "message", "value": "render(type)"},
    {"name": "spelled", "value": "render('Short', {'code': spaced(code), 'extra': 'x'})"},
    {"name": "later", "value": "'late'"}
  ],
  "twilio": {"messages": {"To": "to", "Body": "render('Generic')"}}`)
	m := mustCompile(t, src, Config{})
	v, err := run(m, form("to=%2B14155552671&code=123&user=ann&pw=hunter2"), Route{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.Field("message"), "123 for +14155552671 by ann ({{secret}}) {{later}} Generic"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	if got := v.Field("spelled"); got != "1 2 3" {
		t.Errorf("spelled = %q", got)
	}
	p, err := m.Params(v, twilio.Messages)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Get("Body"), "123 for +14155552671 by ann ({{secret}}) late Generic"; got != want {
		t.Errorf("Body = %q, want %q (every field is read before twilio)", got, want)
	}
	v, err = run(m, form("to=%2B14155552671&code=9&type=Short"), Route{})
	if err != nil || v.Field("message") != "9" {
		t.Errorf("message %q %v", v.Field("message"), err)
	}
	m = mustCompile(t, src, Config{Templates: map[string]string{"Short": "Code: {{code}}"}})
	v, _ = run(m, form("to=%2B14155552671&code=9&type=Short"), Route{})
	if v.Field("message") != "Code: 9" {
		t.Errorf("route template: %q", v.Field("message"))
	}
	if _, err := compileSrc(wrap(`"templates": {"a": "x"}, "fields": [{"name": "m", "value": "render('b')"}]`), Config{}); err == nil ||
		!strings.Contains(err.Error(), `fields[0].value: render("b"): no such template (and no template_fallback)`) {
		t.Errorf("unknown template: %v", err)
	}
	mustCompile(t, wrap(`"templates": {"a": "x"}, "fields": [{"name": "m", "value": "render('b')"}]`), Config{Templates: map[string]string{"b": "y"}})
	for _, bad := range []string{"render()", "render('a', {}, {})"} {
		_, err := compileSrc(wrap(`"templates": {"a": "x"}, "fields": [{"name": "m", "value": "`+bad+`"}]`), Config{})
		if err == nil || !strings.Contains(err.Error(), "render takes a template key") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// TestReplyDefaults: a key a case does not set comes from its group's
// defaults, else the reply's; headers merge by name; errors name where the
// key is written; the merged case must hold together.
func TestReplyDefaults(t *testing.T) {
	src := wrap(`
  "fields": [{"name": "to", "from": ["any:to"]}],
  "reply": {
    "defaults": {"content_type": "text/plain; charset=utf-8", "headers": {"X-Adapter": "'sms'", "X-Case": "'top'"}},
    "success": {"format": "text", "body": "'ok ' + result.sid"},
    "failure": {
      "defaults": {"format": "text", "status": "503", "headers": {"x-case": "'group'", "Retry-After": "result.retry_after > 0 ? string(result.retry_after) : ''"}},
      "cases": [
        {"when": "result.problem == 'rate_limited'", "status": "429", "body": "'slow down'"},
        {"when": "result.problem == 'missing'", "status": "400", "format": "json", "content_type": "", "body": {"missing": "result.field"}},
        {"body": "'failed'", "headers": {"X-Case": "'own'"}}
      ]
    }
  }`)
	m := mustCompile(t, src, Config{})
	v := m.NewValues(Route{}, Request{})
	tests := []struct {
		name   string
		res    *Result
		status int
		body   string
		header map[string]string
	}{
		{"success takes the reply's defaults", &Result{OK: true, Sid: "SM1"}, 200, "ok SM1",
			map[string]string{"Content-Type": "text/plain; charset=utf-8", "X-Adapter": "sms", "X-Case": "top"}},
		{"group defaults", &Result{Outcome: OutcomeRateLimited, RetryAfter: 3}, 429, "slow down",
			map[string]string{"Content-Type": "text/plain; charset=utf-8", "X-Case": "group", "Retry-After": "3", "X-Adapter": "sms"}},
		{"a case's own keys win", &Result{Outcome: OutcomeInvalid, Field: "to", Problem: ProblemMissing}, 400, `{"missing":"to"}`,
			map[string]string{"Content-Type": "text/plain; charset=utf-8", "X-Case": "group"}},
		{"own header", &Result{Outcome: OutcomeUnreachable}, 503, "failed", map[string]string{"X-Case": "own", "Retry-After": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := m.Reply(v, tt.res)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.status || string(r.Body) != tt.body {
				t.Errorf("got %d %s, want %d %s", r.Status, r.Body, tt.status, tt.body)
			}
			for k, want := range tt.header {
				if got := r.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
		})
	}

	errs := []struct{ name, reply, want string }{
		{"an error in the reply's defaults", `"defaults": {"status": "result.nope"}, "success": {}, "failure": {}`, "reply.defaults.status: type mapping.Result has no field nope"},
		{"an error in a group's defaults", `"success": {}, "failure": {"defaults": {"headers": {"X-A": "nope"}}, "cases": [{}]}`, "reply.failure.defaults.headers.X-A: unknown name nope"},
		{"an error in a grouped case", `"success": {}, "failure": {"cases": [{}, {"when": "1"}]}`, "reply.failure.cases[1].when: expected bool"},
		{"xml without root", `"defaults": {"format": "xml"}, "success": {"body": {"a": "1"}}, "failure": {"root": "r"}`, "reply.success: format xml needs root"},
		{"xml without root, no defaults", `"success": {"format": "xml"}, "failure": {}`, "t.json:1:23: reply.success: format xml needs root"},
		{"text without body, no defaults", `"success": {"format": "text"}, "failure": {}`, "t.json:1:23: reply.success: format text needs a body"},
		{"xml with a bad root", `"defaults": {"root": "a b"}, "success": {"format": "xml"}, "failure": {}`, `reply.defaults.root: "a b" is not a valid XML name`},
		{"text without body", `"defaults": {"format": "text"}, "success": {"body": "'x'"}, "failure": {}`, "reply.failure: format text needs a body"},
		{"text with an object body", `"defaults": {"body": {"a": "1"}}, "success": {"format": "text"}, "failure": {}`, "reply.defaults.body: must be an expression (a string) for format text"},
		{"form with a nested body", `"defaults": {"body": {"a": {"b": "1"}}}, "success": {"format": "form"}, "failure": {}`, "reply.defaults.body.a: must be a value for format form"},
		{"twilio with a bad root", `"defaults": {"root": "yaml"}, "success": {"format": "twilio"}, "failure": {}`, `reply.defaults.root: root "yaml": format twilio takes json or xml`},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileSrc(wrap(`"reply": {`+tt.reply+`}`), Config{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestCasesJSON: a reply reads as one case, a list or a group, and a Spec
// built in code round-trips through the schema.
func TestCasesJSON(t *testing.T) {
	for src, want := range map[string]Cases{
		`{"status": "1"}`:                                 One(ReplyCase{Status: "1"}),
		`[{"status": "1"}, {"status": "2"}]`:              {List: []ReplyCase{{Status: "1"}, {Status: "2"}}},
		`{"cases": [{"status": "1"}]}`:                    {List: []ReplyCase{{Status: "1"}}, Group: true},
		`{"defaults": {"format": "text"}, "cases": [{}]}`: {Defaults: &ReplyCase{Format: "text"}, List: []ReplyCase{{}}, Group: true},
	} {
		var c Cases
		if err := json.Unmarshal([]byte(src), &c); err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(c)
		b, _ := json.Marshal(want)
		if string(a) != string(b) {
			t.Errorf("%s: %s, want %s", src, a, b)
		}
	}
	spec := &Spec{
		Twilio: TwilioSpec{Messages: map[string]string{"To": "'+14155552671'"}},
		Reply: ReplySpec{Defaults: &ReplyCase{Format: "text"}, Success: Cases{Defaults: &ReplyCase{Status: "201"}, List: []ReplyCase{{Body: json.RawMessage(`"'ok'"`)}}},
			Failure: One(ReplyCase{Body: json.RawMessage(`"'no'"`)})},
	}
	m, err := Compile(spec, "code", Config{Phone: testPhone})
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.Reply(m.NewValues(Route{}, Request{}), &Result{OK: true})
	if err != nil || r.Status != 201 || string(r.Body) != "ok" {
		t.Errorf("%v %v", r, err)
	}
}

// TestRequiredOptions: a route must set them; check (WithoutRoute) need not,
// and skips the checks that read them.
func TestRequiredOptions(t *testing.T) {
	src := wrap(`"options": {"mode": "a"}, "required_options": ["label"],
  "checks": [{"expr": "options.label matches '^[a-z]+$'", "message": "label must be lower-case letters"}, {"expr": "options.mode == 'a'", "message": "mode must be a"}],
  "reply": {"success": {"format": "text", "body": "options.label"}, "failure": {}}`)
	m := mustCompile(t, src, Config{Options: map[string]string{"label": "shop"}})
	r, err := m.Reply(m.NewValues(Route{}, Request{}), &Result{OK: true})
	if err != nil || string(r.Body) != "shop" {
		t.Errorf("%s %v", r.Body, err)
	}
	for name, tt := range map[string]struct {
		cfg  Config
		want string
	}{
		"unset":                 {Config{}, `t.json: the mapping requires option "label", which the route does not set (option label <value>)`},
		"empty":                 {Config{Options: map[string]string{"label": ""}}, `requires option "label"`},
		"set but broken":        {Config{Options: map[string]string{"label": "Shop"}}, "checks[0]: label must be lower-case letters"},
		"unknown option":        {Config{Options: map[string]string{"lable": "x"}}, `the route sets option "lable", which the mapping does not declare (it has: label, mode)`},
		"without a route too":   {Config{WithoutRoute: true, Options: map[string]string{"mode": "b"}}, "checks[1]: mode must be a"},
		"without a route, set":  {Config{WithoutRoute: true, Options: map[string]string{"label": "Shop"}}, "checks[0]: label must be lower-case letters"},
		"without a route, fine": {Config{WithoutRoute: true}, ""},
	} {
		_, err := compileSrc(src, tt.cfg)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want %q", name, err, tt.want)
		}
	}
	_, err = compileSrc(wrap(`"options": {"label": "x"}, "required_options": ["label"]`), Config{})
	if err == nil || !strings.Contains(err.Error(), `t.json:1:15: options.label: option "label" is in required_options`) {
		t.Errorf("required and defaulted: %v", err)
	}
	_, err = compileSrc(wrap(`"required_options": ["nope"], "let": {"x": "options.nop"}`), Config{WithoutRoute: true})
	if err == nil || !strings.Contains(err.Error(), `unknown option "nop"`) {
		t.Errorf("typo: %v", err)
	}
}

// TestRouteDefaults: what the file declares, typed, for the route to apply;
// assume_numbers applies at compile time unless the route has its own.
func TestRouteDefaults(t *testing.T) {
	src := wrap(`"route_defaults": {"timeout": "2.5s", "dedup": "90s", "default_region": "gb", "assume_numbers": "International"},
  "fields": [{"name": "to", "from": ["any:to"], "type": "phone", "assume": "national"}]`)
	spec, err := Parse("t.json", []byte(src))
	if err == nil {
		t.Fatal("the schema takes assume_numbers in lower case only")
	}
	spec, err = Parse("t.json", []byte(strings.Replace(src, "International", "international", 1)))
	if err != nil {
		t.Fatal(err)
	}
	want := RouteDefaults{Timeout: 2500 * time.Millisecond, Dedup: 90 * time.Second, DefaultRegion: "GB", AssumeNumbers: AssumeInternational}
	if got := spec.Defaults(); got != want {
		t.Errorf("Spec.Defaults() = %+v, want %+v", got, want)
	}
	m, err := Compile(spec, "t.json", Config{Phone: testPhone})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Defaults(); got != want {
		t.Errorf("Mapping.Defaults() = %+v", got)
	}
	if got := m.FieldAssume("to"); got != AssumeInternational {
		t.Errorf("assume_numbers does not win over the field's: %q", got)
	}
	m, _ = Compile(spec, "t.json", Config{Phone: testPhone, Assume: "national"})
	if got := m.FieldAssume("to"); got != AssumeNational {
		t.Errorf("the route's assume does not win: %q", got)
	}
	spec, _ = Parse("t.json", []byte(wrap(`"route_defaults": {"dedup": "off"}`)))
	if got := spec.Defaults(); got != (RouteDefaults{DedupOff: true}) {
		t.Errorf("dedup off: %+v", got)
	}
	spec, _ = Parse("t.json", []byte(wrap(`"route_defaults": {"timeout": "99999999999h"}`)))
	if _, err := Compile(spec, "t.json", Config{Phone: testPhone}); err == nil || !strings.Contains(err.Error(), `route_defaults.timeout: "99999999999h" is not a duration`) {
		t.Errorf("overflow: %v", err)
	}
	if got := spec.Defaults(); got != (RouteDefaults{}) {
		t.Errorf("Defaults of a broken file: %+v", got)
	}
	if got := baseSpec(t).Defaults(); got != (RouteDefaults{}) {
		t.Errorf("no route_defaults: %+v", got)
	}
}

// TestClassify: result.problem and result.twilio_code from what the Result
// holds, with the field's Twilio parameter and the request's API.
func TestClassify(t *testing.T) {
	src := wrap(`
  "fields": [
    {"name": "kind", "from": ["any:kind"]},
    {"name": "to", "from": ["any:to"], "type": "phone"},
    {"name": "from", "from": ["any:from"], "type": "sender"},
    {"name": "text", "from": ["any:text"]},
    {"name": "voice_text", "from": ["any:voice"]},
    {"name": "extra", "from": ["any:extra"]}
  ],
  "twilio": {"api": "kind == 'call' ? 'calls' : 'messages'",
    "messages": {"To": "to", "Body": "text", "StatusCallback": "extra"},
    "calls": {"To": "to", "Twiml": "twiml(voice_text)"}}`)
	m := mustCompile(t, src, Config{})
	msg := m.NewValues(Route{}, Request{})
	call, _ := run(m, form("kind=call"), Route{})
	tests := []struct {
		name    string
		v       *Values
		res     Result
		problem string
		code    int
	}{
		{"accepted", msg, Result{OK: true, Outcome: OutcomeAccepted, Problem: "x", TwilioCode: 1}, "", 0},
		{"Twilio's code", msg, Result{Outcome: OutcomeRejected, ErrorCode: 21610, HTTPStatus: 400}, ProblemRejected, 21610},
		{"Twilio without a code", msg, Result{Outcome: OutcomeRejected, HTTPStatus: 500}, ProblemRejected, 20001},
		{"unknown", msg, Result{Outcome: OutcomeUnknown}, ProblemUnknown, 20500},
		{"unreachable", msg, Result{Outcome: OutcomeUnreachable}, ProblemUnreachable, 20503},
		{"unavailable", msg, Result{Outcome: OutcomeUnavailable}, ProblemUnavailable, 20503},
		{"rate limited", msg, Result{Outcome: OutcomeRateLimited}, ProblemRateLimited, 20429},
		{"blocked", msg, Result{Outcome: OutcomeBlocked, Field: "to"}, ProblemBlocked, 21408},
		{"blocked with the gateway's code", msg, Result{Outcome: OutcomeBlocked, Field: "to", ErrorCode: 21408}, ProblemBlocked, 21408},
		{"To missing", msg, Result{Outcome: OutcomeInvalid, Field: "to", Problem: ProblemMissing}, ProblemMissing, 21604},
		{"To invalid", msg, Result{Outcome: OutcomeInvalid, Field: "to", Problem: ProblemInvalid}, ProblemInvalid, 21211},
		{"To too long", msg, Result{Outcome: OutcomeInvalid, Field: "to", Problem: ProblemTooLong}, ProblemTooLong, 21211},
		{"call: To missing", call, Result{Outcome: OutcomeInvalid, Field: "to", Problem: ProblemMissing}, ProblemMissing, 21201},
		{"call: To invalid", call, Result{Outcome: OutcomeInvalid, Field: "to", Problem: ProblemInvalid}, ProblemInvalid, 21217},
		{"call by the result's API", msg, Result{Outcome: OutcomeInvalid, Field: "to", Problem: ProblemInvalid, API: "calls"}, ProblemInvalid, 21217},
		{"From invalid", msg, Result{Outcome: OutcomeInvalid, Field: "from", Problem: ProblemInvalid}, ProblemInvalid, 21212},
		{"no sender", msg, Result{Outcome: OutcomeInvalid, Field: "from", Problem: ProblemNoSender}, ProblemNoSender, 21603},
		{"call: no sender", call, Result{Outcome: OutcomeInvalid, Field: "from", Problem: ProblemNoSender}, ProblemNoSender, 21213},
		{"Body missing", msg, Result{Outcome: OutcomeInvalid, Field: "text", Problem: ProblemMissing}, ProblemMissing, 21602},
		{"Body too long", msg, Result{Outcome: OutcomeInvalid, Field: "text", Problem: ProblemTooLong}, ProblemTooLong, 21617},
		{"Twiml", call, Result{Outcome: OutcomeInvalid, Field: "voice_text", Problem: ProblemInvalid}, ProblemInvalid, 12100},
		{"Twiml's field on a message", msg, Result{Outcome: OutcomeInvalid, Field: "voice_text", Problem: ProblemTooLong}, ProblemTooLong, 12100},
		{"another parameter", msg, Result{Outcome: OutcomeInvalid, Field: "extra", Problem: ProblemInvalid}, ProblemInvalid, 20001},
		{"a field for no parameter", msg, Result{Outcome: OutcomeInvalid, Field: "kind", Problem: ProblemInvalid}, ProblemInvalid, 20001},
		{"a parameter by name", msg, Result{Outcome: OutcomeInvalid, Field: "Body", Problem: ProblemTooLong}, ProblemTooLong, 21617},
		{"path", msg, Result{Outcome: OutcomeInvalid, Field: "path", Problem: ProblemInvalid, SuggestedStatus: 404}, ProblemInvalid, 20404},
		{"method", msg, Result{Outcome: OutcomeInvalid, Field: "method", Problem: ProblemInvalid, SuggestedStatus: 405}, ProblemInvalid, 20004},
		{"body", msg, Result{Outcome: OutcomeInvalid, Field: "body", Problem: ProblemTooLong, SuggestedStatus: 413}, ProblemTooLong, 20001},
		{"auth", msg, Result{Outcome: OutcomeInvalid, Field: "authorization", Problem: ProblemAuth}, ProblemAuth, 20003},

		// Results filled without a Problem.
		{"guess: 401", msg, Result{Outcome: OutcomeInvalid, Field: "account_sid", SuggestedStatus: 401}, ProblemAuth, 20003},
		{"guess: authorization", msg, Result{Outcome: OutcomeInvalid, Field: "authorization"}, ProblemAuth, 20003},
		{"guess: the adapter's account_sid", msg, Result{Outcome: OutcomeInvalid, Field: "account_sid", Reason: `field "account_sid" cannot be used`}, ProblemAuth, 20003},
		{"guess: 413", msg, Result{Outcome: OutcomeInvalid, Field: "body", SuggestedStatus: 413}, ProblemTooLong, 20001},
		{"guess: required", msg, Result{Outcome: OutcomeInvalid, Field: "to", Reason: `field "to" is required`}, ProblemMissing, 21604},
		{"guess: longer", msg, Result{Outcome: OutcomeInvalid, Field: "text", Reason: `field "text" is longer than 1600 characters`}, ProblemTooLong, 21617},
		{"guess: no sender", call, Result{Outcome: OutcomeInvalid, Field: "from", Reason: `field "from" cannot be chosen: no sender can send voice to GB`}, ProblemNoSender, 21213},
		{"guess: anything else", msg, Result{Outcome: OutcomeInvalid, Field: "from", Reason: `field "from" has letters in it`}, ProblemInvalid, 21212},
		{"no outcome", msg, Result{}, "", 20001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.res
			m.Classify(tt.v, &res)
			if res.Problem != tt.problem || res.TwilioCode != tt.code {
				t.Errorf("problem %q code %d, want %q %d", res.Problem, res.TwilioCode, tt.problem, tt.code)
			}
		})
	}
	// A mapping field named account_sid is the caller's data, not credentials.
	m2 := mustCompile(t, wrap(`"fields": [{"name": "account_sid", "from": ["path:a"]}], "request": {"path": "/{a}"}`), Config{})
	res := Result{Outcome: OutcomeInvalid, Field: "account_sid", Reason: `field "account_sid" does not have the expected format`}
	m2.Classify(nil, &res)
	if res.Problem != ProblemInvalid || res.TwilioCode != 20001 {
		t.Errorf("mapping's account_sid: %q %d", res.Problem, res.TwilioCode)
	}
}

// TestInputErrorProblems: every input error the package makes says its
// problem, and Result.Invalid carries it.
func TestInputErrorProblems(t *testing.T) {
	src := wrap(`"request": {"methods": ["POST"], "path": "/sms/{x}"},
  "fields": [
    {"name": "to", "from": ["any:to"], "required": true, "type": "phone"},
    {"name": "n", "from": ["any:n"], "type": "digits", "max_length": 3},
    {"name": "p", "from": ["any:p"], "pattern": "[a-z]+"},
    {"name": "j", "from": ["any:j"], "type": "json"},
    {"name": "t", "from": ["any:t"]}
  ],
  "twilio": {"messages": {"To": "to", "Body": "t"}, "calls": {"To": "to", "Twiml": "twiml(t)"}}`)
	m := mustCompile(t, src, Config{})
	tests := []struct {
		q             req
		field, reason string
		problem       string
		status        int
	}{
		{req{target: "/sms/1", contentType: "application/x-www-form-urlencoded", body: "n=1"}, "to", "is required", ProblemMissing, 400},
		{req{target: "/sms/1", contentType: "application/x-www-form-urlencoded", body: "to=abc"}, "to", "has letters in it", ProblemInvalid, 400},
		{req{target: "/sms/1", contentType: "application/x-www-form-urlencoded", body: "to=%2B14155552671&n=1234"}, "n", "is longer than 3 characters", ProblemTooLong, 400},
		{req{target: "/sms/1", contentType: "application/x-www-form-urlencoded", body: "to=%2B14155552671&n=1a"}, "n", "must contain only digits", ProblemInvalid, 400},
		{req{target: "/sms/1", contentType: "application/x-www-form-urlencoded", body: "to=%2B14155552671&p=1"}, "p", "does not have the expected format", ProblemInvalid, 400},
		{req{target: "/sms/1", contentType: "application/x-www-form-urlencoded", body: "to=%2B14155552671&j=x"}, "j", "", ProblemInvalid, 400},
		{req{target: "/nope", contentType: "application/x-www-form-urlencoded", body: "to=1"}, "path", "does not match", ProblemInvalid, 404},
		{req{method: "GET", target: "/sms/1"}, "method", "must be one of POST", ProblemInvalid, 405},
		{req{target: "/sms/1", contentType: "application/json", body: "{"}, "body", "is not valid JSON", ProblemInvalid, 400},
	}
	for _, tt := range tests {
		r, body := tt.q.build()
		in, err := m.ParseRequest(r, body)
		if err == nil {
			_, err = m.Extract(in, Route{})
		}
		ie := inputErr(t, err)
		if ie.Field != tt.field || !strings.Contains(ie.Reason, tt.reason) || ie.Problem != tt.problem || ie.Kind() != tt.problem {
			t.Errorf("%s %s: %+v, want %s %q %s", tt.q.target, tt.q.body, ie, tt.field, tt.reason, tt.problem)
		}
		var res Result
		res.Invalid(ie)
		if res.Outcome != OutcomeInvalid || res.Field != tt.field || res.Problem != tt.problem || res.SuggestedStatus != tt.status || res.Reason != ie.Error() {
			t.Errorf("Invalid: %+v", res)
		}
	}
	post := func(body string) req {
		return req{target: "/sms/1", contentType: "application/x-www-form-urlencoded", body: body}
	}
	v, err := run(m, post("to=%2B14155552671&t="+strings.Repeat("x", 1601)), Route{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Params(v, twilio.Messages); inputErr(t, err).Problem != ProblemTooLong {
		t.Errorf("Body over Twilio's limit: %+v", err)
	}
	v, _ = run(m, post("to=%2B14155552671&t=%3CDial%3E1%3C/Dial%3E"), Route{})
	if _, err := m.Params(v, twilio.Calls); inputErr(t, err).Problem != ProblemInvalid || inputErr(t, err).Field != "t" {
		t.Errorf("TwiML refused: %+v", err)
	}
	v, _ = run(m, post("to=%2B14155552671&t=x"), Route{})
	v.env["to"] = ""
	if _, err := m.Params(v, twilio.Messages); inputErr(t, err).Problem != ProblemMissing {
		t.Errorf("no To: %+v", err)
	}
	for ie, want := range map[*InputError]string{
		{Field: "authorization", Status: 401}: ProblemAuth,
		{Field: "x", Status: 403}:             ProblemAuth,
		{Field: "body", Status: 413}:          ProblemTooLong,
		{Field: "body", Status: 408}:          ProblemInvalid,
		{Field: "from", Problem: "no_sender"}: ProblemNoSender,
	} {
		if got := ie.Kind(); got != want {
			t.Errorf("%+v: Kind %q, want %q", ie, got, want)
		}
	}
}

// TestProblemKindsDocumented: the schema's reply description names every
// problem and every result field, the reference's only account of them.
func TestProblemKindsDocumented(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(schema.Source(), &doc); err != nil {
		t.Fatal(err)
	}
	desc := doc["$defs"].(map[string]any)["reply"].(map[string]any)["description"].(string)
	for _, p := range ProblemKinds() {
		if !strings.Contains(desc, p) {
			t.Errorf("the reply description does not name problem %q", p)
		}
	}
	for f := range reflect.TypeFor[Result]().Fields() {
		if tag := f.Tag.Get("expr"); tag != "-" && !strings.Contains(desc, tag) {
			t.Errorf("the reply description does not name result.%s", tag)
		}
	}
}

// TestLetGrowth: lets that use lets twice cannot grow an expression past
// the node limit.
func TestLetGrowth(t *testing.T) {
	lets := []string{`"a0": "'x'"`}
	for i := 1; i <= 14; i++ {
		lets = append(lets, fmt.Sprintf(`"a%d": "a%d + a%d"`, i, i-1, i-1))
	}
	_, err := compileSrc(wrap(`"let": {`+strings.Join(lets, ", ")+`}`), Config{})
	if err == nil || !strings.Contains(err.Error(), "too large with its lets written out") {
		t.Errorf("error %v", err)
	}
}

// TestHandWritten runs testdata/kannel.json, a mapping written the way an
// operator would: route defaults, a required option, a template rendered
// from the fields, a table of words by result.problem, lets, and failure
// cases that share their defaults.
func TestHandWritten(t *testing.T) {
	const file = "testdata/kannel.json"
	if lines := Check(file, Config{Phone: testPhone}); len(lines) != 1 || !strings.Contains(lines[0], `requires option "smsbox"`) {
		t.Errorf("Check for a route that does not set smsbox: %q", lines)
	}
	if lines := Check(file, Config{Phone: testPhone, WithoutRoute: true}); lines != nil {
		t.Errorf("Check without a route: %q", lines)
	}
	spec, _, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if d := spec.Defaults(); d != (RouteDefaults{Timeout: 2500 * time.Millisecond, Dedup: time.Minute, DefaultRegion: "DE"}) {
		t.Errorf("Defaults %+v", d)
	}
	m, err := LoadAndCompile(file, Config{Phone: testPhone, Options: map[string]string{"smsbox": "box1", "prefix": "ACME: "}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := run(m, req{method: "GET", target: "/cgi-bin/sendsms?to=%2B14155552671&code=123456"}, Route{})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Field("message"); got != "ACME: Your code is 123456" {
		t.Errorf("message %q", got)
	}
	tests := []struct {
		res    Result
		status int
		body   string
	}{
		{Result{OK: true, Outcome: OutcomeAccepted}, 202, "0: Accepted for delivery"},
		{Result{Outcome: OutcomeInvalid, Field: "authorization", Problem: ProblemAuth, SuggestedStatus: 401}, 403, "3: Authorization failed for sendsms"},
		{Result{Outcome: OutcomeInvalid, Field: "to", Problem: ProblemMissing, Reason: `field "to" is required`}, 400, `3: Missing receiver number, rejected (field "to" is required)`},
		{Result{Outcome: OutcomeInvalid, Field: "message", Problem: ProblemMissing}, 400, "3: Missing text, rejected"},
		{Result{Outcome: OutcomeRateLimited, ErrorCode: 20429, RetryAfter: 4, Reason: "slow"}, 503, "3: Too many requests, try again later (slow)"},
		{Result{Outcome: OutcomeUnknown, Reason: "timeout"}, 504, "4: Queued for later delivery, may have been sent"},
		{Result{Outcome: OutcomeRejected, HTTPStatus: 400, ErrorCode: 21610, ErrorMessage: "unsubscribed"}, 400, "3: Sending failed (unsubscribed)"},
	}
	for _, tt := range tests {
		r, err := m.Reply(v, &tt.res)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != tt.status || string(r.Body) != tt.body || r.Header.Get("X-Kannel-Smsbox") != "box1" ||
			r.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("%s: %d %q %v, want %d %q", tt.res.Outcome, r.Status, r.Body, r.Header, tt.status, tt.body)
		}
		if tt.res.Outcome == OutcomeRateLimited && r.Header.Get("Retry-After") != "4" {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
	}
}

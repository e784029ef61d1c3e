package mapping

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/mappings"
)

// TestBuiltinsCompile loads and compiles every built-in mapping with its
// defaults, as a route naming it would.
func TestBuiltinsCompile(t *testing.T) {
	names := mappings.Names()
	for _, want := range []string{"adselfservice", "generic", "logto", "netiq", "pingone", "twilio"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("built-in %q is missing (have %v)", want, names)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			spec, file, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Compile(spec, file, Config{Phone: testPhone})
			if err != nil {
				t.Fatal(err)
			}
			if m.Name() != name || file != "builtin:"+name {
				t.Errorf("Name %q, file %q", m.Name(), file)
			}
		})
	}
}

func compileBuiltin(t *testing.T, name string, cfg Config) (*Mapping, error) {
	t.Helper()
	spec, file, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Phone == nil {
		cfg.Phone = testPhone
	}
	return Compile(spec, file, cfg)
}

// TestADSelfServiceMarkers: whatever markers an admin configures, a success
// answer contains the success marker and not the failure marker, and a failure
// answer the reverse (compared without regard to case); markers that cannot
// satisfy this are refused at provisioning.
func TestADSelfServiceMarkers(t *testing.T) {
	results := map[string]*Result{
		"rejected": {Outcome: OutcomeRejected, HTTPStatus: 400, ErrorCode: 21211, ErrorMessage: "The 'To' number <sid> & <Code> is not a valid phone number."},
		"invalid":  {Outcome: OutcomeInvalid, Field: "to", Reason: `field "to" is required`},
		"limited":  {Outcome: OutcomeRateLimited, ErrorCode: 20429, RetryAfter: 5, Reason: "too many messages for this destination; try again later"},
		"unknown":  {Outcome: OutcomeUnknown, Reason: "Twilio did not answer in time"},
	}
	tests := []struct {
		name            string
		success, fail   string
		wantSuccessBody string
		wantFailureBody string // for "rejected"
		wantErr         string
	}{
		{name: "KB defaults", wantSuccessBody: "<sid>SM0123456789abcdef0123456789abcdef</sid>",
			wantFailureBody: "<Code>21211</Code><Message>The &#39;To&#39; number &lt;sid&gt; &amp; &lt;Code&gt; is not a valid phone number.</Message>"},
		{name: "text markers", success: "OK", fail: "ERROR", wantSuccessBody: "OK SM0123456789abcdef0123456789abcdef",
			wantFailureBody: "ERROR 21211 The 'To' number <sid> & <Code> is not a valid phone number."},
		{name: "lower-case JSON reading", success: "sid", fail: "code", wantSuccessBody: "sid SM0123456789abcdef0123456789abcdef",
			wantFailureBody: "code 21211"},
		{name: "failure marker inside the SID", success: "<sid>", fail: "abcdef", wantSuccessBody: "<sid>",
			wantFailureBody: "abcdef 21211"},
		{name: "failure marker is the closing tag", success: "<sid>", fail: "</sid>", wantSuccessBody: "<sid>",
			wantFailureBody: "</sid> 21211"},
		{name: "success marker contains the failure marker", success: "<sid>", fail: "sid", wantErr: "must not contain each other"},
		{name: "failure marker contains the success marker", success: "Code", fail: "<Code>", wantErr: "must not contain each other"},
		{name: "same marker in other case", success: "<SID>", fail: "<sid>", wantErr: "must not contain each other"},
		{name: "empty marker", success: " ", fail: "<Code>", wantErr: "must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := map[string]string{}
			if tt.success != "" {
				opts["success_marker"] = tt.success
			}
			if tt.fail != "" {
				opts["failure_marker"] = tt.fail
			}
			m, err := compileBuiltin(t, "adselfservice", Config{Options: opts})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sm, fm := strings.ToLower(m.Options()["success_marker"]), strings.ToLower(m.Options()["failure_marker"])
			v := m.NewValues(Route{}, Request{})
			r, err := m.Reply(v, &Result{OK: true, Outcome: OutcomeAccepted, Sid: "SM0123456789abcdef0123456789abcdef", Status: "queued"})
			if err != nil {
				t.Fatal(err)
			}
			body := strings.ToLower(string(r.Body))
			if r.Status != 200 || !strings.Contains(body, sm) || strings.Contains(body, fm) {
				t.Errorf("success %d %q", r.Status, r.Body)
			}
			if string(r.Body) != tt.wantSuccessBody {
				t.Errorf("success body %q, want %q", r.Body, tt.wantSuccessBody)
			}
			for name, res := range results {
				r, err := m.Reply(v, res)
				if err != nil {
					t.Fatal(err)
				}
				body := strings.ToLower(string(r.Body))
				if r.Status < 400 || !strings.Contains(body, fm) || strings.Contains(body, sm) {
					t.Errorf("%s: %d %q", name, r.Status, r.Body)
				}
				if r.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
					t.Errorf("%s: Content-Type %q", name, r.Header.Get("Content-Type"))
				}
				if name == "rejected" && string(r.Body) != tt.wantFailureBody {
					t.Errorf("failure body %q, want %q", r.Body, tt.wantFailureBody)
				}
			}
		})
	}
}

// TestTwilioDialectOwnAnswers: when Twilio gave no body to relay (a repeat
// answered from the dedup cache, the adapter's own refusals), the twilio
// mapping still answers in Twilio's shape, by the path's extension.
func TestTwilioDialectOwnAnswers(t *testing.T) {
	m, err := compileBuiltin(t, "twilio", Config{})
	if err != nil {
		t.Fatal(err)
	}
	const sid = "AC0123456789abcdef0123456789abcdef"
	path := "/2010-04-01/Accounts/" + sid + "/Messages"
	tests := []struct {
		name   string
		ext    string
		res    *Result
		status int
		body   string
	}{
		{name: "repeat as JSON", ext: ".json", res: &Result{OK: true, Outcome: OutcomeAccepted, Sid: "SM1", Status: "queued", AccountSID: sid, Duplicate: true},
			status: 201, body: `{"sid":"SM1","account_sid":"` + sid + `","to":"+14155552671","body":"Hi \u0026 bye","status":"queued","direction":"outbound-api","api_version":"2010-04-01","error_code":null,"error_message":null}`},
		{name: "repeat as XML", res: &Result{OK: true, Outcome: OutcomeAccepted, Sid: "SM1", Status: "queued", AccountSID: sid, HTTPStatus: 201},
			status: 201, body: "<?xml version='1.0' encoding='UTF-8'?>\n<TwilioResponse><Message><Sid>SM1</Sid><AccountSid>" + sid + "</AccountSid><To>+14155552671</To><Body>Hi &amp; bye</Body><Status>queued</Status><Direction>outbound-api</Direction><ApiVersion>2010-04-01</ApiVersion><ErrorCode></ErrorCode><ErrorMessage></ErrorMessage></Message></TwilioResponse>"},
		{name: "rate limited", ext: ".json", res: &Result{Outcome: OutcomeRateLimited, ErrorCode: 20429, RetryAfter: 7, Reason: "too many messages for this destination; try again later"},
			status: 429, body: `{"code":20429,"message":"too many messages for this destination; try again later","more_info":"https://www.twilio.com/docs/errors/20429","status":429}`},
		{name: "geo blocked", ext: ".json", res: &Result{Outcome: OutcomeBlocked, ErrorCode: 21408, Field: "to", Reason: "sending to region IR is not allowed on this route"},
			status: 400, body: `{"code":21408,"message":"sending to region IR is not allowed on this route","more_info":"https://www.twilio.com/docs/errors/21408","status":400}`},
		{name: "Twilio unreachable", ext: ".json", res: &Result{Outcome: OutcomeUnreachable, Reason: "Twilio could not be reached; nothing was sent"},
			status: 502, body: `{"code":20503,"message":"Twilio could not be reached; nothing was sent","more_info":"https://www.twilio.com/docs/errors/20503","status":502}`},
		{name: "no sender", ext: ".json", res: &Result{Outcome: OutcomeInvalid, Field: "from", Reason: `field "from": no sender can send sms to US`},
			status: 400, body: `{"code":21603,"message":"A 'From' or 'MessagingServiceSid' parameter is required to send a message","more_info":"https://www.twilio.com/docs/errors/21603","status":400}`},
		{name: "no sender, by its problem", ext: ".json", res: &Result{Outcome: OutcomeInvalid, Field: "from", Problem: ProblemNoSender, Reason: `field "from" cannot be chosen`},
			status: 400, body: `{"code":21603,"message":"A 'From' or 'MessagingServiceSid' parameter is required to send a message","more_info":"https://www.twilio.com/docs/errors/21603","status":400}`},
		{name: "To missing, by its problem", res: &Result{Outcome: OutcomeInvalid, Field: "to", Problem: ProblemMissing, Reason: "x"},
			status: 400, body: "<?xml version='1.0' encoding='UTF-8'?>\n<TwilioResponse><RestException><Code>21604</Code><Message>A &#39;To&#39; phone number is required.</Message><MoreInfo>https://www.twilio.com/docs/errors/21604</MoreInfo><Status>400</Status></RestException></TwilioResponse>"},
		{name: "unknown resource", ext: ".json", res: &Result{Outcome: OutcomeInvalid, Field: "resource", Problem: ProblemInvalid, Reason: "x"},
			status: 404, body: `{"code":20404,"message":"The requested resource was not found","more_info":"https://www.twilio.com/docs/errors/20404","status":404}`},
		{name: "caller not authenticated", ext: ".json", res: &Result{Outcome: OutcomeInvalid, Field: "authorization", Problem: ProblemAuth, SuggestedStatus: 401, Reason: "x"},
			status: 401, body: `{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, body := req{target: path + tt.ext, contentType: "application/x-www-form-urlencoded", body: "To=%2B14155552671&Body=Hi+%26+bye"}.build()
			in, err := m.ParseRequest(r, body)
			if err != nil {
				t.Fatal(err)
			}
			v, err := m.Extract(in, Route{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Reply(v, tt.res)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.status || string(got.Body) != tt.body {
				t.Errorf("got %d %s\nwant %d %s", got.Status, got.Body, tt.status, tt.body)
			}
			if tt.res.RetryAfter > 0 && got.Header.Get("Retry-After") != "7" {
				t.Errorf("Retry-After %q", got.Header.Get("Retry-After"))
			}
		})
	}
}

// TestBuiltinAssume: the products whose numbers come country code first,
// possibly without "+", read them as international; the others leave it to
// the route (auto). A route's Assume wins. Each description says so.
func TestBuiltinAssume(t *testing.T) {
	want := map[string]string{"logto": AssumeInternational, "pingone": AssumeInternational, "rsa_am": AssumeInternational, "supabase": AssumeInternational,
		"kannel": AssumeInternational, "jasmin": AssumeInternational}
	for _, name := range mappings.Names() {
		t.Run(name, func(t *testing.T) {
			var calls []string
			m, err := compileBuiltin(t, name, Config{PhoneFor: phoneFor(&calls)})
			if err != nil {
				t.Fatal(err)
			}
			if got := m.FieldAssume("to"); got != want[name] {
				t.Errorf("FieldAssume(to) = %q, want %q", got, want[name])
			}
			if got := strings.Join(calls, " "); got != want[name] {
				t.Errorf("PhoneFor calls %q, want %q", got, want[name])
			}
			spec, _, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			if mentions := strings.Contains(spec.Description, `"assume": "international"`); mentions != (want[name] != "") {
				t.Errorf("the description mentions assume: %v, want %v", mentions, want[name] != "")
			}
			m, err = compileBuiltin(t, name, Config{PhoneFor: phoneFor(&calls), Assume: AssumeNational})
			if err != nil {
				t.Fatal(err)
			}
			if got := m.FieldAssume("to"); got != AssumeNational {
				t.Errorf("with the route's assume: FieldAssume(to) = %q", got)
			}
		})
	}
}

// TestBuiltinVoiceLimits: a voice message that would hold the call open is
// refused with an *InputError (400) naming the field that carried it.
func TestBuiltinVoiceLimits(t *testing.T) {
	const sid = "AC0123456789abcdef0123456789abcdef"
	tests := []struct {
		name, mapping, target, body string
		route                       Route
		field, reason               string
	}{
		{name: "PingOne Say loop 0", mapping: "pingone", route: Route{Channel: "voice"},
			body:  "to=%2B14155552671&message=" + url.QueryEscape(`<Say loop="0">1 2 3</Say>`),
			field: "message", reason: "has a Say loop of 0, which repeats forever"},
		{name: "PingOne long pauses", mapping: "pingone", route: Route{Channel: "voice"},
			body:  "to=%2B14155552671&message=" + url.QueryEscape(strings.Repeat(`<Say>1</Say><Pause length="60"/>`, 6)),
			field: "message", reason: "has a pause longer than 10 s"},
		{name: "PingOne many pauses", mapping: "pingone", route: Route{Channel: "voice"},
			body:  "to=%2B14155552671&message=" + url.QueryEscape(strings.Repeat(`<Say>1</Say><Pause length="5"/>`, 7)),
			field: "message", reason: "has pauses longer than 30 s in total"},
		{name: "Twilio Calls loop 0", mapping: "twilio", target: "/2010-04-01/Accounts/" + sid + "/Calls.json",
			body:  "To=%2B14155552671&Twiml=" + url.QueryEscape(`<Response><Say voice="alice" loop="0">Your code is 1 2 3</Say><Pause length="2"/></Response>`),
			field: "call_twiml", reason: "has a Say loop of 0"},
		{name: "Twilio Calls loop 4", mapping: "twilio", target: "/2010-04-01/Accounts/" + sid + "/Calls.json",
			body:  "To=%2B14155552671&Twiml=" + url.QueryEscape(`<Response><Say loop="4">1</Say></Response>`),
			field: "call_twiml", reason: "has a Say loop above 3"},
		{name: "generic too many repetitions", mapping: "generic", route: Route{Channel: "voice"},
			body:  "to=%2B14155552671&message=" + url.QueryEscape(strings.Repeat(`<Say loop="3">1</Say>`, 14)),
			field: "message", reason: "speaks Say more than 40 times in total"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := compileBuiltin(t, tt.mapping, Config{})
			if err != nil {
				t.Fatal(err)
			}
			q := form(tt.body)
			q.target = tt.target
			v, err := run(m, q, tt.route)
			if err != nil {
				t.Fatal(err)
			}
			api, err := m.API(v)
			if err != nil || api != "calls" {
				t.Fatalf("API = %q, %v", api, err)
			}
			_, err = m.Params(v, api)
			if err == nil {
				t.Fatal("Params accepted it")
			}
			ie := inputErr(t, err)
			if ie.Field != tt.field || ie.HTTPStatus() != 400 || !strings.HasPrefix(ie.Reason, tt.reason) {
				t.Errorf("got %+v (%d); want field %q, status 400, reason %q...", ie, ie.HTTPStatus(), tt.field, tt.reason)
			}
		})
	}

	// Within the limits, loop is kept.
	m, err := compileBuiltin(t, "twilio", Config{})
	if err != nil {
		t.Fatal(err)
	}
	q := form("To=%2B14155552671&Twiml=" + url.QueryEscape(`<Response><Say voice="alice" loop="2">Your code is 1 2 3</Say><Pause length="2"/></Response>`))
	q.target = "/2010-04-01/Accounts/" + sid + "/Calls.json"
	v, err := run(m, q, Route{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Params(v, "calls")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Get("Twiml"), `<Response><Say voice="alice" loop="2">Your code is 1 2 3</Say><Pause length="2"></Pause></Response>`; got != want {
		t.Errorf("Twiml %s\nwant  %s", got, want)
	}
}

// TestBuiltinComments: a built-in mapping carries comments, read through
// mappings.Read and Load like any other.
func TestBuiltinComments(t *testing.T) {
	found := false
	for _, name := range mappings.Names() {
		data, _ := mappings.Read(name)
		if bytes.Contains(data, []byte("\n  //")) || bytes.Contains(data, []byte("/*")) {
			found = true
			if _, err := LoadAndCompile(name, Config{Phone: testPhone}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	if !found {
		t.Error("no built-in mapping has a comment")
	}
}

// TestBuiltinExpressionsShort: no expression of a built-in mapping is longer
// than 200 characters; lets, tables and reply defaults say it once instead.
func TestBuiltinExpressionsShort(t *testing.T) {
	const limit = 200
	longest, where := 0, ""
	for _, name := range mappings.Names() {
		spec, _, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for path, src := range expressions(spec) {
			n := utf8.RuneCountInString(src)
			if n > limit {
				t.Errorf("%s: %s is %d characters long: %s", name, path, n, src)
			}
			if n > longest {
				longest, where = n, name+": "+path
			}
		}
	}
	t.Logf("the longest expression is %s, %d characters", where, longest)
}

// expressions lists every expression of a mapping file by its path.
func expressions(s *Spec) map[string]string {
	out := map[string]string{}
	add := func(src string, path ...any) {
		if src != "" {
			out[Path(path).String()] = src
		}
	}
	for _, l := range s.Let {
		add(l.Expr, "let", l.Name)
	}
	for i, c := range s.Checks {
		add(c.Expr, "checks", i, "expr")
	}
	for i, f := range s.Fields {
		add(f.Value, "fields", i, "value")
	}
	add(s.Twilio.API, "twilio", "api")
	for api, params := range map[string]map[string]string{"messages": s.Twilio.Messages, "calls": s.Twilio.Calls, "studio": s.Twilio.Studio} {
		for k, v := range params {
			add(v, "twilio", api, k)
		}
	}
	addCase := func(rc *ReplyCase, path ...any) {
		if rc == nil {
			return
		}
		add(rc.When, append(path, "when")...)
		add(rc.Status, append(path, "status")...)
		for k, v := range rc.Headers {
			add(v, append(path, "headers", k)...)
		}
		var body any
		_ = json.Unmarshal(rc.Body, &body)
		var walk func(v any, path ...any)
		walk = func(v any, path ...any) {
			switch x := v.(type) {
			case string:
				add(x, path...)
			case map[string]any:
				for k, c := range x {
					walk(c, append(slices.Clone(path), k)...)
				}
			case []any:
				for i, c := range x {
					walk(c, append(slices.Clone(path), i)...)
				}
			}
		}
		walk(body, append(slices.Clone(path), "body")...)
	}
	addCase(s.Reply.Defaults, "reply", "defaults")
	for which, cases := range map[string]Cases{"success": s.Reply.Success, "failure": s.Reply.Failure, "invalid": s.Reply.Invalid} {
		addCase(cases.Defaults, "reply", which, "defaults")
		for i := range cases.List {
			addCase(&cases.List[i], "reply", which, i)
		}
	}
	return out
}

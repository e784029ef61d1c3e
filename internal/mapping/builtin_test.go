package mapping

import (
	"strings"
	"testing"

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

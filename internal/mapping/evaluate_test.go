package mapping

import (
	"errors"
	"strings"
	"testing"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// typed compiles a mapping with one field "v" of the given spec (JSON members).
func typed(t *testing.T, fieldJSON string) *Mapping {
	t.Helper()
	src := `{
	  "fields": [{"name": "v", "from": ["any:v"], ` + fieldJSON + `}],
	  "twilio": {"messages": {"To": "'+15005550006'", "Body": "'x'"}},
	  "reply": {"success": {"format": "empty"}, "failure": {"format": "empty"}}
	}`
	return mustCompile(t, src, Config{})
}

func TestFieldValidation(t *testing.T) {
	tests := []struct {
		name    string
		field   string // FieldSpec members besides name and from
		value   string // form-encoded value of v ("" = absent)
		want    string
		wantErr string // InputError reason
	}{
		{name: "optional and absent", field: `"type": "text"`, want: ""},
		{name: "required and absent", field: `"required": true`, wantErr: "is required"},
		{name: "required and empty", field: `"required": true`, value: "v=", wantErr: "is required"},
		{name: "default", field: `"default": "fallback"`, want: "fallback"},
		{name: "default satisfies required", field: `"default": "d", "required": true`, want: "d"},
		{name: "max_length counts characters", field: `"max_length": 3`, value: "v=%C3%A9%C3%A9%C3%A9", want: "ééé"},
		{name: "max_length exceeded", field: `"max_length": 3`, value: "v=abcd", wantErr: "is longer than 3 characters"},
		{name: "default max_length", field: `"type": "text"`, value: "v=" + strings.Repeat("a", DefaultMaxLength+1), wantErr: "is longer than 4096 characters"},
		{name: "invalid UTF-8", field: `"type": "text"`, value: "v=%FF", wantErr: "is not valid UTF-8"},
		{name: "pattern matches", field: `"pattern": "[0-9]{6}"`, value: "v=012345", want: "012345"},
		{name: "pattern is anchored", field: `"pattern": "[0-9]{6}"`, value: "v=0123456", wantErr: "does not have the expected format"},
		{name: "digits", field: `"type": "digits"`, value: "v=012345", want: "012345"},
		{name: "digits with a letter", field: `"type": "digits"`, value: "v=01234a", wantErr: "must contain only digits"},
		{name: "digits with a space", field: `"type": "digits"`, value: "v=123+456", wantErr: "must contain only digits"},
		{name: "phone E.164", field: `"type": "phone"`, value: "v=%2B14155552671", want: "+14155552671"},
		{name: "phone AD style national", field: `"type": "phone"`, value: "v=(415)+555-2671", want: "+14155552671"},
		{name: "phone plus lost to form decoding", field: `"type": "phone"`, value: "v=+442071838750", want: "+442071838750"},
		{name: "phone NUMBER_ONLY", field: `"type": "phone"`, value: "v=442071838750", want: "+442071838750"},
		{name: "phone with 00", field: `"type": "phone"`, value: "v=0044+20+7183+8750", want: "+442071838750"},
		{name: "phone magic test number", field: `"type": "phone"`, value: "v=%2B15005550006", want: "+15005550006"},
		{name: "phone with letters", field: `"type": "phone"`, value: "v=call+me", wantErr: "has letters in it"},
		{name: "phone invalid", field: `"type": "phone"`, value: "v=%2B1555", wantErr: "too short"},
		{name: "sender NetIQ form", field: `"type": "sender"`, value: "v=91%5C9876543210", want: "+919876543210"},
		{name: "sender short code", field: `"type": "sender"`, value: "v=12345", want: "12345"},
		{name: "sender alphanumeric", field: `"type": "sender"`, value: "v=ACME+Bank", want: "ACME Bank"},
		{name: "sender E.164", field: `"type": "sender"`, value: "v=%2B15005550006", want: "+15005550006"},
		{name: "sender invalid", field: `"type": "sender"`, value: "v=ACME-Bank-Alerts", wantErr: ""},
		{name: "json repaired", field: `"type": "json"`, value: "v=%7B%22OTP%22%3A012345%7D", want: `{"OTP":"012345"}`},
		{name: "json not an object", field: `"type": "json"`, value: "v=012345", wantErr: "is not a JSON object"},
		{name: "json broken", field: `"type": "json"`, value: "v=%7B%22OTP%22", wantErr: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := typed(t, tt.field)
			v, err := run(m, form(tt.value), Route{})
			if tt.want != "" || (err == nil && tt.wantErr == "") {
				if err != nil {
					t.Fatal(err)
				}
				if v.Field("v") != tt.want {
					t.Errorf("v = %q, want %q", v.Field("v"), tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, v = %q", v.Field("v"))
			}
			ie := inputErr(t, err)
			if ie.Field != "v" || !strings.Contains(ie.Reason, tt.wantErr) {
				t.Errorf("got %q", ie.Error())
			}
			if ie.HTTPStatus() != 400 {
				t.Errorf("status %d", ie.HTTPStatus())
			}
			// The error is safe to show: it never contains the value.
			if raw := strings.TrimPrefix(tt.value, "v="); len(raw) > 3 && strings.Contains(ie.Error(), raw) {
				t.Errorf("error %q repeats the value", ie.Error())
			}
		})
	}
}

func TestComputedFields(t *testing.T) {
	src := `{
	  "options": {"prefix": "Code: "},
	  "templates": {"Generic": "Your code is {{code}}.", "SignIn": "Sign in: {{ code }} ({{user.name}}) {{unknown}}"},
	  "template_fallback": "Generic",
	  "fields": [
	    {"name": "type", "from": ["json:type"], "default": "Generic"},
	    {"name": "code", "from": ["json:payload.code"], "required": true},
	    {"name": "message", "value": "fill(template(type), {'code': code, 'user': {'name': 'Ann'}})"},
	    {"name": "prefixed", "from": ["json:given"], "value": "options.prefix + code"},
	    {"name": "digits_only", "value": "digits('+1 (415) 555-2671')"},
	    {"name": "spoken", "value": "spaced(code)"},
	    {"name": "masked", "value": "mask('+447700900123')"},
	    {"name": "encoded", "value": "json({'m': message})"}
	  ],
	  "twilio": {"messages": {"To": "'+15005550006'", "Body": "message"}},
	  "reply": {"success": {"format": "empty"}, "failure": {"format": "empty"}}
	}`
	m := mustCompile(t, src, Config{})
	tests := []struct {
		name string
		body string
		want map[string]string
	}{
		{name: "fallback template", body: `{"payload":{"code":"012345"}}`, want: map[string]string{
			"type": "Generic", "message": "Your code is 012345.", "prefixed": "Code: 012345",
			"digits_only": "14155552671", "spoken": "0 1 2 3 4 5", "masked": "+4477••••123",
			"encoded": `{"m":"Your code is 012345."}`}},
		{name: "unknown type falls back", body: `{"type":"Nope","payload":{"code":"9"}}`, want: map[string]string{"message": "Your code is 9."}},
		{name: "chosen template, nested and unknown placeholders", body: `{"type":"SignIn","payload":{"code":"42"}}`, want: map[string]string{
			"message": "Sign in: 42 (Ann) {{unknown}}"}},
		{name: "a source wins over the value", body: `{"given":"mine","payload":{"code":"1"}}`, want: map[string]string{"prefixed": "mine"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := run(m, jsonReq(tt.body), Route{})
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if got := v.Field(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}

	t.Run("template override", func(t *testing.T) {
		m := mustCompile(t, src, Config{Templates: map[string]string{"Generic": "Override {{code}}"}, Options: map[string]string{"prefix": ">"}})
		v, err := run(m, jsonReq(`{"payload":{"code":"7"}}`), Route{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Field("message") != "Override 7" || v.Field("prefixed") != ">7" {
			t.Errorf("message %q prefixed %q", v.Field("message"), v.Field("prefixed"))
		}
	})
	t.Run("field override", func(t *testing.T) {
		m := mustCompile(t, src, Config{Fields: map[string][]string{"code": {"json:otp", "query:otp"}}})
		v, err := run(m, req{target: "/sms?otp=55", contentType: "application/json", body: `{"payload":{"code":"1"}}`}, Route{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Field("code") != "55" {
			t.Errorf("code = %q", v.Field("code"))
		}
	})
}

func TestExtractErrors(t *testing.T) {
	src := `{
	  "fields": [
	    {"name": "to", "from": ["any:to"], "type": "phone", "required": true},
	    {"name": "n", "from": ["any:n"], "value": "string(int(to + 'x'))"},
	    {"name": "message", "from": ["any:message"]},
	    {"name": "voice", "value": "message == '' ? '' : twiml(message)"},
	    {"name": "params", "value": "message == '' ? '' : json_object(message)"}
	  ],
	  "twilio": {"messages": {"To": "to", "Body": "message"}},
	  "reply": {"success": {"format": "empty"}, "failure": {"format": "empty"}}
	}`
	m := mustCompile(t, src, Config{})

	// A failing expression is a mapping bug: a plain error, not an InputError.
	v, err := run(m, form("to=%2B14155552671"), Route{})
	var ie *InputError
	if err == nil || errors.As(err, &ie) || !strings.Contains(err.Error(), `mapping t.json: field "n"`) {
		t.Errorf("runtime failure: %v", err)
	}
	if v == nil || v.Field("to") != "+14155552671" || v.Field("message") != "" {
		t.Error("fields before the failure must stay, later ones must be empty")
	}

	// A function refusing the caller's text is an InputError naming the field.
	_, err = run(m, form("to=%2B14155552671&n=1&message=%3CDial%3E%2B1%3C%2FDial%3E"), Route{})
	if ie := inputErr(t, err); ie.Field != "voice" || !strings.Contains(ie.Reason, "not allowed") {
		t.Errorf("twiml: %v", err)
	}
	_, err = run(m, form("to=%2B14155552671&n=1&message=OTP+12"), Route{})
	if ie := inputErr(t, err); ie.Field != "params" || !strings.Contains(ie.Reason, "is not a JSON object") {
		t.Errorf("json_object: %v", err)
	}
	// A bad value empties the rest.
	v, err = run(m, form("to=abc&n=1&message=hi"), Route{})
	if ie := inputErr(t, err); ie.Field != "to" {
		t.Errorf("to: %v", err)
	}
	if v.Field("message") != "" || v.Field("n") != "" {
		t.Error("fields after a bad one must be empty")
	}
}

// paramsMapping has every API, with a few computed parameters.
const paramsSrc = `{
  "options": {"validity": ""},
  "fields": [
    {"name": "to", "from": ["any:to"], "type": "phone", "required": true},
    {"name": "message", "from": ["any:message"], "max_length": 10000},
    {"name": "api", "from": ["any:api"]}
  ],
  "twilio": {
    "api": "api != '' ? api : (route.studio_flow_sid != '' ? 'studio' : (route.channel == 'voice' ? 'calls' : 'messages'))",
    "messages": {"To": "to", "Body": "message", "ValidityPeriod": "options.validity", "Attempt": "''"},
    "calls": {"To": "to", "Twiml": "twiml(message)"},
    "studio": {"To": "to", "Parameters": "message"}
  },
  "reply": {"success": {"format": "empty"}, "failure": {"format": "empty"}}
}`

func TestParams(t *testing.T) {
	long := strings.Repeat("é", MaxBodyChars)
	tests := []struct {
		name     string
		opts     map[string]string
		body     string
		route    Route
		wantAPI  twilio.API
		want     map[string]string // every parameter
		wantErr  string            // InputError field + reason
		wantFail string            // plain error
	}{
		{name: "messages", body: "to=%2B14155552671&message=Hi+%26+bye%0A%E2%9C%93", wantAPI: twilio.Messages,
			want: map[string]string{"To": "+14155552671", "Body": "Hi & bye\n✓"}},
		{name: "option sets a param", opts: map[string]string{"validity": "300"}, body: "to=%2B14155552671&message=x", wantAPI: twilio.Messages,
			want: map[string]string{"To": "+14155552671", "Body": "x", "ValidityPeriod": "300"}},
		{name: "empty body is omitted", body: "to=%2B14155552671", wantAPI: twilio.Messages,
			want: map[string]string{"To": "+14155552671"}},
		{name: "1600 characters fit", body: "to=%2B14155552671&message=" + long, wantAPI: twilio.Messages,
			want: map[string]string{"To": "+14155552671", "Body": long}},
		{name: "1601 characters do not", body: "to=%2B14155552671&message=" + long + "x", wantAPI: twilio.Messages,
			wantErr: `field "message" is longer than Twilio's 1600-character limit`},
		{name: "calls", route: Route{Channel: "voice"}, body: "to=%2B14155552671&message=Code+%3CSay%3E1%3C%2FSay%3E", wantAPI: twilio.Calls,
			want: map[string]string{"To": "+14155552671", "Twiml": "<Response><Say>Code</Say><Say>1</Say></Response>"}},
		{name: "twiml too long", route: Route{Channel: "voice"}, body: "to=%2B14155552671&message=" + strings.Repeat("a", MaxTwimlChars), wantAPI: twilio.Calls,
			wantErr: `field "message" makes TwiML longer than Twilio's 4000-character limit`},
		{name: "twiml refused", route: Route{Channel: "voice"}, body: "to=%2B14155552671&message=%3CPlay%3Ehttp%3A%2F%2Fx%3C%2FPlay%3E", wantAPI: twilio.Calls,
			wantErr: `field "message" cannot be spoken`},
		{name: "studio repairs Parameters", route: Route{StudioFlowSID: "FW1"}, body: "to=%2B14155552671&message=%7B%22OTP%22%3A012345%7D", wantAPI: twilio.Studio,
			want: map[string]string{"To": "+14155552671", "Parameters": `{"OTP":"012345"}`}},
		{name: "studio refuses a non-object", route: Route{StudioFlowSID: "FW1"}, body: "to=%2B14155552671&message=12", wantAPI: twilio.Studio,
			wantErr: `field "message" does not give Studio a JSON object`},
		{name: "bad api", body: "to=%2B14155552671&api=fax", wantFail: `twilio.api gave "fax"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustCompile(t, paramsSrc, Config{Options: tt.opts})
			v, err := run(m, form(tt.body), tt.route)
			if err != nil {
				t.Fatal(err)
			}
			api, err := m.API(v)
			if tt.wantFail != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantFail) {
					t.Fatalf("API: %v", err)
				}
				return
			}
			if err != nil || api != tt.wantAPI {
				t.Fatalf("API = %q, %v", api, err)
			}
			p, err := m.Params(v, api)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, params %v", p)
				}
				if ie := inputErr(t, err); !strings.HasPrefix(ie.Error(), tt.wantErr) {
					t.Errorf("error %q, want %q", ie.Error(), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p) != len(tt.want) {
				t.Errorf("params %v, want %v", p, tt.want)
			}
			for k, want := range tt.want {
				if got := p[k]; len(got) != 1 || got[0] != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestAPIDefault(t *testing.T) {
	src := strings.Replace(paramsSrc, `"api": "api != '' ? api : (route.studio_flow_sid != '' ? 'studio' : (route.channel == 'voice' ? 'calls' : 'messages'))",`, "", 1)
	m := mustCompile(t, src, Config{})
	for _, tt := range []struct {
		route Route
		want  twilio.API
	}{
		{Route{}, twilio.Messages},
		{Route{Channel: "sms"}, twilio.Messages},
		{Route{Channel: "voice"}, twilio.Calls},
		{Route{Channel: "voice", StudioFlowSID: "FW1"}, twilio.Studio},
	} {
		v, err := run(m, form("to=%2B14155552671"), tt.route)
		if err != nil {
			t.Fatal(err)
		}
		if api, err := m.API(v); err != nil || api != tt.want {
			t.Errorf("%+v: API = %q, %v", tt.route, api, err)
		}
	}
	// A mapping without calls cannot serve the voice channel.
	only := mustCompile(t, `{
	  "fields": [{"name": "to", "from": ["any:to"]}],
	  "twilio": {"messages": {"To": "to"}},
	  "reply": {"success": {"format": "empty"}, "failure": {"format": "empty"}}
	}`, Config{})
	v, _ := run(only, form("to=1"), Route{Channel: "voice"})
	if _, err := only.API(v); err == nil || !strings.Contains(err.Error(), "has no twilio.calls section") {
		t.Errorf("voice without calls: %v", err)
	}
	v, _ = run(only, form("x=1"), Route{})
	if _, err := only.Params(v, twilio.Messages); err == nil || inputErr(t, err).Field != "to" {
		t.Errorf("empty To: %v", err)
	}
}

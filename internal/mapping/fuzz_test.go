package mapping

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/mappings"
)

// fuzzFormats are the request formats FuzzParseRequest forces, by index.
var fuzzFormats = []string{FormatAuto, FormatForm, FormatJSON, FormatXML, FormatText, FormatNone}

var fuzzContentTypes = []string{
	"", "application/x-www-form-urlencoded", "application/json", "application/xml", "text/xml; charset=utf-8",
	"text/plain", "application/problem+json", "multipart/form-data; boundary=x", ";;;",
}

// FuzzParseRequest sends random bodies, content types and query strings
// through the generic mapping in every format: nothing may panic, every
// refusal must be an *InputError, and a request that is read must also get
// its Twilio parameters and a reply without a mapping error.
func FuzzParseRequest(f *testing.F) {
	spec, file, err := Load("generic")
	if err != nil {
		f.Fatal(err)
	}
	mappings := make([]*Mapping, len(fuzzFormats))
	for i, format := range fuzzFormats {
		s := *spec
		s.Request.Format = format
		if mappings[i], err = Compile(&s, file, Config{Phone: testPhone}); err != nil {
			f.Fatal(err)
		}
	}
	for _, seed := range []struct {
		body, query string
		format, ct  uint8
	}{
		{"to=%2B14155552671&message=Your+code+is+012345", "", 0, 1},
		{`{"to":"+14155552671","message":"Your code is \"012345\"\n"}`, "", 0, 2},
		{`{"to":14155552671,"message":{"a":[1,2]}}`, "", 2, 0},
		{`<sms><to type="m">(415) 555-2671</to><message>Tom &amp; Jerry</message></sms>`, "", 0, 3},
		{"<a><b>&</b></a>", "to=1", 3, 4},
		{"{\"to\":\"1\",\"message\":\"a\nb\"}", "", 2, 2},
		{"", "to=%2B14155552671&message=hi", 5, 0},
		{"hello", "to=91%5C9876543210&from=ACME&message=x", 4, 5},
		{strings.Repeat("<a>", 40), "", 3, 3},
		{"a=%zz&to=1", "", 1, 1},
	} {
		f.Add([]byte(seed.body), seed.query, seed.format, seed.ct)
	}
	f.Fuzz(func(t *testing.T, body []byte, query string, format, ct uint8) {
		m := mappings[int(format)%len(mappings)]
		method := http.MethodPost
		if format&0x80 != 0 {
			method = http.MethodGet
		}
		r := httptest.NewRequest(method, "/sms", nil)
		r.URL.RawQuery = query
		if c := fuzzContentTypes[int(ct)%len(fuzzContentTypes)]; c != "" {
			r.Header.Set("Content-Type", c)
		}
		in, err := m.ParseRequest(r, body)
		if err != nil {
			mustBeInputError(t, "ParseRequest", err)
			return
		}
		v, err := m.Extract(in, Route{})
		if err != nil {
			mustBeInputError(t, "Extract", err)
			reply(t, m, v, &Result{Outcome: OutcomeInvalid})
			return
		}
		api, err := m.API(v)
		if err != nil {
			t.Fatalf("API: %v", err)
		}
		if _, err := m.Params(v, api); err != nil {
			mustBeInputError(t, "Params", err)
		}
		reply(t, m, v, &Result{OK: true, Outcome: OutcomeAccepted, Sid: "SM1"})
		reply(t, m, v, &Result{Outcome: OutcomeRejected, HTTPStatus: 400, ErrorCode: 21211})
	})
}

func mustBeInputError(t *testing.T, step string, err error) {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("%s: %v (%T) is not an *InputError", step, err, err)
	}
	if ie.Field == "" || ie.HTTPStatus() < 400 || ie.HTTPStatus() > 499 {
		t.Fatalf("%s: bad InputError %+v", step, ie)
	}
}

func reply(t *testing.T, m *Mapping, v *Values, res *Result) {
	t.Helper()
	r, err := m.Reply(v, res)
	if err != nil {
		t.Fatalf("Reply: %v", err)
	}
	if !json.Valid(r.Body) {
		t.Fatalf("Reply body is not JSON: %q", r.Body)
	}
}

// FuzzRepairJSONObject: no panic; what comes out is valid JSON, an object, and
// repairing it again changes nothing.
func FuzzRepairJSONObject(f *testing.F) {
	for _, s := range []string{
		`{"OTP":012345}`, `{"OTP":${otp}, "username":jdoe}`, `{OTP: 1,}`, `{"a":[1,{"b":c}]}`,
		`{"a":"\u00e9\n"}`, `{"a":-0.5e3}`, `{"a":tru}`, `{"a":"x\`, "{\"a\":\"\xff\"}", `{"a":${`, `[]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := RepairJSONObject(s)
		if err != nil {
			return
		}
		if !json.Valid([]byte(out)) {
			t.Fatalf("%q -> %q: not valid JSON", s, out)
		}
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(out))
		dec.UseNumber() // 1E700 is valid JSON, but no float64
		if err := dec.Decode(&obj); err != nil {
			t.Fatalf("%q -> %q: not an object: %v", s, out, err)
		}
		again, err := RepairJSONObject(out)
		if err != nil || again != out {
			t.Fatalf("%q -> %q -> %q, %v: not a fixed point", s, out, again, err)
		}
	})
}

// FuzzTwiML: no panic; what comes out is well-formed XML with one Response
// root and nothing but Say, Pause and SSML inside Say, within the limits on
// pauses, loops and Say repetitions (checkTwiML); a refusal never contains
// the message.
func FuzzTwiML(f *testing.F) {
	for _, s := range []string{
		"Your code is 1 2 3", `<Say>1</Say> <Pause length="1"/>`, `a <Say voice="x">b</Say> c`,
		`<Response><Say>1</Say></Response>`, `<Dial>+1</Dial>`, `<Say><break time="1s"/></Say>`,
		`<?xml version="1.0"?><Say>&amp;</Say>`, `<Say xmlns:x="y" x:a="b">1</Say>`, "<Say>\x00</Say>", `<`, `<!-- c --><Say>1</Say>`,
		// Content after the root used to panic (index out of range).
		`<Response><Say>1</Say></Response>trailing`, `<Say>1</Say></Response>x<Response>`, `<Response><Say>1</Say>tail</Response>`,
		`<Response><Response>1</Response></Response>`, `<Response></Response><Response><Say>2</Say></Response>`,
		`<Response><Say>1</Say></Response><Dial>+1</Dial>`, `<Say>1</Say></Say>`, `</Say>`, `</Response>x`,
		"<Response><Say>1</Say></Response> <!-- c --> <?pi x?> & x",
		// Limits.
		`<Say loop="0">1</Say>`, `<Say loop="3" loop="1">1</Say>`, `<Say loop="2"><break time="9.5s"/>1</Say>`,
		`<Pause length="60"/><Pause length="10"/>`, `<Say><break strength="x-strong"/><break time="250ms"/></Say>`,
		`<Response><Say voice="alice" loop="0">Your code is 1 2 3</Say><Pause length="2"/></Response>`,
	} {
		f.Add(s, "", "")
	}
	f.Add("1 2 3", "Polly.Joanna", "en-US")
	f.Fuzz(func(t *testing.T, msg, voice, lang string) {
		out, err := TwiML(msg, voice, lang)
		if err != nil {
			if len(msg) > 3 && strings.Contains(err.Error(), msg) {
				t.Fatalf("%q: the error %q contains the message", msg, err)
			}
			return
		}
		if err := checkTwiML(out); err != nil {
			t.Fatalf("%q -> %q: %v", msg, out, err)
		}
	})
}

// FuzzDialects sends random requests through every built-in mapping: a
// refusal must be an *InputError (anything else is a bug in the mapping), and
// every request gets an answer for each outcome.
func FuzzDialects(f *testing.F) {
	names := mappings.Names()
	compiled := make([]*Mapping, len(names))
	for i, name := range names {
		spec, file, err := Load(name)
		if err != nil {
			f.Fatal(err)
		}
		if compiled[i], err = Compile(spec, file, Config{Phone: testPhone}); err != nil {
			f.Fatal(err)
		}
	}
	paths := []string{"/sms", "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json",
		"/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls", "/2010-04-01/Accounts/x/Messages.xml"}
	routes := []Route{{}, {Channel: "voice"}, {StudioFlowSID: "FW0123456789abcdef0123456789abcdef"}}
	f.Add([]byte(`{"to":"14155552671","type":"SignIn","payload":{"code":"012345"}}`), "", uint8(0), uint8(2), uint8(0))
	f.Add([]byte("From=%2B15005550006&to=%2B14155552671&Parameter=%7B%22OTP%22%3A012345%7D"), "", uint8(1), uint8(1), uint8(2))
	f.Add([]byte("To=%2B14155552671&From=%2B15005550006&Twiml=%3CSay%3E1%3C%2FSay%3E"), "", uint8(2), uint8(1), uint8(0))
	f.Add([]byte("<sms><mobileNumber>(415) 555-2671</mobileNumber><message>a & b</message></sms>"), "", uint8(0), uint8(3), uint8(0))
	f.Add([]byte(""), "phone=%2B14155552671&text=hi&from=91%5C9876543210", uint8(0), uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, query string, which, ct, route uint8) {
		m := compiled[int(which)%len(compiled)]
		method := http.MethodPost
		if ct&0x80 != 0 {
			method = http.MethodGet
		}
		r := httptest.NewRequest(method, paths[int(which>>4)%len(paths)], nil)
		r.URL.RawQuery = query
		if c := fuzzContentTypes[int(ct&0x7f)%len(fuzzContentTypes)]; c != "" {
			r.Header.Set("Content-Type", c)
		}
		rt := routes[int(route)%len(routes)]
		answer := func(v *Values, res *Result) {
			if _, err := m.Reply(v, res); err != nil {
				t.Fatalf("%s: Reply: %v", m.Name(), err)
			}
		}
		in, err := m.ParseRequest(r, body)
		if err != nil {
			mustBeInputError(t, m.Name()+" ParseRequest", err)
			answer(m.NewValues(rt, Request{Method: method, Path: r.URL.Path}), &Result{Outcome: OutcomeInvalid, Field: "body"})
			return
		}
		v, err := m.Extract(in, rt)
		if err != nil {
			mustBeInputError(t, m.Name()+" Extract", err)
			answer(v, &Result{Outcome: OutcomeInvalid, Field: "to", Reason: err.Error()})
			return
		}
		api, err := m.API(v)
		if err != nil {
			return // the route asks for an API the mapping lacks: refused at provisioning
		}
		if _, err := m.Params(v, api); err != nil {
			mustBeInputError(t, m.Name()+" Params", err)
		}
		answer(v, &Result{OK: true, Outcome: OutcomeAccepted, Sid: "SM1", API: string(api)})
		answer(v, &Result{Outcome: OutcomeRejected, HTTPStatus: 400, ErrorCode: 21211, TwilioBody: []byte(`{"code":21211}`)})
		answer(v, &Result{Outcome: OutcomeRateLimited, ErrorCode: 20429, RetryAfter: 3})
	})
}

// FuzzReplyTwilio relays random upstream bodies through the twilio mapping,
// whose answers copy Twilio's JSON or convert it to Twilio's XML: nothing may
// panic, the XML must be well-formed, and JSON is relayed only when valid.
func FuzzReplyTwilio(f *testing.F) {
	spec, file, err := Load("twilio")
	if err != nil {
		f.Fatal(err)
	}
	m, err := Compile(spec, file, Config{Phone: testPhone})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"sid":"SM1","status":"queued","subresource_uris":{"media":"/2010-04-01/Accounts/AC1/Messages/SM1/Media.json"},"uri":"/x.json"}`), true, false)
	f.Add([]byte(`{"code":21211,"message":"The 'To' number <b>&</b> is not valid.","more_info":null,"status":400}`), false, true)
	f.Add([]byte(`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":[1,[2,[3]]]}}}}}}}}}}`), true, true)
	f.Add([]byte("{\"\x00\":\"\xff\",\"9x\":\"\\u0000\",\"a_\":true}"), false, false)
	f.Add([]byte(`not json`), true, false)
	f.Fuzz(func(t *testing.T, upstream []byte, ok, asJSON bool) {
		target := "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages"
		if asJSON {
			target += ".json"
		}
		r, body := req{target: target, contentType: "application/x-www-form-urlencoded", body: "To=%2B14155552671&Body=hi"}.build()
		in, err := m.ParseRequest(r, body)
		if err != nil {
			t.Fatal(err)
		}
		v, err := m.Extract(in, Route{})
		if err != nil {
			t.Fatal(err)
		}
		res := &Result{OK: ok, Outcome: OutcomeAccepted, HTTPStatus: 201, Sid: "SM1", TwilioBody: upstream}
		if !ok {
			res = &Result{Outcome: OutcomeRejected, HTTPStatus: 400, ErrorCode: 21211, TwilioBody: upstream}
		}
		out, err := m.Reply(v, res)
		if err != nil {
			t.Fatalf("Reply: %v", err)
		}
		if asJSON {
			if !json.Valid(out.Body) {
				t.Fatalf("JSON answer is not JSON: %q", out.Body)
			}
			return
		}
		dec := xml.NewDecoder(bytes.NewReader(out.Body))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("XML answer %q: %v", out.Body, err)
			}
		}
	})
}

package mapping

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
// root and nothing but Say, Pause and SSML inside Say.
func FuzzTwiML(f *testing.F) {
	for _, s := range []string{
		"Your code is 1 2 3", `<Say>1</Say> <Pause length="1"/>`, `a <Say voice="x">b</Say> c`,
		`<Response><Say>1</Say></Response>`, `<Dial>+1</Dial>`, `<Say><break time="1s"/></Say>`,
		`<?xml version="1.0"?><Say>&amp;</Say>`, `<Say xmlns:x="y" x:a="b">1</Say>`, "<Say>\x00</Say>", `<`, `<!-- c --><Say>1</Say>`,
	} {
		f.Add(s, "", "")
	}
	f.Add("1 2 3", "Polly.Joanna", "en-US")
	f.Fuzz(func(t *testing.T, msg, voice, lang string) {
		out, err := TwiML(msg, voice, lang)
		if err != nil {
			return
		}
		if err := checkTwiML(out); err != nil {
			t.Fatalf("%q -> %q: %v", msg, out, err)
		}
	})
}

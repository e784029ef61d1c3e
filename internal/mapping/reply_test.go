package mapping

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/url"
	"strings"
	"testing"
)

// tricky is text every encoder must carry unharmed.
const tricky = "Tom & \"Jerry\" <b>'quoted'</b>\nline 2\ttab + plus — Привет 你好 ✓ \u2028"

// replyMapping answers with one reply case per test; message is read from the form.
func replyMapping(t *testing.T, reply string) *Mapping {
	t.Helper()
	src := `{
	  "options": {"marker": "<sid>"},
	  "fields": [
	    {"name": "to", "from": ["any:to"]},
	    {"name": "message", "from": ["any:message"]}
	  ],
	  "twilio": {"messages": {"To": "to", "Body": "message"}},
	  "reply": ` + reply + `
	}`
	return mustCompile(t, src, Config{})
}

func values(t *testing.T, m *Mapping, message string) *Values {
	t.Helper()
	v, err := run(m, form("to=1&message="+url.QueryEscape(message)), Route{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var (
	accepted = func() *Result {
		return &Result{OK: true, Outcome: OutcomeAccepted, Sid: "SM0123456789abcdef0123456789abcdef", Status: "queued", HTTPStatus: 201, API: "messages", AccountSID: "AC1"}
	}
	rejected = func() *Result {
		return &Result{Outcome: OutcomeRejected, HTTPStatus: 400, ErrorCode: 21211, ErrorMessage: "The 'To' number is not a valid phone number.", MoreInfo: "https://www.twilio.com/docs/errors/21211", API: "messages"}
	}
	invalid = func() *Result {
		return &Result{Outcome: OutcomeInvalid, Field: "to", Reason: `field "to" is required`}
	}
	limited = func() *Result {
		return &Result{Outcome: OutcomeRateLimited, RetryAfter: 30, Reason: "too many requests"}
	}
)

func TestReplyCases(t *testing.T) {
	m := replyMapping(t, `{
	  "success": [
	    {"when": "result.duplicate", "format": "text", "body": "'dup ' + result.sid"},
	    {"format": "text", "status": "result.http_status == 201 ? 202 : 200", "body": "'ok ' + result.sid"}
	  ],
	  "failure": [
	    {"when": "result.outcome == 'rate_limited'", "format": "text", "headers": {"Retry-After": "string(result.retry_after)", "X-Empty": "''"}, "body": "'slow down'"},
	    {"format": "text", "body": "'failed ' + string(result.error_code) + ' ' + string(result.suggested_status)"}
	  ],
	  "invalid": {"format": "text", "status": "422", "content_type": "text/x-custom", "body": "'bad ' + result.field"}
	}`)
	dup := accepted()
	dup.Duplicate = true
	tests := []struct {
		name       string
		res        *Result
		status     int
		ctype      string
		body       string
		retryAfter string
	}{
		{name: "success status expression", res: accepted(), status: 202, ctype: "text/plain; charset=utf-8", body: "ok SM0123456789abcdef0123456789abcdef"},
		{name: "first matching when", res: dup, status: 200, body: "dup SM0123456789abcdef0123456789abcdef"},
		{name: "failure with the suggested status", res: rejected(), status: 400, body: "failed 21211 400"},
		{name: "rate limited with Retry-After", res: limited(), status: 429, body: "slow down", retryAfter: "30"},
		{name: "unreachable", res: &Result{Outcome: OutcomeUnreachable}, status: 502, body: "failed 0 502"},
		{name: "unknown", res: &Result{Outcome: OutcomeUnknown}, status: 504, body: "failed 0 504"},
		{name: "blocked", res: &Result{Outcome: OutcomeBlocked}, status: 403, body: "failed 0 403"},
		{name: "unavailable", res: &Result{Outcome: OutcomeUnavailable}, status: 503, body: "failed 0 503"},
		{name: "twilio auth failure is ours", res: &Result{Outcome: OutcomeRejected, HTTPStatus: 401, ErrorCode: 20003}, status: 502, body: "failed 20003 502"},
		{name: "invalid case", res: invalid(), status: 422, ctype: "text/x-custom", body: "bad to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := m.Reply(values(t, m, "x"), tt.res)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.status || string(r.Body) != tt.body {
				t.Errorf("got %d %q, want %d %q", r.Status, r.Body, tt.status, tt.body)
			}
			if tt.ctype != "" && r.Header.Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
			}
			if r.Header.Get("Retry-After") != tt.retryAfter {
				t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
			}
			if _, ok := r.Header["X-Empty"]; ok {
				t.Error("an empty header value must leave the header out")
			}
		})
	}
}

func TestReplyInvalidDefaultsToFailure(t *testing.T) {
	m := replyMapping(t, `{"success": {"format": "empty"}, "failure": {"format": "text", "body": "'failure ' + result.field"}}`)
	r, err := m.Reply(m.NewValues(Route{}, Request{Method: "GET"}), invalid())
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 400 || string(r.Body) != "failure to" {
		t.Errorf("got %d %q", r.Status, r.Body)
	}
	// The status an InputError suggested (405, 413) is kept.
	res := invalid()
	res.SuggestedStatus = 413
	if r, _ := m.Reply(m.NewValues(Route{}, Request{}), res); r.Status != 413 {
		t.Errorf("status %d, want 413", r.Status)
	}
	// Empty: no content type, no body.
	r, _ = m.Reply(values(t, m, "x"), accepted())
	if r.Status != 200 || len(r.Body) != 0 || r.Header.Get("Content-Type") != "" {
		t.Errorf("empty reply: %d %q %v", r.Status, r.Body, r.Header)
	}
}

func TestReplyErrors(t *testing.T) {
	tests := []struct {
		name  string
		reply string
		res   *Result
		want  string
	}{
		{name: "no case matches", reply: `{"success": {"when": "false", "format": "empty"}, "failure": {"format": "empty"}}`, res: accepted(), want: "no reply case matched"},
		{name: "status out of range", reply: `{"success": {"status": "42", "format": "empty"}, "failure": {"format": "empty"}}`, res: accepted(), want: "gave 42, not an HTTP status"},
		{name: "header with a line break", reply: `{"success": {"format": "empty", "headers": {"X-M": "message"}}, "failure": {"format": "empty"}}`, res: accepted(), want: "line break"},
		{name: "body expression fails", reply: `{"success": {"format": "json", "body": {"n": "int(message)"}}, "failure": {"format": "empty"}}`, res: accepted(), want: "reply.success[0].body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := replyMapping(t, tt.reply)
			_, err := m.Reply(values(t, m, "a\r\nb"), tt.res)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if tt.name == "no case matches" && !errors.Is(err, ErrNoReplyCase) {
				t.Error("want ErrNoReplyCase")
			}
		})
	}
}

func TestReplyJSON(t *testing.T) {
	m := replyMapping(t, `{
	  "success": {"format": "json", "body": {"ok": true, "n": 1.5, "none": null, "sid": "result.sid", "code": "result.error_code",
	    "list": ["message", "'x'"], "nested": {"message": "message", "api": "result.api"}, "nil": "nil", "map": "{'a': 1}"}},
	  "failure": {"format": "json"}
	}`)
	r, err := m.Reply(values(t, m, tricky), accepted())
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
	}
	var got struct {
		OK     bool
		N      float64
		None   any
		Sid    string
		Code   int
		List   []string
		Nested struct{ Message, API string }
		Nil    any
		Map    map[string]int
	}
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("%s: %v", r.Body, err)
	}
	if !got.OK || got.N != 1.5 || got.None != nil || got.Sid != accepted().Sid || got.Code != 0 || got.Nested.Message != tricky ||
		got.List[0] != tricky || got.Nested.API != "messages" || got.Nil != nil || got.Map["a"] != 1 {
		t.Errorf("decoded %+v from %s", got, r.Body)
	}
	// Key order is the file's, and <, >, & are escaped for safe embedding.
	if !strings.HasPrefix(string(r.Body), `{"ok":true,"n":1.5,"none":null,"sid":"SM`) || strings.ContainsAny(string(r.Body), "<>&\n") {
		t.Errorf("body %s", r.Body)
	}
	// An absent body is an empty object.
	r, _ = m.Reply(values(t, m, ""), rejected())
	if string(r.Body) != "{}" {
		t.Errorf("failure body %s", r.Body)
	}
}

func TestReplyXML(t *testing.T) {
	m := replyMapping(t, `{
	  "success": {"format": "xml", "root": "Response", "body": {"@version": "'1'", "sid": "result.sid", "Message": {"@lang": "'en'", "Body": "message"},
	    "Empty": null, "Num": 7, "Item": ["'a'", "'b'"]}},
	  "failure": {"format": "xml", "root": "Error"}
	}`)
	r, err := m.Reply(values(t, m, tricky), accepted())
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Get("Content-Type") != "application/xml" {
		t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
	}
	want := `<?xml version="1.0" encoding="UTF-8"?><Response version="1"><sid>SM0123456789abcdef0123456789abcdef</sid><Message lang="en"><Body>`
	if !strings.HasPrefix(string(r.Body), want) {
		t.Errorf("body %s", r.Body)
	}
	for _, raw := range []string{"& ", `"Jerry"`, "<b>", "'quoted'"} {
		if strings.Contains(string(r.Body), raw) {
			t.Errorf("body contains unescaped %q: %s", raw, r.Body)
		}
	}
	var got struct {
		Version string `xml:"version,attr"`
		Sid     string `xml:"sid"`
		Message struct {
			Lang string `xml:"lang,attr"`
			Body string
		}
		Empty *string
		Num   int
		Item  []string
	}
	if err := xml.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Message.Body != tricky || got.Version != "1" || got.Message.Lang != "en" || got.Empty == nil || *got.Empty != "" || got.Num != 7 || len(got.Item) != 2 {
		t.Errorf("decoded %+v", got)
	}
	r, _ = m.Reply(values(t, m, ""), rejected())
	if string(r.Body) != `<?xml version="1.0" encoding="UTF-8"?><Error></Error>` {
		t.Errorf("empty xml: %s", r.Body)
	}
}

func TestReplyForm(t *testing.T) {
	m := replyMapping(t, `{"success": {"format": "form", "body": {"status": "'sent'", "n": 3, "text": "message"}}, "failure": {"format": "form"}}`)
	r, err := m.Reply(values(t, m, tricky), accepted())
	if err != nil {
		t.Fatal(err)
	}
	got, err := url.ParseQuery(string(r.Body))
	if err != nil || got.Get("status") != "sent" || got.Get("n") != "3" || got.Get("text") != tricky {
		t.Errorf("form %q: %v", r.Body, err)
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
	}
	r, _ = m.Reply(values(t, m, ""), rejected())
	if len(r.Body) != 0 {
		t.Errorf("empty form %q", r.Body)
	}
}

func TestReplyTwilio(t *testing.T) {
	twilioJSON := `{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued","body":"` + "Tom & \\\"Jerry\\\" <b>" + `","error_code":null,"num_segments":"1","uri":"/2010-04-01/Accounts/AC1/Messages/SM1.json","subresource_uris":{"media":"/x/Media.json"}}`
	twilioErr := `{"code":21211,"message":"The 'To' number 5551234567 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`
	own := `"body": {"code": "result.field == 'to' ? 21211 : 21602", "message": "result.reason", "more_info": "'https://www.twilio.com/docs/errors/21211'", "status": 400}`
	tests := []struct {
		name  string
		reply string
		res   func() *Result
		ctype string
		body  string
	}{
		{name: "json relays Twilio's body", reply: `{"format": "twilio", "status": "201"}`,
			res: func() *Result { r := accepted(); r.TwilioBody = []byte(twilioJSON); return r }, ctype: "application/json; charset=utf-8", body: twilioJSON},
		{name: "json relays Twilio's error", reply: `{"format": "twilio", "root": "json"}`,
			res: func() *Result { r := rejected(); r.TwilioBody = []byte(twilioErr); return r }, ctype: "application/json; charset=utf-8", body: twilioErr},
		{name: "json synthesized success", reply: `{"format": "twilio"}`, res: accepted,
			body: `{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued","account_sid":"AC1"}`},
		{name: "json synthesized failure", reply: `{"format": "twilio"}`, res: limited,
			body: `{"code":0,"message":"too many requests","more_info":"","status":429}`},
		{name: "json own body for adapter errors", reply: `{"format": "twilio", ` + own + `}`, res: invalid,
			body: `{"code":21211,"message":"field \"to\" is required","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`},
		{name: "own body as one expression", reply: `{"format": "twilio", "body": "let c = result.field == 'to' ? 21604 : 20001; {'status': 400, 'code': c, 'message': c == 21604 ? \"A 'To' phone number is required.\" : result.reason}"}`,
			res: invalid, body: `{"code":21604,"message":"A 'To' phone number is required.","status":400}`},
		{name: "xml own body as one expression", reply: `{"format": "twilio", "root": "xml", "body": "{'code': 20003, 'message': 'Authenticate', 'status': 401}"}`,
			res: invalid, body: "<?xml version='1.0' encoding='UTF-8'?>\n<TwilioResponse><RestException><Code>20003</Code><Message>Authenticate</Message><Status>401</Status></RestException></TwilioResponse>"},
		{name: "own body never hides Twilio's", reply: `{"format": "twilio", ` + own + `}`,
			res: func() *Result { r := rejected(); r.TwilioBody = []byte(twilioErr); return r }, body: twilioErr},
		{name: "xml converts Twilio's body", reply: `{"format": "twilio", "root": "xml", "status": "201"}`,
			res: func() *Result { r := accepted(); r.TwilioBody = []byte(twilioJSON); return r }, ctype: "application/xml",
			body: "<?xml version='1.0' encoding='UTF-8'?>\n<TwilioResponse><Message><Sid>SM0123456789abcdef0123456789abcdef</Sid><Status>queued</Status><Body>Tom &amp; &#34;Jerry&#34; &lt;b&gt;</Body><ErrorCode></ErrorCode><NumSegments>1</NumSegments><Uri>/2010-04-01/Accounts/AC1/Messages/SM1</Uri><SubresourceUris><Media>/x/Media</Media></SubresourceUris></Message></TwilioResponse>"},
		{name: "xml converts Twilio's error", reply: `{"format": "twilio", "root": "xml"}`,
			res:  func() *Result { r := rejected(); r.TwilioBody = []byte(twilioErr); return r },
			body: "<?xml version='1.0' encoding='UTF-8'?>\n<TwilioResponse><RestException><Code>21211</Code><Message>The &#39;To&#39; number 5551234567 is not a valid phone number.</Message><MoreInfo>https://www.twilio.com/docs/errors/21211</MoreInfo><Status>400</Status></RestException></TwilioResponse>"},
		{name: "xml own body", reply: `{"format": "twilio", "root": "xml", ` + own + `}`, res: invalid,
			body: "<?xml version='1.0' encoding='UTF-8'?>\n<TwilioResponse><RestException><Code>21211</Code><Message>field &#34;to&#34; is required</Message><MoreInfo>https://www.twilio.com/docs/errors/21211</MoreInfo><Status>400</Status></RestException></TwilioResponse>"},
		{name: "xml call", reply: `{"format": "twilio", "root": "xml"}`,
			res:  func() *Result { r := accepted(); r.API = "calls"; r.Sid = "CA1"; r.AccountSID = ""; return r },
			body: "<?xml version='1.0' encoding='UTF-8'?>\n<TwilioResponse><Call><Sid>CA1</Sid><Status>queued</Status><AccountSid></AccountSid></Call></TwilioResponse>"},
		{name: "malformed Twilio body is not relayed", reply: `{"format": "twilio"}`,
			res:  func() *Result { r := accepted(); r.TwilioBody = []byte(`{"sid":"SM`); return r },
			body: `{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued","account_sid":"AC1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := replyMapping(t, `{"success": `+tt.reply+`, "failure": `+tt.reply+`}`)
			r, err := m.Reply(values(t, m, "x"), tt.res())
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Body) != tt.body {
				t.Errorf("body\n got %s\nwant %s", r.Body, tt.body)
			}
			if tt.ctype != "" && r.Header.Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
			}
			if strings.HasPrefix(tt.body, "<") {
				if err := xml.Unmarshal(r.Body, new(any)); err != nil {
					t.Errorf("not XML: %v", err)
				}
			} else if !json.Valid(r.Body) {
				t.Error("not JSON")
			}
		})
	}
}

func TestReplyTwilioBodyNotAMap(t *testing.T) {
	m := replyMapping(t, `{"success": {"format": "twilio", "body": "result.sid"}, "failure": {"format": "empty"}}`)
	if _, err := m.Reply(values(t, m, "x"), accepted()); err == nil || !strings.Contains(err.Error(), "did not give an object") {
		t.Errorf("error %v", err)
	}
}

func TestReplyMarkers(t *testing.T) {
	// The building blocks of marker answers: let, string slicing, matches,
	// xml_escape and lower.
	m := replyMapping(t, `{
	  "success": {"format": "text", "body": "let m = options.marker; let tag = m matches '^<[A-Za-z_][A-Za-z0-9_.-]*>$'; (tag ? m + xml_escape(message) + '</' + m[1:] : m) + (lower(m) contains 'sid' ? '!' : '?')"},
	  "failure": {"format": "empty"}
	}`)
	r, err := m.Reply(values(t, m, tricky), accepted())
	if err != nil {
		t.Fatal(err)
	}
	want := "<sid>Tom &amp; &#34;Jerry&#34; &lt;b&gt;&#39;quoted&#39;&lt;/b&gt;&#xA;line 2&#x9;tab + plus — Привет 你好 ✓ \u2028</sid>!"
	if string(r.Body) != want {
		t.Errorf("got  %s\nwant %s", r.Body, want)
	}
}

func TestResultSuggest(t *testing.T) {
	tests := []struct {
		res  Result
		want int
	}{
		{Result{OK: true}, 200},
		{Result{Outcome: OutcomeInvalid}, 400},
		{Result{Outcome: OutcomeInvalid, SuggestedStatus: 405}, 405},
		{Result{Outcome: OutcomeBlocked}, 403},
		{Result{Outcome: OutcomeRateLimited}, 429},
		{Result{Outcome: OutcomeUnavailable}, 503},
		{Result{Outcome: OutcomeUnknown}, 504},
		{Result{Outcome: OutcomeUnreachable}, 502},
		{Result{Outcome: OutcomeRejected, HTTPStatus: 400}, 400},
		{Result{Outcome: OutcomeRejected, HTTPStatus: 401}, 502},
		{Result{Outcome: OutcomeRejected, HTTPStatus: 404}, 502},
		{Result{Outcome: OutcomeRejected, HTTPStatus: 429}, 502},
		{Result{Outcome: OutcomeRejected, HTTPStatus: 500}, 502},
	}
	for _, tt := range tests {
		tt.res.Suggest()
		if tt.res.SuggestedStatus != tt.want {
			t.Errorf("%+v: %d, want %d", tt.res, tt.res.SuggestedStatus, tt.want)
		}
	}
}

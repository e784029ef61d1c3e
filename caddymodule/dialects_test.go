package caddymodule

// The built-in dialects, end to end: each product's documented request is
// replayed against an in-process Caddy whose twilio_sms routes point at the
// simulator behind Twilio's OpenAPI contract check, and both sides are
// checked exactly: the Twilio request (API, path, Basic user, every form
// value) and the answer the product reads (status, content type, body).
//
// Tests here use startCaddy: never t.Parallel.

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// dialectRequest is what a product sends.
type dialectRequest struct {
	method string // default POST
	path   string
	ctype  string
	body   string
	// user and pass are the Basic credentials the product sends ("" = none).
	user, pass string
	// header holds more request headers (signatures, bearer tokens, header
	// secrets).
	header map[string]string
}

// headers reads "Name: value" lines into a dialectRequest's header.
func headers(lines ...string) map[string]string {
	h := make(map[string]string, len(lines))
	for _, l := range lines {
		name, value, _ := strings.Cut(l, ":")
		h[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	return h
}

// twilioCall is one request Twilio must have received.
type twilioCall struct {
	api, path, authUser string
	form                url.Values
}

// dialectCase is one documented request and what both sides must see. body
// gets the records, so that it can name the SID Twilio created.
type dialectCase struct {
	name   string
	req    dialectRequest
	status int
	ctype  string
	body   func(recs []simulator.Record) string
	// check replaces body where the answer holds what only Twilio knows
	// (dates): it checks the answer against the records.
	check func(t *testing.T, body string, recs []simulator.Record)
	// header lists answer headers the product acts on ("" means absent,
	// "*" present with any value).
	header map[string]string
	twilio []twilioCall
	// fault, when set, is what the simulator does to the first request.
	fault *simulator.Fault
}

// dialectAnswer is what the product got.
type dialectAnswer struct {
	status int
	header http.Header
	body   string
}

func dialectSend(t *testing.T, tester *caddytest.Tester, q dialectRequest) dialectAnswer {
	t.Helper()
	method := q.method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if q.body != "" {
		body = strings.NewReader(q.body)
	}
	req, err := http.NewRequest(method, caddyBase+q.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if q.ctype != "" {
		req.Header.Set("Content-Type", q.ctype)
	}
	if q.user != "" {
		req.SetBasicAuth(q.user, q.pass)
	}
	for k, v := range q.header {
		req.Header.Set(k, v)
	}
	resp, err := doRetryingStale(tester.Client, req, q.body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, q.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return dialectAnswer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// runDialect replays every case against the Caddy already running, with an
// empty simulator log before each.
func runDialect(t *testing.T, tester *caddytest.Tester, sim *testSim, cases []dialectCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim.Reset()
			if tc.fault != nil {
				f := *tc.fault
				f.Count = 1
				sim.SetFault("", f)
			}
			a := dialectSend(t, tester, tc.req)
			recs := sim.records("")
			checkTwilioCalls(t, recs, tc.twilio)
			if a.status != tc.status {
				t.Errorf("status %d, want %d (body %s)", a.status, tc.status, a.body)
			}
			if got := a.header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			for k, v := range tc.header {
				if got := a.header.Get(k); got != v && (v != "*" || got == "") {
					t.Errorf("%s %q, want %q", k, got, v)
				}
			}
			if len(recs) != len(tc.twilio) {
				t.Logf("answer %s", a.body)
				return // the body would name a record that is not there
			}
			if tc.check != nil {
				tc.check(t, a.body, recs)
			} else if want := tc.body(recs); a.body != want {
				t.Errorf("answer\n got %s\nwant %s", a.body, want)
			}
		})
	}
}

func checkTwilioCalls(t *testing.T, recs []simulator.Record, want []twilioCall) {
	t.Helper()
	if len(recs) != len(want) {
		t.Errorf("Twilio got %d requests, want %d", len(recs), len(want))
		for _, r := range recs {
			t.Logf("  %s %s code %d", r.API, r.Path, r.Code)
		}
		return
	}
	for i, w := range want {
		r := recs[i]
		if r.API != w.api || r.Method != http.MethodPost || r.Path != w.path || r.AuthUser != w.authUser {
			t.Errorf("Twilio request %d: %s %s %s as %q, want %s POST %s as %q", i, r.API, r.Method, r.Path, r.AuthUser, w.api, w.path, w.authUser)
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range r.Form {
				if !yield(k) {
					return
				}
			}
		})
		wantKeys := slices.Sorted(func(yield func(string) bool) {
			for k := range w.form {
				if !yield(k) {
					return
				}
			}
		})
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("Twilio request %d parameters %v, want %v", i, keys, wantKeys)
		}
		for k, v := range w.form {
			if !slices.Equal(r.Form[k], v) {
				t.Errorf("Twilio request %d: %s = %q, want %q", i, k, r.Form[k], v)
			}
		}
	}
}

// fixed is an answer that does not depend on what Twilio created.
func fixed(s string) func([]simulator.Record) string {
	return func([]simulator.Record) string { return s }
}

// tricky is message text every encoder on the way must carry unharmed:
// quotes, ampersands, angle brackets, a line break, "+", non-Latin letters.
const dialectTricky = `Code 0042 for "Ann" & <Bob> + 'co'` + "\nЗдравствуйте 你好 ✓"

// dialectAccount starts a simulator with one account for passthrough callers
// and returns it with the account's SID and token.
func dialectAccount(t *testing.T) (*testSim, string, string) {
	t.Helper()
	accounts := []simulator.Account{{SID: newSID("AC")}}
	sim := newTestSim(t, accounts...) // fills in (and registers) the token
	return sim, accounts[0].SID, accounts[0].AuthToken
}

func dialectMessages(sid string) string { return "/2010-04-01/Accounts/" + sid + "/Messages.json" }
func dialectCalls(sid string) string    { return "/2010-04-01/Accounts/" + sid + "/Calls.json" }

func twForm(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// adStyle writes an E.164 NANP number as Active Directory often holds it.
func adStyle(e164 string) string {
	d := strings.TrimPrefix(e164, "+1")
	return fmt.Sprintf("(%s) %s-%s", d[:3], d[3:6], d[6:])
}

// dialectCaddy starts Caddy with sites (the site blocks), {sim} replaced by
// the simulator's URL.
func dialectCaddy(t *testing.T, sim *testSim, sites string) *caddytest.Tester {
	t.Helper()
	return startCaddy(t, strings.ReplaceAll(sites, "{sim}", sim.URL))
}

// TestDialectADSelfService replays ADSelfService Plus's Custom SMS provider
// as ManageEngine's KB sets it up for Twilio: POST, the Authorization header
// the admin typed, Success Response <sid>, Failure Response <Code>; and the
// GET, JSON and XML parameter styles with admin-chosen names.
func TestDialectADSelfService(t *testing.T) {
	sim, sid, token := dialectAccount(t)
	tester := dialectCaddy(t, sim, `
:9080 {
	route /sms {
		twilio_sms adselfservice {
			name           adssp
			credentials    passthrough
			from           +15005550006
			default_region US
			api_url        {sim}
			dedup off
		}
	}
	route /custom {
		twilio_sms adselfservice {
			name           adssp-custom
			credentials    passthrough
			from           +15005550006
			default_region US
			api_url        {sim}
			option         success_marker "Message sent"
			option         failure_marker FAILED
			field          to any:cell
			field          message any:sms_text
			dedup off
		}
	}
}`)
	dest := newNumber(t, "US")
	msg := newMessage()
	noteSecret(dialectTricky, adStyle(dest))
	sent := func(body string) []twilioCall {
		return []twilioCall{{api: "messages", path: dialectMessages(sid), authUser: sid,
			form: twForm("To", dest, "From", "+15005550006", "Body", body)}}
	}
	okBody := func(recs []simulator.Record) string { return "<sid>" + recs[0].Sid + "</sid>" }
	const text = "text/plain; charset=utf-8"
	cases := []dialectCase{
		{name: "KB setup: POST form with an AD-style number",
			req:    dialectRequest{path: "/sms", ctype: "application/x-www-form-urlencoded", user: sid, pass: token, body: twForm("To", adStyle(dest), "Body", dialectTricky).Encode()},
			status: 200, ctype: text, body: okBody, twilio: sent(dialectTricky)},
		{name: "GET with the macros in the query string",
			req:    dialectRequest{method: "GET", path: "/sms?" + twForm("mobileNumber", adStyle(dest), "message", msg, "date", "1700000000", "SignatureNonce", "x1").Encode(), user: sid, pass: token},
			status: 200, ctype: text, body: okBody, twilio: sent(msg)},
		{name: "POST JSON parameters",
			req:    dialectRequest{path: "/sms", ctype: "application/json", user: sid, pass: token, body: `{"mobile":"` + dest[1:] + `","msg":` + jsonString(dialectTricky) + `}`},
			status: 200, ctype: text, body: okBody, twilio: sent(dialectTricky)},
		{name: "POST XML parameters with a raw ampersand",
			req:    dialectRequest{path: "/sms", ctype: "text/xml", user: sid, pass: token, body: "<sms><phone>" + adStyle(dest) + "</phone><text>Tom & Jerry: " + msg + "</text></sms>"},
			status: 200, ctype: text, body: okBody, twilio: sent("Tom & Jerry: " + msg)},
		{name: "Twilio refuses the number",
			req:    dialectRequest{path: "/sms", ctype: "application/x-www-form-urlencoded", user: sid, pass: token, body: twForm("To", "+15005550001", "Body", msg).Encode()},
			status: 400, ctype: text,
			body: fixed("<Code>21211</Code><Message>The &#39;To&#39; number +15005550001 is not a valid phone number.</Message>"),
			twilio: []twilioCall{{api: "messages", path: dialectMessages(sid), authUser: sid,
				form: twForm("To", "+15005550001", "From", "+15005550006", "Body", msg)}}},
		{name: "bad number is refused before Twilio",
			req:    dialectRequest{path: "/sms", ctype: "application/x-www-form-urlencoded", user: sid, pass: token, body: twForm("To", "call me", "Body", msg).Encode()},
			status: 400, ctype: text, body: fixed("<Code>21211</Code><Message>field &#34;to&#34; has letters in it</Message>")},
		{name: "missing message",
			req:    dialectRequest{path: "/sms", ctype: "application/x-www-form-urlencoded", user: sid, pass: token, body: twForm("To", dest).Encode()},
			status: 400, ctype: text, body: fixed("<Code>21602</Code><Message>field &#34;message&#34; is required</Message>")},
		{name: "no Authorization header",
			req:    dialectRequest{path: "/sms", ctype: "application/x-www-form-urlencoded", body: twForm("To", dest, "Body", msg).Encode()},
			status: 401, ctype: text,
			body: fixed("<Code>20003</Code><Message>field &#34;authorization&#34; must carry the Twilio Account SID (or API key) and its secret as HTTP Basic credentials</Message>")},
		{name: "admin-chosen names and markers",
			req:    dialectRequest{path: "/custom", ctype: "application/x-www-form-urlencoded", user: sid, pass: token, body: twForm("cell", adStyle(dest), "sms_text", msg).Encode()},
			status: 200, ctype: text, body: func(recs []simulator.Record) string { return "Message sent " + recs[0].Sid }, twilio: sent(msg)},
		{name: "admin-chosen markers on failure",
			req:    dialectRequest{path: "/custom", ctype: "application/x-www-form-urlencoded", user: sid, pass: token, body: twForm("To", dest, "sms_text", msg).Encode()},
			status: 400, ctype: text, body: fixed(`FAILED 21604 field "to" is required`)},
	}
	runDialect(t, tester, sim, cases)
}

// TestDialectPingOne replays PingOne's custom provider: Basic authorization
// with the Account SID and token, the Form keys of Ping's Twilio Studio guide
// (From, to/To, Parameter/Parameters with the unquoted {"OTP":${otp}}
// template), a Raw JSON body, both phone number formats, and voice with
// beforeTag/afterTag fragments.
func TestDialectPingOne(t *testing.T) {
	sim, sid, token := dialectAccount(t)
	flow := newSID("FW")
	tester := dialectCaddy(t, sim, `
:9080 {
	route /pingone/sms {
		twilio_sms pingone {
			name        pingone-sms
			credentials passthrough
			api_url     {sim}
			dedup off
			rate_limit  destination off
		}
	}
	route /pingone/studio {
		twilio_sms pingone {
			name            pingone-studio
			credentials     passthrough
			studio_flow_sid `+flow+`
			api_url         {sim}
			studio_url      {sim}
			dedup off
			rate_limit      destination off
		}
	}
	route /pingone/voice {
		twilio_sms pingone {
			name        pingone-voice
			credentials passthrough
			channel     voice
			api_url     {sim}
			dedup off
			rate_limit  destination off
		}
	}
}`)
	dest := newNumber(t, "US")
	msg := newMessage()
	noteSecret(dialectTricky)
	const sender = "+15005550006"
	const js = "application/json"
	formReq := func(path string, kv ...string) dialectRequest {
		return dialectRequest{path: path, ctype: "application/x-www-form-urlencoded", user: sid, pass: token, body: twForm(kv...).Encode()}
	}
	accepted := func(status, api string) func([]simulator.Record) string {
		return func(recs []simulator.Record) string {
			return `{"ok":true,"sid":"` + recs[0].Sid + `","status":"` + status + `","api":"` + api + `"}`
		}
	}
	studio := func(params string) []twilioCall {
		return []twilioCall{{api: "studio", path: "/v2/Flows/" + flow + "/Executions", authUser: sid,
			form: twForm("To", dest, "From", sender, "Parameters", params)}}
	}
	cases := []dialectCase{
		{name: "SMS form",
			req:    formReq("/pingone/sms", "From", sender, "to", dest, "Parameter", dialectTricky),
			status: 200, ctype: js, body: accepted("queued", "messages"),
			twilio: []twilioCall{{api: "messages", path: dialectMessages(sid), authUser: sid, form: twForm("To", dest, "From", sender, "Body", dialectTricky)}}},
		{name: "SMS raw JSON, NUMBER_ONLY",
			req:    dialectRequest{path: "/pingone/sms", ctype: "application/json", user: sid, pass: token, body: `{"to":"` + dest[1:] + `","from":"` + sender[1:] + `","message":` + jsonString(msg) + `}`},
			status: 200, ctype: js, body: accepted("queued", "messages"),
			twilio: []twilioCall{{api: "messages", path: dialectMessages(sid), authUser: sid, form: twForm("To", dest, "From", sender, "Body", msg)}}},
		{name: "Studio SMS form with the unquoted OTP template",
			req:    formReq("/pingone/studio", "From", sender, "to", dest, "Parameter", `{"OTP":012345}`),
			status: 200, ctype: js, body: accepted("active", "studio"), twilio: studio(`{"OTP":"012345"}`)},
		{name: "Studio voice form keys with a username",
			req:    formReq("/pingone/studio", "From", sender, "To", dest[1:], "Parameters", `{"OTP":000777, "username":jdoe}`),
			status: 200, ctype: js, body: accepted("active", "studio"), twilio: studio(`{"OTP":"000777","username":"jdoe"}`)},
		{name: "Studio with plain text",
			req:    formReq("/pingone/studio", "From", sender, "to", dest, "Parameter", msg),
			status: 200, ctype: js, body: accepted("active", "studio"), twilio: studio(jsonObject("message", msg))},
		{name: "voice with beforeTag and afterTag",
			req:    formReq("/pingone/voice", "From", sender, "To", dest, "Parameters", `Your code is <Say>0</Say> <Pause length="1"/><Say>4</Say> <Pause length="1"/> & bye`),
			status: 200, ctype: js, body: accepted("queued", "calls"),
			twilio: []twilioCall{{api: "calls", path: dialectCalls(sid), authUser: sid, form: twForm("To", dest, "From", sender,
				"Twiml", `<Response><Say>Your code is</Say><Say>0</Say><Pause length="1"></Pause><Say>4</Say><Pause length="1"></Pause><Say>&amp; bye</Say></Response>`, "TimeLimit", "120")}}},
		{name: "voice with plain text is escaped",
			req:    formReq("/pingone/voice", "From", sender, "To", dest, "message", `Code 1 2 3 for "Ann" & co`),
			status: 200, ctype: js, body: accepted("queued", "calls"),
			twilio: []twilioCall{{api: "calls", path: dialectCalls(sid), authUser: sid, form: twForm("To", dest, "From", sender,
				"Twiml", `<Response><Say>Code 1 2 3 for &#34;Ann&#34; &amp; co</Say></Response>`, "TimeLimit", "120")}}},
		{name: "Twilio cannot reach the number",
			req:    formReq("/pingone/sms", "From", sender, "to", "+15005550002", "Parameter", msg),
			status: 400, ctype: js,
			body:   fixed(`{"ok":false,"error":{"outcome":"rejected","field":"","code":21612,"message":"The 'To' phone number: +15005550002, is not currently reachable using the 'From' phone number: +15005550006 via SMS.","more_info":"https://www.twilio.com/docs/errors/21612"}}`),
			twilio: []twilioCall{{api: "messages", path: dialectMessages(sid), authUser: sid, form: twForm("To", "+15005550002", "From", sender, "Body", msg)}}},
		{name: "missing message",
			req:    formReq("/pingone/sms", "From", sender, "to", dest),
			status: 400, ctype: js,
			body: fixed(`{"ok":false,"error":{"outcome":"invalid","field":"message","code":null,"message":"field \"message\" is required","more_info":""}}`)},
		{name: "Studio parameters that are not an object",
			req:    formReq("/pingone/studio", "From", sender, "to", dest, "Parameter", `{"OTP":}`),
			status: 400, ctype: js,
			body: fixed(`{"ok":false,"error":{"outcome":"invalid","field":"parameters","code":null,"message":"field \"parameters\" has an empty value","more_info":""}}`)},
		{name: "voice refuses Dial",
			req:    formReq("/pingone/voice", "From", sender, "To", dest, "message", `<Dial>+15005550006</Dial>`),
			status: 400, ctype: js,
			body: fixed(`{"ok":false,"error":{"outcome":"invalid","field":"message","code":null,"message":"field \"message\" cannot be spoken: contains a TwiML element that is not allowed (only Say and Pause)","more_info":""}}`)},
		{name: "no sender anywhere",
			req:    formReq("/pingone/sms", "to", dest, "Parameter", msg),
			status: 400, ctype: js,
			body: fixed(`{"ok":false,"error":{"outcome":"invalid","field":"from","code":null,"message":"field \"from\" cannot be chosen: no sender can send sms to US","more_info":""}}`)},
	}
	runDialect(t, tester, sim, cases)
}

// TestDialectNetIQ replays Advanced Authentication's Generic SMS sender:
// Basic authentication, {phone} and {message} parameters under the admin's
// names, a sender in NetIQ's 91\9191919191 form, and the Copilot option
// (a Messaging Service) set on the route.
func TestDialectNetIQ(t *testing.T) {
	sim, sid, token := dialectAccount(t)
	service := newSID("MG")
	tester := dialectCaddy(t, sim, `
:9080 {
	route /netiq {
		twilio_sms netiq {
			name        netiq
			credentials passthrough
			api_url     {sim}
			dedup off
			rate_limit  destination off
		}
	}
	route /netiq/copilot {
		twilio_sms netiq {
			name                  netiq-copilot
			credentials           passthrough
			messaging_service_sid `+service+`
			api_url               {sim}
			dedup off
		}
	}
	route /netiq/sender {
		twilio_sms netiq {
			name        netiq-sender
			credentials passthrough
			from        91\9876543210
			api_url     {sim}
			dedup off
			rate_limit  destination off
		}
	}
}`)
	dest := newNumber(t, "IN")
	msg := newMessage()
	noteSecret(dialectTricky)
	const js = "application/json"
	formReq := func(path string, kv ...string) dialectRequest {
		return dialectRequest{path: path, ctype: "application/x-www-form-urlencoded", user: sid, pass: token, body: twForm(kv...).Encode()}
	}
	sent := func(status string) func([]simulator.Record) string {
		return func(recs []simulator.Record) string {
			return `{"ok":true,"status":"sent","sid":"` + recs[0].Sid + `","twilio_status":"` + status + `"}`
		}
	}
	msgCall := func(kv ...string) []twilioCall {
		return []twilioCall{{api: "messages", path: dialectMessages(sid), authUser: sid, form: twForm(kv...)}}
	}
	cases := []dialectCase{
		{name: "generic sender form with a NetIQ sender",
			req:    formReq("/netiq", "to", dest, "text", dialectTricky, "from", `91\9876543210`),
			status: 200, ctype: js, body: sent("queued"), twilio: msgCall("To", dest, "From", "+919876543210", "Body", dialectTricky)},
		{name: "JSON body",
			req:    dialectRequest{path: "/netiq", ctype: "application/json", user: sid, pass: token, body: `{"phone":"` + dest + `","message":` + jsonString(msg) + `,"sender":"ACME"}`},
			status: 200, ctype: js, body: sent("queued"), twilio: msgCall("To", dest, "From", "ACME", "Body", msg)},
		{name: "Copilot: the route's Messaging Service wins",
			req:    formReq("/netiq/copilot", "phone", dest, "message", msg, "from", "+15005550006"),
			status: 200, ctype: js, body: sent("accepted"), twilio: msgCall("To", dest, "MessagingServiceSid", service, "Body", msg)},
		{name: "the route's sender in NetIQ form",
			req:    formReq("/netiq/sender", "phone", dest, "message", msg, "from", "+15005550006"),
			status: 200, ctype: js, body: sent("queued"), twilio: msgCall("To", dest, "From", "+919876543210", "Body", msg)},
		{name: "Twilio: the user replied STOP",
			req:    formReq("/netiq/copilot", "phone", "+15005550004", "message", msg),
			status: 400, ctype: js,
			body:   fixed(`{"ok":false,"status":"failed","error":{"outcome":"rejected","field":"","code":21610,"message":"Attempt to send to unsubscribed recipient","more_info":"https://www.twilio.com/docs/errors/21610"}}`),
			twilio: msgCall("To", "+15005550004", "MessagingServiceSid", service, "Body", msg)},
		{name: "missing message",
			req:    formReq("/netiq", "phone", dest, "from", "+15005550006"),
			status: 400, ctype: js,
			body: fixed(`{"ok":false,"status":"failed","error":{"outcome":"invalid","field":"message","code":null,"message":"field \"message\" is required","more_info":""}}`)},
		{name: "sender that is no number",
			req:    formReq("/netiq", "phone", dest, "message", msg, "from", "ACME Bank Alerts"),
			status: 400, ctype: js,
			body: func([]simulator.Record) string {
				return `{"ok":false,"status":"failed","error":{"outcome":"invalid","field":"from","code":null,"message":"field \"from\" ` + senderReason(t, "ACME Bank Alerts") + `","more_info":""}}`
			}},
	}
	runDialect(t, tester, sim, cases)
}

// TestDialectLogto replays Logto's HTTP SMS connector: JSON with to, type and
// payload.code, the text rendered from per-type templates (one overridden in
// the Caddyfile), sent through the route's Messaging Service with RiskCheck.
func TestDialectLogto(t *testing.T) {
	sim, sid, token := dialectAccount(t)
	service := newSID("MG")
	tester := dialectCaddy(t, sim, `
:9080 {
	route /logto {
		twilio_sms logto {
			name                  logto
			credentials           passthrough
			messaging_service_sid `+service+`
			api_url               {sim}
			template              SignIn "Ваш код: {{code}} & \"welcome\" <Logto>"
			dedup off
		}
	}
	route /logto/norisk {
		twilio_sms logto {
			name                  logto-norisk
			credentials           passthrough
			messaging_service_sid `+service+`
			api_url               {sim}
			option                risk_check disable
			dedup off
		}
	}
}`)
	dest := newNumber(t, "GB")
	code := "0" + newCode()[1:]
	noteSecret(code)
	const js = "application/json"
	jsonReq := func(path, body string) dialectRequest {
		return dialectRequest{path: path, ctype: "application/json", user: sid, pass: token, body: body}
	}
	accepted := func(recs []simulator.Record) string {
		return `{"ok":true,"sid":"` + recs[0].Sid + `","status":"accepted"}`
	}
	sent := func(to, body, risk string) []twilioCall {
		return []twilioCall{{api: "messages", path: dialectMessages(sid), authUser: sid,
			form: twForm("To", to, "MessagingServiceSid", service, "Body", body, "RiskCheck", risk)}}
	}
	cases := []dialectCase{
		{name: "SignIn with the Caddyfile template, to without +",
			req:    jsonReq("/logto", `{"to":"`+dest[1:]+`","type":"SignIn","payload":{"code":"`+code+`","locale":"ru"},"ip":"203.0.113.7"}`),
			status: 200, ctype: js, body: accepted, twilio: sent(dest, "Ваш код: "+code+" & \"welcome\" <Logto>", "enable")},
		{name: "Register with the built-in template",
			req:    jsonReq("/logto", `{"to":"`+dest+`","type":"Register","payload":{"code":"`+code+`"}}`),
			status: 200, ctype: js, body: accepted,
			twilio: sent(dest, "Your registration verification code is "+code+". The code will remain active for 10 minutes.", "enable")},
		{name: "unknown type falls back to Generic",
			req:    jsonReq("/logto", `{"to":"`+dest+`","type":"MfaVerification","payload":{"code":"`+code+`"}}`),
			status: 200, ctype: js, body: accepted,
			twilio: sent(dest, "Your verification code is "+code+". The code will remain active for 10 minutes.", "enable")},
		{name: "Test with risk check disabled",
			req:    jsonReq("/logto/norisk", `{"to":"`+dest+`","type":"Test","payload":{"code":"`+code+`"}}`),
			status: 200, ctype: js, body: accepted,
			twilio: sent(dest, "This is a test message from Logto. Your verification code is "+code+".", "disable")},
		{name: "Twilio: not a mobile number",
			req:    jsonReq("/logto", `{"to":"+15005550009","type":"SignIn","payload":{"code":"`+code+`"}}`),
			status: 400, ctype: js,
			body:   fixed(`{"ok":false,"error":{"outcome":"rejected","field":"","code":21614,"message":"To number: +15005550009, is not a mobile number","more_info":"https://www.twilio.com/docs/errors/21614"}}`),
			twilio: sent("+15005550009", "Ваш код: "+code+" & \"welcome\" <Logto>", "enable")},
		{name: "payload without a code",
			req:    jsonReq("/logto", `{"to":"`+dest+`","type":"OrganizationInvitation","payload":{"link":"https://logto.example/invite"}}`),
			status: 400, ctype: js,
			body: fixed(`{"ok":false,"error":{"outcome":"invalid","field":"code","code":null,"message":"field \"code\" is required","more_info":""}}`)},
		{name: "not JSON",
			req:    jsonReq("/logto", `to=`+dest),
			status: 400, ctype: js,
			body: fixed(`{"ok":false,"error":{"outcome":"invalid","field":"body","code":null,"message":"field \"body\" is not valid JSON","more_info":""}}`)},
	}
	runDialect(t, tester, sim, cases)
}

// TestDialectTwilio replays Twilio's own Messages and Calls API against the
// passthrough: the answer is what Twilio would have given, JSON or XML by the
// path's extension, including Twilio-shaped errors for what the adapter
// refuses itself.
func TestDialectTwilio(t *testing.T) {
	sim, sid, token := dialectAccount(t)
	tester := dialectCaddy(t, sim, `
:9080 {
	route /2010-04-01/* {
		twilio_sms twilio {
			name        twilio-passthrough
			credentials passthrough
			api_url     {sim}
			dedup off
			rate_limit  destination off
		}
	}
}`)
	dest := newNumber(t, "US")
	msg := newMessage()
	noteSecret(dialectTricky)
	const (
		js      = "application/json; charset=utf-8" // the adapter's own answers
		relayed = "application/json"                // Twilio's, relayed with its own content type
		xmlCT   = "application/xml"
		sender  = "+15005550006"
		xmlHdr  = "<?xml version='1.0' encoding='UTF-8'?>\n"
	)
	base := "/2010-04-01/Accounts/" + sid
	callerMG := newSID("MG")
	formReq := func(path string, kv ...string) dialectRequest {
		return dialectRequest{path: path, ctype: "application/x-www-form-urlencoded", user: sid, pass: token, body: twForm(kv...).Encode()}
	}
	msgCall := func(kv ...string) []twilioCall {
		return []twilioCall{{api: "messages", path: dialectMessages(sid), authUser: sid, form: twForm(kv...)}}
	}
	twilioErr := func(code, status int, message string) string {
		return fmt.Sprintf(`{"code":%d,"message":%s,"more_info":"https://www.twilio.com/docs/errors/%d","status":%d}`, code, jsonString(message), code, status)
	}
	cases := []dialectCase{
		{name: "Messages.json relays Twilio's JSON",
			req:    formReq(base+"/Messages.json", "To", dest, "From", sender, "Body", dialectTricky),
			status: 201, ctype: relayed, check: twilioMessageJSON(sid, dest, sender),
			twilio: msgCall("To", dest, "From", sender, "Body", dialectTricky)},
		{name: "Messages without extension answers XML",
			req:    formReq(base+"/Messages", "To", dest, "From", sender, "Body", msg, "ValidityPeriod", "300"),
			status: 201, ctype: xmlCT, check: twilioMessageXML(sid, dest, sender, msg),
			twilio: msgCall("To", dest, "From", sender, "Body", msg, "ValidityPeriod", "300")},
		{name: "caller's MessagingServiceSid is forwarded: in passthrough the caller's senders win",
			req:    formReq(base+"/Messages.json", "To", dest, "From", sender, "MessagingServiceSid", callerMG, "Body", msg),
			status: 201, ctype: relayed, check: func(t *testing.T, body string, recs []simulator.Record) {
				if !strings.Contains(body, `"messaging_service_sid":"`+callerMG+`"`) {
					t.Errorf("answer %s does not carry the caller's messaging service", body)
				}
			},
			twilio: msgCall("To", dest, "From", sender, "MessagingServiceSid", callerMG, "Body", msg)},
		{name: "Twilio's error relayed as XML",
			req:    formReq(base+"/Messages.xml", "To", "+15005550001", "From", sender, "Body", msg),
			status: 400, ctype: xmlCT,
			body:   fixed(xmlHdr + "<TwilioResponse><RestException><Code>21211</Code><Message>The &#39;To&#39; number +15005550001 is not a valid phone number.</Message><MoreInfo>https://www.twilio.com/docs/errors/21211</MoreInfo><Status>400</Status></RestException></TwilioResponse>"),
			twilio: msgCall("To", "+15005550001", "From", sender, "Body", msg)},
		{name: "Twilio's error relayed as JSON",
			req:    formReq(base+"/Messages.json", "To", dest, "From", "+15005550008", "Body", msg),
			status: 400, ctype: relayed, body: fixed(twilioErr(21611, 400, "This 'From' number has exceeded the maximum number of queued messages")),
			twilio: msgCall("To", dest, "From", "+15005550008", "Body", msg)},
		{name: "Twilio answers a missing Body itself",
			req:    formReq(base+"/Messages.json", "To", dest, "From", sender),
			status: 400, ctype: relayed, body: fixed(twilioErr(21602, 400, "Message body is required.")),
			twilio: msgCall("To", dest, "From", sender)},
		{name: "Calls.json with TwiML",
			req:    formReq(base+"/Calls.json", "To", dest, "From", sender, "Twiml", `<Response><Say voice="alice" loop="2">Your code is 1 2 3</Say><Pause length="2"/></Response>`),
			status: 201, ctype: relayed, check: twilioCallJSON(sid, dest, sender),
			twilio: []twilioCall{{api: "calls", path: dialectCalls(sid), authUser: sid, form: twForm("To", dest, "From", sender,
				"Twiml", `<Response><Say voice="alice" loop="2">Your code is 1 2 3</Say><Pause length="2"/></Response>`, "TimeLimit", "120")}}},
		{name: "invalid To answered like Twilio",
			req:    formReq(base+"/Messages.json", "To", "not a number", "From", sender, "Body", msg),
			status: 400, ctype: js, body: fixed(twilioErr(21211, 400, "The 'To' number is not a valid phone number."))},
		{name: "missing To answered like Twilio, in XML",
			req:    formReq(base+"/Messages", "From", sender, "Body", msg),
			status: 400, ctype: xmlCT,
			body: fixed(xmlHdr + "<TwilioResponse><RestException><Code>21604</Code><Message>A &#39;To&#39; phone number is required.</Message><MoreInfo>https://www.twilio.com/docs/errors/21604</MoreInfo><Status>400</Status></RestException></TwilioResponse>")},
		{name: "Body over 1600 characters",
			req:    formReq(base+"/Messages.json", "To", dest, "From", sender, "Body", strings.Repeat("é", 1601)),
			status: 400, ctype: js, body: fixed(twilioErr(21617, 400, "The concatenated message body exceeds the 1600 character limit."))},
		{name: "bad MessagingServiceSid",
			req:    formReq(base+"/Messages.json", "To", dest, "MessagingServiceSid", "MG123", "Body", msg),
			status: 400, ctype: js, body: fixed(twilioErr(21701, 400, "The Messaging Service Sid is invalid."))},
		{name: "Calls: missing To answered with the Calls code",
			req:    formReq(base+"/Calls.json", "From", sender, "Twiml", "<Response><Say>1</Say></Response>"),
			status: 400, ctype: js, body: fixed(twilioErr(21201, 400, "No 'To' number is specified"))},
		{name: "Calls: invalid To answered with the Calls code",
			req:    formReq(base+"/Calls.json", "To", "12", "From", sender, "Twiml", "<Response><Say>1</Say></Response>"),
			status: 400, ctype: js, body: fixed(twilioErr(21217, 400, "The 'To' phone number does not appear to be valid"))},
		{name: "other resources are forwarded to Twilio verbatim",
			req:    formReq(base+"/IncomingPhoneNumbers.json", "PhoneNumber", "+15005550006"),
			status: 404, ctype: relayed, check: func(t *testing.T, body string, _ []simulator.Record) {
				if !strings.Contains(body, `"code":20404`) {
					t.Errorf("answer %s is not Twilio's 20404", body)
				}
			}},
		{name: "no credentials",
			req:    dialectRequest{path: base + "/Messages", ctype: "application/x-www-form-urlencoded", body: twForm("To", dest, "From", sender, "Body", msg).Encode()},
			status: 401, ctype: xmlCT,
			body: fixed(xmlHdr + "<TwilioResponse><RestException><Code>20003</Code><Message>Authenticate</Message><MoreInfo>https://www.twilio.com/docs/errors/20003</MoreInfo><Status>401</Status></RestException></TwilioResponse>")},
		{name: "wrong credentials: Twilio's 401 relayed",
			req:    dialectRequest{path: base + "/Messages.json", ctype: "application/x-www-form-urlencoded", user: sid, pass: "wrong-token", body: twForm("To", dest, "From", sender, "Body", msg).Encode()},
			status: 401, ctype: relayed, body: fixed(twilioErr(20003, 401, "Authenticate")),
			twilio: msgCall("To", dest, "From", sender, "Body", msg)},
	}
	runDialect(t, tester, sim, cases)
}

// jsonString is s as a JSON string.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// jsonObject is {"key":"value"} as Go's encoder (and the json() function) writes it.
func jsonObject(key, value string) string {
	b, err := json.Marshal(map[string]string{key: value})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// senderReason is what the phone package says about a bad sender.
func senderReason(t *testing.T, raw string) string {
	t.Helper()
	_, err := phone.Normalizer{}.NormalizeSender(raw)
	if err == nil {
		t.Fatalf("%q is a valid sender", raw)
	}
	return err.Error()
}

// twilioMessageJSON checks a relayed Message resource: Twilio's own JSON,
// every field of it, for the message in the first record.
func twilioMessageJSON(sid, to, from string) func(*testing.T, string, []simulator.Record) {
	return func(t *testing.T, body string, recs []simulator.Record) {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		rec := recs[0]
		want := map[string]any{
			"sid": rec.Sid, "account_sid": sid, "to": to, "from": from, "body": rec.Form.Get("Body"),
			"status": "queued", "direction": "outbound-api", "api_version": "2010-04-01", "error_code": nil,
			"error_message": nil, "messaging_service_sid": nil, "num_media": "0", "price": nil, "price_unit": "USD",
			"uri": "/2010-04-01/Accounts/" + sid + "/Messages/" + rec.Sid + ".json",
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s = %#v, want %#v", k, m[k], v)
			}
		}
		for _, k := range []string{"date_created", "date_updated", "date_sent", "num_segments", "subresource_uris"} {
			if _, ok := m[k]; !ok {
				t.Errorf("no %s", k)
			}
		}
	}
}

// twilioCallJSON checks a relayed Call resource.
func twilioCallJSON(sid, to, from string) func(*testing.T, string, []simulator.Record) {
	return func(t *testing.T, body string, recs []simulator.Record) {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		rec := recs[0]
		if !strings.HasPrefix(rec.Sid, "CA") || m["sid"] != rec.Sid || m["account_sid"] != sid || m["to"] != to || m["from"] != from || m["status"] != "queued" {
			t.Errorf("call %v", m)
		}
	}
}

// twilioMessageXML checks a Message resource converted to Twilio's XML.
func twilioMessageXML(sid, to, from, text string) func(*testing.T, string, []simulator.Record) {
	return func(t *testing.T, body string, recs []simulator.Record) {
		t.Helper()
		const hdr = "<?xml version='1.0' encoding='UTF-8'?>\n<TwilioResponse><Message><"
		if !strings.HasPrefix(body, hdr) {
			t.Errorf("body does not start like Twilio's XML: %.80s", body)
		}
		var r struct {
			XMLName xml.Name `xml:"TwilioResponse"`
			Message struct {
				Sid, AccountSid, To, From, Body, Status, Direction, ApiVersion, NumSegments, PriceUnit string
				ErrorCode                                                                              *string
				MessagingServiceSid                                                                    *string
				SubresourceUris                                                                        struct{ Media string }
			}
		}
		if err := xml.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("not XML: %v", err)
		}
		m := r.Message
		if m.Sid != recs[0].Sid || m.AccountSid != sid || m.To != to || m.From != from || m.Body != text || m.Status != "queued" ||
			m.Direction != "outbound-api" || m.ApiVersion != "2010-04-01" || m.NumSegments == "" || m.PriceUnit != "USD" ||
			m.ErrorCode == nil || *m.ErrorCode != "" || m.MessagingServiceSid == nil || m.SubresourceUris.Media == "" {
			t.Errorf("message %+v", m)
		}
	}
}

// TestDialectsBuiltBinary runs the built binary on each example Caddyfile and
// replays the example's request.sh against it: the examples are what
// operators copy, so they must validate and work as shipped. CI builds the
// binary first and sets CADDY_BIN.
func TestDialectsBuiltBinary(t *testing.T) {
	bin := builtBinary(t, "bash", "curl", "base64")
	sms := `\{"ok":true,"sid":"SM[0-9a-f]{32}","status":"queued","api":"messages"\}`
	examples := []struct {
		product  string
		variants []exampleVariant
	}{
		{"adselfservice", []exampleVariant{
			{"form", "200", `<sid>SM[0-9a-f]{32}</sid>`},
			{"get", "200", `<sid>SM[0-9a-f]{32}</sid>`},
			{"json", "200", `<sid>SM[0-9a-f]{32}</sid>`},
			{"xml", "200", `<sid>SM[0-9a-f]{32}</sid>`},
		}},
		{"pingone", []exampleVariant{
			{"sms", "200", sms},
			{"studio", "200", `\{"ok":true,"sid":"FN[0-9a-f]{32}","status":"active","api":"studio"\}`},
			{"voice", "200", `\{"ok":true,"sid":"CA[0-9a-f]{32}","status":"queued","api":"calls"\}`},
			{"json", "200", sms},
		}},
		{"custom", []exampleVariant{
			{"482913", "200", `\{"result":"OK","ref":"SM[0-9a-f]{32}"\}`},
		}},
		{"netiq", []exampleVariant{
			{"form", "200", `\{"ok":true,"status":"sent","sid":"SM[0-9a-f]{32}","twilio_status":"queued"\}`},
			{"copilot", "200", `\{"ok":true,"status":"sent","sid":"SM[0-9a-f]{32}","twilio_status":"accepted"\}`},
			{"json", "200", `\{"ok":true,"status":"sent","sid":"SM[0-9a-f]{32}","twilio_status":"queued"\}`},
		}},
		{"logto", []exampleVariant{
			{"SignIn", "200", `\{"ok":true,"sid":"SM[0-9a-f]{32}","status":"accepted"\}`},
			{"Register", "200", `\{"ok":true,"sid":"SM[0-9a-f]{32}","status":"accepted"\}`},
			{"MfaVerification", "200", `\{"ok":true,"sid":"SM[0-9a-f]{32}","status":"accepted"\}`},
		}},
		{"twilio", []exampleVariant{
			{"json", "201", `\{.*"sid":"SM[0-9a-f]{32}".*\}`},
			{"xml", "201", `(?s)<\?xml version='1.0' encoding='UTF-8'\?>\n<TwilioResponse><Message>.*<Sid>SM[0-9a-f]{32}</Sid>.*</Message></TwilioResponse>`},
			{"call", "201", `\{"sid":"CA[0-9a-f]{32}".*\}`},
		}},
	}
	for _, ex := range examples {
		t.Run(ex.product, func(t *testing.T) { runExample(t, bin, ex.product, ex.variants) })
	}
}

// exampleVariant is one argument of an example's request.sh and the answer
// it must give: the status line and a regular expression for the whole body.
type exampleVariant struct{ arg, status, body string }

// builtBinary is CADDY_BIN as an absolute path (relative to this package's
// folder, or else to the repository root where ./xcaddy.sh writes ./caddy),
// or skips the test when it or one of the request.sh tools is missing.
func builtBinary(t *testing.T, tools ...string) string {
	t.Helper()
	bin := os.Getenv("CADDY_BIN")
	if bin == "" {
		t.Skip("CADDY_BIN is not set: build the binary (./xcaddy.sh) and run with CADDY_BIN=$PWD/caddy to test the examples against it")
	}
	if !filepath.IsAbs(bin) {
		if _, err := os.Stat(bin); err != nil {
			bin = filepath.Join("..", bin)
		}
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("CADDY_BIN: %v: build the binary first (./xcaddy.sh)", err)
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("request.sh needs %s: %v", tool, err)
		}
	}
	return bin
}

// runExample checks examples/<product>/ as an operator would meet it: the
// Caddyfile validates with the built binary and `caddy fmt` leaves it as it
// is; then the binary runs it (on free ports, no environment overrides) and
// every variant of request.sh gets its answer. It returns the adapter's port,
// for checks of the example's own.
func runExample(t *testing.T, bin, product string, variants []exampleVariant) string {
	t.Helper()
	dir := filepath.Join("..", "examples", product)
	caddyfile := filepath.Join(dir, "Caddyfile")
	for _, f := range []string{caddyfile, filepath.Join(dir, "README.md"), filepath.Join(dir, "request.sh")} {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
	}
	validate := exec.Command(bin, "validate", "--config", caddyfile, "--adapter", "caddyfile")
	validate.Env = exampleEnv()
	if out, err := validate.CombinedOutput(); err != nil {
		t.Fatalf("caddy validate: %v\n%s", err, out)
	}
	original, err := os.ReadFile(caddyfile)
	if err != nil {
		t.Fatal(err)
	}
	if formatted, err := exec.Command(bin, "fmt", caddyfile).Output(); err != nil {
		t.Fatalf("caddy fmt: %v", err)
	} else if string(formatted) != string(original) {
		t.Errorf("caddy fmt would change the Caddyfile; it would write:\n%s", formatted)
	}

	port, simPort := freePort(t), freePort(t)
	run := exec.Command(bin, "run", "--config", caddyfile, "--adapter", "caddyfile")
	run.Env = append(exampleEnv(), "PORT="+port, "SIM_PORT="+simPort, "ADMIN=off")
	var logs lockedBuffer
	run.Stdout, run.Stderr = &logs, &logs
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- run.Wait() }()
	t.Cleanup(func() {
		_ = run.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = run.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("caddy output:\n%s", logs.String())
		}
	})
	for _, p := range []string{port, simPort} {
		waitListening(t, "127.0.0.1:"+p, exited)
	}
	for _, v := range variants {
		t.Run(v.arg, func(t *testing.T) {
			sh := exec.Command("bash", filepath.Join(dir, "request.sh"), v.arg)
			sh.Env = append(exampleEnv(), "ADAPTER=http://127.0.0.1:"+port)
			var stderr strings.Builder
			sh.Stderr = &stderr
			out, err := sh.Output()
			if err != nil {
				t.Fatalf("request.sh %s: %v\n%s", v.arg, err, stderr.String())
			}
			text := strings.TrimRight(string(out), "\n")
			i := strings.LastIndexByte(text, '\n')
			if i < 0 {
				t.Fatalf("request.sh printed no status line: %q", text)
			}
			body, status := text[:i], text[i+1:]
			if status != v.status {
				t.Errorf("status %s, want %s (body %s)", status, v.status, body)
			}
			if !regexp.MustCompile(`^(?:` + v.body + `)$`).MatchString(body) {
				t.Errorf("body %s\ndoes not match %s", body, v.body)
			}
		})
	}
	return port
}

// exampleEnv is the test's environment without the variables the examples
// read, so that their defaults apply unless the test sets them.
func exampleEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "PORT", "SIM_PORT", "ADMIN", "ADAPTER", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TO", "FROM", "MESSAGE",
			"CODE", "PASSWORD", "SECRET", "KEY", "TOKEN":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// freePort is a loopback port nothing listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// waitListening waits until addr accepts connections, or the process exits.
func waitListening(t *testing.T, addr string, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("caddy exited before listening on %s: %v", addr, err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s after 20s", addr)
}

// lockedBuffer collects a child process's output from two pipes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

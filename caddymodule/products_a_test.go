package caddymodule

// The products of group A (Okta, Supabase, Kannel, Jasmin, Zitadel), end to
// end like dialects_test.go: each product's documented request, with its own
// authentication, is replayed against an in-process Caddy whose routes use
// the built-in mapping and stored credentials in front of the simulator, and
// both sides are checked exactly: the Twilio request (API, path, Basic user,
// every form value) and the answer the product reads (status, content type,
// the headers it acts on, body).
//
// Tests here use startCaddy: never t.Parallel.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// paReq is what a product sends: the dialectRequest of dialects_test.go
// with headers (signatures, header secrets).
type paReq struct {
	method string // default POST
	path   string
	ctype  string
	body   string
	header map[string]string
}

// paCase is one documented request and what both sides must see. header
// lists answer headers the product acts on ("" means absent).
type paCase struct {
	name   string
	req    paReq
	status int
	ctype  string
	header map[string]string
	body   func(recs []simulator.Record) string
	twilio []twilioCall
}

func paSend(t *testing.T, tester *caddytest.Tester, q paReq) dialectAnswer {
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

// paRun replays every case against the Caddy already running, with an empty
// simulator log before each.
func paRun(t *testing.T, tester *caddytest.Tester, sim *testSim, cases []paCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim.Reset()
			a := paSend(t, tester, tc.req)
			recs := sim.records("")
			checkTwilioCalls(t, recs, tc.twilio)
			if a.status != tc.status {
				t.Errorf("status %d, want %d (body %s)", a.status, tc.status, a.body)
			}
			if got := a.header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			for k, v := range tc.header {
				if got := a.header.Get(k); got != v {
					t.Errorf("%s %q, want %q", k, got, v)
				}
			}
			if len(recs) != len(tc.twilio) {
				t.Logf("answer %s", a.body)
				return // the body would name a record that is not there
			}
			if want := tc.body(recs); a.body != want {
				t.Errorf("answer\n got %s\nwant %s", a.body, want)
			}
		})
	}
}

// paCode is a fresh numeric one-time code of n digits, registered as a
// secret. It never starts with 0, so that it can be written as a JSON number.
func paCode(n int) string {
	c := randomFrom("123456789", 1) + randomFrom("0123456789", n-1)
	noteSecret(c)
	return c
}

// paStored is a route's stored credentials for the simulator's account, with
// the magic sender and the simulator as Twilio.
func paStored(sid, token string) string {
	return "account_sid " + sid + "\n\t\t\tauth_token " + token + "\n\t\t\tfrom +15005550006\n\t\t\tapi_url {sim}"
}

const paSender = "+15005550006"

// ---------------------------------------------------------------- Okta

// oktaPayload is the telephony hook's request as Okta documents it
// (TelephonyPayloadExample), with the message profile given.
func oktaPayload(phone, code, channel, locale, text string) string {
	return `{"eventId":"uS5871kJThSsU8qlA1LTcg","eventTime":"2020-01-17T21:23:56.000Z","eventType":"com.okta.telephony.provider",` +
		`"eventTypeVersion":"1.0","contentType":"application/json","cloudEventVersion":"0.1",` +
		`"source":"https://example.okta.com/api/v1/inlineHooks/cbl2ad6phv9fsPLcF0g7",` +
		`"requestType":"com.okta.user.telephony.mfa-verification",` +
		`"data":{"context":{"request":{"id":"reqRgSk8IBBRhuo0YdlEDTmUw","method":"POST",` +
		`"url":{"value":"/idp/idx/challenge/send"},"ipAddress":"203.0.113.7"}},` +
		`"userProfile":{"firstName":"test","lastName":"user","login":"test.user@example.com","userId":"00uyxxSknGtK8022w0g3"},` +
		`"messageProfile":{"msgTemplate":` + jsonString(text) + `,"phoneNumber":` + phone + `,` +
		`"otpExpires":"2022-01-28T21:48:34.321Z","deliveryChannel":"` + channel + `","otpCode":` + code + `,"locale":"` + locale + `"}}}`
}

// oktaError is the failure answer: an error object Okta falls back on.
func oktaError(kind, cause, reason, location, domain string) string {
	return `{"error":{"errorSummary":"Failed to deliver ` + kind + ` OTP","errorCauses":[{"errorSummary":` + jsonString(cause) +
		`,"reason":` + jsonString(reason) + `,"location":` + jsonString(location) + `,"domain":"` + domain + `"}]}}`
}

// TestProductAOkta replays Okta's telephony inline hook: the documented
// payload with the hook's authScheme header, SMS with msgTemplate as the
// text, voice as a call that speaks the code digit by digit twice in the
// user's language, and every failure answered 200 with an error object so
// that Okta falls back to its own telephony.
func TestProductAOkta(t *testing.T) {
	sim, sid, token := dialectAccount(t)
	secret := newToken()
	tester := dialectCaddy(t, sim, `
:9080 {
	route /okta {
		twilio_sms okta {
			`+paStored(sid, token)+`
			caller_auth header Authorization "Basic `+secret+`"
		}
	}
	route /okta/pending {
		twilio_sms okta {
			`+paStored(sid, token)+`
			caller_auth header Authorization "Basic `+secret+`"
			option success_status PENDING
			option voice Polly.Joanna
			option voice_language en-GB
		}
	}
	route /okta/down {
		twilio_sms okta {
			account_sid `+sid+`
			auth_token `+token+`
			from +15005550006
			api_url `+closedURL(t)+`
			caller_auth header Authorization "Basic `+secret+`"
		}
	}
}`)
	const js = "application/json"
	auth := map[string]string{"Authorization": "Basic " + secret}
	post := func(path, payload string) paReq {
		return paReq{path: path, ctype: js, body: payload, header: auth}
	}
	ok := func(status string) func([]simulator.Record) string {
		return func(recs []simulator.Record) string {
			return `{"commands":[{"type":"com.okta.telephony.action","value":[{"status":"` + status +
				`","provider":"Twilio","transactionId":"` + recs[0].Sid + `","transactionMetadata":"queued"}]}]}`
		}
	}
	sms := func(to, body string) []twilioCall {
		return []twilioCall{{api: "messages", path: dialectMessages(sid), authUser: sid, form: twForm("To", to, "From", paSender, "Body", body)}}
	}
	call := func(to, twiml string) []twilioCall {
		return []twilioCall{{api: "calls", path: dialectCalls(sid), authUser: sid, form: twForm("To", to, "From", paSender, "Twiml", twiml, "TimeLimit", "120")}}
	}
	spaced := func(code string) string { return strings.Join(strings.Split(code, ""), " ") }

	us, de, xx := newNumber(t, "US"), newNumber(t, "DE"), newNumber(t, "GB")
	c1, c2, c3, c4, c5 := paCode(6), paCode(6), paCode(8), paCode(6), paCode(6)
	t1 := "Your Example verification code is " + c1
	t3 := "Ihr Bestätigungscode lautet " + c3 + "."
	noteSecret(t1, t3, spaced(c3), spaced(c4))
	sayDE := `<Say language="de-DE">Ihr Bestätigungscode lautet ` + spaced(c3) + `.</Say>`
	sayXX := `<Say>Your verification code is ` + spaced(c4) + `</Say>`
	sayGB := `<Say voice="Polly.Joanna" language="en-GB">Code &lt;` + spaced(c5) + `&gt; &amp; bye</Say>`
	pause := `<Pause length="1"></Pause>`
	cases := []paCase{
		{name: "SMS: msgTemplate is the text",
			req:    post("/okta", oktaPayload(`"`+us+`"`, `"`+c1+`"`, "SMS", "en", t1)),
			status: 200, ctype: js, body: ok("SUCCESSFUL"), twilio: sms(us, t1)},
		{name: "SMS: numbers as JSON numbers, no msgTemplate",
			req:    post("/okta", oktaPayload(us[1:], c2, "SMS", "EN-US", "")),
			status: 200, ctype: js, body: ok("SUCCESSFUL"), twilio: sms(us, "Your verification code is "+c2)},
		{name: "voice in the user's locale, the code digit by digit, twice",
			req:    post("/okta", oktaPayload(`"`+de+`"`, `"`+c3+`"`, "Voice", "de_DE", t3)),
			status: 200, ctype: js, body: ok("SUCCESSFUL"),
			twilio: call(de, "<Response>"+sayDE+pause+sayDE+"</Response>")},
		{name: "voice in a locale Twilio has no voice for, without the code in msgTemplate",
			req:    post("/okta", oktaPayload(`"`+xx+`"`, `"`+c4+`"`, "voice", "tlh", "(HOOK) Code inside")),
			status: 200, ctype: js, body: ok("SUCCESSFUL"),
			twilio: call(xx, "<Response>"+sayXX+pause+sayXX+"</Response>")},
		{name: "the route's voice, language and PENDING",
			req:    post("/okta/pending", oktaPayload(`"`+us+`"`, `"`+c5+`"`, "VOICE", "fr-FR", "Code <"+c5+"> & bye")),
			status: 200, ctype: js, body: ok("PENDING"),
			twilio: call(us, "<Response>"+sayGB+pause+sayGB+"</Response>")},
		{name: "Twilio refuses the number",
			req:    post("/okta", oktaPayload(`"+15005550001"`, `"`+paCode(6)+`"`, "SMS", "en", "Your code is 1")),
			status: 200, ctype: js,
			body: fixed(oktaError("SMS", "Provider could not deliver OTP",
				"Twilio error 21211: The 'To' number +15005550001 is not a valid phone number.", "", "twilio")),
			twilio: sms("+15005550001", "Your code is 1")},
		{name: "Twilio: the user replied STOP",
			req:    post("/okta", oktaPayload(`"+15005550004"`, `"`+paCode(6)+`"`, "SMS", "en", "Your code is 2")),
			status: 200, ctype: js,
			body: fixed(oktaError("SMS", "Provider could not deliver OTP",
				"Twilio error 21610: Attempt to send to unsubscribed recipient", "", "twilio")),
			twilio: sms("+15005550004", "Your code is 2")},
		{name: "the preview's number is refused before Twilio",
			req:    post("/okta", oktaPayload(`9876543210`, `11111`, "SMS", "EN-US", "(HOOK)Your code is 11111")),
			status: 200, ctype: js,
			body: fixed(oktaError("SMS", "A field is not valid",
				"data.messageProfile.phoneNumber has no country code and no default region is set", "data.messageProfile.phoneNumber", "request"))},
		{name: "missing otpCode",
			req:    post("/okta", strings.Replace(oktaPayload(`"`+us+`"`, `""`, "SMS", "en", "x"), `"otpCode":""`, `"otp":"1"`, 1)),
			status: 200, ctype: js,
			body: fixed(oktaError("SMS", "A required field is missing",
				"data.messageProfile.otpCode is required", "data.messageProfile.otpCode", "request"))},
		{name: "an unknown delivery channel",
			req:    post("/okta", oktaPayload(`"`+us+`"`, `"`+paCode(6)+`"`, "EMAIL", "en", "x")),
			status: 200, ctype: js,
			body: fixed(oktaError("SMS", "A field is not valid",
				"data.messageProfile.deliveryChannel does not have the expected format", "data.messageProfile.deliveryChannel", "request"))},
		{name: "no authScheme header: refused before Twilio",
			req:    paReq{path: "/okta", ctype: js, body: oktaPayload(`"`+us+`"`, `"`+paCode(6)+`"`, "SMS", "en", "x")},
			status: 200, ctype: js,
			body: fixed(oktaError("SMS", "The hook's authScheme was not accepted",
				"authScheme does not carry an accepted caller credential", "authScheme", "request"))},
		{name: "a forged authScheme header: refused before Twilio",
			req: paReq{path: "/okta", ctype: js, body: oktaPayload(`"`+us+`"`, `"`+paCode(6)+`"`, "Voice", "en", "x"),
				header: map[string]string{"Authorization": "Basic " + secret[1:] + "x"}},
			status: 200, ctype: js,
			body: fixed(oktaError("SMS", "The hook's authScheme was not accepted",
				"authScheme does not carry an accepted caller credential", "authScheme", "request"))},
		{name: "Twilio unreachable: nothing sent, Okta falls back",
			req:    post("/okta/down", oktaPayload(`"`+us+`"`, `"`+paCode(6)+`"`, "Voice", "en", "x")),
			status: 200, ctype: js,
			body: fixed(oktaError("voice call", "Provider unreachable: nothing was sent",
				"Twilio could not be reached; nothing was sent", "", "twilio"))},
	}
	paRun(t, tester, sim, cases)
}

var (
	_ = hmac.New
	_ = rand.Read
	_ = sha256.New
	_ = base64.StdEncoding
	_ = hex.EncodeToString
	_ = url.Values{}
	_ = strconv.Itoa
	_ = time.Now
)

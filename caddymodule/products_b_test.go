package caddymodule

// FusionAuth, authentik, Ory Kratos, privacyIDEA and RSA Authentication
// Manager, end to end like dialects_test.go: each product's documented
// request is replayed against the in-process Caddy, and both sides are
// checked exactly: the Twilio request (API, path, Basic user, every form
// value) and the answer the product reads (status, content type, body).
// Products that authenticate with a header of their own (a bearer token, an
// API key) or with credentials among the parameters are refused before any
// Twilio call when the credential is missing or forged.
//
// Tests here use startCaddy: never t.Parallel.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// pbBearer is an Authorization header line.
func pbBearer(token string) string { return "Authorization: Bearer " + token }

const (
	pbJSON   = "application/json"
	pbText   = "text/plain; charset=utf-8"
	pbForm   = "application/x-www-form-urlencoded"
	pbSender = "+15005550006"
)

// pbSMS is the Messages request Twilio must get from account sid.
func pbSMS(sid string, kv ...string) []twilioCall {
	return []twilioCall{{api: "messages", path: dialectMessages(sid), authUser: sid, form: twForm(kv...)}}
}

// pbOK is the JSON success answer of fusionauth (with api), authentik and kratos.
func pbOK(status, api string) func([]simulator.Record) string {
	return func(recs []simulator.Record) string {
		s := `{"ok":true,"sid":"` + recs[0].Sid + `","status":"` + status + `"`
		if api != "" {
			s += `,"api":"` + api + `"`
		}
		return s + "}"
	}
}

// pbError is the JSON failure answer of fusionauth and kratos.
func pbError(outcome, field string, code int, message, moreInfo string) func([]simulator.Record) string {
	return fixed(`{"ok":false,"error":{"outcome":"` + outcome + `","field":"` + field + `","code":` + strconv.Itoa(code) +
		`,"message":` + jsonString(message) + `,"more_info":"` + moreInfo + `"}}`)
}

// pbNational is an E.164 NANP number without +1, as products keep it.
func pbNational(e164 string) string { return strings.TrimPrefix(e164, "+1") }

// TestProductBFusionAuth replays FusionAuth's Generic Messenger: the
// documented JSON for an SMS (a national number, as in FusionAuth's example)
// and for a voice message, with the messenger's Basic auth checked by
// caller_auth, and with the Basic auth carrying the Twilio credentials.
func TestProductBFusionAuth(t *testing.T) {
	sim, sid, token := dialectAccount(t)
	pass := newToken()
	tester := dialectCaddy(t, sim, `
:9080 {
	route /fusionauth {
		twilio_sms fusionauth {
			name           fusionauth
			account_sid    `+sid+`
			auth_token     `+token+`
			from           `+pbSender+`
			default_region US
			caller_auth    basic fusionauth `+pass+`
			api_url        {sim}
			dedup off
			rate_limit     destination off
		}
	}
	route /fusionauth/passthrough {
		twilio_sms fusionauth {
			name           fusionauth-passthrough
			credentials    passthrough
			from           `+pbSender+`
			default_region US
			option         spell_code no
			option         voice Polly.Joanna
			api_url        {sim}
			dedup off
			rate_limit     destination off
		}
	}
}`)
	dest := newNumber(t, "US")
	code := newCode()
	text := "Two Factor Code: " + code
	voice := "Your verification code is " + code
	userID := "00000000-0000-0000-0000-000000000042"
	noteSecret(text, voice, dialectTricky)
	payload := func(kv ...string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	fa := func(path, body string) dialectRequest {
		return dialectRequest{path: path, ctype: pbJSON, user: "fusionauth", pass: pass, body: body}
	}
	call := func(twiml string) []twilioCall {
		return []twilioCall{{api: "calls", path: dialectCalls(sid), authUser: sid,
			form: twForm("To", dest, "From", pbSender, "Twiml", twiml, "TimeLimit", "120")}}
	}
	cases := []dialectCase{
		{name: "documented SMS payload with a national number",
			req: fa("/fusionauth", payload("code", code, "phoneNumber", pbNational(dest), "message", voice,
				"textMessage", text, "type", "SMS", "userId", userID)),
			status: 200, ctype: pbJSON, body: pbOK("queued", "messages"),
			twilio: pbSMS(sid, "To", dest, "From", pbSender, "Body", text)},
		{name: "no type: an SMS of textMessage, carried unharmed",
			req:    fa("/fusionauth", payload("phoneNumber", dest, "textMessage", dialectTricky)),
			status: 200, ctype: pbJSON, body: pbOK("queued", "messages"),
			twilio: pbSMS(sid, "To", dest, "From", pbSender, "Body", dialectTricky)},
		{name: "Voice speaks message with the code digit by digit",
			req: fa("/fusionauth", payload("code", code, "phoneNumber", dest, "message", voice,
				"textMessage", text, "type", "Voice", "userId", userID)),
			status: 200, ctype: pbJSON, body: pbOK("queued", "calls"),
			twilio: call("<Response><Say>Your verification code is " + spacedCode(code) + "</Say></Response>")},
		{name: "Voice without message speaks textMessage, in the route's voice",
			req:    dialectRequest{path: "/fusionauth/passthrough", ctype: pbJSON, user: sid, pass: token, body: payload("code", code, "phoneNumber", dest, "textMessage", text, "type", "Voice")},
			status: 200, ctype: pbJSON, body: pbOK("queued", "calls"),
			twilio: call(`<Response><Say voice="Polly.Joanna">Two Factor Code: ` + code + `</Say></Response>`)},
		{name: "Basic auth carrying the Twilio credentials",
			req:    dialectRequest{path: "/fusionauth/passthrough", ctype: pbJSON, user: sid, pass: token, body: payload("phoneNumber", dest, "textMessage", text, "type", "SMS")},
			status: 200, ctype: pbJSON, body: pbOK("queued", "messages"),
			twilio: pbSMS(sid, "To", dest, "From", pbSender, "Body", text)},
		{name: "Twilio refuses the number",
			req:    fa("/fusionauth", payload("phoneNumber", "+15005550001", "textMessage", text, "type", "SMS")),
			status: 400, ctype: pbJSON,
			body:   pbError("rejected", "", 21211, "The 'To' number +15005550001 is not a valid phone number.", "https://www.twilio.com/docs/errors/21211"),
			twilio: pbSMS(sid, "To", "+15005550001", "From", pbSender, "Body", text)},
		{name: "a number that is none, named as FusionAuth names it",
			req:    fa("/fusionauth", payload("phoneNumber", "call me", "textMessage", text, "type", "SMS")),
			status: 400, ctype: pbJSON, body: pbError("invalid", "phoneNumber", 21211, `field "to" has letters in it`, "")},
		{name: "an SMS without textMessage or message",
			req:    fa("/fusionauth", payload("phoneNumber", dest, "code", code, "type", "SMS")),
			status: 400, ctype: pbJSON, body: pbError("invalid", "textMessage", 21602, `field "message" is required`, "")},
		{name: "a Voice message without text",
			req:    fa("/fusionauth", payload("phoneNumber", dest, "code", code, "type", "Voice")),
			status: 400, ctype: pbJSON, body: pbError("invalid", "message", 12100, `field "message" is required`, "")},
		{name: "a type FusionAuth does not send",
			req:    fa("/fusionauth", payload("phoneNumber", dest, "textMessage", text, "type", "Email")),
			status: 400, ctype: pbJSON, body: pbError("invalid", "type", 20001, `field "type" does not have the expected format`, "")},
		{name: "no Basic auth: refused before Twilio",
			req:    dialectRequest{path: "/fusionauth", ctype: pbJSON, body: payload("phoneNumber", dest, "textMessage", text)},
			status: 401, ctype: pbJSON,
			body: pbError("invalid", "authorization", 20003, `field "authorization" does not carry an accepted caller credential`, "")},
		{name: "a forged password: refused before Twilio",
			req:    dialectRequest{path: "/fusionauth", ctype: pbJSON, user: "fusionauth", pass: pass + "x", body: payload("phoneNumber", dest, "textMessage", text)},
			status: 401, ctype: pbJSON,
			body: pbError("invalid", "authorization", 20003, `field "authorization" does not carry an accepted caller credential`, "")},
	}
	runDialect(t, tester, sim, cases)
}

// spacedCode is code with a space between characters, as spaced() writes it.
func spacedCode(code string) string { return strings.Join(strings.Split(code, ""), " ") }

// TestProductBAuthentik replays authentik's generic SMS provider: its
// default payload (From, To, Body with the token, Message with the text),
// a webhook mapping's lower-case payload, both auth types, and the short
// texts authentik shows to the user on failure.
func TestProductBAuthentik(t *testing.T) {
	sim, sid, token := dialectAccount(t)
	bearer, pass := newToken(), newToken()
	noteSecret(bearer, pass)
	tester := dialectCaddy(t, sim, `
:9080 {
	route /authentik {
		twilio_sms authentik {
			name        authentik
			account_sid `+sid+`
			auth_token  `+token+`
			caller_auth bearer `+bearer+`
			api_url     {sim}
			dedup off
			rate_limit  destination off
		}
	}
	route /authentik/basic {
		twilio_sms authentik {
			name           authentik-basic
			account_sid    `+sid+`
			auth_token     `+token+`
			from           `+pbSender+`
			default_region GB
			caller_auth    basic authentik `+pass+`
			template       Code "Votre code : {{code}}"
			option         text_failed "Le code n'a pas pu être envoyé."
			api_url        {sim}
			dedup off
			rate_limit     destination off
		}
	}
	route /authentik/limited {
		twilio_sms authentik {
			name        authentik-limited
			account_sid `+sid+`
			auth_token  `+token+`
			caller_auth bearer `+bearer+`
			api_url     {sim}
			rate_limit  destination 1 10m
		}
	}
}`)
	dest := newNumber(t, "GB")
	national := "0" + dest[3:] // 07400 …, as a user in the UK types it
	noteSecret(national)
	code := "4" + randomFrom("0123456789", 5)
	text := "Use this code to authenticate in authentik: " + code
	noteSecret(text)
	payload := func(kv ...string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ak := func(body string) dialectRequest {
		return dialectRequest{path: "/authentik", ctype: pbJSON, header: headers(pbBearer(bearer)), body: body}
	}
	basic := func(body string) dialectRequest {
		return dialectRequest{path: "/authentik/basic", ctype: pbJSON, user: "authentik", pass: pass, body: body}
	}
	const (
		invalidNumber = "This phone number is not valid. Check it and try again."
		unreachable   = "This phone number cannot receive text messages. Use another number."
		failed        = "The code could not be sent. Try again later."
	)
	cases := []dialectCase{
		{name: "default payload: Message is the SMS, From the sender",
			req:    ak(payload("From", pbSender, "To", dest, "Body", code, "Message", text)),
			status: 200, ctype: pbJSON, body: pbOK("queued", ""),
			twilio: pbSMS(sid, "To", dest, "From", pbSender, "Body", text)},
		{name: "webhook mapping with lower-case keys and a text of its own",
			req:    ak(payload("from", pbSender, "to", dest, "body", dialectTricky)),
			status: 200, ctype: pbJSON, body: pbOK("queued", ""),
			twilio: pbSMS(sid, "To", dest, "From", pbSender, "Body", dialectTricky)},
		{name: "a bare token gets the Code template, Basic auth, national number",
			req:    basic(payload("From", "+15005550007", "To", national, "Body", code)),
			status: 200, ctype: pbJSON, body: pbOK("queued", ""),
			twilio: pbSMS(sid, "To", dest, "From", pbSender, "Body", "Votre code : "+code)},
		{name: "a number that is none",
			req:    ak(payload("From", pbSender, "To", "call me", "Body", code, "Message", text)),
			status: 400, ctype: pbText, body: fixed(invalidNumber)},
		{name: "Twilio: not a valid number",
			req:    ak(payload("From", pbSender, "To", "+15005550001", "Body", code, "Message", text)),
			status: 400, ctype: pbText, body: fixed(invalidNumber),
			twilio: pbSMS(sid, "To", "+15005550001", "From", pbSender, "Body", text)},
		{name: "Twilio: not a mobile number",
			req:    ak(payload("From", pbSender, "To", "+15005550009", "Body", code, "Message", text)),
			status: 400, ctype: pbText, body: fixed(unreachable),
			twilio: pbSMS(sid, "To", "+15005550009", "From", pbSender, "Body", text)},
		{name: "Twilio: the user replied STOP",
			req:    ak(payload("From", pbSender, "To", "+15005550004", "Body", code, "Message", text)),
			status: 400, ctype: pbText, body: fixed(unreachable),
			twilio: pbSMS(sid, "To", "+15005550004", "From", pbSender, "Body", text)},
		{name: "Twilio: the sender is not the account's",
			req:    ak(payload("From", "+15005550007", "To", dest, "Body", code, "Message", text)),
			status: 400, ctype: pbText, body: fixed(failed),
			twilio: pbSMS(sid, "To", dest, "From", "+15005550007", "Body", text)},
		{name: "no text at all",
			req:    ak(payload("From", pbSender, "To", dest)),
			status: 400, ctype: pbText, body: fixed(failed)},
		{name: "the route's own failure text",
			req:    basic(payload("To", dest)),
			status: 400, ctype: pbText, body: fixed("Le code n'a pas pu être envoyé.")},
		{name: "no bearer token: refused before Twilio",
			req:    dialectRequest{path: "/authentik", ctype: pbJSON, body: payload("From", pbSender, "To", dest, "Body", code, "Message", text)},
			status: 401, ctype: pbText, body: fixed(failed)},
		{name: "a forged bearer token: refused before Twilio",
			req:    dialectRequest{path: "/authentik", ctype: pbJSON, header: headers(pbBearer(bearer[1:] + "0")), body: payload("From", pbSender, "To", dest, "Body", code, "Message", text)},
			status: 401, ctype: pbText, body: fixed(failed)},
		{name: "the bearer token as Basic auth: refused before Twilio",
			req:    dialectRequest{path: "/authentik", ctype: pbJSON, user: bearer, pass: "", body: payload("From", pbSender, "To", dest, "Body", code, "Message", text)},
			status: 401, ctype: pbText, body: fixed(failed)},
		{name: "a forged Basic password: refused before Twilio",
			req:    dialectRequest{path: "/authentik/basic", ctype: pbJSON, user: "authentik", pass: bearer, body: payload("To", dest, "Body", code, "Message", text)},
			status: 401, ctype: pbText, body: fixed("Le code n'a pas pu être envoyé.")},
	}
	runDialect(t, tester, sim, cases)

	t.Run("the message may have been sent", func(t *testing.T) {
		sim.Reset()
		sim.SetFault(sid, simulator.Fault{Mode: simulator.Fault5xx, Count: 1})
		defer sim.ClearFaults()
		other := newNumber(t, "GB")
		a := dialectSend(t, tester, ak(payload("From", pbSender, "To", other, "Body", code, "Message", text)))
		if a.status != http.StatusGatewayTimeout || a.header.Get("Content-Type") != pbText ||
			a.body != "The code may still arrive. Wait a minute before asking for a new one." {
			t.Errorf("answer %d %q %s", a.status, a.header.Get("Content-Type"), a.body)
		}
	})

	t.Run("too many codes to one number", func(t *testing.T) {
		sim.Reset()
		other := newNumber(t, "GB")
		req := func(c string) dialectRequest {
			return dialectRequest{path: "/authentik/limited", ctype: pbJSON, header: headers(pbBearer(bearer)),
				body: payload("From", pbSender, "To", other, "Body", c, "Message", "Use this code to authenticate in authentik: "+c)}
		}
		if a := dialectSend(t, tester, req("7"+randomFrom("0123456789", 5))); a.status != http.StatusOK {
			t.Fatalf("first answer %d %s", a.status, a.body)
		}
		a := dialectSend(t, tester, req("8"+randomFrom("0123456789", 5)))
		if a.status != http.StatusTooManyRequests || a.header.Get("Content-Type") != pbText || a.header.Get("Retry-After") == "" ||
			a.body != "Too many codes were sent to this phone number. Wait a few minutes and try again." {
			t.Errorf("answer %d %q Retry-After %q: %s", a.status, a.header.Get("Content-Type"), a.header.Get("Retry-After"), a.body)
		}
		if n := len(sim.records("")); n != 1 {
			t.Errorf("Twilio got %d requests, want 1", n)
		}
	})
}

// TestProductBKratos replays the Kratos courier's HTTP channel: the
// documented form template (To, Body) with basic_auth carrying the Twilio
// credentials, the whole ctx as JSON with an api_key header, and its
// re-sends, which must never send a second message.
func TestProductBKratos(t *testing.T) {
	sim, sid, token := dialectAccount(t)
	apiKey := newToken()
	tester := dialectCaddy(t, sim, `
:9080 {
	route /kratos {
		twilio_sms kratos {
			name        kratos
			credentials passthrough
			from        `+pbSender+`
			api_url     {sim}
			dedup off
			rate_limit  destination off
		}
	}
	route /kratos/apikey {
		twilio_sms kratos {
			name        kratos-apikey
			account_sid `+sid+`
			auth_token  `+token+`
			messaging_service_sid MG00000000000000000000000000000001
			caller_auth header X-Api-Key `+apiKey+`
			api_url     {sim}
			dedup off
			rate_limit  destination off
		}
	}
	route /kratos/retries {
		twilio_sms kratos {
			name        kratos-retries
			credentials passthrough
			from        `+pbSender+`
			api_url     {sim}
			rate_limit  destination off
		}
	}
}`)
	dest := newNumber(t, "DE")
	msg := "Your verification code is: " + newCode()
	noteSecret(msg, dialectTricky)
	form := func(path string, kv ...string) dialectRequest {
		return dialectRequest{path: path, ctype: pbForm, user: sid, pass: token, body: twForm(kv...).Encode()}
	}
	ctxJSON := func(recipient, body string) string {
		b, err := json.Marshal(map[string]any{
			"recipient": recipient, "subject": "", "body": body, "template_type": "verification_code",
			"template_data": map[string]any{"To": recipient, "VerificationCode": "123456"}, "message_type": "sms",
		})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	apiReq := func(body string, header ...string) dialectRequest {
		return dialectRequest{path: "/kratos/apikey", ctype: pbJSON, header: headers(header...), body: body}
	}
	const service = "MG00000000000000000000000000000001"
	cases := []dialectCase{
		{name: "documented form template with basic_auth",
			req:    form("/kratos", "To", dest, "Body", dialectTricky),
			status: 200, ctype: pbJSON, body: pbOK("queued", ""),
			twilio: pbSMS(sid, "To", dest, "From", pbSender, "Body", dialectTricky)},
		{name: "the whole ctx as JSON with an api_key header",
			req:    apiReq(ctxJSON(dest, msg), "X-Api-Key: "+apiKey),
			status: 200, ctype: pbJSON, body: pbOK("accepted", ""),
			twilio: pbSMS(sid, "To", dest, "MessagingServiceSid", service, "Body", msg)},
		{name: "a JSON template with to and message",
			req:    dialectRequest{path: "/kratos", ctype: pbJSON, user: sid, pass: token, body: `{"to":"` + dest + `","message":` + jsonString(msg) + `}`},
			status: 200, ctype: pbJSON, body: pbOK("queued", ""),
			twilio: pbSMS(sid, "To", dest, "From", pbSender, "Body", msg)},
		{name: "Twilio: the user replied STOP",
			req:    form("/kratos", "To", "+15005550004", "Body", msg),
			status: 400, ctype: pbJSON,
			body:   pbError("rejected", "", 21610, "Attempt to send to unsubscribed recipient", "https://www.twilio.com/docs/errors/21610"),
			twilio: pbSMS(sid, "To", "+15005550004", "From", pbSender, "Body", msg)},
		{name: "an email channel pointed here by mistake",
			req:    apiReq(ctxJSON("user@example.com", msg), "X-Api-Key: "+apiKey),
			status: 400, ctype: pbJSON, body: pbError("invalid", "to", 21211, `field "to" `+pbPhoneReason(t, "user@example.com"), "")},
		{name: "a template without the body",
			req:    form("/kratos", "To", dest),
			status: 400, ctype: pbJSON, body: pbError("invalid", "message", 21602, `field "message" is required`, "")},
		{name: "no basic_auth on a passthrough route",
			req:    dialectRequest{path: "/kratos", ctype: pbForm, body: twForm("To", dest, "Body", msg).Encode()},
			status: 401, ctype: pbJSON,
			body: pbError("invalid", "authorization", 20003, `field "authorization" must carry the Twilio Account SID (or API key) and its secret as HTTP Basic credentials`, "")},
		{name: "no api key: refused before Twilio",
			req:    apiReq(ctxJSON(dest, msg)),
			status: 401, ctype: pbJSON,
			body: pbError("invalid", "authorization", 20003, `field "authorization" does not carry an accepted caller credential`, "")},
		{name: "a forged api key: refused before Twilio",
			req:    apiReq(ctxJSON(dest, msg), "X-Api-Key: "+apiKey[:len(apiKey)-1]),
			status: 401, ctype: pbJSON,
			body: pbError("invalid", "authorization", 20003, `field "authorization" does not carry an accepted caller credential`, "")},
	}
	runDialect(t, tester, sim, cases)

	// The courier re-sends a message until it is sent or abandoned: the
	// mapping's dedup window (10 minutes) answers every repeat with the
	// first answer.
	t.Run("a repeat of a sent message is not sent again", func(t *testing.T) {
		sim.Reset()
		req := form("/kratos/retries", "To", newNumber(t, "DE"), "Body", "Your login code is: "+newCode())
		first := dialectSend(t, tester, req)
		again := dialectSend(t, tester, req)
		if first.status != http.StatusOK || again.status != first.status || again.body != first.body {
			t.Errorf("answers %d %s and %d %s, want the same 200", first.status, first.body, again.status, again.body)
		}
		if n := len(sim.records("")); n != 1 {
			t.Errorf("Twilio got %d requests, want 1", n)
		}
	})
	t.Run("re-sends after an answer that may mean sent", func(t *testing.T) {
		sim.Reset()
		sim.SetFault(sid, simulator.Fault{Mode: simulator.Fault5xx, Count: 1})
		defer sim.ClearFaults()
		req := form("/kratos/retries", "To", newNumber(t, "DE"), "Body", "Your verification code is: "+newCode())
		want := `{"ok":false,"error":{"outcome":"unknown","field":"","code":20500,` +
			`"message":"Twilio answered HTTP 500, which does not prove that nothing was sent; it was not sent again","more_info":""}}`
		// Kratos's client tries three times, and the courier re-sends up to
		// five times more.
		for i := range 6 {
			a := dialectSend(t, tester, req)
			if a.status != http.StatusGatewayTimeout || a.body != want {
				t.Errorf("try %d: %d %s\nwant 504 %s", i+1, a.status, a.body, want)
			}
		}
		if n := len(sim.records("")); n != 1 {
			t.Errorf("Twilio got %d requests, want 1", n)
		}
	})
}

// pbPhoneReason is what the phone package says about a number that is none.
func pbPhoneReason(t *testing.T, raw string) string {
	t.Helper()
	_, err := phone.Normalizer{}.Normalize(raw)
	if err == nil {
		t.Fatalf("%q is a valid number", raw)
	}
	return err.Error()
}

// TestProductBPrivacyIDEA replays privacyIDEA's HttpSMSProvider: GET with
// Clickatell's option names, POST with the option names of privacyIDEA's own
// Twilio example (a form, and JSON with SEND_DATA_AS_JSON), USERNAME and
// PASSWORD as Basic auth, and the RETURN_SUCCESS and RETURN_FAIL texts.
func TestProductBPrivacyIDEA(t *testing.T) {
	sim, sid, token := dialectAccount(t)
	pass := newToken()
	tester := dialectCaddy(t, sim, `
:9080 {
	route /pi {
		twilio_sms privacyidea {
			name           privacyidea
			credentials    passthrough
			from           `+pbSender+`
			default_region US
			api_url        {sim}
			dedup off
			rate_limit     destination off
		}
	}
	route /pi/success {
		twilio_sms privacyidea {
			name           privacyidea-success
			credentials    passthrough
			from           `+pbSender+`
			option         success_marker "200 OK"
			api_url        {sim}
			dedup off
			rate_limit     destination off
		}
	}
	route /pi/fail {
		twilio_sms privacyidea {
			name           privacyidea-fail
			credentials    passthrough
			from           `+pbSender+`
			option         failure_marker FAILED
			api_url        {sim}
			dedup off
			rate_limit     destination off
		}
	}
	route /pi/auth {
		twilio_sms privacyidea {
			name           privacyidea-auth
			account_sid    `+sid+`
			auth_token     `+token+`
			from           `+pbSender+`
			caller_auth    basic privacyidea `+pass+`
			api_url        {sim}
			dedup off
			rate_limit     destination off
		}
	}
}`)
	dest := newNumber(t, "US")
	msg := "Your OTP value is " + newCode()
	noteSecret(msg, dialectTricky)
	get := func(path string, kv ...string) dialectRequest {
		return dialectRequest{method: "GET", path: path + "?" + twForm(kv...).Encode(), user: sid, pass: token}
	}
	post := func(path string, kv ...string) dialectRequest {
		return dialectRequest{path: path, ctype: pbForm, user: sid, pass: token, body: twForm(kv...).Encode()}
	}
	sent := func(prefix string) func([]simulator.Record) string {
		return func(recs []simulator.Record) string { return prefix + recs[0].Sid }
	}
	cases := []dialectCase{
		{name: "GET with Clickatell's option names, a national number",
			req:    get("/pi", "user", "YOU", "api_id", "12345", "text", msg, "to", pbNational(dest)),
			status: 200, ctype: pbText, body: sent("OK "),
			twilio: pbSMS(sid, "To", dest, "From", pbSender, "Body", msg)},
		{name: "POST form with privacyIDEA's Twilio example (From, Body, To)",
			req:    post("/pi", "From", pbSender, "Body", dialectTricky, "To", dest),
			status: 200, ctype: pbText, body: sent("OK "),
			twilio: pbSMS(sid, "To", dest, "From", pbSender, "Body", dialectTricky)},
		{name: "POST JSON (SEND_DATA_AS_JSON)",
			req:    dialectRequest{path: "/pi", ctype: pbJSON, user: sid, pass: token, body: `{"phone":"` + dest + `","text":` + jsonString(msg) + `}`},
			status: 200, ctype: pbText, body: sent("OK "),
			twilio: pbSMS(sid, "To", dest, "From", pbSender, "Body", msg)},
		{name: "Twilio: the user replied STOP",
			req:    post("/pi", "To", "+15005550004", "Body", msg),
			status: 400, ctype: pbText, body: fixed("ERROR 21610 Attempt to send to unsubscribed recipient"),
			twilio: pbSMS(sid, "To", "+15005550004", "From", pbSender, "Body", msg)},
		{name: "no phone",
			req:    post("/pi", "Body", msg),
			status: 400, ctype: pbText, body: fixed(`ERROR 21604 field "to" is required`)},
		{name: "no USERNAME and PASSWORD on a passthrough route",
			req:    dialectRequest{method: "GET", path: "/pi?" + twForm("to", dest, "text", msg).Encode()},
			status: 401, ctype: pbText,
			body: fixed(`ERROR 20003 field "authorization" must carry the Twilio Account SID (or API key) and its secret as HTTP Basic credentials`)},
		{name: "RETURN_SUCCESS 200 OK",
			req:    get("/pi/success", "to", dest, "text", msg),
			status: 200, ctype: pbText, body: sent("200 OK "),
			twilio: pbSMS(sid, "To", dest, "From", pbSender, "Body", msg)},
		{name: "RETURN_SUCCESS on a failure",
			req:    get("/pi/success", "to", "+15005550009", "text", msg),
			status: 400, ctype: pbText, body: fixed("ERROR 21614 To number: +15005550009, is not a mobile number"),
			twilio: pbSMS(sid, "To", "+15005550009", "From", pbSender, "Body", msg)},
		{name: "RETURN_FAIL FAILED on a success",
			req:    get("/pi/fail", "to", dest, "text", msg),
			status: 200, ctype: pbText, body: sent("OK "),
			twilio: pbSMS(sid, "To", dest, "From", pbSender, "Body", msg)},
		{name: "RETURN_FAIL FAILED on a failure",
			req:    get("/pi/fail", "to", "+15005550001", "text", msg),
			status: 400, ctype: pbText, body: fixed("FAILED 21211 The 'To' number +15005550001 is not a valid phone number."),
			twilio: pbSMS(sid, "To", "+15005550001", "From", pbSender, "Body", msg)},
		{name: "USERNAME and PASSWORD of the adapter's",
			req:    dialectRequest{method: "GET", path: "/pi/auth?" + twForm("phone", dest, "sms", msg).Encode(), user: "privacyidea", pass: pass},
			status: 200, ctype: pbText, body: sent("OK "),
			twilio: pbSMS(sid, "To", dest, "From", pbSender, "Body", msg)},
		{name: "a forged PASSWORD: refused before Twilio",
			req:    dialectRequest{method: "GET", path: "/pi/auth?" + twForm("phone", dest, "sms", msg).Encode(), user: "privacyidea", pass: token},
			status: 401, ctype: pbText, body: fixed(`ERROR 20003 field "authorization" does not carry an accepted caller credential`)},
	}
	runDialect(t, tester, sim, cases)
}

// TestProductBRSA replays RSA Authentication Manager's SMS HTTP plug-in: the
// documented example (GET, user and password among the parameters, the
// number with its country code and no +), ${plus}, a raw + that a query
// decodes to a space, POST, and the Success Response Code.
func TestProductBRSA(t *testing.T) {
	sim, sid, token := dialectAccount(t)
	pass := newToken()
	noteSecret(pass)
	tester := dialectCaddy(t, sim, `
:9080 {
	route /rsa {
		twilio_sms rsa_am {
			name        rsa
			account_sid `+sid+`
			auth_token  `+token+`
			from        `+pbSender+`
			caller_auth params user rsa-am password `+pass+`
			api_url     {sim}
			dedup off
			rate_limit  destination off
		}
	}
	route /rsa/custom {
		twilio_sms rsa_am {
			name           rsa-custom
			account_sid    `+sid+`
			auth_token     `+token+`
			from           `+pbSender+`
			caller_auth    params clientid rsa-am secret `+pass+`
			option         success_marker "STATUS=SENT"
			option         failure_marker "STATUS=FAILED"
			field          to any:cell
			default_region GB
			assume_numbers national
			api_url        {sim}
			dedup off
			rate_limit     destination off
		}
	}
}`)
	us, gb := newNumber(t, "US"), newNumber(t, "GB")
	const norway = "+4792345678" // also 479-234-5678 in Arkansas: read country code first
	noteSecret(norway, norway[1:])
	msg := "Your tokencode is: " + newCode()
	noteSecret(msg, dialectTricky)
	creds := []string{"user", "rsa-am", "password", pass, "extraparam", "123456"}
	get := func(kv ...string) dialectRequest {
		return dialectRequest{method: "GET", path: "/rsa?" + twForm(append(creds, kv...)...).Encode()}
	}
	ok := fixed("RESULT:OK")
	cases := []dialectCase{
		{name: "documented GET example, country code without +",
			req:    get("to", norway[1:], "text", msg),
			status: 200, ctype: pbText, body: ok,
			twilio: pbSMS(sid, "To", norway, "From", pbSender, "Body", msg)},
		{name: "destaddr=${plus}${msg.address}",
			req:    get("destaddr", us, "text", dialectTricky),
			status: 200, ctype: pbText, body: ok,
			twilio: pbSMS(sid, "To", us, "From", pbSender, "Body", dialectTricky)},
		{name: "a raw + that the query decodes to a space",
			req:    dialectRequest{method: "GET", path: "/rsa?" + twForm(append(creds, "text", msg)...).Encode() + "&to=" + us},
			status: 200, ctype: pbText, body: ok,
			twilio: pbSMS(sid, "To", us, "From", pbSender, "Body", msg)},
		{name: "POST form",
			req:    dialectRequest{path: "/rsa", ctype: pbForm, body: twForm(append(creds, "msisdn", gb[1:], "message", msg)...).Encode()},
			status: 200, ctype: pbText, body: ok,
			twilio: pbSMS(sid, "To", gb, "From", pbSender, "Body", msg)},
		{name: "Twilio: the user replied STOP",
			req:    get("to", "15005550004", "text", msg),
			status: 400, ctype: pbText, body: fixed("RESULT:ERROR 21610 Attempt to send to unsubscribed recipient"),
			twilio: pbSMS(sid, "To", "+15005550004", "From", pbSender, "Body", msg)},
		{name: "a number that is none",
			req:    get("to", "call me", "text", msg),
			status: 400, ctype: pbText, body: fixed(`RESULT:ERROR 21211 field "to" has letters in it`)},
		{name: "no message",
			req:    get("to", us[1:]),
			status: 400, ctype: pbText, body: fixed(`RESULT:ERROR 21602 field "message" is required`)},
		{name: "a forged password: refused before Twilio",
			req:    dialectRequest{method: "GET", path: "/rsa?" + twForm("user", "rsa-am", "password", pass[:len(pass)-1], "to", us[1:], "text", msg).Encode()},
			status: 401, ctype: pbText, body: fixed(`RESULT:ERROR 20003 field "authorization" does not carry an accepted caller credential`)},
		{name: "no credentials: refused before Twilio",
			req:    dialectRequest{method: "GET", path: "/rsa?" + twForm("to", us[1:], "text", msg).Encode()},
			status: 401, ctype: pbText, body: fixed(`RESULT:ERROR 20003 field "authorization" does not carry an accepted caller credential`)},
		{name: "credentials in a body that is not a form do not count",
			req:    dialectRequest{method: "POST", path: "/rsa?" + twForm("to", us[1:], "text", msg).Encode(), ctype: "text/plain", body: twForm(creds...).Encode()},
			status: 401, ctype: pbText, body: fixed(`RESULT:ERROR 20003 field "authorization" does not carry an accepted caller credential`)},
		{name: "the admin's markers, names and national numbers",
			req:    dialectRequest{path: "/rsa/custom", ctype: pbForm, body: twForm("clientid", "rsa-am", "secret", pass, "cell", "0"+gb[3:], "text", msg).Encode()},
			status: 200, ctype: pbText, body: fixed("STATUS=SENT"),
			twilio: pbSMS(sid, "To", gb, "From", pbSender, "Body", msg)},
		{name: "the admin's failure marker",
			req:    dialectRequest{path: "/rsa/custom", ctype: pbForm, body: twForm("clientid", "rsa-am", "secret", pass, "text", msg).Encode()},
			status: 400, ctype: pbText, body: fixed(`STATUS=FAILED 21604 field "to" is required`)},
	}
	runDialect(t, tester, sim, cases)
}

// TestProductBMarkers: whatever texts an admin types into privacyIDEA's
// RETURN_SUCCESS and RETURN_FAIL or Authentication Manager's Success
// Response Code, a success answer is what the product counts as sent and a
// failure one it never does, even when Twilio's words or the SID happen to
// contain a marker; markers that could not be told apart fail the route.
func TestProductBMarkers(t *testing.T) {
	results := map[string]func() *mapping.Result{
		"accepted": func() *mapping.Result {
			return &mapping.Result{OK: true, Outcome: mapping.OutcomeAccepted, Sid: "SM0123456789abcdef0123456789abcdef", Status: "queued", HTTPStatus: 201}
		},
		"rejected": func() *mapping.Result {
			return &mapping.Result{Outcome: mapping.OutcomeRejected, HTTPStatus: 400, ErrorCode: 21211,
				ErrorMessage: "The 'To' number RESULT:OK ok 200 OK <sid> & FAILED is not a valid phone number."}
		},
		"invalid": func() *mapping.Result {
			return &mapping.Result{Outcome: mapping.OutcomeInvalid, Field: "to", Reason: `field "to" is required`, Problem: mapping.ProblemMissing}
		},
		"limited": func() *mapping.Result {
			return &mapping.Result{Outcome: mapping.OutcomeRateLimited, ErrorCode: 20429, RetryAfter: 5, Reason: "too many messages for this destination; try again later"}
		},
		"unknown": func() *mapping.Result {
			return &mapping.Result{Outcome: mapping.OutcomeUnknown, Reason: "Twilio did not answer in time; the message may have been sent, so it was not sent again"}
		},
	}
	type markers struct{ success, failure string }
	tests := []struct {
		mapping string
		markers []markers
		// caseless: the product's comparison is not known, so no marker may
		// show in any case; else Python's case-sensitive "in".
		caseless bool
		refused  []markers
	}{
		{mapping: "privacyidea", markers: []markers{
			{}, {success: "OK"}, {failure: "ERROR"}, {success: "ID"}, {success: "200 OK"}, {failure: "FAILED"},
			{success: "sent", failure: "failed"}, {success: "<sid>", failure: "<Code>"}, {failure: "OK"}, {success: "ERROR"},
			{success: "SM0"}, {failure: "SM0"}, {failure: "2"}, {success: "2"}, {success: "a", failure: "b"}, {success: "OK", failure: "ok"},
		}, refused: []markers{{success: "OK", failure: "OK!"}, {success: "FAIL", failure: "FAILED"}}},
		{mapping: "rsa_am", caseless: true, markers: []markers{
			{}, {success: "OK", failure: "ERROR"}, {success: "RESULT:OK", failure: "FAILED"}, {success: "sent", failure: "21211"},
			{success: "SM0", failure: "RESULT:ERROR"}, {success: "<sid>", failure: "<Code>"}, {success: "2", failure: "X"}, {success: "result", failure: "q"},
		}, refused: []markers{{success: "OK", failure: "ok"}, {success: " ", failure: "ERROR"}, {success: "RESULT", failure: "RESULT:ERROR"}}},
	}
	compile := func(name string, m markers) (*mapping.Mapping, error) {
		spec, file, err := mapping.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		opts := map[string]string{}
		if m.success != "" || name == "privacyidea" {
			opts["success_marker"] = m.success
		}
		if m.failure != "" || name == "privacyidea" {
			opts["failure_marker"] = m.failure
		}
		return mapping.Compile(spec, file, mapping.Config{Options: opts, Phone: phone.Normalizer{}})
	}
	for _, tt := range tests {
		t.Run(tt.mapping, func(t *testing.T) {
			has := func(body, marker string) bool {
				if tt.caseless {
					return strings.Contains(strings.ToLower(body), strings.ToLower(marker))
				}
				return strings.Contains(body, marker)
			}
			for _, mk := range tt.markers {
				m, err := compile(tt.mapping, mk)
				if err != nil {
					t.Errorf("markers %q and %q refused: %v", mk.success, mk.failure, err)
					continue
				}
				ok, ko := m.Options()["success_marker"], m.Options()["failure_marker"]
				for name, res := range results {
					r, err := m.Reply(m.NewValues(mapping.Route{}, mapping.Request{}), res())
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					body := string(r.Body)
					if name == "accepted" {
						// privacyIDEA: 200, 201 or 202, then RETURN_SUCCESS in
						// the body, else RETURN_FAIL not in it.
						if r.Status != http.StatusOK || ok != "" && !has(body, ok) || ko != "" && has(body, ko) {
							t.Errorf("markers %q and %q: success answers %d %q", ok, ko, r.Status, body)
						}
						continue
					}
					if r.Status < 400 || ok != "" && has(body, ok) || tt.mapping == "rsa_am" && !has(body, ko) {
						t.Errorf("markers %q and %q: %s answers %d %q", ok, ko, name, r.Status, body)
					}
				}
			}
			for _, mk := range tt.refused {
				if _, err := compile(tt.mapping, mk); err == nil || !strings.Contains(err.Error(), "must not") {
					t.Errorf("markers %q and %q: %v, want a refusal", mk.success, mk.failure, err)
				}
			}
		})
	}
}

// TestProductBExamples runs the built binary on each example Caddyfile of
// these products, checks that `caddy fmt` leaves it as it is, and replays
// the example's request.sh against it. CI builds the binary first and sets
// CADDY_BIN.
func TestProductBExamples(t *testing.T) {
	bin := builtBinary(t, "bash", "curl", "base64")
	examples := []struct {
		product  string
		variants []exampleVariant
	}{
		{"fusionauth", []exampleVariant{
			{"sms", "200", `\{"ok":true,"sid":"SM[0-9a-f]{32}","status":"queued","api":"messages"\}`},
			{"voice", "200", `\{"ok":true,"sid":"CA[0-9a-f]{32}","status":"queued","api":"calls"\}`},
		}},
		{"authentik", []exampleVariant{
			{"bearer", "200", `\{"ok":true,"sid":"SM[0-9a-f]{32}","status":"queued"\}`},
			{"basic", "200", `\{"ok":true,"sid":"SM[0-9a-f]{32}","status":"queued"\}`},
			{"invalid", "400", `This phone number is not valid\. Check it and try again\.`},
		}},
		{"kratos", []exampleVariant{
			{"form", "200", `\{"ok":true,"sid":"SM[0-9a-f]{32}","status":"queued"\}`},
			{"json", "200", `\{"ok":true,"sid":"SM[0-9a-f]{32}","status":"queued"\}`},
		}},
		{"privacyidea", []exampleVariant{
			{"get", "200", `OK SM[0-9a-f]{32}`},
			{"post", "200", `OK SM[0-9a-f]{32}`},
			{"json", "200", `OK SM[0-9a-f]{32}`},
		}},
		{"rsa_am", []exampleVariant{
			{"get", "200", `RESULT:OK`},
			{"post", "200", `RESULT:OK`},
			{"forged", "401", `RESULT:ERROR 20003 .*`},
		}},
	}
	for _, ex := range examples {
		t.Run(ex.product, func(t *testing.T) {
			port := runExample(t, bin, ex.product, ex.variants)
			_ = port
		})
	}
}

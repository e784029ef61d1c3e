package caddymodule

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilioapi"
)

// TestTwilioPassthrough: a route speaking Twilio's own API behaves like
// Twilio for a client built for it: every create parameter reaches Twilio,
// the caller's senders win in passthrough, other requests are forwarded
// verbatim, Twilio's headers come back, a 401 challenges, a duplicate create
// gets the first message's full resource, and whatsapp: addresses work.
func TestTwilioPassthrough(t *testing.T) {
	sim, sid, token := dialectAccount(t)
	tester := dialectCaddy(t, sim, `
:9080 {
	route /2010-04-01/* {
		twilio_sms twilio {
			name        twilio-sdk
			credentials passthrough
			api_url     {sim}
			rate_limit  destination off
		}
	}
}`)
	base := "/2010-04-01/Accounts/" + sid
	form := func(path string, kv ...string) dialectRequest {
		return dialectRequest{path: path, ctype: "application/x-www-form-urlencoded", user: sid, pass: token, body: twForm(kv...).Encode()}
	}
	dest := newNumber(t, "US")

	t.Run("every create parameter is forwarded", func(t *testing.T) {
		sim.Reset()
		a := dialectSend(t, tester, form(base+"/Messages.json", "To", dest, "From", "+15005550006", "Body", newMessage(),
			"MediaUrl", "https://example.com/a.png", "ValidityPeriod", "300", "ProvideFeedback", "true", "MaxPrice", "0.05",
			"StatusCallback", "https://example.com/status"))
		if a.status != http.StatusCreated {
			t.Fatalf("answer %d %s", a.status, a.body)
		}
		recs := sim.records("")
		if len(recs) != 1 {
			t.Fatalf("%d requests at Twilio, want 1", len(recs))
		}
		for _, k := range []string{"MediaUrl", "ValidityPeriod", "ProvideFeedback", "MaxPrice", "StatusCallback"} {
			if recs[0].Form.Get(k) == "" {
				t.Errorf("%s was not forwarded", k)
			}
		}
		if a.header.Get("Twilio-Request-Id") == "" || a.header.Get("Twilio-Request-Duration") == "" {
			t.Errorf("Twilio's headers were not relayed: %v", a.header)
		}
	})

	t.Run("a parameter Twilio does not document is refused, not dropped", func(t *testing.T) {
		sim.Reset()
		a := dialectSend(t, tester, form(base+"/Messages.json", "To", dest, "From", "+15005550006", "Body", newMessage(), "Bogus", "1"))
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, "Bogus") || len(sim.records("")) != 0 {
			t.Errorf("answer %d %s with %d requests at Twilio; want 400 naming Bogus and none", a.status, a.body, len(sim.records("")))
		}
	})

	t.Run("RiskCheck=disable is refused", func(t *testing.T) {
		sim.Reset()
		a := dialectSend(t, tester, form(base+"/Messages.json", "To", dest, "From", "+15005550006", "Body", newMessage(), "RiskCheck", "disable"))
		if a.status != http.StatusBadRequest || len(sim.records("")) != 0 {
			t.Errorf("answer %d %s; want 400 and nothing sent", a.status, a.body)
		}
	})

	t.Run("fetch, list and delete are forwarded verbatim", func(t *testing.T) {
		sim.Reset()
		created := dialectSend(t, tester, form(base+"/Messages.json", "To", dest, "From", "+15005550006", "Body", newMessage()))
		var m struct{ Sid string }
		if err := json.Unmarshal([]byte(created.body), &m); err != nil || m.Sid == "" {
			t.Fatalf("create: %d %s", created.status, created.body)
		}
		fetched := dialectSend(t, tester, dialectRequest{method: http.MethodGet, path: base + "/Messages/" + m.Sid + ".json", user: sid, pass: token})
		if fetched.status != http.StatusOK || !strings.Contains(fetched.body, `"sid":"`+m.Sid+`"`) || fetched.header.Get("Twilio-Request-Id") == "" {
			t.Errorf("fetch: %d %s", fetched.status, fetched.body)
		}
		list := dialectSend(t, tester, dialectRequest{method: http.MethodGet, path: base + "/Messages.json?PageSize=5", user: sid, pass: token})
		if list.status != http.StatusOK || !strings.Contains(list.body, `"messages"`) || !strings.Contains(list.body, m.Sid) {
			t.Errorf("list: %d %s", list.status, list.body)
		}
		noAuth := dialectSend(t, tester, dialectRequest{method: http.MethodGet, path: base + "/Messages/" + m.Sid + ".json"})
		if noAuth.status != http.StatusUnauthorized || noAuth.header.Get("WWW-Authenticate") != `Basic realm="Twilio API"` {
			t.Errorf("fetch without credentials: %d %v", noAuth.status, noAuth.header)
		}
	})

	t.Run("a missing credential challenges like Twilio", func(t *testing.T) {
		a := dialectSend(t, tester, dialectRequest{path: base + "/Messages.json", ctype: "application/x-www-form-urlencoded",
			body: twForm("To", dest, "From", "+15005550006", "Body", newMessage()).Encode()})
		if a.status != http.StatusUnauthorized || a.header.Get("WWW-Authenticate") != `Basic realm="Twilio API"` || !strings.Contains(a.body, "20003") {
			t.Errorf("answer %d %v %s", a.status, a.header, a.body)
		}
	})

	t.Run("a duplicate create gets the first message's full resource", func(t *testing.T) {
		sim.Reset()
		req := form(base+"/Messages.json", "To", dest, "From", "+15005550006", "Body", newMessage())
		first := dialectSend(t, tester, req)
		again := dialectSend(t, tester, req)
		if first.status != http.StatusCreated || again.status != http.StatusCreated {
			t.Fatalf("answers %d and %d", first.status, again.status)
		}
		var a, b map[string]any
		_ = json.Unmarshal([]byte(first.body), &a)
		_ = json.Unmarshal([]byte(again.body), &b)
		if a["sid"] != b["sid"] || b["uri"] == nil || b["date_created"] == nil || len(b) < 15 {
			t.Errorf("duplicate answered %s, want the first message's resource %s", again.body, first.body)
		}
		creates := 0
		for _, r := range sim.records("") {
			if r.Op == "create" {
				creates++
			}
		}
		if creates != 1 {
			t.Errorf("%d creates at Twilio, want 1", creates)
		}
	})

	t.Run("whatsapp addresses", func(t *testing.T) {
		sim.Reset()
		a := dialectSend(t, tester, form(base+"/Messages.json", "To", "whatsapp:"+dest, "From", "whatsapp:+15005550006", "Body", newMessage()))
		recs := sim.records("")
		if a.status != http.StatusCreated || len(recs) != 1 || recs[0].Form.Get("To") != "whatsapp:"+dest {
			t.Errorf("answer %d %s; Twilio got %v", a.status, a.body, recs)
		}
	})
}

// TestTwilioStoredSenders: with the route's own credentials a caller's From
// must be one of the route's senders, never replaced silently (21606).
func TestTwilioStoredSenders(t *testing.T) {
	sim, sid, token := dialectAccount(t)
	tester := dialectCaddy(t, sim, `
:9080 {
	route /2010-04-01/* {
		twilio_sms twilio {
			name        twilio-stored
			account_sid `+sid+`
			auth_token  `+token+`
			sender      +15005550006
			api_url     {sim}
			caller_auth header X-Api-Key `+token+`
		}
	}
}`)
	base := "/2010-04-01/Accounts/" + sid
	req := func(from string) dialectRequest {
		return dialectRequest{path: base + "/Messages.json", ctype: "application/x-www-form-urlencoded",
			body: twForm("To", newNumber(t, "US"), "From", from, "Body", newMessage()).Encode()}
	}
	withKey := func(q dialectRequest) dialectAnswer {
		r, _ := http.NewRequest(http.MethodPost, caddyBase+q.path, strings.NewReader(q.body))
		r.Header.Set("Content-Type", q.ctype)
		r.Header.Set("X-Api-Key", token)
		resp, err := doRetryingStale(tester.Client, r, q.body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return dialectAnswer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	}
	sim.Reset()
	if a := withKey(req("+15005550006")); a.status != http.StatusCreated {
		t.Errorf("the route's own sender: %d %s", a.status, a.body)
	}
	a := withKey(req("+14155550100"))
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, "21606") {
		t.Errorf("a foreign sender: %d %s, want 400 with 21606", a.status, a.body)
	}
	if n := len(sim.records("")); n != 1 {
		t.Errorf("%d requests at Twilio, want 1", n)
	}

	// The operator's account runs no caller-chosen call instructions.
	calls := func(kv ...string) dialectRequest {
		return dialectRequest{path: base + "/Calls.json", ctype: "application/x-www-form-urlencoded",
			body: twForm(append([]string{"To", newNumber(t, "US"), "From", "+15005550006"}, kv...)...).Encode()}
	}
	for _, tt := range []struct {
		name string
		kv   []string
		code string
	}{
		{"Url", []string{"Url", "https://example.com/twiml"}, "21205"},
		{"ApplicationSid", []string{"ApplicationSid", "AP" + strings.Repeat("0", 32)}, "21205"},
		{"Dial in TwiML", []string{"Twiml", "<Response><Dial>+15005550006</Dial></Response>"}, "12100"},
		{"a Say that loops forever", []string{"Twiml", `<Response><Say loop="0">1 2 3</Say></Response>`}, "12100"},
	} {
		sim.Reset()
		a := withKey(calls(tt.kv...))
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, tt.code) || len(sim.records("")) != 0 {
			t.Errorf("%s with stored credentials: %d %s, want 400 with %s and nothing sent", tt.name, a.status, a.body, tt.code)
		}
	}
}

// TestTwilioEveryCreateParameter walks every Messages and Calls create
// parameter of Twilio's OpenAPI spec (the generated list) through the
// passthrough: each is forwarded to Twilio or refused with a Twilio error,
// never silently dropped.
func TestTwilioEveryCreateParameter(t *testing.T) {
	sim, sid, token := dialectAccount(t)
	tester := dialectCaddy(t, sim, `
:9080 {
	route /2010-04-01/* {
		twilio_sms twilio {
			name        twilio-params
			credentials passthrough
			api_url     {sim}
			rate_limit  destination off
			dedup       off
		}
	}
}`)
	sample := func(p twilioapi.Param) string {
		switch {
		case len(p.Enum) > 0:
			return p.Enum[0]
		case p.Format == "uri":
			return "https://example.com/cb"
		case p.Format == "date-time":
			return time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		case p.Format == "http-method":
			return "POST"
		case p.Pattern != "":
			return ""
		case p.Type == "boolean":
			return "true"
		case p.Type == "integer", p.Type == "number":
			return "1"
		}
		return "x"
	}
	for _, api := range []struct {
		path   string
		params []twilioapi.Param
		base   []string
	}{
		{"/Messages.json", twilioapi.MessageCreateParams, []string{"To", newNumber(t, "US"), "From", "+15005550006", "Body", "Your code is 482913"}},
		{"/Calls.json", twilioapi.CallCreateParams, []string{"To", newNumber(t, "US"), "From", "+15005550006", "Twiml", "<Response><Say>1 2 3</Say></Response>"}},
	} {
		for _, p := range api.params {
			if p.Name == "To" || p.Name == "From" || p.Name == "Body" || p.Name == "Twiml" {
				continue
			}
			t.Run(api.path+" "+p.Name, func(t *testing.T) {
				v := sample(p)
				if v == "" && p.Pattern != "" {
					v = patternSample(p.Pattern)
				}
				sim.Reset()
				kv := append(append([]string{}, api.base...), p.Name, v)
				a := dialectSend(t, tester, dialectRequest{path: "/2010-04-01/Accounts/" + sid + api.path, ctype: "application/x-www-form-urlencoded",
					user: sid, pass: token, body: twForm(kv...).Encode()})
				recs := sim.records("")
				switch {
				case a.status >= 200 && a.status < 300:
					if len(recs) != 1 || !recs[0].Form.Has(p.Name) {
						t.Errorf("%s: accepted (%d) but not forwarded to Twilio", p.Name, a.status)
					}
				case a.status >= 400 && a.status < 500:
					if !strings.Contains(a.body, `"code":`) {
						t.Errorf("%s: refused without Twilio's error shape: %d %s", p.Name, a.status, a.body)
					}
				default:
					t.Errorf("%s: answered %d %s", p.Name, a.status, a.body)
				}
			})
		}
	}
}

// patternSample is a value matching the SID patterns Twilio's spec uses
// (^XX[0-9a-fA-F]{32}$).
func patternSample(pattern string) string {
	if len(pattern) > 3 && pattern[0] == '^' {
		return pattern[1:3] + strings.Repeat("0", 31) + "1"
	}
	return "x"
}

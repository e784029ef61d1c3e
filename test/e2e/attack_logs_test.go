package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAttackLogsOnFailurePaths runs a failure matrix of GET requests (the
// number and the message with its code in the query string) against routes
// with stored credentials and caller_auth header, an API key and caller_auth
// basic, and passthrough credentials: bad input, refused callers, rate
// limited, blocked country, blocked premium number and every Twilio error the
// simulator can make. The site log is the README's filter (it deletes
// X-Api-Key and the query's to and message). Neither the access log nor
// Caddy's error log (http.log.error) nor the adapter's own lines may carry a
// code, a message, a full number, a caller secret or a token: the scan of
// every log line runs in the cleanup (registry_test.go) and again at the end
// of the run. It also checks that literal secrets in the Caddyfile are warned
// about by setting name, and {env.*} ones are not.
func TestAttackLogsOnFailurePaths(t *testing.T) {
	caddyBin(t)
	hdrAcc, keyAcc, ptAcc, envAcc := newSimAccount(t), newSimAccount(t), newSimAccount(t), newSimAccount(t)
	keySID := fmt.Sprintf("SK%032x", 0xa77ac4)
	keySecret := newToken(t, "api_key_secret")
	keyAcc.keys = [][2]string{{keySID, keySecret}}
	s := startSim(t, simOptions{}, hdrAcc, keyAcc, ptAcc, envAcc)
	apiKey := newToken(t, "caller_secret")
	basicUser, basicPass := "legacy-idp", newToken(t, "caller_secret")
	envKey := newToken(t, "caller_secret")
	t.Setenv("E2E_ATTACK_AUTH_TOKEN", envAcc.token)
	t.Setenv("E2E_ATTACK_CALLER_KEY", envKey)
	common := []string{"timeout 1s", "dial_timeout 250ms", "breaker 1000 1s", "from +15005550006", "api_url " + s.url()}
	ad := startAdapter(t, redactingLog,
		route{path: "/get", lines: append([]string{"name logs-header", "account_sid " + hdrAcc.sid, "auth_token " + hdrAcc.token,
			"caller_auth header X-Api-Key " + apiKey + " name product", "deny_countries GB", "rate_limit destination 1 1m"}, common...)},
		route{path: "/get-key", lines: append([]string{"name logs-api-key", "account_sid " + keyAcc.sid, "api_key " + keySID + " " + keySecret,
			"caller_auth basic " + basicUser + " " + basicPass}, common...)},
		route{path: "/get-pt", lines: append([]string{"name logs-passthrough", "credentials passthrough"}, common...)},
		route{path: "/get-env", lines: append([]string{"name logs-env", "account_sid " + envAcc.sid, "auth_token {env.E2E_ATTACK_AUTH_TOKEN}",
			"caller_auth header X-Api-Key {env.E2E_ATTACK_CALLER_KEY}"}, common...)},
	)
	client := callerClient(t, 4, 10*time.Second)

	hdrKey := func(r *http.Request) { r.Header.Set("X-Api-Key", apiKey) }
	basic := func(r *http.Request) { r.SetBasicAuth(basicUser, basicPass) }
	twilioBasic := func(r *http.Request) { r.SetBasicAuth(ptAcc.sid, ptAcc.token) }
	envHdr := func(r *http.Request) { r.Header.Set("X-Api-Key", envKey) }
	get := func(path string, auth func(*http.Request), q url.Values) answer {
		req, err := http.NewRequest(http.MethodGet, ad.base()+path+"?"+q.Encode(), nil)
		if err != nil {
			return answer{Err: err}
		}
		if auth != nil {
			auth(req)
		}
		return do(client, req)
	}
	sms := func(to string) (url.Values, string) {
		msg, code := newMessage(t)
		return url.Values{"to": {to}, "message": {msg}}, code
	}
	limited := newPhone(t)
	premium := registerPhone(t, "+19005550777")
	gb := registerPhone(t, "+447400123456")

	type tc struct {
		name   string
		path   string
		auth   func(*http.Request)
		query  func() (url.Values, string)
		fault  []string // simulator fault for the route's account: account, mode, fields...
		before func()
		status int
	}
	q := func(to string) func() (url.Values, string) { return func() (url.Values, string) { return sms(to) } }
	fresh := func() (url.Values, string) { return sms(newPhone(t)) }
	cases := []tc{
		{name: "accepted", path: "/get", auth: hdrKey, query: fresh, status: 200},
		{name: "to is not a number", path: "/get", auth: hdrKey, status: 400, query: func() (url.Values, string) {
			msg, code := newMessage(t)
			return url.Values{"to": {"call me on " + code}, "message": {msg}}, code
		}},
		{name: "to too short", path: "/get", auth: hdrKey, query: q("+1415"), status: 400},
		{name: "message missing", path: "/get", auth: hdrKey, status: 400, query: func() (url.Values, string) {
			return url.Values{"to": {newPhone(t)}}, ""
		}},
		{name: "message too long", path: "/get", auth: hdrKey, status: 400, query: func() (url.Values, string) {
			msg, code := newMessage(t)
			return url.Values{"to": {newPhone(t)}, "message": {msg + strings.Repeat(" "+code, 300)}}, code
		}},
		{name: "no caller credential", path: "/get", query: fresh, status: 401},
		{name: "wrong caller credential", path: "/get", auth: func(r *http.Request) { r.Header.Set("X-Api-Key", apiKey+"x") }, query: fresh, status: 401},
		{name: "rate limited", path: "/get", auth: hdrKey, query: q(limited), status: 429, before: func() {
			v, _ := sms(limited)
			if a := get("/get", hdrKey, v); !a.OK {
				t.Errorf("first message to the limited number: %s", a)
			}
		}},
		{name: "blocked country", path: "/get", auth: hdrKey, query: q(gb), status: 403},
		{name: "blocked premium number", path: "/get", auth: hdrKey, query: q(premium), status: 403},
		{name: "Twilio 400 21610", path: "/get", auth: hdrKey, query: fresh, status: 400,
			fault: []string{hdrAcc.sid, "code", "code", "21610", "status", "400", "count", "1"}},
		{name: "Twilio 500", path: "/get", auth: hdrKey, query: fresh, status: 504,
			fault: []string{hdrAcc.sid, "5xx", "count", "1"}},
		{name: "Twilio 503", path: "/get", auth: hdrKey, query: fresh, status: 502,
			fault: []string{hdrAcc.sid, "503", "count", "1"}},
		{name: "Twilio 401", path: "/get", auth: hdrKey, query: fresh, status: 502,
			fault: []string{hdrAcc.sid, "auth", "count", "1"}},
		{name: "Twilio 429 always", path: "/get", auth: hdrKey, query: fresh, status: 502,
			fault: []string{hdrAcc.sid, "429", "count", "10"}},
		{name: "Twilio slow (unknown)", path: "/get", auth: hdrKey, query: fresh, status: 504,
			fault: []string{hdrAcc.sid, "slow", "delay", "2s", "count", "1"}},
		{name: "Twilio reset", path: "/get", auth: hdrKey, query: fresh, status: 200,
			fault: []string{hdrAcc.sid, "reset", "count", "1"}},
		{name: "api_key: accepted", path: "/get-key", auth: basic, query: fresh, status: 200},
		{name: "api_key: wrong Basic password", path: "/get-key", auth: func(r *http.Request) { r.SetBasicAuth(basicUser, basicPass+"x") },
			query: fresh, status: 401},
		{name: "api_key: Twilio 500", path: "/get-key", auth: basic, query: fresh, status: 504,
			fault: []string{keyAcc.sid, "5xx", "count", "1"}},
		{name: "api_key: Twilio 400 21211", path: "/get-key", auth: basic, query: fresh, status: 400,
			fault: []string{keyAcc.sid, "code", "code", "21211", "status", "400", "count", "1"}},
		{name: "passthrough: accepted", path: "/get-pt", auth: twilioBasic, query: fresh, status: 200},
		{name: "passthrough: wrong token", path: "/get-pt", auth: func(r *http.Request) { r.SetBasicAuth(ptAcc.sid, ptAcc.token+"x") },
			query: fresh, status: 502},
		{name: "passthrough: no credentials", path: "/get-pt", query: fresh, status: 401},
		{name: "passthrough: blocked premium", path: "/get-pt", auth: twilioBasic, query: q(premium), status: 403},
		{name: "env secrets: accepted", path: "/get-env", auth: envHdr, query: fresh, status: 200},
		{name: "env secrets: wrong caller credential", path: "/get-env", auth: func(r *http.Request) { r.Header.Set("X-Api-Key", envKey+"x") },
			query: fresh, status: 401},
	}
	statuses := map[int]int{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.before != nil {
				c.before()
			}
			if c.fault != nil {
				s.fault(t, c.fault[0], c.fault[1], c.fault[2:]...)
				defer s.fault(t, c.fault[0], "none")
			}
			v, code := c.query()
			a := get(c.path, c.auth, v)
			statuses[a.Status]++
			if err := a.definite(); err != nil {
				t.Fatalf("no definite answer: %v", err)
			}
			if a.Status != c.status {
				t.Errorf("answer %s (%s), want HTTP %d", a, a.Message, c.status)
			}
			for _, secret := range []string{code, v.Get("to"), apiKey, basicPass, keySecret, ptAcc.token, envKey, messageMarker} {
				if secret != "" && len(secret) > 5 && strings.Contains(a.Body, secret) {
					t.Errorf("the answer echoes a submitted value")
				}
			}
		})
	}
	s.idle(t)

	// What the scan will read: every request has an access-log line, and
	// http.log.error lines (if any) are scanned like the others.
	var access, errorLog int
	warned := map[string]bool{}
	for _, l := range logLines(ad.proc) {
		switch {
		case strings.HasPrefix(l.Logger, "http.log.access"):
			access++
		case strings.HasPrefix(l.Logger, "http.log.error"):
			errorLog++
		}
		if l.Level == "warn" && strings.Contains(l.Msg, "literal") && l.Setting != "" {
			warned[l.Route+": "+l.Setting] = true
		}
	}
	t.Logf("%d GET requests (%v by status); %d access-log lines and %d http.log.error lines scanned", len(cases)+1, statuses, access, errorLog)
	if access < len(cases) {
		t.Errorf("%d access-log lines for %d requests: is the access log on?", access, len(cases))
	}
	for _, want := range []string{
		"logs-header: auth_token", "logs-header: caller_auth[0] header X-Api-Key value",
		"logs-api-key: api_key", "logs-api-key: caller_auth[0] basic password",
	} {
		found := false
		for w := range warned {
			if strings.HasPrefix(w, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no literal-secret warning for %q (warned: %v)", want, keys(warned))
		}
	}
	for w := range warned {
		if strings.HasPrefix(w, "logs-env:") {
			t.Errorf("literal-secret warning for an {env.*} setting: %s", w)
		}
	}
	t.Logf("literal-secret warnings: %v", keys(warned))
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

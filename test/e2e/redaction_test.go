package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// redactingLog is the site log block the README should recommend when a
// route takes GET requests or a caller secret in a header of its own: Caddy
// redacts only Authorization, Proxy-Authorization and cookies by itself, and
// never the query string.
const redactingLog = `	log {
		format filter {
			request>headers>X-Api-Key delete
			request>uri query {
				delete to
				delete message
			}
		}
	}`

// TestLogRedaction exercises every way a secret reaches the adapter (stored
// auth token, API key secret, passthrough Basic credentials, caller_auth basic
// and header secrets) on success and failure paths, with debug logging and
// the access log on. The scan of every log line for every registered value
// runs in each test's cleanup and again after all tests (TestMain); this test
// also checks that the adapter's own line shows the destination masked.
func TestLogRedaction(t *testing.T) {
	caddyBin(t)
	stored, keyed, passed := newSimAccount(t), newSimAccount(t), newSimAccount(t)
	keySID := fmt.Sprintf("SK%032x", 0x5ec7e7)
	keySecret := newToken(t, "api_key_secret")
	keyed.keys = [][2]string{{keySID, keySecret}}
	s := startSim(t, simOptions{}, stored, keyed, passed)
	basicUser, basicPass := "legacy-idp", newToken(t, "caller_secret")
	headerKey := newToken(t, "caller_secret")
	common := []string{"timeout 1s", "dial_timeout 250ms", "from +15005550006", "api_url " + s.url()}
	ad := startAdapter(t, redactingLog,
		route{path: "/stored", lines: append([]string{"name redact-stored", "account_sid " + stored.sid, "auth_token " + stored.token,
			"caller_auth basic " + basicUser + " " + basicPass}, common...)},
		route{path: "/keyed", lines: append([]string{"name redact-keyed", "account_sid " + keyed.sid, "api_key " + keySID + " " + keySecret,
			"caller_auth header X-Api-Key " + headerKey}, common...)},
		route{path: "/passthrough", lines: append([]string{"name redact-passthrough", "credentials passthrough"}, common...)},
	)
	client := callerClient(t, 4, 10*time.Second)

	type sent struct {
		to, path string
		status   int
	}
	var sends []sent
	send := func(path string, set func(r *http.Request), form url.Values, wantStatus int) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, ad.base()+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		set(req)
		a := do(client, req)
		if a.Status != wantStatus {
			t.Errorf("%s: %s (%s), want HTTP %d", path, a, a.Message, wantStatus)
		}
		sends = append(sends, sent{form.Get("to"), path, a.Status})
	}
	basic := func(r *http.Request) { r.SetBasicAuth(basicUser, basicPass) }
	header := func(r *http.Request) { r.Header.Set("X-Api-Key", headerKey) }
	twilioBasic := func(r *http.Request) { r.SetBasicAuth(passed.sid, passed.token) }
	message := func() string { m, _ := newMessage(t); return m }

	for _, c := range []struct {
		path string
		set  func(*http.Request)
	}{{"/stored", basic}, {"/keyed", header}, {"/passthrough", twilioBasic}} {
		// accepted, refused by Twilio, unknown (slow), invalid input
		send(c.path, c.set, smsForm(newPhone(t), message()), 200)
		acct := map[string]string{"/stored": stored.sid, "/keyed": keyed.sid, "/passthrough": passed.sid}[c.path]
		s.fault(t, acct, "code", "code", "21610", "status", "400", "count", "1")
		send(c.path, c.set, smsForm(newPhone(t), message()), 400)
		s.fault(t, acct, "slow", "delay", "2s", "count", "1")
		send(c.path, c.set, smsForm(newPhone(t), message()), 504)
		send(c.path, c.set, url.Values{"to": {"+1415"}, "message": {message()}}, 400)
	}
	// Wrong caller secrets are logged nowhere either.
	send("/stored", func(r *http.Request) { r.SetBasicAuth(basicUser, basicPass+"x") }, smsForm(newPhone(t), message()), 401)
	send("/keyed", func(r *http.Request) { r.Header.Set("X-Api-Key", headerKey+"x") }, smsForm(newPhone(t), message()), 401)
	send("/passthrough", func(r *http.Request) { r.SetBasicAuth(passed.sid, passed.token+"x") }, smsForm(newPhone(t), message()), 502)
	// A GET with the message in the query string: the access log's uri must
	// not carry it (the filter above deletes the parameters).
	to := newPhone(t)
	q := url.Values{"to": {to}, "message": {message()}}
	req, _ := http.NewRequest(http.MethodGet, ad.base()+"/keyed?"+q.Encode(), nil)
	header(req)
	if a := do(client, req); !a.OK {
		t.Errorf("GET: %s (%s), want 200 accepted", a, a.Message)
	}
	sends = append(sends, sent{to, "/keyed", 200})
	s.idle(t)

	// Every request has exactly one adapter line, whose "to" is masked and
	// keeps the last three digits.
	masked := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(ad.proc.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Logger, Msg, To, Route string
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "twilio_sms" && line.Logger == "http.handlers.twilio_sms" {
			masked[line.To]++
		}
	}
	for _, sd := range sends {
		if len(sd.to) < 12 || sd.status == 401 {
			continue // the invalid number; an unknown caller's body is not read
		}
		found := false
		for m := range masked {
			if strings.Contains(m, "•") && strings.HasPrefix(m, sd.to[:5]) && strings.HasSuffix(m, sd.to[len(sd.to)-3:]) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no adapter log line with the destination masked (want +1415…%s)", sd.path, sd.to[len(sd.to)-3:])
		}
	}
	if len(masked) == 0 {
		t.Fatal("no twilio_sms log lines at all: is the logger name or level different?")
	}
}

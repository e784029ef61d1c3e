package caddymodule

// Tests for the checks made before anything is sent (caller_auth, countries,
// rate limits, duplicate suppression, Twilio's limits) and for the state that
// must survive a config reload.

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// wantRefused checks an answer that must not have cost a Twilio call.
func wantRefused(t testing.TB, sim *testSim, before int, a answer, status int, outcome string, code int) {
	t.Helper()
	if a.Status != status || a.Reply.outcome() != outcome || a.Reply.code() != code {
		t.Errorf("answer %v, want HTTP %d, outcome %s, code %d", a, status, outcome, code)
	}
	if a.Vars != nil && a.Vars["outcome"] != outcome {
		t.Errorf("outcome placeholder %q, want %q", a.Vars["outcome"], outcome)
	}
	if n := len(sim.records("")) - before; n != 0 {
		t.Errorf("the simulator got %d requests, want none", n)
	}
}

func TestCallerAuth(t *testing.T) {
	t.Parallel()
	main := acct()
	sim := newTestSim(t, main)
	key, password := newToken(), newToken()
	hd := mustProvision(t, routeBlock(t, stored(main), "from +15005550006", "api_url "+sim.URL,
		"caller_auth header X-Api-Key "+key, "caller_auth basic idp "+password))
	noteSecret(basicAuth("idp", password), strings.TrimPrefix(basicAuth("idp", password), "Basic "))

	tests := []struct {
		name    string
		headers map[string]string
		ok      bool
	}{
		{"no credential", nil, false},
		{"the right header", map[string]string{"X-Api-Key": key}, true},
		{"the header name in another case", map[string]string{"x-api-key": key}, true},
		{"a wrong header value", map[string]string{"X-Api-Key": key[:len(key)-1]}, false},
		{"the value in another header", map[string]string{"X-Other-Key": key}, false},
		{"the value as a Bearer token", map[string]string{"Authorization": "Bearer " + key}, false},
		{"the right Basic credentials", map[string]string{"Authorization": basicAuth("idp", password)}, true},
		{"a wrong Basic password", map[string]string{"Authorization": basicAuth("idp", key)}, false},
		{"a wrong Basic user", map[string]string{"Authorization": basicAuth("admin", password)}, false},
		{"an empty Basic password", map[string]string{"Authorization": basicAuth("idp", "")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(sim.records(""))
			r := formRequest(sms(newNumber(t, "US"), newMessage()))
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			a := serveRequest(t, hd, r)
			if tt.ok {
				wantOK(t, a)
				return
			}
			wantRefused(t, sim, before, a, http.StatusUnauthorized, "invalid", 20003)
			if a.Reply.Error != nil && a.Reply.Error.Field != "authorization" {
				t.Errorf("field %q, want authorization", a.Reply.Error.Field)
			}
		})
	}
}

func TestCountryGuards(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		lines   []string
		allowed []string
		blocked []string
	}{
		{"allow list", []string{"allow_countries US gb"}, []string{"US", "GB"}, []string{"IN", "JM", "FR"}},
		{"deny list", []string{"deny_countries IN JM"}, []string{"US", "GB", "FR"}, []string{"IN", "JM"}},
		{"allow and deny", []string{"allow_countries US GB IN", "deny_countries FR"}, []string{"US", "IN"}, []string{"FR", "DE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			main := acct()
			sim := newTestSim(t, main)
			hd := mustProvision(t, routeBlock(t, append([]string{stored(main), "from +15005550006", "api_url " + sim.URL}, tt.lines...)...))
			for _, region := range tt.allowed {
				wantOK(t, serveRequest(t, hd, formRequest(sms(newNumber(t, region), newMessage()))))
			}
			for _, region := range tt.blocked {
				before := len(sim.records(""))
				a := serveRequest(t, hd, formRequest(sms(newNumber(t, region), newMessage())))
				wantRefused(t, sim, before, a, http.StatusForbidden, "blocked", 21408)
				if a.Reply.Error != nil && (a.Reply.Error.Field != "to" || !strings.Contains(a.Reply.Error.Message, region)) {
					t.Errorf("%s: %v does not name the field and the region", region, a)
				}
			}
		})
	}
}

// wantRateLimited checks a 429 with a sensible Retry-After.
func wantRateLimited(t testing.TB, sim *testSim, before int, a answer, window time.Duration) {
	t.Helper()
	wantRefused(t, sim, before, a, http.StatusTooManyRequests, "rate_limited", 20429)
	ra, err := strconv.Atoi(a.Header.Get("Retry-After"))
	if err != nil || ra < 1 || time.Duration(ra)*time.Second > window {
		t.Errorf("Retry-After %q, want 1 to %v seconds", a.Header.Get("Retry-After"), window.Seconds())
	}
}

func TestRateLimitDestination(t *testing.T) {
	t.Parallel()
	main, other := acct(), acct()
	sim := newTestSim(t, main, other)
	hd := mustProvision(t, routeBlock(t, stored(main), "from +15005550006", "api_url "+sim.URL, "rate_limit destination 2 1m"))
	to := newNumber(t, "GB")
	for range 2 {
		wantOK(t, serveRequest(t, hd, formRequest(sms(to, newMessage()))))
	}
	before := len(sim.records(""))
	wantRateLimited(t, sim, before, serveRequest(t, hd, formRequest(sms(to, newMessage()))), time.Minute)
	// The same number written another way is the same destination.
	// (Another account: limits are kept per sending account, shared by its routes.)
	national := url.Values{"to": {"07" + to[4:]}, "message": {newMessage()}}
	h2 := mustProvision(t, routeBlock(t, stored(other), "from +15005550006", "api_url "+sim.URL, "rate_limit destination 1 1m", "default_region GB"))
	wantOK(t, serveRequest(t, h2, formRequest(national)))
	before = len(sim.records(""))
	wantRateLimited(t, sim, before, serveRequest(t, h2, formRequest(sms(to, newMessage()))), time.Minute)
	// Another destination is not limited.
	wantOK(t, serveRequest(t, hd, formRequest(sms(newNumber(t, "GB"), newMessage()))))
	if n := len(sim.records("")); n != 4 {
		t.Errorf("the simulator got %d requests, want 4", n)
	}
}

func TestRateLimitCaller(t *testing.T) {
	t.Parallel()
	main := acct()
	sim := newTestSim(t, main)
	hd := mustProvision(t, routeBlock(t, stored(main), "from +15005550006", "api_url "+sim.URL, "rate_limit caller 2 10m"))
	from := func(remote, user string) *http.Request {
		r := formRequest(sms(newNumber(t, "US"), newMessage()))
		r.RemoteAddr = remote
		if user != "" {
			r.SetBasicAuth(user, "caller-password-not-checked")
		}
		return r
	}
	noteSecret("caller-password-not-checked")
	for range 2 {
		wantOK(t, serveRequest(t, hd, from("192.0.2.10:4000", "")))
	}
	before := len(sim.records(""))
	wantRateLimited(t, sim, before, serveRequest(t, hd, from("192.0.2.10:4000", "")), 10*time.Minute)
	wantOK(t, serveRequest(t, hd, from("192.0.2.11:4000", "")))

	// A Basic user name is not a verified identity: a fresh one per request
	// does not buy a fresh bucket, and one caller spraying names cannot take
	// the budget of another address.
	noteSecret("sprayed")
	for i := range 2 {
		wantOK(t, serveRequest(t, hd, from("198.51.100.7:4000", fmt.Sprintf("sprayed-%d", i))))
	}
	before = len(sim.records(""))
	wantRateLimited(t, sim, before, serveRequest(t, hd, from("198.51.100.7:4000", "sprayed-new")), 10*time.Minute)
	wantOK(t, serveRequest(t, hd, from("198.51.100.8:4000", "")))
}

// TestRateLimitCallerVerified: with caller_auth, the caller is the credential
// that matched (its name), whatever address it comes from.
func TestRateLimitCallerVerified(t *testing.T) {
	t.Parallel()
	main := acct()
	sim := newTestSim(t, main)
	keyA, keyB := newToken(), newToken()
	noteSecret(keyA, keyB)
	hd := mustProvision(t, routeBlock(t, stored(main), "from +15005550006", "api_url "+sim.URL, "rate_limit caller 2 10m",
		"caller_auth header X-Api-Key "+keyA+" name idp-a", "caller_auth header X-Api-Key "+keyB))
	from := func(remote, key string) *http.Request {
		r := formRequest(sms(newNumber(t, "US"), newMessage()))
		r.RemoteAddr = remote
		r.Header.Set("X-Api-Key", key)
		return r
	}
	for i := range 2 {
		wantOK(t, serveRequest(t, hd, from(fmt.Sprintf("198.51.100.%d:4000", i), keyA)))
	}
	before := len(sim.records(""))
	wantRateLimited(t, sim, before, serveRequest(t, hd, from("198.51.100.9:4000", keyA)), 10*time.Minute)
	wantOK(t, serveRequest(t, hd, from("198.51.100.9:4000", keyB)))
}

func TestDedup(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, lines ...string) (*testSim, simulator.Account, *Handler) {
		main := acct()
		sim := newTestSim(t, main)
		base := []string{stored(main), "from +15005550006", "api_url " + sim.URL, "timeout 1s", "dial_timeout 300ms"}
		return sim, main, mustProvision(t, routeBlock(t, append(base, lines...)...))
	}

	t.Run("a repeat gets the first answer", func(t *testing.T) {
		t.Parallel()
		sim, _, hd := setup(t)
		form := sms(newNumber(t, "US"), newMessage())
		first := serveRequest(t, hd, formRequest(form))
		wantOK(t, first)
		again := serveRequest(t, hd, formRequest(form))
		wantOK(t, again)
		if again.Reply.Sid != first.Reply.Sid || again.Vars["sid"] != first.Reply.Sid {
			t.Errorf("repeat got sid %s, want %s", again.Reply.Sid, first.Reply.Sid)
		}
		if n := len(sim.records("")); n != 1 {
			t.Errorf("the simulator got %d requests, want 1", n)
		}
		// A different text, or the same text to another number, is sent.
		other := sms(form.Get("to"), newMessage())
		wantOK(t, serveRequest(t, hd, formRequest(other)))
		wantOK(t, serveRequest(t, hd, formRequest(sms(newNumber(t, "US"), form.Get("message")))))
		if n := len(sim.records("")); n != 3 {
			t.Errorf("the simulator got %d requests, want 3", n)
		}
	})

	t.Run("the same number written another way is a repeat", func(t *testing.T) {
		t.Parallel()
		sim, _, hd := setup(t, "default_region US")
		to, msg := newNumber(t, "US"), newMessage()
		first := serveRequest(t, hd, formRequest(sms(to, msg)))
		national := "(" + to[2:5] + ") " + to[5:8] + "-" + to[8:]
		noteSecret(national)
		again := serveRequest(t, hd, formRequest(sms(national, msg)))
		if again.Reply.Sid != first.Reply.Sid || len(sim.records("")) != 1 {
			t.Errorf("a national-format repeat was sent again (%d requests)", len(sim.records("")))
		}
	})

	t.Run("a 500 may have been sent: a re-post is not sent again", func(t *testing.T) {
		t.Parallel()
		sim, main, hd := setup(t)
		sim.SetFault(main.SID, simulator.Fault{Mode: simulator.Fault5xx, Count: 1})
		form := sms(newNumber(t, "US"), newMessage())
		first := serveRequest(t, hd, formRequest(form))
		if first.Reply.outcome() != "unknown" {
			t.Fatalf("first answer %v, want outcome unknown", first)
		}
		again := serveRequest(t, hd, formRequest(form))
		if again.Reply.outcome() != "unknown" || again.Vars["outcome"] != "unknown" {
			t.Errorf("re-post answered %v, want the cached unknown", again)
		}
		if n := len(sim.records("")); n != 1 {
			t.Errorf("%d requests reached Twilio, want 1", n)
		}
	})

	t.Run("nothing sent: a retry sends", func(t *testing.T) {
		t.Parallel()
		sim, main, hd := setup(t)
		sim.SetFault(main.SID, simulator.Fault{Mode: simulator.Fault503, Count: 1})
		form := sms(newNumber(t, "US"), newMessage())
		first := serveRequest(t, hd, formRequest(form))
		if first.Status != http.StatusBadGateway || first.Reply.code() != 20503 {
			t.Fatalf("first answer %v, want 502 carrying 20503", first)
		}
		wantOK(t, serveRequest(t, hd, formRequest(form)))
		if n, acc := len(sim.records("")), sim.accepted(); n != 2 || acc != 1 {
			t.Errorf("%d requests, %d accepted, want 2 and 1", n, acc)
		}
	})

	t.Run("refused by Twilio: a corrected retry is not blocked", func(t *testing.T) {
		t.Parallel()
		sim, main, hd := setup(t)
		sim.SetFault(main.SID, simulator.Fault{Mode: simulator.FaultCode, Code: 21611, Status: 400, Count: 1})
		form := sms(newNumber(t, "US"), newMessage())
		if a := serveRequest(t, hd, formRequest(form)); a.Status != http.StatusBadRequest {
			t.Fatalf("first answer %v, want 400", a)
		}
		wantOK(t, serveRequest(t, hd, formRequest(form)))
		if n := len(sim.records("")); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})

	t.Run("maybe sent: a repeat is not sent again", func(t *testing.T) {
		t.Parallel()
		sim, main, hd := setup(t)
		sim.SetFault(main.SID, simulator.Fault{Mode: simulator.FaultSlow, Delay: 5 * time.Second, Count: 1})
		form := sms(newNumber(t, "US"), newMessage())
		first := serveRequest(t, hd, formRequest(form))
		if first.Status != http.StatusGatewayTimeout || first.Reply.outcome() != "unknown" {
			t.Fatalf("first answer %v, want 504 unknown", first)
		}
		again := serveRequest(t, hd, formRequest(form))
		if again.Status != http.StatusGatewayTimeout || again.Reply.outcome() != "unknown" {
			t.Errorf("repeat answer %v, want the first answer", again)
		}
		if n := len(sim.records("")); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})

	t.Run("concurrent repeats share one send", func(t *testing.T) {
		t.Parallel()
		sim, main, hd := setup(t)
		sim.SetFault(main.SID, simulator.Fault{Mode: simulator.FaultSlow, Delay: 300 * time.Millisecond, Count: 1})
		// FaultSlow waits, then answers normally: 201.
		form := sms(newNumber(t, "US"), newMessage())
		const n = 6
		answers := make([]answer, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { answers[i] = serveRequest(t, hd, formRequest(form)) })
		}
		wg.Wait()
		for i, a := range answers {
			if a.Status != http.StatusOK || a.Reply.Sid != answers[0].Reply.Sid {
				t.Errorf("answer %d: %v, want 200 with sid %s", i, a, answers[0].Reply.Sid)
			}
		}
		if n := len(sim.records("")); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})

	t.Run("dedup off sends every repeat", func(t *testing.T) {
		t.Parallel()
		sim, _, hd := setup(t, "dedup off")
		form := sms(newNumber(t, "US"), newMessage())
		a, b := serveRequest(t, hd, formRequest(form)), serveRequest(t, hd, formRequest(form))
		wantOK(t, a)
		wantOK(t, b)
		if a.Reply.Sid == b.Reply.Sid || len(sim.records("")) != 2 {
			t.Errorf("sids %s %s, %d requests: want two messages", a.Reply.Sid, b.Reply.Sid, len(sim.records("")))
		}
	})

	t.Run("a repeat does not use a rate-limit token", func(t *testing.T) {
		t.Parallel()
		sim, _, hd := setup(t, "rate_limit destination 1 1m")
		form := sms(newNumber(t, "US"), newMessage())
		first := serveRequest(t, hd, formRequest(form))
		wantOK(t, first)
		again := serveRequest(t, hd, formRequest(form))
		if again.Status != http.StatusOK || again.Reply.Sid != first.Reply.Sid {
			t.Errorf("repeat %v, want the first answer", again)
		}
		before := len(sim.records(""))
		wantRateLimited(t, sim, before, serveRequest(t, hd, formRequest(sms(form.Get("to"), newMessage()))), time.Minute)
	})
}

// TestTwilioLimits: what Twilio would refuse is answered without a call.
func TestTwilioLimits(t *testing.T) {
	t.Parallel()
	main := acct()
	sim := newTestSim(t, main)
	hd := mustProvision(t, routeBlock(t, stored(main), "from +15005550006", "api_url "+sim.URL))

	// message of n characters ending with a fresh code.
	message := func(n int, fill string) string {
		code := newCode()
		m := strings.Repeat(fill, n-len(code)) + code
		noteSecret(m)
		return m
	}
	for _, tt := range []struct {
		name string
		text string
		ok   bool
	}{
		{"1600 GSM characters", message(1600, "x"), true},
		{"1600 characters outside GSM", message(1600, "é"), true},
		{"1601 characters", message(1601, "x"), false},
		{"1601 characters outside GSM", message(1601, "é"), false},
	} {
		before := len(sim.records(""))
		a := serveRequest(t, hd, formRequest(sms(newNumber(t, "US"), tt.text)))
		if tt.ok {
			wantOK(t, a)
			if rec := lastRecord(t, sim); rec.Form.Get("Body") != tt.text {
				t.Errorf("%s: the Body reached Twilio changed (%d characters)", tt.name, len([]rune(rec.Form.Get("Body"))))
			}
			continue
		}
		wantRefused(t, sim, before, a, http.StatusBadRequest, "invalid", 0)
		if a.Reply.Error != nil && (a.Reply.Error.Field != "message" || !strings.Contains(a.Reply.Error.Message, "1600")) {
			t.Errorf("%s: %v does not name the field and the limit", tt.name, a)
		}
	}

	before := len(sim.records(""))
	form := sms(newNumber(t, "US"), newMessage())
	form.Set("padding", strings.Repeat("p", 70<<10))
	a := serveRequest(t, hd, formRequest(form))
	wantRefused(t, sim, before, a, http.StatusRequestEntityTooLarge, "invalid", 0)
	if a.Reply.Error != nil && a.Reply.Error.Field != "body" {
		t.Errorf("oversized body: field %q, want body", a.Reply.Error.Field)
	}
}

// TestReloadKeepsState: a reload provisions the new handler before cleaning up
// the old one; what did not change (the compiled mapping, breakers, dedup
// entries, rate buckets) is shared, what changed is fresh.
func TestReloadKeepsState(t *testing.T) {
	t.Parallel()
	main := acct()
	sim := newTestSim(t, main)
	block := routeBlock(t, stored(main), "from +15005550006", "api_url "+sim.URL, "retries 0",
		"breaker 1 1m", "rate_limit destination 1 1m")

	h1 := mustProvision(t, block)
	n1, m1 := newNumber(t, "US"), newMessage()
	sent := serveRequest(t, h1, formRequest(sms(n1, m1)))
	wantOK(t, sent)
	sim.SetFault(main.SID, simulator.Fault{Mode: simulator.Fault503, Count: 1})
	if a := serveRequest(t, h1, formRequest(sms(newNumber(t, "US"), newMessage()))); a.Status != http.StatusBadGateway {
		t.Fatalf("tripping the breaker: %v, want 502", a)
	}

	// The reload: the identical config, then the old handler's cleanup.
	h2 := mustProvision(t, block)
	if err := cleanupHandler(h1); err != nil {
		t.Fatal(err)
	}
	if h2.mapping != h1.mapping {
		t.Error("the mapping was compiled again for an identical config")
	}
	if h2.gw.Dispatcher.State != h1.gw.Dispatcher.State || h2.gw.Dedup != h1.gw.Dedup || h2.gw.DestinationLimit != h1.gw.DestinationLimit {
		t.Error("breaker, dedup or rate-limit state was not carried over")
	}
	records := len(sim.records(""))
	if a := serveRequest(t, h2, formRequest(sms(n1, m1))); a.Status != http.StatusOK || a.Reply.Sid != sent.Reply.Sid {
		t.Errorf("repeat after the reload: %v, want the first answer (sid %s)", a, sent.Reply.Sid)
	}
	wantRateLimited(t, sim, records, serveRequest(t, h2, formRequest(sms(n1, newMessage()))), time.Minute)
	wantRefused(t, sim, records, serveRequest(t, h2, formRequest(sms(newNumber(t, "US"), newMessage()))),
		http.StatusServiceUnavailable, "unavailable", 20503)

	// A changed breaker or limit setting is applied in place: the open breaker
	// stays open and the spent destination stays spent (caddy-ratelimit's
	// stable keys), so a config tweak hands nobody a fresh start.
	tweaked := strings.Replace(strings.Replace(block, "breaker 1 1m", "breaker 2 1m", 1), "rate_limit destination 1 1m", "rate_limit destination 1 2m", 1)
	h3 := mustProvision(t, tweaked)
	if h3.mapping != h2.mapping {
		t.Error("the mapping was compiled again although its settings did not change")
	}
	if h3.gw.Dispatcher.State != h2.gw.Dispatcher.State || h3.gw.DestinationLimit != h2.gw.DestinationLimit {
		t.Error("a changed breaker or limit setting replaced the live state instead of updating it")
	}
	records = len(sim.records(""))
	wantRefused(t, sim, records, serveRequest(t, h3, formRequest(sms(newNumber(t, "US"), newMessage()))),
		http.StatusServiceUnavailable, "unavailable", 20503)
	wantRateLimited(t, sim, records, serveRequest(t, h3, formRequest(sms(n1, newMessage()))), 2*time.Minute)

	// A changed mapping setting compiles the mapping again.
	h4 := mustProvision(t, strings.Replace(block, "retries 0", "retries 0\n\tdefault_region GB", 1))
	if h4.mapping == h3.mapping {
		t.Error("a changed default_region reused the mapping compiled without it")
	}
}

// TestReloadThroughCaddy: the breaker opened under one config stays open after
// a reload to a config whose twilio_sms route did not change (another route
// did), and a changed breaker setting starts afresh.
func TestReloadThroughCaddy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Caddy")
	}
	main := acct()
	sim := newTestSim(t, main)
	config := func(extra, breaker string) string {
		return fmt.Sprintf(`
http://localhost:9080 {
	%s
	route /sms {
		twilio_sms generic {
			name        reload-through-caddy
			account_sid %s
			auth_token  %s
			from        +15005550006
			api_url     %s
			retries     0
			breaker     %s
		}
	}
}`, extra, main.SID, main.AuthToken, sim.URL, breaker)
	}
	tester := startCaddy(t, config("", "1 1m"))
	sim.SetFault(main.SID, simulator.Fault{Mode: simulator.Fault503, Count: 1})
	if a := postForm(t, tester, "/sms", sms(newNumber(t, "US"), newMessage())); a.Status != http.StatusBadGateway {
		t.Fatalf("tripping the breaker: %v, want 502", a)
	}
	records := len(sim.records(""))

	tester = startCaddy(t, config("respond /health 200", "1 1m"))
	if a := postForm(t, tester, "/health", nil); a.Status != http.StatusOK {
		t.Fatalf("the reloaded config is not active: /health %v", a)
	}
	a := postForm(t, tester, "/sms", sms(newNumber(t, "US"), newMessage()))
	wantRefused(t, sim, records, a, http.StatusServiceUnavailable, "unavailable", 20503)

	// A changed breaker setting is applied in place: still open.
	tester = startCaddy(t, config("respond /health 200", "2 1m"))
	records = len(sim.records(""))
	wantRefused(t, sim, records, postForm(t, tester, "/sms", sms(newNumber(t, "US"), newMessage())),
		http.StatusServiceUnavailable, "unavailable", 20503)
}

// TestGuardsThroughCaddy: caller_auth, countries and the caller rate limit
// (keyed by Caddy's client IP) in the in-process Caddy.
func TestGuardsThroughCaddy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Caddy")
	}
	main := acct()
	sim := newTestSim(t, main)
	key := newToken()
	tester := startCaddy(t, fmt.Sprintf(`
http://localhost:9080 {
	twilio_sms generic {
		name            guards-through-caddy
		account_sid     %s
		auth_token      %s
		from            +15005550006
		api_url         %s
		caller_auth     header X-Api-Key %s
		allow_countries US GB
		rate_limit      caller 2 1h
	}
}`, main.SID, main.AuthToken, sim.URL, key))

	before := len(sim.records(""))
	wantRefused(t, sim, before, postForm(t, tester, "/", sms(newNumber(t, "US"), newMessage())), http.StatusUnauthorized, "invalid", 20003)
	wantRefused(t, sim, before, postForm(t, tester, "/", sms(newNumber(t, "IN"), newMessage()), "X-Api-Key: "+key),
		http.StatusForbidden, "blocked", 21408)
	for range 2 {
		wantOK(t, postForm(t, tester, "/", sms(newNumber(t, "GB"), newMessage()), "X-Api-Key: "+key))
	}
	before = len(sim.records(""))
	wantRateLimited(t, sim, before, postForm(t, tester, "/", sms(newNumber(t, "US"), newMessage()), "X-Api-Key: "+key), time.Hour)
}

// TestCleanupReleasesPool: the last handler's Cleanup drops its pooled state,
// also after a Provision that failed half way.
func TestCleanupReleasesPool(t *testing.T) {
	t.Parallel()
	main := acct()
	// A field source of its own makes this test's mapping key unique.
	unique := "field to any:to_" + strings.ToLower(newCode())
	lines := []string{stored(main), "from +15005550006", unique, "rate_limit destination 3 1m"}

	// Two handlers on the same mapping, as during a reload.
	h1, h2 := mustProvision(t, routeBlock(t, lines...)), mustProvision(t, routeBlock(t, lines...))
	key := h1.poolKeys[0] // the mapping
	if refs, ok := pool.References(key); !ok || refs != 2 {
		t.Fatalf("mapping references %d (%v), want 2", refs, ok)
	}
	_ = cleanupHandler(h1)
	if refs, _ := pool.References(key); refs != 1 {
		t.Errorf("after one cleanup: %d references, want 1", refs)
	}
	_ = cleanupHandler(h2)
	if _, ok := pool.References(key); ok {
		t.Error("the mapping is still pooled after the last cleanup")
	}

	// Fails in buildGuards, after the mapping was loaded: Caddy then calls Cleanup.
	bad, err := provisionBlock(t, routeBlock(t, append(lines, "allow_countries US", "deny_countries US")...))
	if err == nil || bad == nil || len(bad.poolKeys) == 0 || bad.poolKeys[0] != key {
		t.Fatalf("overlapping countries: %v, want a failure after the mapping was loaded", err)
	}
	_ = cleanupHandler(bad)
	if _, ok := pool.References(key); ok {
		t.Error("a failed Provision's mapping is still pooled after Cleanup")
	}
}

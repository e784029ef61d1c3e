package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAttackCallerLimitKeysOnVerifiedCaller: `rate_limit caller 3 1m` counts
// per verified caller (the caller_auth credential that matched, by its name)
// or, on a route without caller_auth, per client IP; never per Basic user
// name, which the attacker chooses. Twenty requests from one IP, each with a
// fresh random Basic user name and password, to twenty different numbers:
// at most three are sent, the others get 429 with Retry-After.
func TestAttackCallerLimitKeysOnVerifiedCaller(t *testing.T) {
	caddyBin(t)
	accIP, accAuth := newSimAccount(t), newSimAccount(t)
	s := startSim(t, simOptions{}, accIP, accAuth)
	keyX, keyY := newToken(t, "caller_secret"), newToken(t, "caller_secret")
	ad := startAdapter(t, redactingLog,
		route{path: "/by-ip", lines: append(accountLines(s, accIP), "name caller-by-ip", "timeout 3s", "dial_timeout 500ms",
			"rate_limit caller 3 1m")},
		route{path: "/by-credential", lines: append(accountLines(s, accAuth), "name caller-by-credential", "timeout 3s", "dial_timeout 500ms",
			"caller_auth header X-Api-Key "+keyX+" name X",
			"caller_auth header X-Api-Key "+keyY+" name Y",
			"rate_limit caller 3 1m")},
	)
	client := callerClient(t, 4, 10*time.Second)

	flood := func(t *testing.T, path string, hdr ...string) (sent, limited int) {
		var msgs []string
		for range 20 {
			msg, _ := newMessage(t)
			msgs = append(msgs, msg)
			req, _ := http.NewRequest(http.MethodPost, ad.base()+path, strings.NewReader(smsForm(newPhone(t), msg).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(randomName("user-"), newToken(t, "caller_secret"))
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			a := do(client, req)
			if err := a.definite(); err != nil {
				t.Fatalf("no definite answer: %v", err)
			}
			switch {
			case a.OK:
			case a.Status == 429 && a.Outcome == "rate_limited":
				limited++
				retryAfter(t, a)
			default:
				t.Errorf("answer %s (%s), want 200 or 429 rate_limited", a, a.Message)
			}
		}
		for _, m := range msgs {
			sent += acceptedCount(recordsWhere(t, s, byBody(m)))
		}
		return sent, limited
	}

	t.Run("no caller_auth: keyed on the client IP", func(t *testing.T) {
		sent, limited := flood(t, "/by-ip")
		t.Logf("20 requests with 20 random Basic user names from one IP: %d sent, %d answered 429", sent, limited)
		if sent > 3 {
			t.Errorf("%d of 20 were sent, want at most 3 (rate_limit caller 3 1m keyed on the IP)", sent)
		}
		if sent+limited != 20 {
			t.Errorf("%d sent + %d limited, want 20", sent, limited)
		}
	})
	t.Run("caller_auth name X: keyed on the credential", func(t *testing.T) {
		sent, limited := flood(t, "/by-credential", "X-Api-Key", keyX)
		t.Logf("20 requests as caller X with 20 random Basic user names: %d sent, %d answered 429", sent, limited)
		if sent > 3 {
			t.Errorf("%d of 20 were sent, want at most 3 (rate_limit caller 3 1m keyed on caller X)", sent)
		}
		// Another verified caller from the same IP has a limit of its own.
		msg, _ := newMessage(t)
		a := post(client, ad.base()+"/by-credential", smsForm(newPhone(t), msg), "X-Api-Key", keyY)
		if !a.OK {
			t.Errorf("caller Y after X used up its limit: %s (%s), want 200: the limit is per verified caller", a, a.Message)
		}
	})
}

// TestAttackLimitsSpendOnlyOnSends: while Twilio answers 503/20503 (not
// processed: nothing sent), five attempts to one number send nothing and
// spend nothing, so that an outage cannot lock a user out: once it clears,
// the three sends `rate_limit destination 3 1m` allows still go through, and
// the fourth gets 429 with Retry-After. The same for `rate_limit caller`.
func TestAttackLimitsSpendOnlyOnSends(t *testing.T) {
	caddyBin(t)
	accD, accC := newSimAccount(t), newSimAccount(t)
	s := startSim(t, simOptions{}, accD, accC)
	key := newToken(t, "caller_secret")
	ad := startAdapter(t, redactingLog,
		route{path: "/dest", lines: append(accountLines(s, accD), "name spend-destination", "timeout 2s", "dial_timeout 500ms",
			"breaker 1000 1s", "rate_limit destination 3 1m")},
		route{path: "/caller", lines: append(accountLines(s, accC), "name spend-caller", "timeout 2s", "dial_timeout 500ms",
			"breaker 1000 1s", "caller_auth header X-Api-Key "+key+" name Z", "rate_limit caller 3 1m")},
	)
	client := callerClient(t, 4, 10*time.Second)

	run := func(t *testing.T, acc simAccount, path string, to func() string, hdr ...string) {
		s.fault(t, acc.sid, "503")
		var outage []string
		for range 5 {
			msg, _ := newMessage(t)
			outage = append(outage, msg)
			a := post(client, ad.base()+path, smsForm(to(), msg), hdr...)
			if a.OK || a.Outcome != "rejected" || a.Code != 20503 {
				t.Errorf("during the outage: %s (%s), want a rejection with 20503", a, a.Message)
			}
		}
		sentInOutage := 0
		for _, m := range outage {
			sentInOutage += acceptedCount(recordsWhere(t, s, byBody(m)))
		}
		if sentInOutage != 0 {
			t.Errorf("the simulator accepted %d messages during the outage", sentInOutage)
		}
		s.fault(t, acc.sid, "none")
		sent := 0
		for i := range 3 {
			msg, _ := newMessage(t)
			a := post(client, ad.base()+path, smsForm(to(), msg), hdr...)
			if !a.OK {
				t.Errorf("send %d after the outage: %s (%s), want 200: the failed attempts must not have spent the limit", i+1, a, a.Message)
			}
			sent += acceptedCount(recordsWhere(t, s, byBody(msg)))
		}
		msg, _ := newMessage(t)
		a := post(client, ad.base()+path, smsForm(to(), msg), hdr...)
		if a.Status != 429 || a.Outcome != "rate_limited" {
			t.Errorf("fourth send: %s, want 429 rate_limited", a)
		} else {
			ra := retryAfter(t, a)
			t.Logf("5 attempts during the outage: %d sent; after it: %d of 3 sent, the 4th 429 with Retry-After %d", sentInOutage, sent, ra)
		}
		if n := len(recordsWhere(t, s, byBody(msg))); n != 0 {
			t.Errorf("the rate-limited send reached the simulator (%d requests)", n)
		}
	}
	t.Run("destination", func(t *testing.T) {
		to := newPhone(t)
		run(t, accD, "/dest", func() string { return to })
	})
	t.Run("caller", func(t *testing.T) {
		run(t, accC, "/caller", func() string { return newPhone(t) }, "X-Api-Key", key)
	})
}

// TestAttackRouteLimitsAreItsOwn: two routes send through one account, one
// with strict limits (`rate_limit destination 1 1m`, `rate_limit caller 2 1m`),
// the other with the default destination limit (5 per 10 minutes) and
// `rate_limit caller 100 1m`. Each route must enforce the limits written in
// its own block: an attacker must not get the lax route's limits by calling
// the strict route, and the strict route's settings must not throttle the
// other one.
func TestAttackRouteLimitsAreItsOwn(t *testing.T) {
	caddyBin(t)
	acc := newSimAccount(t)
	s := startSim(t, simOptions{}, acc)
	ad := startAdapter(t, "",
		route{path: "/sms", lines: append(accountLines(s, acc), "name limits-lax", "timeout 2s", "dial_timeout 500ms",
			"rate_limit caller 100 1m")},
		route{path: "/strict-route", lines: append(accountLines(s, acc), "name limits-strict", "timeout 2s", "dial_timeout 500ms",
			"rate_limit destination 1 1m", "rate_limit caller 2 1m")},
	)
	client := callerClient(t, 4, 10*time.Second)
	send := func(path, to string) answer {
		msg, _ := newMessage(t)
		return post(client, ad.base()+path, smsForm(to, msg))
	}
	t.Run("strict route: one message per destination", func(t *testing.T) {
		to := newPhone(t)
		first, second := send("/strict-route", to), send("/strict-route", to)
		if !first.OK {
			t.Fatalf("first: %s (%s)", first, first.Message)
		}
		if second.Status != 429 {
			t.Errorf("second message to one number on the route with `rate_limit destination 1 1m`: %s, want 429", second)
		}
	})
	t.Run("strict route: two messages per caller", func(t *testing.T) {
		var got []string
		for range 3 {
			got = append(got, send("/strict-route", newPhone(t)).String())
		}
		if got[2] != "429 rate_limited 20429" {
			t.Errorf("three messages to three numbers on the route with `rate_limit caller 2 1m`: %v, want the third 429", got)
		}
	})
	t.Run("lax route: the default five per destination, 100 per caller", func(t *testing.T) {
		to := newPhone(t)
		for i := range 3 {
			if a := send("/sms", to); !a.OK {
				t.Errorf("message %d to one number on the route with the default limit (5 per 10m): %s (%s)", i+1, a, a.Message)
			}
		}
		for i := range 3 {
			if a := send("/sms", newPhone(t)); !a.OK {
				t.Errorf("message %d to a new number on the route with `rate_limit caller 100 1m`: %s (%s)", i+1, a, a.Message)
			}
		}
	})
}

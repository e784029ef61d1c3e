package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// TestAttackTollFraud: with the defaults, an SMS-pumping run through premium
// rate numbers sends nothing, international premium and satellite numbers
// (+881, +882, +979) are refused, `allow_number_types` opens them, one
// destination gets at most five messages in ten minutes, and voice calls can
// neither be held open with pauses nor last longer than 120 s.
func TestAttackTollFraud(t *testing.T) {
	caddyBin(t)
	acc, open, premium, vacc := newSimAccount(t), newSimAccount(t), newSimAccount(t), newSimAccount(t)
	s := startSim(t, simOptions{maxRecords: 2000}, acc, open, premium, vacc)
	ad := startAdapter(t, "",
		route{path: "/sms", lines: append(accountLines(s, acc), "name fraud-defaults", "timeout 3s", "dial_timeout 500ms")},
		route{path: "/open", lines: append(accountLines(s, open), "name fraud-open", "timeout 3s", "dial_timeout 500ms",
			"allow_number_types premium_rate non_geographic")},
		route{path: "/premium", lines: append(accountLines(s, premium), "name fraud-premium", "timeout 3s", "dial_timeout 500ms",
			"allow_number_types premium_rate")},
		voiceRoute(s, vacc, "/voice", "fraud-voice"),
	)
	client := callerClient(t, 4, 10*time.Second)
	count := func(match func(simulator.Record) bool) int { return len(recordsWhere(t, s, match)) }

	// Premium rate ranges, checked with libphonenumber
	// (github.com/nyaruka/phonenumbers, GetNumberType == PREMIUM_RATE, valid):
	// +1 900 555 0000-0199 (US) and +44 909 879 0000-0199 (UK).
	pumping := func(format string, n int) []string {
		var out []string
		for i := range n {
			out = append(out, registerPhone(t, fmt.Sprintf(format, i)))
		}
		return out
	}
	t.Run("pumping run through premium rate numbers", func(t *testing.T) {
		for _, r := range []struct {
			name    string
			numbers []string
		}{
			{"+1 900 555 0000-0199", pumping("+1900555%04d", 200)},
			{"+44 909 879 0000-0199", pumping("+44909879%04d", 200)},
		} {
			answers := map[string]int{}
			for _, to := range r.numbers {
				msg, _ := newMessage(t)
				a := post(client, ad.base()+"/sms", smsForm(to, msg))
				answers[a.String()]++
				if a.Status != 403 || a.Outcome != "blocked" || a.Field != "to" {
					t.Errorf("%s: %s field %q (%s), want 403 blocked naming \"to\"", to[:5]+"…", a, a.Field, a.Message)
				}
			}
			in := map[string]bool{}
			for _, n := range r.numbers {
				in[n] = true
			}
			sent := count(func(rec simulator.Record) bool { return in[rec.Form.Get("To")] })
			t.Logf("%s: 200 sequential numbers: %v; %d requests at the simulator", r.name, answers, sent)
			if sent != 0 {
				t.Errorf("%s: %d requests reached the simulator, want 0", r.name, sent)
			}
		}
	})
	special := []string{"+881612345678", "+8823123456789", "+979123456789"}
	for _, n := range special {
		registerPhone(t, n)
	}
	t.Run("satellite, international network and premium numbers refused", func(t *testing.T) {
		for _, to := range special {
			msg, _ := newMessage(t)
			a := post(client, ad.base()+"/sms", smsForm(to, msg))
			if a.Status != 403 || a.Outcome != "blocked" {
				t.Errorf("+%s…: %s (%s), want 403 blocked", to[1:4], a, a.Message)
			}
			if n := count(byBody(msg)); n != 0 {
				t.Errorf("+%s…: %d requests reached the simulator", to[1:4], n)
			}
		}
	})
	t.Run("allow_number_types opens them", func(t *testing.T) {
		premiumNumbers := []string{registerPhone(t, "+19005550300"), registerPhone(t, "+449098790300")}
		try := func(path, to string, want bool) {
			msg, _ := newMessage(t)
			a := post(client, ad.base()+path, smsForm(to, msg))
			n := acceptedCount(recordsWhere(t, s, byBody(msg)))
			switch {
			case want && (!a.OK || n != 1):
				t.Errorf("%s +%s…: %s (%s), simulator accepted %d; want 200 and 1", path, to[1:4], a, a.Message, n)
			case !want && (a.Status != 403 || n != 0):
				t.Errorf("%s +%s…: %s, simulator accepted %d; want 403 and 0", path, to[1:4], a, n)
			}
		}
		for _, to := range premiumNumbers {
			try("/premium", to, true) // allow_number_types premium_rate
		}
		for _, to := range special {
			try("/premium", to, false) // non_geographic is not premium_rate
		}
		for _, to := range append(premiumNumbers, special...) {
			try("/open", to, true) // allow_number_types premium_rate non_geographic
		}
	})
	t.Run("default destination limit: at most 5 of 6 within a minute", func(t *testing.T) {
		to := newPhone(t)
		var got []string
		var last answer
		for range 6 {
			msg, _ := newMessage(t)
			last = post(client, ad.base()+"/sms", smsForm(to, msg))
			got = append(got, last.String())
		}
		sent := acceptedCount(recordsWhere(t, s, byTo(to)))
		t.Logf("6 messages to one number: %v; %d sent", got, sent)
		if sent > 5 {
			t.Errorf("%d of 6 sent to one number, want at most 5 (default rate_limit destination 5 10m)", sent)
		}
		if last.Status != 429 {
			t.Errorf("sixth: %s, want 429", last)
		} else {
			retryAfter(t, last)
		}
	})
	t.Run("voice: pauses refused, calls capped at 120 s", func(t *testing.T) {
		to := newPhone(t)
		code := newCode(t)
		long := "Your " + messageMarker + " " + code + strings.Repeat(`<Pause length="60"/>`, 20)
		a := pingoneVoice(client, ad, "/voice", to, long)
		if a.Status != 400 || a.Outcome != "invalid" {
			t.Errorf("20 × <Pause length=\"60\"/>: %s (%s), want 400 invalid", a, a.Message)
		} else {
			t.Logf("20 × <Pause length=\"60\"/>: %s field %q: %s", a, a.Field, a.Message)
		}
		if n := count(byTo(to)); n != 0 {
			t.Errorf("the long call reached the simulator %d times", n)
		}
		many := "Your " + messageMarker + " " + code + strings.Repeat(`<Pause length="9"/>`, 10)
		if a := pingoneVoice(client, ad, "/voice", to, many); a.Status != 400 {
			t.Errorf("10 × <Pause length=\"9\"/> (90 s in all): %s, want 400", a)
		}
		ok := pingoneVoice(client, ad, "/voice", to, "Your "+messageMarker+" "+code+`<Pause length="1"/>`)
		if !ok.OK {
			t.Fatalf("an ordinary call: %s (%s)", ok, ok.Message)
		}
		rs := recordsWhere(t, s, byTo(to))
		if len(rs) != 1 || rs[0].API != "calls" || rs[0].Form.Get("TimeLimit") != "120" {
			var tl []string
			for _, r := range rs {
				tl = append(tl, r.API+" TimeLimit="+r.Form.Get("TimeLimit"))
			}
			t.Errorf("simulator: %v, want one call with TimeLimit=120", tl)
		} else {
			t.Logf("the call reached the simulator with TimeLimit=%s", rs[0].Form.Get("TimeLimit"))
		}
	})
}

package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// TestAttackNumbersNeverGuessed: a destination is sent exactly as the caller
// meant it or refused with 400 naming "to"; the adapter never guesses a
// different valid number (which would hand a code to a stranger, or dial a
// number the attacker chose in another country).
//
//   - a GET (or form POST) whose "+" a form decoder turned into a space:
//     "+4792345678" (Norway) with default_region US must not become
//     +1 479 234 5678, and "+491711234567" with default_region DE must not
//     become +49 491711234567;
//   - "415-555-2671 / 2" (an extension) with default_region US is
//     +14155552671 or refused, never +41 55 552 67 12 (Switzerland);
//   - digits that read as two valid numbers are refused, unless
//     assume_numbers says how the product writes them;
//   - with lenient_numbers and deny_countries CA, a possible but unassigned
//     number with a Canadian area code is refused, not sent.
func TestAttackNumbersNeverGuessed(t *testing.T) {
	caddyBin(t)
	acc := newSimAccount(t)
	s := startSim(t, simOptions{}, acc)
	common := func(name string, extra ...string) []string {
		return append(append(accountLines(s, acc), "name "+name, "timeout 3s", "dial_timeout 500ms", "rate_limit destination off"), extra...)
	}
	// GET routes: the site log filter the README gives for them.
	ad := startAdapter(t, redactingLog,
		route{path: "/us", lines: common("numbers-us", "default_region US")},
		route{path: "/de", lines: common("numbers-de", "default_region DE")},
		route{path: "/us-intl", lines: common("numbers-us-intl", "default_region US", "assume_numbers international")},
		route{path: "/us-natl", lines: common("numbers-us-natl", "default_region US", "assume_numbers national")},
		route{path: "/lenient", lines: common("numbers-lenient", "default_region US", "lenient_numbers", "deny_countries CA")},
	)
	client := callerClient(t, 4, 10*time.Second)
	for _, n := range []string{"+4792345678", "+14792345678", "+491711234567", "+49491711234567", "+14155552671",
		"+41555526712", "+16041234567", "+16040123456", "+13681234567", "+14155552672"} {
		registerPhone(t, n)
	}

	type tc struct {
		name string
		path string
		// send makes the request; msg is the message text to send.
		send func(msg string) answer
		// ok is the only number the message may reach ("" = must be refused);
		// never lists numbers it must not reach.
		ok      string
		refuse  bool // the answer must be a refusal (400 "to", or 403 blocked for the country rule)
		blocked bool // a refusal may also be 403 blocked (country rules)
		never   []string
	}
	get := func(path, rawTo string) func(string) answer {
		return func(msg string) answer {
			return getRaw(client, ad.base(), path, "to="+rawTo+"&message="+url.QueryEscape(msg))
		}
	}
	postForm := func(path, rawTo string) func(string) answer {
		return func(msg string) answer {
			return postRaw(client, ad.base()+path, "to="+rawTo+"&message="+url.QueryEscape(msg))
		}
	}
	cases := []tc{
		{name: "GET +47 with the plus decoded to a space, region US", send: get("/us", "+4792345678"),
			ok: "+4792345678", never: []string{"+14792345678"}},
		{name: "form POST +47 with the plus decoded to a space, region US", send: postForm("/us", "+4792345678"),
			ok: "+4792345678", never: []string{"+14792345678"}},
		{name: "GET +49 with the plus decoded to a space, region DE", send: get("/de", "+491711234567"),
			ok: "+491711234567", never: []string{"+49491711234567"}},
		{name: "GET %2B47 (plus kept), region US", send: get("/us", "%2B4792345678"),
			ok: "+4792345678", never: []string{"+14792345678"}},
		{name: "US number with an extension, region US", send: get("/us", url.QueryEscape("415-555-2671 / 2")),
			ok: "+14155552671", never: []string{"+41555526712", "+14155552672"}},
		{name: "digits that are a US and a Norwegian number, region US", send: get("/us", "4792345678"),
			refuse: true, never: []string{"+14792345678", "+4792345678"}},
		{name: "digits that are two German numbers, region DE", send: get("/de", "491711234567"),
			refuse: true, never: []string{"+49491711234567", "+491711234567"}},
		{name: "the same digits with assume_numbers international", send: get("/us-intl", "4792345678"),
			ok: "+4792345678", never: []string{"+14792345678"}},
		{name: "the same digits with assume_numbers national", send: get("/us-natl", "4792345678"),
			ok: "+14792345678", never: []string{"+4792345678"}},
		{name: "assume_numbers national still reads a decoded plus as international", send: get("/us-natl", "+4792345678"),
			ok: "+4792345678", never: []string{"+14792345678"}},
		{name: "lenient, deny CA: unassigned exchange in a Canadian area code", send: get("/lenient", url.QueryEscape("+16041234567")),
			refuse: true, blocked: true, never: []string{"+16041234567"}},
		{name: "lenient, deny CA: exchange 012 in a Canadian area code", send: get("/lenient", url.QueryEscape("+16040123456")),
			refuse: true, blocked: true, never: []string{"+16040123456"}},
		{name: "lenient, deny CA: unassigned exchange, national format", send: get("/lenient", url.QueryEscape("(368) 123-4567")),
			refuse: true, blocked: true, never: []string{"+13681234567"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg, code := newMessage(t)
			a := c.send(msg)
			if err := a.definite(); err != nil {
				t.Fatalf("no definite answer: %v", err)
			}
			rs := recordsWhere(t, s, byBody(msg))
			var to []string
			for _, r := range rs {
				to = append(to, r.Form.Get("To"))
			}
			for _, n := range c.never {
				for _, got := range to {
					if got == n {
						t.Errorf("GUESSED: the message reached %s (answer %s)", n, a)
					}
				}
			}
			switch {
			case a.OK:
				if c.refuse {
					t.Errorf("answer %s, want a refusal", a)
				}
				if len(rs) != 1 || !rs[0].Accepted || to[0] != c.ok {
					t.Errorf("answer %s but the simulator has %v, want exactly one message to %s", a, to, c.ok)
				}
				t.Logf("sent to %s", to)
			default:
				okRefusal := a.Status == 400 && a.Outcome == "invalid" && a.Field == "to"
				if c.blocked && a.Status == 403 && a.Outcome == "blocked" && a.Field == "to" {
					okRefusal = true
				}
				if !okRefusal {
					t.Errorf("answer %s field %q (%s), want 200 to %s or 400 invalid naming \"to\"", a, a.Field, a.Message, c.ok)
				}
				if len(rs) != 0 {
					t.Errorf("refused (%s) but the simulator got %d requests (%v)", a, len(rs), to)
				}
				t.Logf("refused: %s field %q: %s", a, a.Field, a.Message)
			}
			if strings.Contains(a.Body, code) {
				t.Errorf("the answer echoes the message")
			}
		})
	}
	// No request under any message went to a number only a guess produces.
	bad := recordsWhere(t, s, func(r simulator.Record) bool {
		to := r.Form.Get("To")
		return to == "+41555526712" || to == "+49491711234567" || to == "+14155552672"
	})
	if len(bad) != 0 {
		t.Errorf("%d simulator requests went to a guessed number", len(bad))
	}
}

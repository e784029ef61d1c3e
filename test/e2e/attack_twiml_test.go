package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// voiceRoute is a PingOne voice route (`twilio_sms pingone`, `channel voice`)
// through account acc of s, as examples/pingone/ has it but with stored
// credentials.
func voiceRoute(s *sim, acc simAccount, path, name string, extra ...string) route {
	return route{path: path, mapping: "pingone",
		lines: append(append(accountLines(s, acc), "name "+name, "channel voice", "timeout 3s", "dial_timeout 500ms"), extra...)}
}

// pingoneVoice posts what PingOne's custom provider posts for a voice
// notification: To and Parameters (the message with its beforeTag/afterTag
// TwiML fragments).
func pingoneVoice(c *http.Client, a *adapter, path, to, parameters string) answer {
	return post(c, a.base()+path, url.Values{"To": {to}, "Parameters": {parameters}})
}

// byTo matches the records of one destination.
func byTo(to string) func(simulator.Record) bool {
	return func(r simulator.Record) bool { return r.Form.Get("To") == to }
}

// TestAttackTwiMLNeverCrashes: PingOne voice messages with text after
// </Response>, a second <Response>, verbs that are not allowed, markup that
// is not XML: each gets a definite answer in the dialect (its JSON, 200 or
// 4xx, never an empty or internal-error 500), nothing is sent that is not
// Say and Pause, no panic is logged, and the adapter keeps serving.
func TestAttackTwiMLNeverCrashes(t *testing.T) {
	caddyBin(t)
	acc := newSimAccount(t)
	s := startSim(t, simOptions{}, acc)
	ad := startAdapter(t, "", voiceRoute(s, acc, "/pingone/voice", "twiml-crash"))
	client := callerClient(t, 2, 10*time.Second)
	say := func(code string) string {
		var b strings.Builder
		for _, d := range code {
			b.WriteString("<Say>" + string(d) + "</Say> <Pause length=\"1\"/>")
		}
		return b.String()
	}
	cases := []struct {
		name string
		body func(code string) string
	}{
		{"text after </Response>", func(c string) string {
			return "Your " + messageMarker + " " + say(c) + "</Response> and some more text"
		}},
		{"a second document after </Response>", func(c string) string {
			return say(c) + "</Response><Response><Dial>+19005550123</Dial></Response>"
		}},
		{"only </Response>", func(c string) string { return messageMarker + " " + c + "</Response>" }},
		{"a whole document with trailing text", func(c string) string {
			return "<Response><Say>" + messageMarker + " " + c + "</Say></Response>trailing"
		}},
		{"Dial injected between Says", func(c string) string { return say(c) + "<Dial>+19005550123</Dial>" + say(c) }},
		{"unclosed Say", func(c string) string { return "<Say>" + messageMarker + " " + c }},
		{"CDATA and comment", func(c string) string { return "<![CDATA[" + messageMarker + " " + c + "]]><!-- x --></Response>" }},
		{"DOCTYPE with an entity", func(c string) string {
			return `<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">]><Say>&a;&a;&a; ` + messageMarker + " " + c + `</Say>`
		}},
		{"processing instruction", func(c string) string {
			return `<?xml version="1.0"?><Say>` + messageMarker + " " + c + `</Say></Response>`
		}},
	}
	registerPhone(t, "+19005550123")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			to := newPhone(t)
			code := newCode(t)
			body := c.body(code)
			a := pingoneVoice(client, ad, "/pingone/voice", to, body)
			alive(t, ad.proc)
			if a.Err != nil {
				t.Fatalf("no answer in the dialect: %v (HTTP %d, body %d bytes)", a.Err, a.Status, len(a.Body))
			}
			if err := a.definite(); err != nil {
				t.Errorf("no definite answer: %v", err)
			}
			if a.Status >= 500 {
				t.Errorf("answer %s (%s), want 200 or 4xx: nothing of this request is the server's fault", a, a.Message)
			}
			rs := recordsWhere(t, s, byTo(to))
			for _, r := range rs {
				if tw := r.Form.Get("Twiml"); strings.Contains(tw, "<Dial") || strings.Count(tw, "<Response") > 1 {
					t.Errorf("sent TwiML with a verb other than Say and Pause, or two documents: %s", tw)
				}
			}
			if a.OK != (len(rs) == 1) {
				t.Errorf("answer %s but the simulator got %d requests", a, len(rs))
			}
			t.Logf("%s; %d sent", a, len(rs))
		})
	}
	// Still serving: an ordinary voice message goes out.
	to := newPhone(t)
	if a := pingoneVoice(client, ad, "/pingone/voice", to, "Your "+messageMarker+" "+say(newCode(t))); !a.OK {
		t.Errorf("an ordinary voice message after the attack: %s (%s)", a, a.Message)
	}
	alive(t, ad.proc)
	for _, l := range logLines(ad.proc) {
		if l.Panic != "" || strings.Contains(l.Msg, "internal error") || strings.Contains(l.Msg, "failed at run time") {
			t.Errorf("adapter log: %s %q (panic %q)", l.Level, l.Msg, l.Panic)
		}
	}
}

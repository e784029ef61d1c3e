package caddymodule

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// counterSum adds up a counter vector's series whose labels include want.
func counterSum(c *prometheus.CounterVec, want map[string]string) float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	sum := 0.0
	for m := range ch {
		var pb dto.Metric
		_ = m.Write(&pb)
		ok := true
		for k, v := range want {
			found := false
			for _, lp := range pb.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			ok = ok && found
		}
		if ok {
			sum += pb.GetCounter().GetValue()
		}
	}
	return sum
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDeliveryTracking: with status_callback every create carries the
// adapter's own signed callback URL; the simulator calls back as Twilio does;
// the delivery metrics count delivered and undelivered; a forged or altered
// callback is refused (403) and not counted; and after an undelivered status
// an identical request is sent again (a resend is not a retry), while before
// it the same request is a duplicate.
func TestDeliveryTracking(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Caddy")
	}
	main := acct()
	sim := newTestSim(t, main)
	route := "delivery-" + strings.ToLower(newSID("R")[26:])
	tester := startCaddy(t, `
http://localhost:9080 {
	route /sms* {
		twilio_sms generic {
			name            `+route+`
			account_sid     `+main.SID+`
			auth_token      `+main.AuthToken+`
			from            +15005550006
			api_url         `+sim.URL+`
			status_callback http://localhost:9080/sms/twilio-status
			rate_limit      destination off
		}
	}
}`)
	m := allMetrics
	delivered := func() float64 {
		return counterSum(m.deliveries, map[string]string{"route": route, "status": "delivered"})
	}
	undelivered := func() float64 {
		return counterSum(m.deliveries, map[string]string{"route": route, "status": "undelivered", "error_code": "30003"})
	}

	// Delivered.
	a := postForm(t, tester, "/sms", sms(newNumber(t, "US"), newMessage()))
	wantOK(t, a)
	rec := lastRecord(t, sim)
	if cb := rec.Form.Get("StatusCallback"); !strings.HasPrefix(cb, "http://localhost:9080/sms/twilio-status/") {
		t.Fatalf("the create carried StatusCallback %q, want the adapter's own", cb)
	}
	waitFor(t, "the delivered status", func() bool { return delivered() >= 1 })

	// Undelivered: +15005550010 ends undelivered with 30003. Before the
	// receipt a repeat is a duplicate; after it, the repeat is sent.
	msg := newMessage()
	first := postForm(t, tester, "/sms", sms("+15005550010", msg))
	wantOK(t, first)
	if again := postForm(t, tester, "/sms", sms("+15005550010", msg)); again.Reply.Sid != first.Reply.Sid {
		t.Errorf("a repeat before the receipt was sent again (sid %s, first %s)", again.Reply.Sid, first.Reply.Sid)
	}
	waitFor(t, "the undelivered status", func() bool { return undelivered() >= 1 })
	resend := postForm(t, tester, "/sms", sms("+15005550010", msg))
	wantOK(t, resend)
	if resend.Reply.Sid == first.Reply.Sid {
		t.Errorf("after an undelivered receipt the same request was answered from the first send, not sent again")
	}

	// Forged and altered callbacks are refused and counted as such.
	before := delivered()
	cb := rec.Form.Get("StatusCallback")
	for _, tt := range []struct{ name, url, sig string }{
		{"no signature", cb, ""},
		{"a wrong signature", cb, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		{"an altered token", cb[:len(cb)-2] + "xx", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
	} {
		req, _ := http.NewRequest(http.MethodPost, strings.Replace(tt.url, "localhost", "localhost", 1),
			strings.NewReader("MessageSid="+rec.Sid+"&MessageStatus=delivered&AccountSid="+main.SID))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tt.sig != "" {
			req.Header.Set("X-Twilio-Signature", tt.sig)
		}
		resp, err := doRetryingStale(tester.Client, req, "MessageSid="+rec.Sid+"&MessageStatus=delivered&AccountSid="+main.SID)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: HTTP %d, want 403", tt.name, resp.StatusCode)
		}
	}
	if got := delivered(); got != before {
		t.Errorf("a forged callback was counted: delivered %v, was %v", got, before)
	}
	if refused := counterSum(m.callbacks, map[string]string{"result": "forged"}) + counterSum(m.callbacks, map[string]string{"result": "altered"}); refused < 3 {
		t.Errorf("%v refused callbacks counted, want 3", refused)
	}
}

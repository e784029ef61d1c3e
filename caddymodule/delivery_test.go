package caddymodule

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
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

// TestKannelReceipt: a Kannel caller's dlr-url gets Kannel's receipts (its
// escapes filled in) once Twilio's status callbacks come in; the receipt goes
// only to a host in receipt_hosts.
func TestKannelReceipt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Caddy")
	}
	got := make(chan string, 8)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.RawQuery
	}))
	t.Cleanup(receiver.Close)
	main := acct()
	sim := newTestSim(t, main)
	password := newToken()
	noteSecret(password)
	tester := startCaddy(t, `
http://localhost:9080 {
	route /cgi-bin/sendsms* {
		twilio_sms kannel {
			name            kannel-receipts
			account_sid     `+main.SID+`
			auth_token      `+main.AuthToken+`
			from            +15005550006
			api_url         `+sim.URL+`
			caller_auth     params username tester password `+password+`
			status_callback http://localhost:9080/cgi-bin/sendsms/twilio-status
			receipt_hosts   127.0.0.1
			rate_limit      destination off
		}
	}
}`)
	send := func(dlr string) dialectAnswer {
		q := url.Values{"username": {"tester"}, "password": {password}, "to": {newNumber(t, "US")}, "text": {newMessage()},
			"dlr-url": {dlr}, "dlr-mask": {"3"}}
		return dialectSend(t, tester, dialectRequest{method: http.MethodGet, path: "/cgi-bin/sendsms?" + q.Encode()})
	}
	if a := send("http://example.com/dlr?s=%d"); a.status != http.StatusBadRequest {
		t.Errorf("a dlr-url outside receipt_hosts: %d %s, want 400", a.status, a.body)
	}
	a := send(receiver.URL + "/dlr?status=%d&to=%p&id=%F")
	if a.status != http.StatusAccepted {
		t.Fatalf("send: %d %s", a.status, a.body)
	}
	rec := lastRecord(t, sim)
	select {
	case q := <-got:
		v, _ := url.ParseQuery(q)
		if v.Get("status") != "1" || v.Get("id") != rec.Sid || v.Get("to") == "" {
			t.Errorf("the receipt was %q, want status 1 (delivered), the number and id %s", q, rec.Sid)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no receipt reached the dlr-url")
	}
}

// TestJasminReceipt: a Jasmin receiver that fails twice and then answers
// ACK/Jasmin gets exactly three attempts of the terminal receipt.
func TestJasminReceipt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Caddy")
	}
	var mu sync.Mutex
	attempts := 0
	done := make(chan url.Values, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.Form.Get("level") != "2" {
			_, _ = io.WriteString(w, "ACK/Jasmin") // the smsc-level receipt, if any
			return
		}
		mu.Lock()
		attempts++
		n := attempts
		mu.Unlock()
		if n < 3 {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ACK/Jasmin")
		done <- r.Form
	}))
	t.Cleanup(receiver.Close)
	main := acct()
	sim := newTestSim(t, main)
	password := newToken()
	noteSecret(password)
	tester := startCaddy(t, `
http://localhost:9080 {
	route /send* {
		twilio_sms jasmin {
			name            jasmin-receipts
			account_sid     `+main.SID+`
			auth_token      `+main.AuthToken+`
			from            +15005550006
			api_url         `+sim.URL+`
			caller_auth     params username tester password `+password+`
			status_callback http://localhost:9080/send/twilio-status
			receipt_hosts   127.0.0.1
			rate_limit      destination off
		}
	}
}`)
	q := url.Values{"username": {"tester"}, "password": {password}, "to": {newNumber(t, "US")}, "content": {newMessage()},
		"dlr": {"yes"}, "dlr-url": {receiver.URL + "/dlr"}, "dlr-level": {"2"}}
	a := dialectSend(t, tester, dialectRequest{method: http.MethodGet, path: "/send?" + q.Encode()})
	if a.status != http.StatusOK {
		t.Fatalf("send: %d %s", a.status, a.body)
	}
	select {
	case f := <-done:
		if f.Get("message_status") != "DELIVRD" || f.Get("id") != lastRecord(t, sim).Sid {
			t.Errorf("receipt %v, want DELIVRD for the message", f)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the receipt never got its ACK/Jasmin")
	}
	time.Sleep(300 * time.Millisecond) // nothing more may come
	mu.Lock()
	defer mu.Unlock()
	if attempts != 3 {
		t.Errorf("%d attempts, want exactly 3", attempts)
	}
}

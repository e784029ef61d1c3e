package delivery_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/delivery"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilioapi"
)

const sid = "SM0123456789abcdef0123456789abcdef"

// status is a message status as a callback would give it.
func status(s string, tok delivery.Token) *delivery.Status {
	st := &delivery.Status{MessageSid: sid, AccountSid: acct, Status: s, To: "+4915112345678", From: "+15005550006",
		Token: tok, At: t0.Add(90 * time.Second), Source: delivery.SourceCallback}
	switch s {
	case "undelivered":
		st.ErrorCode, st.RawDlrDoneDate = 30003, "2603011201"
	case "failed":
		st.ErrorCode = 30008
	}
	return st
}

func TestKannelValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status string
		mask   int
		want   int
	}{
		{"delivered", 31, 1}, {"undelivered", 31, 2}, {"queued", 31, 4}, {"sent", 31, 8}, {"failed", 31, 16},
		{"failed", 3, 2}, // no 16 asked for: a failure is "not delivered to the phone"
		{"failed", 1, 0}, {"delivered", 2, 0}, {"sent", 3, 0}, {"queued", 3, 0}, {"undelivered", 1, 0},
		{"accepted", 31, 0}, {"read", 31, 0}, {"delivered", 0, 0},
	}
	for _, tc := range tests {
		if got := delivery.KannelValue(tc.status, tc.mask); got != tc.want {
			t.Errorf("KannelValue(%s, %d) = %d, want %d", tc.status, tc.mask, got, tc.want)
		}
	}
}

func TestKannelURL(t *testing.T) {
	t.Parallel()
	tok := delivery.Token{Route: "kannel-otp", Sent: t0}
	tests := []struct {
		name, tmpl, status string
		value              int
		want               string
	}{
		{"type, numbers, id", "http://app/dlr?type=%d&to=%p&from=%P&id=%F&smsc=%i", "delivered", 1,
			"http://app/dlr?type=1&to=%2B4915112345678&from=%2B15005550006&id=" + sid + "&smsc=twilio"},
		{"times", "http://app/dlr?t=%t&T=%T", "delivered", 1, "http://app/dlr?t=2026-03-01+12%3A01%3A30&T=1772366490"},
		{"q and Q, internal id, service", "/d?q=%q&Q=%Q&I=%I&n=%n", "sent", 8, "/d?q=%2B4915112345678&Q=%2B15005550006&I=" + sid + "&n=kannel-otp"},
		{"reply of a submit", "/d?a=%A", "sent", 8, "/d?a=ACK%2F"},
		{"reply of a reject", "/d?a=%A", "failed", 16, "/d?a=NACK%2F30008%2Ffailed"},
		{"reply of a receipt", "/d?a=%A", "undelivered", 2,
			"/d?a=" + url.QueryEscape("id:"+sid+" sub:001 dlvrd:000 submit date:2603011200 done date:2603011201 stat:UNDELIV err:30003 text:")},
		{"delivered receipt", "%A", "delivered", 1, url.QueryEscape("id:" + sid + " sub:001 dlvrd:001 submit date:2603011200 done date:2603011201 stat:DELIVRD err:000 text:")},
		{"message escapes give nothing", "/d?k=%k&s=%s&a=%a&b=%b&c=%c&u=%u", "delivered", 1, "/d?k=&s=&a=&b=&c=&u="},
		{"percent and unknown codes kept", "/d?x=%%&y=%2F&z=%Z&end=%", "delivered", 1, "/d?x=%&y=%2F&z=%Z&end=%"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := status(tc.status, tok)
			if tc.status == "delivered" {
				st.RawDlrDoneDate = "2603011201"
			}
			if got := delivery.KannelURL(tc.tmpl, tc.value, st); got != tc.want {
				t.Errorf("KannelURL(%q) =\n %s\nwant\n %s", tc.tmpl, got, tc.want)
			}
		})
	}
}

func TestJasminReceipt(t *testing.T) {
	t.Parallel()
	tok := delivery.Token{Sent: t0}
	tests := []struct {
		status string
		level  int
		want   string // message_status/level, "" for none
	}{
		{"sent", 1, "ESME_ROK/1"}, {"sent", 3, "ESME_ROK/1"}, {"sent", 2, ""},
		{"delivered", 2, "DELIVRD/2"}, {"delivered", 3, "DELIVRD/2"}, {"delivered", 1, ""},
		{"undelivered", 2, "UNDELIV/2"}, {"undelivered", 1, ""},
		{"failed", 1, "ESME_RSUBMITFAIL/1"}, {"failed", 3, "ESME_RSUBMITFAIL/1"}, {"failed", 2, "REJECTD/2"},
		{"queued", 3, ""},
	}
	for _, tc := range tests {
		form, ok := delivery.JasminReceipt(status(tc.status, tok), tc.level)
		got := ""
		if ok {
			got = form.Get("message_status") + "/" + form.Get("level")
		}
		if got != tc.want {
			t.Errorf("JasminReceipt(%s, level %d) = %q, want %q", tc.status, tc.level, got, tc.want)
		}
	}
	form, _ := delivery.JasminReceipt(status("undelivered", tok), 2)
	want := url.Values{"id": {sid}, "id_smsc": {sid}, "message_status": {"UNDELIV"}, "level": {"2"}, "subdate": {"2603011200"},
		"donedate": {"2603011201"}, "sub": {"001"}, "dlvrd": {"000"}, "err": {"30003"}, "text": {""}}
	if form.Encode() != want.Encode() {
		t.Errorf("level 2 receipt = %s\nwant %s", form.Encode(), want.Encode())
	}
	form, _ = delivery.JasminReceipt(status("sent", tok), 1)
	if want := (url.Values{"id": {sid}, "message_status": {"ESME_ROK"}, "level": {"1"}}); form.Encode() != want.Encode() {
		t.Errorf("level 1 receipt = %s, want %s", form.Encode(), want.Encode())
	}
}

// receiver is an httptest server recording requests and answering from a
// script (the last answer repeats).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
	answers  []answer
}

type answer struct {
	code int
	body string
}

func newReceiver(t *testing.T, answers ...answer) *receiver {
	t.Helper()
	r := &receiver{answers: answers}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, req)
		r.bodies = append(r.bodies, string(body))
		a := r.answers[min(len(r.requests), len(r.answers))-1]
		r.mu.Unlock()
		w.WriteHeader(a.code)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

func forwarder(t *testing.T, obs delivery.Observer, cfg delivery.ForwarderConfig) *delivery.Forwarder {
	t.Helper()
	if cfg.Hosts == nil {
		cfg.Hosts = []string{"127.0.0.1"}
	}
	cfg.Observer = obs
	if cfg.Backoff == 0 {
		cfg.Backoff = 5 * time.Millisecond
	}
	f, err := delivery.NewForwarder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f
}

func TestJasminRetriedUntilAck(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, answer{500, "oops"}, answer{200, "OK"}, answer{200, "ACK/Jasmin\n"})
	obs := &countingObserver{}
	f := forwarder(t, obs, delivery.ForwarderConfig{})
	tr := &delivery.Tracker{Receipts: f}
	tok := delivery.Token{Route: "jasmin", AccountSID: acct, Receipt: rcv.URL + "/dlr", Dialect: delivery.DialectJasmin, Mask: 2, Sent: t0}
	tr.Handle(context.Background(), status("delivered", tok))
	waitFor(t, "the receipt", func() bool { return len(obs.snapshot().receipts) == 1 })
	time.Sleep(30 * time.Millisecond)
	if n := rcv.count(); n != 3 {
		t.Errorf("%d attempts, want exactly 3 (failing twice, then ACK/Jasmin)", n)
	}
	if got := obs.snapshot().receipts; got[0] != "jasmin:delivered" {
		t.Errorf("receipts = %v", got)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	req, body := rcv.requests[2], rcv.bodies[2]
	form, _ := url.ParseQuery(body)
	if req.Method != http.MethodPost || req.URL.Path != "/dlr" || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
		form.Get("id") != sid || form.Get("message_status") != "DELIVRD" || form.Get("level") != "2" || form.Get("dlvrd") != "001" || !form.Has("text") {
		t.Errorf("request %s %s %s", req.Method, req.URL, body)
	}
}

func TestJasminGivesUp(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, answer{200, "thanks"})
	obs := &countingObserver{}
	f := forwarder(t, obs, delivery.ForwarderConfig{Attempts: 3})
	tok := delivery.Token{Route: "jasmin", Receipt: rcv.URL + "/dlr?x=1", Dialect: delivery.DialectJasmin, Mask: 1, Method: "GET"}
	r, ok := delivery.BuildReceipt(status("sent", tok), nil)
	if !ok || !f.Enqueue(r) {
		t.Fatal("the receipt was not queued")
	}
	waitFor(t, "the receipt", func() bool { return len(obs.snapshot().receipts) == 1 })
	if n := rcv.count(); n != 3 || obs.snapshot().receipts[0] != "jasmin:failed" {
		t.Errorf("%d attempts, receipts %v; want 3 and failed", n, obs.snapshot().receipts)
	}
	rcv.mu.Lock()
	q := rcv.requests[0].URL.Query()
	rcv.mu.Unlock()
	if q.Get("x") != "1" || q.Get("message_status") != "ESME_ROK" || q.Get("level") != "1" || q.Get("id") != sid {
		t.Errorf("GET query = %v", q)
	}
}

func TestKannelReceipts(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, answer{202, ""})
	obs := &countingObserver{}
	tr := &delivery.Tracker{Receipts: forwarder(t, obs, delivery.ForwarderConfig{}), Observer: obs}
	tok := delivery.Token{Route: "kannel", AccountSID: acct, Receipt: rcv.URL + "/dlr?msg=42&type=%d&to=%p&ts=%T", Dialect: delivery.DialectKannel, Mask: 1 | 2 | 8, Sent: t0}
	for _, s := range []string{"queued", "sent", "sent", "undelivered"} {
		tr.Handle(context.Background(), status(s, tok))
	}
	waitFor(t, "the receipts", func() bool { return len(obs.snapshot().receipts) == 2 })
	time.Sleep(20 * time.Millisecond)
	if n := rcv.count(); n != 2 {
		t.Fatalf("%d requests, want 2 (8 for sent once, 2 for undelivered; 4 not asked for)", n)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	types := map[string]bool{}
	for _, req := range rcv.requests {
		q := req.URL.Query()
		if req.Method != http.MethodGet || q.Get("msg") != "42" || q.Get("to") != "+4915112345678" || q.Get("ts") != "1772366490" {
			t.Errorf("request %s %s", req.Method, req.URL)
		}
		types[q.Get("type")] = true
	}
	if !types["8"] || !types["2"] {
		t.Errorf("types %v, want 8 and 2", types)
	}
}

// TestTwilioReceiptValidates: a Twilio caller's StatusCallback gets Twilio's
// parameters, signed so that Twilio's own validation (over the URL the
// receiver sees, with or without its port) accepts them.
func TestTwilioReceiptValidates(t *testing.T) {
	t.Parallel()
	const callerToken = "caller-auth-token"
	var valid atomic.Int32
	var got url.Values
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		full := "http://" + r.Host + r.URL.RequestURI()
		params := r.PostForm
		if r.Method == http.MethodGet {
			params = nil
		}
		if twilioapi.ValidSignature(callerToken, full, params, r.Header.Get(twilioapi.SignatureHeader)) &&
			r.Header.Get("User-Agent") == "TwilioProxy/1.1" && r.Header.Get("I-Twilio-Idempotency-Token") == "idem-7" {
			valid.Add(1)
		}
		mu.Lock()
		got = r.Form
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	obs := &countingObserver{}
	tr := &delivery.Tracker{Receipts: forwarder(t, obs, delivery.ForwarderConfig{})}
	for i, method := range []string{"", "GET"} {
		tok := delivery.Token{Route: "tw", AccountSID: acct, Receipt: srv.URL + "/status?user=7", Dialect: delivery.DialectTwilio, Method: method, CallerToken: callerToken}
		st := status("delivered", tok)
		st.MessageSid = sid[:len(sid)-1] + string(rune('0'+i))
		st.Params = callbackParams("delivered")
		st.Params.Set("MessageSid", st.MessageSid)
		st.Params.Set("NewTwilioField", "x")
		st.IdempotencyToken = "idem-7"
		tr.Handle(context.Background(), st)
		waitFor(t, "the receipt", func() bool { return len(obs.snapshot().receipts) == i+1 })
		if valid.Load() != int32(i+1) {
			t.Fatalf("method %q: the caller's validator refused the forwarded callback", method)
		}
		mu.Lock()
		if got.Get("NewTwilioField") != "x" || got.Get("MessageStatus") != "delivered" || got.Get("user") != "7" {
			t.Errorf("method %q: caller got %v", method, got)
		}
		mu.Unlock()
	}
	// Stored credentials: re-signed with the account's token, looked up.
	r, ok := delivery.BuildReceipt(status("sent", delivery.Token{Receipt: "https://app.example.com/s", Dialect: delivery.DialectTwilio, AccountSID: acct}), tokens)
	if !ok || !twilioapi.ValidSignature(acctToken, r.URL, r.Form, r.Header.Get(twilioapi.SignatureHeader)) {
		t.Errorf("stored-credentials receipt not signed with the account's token: %+v", r)
	}
	if r.Form.Get("To") != "+4915112345678" || r.Form.Get("MessageStatus") != "sent" || r.Form.Get("ApiVersion") != "2010-04-01" {
		t.Errorf("rebuilt parameters = %v", r.Form)
	}
}

func TestAllowList(t *testing.T) {
	t.Parallel()
	a, err := delivery.NewAllowList([]string{"dlr.example.com", "*.apps.example.org", "10.1.2.3", "::1", " Upper.Example.NET "})
	if err != nil {
		t.Fatal(err)
	}
	for u, want := range map[string]bool{
		"https://dlr.example.com/x":          true,
		"http://DLR.example.com:8080/x?y=%d": true,
		"https://user:pw@dlr.example.com/":   true,
		"https://a.apps.example.org/":        true,
		"https://a.b.apps.example.org/":      true,
		"https://apps.example.org/":          false,
		"https://evilapps.example.org/":      false,
		"https://dlr.example.com.evil.io/":   false,
		"https://example.com/":               false,
		"http://10.1.2.3:1401/dlr":           true,
		"http://10.1.2.4/dlr":                false,
		"http://[::1]:8080/":                 true,
		"https://upper.example.net/":         true,
		"ftp://dlr.example.com/":             false,
		"dlr.example.com/x":                  false,
		"":                                   false,
		"https://169.254.169.254/latest":     false,
	} {
		if got := a.Allowed(u); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", u, got, want)
		}
	}
	for _, bad := range []string{"https://x.example.com", "x.example.com:80", "x.example.com/path", "", "*", "*.", "a b"} {
		if _, err := delivery.NewAllowList([]string{bad}); err == nil {
			t.Errorf("NewAllowList accepted %q", bad)
		}
	}
	if (delivery.AllowList{}).Allowed("https://dlr.example.com/") {
		t.Error("the zero AllowList allowed a host")
	}
}

func TestForwarderRefusesAndDrops(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, answer{200, ""})
	obs := &countingObserver{}
	f := forwarder(t, obs, delivery.ForwarderConfig{Hosts: []string{"dlr.example.com"}})
	if f.Enqueue(&delivery.Receipt{Route: "r", Dialect: "kannel", Method: "GET", URL: rcv.URL + "/x"}) {
		t.Error("a receipt to a host outside receipt_hosts was queued")
	}
	time.Sleep(20 * time.Millisecond)
	if rcv.count() != 0 {
		t.Error("a host outside receipt_hosts was requested")
	}

	// A receiver that hangs: one worker, a queue of one.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(func() { close(release); slow.Close() })
	g := forwarder(t, obs, delivery.ForwarderConfig{Workers: 1, Queue: 1, Timeout: 5 * time.Second})
	r := &delivery.Receipt{Route: "r", Dialect: "kannel", Method: "GET", URL: slow.URL + "/x"}
	if !g.Enqueue(r) {
		t.Fatal("the first receipt was not queued")
	}
	waitFor(t, "the worker to take it", func() bool { return g.Len() == 1 && queueTaken(g) })
	start := time.Now()
	if !g.Enqueue(r) {
		t.Error("the second receipt did not fit the queue of one")
	}
	if g.Enqueue(r) {
		t.Error("a third receipt was queued beyond the bound")
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Error("Enqueue blocked")
	}
	g.Stop()
	got := obs.snapshot().receipts
	want := []string{"kannel:refused", "kannel:dropped"}
	if len(got) < 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("receipts = %v, want %v first", got, want)
	}
	if g.Len() != 0 {
		t.Errorf("Len = %d after Stop", g.Len())
	}
}

// queueTaken gives the worker a moment to take the first receipt off the
// queue (Len counts it until it is done).
func queueTaken(*delivery.Forwarder) bool {
	time.Sleep(20 * time.Millisecond)
	return true
}

func TestReceiptsNeverCarryTheText(t *testing.T) {
	t.Parallel()
	tok := delivery.Token{Route: "r", Receipt: "https://dlr.example.com/?a=%a&b=%b&A=%A", Dialect: delivery.DialectKannel, Mask: 31}
	for _, s := range []string{"queued", "sent", "delivered", "undelivered", "failed"} {
		st := status(s, tok)
		st.Params = url.Values{"Body": {"Your code is 123456"}} // Twilio never posts it; even so
		r, ok := delivery.BuildReceipt(st, nil)
		if !ok {
			t.Fatalf("%s: no receipt", s)
		}
		if strings.Contains(r.URL, "code") || strings.Contains(r.URL, "Body") {
			t.Errorf("%s: %s", s, r.URL)
		}
	}
}

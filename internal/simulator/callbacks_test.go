package simulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilioapi"
)

// hook is a callback receiver on loopback.
type hook struct {
	*httptest.Server
	got    chan received
	status int           // answer, default 204
	delay  time.Duration // before answering
}

type received struct {
	method, url string // url as the receiver reconstructs it: http://host/path?query
	params      url.Values
	header      http.Header
}

func newHook(t *testing.T) *hook {
	t.Helper()
	h := &hook{got: make(chan received, 100), status: http.StatusNoContent}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		params, _ := url.ParseQuery(string(body))
		if r.Method == http.MethodGet {
			params = url.Values{}
		}
		h.got <- received{method: r.Method, url: "http://" + r.Host + r.URL.RequestURI(), params: params, header: r.Header.Clone()}
		if h.delay > 0 {
			select {
			case <-time.After(h.delay):
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(h.status)
	}))
	t.Cleanup(h.Close)
	return h
}

// next waits for the next callback.
func (h *hook) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-h.got:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no callback within 5s")
		return received{}
	}
}

// none checks that no callback comes within d.
func (h *hook) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case r := <-h.got:
		t.Fatalf("unexpected callback %s %v", r.url, r.params)
	case <-time.After(d):
	}
}

// wantSigned checks X-Twilio-Signature with token.
func wantSigned(t *testing.T, r received, token string) {
	t.Helper()
	sig := r.header.Get("X-Twilio-Signature")
	if !twilioapi.ValidSignature(token, r.url, r.params, sig) {
		t.Errorf("X-Twilio-Signature %q does not validate for %s %v", sig, r.url, r.params)
	}
	if twilioapi.ValidSignature(token+"x", r.url, r.params, sig) {
		t.Error("signature validates with another token")
	}
}

var rawDlrDoneDate = regexp.MustCompile(`^[0-9]{10}$`)

func TestMessageCallbacks(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	srv, sim := contractServer(t, fastConfig())
	tests := []struct {
		name     string
		form     url.Values
		statuses []string
		code     string
		from     string
	}{
		{"delivered", url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}}, []string{"sent", "delivered"}, "", fromOK},
		{"through a messaging service", url.Values{"To": {toOK}, "MessagingServiceSid": {service}, "Body": {"x"}},
			[]string{"queued", "sent", "delivered"}, "", fromOK},
		{"undelivered 30003", url.Values{"To": {"+15005550010"}, "From": {fromOK}, "Body": {"x"}}, []string{"sent", "undelivered"}, "30003", fromOK},
		{"failed 30008", url.Values{"To": {"+15005550011"}, "From": {fromOK}, "Body": {"x"}}, []string{"failed"}, "30008", fromOK},
		{"sent without receipt", url.Values{"To": {"+15005550015"}, "From": {fromOK}, "Body": {"x"}}, []string{"sent"}, "", fromOK},
		{"whatsapp", url.Values{"To": {"whatsapp:" + toOK}, "From": {"whatsapp:" + fromOK}, "Body": {"x"}},
			[]string{"sent", "delivered"}, "", "whatsapp:" + fromOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("StatusCallback", h.URL+"/status?route=sms&n=1")
			sid := create(t, srv, tc.form)
			for i, status := range tc.statuses {
				r := h.next(t)
				p := r.params
				if r.method != http.MethodPost || p.Get("MessageSid") != sid || p.Get("SmsSid") != sid ||
					p.Get("MessageStatus") != status || p.Get("SmsStatus") != status || p.Get("AccountSid") != mainSID ||
					p.Get("To") != tc.form.Get("To") || p.Get("From") != tc.from || p.Get("ApiVersion") != "2010-04-01" {
					t.Errorf("callback %d: %s %v", i, r.method, p)
				}
				if got := p.Get("MessagingServiceSid"); got != tc.form.Get("MessagingServiceSid") {
					t.Errorf("MessagingServiceSid %q", got)
				}
				final := i == len(tc.statuses)-1
				if code := p.Get("ErrorCode"); (final && code != tc.code) || (!final && code != "") {
					t.Errorf("callback %d (%s): ErrorCode %q, want %q on the last", i, status, code, tc.code)
				}
				wantDLR := status == "delivered" || status == "undelivered"
				if d := p.Get("RawDlrDoneDate"); wantDLR != rawDlrDoneDate.MatchString(d) || (!wantDLR && p.Has("RawDlrDoneDate")) {
					t.Errorf("callback %d (%s): RawDlrDoneDate %q", i, status, d)
				}
				if !strings.HasSuffix(r.url, "/status?route=sms&n=1") {
					t.Errorf("callback URL %s", r.url)
				}
				if r.header.Get("User-Agent") != "TwilioProxy/1.1" || r.header.Get("I-Twilio-Idempotency-Token") == "" ||
					r.header.Get("Content-Type") != "application/x-www-form-urlencoded" {
					t.Errorf("headers %v", r.header)
				}
				wantSigned(t, r, mainToken)
			}
			// Fetch reflects the last status posted.
			m := decodeJSON(t, send(t, srv, http.MethodGet, messagePath(mainSID, sid, ".json"), nil).body)
			if want := tc.statuses[len(tc.statuses)-1]; m["status"] != want {
				t.Errorf("fetched status %v after the %s callback", m["status"], want)
			}
			h.none(t, 10*time.Millisecond)
		})
	}
	cbs := sim.Callbacks()
	if len(cbs) != 11 {
		t.Fatalf("%d callbacks recorded, want 11", len(cbs))
	}
	for _, cb := range cbs {
		if cb.Response != http.StatusNoContent || cb.Error != "" || cb.API != "messages" || cb.Header.Get("X-Twilio-Signature") == "" {
			t.Errorf("callback record %+v", cb)
		}
	}
	if st := sim.Stats().Callbacks; st.Posted != 11 || st.Failed != 0 || st.Pending != 0 {
		t.Errorf("callback stats %+v", st)
	}
}

func TestCallbackSignedWithTheResourcesAccount(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	srv, _ := contractServer(t, fastConfig())
	form := url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}, "StatusCallback": {h.URL + "/cb"}}
	// The parent's credentials act on the subaccount: Twilio signs with the subaccount's token.
	r := post(t, srv, messagesPath(subSID, ".json"), mainSID, mainToken, form)
	if r.status != http.StatusCreated {
		t.Fatal(r.status)
	}
	cb := h.next(t)
	if cb.params.Get("AccountSid") != subSID {
		t.Errorf("AccountSid %s", cb.params.Get("AccountSid"))
	}
	wantSigned(t, cb, subToken)
	if twilioapi.ValidSignature(mainToken, cb.url, cb.params, cb.header.Get("X-Twilio-Signature")) {
		t.Error("signed with the parent's token")
	}
}

func TestCancelScheduledMessageCallback(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	srv, _ := contractServer(t, fastConfig())
	sid := create(t, srv, url.Values{"To": {toOK}, "MessagingServiceSid": {service}, "Body": {"x"}, "ScheduleType": {"fixed"},
		"SendAt": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, "StatusCallback": {h.URL + "/cb"}})
	h.none(t, 20*time.Millisecond)
	if r := send(t, srv, http.MethodPost, messagePath(mainSID, sid, ".json"), url.Values{"Status": {"canceled"}}); r.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	cb := h.next(t)
	if cb.params.Get("MessageStatus") != "canceled" || cb.params.Get("MessagingServiceSid") != service || cb.params.Get("From") != "" {
		t.Errorf("callback %v", cb.params)
	}
	h.none(t, 20*time.Millisecond)
}

func TestCallCallbacks(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	srv, sim := contractServer(t, fastConfig())
	tests := []struct {
		name     string
		extra    url.Values
		to       string
		statuses []string
		method   string
	}{
		{"completed by default", nil, toOK, []string{"completed"}, http.MethodPost},
		{"every event", url.Values{"StatusCallbackEvent": {"initiated", "ringing", "answered", "completed"}}, toOK,
			[]string{"initiated", "ringing", "in-progress", "completed"}, http.MethodPost},
		{"events separated by spaces", url.Values{"StatusCallbackEvent": {"initiated answered"}}, toOK,
			[]string{"initiated", "in-progress"}, http.MethodPost},
		{"busy", url.Values{"StatusCallbackEvent": {"ringing", "completed"}}, "+15005550020", []string{"ringing", "busy"}, http.MethodPost},
		{"no answer", nil, "+15005550021", []string{"no-answer"}, http.MethodPost},
		{"failed", nil, "+15005550022", []string{"failed"}, http.MethodPost},
		{"GET", url.Values{"StatusCallbackMethod": {"GET"}, "StatusCallbackEvent": {"answered", "completed"}}, toOK,
			[]string{"in-progress", "completed"}, http.MethodGet},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"To": {tc.to}, "From": {fromOK}, "Twiml": {twimlOK}, "StatusCallback": {h.URL + "/call?x=1"}}
			for k, v := range tc.extra {
				form[k] = v
			}
			r := send(t, srv, http.MethodPost, callsPath(mainSID, ".json"), form)
			sid := decodeJSON(t, r.body)["sid"].(string)
			for i, status := range tc.statuses {
				cb := h.next(t)
				p := cb.params
				if cb.method == http.MethodGet {
					u, _ := url.Parse(cb.url)
					p = u.Query()
					if p.Get("x") != "1" {
						t.Errorf("GET callback lost the URL's own query: %s", cb.url)
					}
				}
				if cb.method != tc.method || p.Get("CallSid") != sid || p.Get("CallStatus") != status || p.Get("AccountSid") != mainSID ||
					p.Get("From") != fromOK || p.Get("To") != tc.to || p.Get("Direction") != "outbound-api" ||
					p.Get("CallbackSource") != "call-progress-events" || p.Get("SequenceNumber") != itoa(i) || p.Get("Timestamp") == "" {
					t.Errorf("callback %d: %s %v", i, cb.method, p)
				}
				ended := slices.Contains([]string{"completed", "busy", "no-answer", "failed"}, status)
				if p.Has("CallDuration") != ended {
					t.Errorf("callback %d: CallDuration %q", i, p.Get("CallDuration"))
				}
				wantSigned(t, cb, mainToken)
			}
			h.none(t, 10*time.Millisecond)
		})
	}
	for _, cb := range sim.Callbacks() {
		if cb.API != "calls" || cb.Error != "" {
			t.Errorf("callback record %+v", cb)
		}
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func TestCallbackLimits(t *testing.T) {
	t.Parallel()
	t.Run("host not allowed", func(t *testing.T) {
		t.Parallel()
		srv, sim := contractServer(t, fastConfig())
		create(t, srv, url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}, "StatusCallback": {"https://example.com/cb"}})
		cbs := sim.Callbacks()
		if len(cbs) != 1 || !strings.HasPrefix(cbs[0].Error, "refused: host example.com") || cbs[0].Response != 0 {
			t.Errorf("callbacks %+v", cbs)
		}
		if st := sim.Stats().Callbacks; st.Refused != 1 || st.Pending != 0 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("allowed host", func(t *testing.T) {
		t.Parallel()
		cfg := fastConfig()
		cfg.CallbackHosts = []string{"callbacks.invalid"}
		cfg.CallbackTimeout = 500 * time.Millisecond
		srv, sim := contractServer(t, cfg)
		create(t, srv, url.Values{"To": {"+15005550011"}, "From": {fromOK}, "Body": {"x"}, "StatusCallback": {"http://callbacks.invalid/cb"}})
		deadline := time.Now().Add(5 * time.Second)
		for sim.Stats().Callbacks.Failed == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cbs := sim.Callbacks()
		if len(cbs) != 1 || !strings.HasPrefix(cbs[0].Error, "failed: ") || sim.Stats().Callbacks.Refused != 0 {
			t.Errorf("callbacks %+v: want one attempted (and failed: the name does not resolve)", cbs)
		}
	})
	t.Run("localhost", func(t *testing.T) {
		t.Parallel()
		h := newHook(t)
		srv, _ := contractServer(t, fastConfig())
		u, _ := url.Parse(h.URL)
		create(t, srv, url.Values{"To": {"+15005550011"}, "From": {fromOK}, "Body": {"x"},
			"StatusCallback": {"http://localhost:" + u.Port() + "/cb#rc=3&ct=1000"}})
		cb := h.next(t)
		if !strings.HasSuffix(cb.url, "/cb") || cb.params.Get("MessageStatus") != "failed" {
			t.Errorf("callback %s %v", cb.url, cb.params)
		}
		wantSigned(t, cb, mainToken)
	})
	t.Run("too many pending", func(t *testing.T) {
		t.Parallel()
		h := newHook(t)
		cfg := fastConfig()
		cfg.StatusStep = time.Hour
		cfg.MaxPendingCallbacks = 2
		srv, sim := contractServer(t, cfg)
		for range 3 {
			create(t, srv, url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}, "StatusCallback": {h.URL}})
		}
		if st := sim.Stats().Callbacks; st.Pending != 2 || st.Dropped != 1 {
			t.Errorf("stats %+v", st)
		}
		cbs := sim.Callbacks()
		if len(cbs) != 1 || !strings.Contains(cbs[0].Error, "MaxPendingCallbacks") {
			t.Errorf("callbacks %+v", cbs)
		}
		sim.Close() // abandons the two pending sequences at once
		if st := sim.Stats().Callbacks; st.Pending != 0 {
			t.Errorf("after Close: %+v", st)
		}
	})
	t.Run("slow receiver", func(t *testing.T) {
		t.Parallel()
		h := newHook(t)
		h.delay = time.Second
		cfg := fastConfig()
		cfg.CallbackTimeout = 30 * time.Millisecond
		srv, sim := contractServer(t, cfg)
		start := time.Now()
		create(t, srv, url.Values{"To": {"+15005550011"}, "From": {fromOK}, "Body": {"x"}, "StatusCallback": {h.URL}})
		h.next(t)
		deadline := time.Now().Add(5 * time.Second)
		for sim.Stats().Callbacks.Failed == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if cbs := sim.Callbacks(); len(cbs) != 1 || !strings.HasPrefix(cbs[0].Error, "failed: ") || time.Since(start) > 900*time.Millisecond {
			t.Errorf("callbacks %+v after %v", cbs, time.Since(start))
		}
	})
	t.Run("receiver errors do not stop the sequence", func(t *testing.T) {
		t.Parallel()
		h := newHook(t)
		h.status = http.StatusInternalServerError
		srv, sim := contractServer(t, fastConfig())
		create(t, srv, url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}, "StatusCallback": {h.URL}})
		h.next(t)
		if got := h.next(t).params.Get("MessageStatus"); got != "delivered" {
			t.Errorf("second callback %s", got)
		}
		deadline := time.Now().Add(5 * time.Second)
		for sim.Stats().Callbacks.Posted < 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		for _, cb := range sim.Callbacks() {
			if cb.Response != http.StatusInternalServerError || cb.Error != "" {
				t.Errorf("callback %+v", cb)
			}
		}
	})
}

func TestResetAndCloseStopCallbacks(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	cfg := fastConfig()
	cfg.StatusStep = 30 * time.Millisecond
	srv, sim := contractServer(t, cfg)
	form := url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}, "StatusCallback": {h.URL}}
	create(t, srv, form)
	sim.Reset()
	h.none(t, 100*time.Millisecond)
	if st := sim.Stats().Callbacks; st != (simulator.CallbackStats{}) {
		t.Errorf("after Reset: %+v", st)
	}
	// The simulator still posts callbacks after a Reset...
	create(t, srv, form)
	if got := h.next(t).params.Get("MessageStatus"); got != "sent" {
		t.Errorf("after Reset: %s", got)
	}
	h.next(t)
	// ...but not after Close.
	sim.Close()
	create(t, srv, form)
	h.none(t, 100*time.Millisecond)
}

func TestCallbacksControlEndpoint(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	srv, _ := contractServer(t, fastConfig())
	create(t, srv, url.Values{"To": {"+15005550011"}, "From": {fromOK}, "Body": {"x"}, "StatusCallback": {h.URL + "/cb"}})
	h.next(t)
	var cbs []simulator.Callback
	deadline := time.Now().Add(5 * time.Second)
	for len(cbs) == 0 && time.Now().Before(deadline) {
		resp, err := srv.Client().Get(srv.URL + "/_simulator/callbacks")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.NewDecoder(resp.Body).Decode(&cbs); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if len(cbs) != 1 || cbs[0].Status != "failed" || cbs[0].Params.Get("ErrorCode") != "30008" || cbs[0].URL != h.URL+"/cb" {
		t.Errorf("callbacks %+v", cbs)
	}
	if !slices.Contains(cbs[0].Header.Values("User-Agent"), "TwilioProxy/1.1") {
		t.Errorf("header %v", cbs[0].Header)
	}
}

// TestCallbacksUnderLoad creates many messages with callbacks concurrently: every callback
// arrives once, in order per message.
func TestCallbacksUnderLoad(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen = map[string][]string{}
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		seen[r.PostForm.Get("MessageSid")] = append(seen[r.PostForm.Get("MessageSid")], r.PostForm.Get("MessageStatus"))
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	srv, sim := contractServer(t, fastConfig())
	const n = 100
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			create(t, srv, url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"x"}, "StatusCallback": {recv.URL}})
		})
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for sim.Stats().Callbacks.Posted < 2*n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Fatalf("%d messages called back, want %d", len(seen), n)
	}
	for sid, statuses := range seen {
		if strings.Join(statuses, ",") != "sent,delivered" {
			t.Errorf("%s: %v", sid, statuses)
		}
	}
}

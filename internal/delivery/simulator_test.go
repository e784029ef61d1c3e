package delivery_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/delivery"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// startSimulator runs the simulator with one account whose auth token is
// acctToken.
func startSimulator(t *testing.T) *httptest.Server {
	t.Helper()
	sim := simulator.New(simulator.Config{
		Accounts:   []simulator.Account{{SID: acct, AuthToken: acctToken}},
		StatusStep: 5 * time.Millisecond,
	})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	return srv
}

// create creates a message on the simulator and returns its SID.
func create(t *testing.T, sim *httptest.Server, to, statusCallback string) string {
	t.Helper()
	form := url.Values{"To": {to}, "From": {"+15005550006"}, "Body": {"Your code is 123456"}}
	if statusCallback != "" {
		form.Set("StatusCallback", statusCallback)
	}
	req, _ := http.NewRequest(http.MethodPost, sim.URL+"/2010-04-01/Accounts/"+acct+"/Messages.json", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(acct, acctToken)
	resp, err := sim.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var m struct{ Sid string }
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m.Sid
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSimulatorCallbacks: the simulator's signed status callbacks reach the
// handler through CallbackURL and each message's final status is recorded
// once; a tampered callback URL is refused.
func TestSimulatorCallbacks(t *testing.T) {
	t.Parallel()
	sim := startSimulator(t)
	k := keyring(t, acctToken)
	obs := &countingObserver{}
	var (
		mu     sync.Mutex
		events []delivery.Event
	)
	tr := &delivery.Tracker{Observer: obs, Log: func(e delivery.Event) { mu.Lock(); events = append(events, e); mu.Unlock() },
		Invalidate: func(context.Context, string, string, string) (bool, error) { return true, nil }}
	h := &delivery.CallbackHandler{Keyring: k, AuthToken: tokens, Route: "otp", Tracker: tr}
	adapter := httptest.NewServer(h)
	t.Cleanup(adapter.Close)
	h.Base = adapter.URL + "/twilio/status"

	tok := delivery.Token{Route: "otp", AccountSID: acct, Expires: time.Now().Add(time.Hour), Sent: time.Now(), Tag: "ab"}
	cb := delivery.CallbackURL(h.Base, encode(t, k, tok))
	sids := map[string]string{
		create(t, sim, "+4915112345678", cb): "delivered",
		create(t, sim, "+15005550010", cb):   "undelivered", // 30003
		create(t, sim, "+15005550011", cb):   "failed",      // 30008
	}
	// The same callback URL with the token tampered: every callback refused.
	create(t, sim, "+4915112345679", cb[:len(cb)-3]+"AAA")

	waitFor(t, "three final statuses", func() bool { return len(obs.snapshot().deliveries) == 3 })
	time.Sleep(50 * time.Millisecond) // any late callback would show now
	got := obs.snapshot()
	if len(got.deliveries) != 3 {
		t.Fatalf("deliveries = %+v", got.deliveries)
	}
	codes := map[string]string{"delivered": "", "undelivered": "30003", "failed": "30008"}
	for _, d := range got.deliveries {
		if want, ok := codes[d.Status]; !ok || d.ErrorCode != want {
			t.Errorf("delivery %+v", d)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range events {
		if want := sids[e.MessageSid]; want != e.Status {
			t.Errorf("event %+v, want status %s", e, want)
		}
		if strings.Contains(e.To, "12345678") || strings.Contains(e.To, "5550010") {
			t.Errorf("event carries a number in clear: %+v", e)
		}
		if (e.Status == "undelivered" || e.Status == "failed") != (e.Invalidated == "dropped") {
			t.Errorf("event %+v: invalidation", e)
		}
	}
	altered := 0
	for _, c := range got.callbacks {
		if c == ":altered" {
			altered++
		}
	}
	if altered < 2 {
		t.Errorf("callbacks = %v, want the tampered message's sent and delivered refused", got.callbacks)
	}
}

// simFetch fetches a message from the simulator, as the glue's FetchFunc would.
func simFetch(sim *httptest.Server) delivery.FetchFunc {
	return func(ctx context.Context, tok delivery.Token, sid string) (*delivery.Status, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sim.URL+"/2010-04-01/Accounts/"+tok.AccountSID+"/Messages/"+sid+".json", nil)
		req.SetBasicAuth(acct, acctToken)
		resp, err := sim.Client().Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return nil, &httpError{resp.StatusCode}
		}
		return delivery.ParseMessage(body)
	}
}

type httpError struct{ status int }

func (e *httpError) Error() string { return http.StatusText(e.status) }

// TestSimulatorPolling: without callbacks, the poller finds each message's
// final status; +15005550015 is sent and never receipted, so it ends as a
// final "sent".
func TestSimulatorPolling(t *testing.T) {
	t.Parallel()
	sim := startSimulator(t)
	obs := &countingObserver{}
	tr := &delivery.Tracker{Observer: obs}
	p, err := delivery.NewPoller(delivery.PollerConfig{After: 20 * time.Millisecond, MaxInterval: 40 * time.Millisecond, Attempts: 4,
		Fetch: simFetch(sim), Handle: tr.Handle, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	tok := delivery.Token{Route: "private", AccountSID: acct, Sent: time.Now()}
	for _, to := range []string{"+4915112345678", "+15005550012", "+15005550015"} {
		if !p.Track(tok, create(t, sim, to, "")) {
			t.Fatal("Track refused")
		}
	}
	waitFor(t, "three final statuses", func() bool { return len(obs.snapshot().deliveries) == 3 && p.InFlight() == 0 })
	byStatus := map[string]delivery.Delivery{}
	for _, d := range obs.snapshot().deliveries {
		byStatus[d.Status] = d
	}
	if d := byStatus["undelivered"]; d.ErrorCode != "30005" || d.Source != "poll" {
		t.Errorf("undelivered = %+v", d)
	}
	if _, ok := byStatus["delivered"]; !ok {
		t.Errorf("deliveries = %+v, want a delivered one", byStatus)
	}
	if d, ok := byStatus["sent"]; !ok || d.Country != "US" {
		t.Errorf("deliveries = %+v, want a final sent (no receipt) one", byStatus)
	}
}

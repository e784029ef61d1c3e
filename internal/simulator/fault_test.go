package simulator_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

var okMessage = url.Values{"To": {toOK}, "From": {fromOK}, "Body": {"Your code is 123456"}}

func TestFaultAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fault  simulator.Fault
		status int
		code   int
	}{
		{"5xx", simulator.Fault{Mode: simulator.Fault5xx}, 500, 20500},
		{"503", simulator.Fault{Mode: simulator.Fault503}, 503, 20503},
		{"429", simulator.Fault{Mode: simulator.Fault429}, 429, 20429},
		{"auth", simulator.Fault{Mode: simulator.FaultAuth}, 401, 20003},
		{"code 21606", simulator.Fault{Mode: simulator.FaultCode, Code: 21606, Status: 400}, 400, 21606},
		{"code 21611 default status", simulator.Fault{Mode: simulator.FaultCode, Code: 21611}, 400, 21611},
		{"code defaults", simulator.Fault{Mode: simulator.FaultCode}, 400, 20001},
		{"code 30001 as 503", simulator.Fault{Mode: simulator.FaultCode, Code: 30001, Status: 503}, 503, 30001},
	}
	for _, tc := range tests {
		for _, ext := range []string{".json", ""} {
			t.Run(tc.name+"/"+ext, func(t *testing.T) {
				t.Parallel()
				srv, sim := start(t, testConfig())
				sim.SetFault(mainSID, tc.fault)
				r := post(t, srv, messagesPath(mainSID, ext), mainSID, mainToken, okMessage)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
				if e := parseError(t, isJSON(ext), r); e.Code != tc.code {
					t.Errorf("code %d, want %d", e.Code, tc.code)
				}
				recs := sim.Records()
				if len(recs) != 1 || recs[0].Accepted || recs[0].Fault != tc.fault.Mode || recs[0].Code != tc.code {
					t.Errorf("records %+v: want one refused record with the fault", recs)
				}
				if st := sim.Stats(); st.Accepted != 0 || st.Rejected != 1 {
					t.Errorf("stats %+v", st)
				}
			})
		}
	}
}

func TestFaultCountRecovers(t *testing.T) {
	t.Parallel()
	srv, sim := start(t, testConfig())
	sim.SetFault(mainSID, simulator.Fault{Mode: simulator.Fault429, Count: 2})
	for i, want := range []int{429, 429, 201, 201} {
		if r := post(t, srv, messagesPath(mainSID, ".json"), mainSID, mainToken, okMessage); r.status != want {
			t.Fatalf("request %d: status %d, want %d", i, r.status, want)
		}
	}
}

func TestFaultScope(t *testing.T) {
	t.Parallel()
	srv, sim := start(t, testConfig())
	status := func(account, token string) int {
		return post(t, srv, messagesPath(account, ".json"), account, token, okMessage).status
	}
	sim.SetFault("", simulator.Fault{Mode: simulator.Fault5xx})
	sim.SetFault(subSID, simulator.Fault{Mode: simulator.FaultCode, Code: 21611})
	if got := status(mainSID, mainToken); got != 500 {
		t.Errorf("main: %d, want the fault for every account (500)", got)
	}
	if got := status(subSID, subToken); got != 400 {
		t.Errorf("sub: %d, want its own fault (400)", got)
	}
	sim.SetFault(subSID, simulator.Fault{})
	if got := status(subSID, subToken); got != 500 {
		t.Errorf("sub after removing its fault: %d, want 500", got)
	}
	sim.SetFault(mainSID, simulator.Fault{Mode: "bogus"})
	if got := status(mainSID, mainToken); got != 500 {
		t.Errorf("an unknown mode must be ignored: %d", got)
	}
	sim.ClearFaults()
	if got := status(mainSID, mainToken); got != 201 {
		t.Errorf("after ClearFaults: %d, want 201", got)
	}
	// Faults never apply before authentication.
	sim.SetFault("", simulator.Fault{Mode: simulator.Fault503})
	if got := status(mainSID, "nope"); got != 401 {
		t.Errorf("bad credentials under a fault: %d, want 401", got)
	}
}

func TestFaultMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		mode        simulator.FaultMode
		ext         string
		contentType string
	}{
		{"json on .json", simulator.FaultMalformedJSON, ".json", simulator.ContentTypeJSON},
		{"json on xml", simulator.FaultMalformedJSON, "", simulator.ContentTypeJSON},
		{"xml on xml", simulator.FaultMalformedXML, ".xml", "application/xml"},
		{"xml on .json", simulator.FaultMalformedXML, ".json", "application/xml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, sim := start(t, testConfig())
			sim.SetFault("", simulator.Fault{Mode: tc.mode, Count: 1})
			r := post(t, srv, messagesPath(mainSID, tc.ext), mainSID, mainToken, okMessage)
			if r.status != http.StatusCreated {
				t.Fatalf("status %d, want 201", r.status)
			}
			wantContentType(t, r, tc.contentType)
			if tc.mode == simulator.FaultMalformedJSON {
				if json.Valid(r.body) {
					t.Errorf("body is valid JSON: %s", r.body)
				}
			} else {
				var v struct{}
				if err := xml.Unmarshal(r.body, &v); err == nil {
					t.Errorf("body is valid XML: %s", r.body)
				}
			}
			recs := sim.Records()
			if len(recs) != 1 || !recs[0].Accepted || recs[0].Fault != tc.mode || recs[0].Sid == "" {
				t.Errorf("records %+v: want one accepted message with the fault", recs)
			}
			if r := post(t, srv, messagesPath(mainSID, ".json"), mainSID, mainToken, okMessage); !json.Valid(r.body) {
				t.Errorf("after Count ran out, body still malformed: %s", r.body)
			}
		})
	}
}

func TestFaultReset(t *testing.T) {
	t.Parallel()
	srv, sim := start(t, testConfig())
	sim.SetFault(mainSID, simulator.Fault{Mode: simulator.FaultReset})
	for _, ext := range []string{".json", ""} {
		req := newRequest(t, srv.URL+messagesPath(mainSID, ext), mainSID, mainToken, okMessage)
		resp, err := srv.Client().Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Fatalf("%s: the connection was not cut", ext)
		}
	}
	waitIdle(t, sim, mainSID)
	recs := sim.Records()
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for _, rec := range recs {
		if !rec.Accepted || rec.Fault != simulator.FaultReset || rec.Status != http.StatusCreated {
			t.Errorf("record %+v: want an accepted message", rec)
		}
	}
	if st := sim.Stats(); st.Accepted != 2 {
		t.Errorf("accepted %d, want 2", st.Accepted)
	}
}

func TestFaultSlow(t *testing.T) {
	t.Parallel()
	t.Run("delays the answer", func(t *testing.T) {
		t.Parallel()
		srv, sim := start(t, testConfig())
		sim.SetFault(mainSID, simulator.Fault{Mode: simulator.FaultSlow, Delay: 100 * time.Millisecond, Count: 1})
		began := time.Now()
		r := post(t, srv, messagesPath(mainSID, ".json"), mainSID, mainToken, okMessage)
		if took := time.Since(began); r.status != http.StatusCreated || took < 100*time.Millisecond {
			t.Errorf("status %d after %v, want 201 after 100ms", r.status, took)
		}
	})
	t.Run("honours the request context", func(t *testing.T) {
		t.Parallel()
		srv, sim := start(t, testConfig())
		sim.SetFault(mainSID, simulator.Fault{Mode: simulator.FaultSlow, Delay: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req := newRequest(t, srv.URL+messagesPath(mainSID, ".json"), mainSID, mainToken, okMessage).WithContext(ctx)
		answered := make(chan bool)
		go func() {
			resp, err := srv.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			answered <- err == nil
		}()
		waitInFlight(t, sim, mainSID, 1)
		cancel()
		if <-answered {
			t.Fatal("the client got an answer although it left")
		}
		began := time.Now()
		waitIdle(t, sim, mainSID)
		if took := time.Since(began); took > 5*time.Second {
			t.Errorf("the handler kept sleeping for %v after the client left", took)
		}
		recs := sim.Records()
		if len(recs) != 1 || !recs[0].Accepted || recs[0].Fault != simulator.FaultSlow {
			t.Errorf("records %+v: the message must count as accepted", recs)
		}
	})
}

// waitInFlight waits until the account has n requests in flight.
func waitInFlight(t testing.TB, sim *simulator.Simulator, account string, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for sim.Stats().PerAccount[account].InFlight < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests never got in flight", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitIdle waits until the account has no request in flight and its record is written.
func waitIdle(t testing.TB, sim *simulator.Simulator, account string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := sim.Stats()
		if st.PerAccount[account].InFlight == 0 && st.Accepted+st.Rejected == st.Requests {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("account %s still busy: %+v", account, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMaxConcurrentBurst(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxConcurrent = 3
	cfg.Latency = 100 * time.Millisecond
	srv, sim := start(t, cfg)
	const n = 12
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		codes    = map[int]int{}
	)
	begin := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-begin
			r := post(t, srv, messagesPath(mainSID, ".json"), mainSID, mainToken, okMessage)
			mu.Lock()
			defer mu.Unlock()
			statuses[r.status]++
			if r.status == http.StatusTooManyRequests {
				var e struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				}
				_ = json.Unmarshal(r.body, &e)
				if e.Message == "Too Many Requests" {
					codes[e.Code]++
				}
			}
		})
	}
	close(begin)
	wg.Wait()
	if statuses[201] < 1 || statuses[429] < 1 || statuses[201]+statuses[429] != n {
		t.Fatalf("statuses %v: want some 201 and some 429", statuses)
	}
	if codes[20429] != statuses[429] {
		t.Errorf("429 bodies %v: want code 20429 \"Too Many Requests\"", codes)
	}
	acc := sim.Stats().PerAccount[mainSID]
	if acc.MaxInFlight > 3 || acc.MaxInFlight < 1 {
		t.Errorf("MaxInFlight %d, want 1..3", acc.MaxInFlight)
	}
	if acc.Accepted != int64(statuses[201]) || acc.Rejected != int64(statuses[429]) {
		t.Errorf("account stats %+v, statuses %v", acc, statuses)
	}
}

func TestMaxConcurrentPerAccount(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxConcurrent = 2
	srv, sim := start(t, cfg)
	// Two slow requests hold both of the main account's slots.
	sim.SetFault(mainSID, simulator.Fault{Mode: simulator.FaultSlow, Delay: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			req := newRequest(t, srv.URL+messagesPath(mainSID, ".json"), mainSID, mainToken, okMessage).WithContext(ctx)
			if resp, err := srv.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	waitInFlight(t, sim, mainSID, 2)

	r := post(t, srv, messagesPath(mainSID, ".json"), mainSID, mainToken, okMessage)
	if e := parseError(t, true, r); r.status != 429 || e.Code != 20429 {
		t.Errorf("third request: %d / %d, want 429 / 20429", r.status, e.Code)
	}
	if got := r.header.Get("Twilio-Concurrent-Requests"); got != "2" {
		t.Errorf("Twilio-Concurrent-Requests = %q, want 2", got)
	}
	if r := post(t, srv, messagesPath(otherSID, ".json"), otherSID, otherToken,
		url.Values{"To": {toOK}, "From": {"ACME"}, "Body": {"x"}}); r.status != 201 {
		t.Errorf("another account: %d, want 201 (the cap is per account)", r.status)
	}

	cancel()
	wg.Wait()
	waitIdle(t, sim, mainSID)
	if got := sim.Stats().PerAccount[mainSID].MaxInFlight; got != 2 {
		t.Errorf("MaxInFlight %d, want 2", got)
	}
}

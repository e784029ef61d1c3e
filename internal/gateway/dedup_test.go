package gateway

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// TestServeDedupConcurrent: identical requests arriving together are sent
// once; every caller gets the same SID, all but one marked duplicate, and
// only the send spends limit tokens.
func TestServeDedupConcurrent(t *testing.T) {
	const n = 8
	tn := newTenant(t, simulator.Config{Latency: 200 * time.Millisecond})
	g, obs := newGateway(t, tn, withDedup(0, time.Minute), withLimits(true, false))
	var wg sync.WaitGroup
	answers := make([]answer, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = serve(t, g, formRequest("/sms", sms(toUS, "Your code is 482913")), Send)
		}()
	}
	wg.Wait()
	recs := tn.records(t)
	if len(recs) != 1 || !recs[0].Accepted {
		t.Fatalf("the simulator got %d requests, want one accepted", len(recs))
	}
	dups := 0
	for i, a := range answers {
		if !a.Body.OK || a.Body.Sid != recs[0].Sid || a.Reply.Status != http.StatusOK {
			t.Errorf("caller %d: %v; want 200 with %s", i, a, recs[0].Sid)
		}
		if a.Result.Duplicate {
			dups++
		}
		if a.Result.TwilioBody != nil && a.Result.Duplicate {
			t.Errorf("caller %d: a duplicate carries Twilio's raw reply (it echoes the text)", i)
		}
	}
	if dups != n-1 {
		t.Errorf("%d answers marked duplicate, want %d", dups, n-1)
	}
	if got := obs.count("duplicate test-route"); got != n-1 {
		t.Errorf("observed %d duplicates, want %d", got, n-1)
	}
	if got := obs.count("upstream main messages 201"); got != 1 {
		t.Errorf("observed %d upstream calls, want 1", got)
	}
}

// TestServeDedupWindow: a re-post inside the window is answered from the
// first send (same SID, nothing sent, no token spent); after the window it is
// sent again. Another text, another number or another API is not a duplicate.
func TestServeDedupWindow(t *testing.T) {
	tn := newTenant(t, simConfig())
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	g, _ := newGateway(t, tn, withDedup(0, time.Minute), withLimits(false, true), func(g *Gateway) {
		g.Dedup.SetClock(clock)
		g.CallerLimit.SetClock(clock)
		g.CallerLimit.Update(1000, 1000)
	})
	post := func(to, text string) answer {
		return serve(t, g, formRequest("/sms", sms(to, text)), Send)
	}
	first := post(toUS, "Your code is 482913")
	if !first.Body.OK || first.Result.Duplicate {
		t.Fatalf("first: %v", first)
	}
	now.Add(int64(59 * time.Second))
	again := post(toUS, "Your code is 482913")
	if !again.Body.OK || !again.Result.Duplicate || again.Body.Sid != first.Body.Sid {
		t.Errorf("a re-post within the window: %v (duplicate %t); want the first answer %s", again, again.Result.Duplicate, first.Body.Sid)
	}
	if n := len(tn.records(t)); n != 1 {
		t.Errorf("the simulator got %d requests, want 1", n)
	}
	for _, other := range []answer{post(toUS, "Your code is 771204"), post(toGB, "Your code is 482913")} {
		if !other.Body.OK || other.Result.Duplicate || other.Body.Sid == first.Body.Sid {
			t.Errorf("another text or number: %v (duplicate %t); want a send of its own", other, other.Result.Duplicate)
		}
	}
	now.Add(int64(2 * time.Second)) // 61 s after the first send
	late := post(toUS, "Your code is 482913")
	if !late.Body.OK || late.Result.Duplicate || late.Body.Sid == first.Body.Sid {
		t.Errorf("a re-post after the window: %v (duplicate %t); want a new send", late, late.Result.Duplicate)
	}
	if n := len(tn.records(t)); n != 4 {
		t.Errorf("the simulator got %d requests, want 4", n)
	}
}

// TestServeDedupRemembers: what the first send's result means for a re-post
// inside the window. A result that proves nothing was sent is forgotten, so
// the re-post is sent; one that was or may have been sent is remembered and
// answered again, never sent twice.
func TestServeDedupRemembers(t *testing.T) {
	tests := []struct {
		name        string
		fault       simulator.Fault
		limited     bool // the destination limit is spent beforehand
		wantFirst   string
		wantRepost  string
		wantDup     bool
		wantRecords int
	}{
		{"accepted: remembered", simulator.Fault{}, false, "accepted", "accepted", true, 1},
		{"500, may have sent: remembered, never sent again", simulator.Fault{Mode: simulator.Fault5xx, Count: 1}, false, "unknown", "unknown", true, 1},
		{"503 20503: forgotten, sent again", simulator.Fault{Mode: simulator.Fault503, Count: 1}, false, "rejected", "accepted", false, 2},
		{"400 21610: forgotten, sent again", simulator.Fault{Mode: simulator.FaultCode, Code: 21610, Status: 400, Count: 1}, false, "rejected", "accepted", false, 2},
		{"rate limited: forgotten, sent once the limit allows", simulator.Fault{}, true, "rate_limited", "accepted", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, simConfig())
			if tt.fault.Mode != "" {
				tn.sim.SetFault(tn.main.AccountSID, tt.fault)
			}
			g, _ := newGateway(t, tn, withDedup(0, time.Minute), withLimits(true, false))
			if tt.limited {
				g.DestinationLimit.Allow(keyString(keyOfDestination(toUS)))
			}
			first := serve(t, g, formRequest("/sms", sms(toUS, "Your code is 482913")), Send)
			if first.Result.Outcome != tt.wantFirst {
				t.Fatalf("first: %v; want %s", first, tt.wantFirst)
			}
			if tt.limited {
				g.DestinationLimit.Refund(keyString(keyOfDestination(toUS)))
			}
			re := serve(t, g, formRequest("/sms", sms(toUS, "Your code is 482913")), Send)
			if re.Result.Outcome != tt.wantRepost || re.Result.Duplicate != tt.wantDup {
				t.Errorf("re-post: %v (duplicate %t); want %s, duplicate %t", re, re.Result.Duplicate, tt.wantRepost, tt.wantDup)
			}
			if tt.wantDup && re.Body.Sid != first.Body.Sid {
				t.Errorf("re-post sid %q, first %q", re.Body.Sid, first.Body.Sid)
			}
			if n := len(tn.records(t)); n != tt.wantRecords {
				t.Errorf("the simulator got %d requests, want %d", n, tt.wantRecords)
			}
		})
	}
}

// TestServeDedupFull: at the cache's cap a new request is refused as
// unavailable (503, Retry-After until the oldest answer may be swept) and
// nothing is sent or spent; a re-post of a remembered request is still
// answered from the cache.
func TestServeDedupFull(t *testing.T) {
	tn := newTenant(t, simConfig())
	g, obs := newGateway(t, tn, withDedup(1, time.Minute), withLimits(true, true), func(g *Gateway) {
		g.CallerLimit.Update(1000, 1000)
	})
	first := serve(t, g, formRequest("/sms", sms(toUS, "Your code is 482913")), Send)
	if !first.Body.OK {
		t.Fatalf("first: %v", first)
	}
	obs.reset()
	full := serve(t, g, formRequest("/sms", sms(toGB, "Your code is 482913")), Send)
	if full.Result.Outcome != "unavailable" || full.Reply.Status != http.StatusServiceUnavailable || full.Body.code() != CodeUnavailable {
		t.Errorf("at the cap: %v; want 503 unavailable, code %d", full, CodeUnavailable)
	}
	ra, err := strconv.Atoi(full.Reply.Header.Get("Retry-After"))
	if err != nil || ra < 55 || ra > 60 {
		t.Errorf("Retry-After %q, want about the 60 s until the first answer may be swept", full.Reply.Header.Get("Retry-After"))
	}
	if destinationSpent(g, toGB) {
		t.Errorf("a request refused at the cap spent the destination token")
	}
	if got := obs.list(false); !equalEvents(got, []string{"dedup_full test-route"}) {
		t.Errorf("observed %q, want one dedup_full", got)
	}
	again := serve(t, g, formRequest("/sms", sms(toUS, "Your code is 482913")), Send)
	if !again.Body.OK || !again.Result.Duplicate || again.Body.Sid != first.Body.Sid {
		t.Errorf("a remembered request at the cap: %v; want the first answer", again)
	}
	if n := len(tn.records(t)); n != 1 {
		t.Errorf("the simulator got %d requests, want 1", n)
	}
}

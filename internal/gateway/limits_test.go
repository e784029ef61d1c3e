package gateway

import (
	"net/http"
	"testing"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// TestServeLimitsSpendOnlyOnSends: a destination and a caller token are
// taken for each send and given back when the send provably sent nothing
// (Twilio's 503 / 20503); a 500 may have sent, so it keeps them and is
// "unknown". Refusals before the send (bad input, a blocked destination)
// take nothing; a caller refusal gives the destination token back.
func TestServeLimitsSpendOnlyOnSends(t *testing.T) {
	caller := "ip:" + clientIP
	tests := []struct {
		name          string
		fault         simulator.Fault
		to            string
		wantOutcome   string
		wantStatus    int
		wantSent      int // simulator requests
		wantSpent     bool
		wantAfterward string // outcome of an identical re-post (another text)
	}{
		{"accepted: both tokens spent", simulator.Fault{}, toUS, "accepted", http.StatusOK, 1, true, "rate_limited"},
		{"Twilio's 503 20503: nothing sent, both refunded", simulator.Fault{Mode: simulator.Fault503, Count: 1}, toUS, "rejected", http.StatusBadGateway, 1, false, "accepted"},
		{"Twilio's 400 21610: nothing sent, both refunded", simulator.Fault{Mode: simulator.FaultCode, Code: 21610, Status: 400, Count: 1}, toUS, "rejected", http.StatusBadRequest, 1, false, "accepted"},
		{"401 from Twilio: nothing sent, both refunded", simulator.Fault{Mode: simulator.FaultAuth, Count: 1}, toUS, "rejected", http.StatusBadGateway, 1, false, "accepted"},
		{"500 20500: may have sent, unknown, both spent", simulator.Fault{Mode: simulator.Fault5xx, Count: 1}, toUS, "unknown", http.StatusGatewayTimeout, 1, true, "rate_limited"},
		{"a blocked destination spends nothing", simulator.Fault{}, toPremium, "blocked", http.StatusForbidden, 0, false, "blocked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, simConfig())
			if tt.fault.Mode != "" {
				tn.sim.SetFault(tn.main.AccountSID, tt.fault)
			}
			g, _ := newGateway(t, tn, withLimits(true, true))
			a := serve(t, g, formRequest("/sms", sms(tt.to, "Your code is 482913")), Send)
			if a.Result.Outcome != tt.wantOutcome || a.Reply.Status != tt.wantStatus {
				t.Fatalf("%v (outcome %s); want HTTP %d %s", a, a.Result.Outcome, tt.wantStatus, tt.wantOutcome)
			}
			if n := len(tn.records(t)); n != tt.wantSent {
				t.Errorf("the simulator got %d requests, want %d", n, tt.wantSent)
			}
			if d, c := destinationSpent(g, tt.to), callerSpent(g, caller); d != tt.wantSpent || c != tt.wantSpent {
				t.Errorf("destination spent %t, caller spent %t; want both %t", d, c, tt.wantSpent)
			}
			// No dedup here: another text to the same number.
			b := serve(t, g, formRequest("/sms", sms(tt.to, "Your code is 771204")), Send)
			if b.Result.Outcome != tt.wantAfterward {
				t.Errorf("a re-post: %v; want %s", b, tt.wantAfterward)
			}
			if tt.wantAfterward == "rate_limited" && (b.Reply.Status != http.StatusTooManyRequests || b.Reply.Header.Get("Retry-After") == "" || b.Body.code() != CodeRateLimited) {
				t.Errorf("a rate-limited re-post: %v, Retry-After %q; want 429 with Retry-After and code %d", b, b.Reply.Header.Get("Retry-After"), CodeRateLimited)
			}
		})
	}
}

// TestServeCallerRefusalRefundsDestination: the destination token is taken
// first; when the caller's limit then refuses, the destination token is given
// back, so a flooding caller cannot lock other callers out of a number.
func TestServeCallerRefusalRefundsDestination(t *testing.T) {
	tn := newTenant(t, simConfig())
	g, obs := newGateway(t, tn, withLimits(true, true))
	if a := serve(t, g, formRequest("/sms", sms(toUS, "Your code is 482913")), Send); !a.Body.OK {
		t.Fatalf("first send: %v", a)
	}
	obs.reset()
	a := serve(t, g, formRequest("/sms", sms(toGB, "Your code is 482913")), Send)
	if a.Result.Outcome != "rate_limited" || a.Reply.Status != http.StatusTooManyRequests || a.Reply.Header.Get("Retry-After") == "" {
		t.Fatalf("%v; want 429 rate_limited with Retry-After", a)
	}
	if destinationSpent(g, toGB) {
		t.Errorf("the caller's refusal kept the destination token")
	}
	if got := obs.list(false); !equalEvents(got, []string{"rate_limited test-route caller"}) {
		t.Errorf("observed %q", got)
	}
	if n := len(tn.records(t)); n != 1 {
		t.Errorf("the simulator got %d requests, want 1", n)
	}
	// Another caller may still send to that number.
	r := formRequest("/sms", sms(toGB, "Your code is 482913"))
	out := g.Serve(Inbound{Request: r, ClientIP: "198.51.100.7"}, Send)
	if b := decode(t, out); !b.Body.OK {
		t.Errorf("another caller to the refunded destination: %v", b)
	}
}

// TestServeCallerLimitKeys: the caller limit keys on the verified identity.
// Spraying Basic user names on an open route buys no fresh limit; two
// credentials have a bucket each; one credential shared by several client
// addresses has one.
func TestServeCallerLimitKeys(t *testing.T) {
	svcA := Credential{Kind: KindHeader, Header: "X-Api-Key", Value: "key-of-a-0123456", Identity: "a"}
	svcB := Credential{Kind: KindHeader, Header: "X-Api-Key", Value: "key-of-b-0123456", Identity: "b"}
	type post struct {
		ip, user, key, to string
		want              string
	}
	tests := []struct {
		name    string
		callers Callers
		posts   []post
	}{
		{"sprayed Basic user names share the client's bucket", nil, []post{
			{clientIP, "u1", "", toUS, "accepted"},
			{clientIP, "u2", "", toGB, "rate_limited"},
			{clientIP, "", "", toIN, "rate_limited"},
			{"198.51.100.7", "u1", "", toIN, "accepted"},
		}},
		{"two credentials, two buckets", Callers{svcA, svcB}, []post{
			{clientIP, "", "key-of-a-0123456", toUS, "accepted"},
			{clientIP, "", "key-of-a-0123456", toGB, "rate_limited"},
			{clientIP, "", "key-of-b-0123456", toGB, "accepted"},
		}},
		{"one credential from many addresses, one bucket", Callers{svcA}, []post{
			{clientIP, "", "key-of-a-0123456", toUS, "accepted"},
			{"198.51.100.7", "", "key-of-a-0123456", toGB, "rate_limited"},
			{"198.51.100.8", "x", "key-of-a-0123456", toIN, "rate_limited"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, simConfig())
			g, _ := newGateway(t, tn, withLimits(false, true), func(g *Gateway) { g.Callers = tt.callers })
			sent := 0
			for i, p := range tt.posts {
				r := formRequest("/sms", sms(p.to, "Your code is 482913"))
				if p.user != "" {
					r.SetBasicAuth(p.user, "pw")
				}
				if p.key != "" {
					r.Header.Set("X-Api-Key", p.key)
				}
				a := decode(t, g.Serve(Inbound{Request: r, ClientIP: p.ip}, Send))
				if a.Result.Outcome != p.want {
					t.Errorf("post %d: %v; want %s", i, a, p.want)
				}
				if p.want == "accepted" {
					sent++
				}
			}
			if n := tn.accepted(t); n != sent {
				t.Errorf("the simulator created %d messages, want %d", n, sent)
			}
		})
	}
}

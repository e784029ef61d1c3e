package gateway

import (
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// TestServePlan: the accounts a request goes through. Stored credentials
// send +91 through the India subaccount (with the parent's credentials) and
// the rest through main; passthrough sends as the caller, on the account the
// path, the route or the Basic user name gives, and refuses a request that
// carries no Twilio credentials or no account.
func TestServePlan(t *testing.T) {
	tests := []struct {
		name        string
		passthrough *Passthrough
		twilioPath  bool // the twilio mapping's path, else the generic mapping
		to          string
		user, pass  string // Basic credentials; pass "main" for main's token
		wantSID     int    // the account the request is sent to (1 main, 2 india); 0: nothing sent
		wantField   string // the invalid field when nothing is sent
		wantStatus  int
	}{
		{"stored: main", nil, false, toUS, "", "", 1, "", http.StatusOK},
		{"stored: +91 through the India subaccount", nil, false, toIN, "", "", 2, "", http.StatusOK},
		{"passthrough: the path's account", &Passthrough{}, true, toUS, sid("AC", 1), "main", 1, "", http.StatusCreated},
		{"passthrough: the Basic user name's account", &Passthrough{}, false, toUS, sid("AC", 1), "main", 1, "", http.StatusOK},
		{"passthrough: the route's account with an API key", &Passthrough{AccountSID: sid("AC", 1)}, false, toUS, sid("SK", 1), "key-secret-0123", 0, "", http.StatusBadGateway},
		{"passthrough: no Basic credentials", &Passthrough{}, true, toUS, "", "", 0, "authorization", http.StatusUnauthorized},
		{"passthrough: an API key and no account", &Passthrough{}, false, toUS, sid("SK", 1), "key-secret-0123", 0, "account_sid", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, simConfig())
			g, _ := newGateway(t, tn, withRouter(t, tn), func(g *Gateway) {
				if tt.passthrough != nil {
					g.Credentials = *tt.passthrough
					r, err := dispatch.NewRouter(tn.main, nil, nil)
					if err != nil {
						t.Fatal(err)
					}
					g.Router = r
				}
				if tt.twilioPath {
					g.Mapping = builtin(t, "twilio")
				}
			})
			var r *http.Request
			if tt.twilioPath {
				r = twilioForm(sid("AC", 1), "Messages", url.Values{"To": {tt.to}, "Body": {"Your code is 482913"}})
			} else {
				r = formRequest("/sms", sms(tt.to, "Your code is 482913"))
			}
			pass := tt.pass
			if pass == "main" {
				pass = tn.main.Password
			}
			if tt.user != "" {
				r.SetBasicAuth(tt.user, pass)
			}
			out := g.Serve(Inbound{Request: r, ClientIP: clientIP}, Send)
			if out.Err != nil || out.Reply == nil {
				t.Fatalf("Serve: %v", out.Err)
			}
			if out.Reply.Status != tt.wantStatus {
				t.Errorf("HTTP %d %s, want %d", out.Reply.Status, out.Reply.Body, tt.wantStatus)
			}
			recs := tn.records(t)
			if tt.wantField != "" {
				if out.Result.Outcome != "invalid" || out.Result.Field != tt.wantField || len(recs) != 0 {
					t.Errorf("outcome %s field %s, %d sent; want invalid %s, nothing sent", out.Result.Outcome, out.Result.Field, len(recs), tt.wantField)
				}
				return
			}
			if tt.wantSID == 0 {
				// The simulator does not know the key: Twilio's own 401.
				if out.Result.Outcome != "rejected" || len(recs) != 1 || recs[0].Accepted || recs[0].AuthUser != tt.user {
					t.Errorf("outcome %s, records %+v; want one rejected request as %s", out.Result.Outcome, recs, tt.user)
				}
				return
			}
			if !out.Result.OK || len(recs) != 1 || recs[0].AccountSID != sid("AC", tt.wantSID) || recs[0].AuthUser != sid("AC", 1) {
				t.Errorf("outcome %s, records %+v; want one send to AC…%d as main", out.Result.Outcome, recs, tt.wantSID)
			}
			if out.Result.AccountSID != sid("AC", tt.wantSID) {
				t.Errorf("result account %s, want AC…%d", out.Result.AccountSID, tt.wantSID)
			}
		})
	}
}

// closedURL is a loopback URL where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// TestServeClassify: the outcomes that send nothing (unreachable, and
// unavailable when the breaker is open) give their limit tokens back and are
// not remembered by dedup; unknown is remembered and never sent again.
func TestServeClassify(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(t *testing.T, tn *tenant, g *Gateway)
		wantOutcome string
		wantStatus  int
		wantSpent   bool
	}{
		{"unreachable", func(t *testing.T, tn *tenant, g *Gateway) {
			main := tn.main
			main.APIBase = closedURL(t)
			r, err := dispatch.NewRouter(main, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			g.Router = r
			noBackoff(g)
		}, "unreachable", http.StatusBadGateway, false},
		{"breaker open: unavailable", func(t *testing.T, tn *tenant, g *Gateway) {
			g.Dispatcher.State = dispatch.NewState(dispatch.StateConfig{BreakerFailures: 1, BreakerCooldown: time.Hour})
			tn.sim.SetFault(tn.main.AccountSID, simulator.Fault{Mode: simulator.Fault503, Count: 1})
			if a := serve(t, g, formRequest("/sms", sms(toGB, "open the breaker")), Send); a.Result.Outcome != "rejected" {
				t.Fatalf("opening the breaker: %v", a)
			}
		}, "unavailable", http.StatusServiceUnavailable, false},
		{"timeout after sending: unknown", func(t *testing.T, tn *tenant, g *Gateway) {
			g.Timeout = 400 * time.Millisecond
			tn.sim.SetFault(tn.main.AccountSID, simulator.Fault{Mode: simulator.FaultSlow, Delay: 5 * time.Second, Count: 1})
		}, "unknown", http.StatusGatewayTimeout, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, simConfig())
			g, _ := newGateway(t, tn, withLimits(true, false), withDedup(0, time.Minute))
			tt.setup(t, tn, g)
			before := len(tn.records(t))
			a := serve(t, g, formRequest("/sms", sms(toUS, "Your code is 482913")), Send)
			if a.Result.Outcome != tt.wantOutcome || a.Reply.Status != tt.wantStatus {
				t.Fatalf("%v (outcome %s); want %d %s", a, a.Result.Outcome, tt.wantStatus, tt.wantOutcome)
			}
			if destinationSpent(g, toUS) != tt.wantSpent {
				t.Errorf("destination token spent: %t, want %t", destinationSpent(g, toUS), tt.wantSpent)
			}
			again := serve(t, g, formRequest("/sms", sms(toUS, "Your code is 482913")), Send)
			if again.Result.Duplicate != tt.wantSpent {
				t.Errorf("a re-post: %v, duplicate %t; want duplicate %t", again, again.Result.Duplicate, tt.wantSpent)
			}
			if tt.wantSpent && len(tn.records(t)) != before+1 {
				t.Errorf("the simulator got %d requests, want 1: an unknown outcome must never be sent again", len(tn.records(t))-before)
			}
		})
	}
}

package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// TestServeDryRun: a dry run goes through every step up to the Twilio call,
// builds the request for every account of the plan (subaccount or main, then
// the fallback), answers as accepted with the sample SID of the API's
// resource, and sends nothing, spends no limit and remembers nothing. It
// needs no caller credential (an operator's preview).
func TestServeDryRun(t *testing.T) {
	tests := []struct {
		name      string
		channel   string
		flow      string
		to        string
		wantAPI   twilio.API
		wantSID   string
		wantPlan  []string
		wantPaths []string // URL suffixes, in plan order
	}{
		{"messages through main", "sms", "", toUS, twilio.Messages, "SM00000000000000000000000000000000",
			[]string{"main", "backup"}, []string{"/Accounts/" + sid("AC", 1) + "/Messages.json", "/Accounts/" + sid("AC", 3) + "/Messages.json"}},
		{"messages through the India subaccount", "sms", "", toIN, twilio.Messages, "SM00000000000000000000000000000000",
			[]string{"india", "backup"}, []string{"/Accounts/" + sid("AC", 2) + "/Messages.json", "/Accounts/" + sid("AC", 3) + "/Messages.json"}},
		{"calls", "voice", "", toUS, twilio.Calls, "CA00000000000000000000000000000000",
			[]string{"main", "backup"}, []string{"/Accounts/" + sid("AC", 1) + "/Calls.json", "/Accounts/" + sid("AC", 3) + "/Calls.json"}},
		{"studio", "sms", sid("FW", 9), toGB, twilio.Studio, "FN00000000000000000000000000000000",
			[]string{"main", "backup"}, []string{"/v2/Flows/" + sid("FW", 9) + "/Executions", "/v2/Flows/" + sid("FW", 9) + "/Executions"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, simConfig())
			g, obs := newGateway(t, tn, withRouter(t, tn), withDedup(0, time.Minute), withLimits(true, true), func(g *Gateway) {
				g.Route.Channel, g.Route.StudioFlowSID, g.StudioFlowSID = tt.channel, tt.flow, tt.flow
				g.Callers = Callers{{Kind: KindHeader, Header: "X-Api-Key", Value: "key-of-svc-0123", Identity: "svc"}}
			})
			for range 2 { // twice: a dry run leaves nothing that changes the next
				a := serve(t, g, formRequest("/sms", sms(tt.to, "Your code is 482913")), DryRun)
				if !a.Body.OK || a.Reply.Status != http.StatusOK || a.Body.Sid != tt.wantSID || a.Result.API != string(tt.wantAPI) ||
					a.Result.Duplicate || a.Body.Account != tt.wantPlan[0] {
					t.Fatalf("%v (api %s, duplicate %t); want 200 %s from %s", a, a.Result.API, a.Result.Duplicate, tt.wantSID, tt.wantPlan[0])
				}
				if wantSID, _ := SampleSID(tt.wantAPI); wantSID != tt.wantSID {
					t.Errorf("SampleSID(%s) = %s", tt.wantAPI, wantSID)
				}
				if strings.Join(a.Plan, ",") != strings.Join(tt.wantPlan, ",") || len(a.Requests) != len(tt.wantPlan) {
					t.Fatalf("plan %q with %d requests, want %q", a.Plan, len(a.Requests), tt.wantPlan)
				}
				for i, req := range a.Requests {
					if req.API != tt.wantAPI || !strings.HasPrefix(req.URL(), tn.url) || !strings.HasSuffix(req.URL(), tt.wantPaths[i]) {
						t.Errorf("request %d: %s %s, want %s …%s", i, req.API, req.URL(), tt.wantAPI, tt.wantPaths[i])
					}
					if req.Params.Get("To") != tt.to || req.Params.Get("From") == "" {
						t.Errorf("request %d: To %q From %q", i, req.Params.Get("To"), req.Params.Get("From"))
					}
					if tt.wantAPI == twilio.Calls && req.Params.Get("TimeLimit") != "120" {
						t.Errorf("request %d: a call without the route's TimeLimit: %q", i, req.Params.Get("TimeLimit"))
					}
				}
			}
			if n := len(tn.records(t)); n != 0 {
				t.Errorf("a dry run sent %d requests", n)
			}
			if destinationSpent(g, tt.to) || callerSpent(g, "dry-run") || callerSpent(g, "ip:"+clientIP) {
				t.Errorf("a dry run spent a rate-limit token")
			}
			if g.Dedup.Len() != 0 {
				t.Errorf("a dry run left %d dedup entries", g.Dedup.Len())
			}
			if ev := obs.list(true); len(ev) != 0 {
				t.Errorf("a dry run observed %q", ev)
			}
		})
	}
}

// TestServeDryRunRefuses: a dry run refuses what the real run refuses before
// the Twilio call, in the same words.
func TestServeDryRunRefuses(t *testing.T) {
	tests := []struct {
		name, to, text string
		wantOutcome    string
		wantStatus     int
	}{
		{"a blocked destination", toPremium, "Your code is 482913", "blocked", http.StatusForbidden},
		{"not a phone number", "12345", "Your code is 482913", "invalid", http.StatusBadRequest},
		{"no message", toUS, "", "invalid", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := newTenant(t, simConfig())
			g, _ := newGateway(t, tn, withRouter(t, tn))
			dry := serve(t, g, formRequest("/sms", sms(tt.to, tt.text)), DryRun)
			real := serve(t, g, formRequest("/sms", sms(tt.to, tt.text)), Send)
			if dry.Result.Outcome != tt.wantOutcome || dry.Reply.Status != tt.wantStatus || len(dry.Requests) != 0 {
				t.Errorf("dry run: %v with %d requests; want %d %s and none", dry, len(dry.Requests), tt.wantStatus, tt.wantOutcome)
			}
			if string(dry.Reply.Body) != string(real.Reply.Body) || dry.Reply.Status != real.Reply.Status {
				t.Errorf("the dry run answered %v, the real run %v", dry, real)
			}
			if n := len(tn.records(t)); n != 0 {
				t.Errorf("the simulator got %d requests", n)
			}
		})
	}
}

// TestServeDryRunFallsBackLikeSend: when the first account of the plan has
// no sender for the destination and the fallback has one, the real run sends
// through the fallback (a build error sends nothing, so the dispatcher falls
// back); the dry run must preview exactly that: accepted by the fallback,
// whose request is the only one built. (A regression test: dryRun used to
// answer "invalid from" as soon as the first account could not build.)
func TestServeDryRunFallsBackLikeSend(t *testing.T) {
	tn := newTenant(t, simConfig())
	main := tn.main
	main.Senders = []dispatch.Sender{{Number: fromMain, Type: dispatch.Standard, SMS: true, Voice: true, Countries: []string{"US"}}}
	router, err := dispatch.NewRouter(main, nil, []dispatch.Account{tn.backup})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := newGateway(t, tn, func(g *Gateway) { g.Router = router })

	real := serve(t, g, formRequest("/sms", sms(toGB, "Your code is 482913")), Send)
	recs := tn.records(t)
	if !real.Body.OK || real.Body.Account != "backup" || len(recs) != 1 || recs[0].AccountSID != tn.backup.AccountSID {
		t.Fatalf("the real run: %v, %d sent; want accepted by backup", real, len(recs))
	}
	dry := serve(t, g, formRequest("/sms", sms(toGB, "Your code is 482913")), DryRun)
	if !dry.Body.OK || dry.Body.Account != "backup" || strings.Join(dry.Plan, ",") != "backup" || len(dry.Requests) != 1 {
		t.Errorf("the dry run answered %v with plan %q; the real run was accepted by backup", dry, dry.Plan)
	}
}

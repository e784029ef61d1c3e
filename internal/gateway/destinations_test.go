package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// TestServeDestinations: the country lists and the number types refused by
// default, checked before anything is sent or spent. A refusal is "blocked"
// (403, Twilio's 21408 meaning) naming the field to, with a reason that
// never contains the number, and is reported to the Observer with its kind.
func TestServeDestinations(t *testing.T) {
	set := func(cc ...string) map[string]bool {
		m := map[string]bool{}
		for _, c := range cc {
			m[c] = true
		}
		return m
	}
	tests := []struct {
		name     string
		dest     Destinations
		to       string
		wantKind string // "" when sent
	}{
		{"default rules: an ordinary number", Destinations{}, toUS, ""},
		{"default rules: premium rate refused", Destinations{}, toPremium, "premium_rate"},
		{"default rules: NANP premium rate refused", Destinations{}, "+19005550123", "premium_rate"},
		{"default rules: shared cost refused", Destinations{}, "+33810123456", "shared_cost"},
		{"default rules: UAN refused", Destinations{}, "+443001234567", "uan"},
		{"default rules: personal number refused", Destinations{}, "+447012345678", "personal_number"},
		{"default rules: non-geographic refused", Destinations{}, toFreeIntl, "non_geographic"},
		{"allow_number_types premium_rate opens it", Destinations{AllowKinds: set("premium_rate")}, toPremium, ""},
		{"allow_number_types premium_rate opens no other kind", Destinations{AllowKinds: set("premium_rate")}, "+447012345678", "personal_number"},
		{"allow_number_types non_geographic, no list: a number without a country goes", Destinations{AllowKinds: set("non_geographic")}, toFreeIntl, ""},
		{"a number without a country is refused when an allow list is set",
			Destinations{Allow: set("US"), AllowKinds: set("non_geographic")}, toFreeIntl, "country"},
		{"a number without a country is refused when a deny list is set",
			Destinations{Deny: set("RU"), AllowKinds: set("non_geographic")}, toFreeIntl, "country"},
		{"allow list: listed", Destinations{Allow: set("US", "IN")}, toIN, ""},
		{"allow list: not listed", Destinations{Allow: set("US", "IN")}, toGB, "country"},
		{"deny list: listed", Destinations{Deny: set("GB")}, toGB, "country"},
		{"deny list: not listed", Destinations{Deny: set("GB")}, toUS, ""},
		{"the country is checked before the number type", Destinations{Deny: set("GB")}, toPremium, "country"},
		{"magic test number refused towards Twilio", Destinations{}, toMagic, "personal_number"},
		{"magic test number let through to the simulator", Destinations{SimulatorOnly: true}, toMagic, ""},
		{"magic test number to the simulator within an allow list", Destinations{SimulatorOnly: true, Allow: set("US")}, toMagic, ""},
		{"magic test number to the simulator outside an allow list", Destinations{SimulatorOnly: true, Allow: set("GB")}, toMagic, "country"},
		{"the simulator opens no other NANP personal number", Destinations{SimulatorOnly: true}, "+15002345678", "personal_number"},
		{"the simulator opens no other personal number outside +1", Destinations{SimulatorOnly: true}, "+447012345678", "personal_number"},
		{"the simulator opens no premium rate", Destinations{SimulatorOnly: true}, toPremium, "premium_rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, simConfig())
			g, obs := newGateway(t, tn, withLimits(true, true), withDedup(0, 0), func(g *Gateway) {
				g.Destinations = tt.dest
				if g.Destinations.AllowKinds == nil {
					g.Destinations.AllowKinds = map[string]bool{}
				}
			})
			a := serve(t, g, formRequest("/sms", sms(tt.to, "Your code is 482913")), Send)
			recs := tn.records(t)
			if tt.wantKind == "" {
				if !a.Body.OK || len(recs) != 1 || recs[0].Form.Get("To") != tt.to {
					t.Fatalf("%v, %d sent; want it sent to %s", a, len(recs), tt.to)
				}
				if !destinationSpent(g, tt.to) || !callerSpent(g, "ip:"+clientIP) {
					t.Errorf("a send spent no token")
				}
				if n := obs.count("blocked test-route " + tt.wantKind); n != 0 {
					t.Errorf("observed a block for a send")
				}
				return
			}
			if a.Result.Outcome != "blocked" || a.Result.Field != "to" || a.Result.ErrorCode != CodeGeoBlocked ||
				a.Reply.Status != http.StatusForbidden || a.Body.code() != CodeGeoBlocked {
				t.Errorf("%v (outcome %s, field %s, code %d); want 403 blocked to, code %d", a, a.Result.Outcome, a.Result.Field, a.Result.ErrorCode, CodeGeoBlocked)
			}
			if len(recs) != 0 {
				t.Errorf("the simulator got %d requests, want none", len(recs))
			}
			if destinationSpent(g, tt.to) || callerSpent(g, "ip:"+clientIP) {
				t.Errorf("a blocked destination spent a rate-limit token")
			}
			if got := obs.list(false); !equalEvents(got, []string{"blocked test-route " + tt.wantKind}) {
				t.Errorf("observed %q, want one block of kind %s", got, tt.wantKind)
			}
			digits := strings.TrimPrefix(tt.to, "+")
			for _, s := range []string{a.Result.Reason, string(a.Reply.Body)} {
				if strings.Contains(s, digits[len(digits)-6:]) {
					t.Errorf("the refusal shows the number: %s", s)
				}
			}
			if tt.wantKind != "country" && !strings.Contains(a.Result.Reason, "allow_number_types "+tt.wantKind) {
				t.Errorf("reason %q does not name the setting that opens %s", a.Result.Reason, tt.wantKind)
			}
		})
	}
}

// TestDestinationsCheck covers Check's own answers, including its region
// reasons, without a request.
func TestDestinationsCheck(t *testing.T) {
	d := Destinations{Allow: map[string]bool{"US": true}}
	if kind, reason := d.Check(toGB); kind != "country" || !strings.Contains(reason, "GB") || strings.Contains(reason, "7400123456") {
		t.Errorf("Check(GB) = %q, %q", kind, reason)
	}
	if kind, _ := (&Destinations{}).Check("not a number"); kind != "" {
		t.Errorf("Check of a non-number = %q; the mapping validates numbers, the guard only classifies them", kind)
	}
}

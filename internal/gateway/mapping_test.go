package gateway

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// failingMapping returns a mapping whose parts are the generic ones except
// that twilio.api, the Body parameter or the success reply is the given
// expression, each of which fails at run time on ordinary input.
func failingMapping(t *testing.T, api, body, success string) string {
	t.Helper()
	if api == "" {
		api = "'messages'"
	}
	if body == "" {
		body = "message"
	}
	if success == "" {
		success = "result.sid"
	}
	q := func(s string) string { return strings.ReplaceAll(s, `"`, `\"`) }
	return `{
  "name": "failing",
  "request": {"methods": ["POST"], "format": "form"},
  "fields": [
    {"name": "to", "from": ["form:to"], "required": true, "type": "phone"},
    {"name": "message", "from": ["form:message"], "required": true},
    {"name": "kind", "from": ["form:kind"]}
  ],
  "twilio": {"api": "` + q(api) + `", "messages": {"To": "to", "Body": "` + q(body) + `"}},
  "reply": {
    "success": {"format": "json", "body": {"ok": true, "sid": "` + q(success) + `"}},
    "failure": {"format": "json", "body": {"ok": false, "error": {"outcome": "result.outcome", "field": "result.field", "message": "result.reason"}}}
  }
}`
}

// runTimeFailures are mappings that compile and fail at run time: the API
// choice, a parameter and the reply.
func runTimeFailures(t *testing.T) []struct {
	name, text string
	sends      bool
} {
	return []struct {
		name, text string
		sends      bool
	}{
		{"twilio.api gives no API", failingMapping(t, "kind", "", ""), false},
		{"a parameter fails", failingMapping(t, "", "string(int(message))", ""), false},
		{"the reply fails", failingMapping(t, "", "", "string(int(message))"), true},
	}
}

// TestServeMappingFailsAtRunTime: a mapping that fails at run time (a bug in
// the mapping, not bad input) gives Outcome.Err and no Reply, so that the
// server answers on its own; a failure before the send sends nothing.
func TestServeMappingFailsAtRunTime(t *testing.T) {
	for _, tt := range runTimeFailures(t) {
		t.Run(tt.name, func(t *testing.T) {
			tn := newTenant(t, simConfig())
			g, _ := newGateway(t, tn, func(g *Gateway) { g.Mapping = custom(t, tt.text) })
			form := url.Values{"to": {toUS}, "message": {"Your code is 482913"}, "kind": {"sms-please"}}
			for _, mode := range []Mode{DryRun, Send} {
				out := g.Serve(Inbound{Request: formRequest("/sms", form), ClientIP: clientIP}, mode)
				if out.Err == nil || out.Reply != nil {
					t.Fatalf("mode %d: Err %v, Reply %v; want an error and no reply", mode, out.Err, out.Reply)
				}
			}
			sent := 0
			if tt.sends {
				sent = 1
			}
			if n := len(tn.records(t)); n != sent {
				t.Errorf("the simulator got %d requests, want %d", n, sent)
			}
		})
	}
}

// TestServeMappingErrorCarriesNoRequestData: Outcome.Err "never carries
// request data" (the `test` command prints it, a server may log it), while
// the mapping's own errors quote the values an expression failed on
// ("twilio.api gave \"<field>\"", expr's "invalid operation: int(<the
// message>)"). Serve wraps them in a *RuntimeError naming the mapping and the
// stage only. (A regression test: Serve used to return those errors as is.)
func TestServeMappingErrorCarriesNoRequestData(t *testing.T) {
	const code, kind = "CODE-48291377", "KIND-SECRET-77"
	for _, tt := range runTimeFailures(t) {
		t.Run(tt.name, func(t *testing.T) {
			tn := newTenant(t, simConfig())
			g, _ := newGateway(t, tn, func(g *Gateway) { g.Mapping = custom(t, tt.text) })
			form := url.Values{"to": {toUS}, "message": {code}, "kind": {kind}}
			out := g.Serve(Inbound{Request: formRequest("/sms", form), ClientIP: clientIP}, Send)
			var re *RuntimeError
			if !errors.As(out.Err, &re) || re.Mapping != "failing" {
				t.Fatalf("Err %v (%T); want a *RuntimeError naming the mapping", out.Err, out.Err)
			}
			for _, secret := range []string{code, kind, toUS[2:]} {
				if strings.Contains(out.Err.Error(), secret) {
					t.Errorf("the error carries request data %q: %v", secret, out.Err)
				}
			}
		})
	}
}

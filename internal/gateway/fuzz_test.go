package gateway

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// outcomes are every value Result.Outcome may take after Serve.
var outcomes = map[string]bool{"accepted": true, "rejected": true, "unreachable": true, "unknown": true,
	"invalid": true, "rate_limited": true, "blocked": true, "unavailable": true}

// FuzzServe sends random bodies, paths, queries, content types and methods
// through the generic mapping as a dry run (with a caller credential, limits,
// dedup and country rules in place). Serve must never panic, must give
// exactly one of a Reply and an Err, must never send, and an acceptance must
// carry the sample SID.
func FuzzServe(f *testing.F) {
	seeds := []struct {
		method      byte
		path, query string
		ctype       string
		body        string
	}{
		{0, "/sms", "", "application/x-www-form-urlencoded", "to=%2B14155552671&message=Your+code+is+482913"},
		{0, "/sms", "", "application/x-www-form-urlencoded", "to=+14155552671&message=hi"},
		{0, "/sms", "", "application/x-www-form-urlencoded", "to=%2B449098765432&message=premium"},
		{0, "/sms", "", "application/x-www-form-urlencoded", "To=%2B919876543210&Body=x&From=%2B15005550006"},
		{0, "/sms", "", "application/x-www-form-urlencoded", "to=12345&message="},
		{0, "/sms", "", "application/x-www-form-urlencoded", "to=%zz&message=%"},
		{0, "/sms.json", "", "application/json", `{"to":"+14155552671","message":"Your code is 482913"}`},
		{0, "/sms.xml", "", "application/xml", `<sms><to>+14155552671</to><message>hi</message></sms>`},
		{0, "/sms", "", "application/json", `{"to":["+1"],"message":{"a":1}}`},
		{0, "/sms", "", "application/json", `{"to":"+14155552671","message":"` + strings.Repeat("é", 1601) + `"}`},
		{0, "/", "", "text/plain", "\x00\xff\xfe"},
		{1, "/sms", "to=%2B14155552671&message=hi", "", ""},
		{1, "/a/../b//c.json", "to=+800 12345678&message=x", "", ""},
		{2, "/sms", "", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+14155552671\r\n--x--"},
		{0, "/sms", "", "application/x-www-form-urlencoded; charset=utf-16", "t\x00o\x00=\x00"},
		{0, "/sms", "", "application/x-www-form-urlencoded", "to=%2B15005550006&message=magic&from=Alpha+Sender"},
		{0, "/sms", "", "application/x-www-form-urlencoded", "to=%2B14155552671&message=x&from=%2B1"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.ctype, []byte(s.body))
	}
	tn := newTenant(f, simConfig())
	g, _ := newGateway(f, tn, withRouter(f, tn), withDedup(0, time.Minute), withLimits(true, true), func(g *Gateway) {
		g.Callers = Callers{{Kind: KindHeader, Header: "X-Api-Key", Value: "key-of-svc-0123", Identity: "svc"}}
		g.Destinations.Deny = map[string]bool{"RU": true}
	})
	methods := []string{http.MethodPost, http.MethodGet, http.MethodPut, http.MethodHead}
	f.Fuzz(func(t *testing.T, method byte, path, query, ctype string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Method = methods[int(method)%len(methods)]
		r.URL.Path, r.URL.RawPath, r.URL.RawQuery = path, "", query
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		out := g.Serve(Inbound{Request: r, ClientIP: clientIP}, DryRun)
		if (out.Reply == nil) == (out.Err == nil) {
			t.Fatalf("Reply %v and Err %v: want exactly one", out.Reply, out.Err)
		}
		if out.Err != nil {
			return
		}
		if out.Reply.Status < 100 || out.Reply.Status > 599 {
			t.Errorf("HTTP status %d", out.Reply.Status)
		}
		if out.Result == nil || !outcomes[out.Result.Outcome] {
			t.Fatalf("result %+v", out.Result)
		}
		if out.Result.OK {
			if sid, _ := SampleSID("messages"); out.Result.Sid != sid || len(out.Requests) == 0 {
				t.Errorf("an accepted dry run: sid %q, %d requests", out.Result.Sid, len(out.Requests))
			}
		} else if len(out.Requests) != 0 {
			t.Errorf("a refused dry run built %d requests", len(out.Requests))
		}
		if st := tn.sim.Stats(); st.Requests != 0 {
			t.Fatalf("a dry run sent %d requests", st.Requests)
		}
		if g.Dedup.Len() != 0 {
			t.Fatalf("a dry run left %d dedup entries", g.Dedup.Len())
		}
	})
}

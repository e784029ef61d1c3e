package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCallersVerify checks the identity strings Verify gives: "ip:" and the
// client address when the route accepts any caller, "auth:" and the matching
// credential's identity otherwise, and never a name the caller merely claims.
// Signed kinds are verified on the body exactly as received.
func TestCallersVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	stale := strconv.FormatInt(now.Add(-SignatureTolerance-time.Second).Unix(), 10)
	whKey, zKey := []byte("standard-webhooks-key-0123"), []byte("zitadel-signing-key-0123")
	const body = `{"phone":"+14155552671","otp":"482913"}`
	// webhook signs like a Standard Webhooks sender: v1,base64(HMAC(id.ts.body)).
	webhook := func(id, ts, signed string) func(*http.Request) {
		return func(r *http.Request) {
			m := hmac.New(sha256.New, whKey)
			m.Write([]byte(id + "." + ts + "." + signed))
			r.Header.Set("webhook-id", id)
			r.Header.Set("webhook-timestamp", ts)
			r.Header.Set("webhook-signature", "v1,bm90IGl0 v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
		}
	}
	// zitadel signs like ZITADEL: t=<ts>,v1=hex(HMAC(ts.body)).
	zitadel := func(ts, signed string) func(*http.Request) {
		return func(r *http.Request) {
			m := hmac.New(sha256.New, zKey)
			m.Write([]byte(ts + "." + signed))
			r.Header.Set("ZITADEL-Signature", "t="+ts+",v1="+hex.EncodeToString(m.Sum(nil)))
		}
	}
	header := Credential{Kind: KindHeader, Header: "X-Api-Key", Value: "key-of-svc-0123", Identity: "svc"}
	alice := Credential{Kind: KindBasic, Username: "alice", Password: "pw-of-alice-0123", Identity: "tenant-a"}
	bearer := Credential{Kind: KindBearer, Value: "bearer-token-0123", Identity: "bearer"}
	params := Credential{Kind: KindParams, Params: [][2]string{{"username", "kannel"}, {"password", "pw-of-kannel-0123"}}, Identity: "kannel"}
	hook := Credential{Kind: KindStandardWebhooks, Secret: whKey, Identity: "supabase"}
	zit := Credential{Kind: KindZitadelSignature, Secret: zKey, Identity: "zitadel"}
	none := func(*http.Request) {}
	tests := []struct {
		name    string
		callers Callers
		url     string // default /sms
		form    string // a form body instead of the JSON one
		prep    func(r *http.Request)
		want    string
		wantOK  bool
	}{
		{"any caller: the client IP", nil, "", "", none, "ip:" + clientIP, true},
		{"any caller: a Basic user name is only a claim", nil, "", "",
			func(r *http.Request) { r.SetBasicAuth("alice", "whatever") }, "ip:" + clientIP, true},
		{"any caller: a header is only a claim", nil, "", "",
			func(r *http.Request) { r.Header.Set("X-Api-Key", "key-of-svc-0123") }, "ip:" + clientIP, true},
		{"header credential", Callers{header}, "", "",
			func(r *http.Request) { r.Header.Set("X-Api-Key", "key-of-svc-0123") }, "auth:svc", true},
		{"header credential beside an unchecked Basic user name", Callers{header}, "", "",
			func(r *http.Request) {
				r.Header.Set("X-Api-Key", "key-of-svc-0123")
				r.SetBasicAuth("mallory", "x")
			}, "auth:svc", true},
		{"header with a wrong value", Callers{header}, "", "",
			func(r *http.Request) { r.Header.Set("X-Api-Key", "key-of-svc-0124") }, "", false},
		{"header missing", Callers{header}, "", "", none, "", false},
		{"the header's name and value as Basic credentials", Callers{header}, "", "",
			func(r *http.Request) { r.SetBasicAuth("X-Api-Key", "key-of-svc-0123") }, "", false},
		{"basic credential: the credential's identity, not the user name", Callers{alice}, "", "",
			func(r *http.Request) { r.SetBasicAuth("alice", "pw-of-alice-0123") }, "auth:tenant-a", true},
		{"basic with a wrong password", Callers{alice}, "", "",
			func(r *http.Request) { r.SetBasicAuth("alice", "pw-of-alice-0124") }, "", false},
		{"basic with the right password and another user", Callers{alice}, "", "",
			func(r *http.Request) { r.SetBasicAuth("bob", "pw-of-alice-0123") }, "", false},
		{"basic credential given as a header", Callers{alice}, "", "",
			func(r *http.Request) { r.Header.Set("alice", "pw-of-alice-0123") }, "", false},
		{"the second of two credentials", Callers{header, alice}, "", "",
			func(r *http.Request) { r.SetBasicAuth("alice", "pw-of-alice-0123") }, "auth:tenant-a", true},
		{"both credentials: the first listed wins", Callers{header, alice}, "", "",
			func(r *http.Request) {
				r.SetBasicAuth("alice", "pw-of-alice-0123")
				r.Header.Set("X-Api-Key", "key-of-svc-0123")
			}, "auth:svc", true},
		{"bearer", Callers{bearer}, "", "",
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer bearer-token-0123") }, "auth:bearer", true},
		{"bearer token without the scheme", Callers{bearer}, "", "",
			func(r *http.Request) { r.Header.Set("Authorization", "bearer-token-0123") }, "", false},
		{"bearer with a wrong token", Callers{bearer}, "", "",
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer bearer-token-0124") }, "", false},
		{"params in the query", Callers{params}, "/sms?username=kannel&password=pw-of-kannel-0123", "", none, "auth:kannel", true},
		{"params in the form", Callers{params}, "", "username=kannel&password=pw-of-kannel-0123&to=1", none, "auth:kannel", true},
		{"params with one wrong value", Callers{params}, "/sms?username=kannel&password=pw-of-kannel-0124", "", none, "", false},
		{"params with one missing", Callers{params}, "/sms?username=kannel", "", none, "", false},
		{"params named in a JSON body are not form parameters", Callers{params}, "", "", none, "", false},
		{"standard webhooks", Callers{hook}, "", "", webhook("msg_1", ts, body), "auth:supabase", true},
		{"standard webhooks over another body", Callers{hook}, "", "", webhook("msg_1", ts, body+" "), "", false},
		{"standard webhooks, stale", Callers{hook}, "", "", webhook("msg_1", stale, body), "", false},
		{"standard webhooks, signature moved to another id", Callers{hook}, "", "",
			func(r *http.Request) { webhook("msg_1", ts, body)(r); r.Header.Set("webhook-id", "msg_2") }, "", false},
		{"zitadel", Callers{zit}, "", "", zitadel(ts, body), "auth:zitadel", true},
		{"zitadel, stale", Callers{zit}, "", "", zitadel(stale, body), "", false},
		{"zitadel over another body", Callers{zit}, "", "", zitadel(ts, body[1:]), "", false},
		{"a zitadel signature does not pass as standard webhooks", Callers{hook}, "", "", zitadel(ts, body), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, b, ctype := tt.url, body, "application/json"
			if target == "" {
				target = "/sms"
			}
			if tt.form != "" {
				b, ctype = tt.form, "application/x-www-form-urlencoded"
			}
			r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(b))
			r.Header.Set("Content-Type", ctype)
			tt.prep(r)
			got, ok := tt.callers.Verify(r, []byte(b), clientIP, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Verify = %q, %t; want %q, %t", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestServeCallerVerification drives Serve: a verified caller is sent for
// and its identity (only that one) spends a caller token; an unverified one
// gets 401 / 20003 without its body being read, nothing is sent and no
// token is spent.
func TestServeCallerVerification(t *testing.T) {
	header := Credential{Kind: KindHeader, Header: "X-Api-Key", Value: "key-of-svc-0123", Identity: "svc"}
	alice := Credential{Kind: KindBasic, Username: "alice", Password: "pw-of-alice-0123", Identity: "tenant-a"}
	// Every identity a request below could be (wrongly) keyed on.
	candidates := []string{"ip:" + clientIP, "auth:svc", "auth:tenant-a", "auth:alice", "alice", "mallory", "auth:mallory",
		"ip:", "auth:", ""}
	tests := []struct {
		name     string
		callers  Callers
		prep     func(r *http.Request)
		identity string // the caller bucket spent; "" for a refusal
	}{
		{"any caller is its client IP", nil, func(*http.Request) {}, "ip:" + clientIP},
		{"a Basic user name without a credential is not an identity", nil,
			func(r *http.Request) { r.SetBasicAuth("mallory", "anything") }, "ip:" + clientIP},
		{"header credential", Callers{header},
			func(r *http.Request) { r.Header.Set("X-Api-Key", "key-of-svc-0123") }, "auth:svc"},
		{"header credential and a claimed Basic user name", Callers{header},
			func(r *http.Request) {
				r.Header.Set("X-Api-Key", "key-of-svc-0123")
				r.SetBasicAuth("mallory", "anything")
			}, "auth:svc"},
		{"basic credential", Callers{header, alice},
			func(r *http.Request) { r.SetBasicAuth("alice", "pw-of-alice-0123") }, "auth:tenant-a"},
		{"wrong header value", Callers{header},
			func(r *http.Request) { r.Header.Set("X-Api-Key", "nope") }, ""},
		{"no credential", Callers{header, alice}, func(*http.Request) {}, ""},
		{"wrong Basic password", Callers{alice},
			func(r *http.Request) { r.SetBasicAuth("alice", "nope") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, simConfig())
			g, obs := newGateway(t, tn, withLimits(true, true), func(g *Gateway) { g.Callers = tt.callers })
			r := formRequest("/sms", sms(toUS, "Your code is 482913"))
			tt.prep(r)
			a := serve(t, g, r, Send)
			for _, id := range candidates {
				if spent := callerSpent(g, id); spent != (id == tt.identity && id != "") {
					t.Errorf("caller bucket %q spent: %t", id, spent)
				}
			}
			if tt.identity != "" {
				if !a.Body.OK || a.Reply.Status != http.StatusOK || tn.accepted(t) != 1 {
					t.Fatalf("%v; want a send", a)
				}
				return
			}
			if a.Result.Outcome != "invalid" || a.Result.Field != "authorization" || a.Result.ErrorCode != CodeAuth ||
				a.Reply.Status != http.StatusUnauthorized || a.Body.code() != CodeAuth {
				t.Errorf("%v (result %+v); want 401, invalid authorization, code %d", a, *a.Result, CodeAuth)
			}
			if n := len(tn.records(t)); n != 0 {
				t.Errorf("the simulator got %d requests, want none", n)
			}
			if destinationSpent(g, toUS) {
				t.Errorf("a refused caller spent the destination token")
			}
			if a.Values == nil || a.Values.Field("to") != "" {
				t.Errorf("the answer to an unverified caller has read its body: to=%q", a.Values.Field("to"))
			}
			if ev := obs.list(false); len(ev) != 0 {
				t.Errorf("observed %q, want nothing", ev)
			}
		})
	}
}

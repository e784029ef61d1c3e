package caddymodule

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSignedCallers: Standard Webhooks (Supabase) and Zitadel signatures,
// bearer tokens and parameter credentials. A forged, altered or stale request
// is refused before any Twilio call, in the dialect, naming authorization.
func TestSignedCallers(t *testing.T) {
	t.Parallel()
	main := acct()
	sim := newTestSim(t, main)
	raw := make([]byte, 24)
	_, _ = rand.Read(raw)
	whsec := "v1,whsec_" + base64.StdEncoding.EncodeToString(raw)
	zkey, bearer, kpass := newToken(), newToken(), newToken()
	noteSecret(whsec, whsec[len("v1,whsec_"):], zkey, bearer, kpass)
	hd := mustProvision(t, routeBlock(t, stored(main), "from +15005550006", "api_url "+sim.URL,
		"caller_auth standard_webhooks "+whsec+" name supabase",
		"caller_auth zitadel_signature "+zkey+" name zitadel",
		"caller_auth bearer "+bearer+" name authentik",
		"caller_auth params username kannel password "+kpass+" name kannel"))

	post := func(body string, hdr map[string]string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/sms", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		return r
	}
	swSign := func(id, ts, body string) string {
		m := hmac.New(sha256.New, raw)
		m.Write([]byte(id + "." + ts + "." + body))
		return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	zSign := func(ts, body string) string {
		m := hmac.New(sha256.New, []byte(zkey))
		m.Write([]byte(ts + "." + body))
		return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
	}
	now := strconv.FormatInt(time.Now().Unix(), 10)
	stale := strconv.FormatInt(time.Now().Add(-6*time.Minute).Unix(), 10)

	tests := []struct {
		name string
		req  func(body string) *http.Request
		ok   bool
	}{
		{"standard webhooks: signed", func(b string) *http.Request {
			return post(b, map[string]string{"webhook-id": "msg_1", "webhook-timestamp": now, "webhook-signature": swSign("msg_1", now, b)})
		}, true},
		{"standard webhooks: one of several signatures", func(b string) *http.Request {
			return post(b, map[string]string{"webhook-id": "msg_2", "webhook-timestamp": now,
				"webhook-signature": "v1,AAAA " + swSign("msg_2", now, b)})
		}, true},
		{"standard webhooks: body altered", func(b string) *http.Request {
			return post(b+"&x=1", map[string]string{"webhook-id": "msg_3", "webhook-timestamp": now, "webhook-signature": swSign("msg_3", now, b)})
		}, false},
		{"standard webhooks: another id", func(b string) *http.Request {
			return post(b, map[string]string{"webhook-id": "msg_4", "webhook-timestamp": now, "webhook-signature": swSign("msg_5", now, b)})
		}, false},
		{"standard webhooks: stale", func(b string) *http.Request {
			return post(b, map[string]string{"webhook-id": "msg_6", "webhook-timestamp": stale, "webhook-signature": swSign("msg_6", stale, b)})
		}, false},
		{"zitadel: signed", func(b string) *http.Request {
			return post(b, map[string]string{"ZITADEL-Signature": zSign(now, b)})
		}, true},
		{"zitadel: stale", func(b string) *http.Request {
			return post(b, map[string]string{"ZITADEL-Signature": zSign(stale, b)})
		}, false},
		{"zitadel: forged", func(b string) *http.Request {
			return post(b, map[string]string{"ZITADEL-Signature": "t=" + now + ",v1=" + strings.Repeat("ab", 32)})
		}, false},
		{"bearer", func(b string) *http.Request {
			return post(b, map[string]string{"Authorization": "Bearer " + bearer})
		}, true},
		{"bearer: wrong token", func(b string) *http.Request {
			return post(b, map[string]string{"Authorization": "Bearer " + bearer[1:]})
		}, false},
		{"params in the form", func(b string) *http.Request {
			return post(b+"&username=kannel&password="+url.QueryEscape(kpass), nil)
		}, true},
		{"params in the query", func(b string) *http.Request {
			r := post(b, nil)
			r.URL.RawQuery = "username=kannel&password=" + url.QueryEscape(kpass)
			return r
		}, true},
		{"params: one missing", func(b string) *http.Request {
			return post(b+"&username=kannel", nil)
		}, false},
		{"nothing", func(b string) *http.Request { return post(b, nil) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(sim.records(""))
			a := serveRequest(t, hd, tt.req(sms(newNumber(t, "US"), newMessage()).Encode()))
			if tt.ok {
				wantOK(t, a)
				return
			}
			wantRefused(t, sim, before, a, http.StatusUnauthorized, "invalid", 20003)
		})
	}
}

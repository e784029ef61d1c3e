package caddymodule

import (
	"net/http"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

// TestSharedState: with `redis`, dedup answers and rate buckets live in the
// store under keyed hashes (no number, code or account in clear); when the
// store is down, `redis_failure local` sends on this instance's own state and
// `refuse` answers unavailable without sending.
func TestSharedState(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	main := acct()
	sim := newTestSim(t, main)
	secret := newToken() + newToken()
	noteSecret(secret)
	hd := mustProvision(t, routeBlock(t, stored(main), "from +15005550006", "api_url "+sim.URL,
		"redis redis://"+mr.Addr()+"/0", "redis_secret "+secret, "rate_limit destination 2 1m"))
	to, msg := newNumber(t, "US"), newMessage()
	first := serveRequest(t, hd, formRequest(sms(to, msg)))
	wantOK(t, first)
	again := serveRequest(t, hd, formRequest(sms(to, msg)))
	if again.Reply.Sid != first.Reply.Sid || len(sim.records("")) != 1 {
		t.Fatalf("a repeat was sent again (%d requests)", len(sim.records("")))
	}
	keys := mr.Keys()
	if len(keys) < 2 {
		t.Fatalf("redis holds %d keys, want the dedup answer and the destination bucket", len(keys))
	}
	for _, k := range keys {
		v, _ := mr.Get(k)
		// The answer keeps what a re-post's reply needs (the sid, the
		// account that sent it); never the number, the text or a token.
		for _, secretPart := range []string{to, to[1:], msg, main.AuthToken} {
			if strings.Contains(k, secretPart) || strings.Contains(v, secretPart) {
				t.Errorf("redis key %q (or its value) holds a number, the text or a token in clear", k)
			}
		}
		if strings.Contains(k, main.SID) {
			t.Errorf("redis key %q names the account", k)
		}
	}
	// The destination bucket is in Redis: one more send, then limited.
	wantOK(t, serveRequest(t, hd, formRequest(sms(to, newMessage()))))
	before := len(sim.records(""))
	a := serveRequest(t, hd, formRequest(sms(to, newMessage())))
	wantRefused(t, sim, before, a, http.StatusTooManyRequests, "rate_limited", 20429)

	// The store goes away.
	addr := mr.Addr()
	mr.Close()
	local := mustProvision(t, routeBlock(t, stored(main), "from +15005550006", "api_url "+sim.URL,
		"redis redis://"+addr+"/0", "redis_secret "+secret))
	wantOK(t, serveRequest(t, local, formRequest(sms(newNumber(t, "US"), newMessage()))))
	refuse := mustProvision(t, routeBlock(t, stored(main), "from +15005550006", "api_url "+sim.URL,
		"redis redis://"+addr+"/0", "redis_secret "+secret, "redis_failure refuse"))
	before = len(sim.records(""))
	a = serveRequest(t, refuse, formRequest(sms(newNumber(t, "US"), newMessage())))
	wantRefused(t, sim, before, a, http.StatusServiceUnavailable, "unavailable", 20503)
}

// TestSharedStateSettings: redis needs a long enough secret, and the other
// redis settings need redis.
func TestSharedStateSettings(t *testing.T) {
	t.Parallel()
	main := acct()
	for _, tt := range []struct{ lines, want string }{
		{"redis redis://127.0.0.1:1/0", "redis_secret is required with redis"},
		{"redis redis://127.0.0.1:1/0\n\tredis_secret short", "redis_secret is required with redis, at least 16 bytes"},
		{"redis_secret " + strings.Repeat("s", 32), "redis_secret and redis_failure need redis"},
		{"redis ftp://127.0.0.1/0\n\tredis_secret " + strings.Repeat("s", 32), "redis:"},
	} {
		_, err := provisionBlock(t, routeBlock(t, stored(main), "from +15005550006", tt.lines))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.lines, err, tt.want)
		}
	}
}

package redisstate

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestLimiterAllowRetryAfterRefund(t *testing.T) {
	m := newMini(t)
	l := testLimiter(t, testClient(t, m.url()))
	ctx := context.Background()
	rate := 3.0 / 60 // 3 a minute
	for i := range 3 {
		if ok, _, err := l.Allow(ctx, "+15005550006", rate, 3); !ok || err != nil {
			t.Fatalf("allow %d: %v %v", i, ok, err)
		}
	}
	ok, wait, err := l.Allow(ctx, "+15005550006", rate, 3)
	if ok || err != nil || wait != 20*time.Second {
		t.Fatalf("4th: %v %v %v (want a 20s wait)", ok, wait, err)
	}
	// Another key has its own bucket.
	if ok, _, _ := l.Allow(ctx, "+15005550007", rate, 3); !ok {
		t.Fatal("buckets shared between keys")
	}
	m.advance(5 * time.Second)
	if ok, wait, _ := l.Allow(ctx, "+15005550006", rate, 3); ok || wait != 15*time.Second {
		t.Fatalf("after 5s: %v %v", ok, wait)
	}
	m.advance(15 * time.Second)
	if ok, _, _ := l.Allow(ctx, "+15005550006", rate, 3); !ok {
		t.Fatal("not refilled after 20s")
	}
	if ok, _, _ := l.Allow(ctx, "+15005550006", rate, 3); ok {
		t.Fatal("refilled more than one")
	}
	// Refund gives the token back: exactly one more Allow.
	if err := l.Refund(ctx, "+15005550006", 3); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := l.Allow(ctx, "+15005550006", rate, 3); !ok {
		t.Fatal("refund not usable")
	}
	if ok, _, _ := l.Allow(ctx, "+15005550006", rate, 3); ok {
		t.Fatal("refund gave more than one")
	}
	// Never beyond the burst.
	for range 10 {
		l.Refund(ctx, "+15005550006", 3)
	}
	n := 0
	for range 10 {
		if ok, _, _ := l.Allow(ctx, "+15005550006", rate, 3); ok {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("after 10 refunds %d allowed, want the burst of 3", n)
	}
	// Refund on a bucket that never existed or expired: nothing happens.
	if err := l.Refund(ctx, "+19999999999", 3); err != nil || m.Exists(l.RedisKey("+19999999999")) {
		t.Fatal(err, m.Keys())
	}
}

func TestLimiterKeysExpireWhenFullAndAreHashed(t *testing.T) {
	m := newMini(t)
	l := testLimiter(t, testClient(t, m.url()))
	ctx := context.Background()
	rate := 1.0 // 1 a second, burst 5: an empty bucket is full after 5s
	for range 2 {
		l.Allow(ctx, "caller:ip:203.0.113.9", rate, 5)
	}
	k := l.RedisKey("caller:ip:203.0.113.9")
	if ttl := m.TTL(k); ttl != 2*time.Second {
		t.Errorf("TTL %v, want the 2s until full", ttl)
	}
	for _, key := range m.Keys() {
		v, _ := m.Get(key)
		if strings.Contains(key, "203.0.113.9") || strings.Contains(v, "203.0.113.9") || !strings.HasPrefix(key, "twilio_sms:r:") {
			t.Errorf("key %q = %q", key, v)
		}
	}
	m.advance(2 * time.Second)
	if m.Exists(k) {
		t.Fatal("full bucket still stored")
	}
	// Refund of the last missing token deletes the bucket (full again).
	l.Allow(ctx, "r", rate, 5)
	l.Refund(ctx, "r", 5)
	if m.Exists(l.RedisKey("r")) {
		t.Error("full bucket kept after refund")
	}
}

func TestLimiterUpdateInPlace(t *testing.T) {
	m := newMini(t)
	l := testLimiter(t, testClient(t, m.url()))
	ctx := context.Background()
	for range 5 {
		l.Allow(ctx, "k", 1.0/60, 5)
	}
	// A reload to 2 a minute, burst 2: the empty bucket stays empty.
	if ok, wait, _ := l.Allow(ctx, "k", 2.0/60, 2); ok || wait != 30*time.Second {
		t.Fatalf("after update: %v %v", ok, wait)
	}
	m.advance(10 * time.Minute)
	n := 0
	for range 5 {
		if ok, _, _ := l.Allow(ctx, "k", 2.0/60, 2); ok {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("new burst: %d allowed, want 2", n)
	}
}

func TestLimiterDisabled(t *testing.T) {
	m := newMini(t)
	l := testLimiter(t, testClient(t, m.url()))
	ctx := context.Background()
	for _, c := range []struct {
		rate  float64
		burst int
	}{{0, 5}, {-1, 5}, {1, 0}} {
		for range 10 {
			if ok, _, err := l.Allow(ctx, "k", c.rate, c.burst); !ok || err != nil {
				t.Fatal(c, ok, err)
			}
		}
	}
	if len(m.Keys()) != 0 {
		t.Fatal("a disabled limiter wrote", m.Keys())
	}
}

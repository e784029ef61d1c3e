package redisstate

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeyOf(t *testing.T) {
	m := newMini(t)
	c := testClient(t, m.url())
	a := testDedup(t, c, DedupConfig{})
	b := testDedup(t, c, DedupConfig{Secret: append([]byte(nil), testSecret...)})
	other := testDedup(t, c, DedupConfig{Secret: []byte("another secret, 16+ bytes")})
	if a.KeyOf("acct", "+15005550006", "code 1") != b.KeyOf("acct", "+15005550006", "code 1") {
		t.Error("same secret, different keys: instances would not share")
	}
	if a.KeyOf("x") == other.KeyOf("x") {
		t.Error("the secret does not change the key")
	}
	if a.KeyOf("ab", "c") == a.KeyOf("a", "bc") {
		t.Error("parts are not length-prefixed")
	}
	if _, err := NewDedup(c, DedupConfig{Secret: []byte("short")}); err == nil {
		t.Error("a short secret was accepted")
	}
	if _, err := NewLimiter(c, LimiterConfig{}); err == nil {
		t.Error("no secret was accepted")
	}
	k := a.RedisKey(a.KeyOf("x"))
	if !strings.HasPrefix(k, "twilio_sms:d:") || len(k) != len("twilio_sms:d:")+64 {
		t.Errorf("redis key %q", k)
	}
}

func TestDoClaimShareAndNoClearText(t *testing.T) {
	m := newMini(t)
	c := testClient(t, m.url())
	d := testDedup(t, c, DedupConfig{})
	ctx := context.Background()
	k := d.KeyOf("account", "AC123", "To=%2B15005550006&Body=Your+code+is+482913")
	runs := 0
	fn := func() Answer { runs++; return Answer{Data: []byte(`{"outcome":"accepted"}`), Tag: "SM0123"} }

	a, shared, err := d.Do(ctx, k, time.Minute, fn)
	if err != nil || shared || runs != 1 || a.Status != Done || string(a.Data) != `{"outcome":"accepted"}` || a.Tag != "SM0123" {
		t.Fatalf("first: %+v %v %v runs %d", a, shared, err, runs)
	}
	if !a.At.Equal(m.now.Truncate(time.Millisecond)) {
		t.Errorf("At %v, server time %v", a.At, m.now)
	}
	b, shared, err := d.Do(ctx, k, time.Minute, fn)
	if err != nil || !shared || runs != 1 || b.Status != Done || string(b.Data) != string(a.Data) || b.Tag != "SM0123" || !b.At.Equal(a.At) {
		t.Fatalf("second: %+v %v %v runs %d", b, shared, err, runs)
	}
	for _, key := range m.Keys() {
		v, _ := m.Get(key)
		for _, clear := range []string{"15005550006", "482913", "AC123", "code"} {
			if strings.Contains(key, clear) || strings.Contains(v, clear) {
				t.Errorf("%q in clear in %q = %q", clear, key, v)
			}
		}
	}
	if ttl := m.TTL(d.RedisKey(k)); ttl != time.Minute {
		t.Errorf("TTL %v, want the window", ttl)
	}
	if ttl := m.TTL(d.tagKey("SM0123")); ttl != time.Minute {
		t.Errorf("tag index TTL %v", ttl)
	}
}

func TestDoWaitersAcrossInstances(t *testing.T) {
	m := newMini(t)
	d1 := testDedup(t, testClient(t, m.url()), DedupConfig{PollInterval: 5 * time.Millisecond})
	d2 := testDedup(t, testClient(t, m.url()), DedupConfig{PollInterval: 5 * time.Millisecond})
	ctx := context.Background()
	k := d1.KeyOf("same request")
	release := make(chan struct{})
	claimed := make(chan struct{})
	var runs atomic.Int32
	fn := func() Answer {
		if runs.Add(1) == 1 {
			close(claimed)
		}
		<-release
		return Answer{Data: []byte("the answer")}
	}
	type res struct {
		a      Answer
		shared bool
		err    error
	}
	out := make(chan res, 21)
	go func() {
		a, s, err := d1.Do(ctx, k, 0, fn) // window 0 still coalesces
		out <- res{a, s, err}
	}()
	<-claimed
	for i := range 20 {
		d := d1
		if i%2 == 1 {
			d = d2
		}
		go func() {
			a, s, err := d.Do(ctx, k, time.Duration(i)*time.Second, fn)
			out <- res{a, s, err}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	first := 0
	for range 21 {
		r := <-out
		if r.err != nil || r.a.Status != Done || string(r.a.Data) != "the answer" {
			t.Fatalf("%+v", r)
		}
		if !r.shared {
			first++
		}
	}
	if runs.Load() != 1 || first != 1 {
		t.Fatalf("fn ran %d times, %d unshared answers", runs.Load(), first)
	}
	// Window 0: a new caller with window 0 sends again, one with a window
	// still gets the answer kept for MinKeep.
	if _, shared, _ := d2.Do(ctx, k, time.Minute, fn); !shared {
		t.Error("answer not kept for MinKeep")
	}
	m.advance(time.Millisecond)
	if _, shared, _ := d2.Do(ctx, k, 0, fn); shared || runs.Load() != 2 {
		t.Error("window 0 reused an answer")
	}
}

func TestDoWindowIsPerCaller(t *testing.T) {
	m := newMini(t)
	d := testDedup(t, testClient(t, m.url()), DedupConfig{})
	ctx := context.Background()
	k := d.KeyOf("w")
	runs := 0
	fn := func() Answer { runs++; return Answer{Data: []byte{byte(runs)}} }
	d.Do(ctx, k, 2*time.Minute, fn)
	m.advance(30 * time.Second)
	if a, shared, _ := d.Do(ctx, k, time.Minute, fn); !shared || a.Data[0] != 1 {
		t.Fatal("answer 30s old not live for a 1m window")
	}
	if a, shared, _ := d.Do(ctx, k, 10*time.Second, fn); shared || runs != 2 || a.Data[0] != 2 {
		t.Fatal("answer 30s old live for a 10s window")
	}
	// The new answer replaced the old one, with the new window.
	if a, shared, _ := d.Do(ctx, k, time.Hour, fn); !shared || a.Data[0] != 2 {
		t.Fatal("replacement not stored")
	}
	if ttl := m.TTL(d.RedisKey(k)); ttl != 10*time.Second {
		t.Errorf("TTL %v, want the new 10s window", ttl)
	}
}

func TestDoExpiry(t *testing.T) {
	m := newMini(t)
	d := testDedup(t, testClient(t, m.url()), DedupConfig{})
	ctx := context.Background()
	k := d.KeyOf("e")
	runs := 0
	fn := func() Answer { runs++; return Answer{} }
	d.Do(ctx, k, time.Minute, fn)
	m.advance(59 * time.Second)
	if _, shared, _ := d.Do(ctx, k, time.Minute, fn); !shared {
		t.Fatal("expired early")
	}
	m.advance(time.Second)
	if m.Exists(d.RedisKey(k)) {
		t.Fatal("entry outlived its window")
	}
	if _, shared, _ := d.Do(ctx, k, time.Minute, fn); shared || runs != 2 {
		t.Fatal("fn not run after expiry")
	}
}

// claimAs makes a claim the way a Do would, for an owner that then dies.
func claimAs(t *testing.T, d *Dedup, k string, token string, lease, window time.Duration) {
	t.Helper()
	res, err := claimScript.Run(context.Background(), d.c.rdb, []string{k}, token, ms(lease), ms(window), ms(lease+max(window, d.cfg.MinKeep)), "").Slice()
	if err != nil {
		t.Fatal(err)
	}
	if claimed, _, _, _ := parseClaim(res); !claimed {
		t.Fatal("not claimed")
	}
}

func TestDoDeadOwnerIsLost(t *testing.T) {
	m := newMini(t)
	d := testDedup(t, testClient(t, m.url()), DedupConfig{PollInterval: 5 * time.Millisecond})
	k := d.KeyOf("dead")
	claimAs(t, d, d.RedisKey(k), "00000000deadbeef", 10*time.Second, time.Minute)
	runs := 0
	fn := func() Answer { runs++; return Answer{Data: []byte("sent")} }

	// While the lease runs: wait, then Pending when the caller's budget ends.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
	a, shared, err := d.Do(ctx, k, time.Minute, fn)
	cancel()
	if err != nil || !shared || a.Status != Pending || runs != 0 {
		t.Fatalf("during the lease: %+v %v %v runs %d", a, shared, err, runs)
	}
	// After the lease: Lost at once, never a licence to send.
	m.advance(10 * time.Second)
	a, shared, err = d.Do(context.Background(), k, time.Minute, fn)
	if err != nil || !shared || a.Status != Lost || runs != 0 || a.Data != nil {
		t.Fatalf("after the lease: %+v %v %v runs %d", a, shared, err, runs)
	}
	// Also for a caller whose window is tiny: a claim is not an answer.
	if a, _, _ := d.Do(context.Background(), k, time.Millisecond, fn); a.Status != Lost || runs != 0 {
		t.Fatalf("tiny window: %+v", a)
	}
	// Forget and MarkFailed leave claims alone.
	d.Forget(context.Background(), k, Answer{})
	if dropped, _ := d.MarkFailed(context.Background(), k, ""); dropped {
		t.Fatal("MarkFailed dropped a claim")
	}
	// The claim blocks for its lease plus the claimer's window, then the key
	// is free.
	m.advance(time.Minute - time.Millisecond)
	if a, _, _ := d.Do(context.Background(), k, time.Minute, fn); a.Status != Lost {
		t.Fatalf("freed early: %+v", a)
	}
	m.advance(time.Millisecond)
	a, shared, err = d.Do(context.Background(), k, time.Minute, fn)
	if err != nil || shared || runs != 1 || a.Status != Done {
		t.Fatalf("after lease+window: %+v %v %v", a, shared, err)
	}
}

func TestDoLateOwnerStillStores(t *testing.T) {
	// An owner that overran its lease (others answered Lost) still stores its
	// answer over its own claim, and later callers get it.
	m := newMini(t)
	d := testDedup(t, testClient(t, m.url()), DedupConfig{LeaseGrace: time.Second, PollInterval: 5 * time.Millisecond})
	k := d.KeyOf("late")
	entered := make(chan struct{})
	release := make(chan struct{})
	done := make(chan Answer)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	go func() {
		a, _, _ := d.Do(ctx, k, time.Minute, func() Answer {
			close(entered)
			<-release
			return Answer{Data: []byte("late")}
		})
		done <- a
	}()
	<-entered
	m.advance(2 * time.Second) // past the lease (50ms budget + 1s grace)
	if a, _, _ := d.Do(context.Background(), k, time.Minute, nil); a.Status != Lost {
		t.Fatalf("%+v", a)
	}
	close(release)
	if a := <-done; a.Status != Done || a.At.IsZero() {
		t.Fatalf("owner: %+v", a)
	}
	if a, shared, _ := d.Do(context.Background(), k, time.Minute, nil); !shared || string(a.Data) != "late" {
		t.Fatalf("after the late answer: %+v", a)
	}
}

func TestDoAnswerStoredAfterCallerCtxEnds(t *testing.T) {
	m := newMini(t)
	d := testDedup(t, testClient(t, m.url()), DedupConfig{})
	k := d.KeyOf("ctx")
	ctx, cancel := context.WithCancel(context.Background())
	a, _, err := d.Do(ctx, k, time.Minute, func() Answer { cancel(); return Answer{Data: []byte("x")} })
	if err != nil || a.At.IsZero() {
		t.Fatalf("%+v %v", a, err)
	}
	if b, shared, _ := d.Do(context.Background(), k, time.Minute, nil); !shared || string(b.Data) != "x" {
		t.Fatalf("%+v", b)
	}
}

func TestForget(t *testing.T) {
	m := newMini(t)
	d := testDedup(t, testClient(t, m.url()), DedupConfig{})
	ctx := context.Background()
	k := d.KeyOf("f")
	runs := 0
	fn := func() Answer { runs++; return Answer{Data: []byte{byte(runs)}} }
	first, _, _ := d.Do(ctx, k, time.Minute, fn)
	if err := d.Forget(ctx, k, first); err != nil {
		t.Fatal(err)
	}
	second, shared, _ := d.Do(ctx, k, time.Minute, fn)
	if shared || runs != 2 {
		t.Fatal("Forget did not free the key")
	}
	// A stale answer's Forget leaves a later send's answer alone.
	d.Forget(ctx, k, first)
	if a, shared, _ := d.Do(ctx, k, time.Minute, fn); !shared || a.Data[0] != 2 {
		t.Fatal("a stale Forget dropped a later answer")
	}
	// A shared answer carries its claim: Forget with it works too.
	shared2, _, _ := d.Do(ctx, k, time.Minute, fn)
	d.Forget(ctx, k, shared2)
	if _, shared, _ := d.Do(ctx, k, time.Minute, fn); shared {
		t.Fatal("Forget with a shared answer did not drop it")
	}
	_ = second
	// A zero Answer drops whatever is stored.
	d.Forget(ctx, k, Answer{})
	if _, shared, _ := d.Do(ctx, k, time.Minute, fn); shared {
		t.Fatal("Forget(zero) did not drop")
	}
}

func TestForgetDoesNotTouchAClaimInProgress(t *testing.T) {
	m := newMini(t)
	d := testDedup(t, testClient(t, m.url()), DedupConfig{PollInterval: 5 * time.Millisecond})
	k := d.KeyOf("inprogress")
	ctx := context.Background()
	entered, release := make(chan struct{}), make(chan struct{})
	go d.Do(ctx, k, time.Minute, func() Answer { close(entered); <-release; return Answer{Data: []byte("one")} })
	<-entered
	d.Forget(ctx, k, Answer{})
	d.MarkFailed(ctx, k, "")
	var wg sync.WaitGroup
	wg.Add(1)
	var got Answer
	go func() {
		defer wg.Done()
		got, _, _ = d.Do(ctx, k, time.Minute, func() Answer { t.Error("second send"); return Answer{} })
	}()
	time.Sleep(30 * time.Millisecond)
	close(release)
	wg.Wait()
	if string(got.Data) != "one" {
		t.Fatalf("%+v", got)
	}
}

func TestMarkFailed(t *testing.T) {
	m := newMini(t)
	d1 := testDedup(t, testClient(t, m.url()), DedupConfig{})
	d2 := testDedup(t, testClient(t, m.url()), DedupConfig{}) // another instance
	ctx := context.Background()
	k := d1.KeyOf("mf")
	runs := 0
	fn := func() Answer { runs++; return Answer{Data: []byte("ok"), Tag: "SM" + strings.Repeat("a", 32)} }
	d1.Do(ctx, k, time.Hour, fn)
	if dropped, err := d2.MarkFailed(ctx, k, "SMother"); dropped || err != nil {
		t.Fatal("dropped with another tag", err)
	}
	if dropped, err := d2.MarkFailed(ctx, k, "SM"+strings.Repeat("a", 32)); !dropped || err != nil {
		t.Fatal("not dropped", err)
	}
	if _, shared, _ := d2.Do(ctx, k, time.Hour, fn); shared || runs != 2 {
		t.Fatal("the identical request after a failure was not sent again")
	}
	// By tag alone (a receipt knows only the SID).
	if dropped, err := d1.MarkFailedTag(ctx, "SMnope"); dropped || err != nil {
		t.Fatal(dropped, err)
	}
	if dropped, err := d1.MarkFailedTag(ctx, "SM"+strings.Repeat("a", 32)); !dropped || err != nil {
		t.Fatal("MarkFailedTag", dropped, err)
	}
	if m.Exists(d1.tagKey("SM" + strings.Repeat("a", 32))) {
		t.Error("tag index left behind")
	}
	if _, shared, _ := d1.Do(ctx, k, time.Hour, fn); shared || runs != 3 {
		t.Fatal("not sent again after MarkFailedTag")
	}
	// Untagged: MarkFailed with "" drops any answer.
	k2 := d1.KeyOf("untagged")
	d1.Do(ctx, k2, time.Hour, func() Answer { return Answer{} })
	if dropped, _ := d1.MarkFailed(ctx, k2, ""); !dropped {
		t.Fatal("untagged not dropped")
	}
	if dropped, _ := d1.MarkFailed(ctx, k2, ""); dropped {
		t.Fatal("dropped twice")
	}
}

func TestDoPanicFreesTheKey(t *testing.T) {
	m := newMini(t)
	d := testDedup(t, testClient(t, m.url()), DedupConfig{})
	ctx := context.Background()
	k := d.KeyOf("p")
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic swallowed")
			}
		}()
		d.Do(ctx, k, time.Minute, func() Answer { panic("boom") })
	}()
	if _, shared, _ := d.Do(ctx, k, time.Minute, func() Answer { return Answer{} }); shared {
		t.Fatal("key still claimed after a panic")
	}
}

func TestDoRedisDown(t *testing.T) {
	m := newMini(t)
	c := testClient(t, m.url())
	d := testDedup(t, c, DedupConfig{PollInterval: 5 * time.Millisecond})
	k := d.KeyOf("down")
	// A waiter that saw a claim: Redis failing under it gives Pending at the
	// end of its budget, never an error that could read as "send locally".
	claimAs(t, d, d.RedisKey(k), "0123456789abcdef", time.Minute, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	go func() { time.Sleep(30 * time.Millisecond); m.Close() }()
	a, shared, err := d.Do(ctx, k, time.Minute, func() Answer { t.Error("sent"); return Answer{} })
	if err != nil || !shared || a.Status != Pending {
		t.Fatalf("waiter: %+v %v %v", a, shared, err)
	}
	// Before any claim was seen: an error, fn not run, shared false.
	ran := false
	a, shared, err = d.Do(context.Background(), d.KeyOf("other"), time.Minute, func() Answer { ran = true; return Answer{} })
	if !errors.Is(err, ErrUnavailable) || shared || ran || a.Status != 0 {
		t.Fatalf("down: %+v %v %v ran %v", a, shared, err, ran)
	}
}

func TestDoStoreFailureAfterSend(t *testing.T) {
	// Redis dies while fn runs: the claimer keeps its answer (it sent), no
	// error, the failure is in Health.
	m := newMini(t)
	c := testClient(t, m.url())
	d := testDedup(t, c, DedupConfig{})
	a, shared, err := d.Do(context.Background(), d.KeyOf("x"), time.Minute, func() Answer {
		m.Close()
		return Answer{Data: []byte("sent")}
	})
	if err != nil || shared || string(a.Data) != "sent" || !a.At.IsZero() {
		t.Fatalf("%+v %v %v", a, shared, err)
	}
	if h := c.Health(); h.Healthy || h.Failures == 0 {
		t.Fatalf("%+v", h)
	}
}

func TestParseEntry(t *testing.T) {
	for _, v := range []string{"", "X0123456789abcdef1767322245000", "D0123456789abcdef1767322245000x:", "D0123456789abcdef17673222450005:ab", "P0123456789abcdefxxxxxxxxxxxxx"} {
		if _, err := parseEntry(v); err == nil {
			t.Errorf("parseEntry(%q) accepted", v)
		}
	}
	e, err := parseEntry("D0123456789abcdef17673222450002:SMdata:with:colons")
	if err != nil || e.tag != "SM" || string(e.data) != "data:with:colons" || e.ms != 1767322245000 {
		t.Fatalf("%+v %v", e, err)
	}
}

func TestCompleteIgnoresBackoff(t *testing.T) {
	// Redis fails while fn runs (the client starts backing off), then is
	// back: the answer of the send is still stored.
	m := newMini(t)
	c, err := Open(m.url(), Options{CallTimeout: 2 * time.Second, Backoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := testDedup(t, c, DedupConfig{})
	k := d.KeyOf("b")
	a, _, err := d.Do(context.Background(), k, time.Minute, func() Answer {
		m.SetError("LOADING")
		for range FailuresToBackOff {
			c.Ping(context.Background())
		}
		if !c.Health().BackingOff {
			t.Error("not backing off")
		}
		m.SetError("")
		return Answer{Data: []byte("sent")}
	})
	if err != nil || a.At.IsZero() {
		t.Fatalf("answer not stored: %+v %v", a, err)
	}
	v, _ := m.Get(d.RedisKey(k))
	if !strings.HasSuffix(v, "sent") {
		t.Fatalf("stored %q", v)
	}
}

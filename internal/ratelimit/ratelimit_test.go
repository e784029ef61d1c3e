package ratelimit

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestLimiter(rate float64, burst, maxKeys int) (*Limiter, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	l := New(rate, burst, maxKeys)
	l.SetClock(clock.Now)
	return l, clock
}

func TestAllow(t *testing.T) {
	type step struct {
		advance time.Duration
		key     string
		ok      bool
		retry   time.Duration
	}
	tests := []struct {
		name  string
		rate  float64
		burst int
		steps []step
	}{
		{name: "burst then one per second", rate: 1, burst: 3, steps: []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0},
			{0, "a", false, time.Second},
			{500 * time.Millisecond, "a", false, 500 * time.Millisecond},
			{500 * time.Millisecond, "a", true, 0},
			{0, "a", false, time.Second},
		}},
		{name: "keys are independent", rate: 1, burst: 1, steps: []step{
			{0, "a", true, 0}, {0, "a", false, time.Second}, {0, "b", true, 0}, {0, "b", false, time.Second},
		}},
		{name: "refill is capped at the burst", rate: 10, burst: 2, steps: []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {time.Hour, "a", true, 0}, {0, "a", true, 0}, {0, "a", false, 100 * time.Millisecond},
		}},
		{name: "one per minute", rate: 1.0 / 60, burst: 1, steps: []step{
			{0, "a", true, 0}, {0, "a", false, time.Minute}, {59 * time.Second, "a", false, time.Second}, {time.Second, "a", true, 0},
		}},
		{name: "denied requests do not take tokens", rate: 1, burst: 1, steps: []step{
			{0, "a", true, 0}, {0, "a", false, time.Second}, {0, "a", false, time.Second}, {time.Second, "a", true, 0},
		}},
		{name: "a clock stepping back refills nothing", rate: 1, burst: 1, steps: []step{
			{0, "a", true, 0}, {-time.Hour, "a", false, time.Second}, {time.Hour + time.Second, "a", true, 0},
		}},
		{name: "disabled by a zero rate", rate: 0, burst: 1, steps: []step{{0, "a", true, 0}, {0, "a", true, 0}}},
		{name: "disabled by a zero burst", rate: 1, burst: 0, steps: []step{{0, "a", true, 0}, {0, "a", true, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clock := newTestLimiter(tt.rate, tt.burst, 100)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				ok, retry := l.Allow(s.key)
				// retryAfter rounds up: allow float noise of a microsecond above.
				if ok != s.ok || retry < s.retry || retry > s.retry+time.Microsecond {
					t.Fatalf("step %d: Allow(%q) = %t, %v; want %t, %v", i, s.key, ok, retry, s.ok, s.retry)
				}
			}
		})
	}
}

func TestRefund(t *testing.T) {
	type step struct {
		advance time.Duration
		op      string // "allow", "refund" or "peek"
		key     string
		ok      bool
		retry   time.Duration
	}
	allow := func(key string, ok bool, retry time.Duration) step { return step{0, "allow", key, ok, retry} }
	refund := func(key string) step { return step{op: "refund", key: key} }
	tests := []struct {
		name  string
		rate  float64
		burst int
		steps []step
	}{
		{name: "five failed sends refunded leave the full burst", rate: 1.0 / 60, burst: 5, steps: []step{
			allow("a", true, 0), refund("a"), allow("a", true, 0), refund("a"), allow("a", true, 0), refund("a"),
			allow("a", true, 0), refund("a"), allow("a", true, 0), refund("a"),
			allow("a", true, 0), allow("a", true, 0), allow("a", true, 0), allow("a", true, 0), allow("a", true, 0),
			allow("a", false, time.Minute),
		}},
		{name: "never beyond the burst", rate: 1, burst: 2, steps: []step{
			refund("a"), allow("a", true, 0), refund("a"), refund("a"), refund("a"),
			allow("a", true, 0), allow("a", true, 0), allow("a", false, time.Second),
		}},
		{name: "a refund after refilling is capped too", rate: 1, burst: 1, steps: []step{
			allow("a", true, 0), {time.Second, "refund", "a", false, 0}, allow("a", true, 0), allow("a", false, time.Second),
		}},
		{name: "an unknown key is not created", rate: 1, burst: 1, steps: []step{
			refund("b"), allow("b", true, 0), allow("b", false, time.Second),
		}},
		{name: "refunds are per key", rate: 1, burst: 1, steps: []step{
			allow("a", true, 0), allow("b", true, 0), refund("a"), allow("a", true, 0), allow("b", false, time.Second),
		}},
		{name: "peek takes nothing", rate: 1, burst: 1, steps: []step{
			{0, "peek", "a", true, 0}, {0, "peek", "a", true, 0}, allow("a", true, 0),
			{0, "peek", "a", false, time.Second}, {500 * time.Millisecond, "peek", "a", false, 500 * time.Millisecond},
			{500 * time.Millisecond, "peek", "a", true, 0}, allow("a", true, 0),
		}},
		{name: "disabled", rate: 0, burst: 1, steps: []step{refund("a"), {0, "peek", "a", true, 0}, allow("a", true, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clock := newTestLimiter(tt.rate, tt.burst, 100)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				var ok bool
				var retry time.Duration
				switch s.op {
				case "refund":
					l.Refund(s.key)
					continue
				case "peek":
					ok, retry = l.Peek(s.key)
				default:
					ok, retry = l.Allow(s.key)
				}
				if ok != s.ok || retry < s.retry || retry > s.retry+time.Microsecond {
					t.Fatalf("step %d: %s(%q) = %t, %v; want %t, %v", i, s.op, s.key, ok, retry, s.ok, s.retry)
				}
			}
			if tt.name == "an unknown key is not created" || tt.name == "peek takes nothing" {
				if l.Len() != 1 {
					t.Fatalf("Len = %d", l.Len())
				}
			}
		})
	}
}

func TestConcurrentRefund(t *testing.T) {
	l, _ := newTestLimiter(1e-9, 5, 100)
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if ok, _ := l.Allow("+14155550100"); ok {
					l.Refund("+14155550100") // the send failed: nothing was spent
					return
				}
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	for i := range 5 {
		if ok, _ := l.Allow("+14155550100"); !ok {
			t.Fatalf("token %d of the burst was spent by refunded attempts", i)
		}
	}
	if ok, _ := l.Allow("+14155550100"); ok {
		t.Fatal("more than the burst")
	}
}

func TestUpdate(t *testing.T) {
	type step struct {
		advance time.Duration
		update  bool // apply rate and burst
		rate    float64
		burst   int
		ok      bool // for an Allow("a") when !update
		retry   time.Duration
	}
	allow := func(advance time.Duration, ok bool, retry time.Duration) step {
		return step{advance: advance, ok: ok, retry: retry}
	}
	update := func(rate float64, burst int) step { return step{update: true, rate: rate, burst: burst} }
	tests := []struct {
		name  string
		rate  float64
		burst int
		steps []step
	}{
		{name: "a spent bucket stays spent across a reload", rate: 1, burst: 2, steps: []step{
			allow(0, true, 0), allow(0, true, 0), update(1, 2), allow(0, false, time.Second),
		}},
		{name: "a smaller burst clamps the tokens", rate: 1, burst: 10, steps: []step{
			allow(0, true, 0), update(1, 2), allow(0, true, 0), allow(0, true, 0), allow(0, false, time.Second),
		}},
		{name: "a larger burst does not add tokens", rate: 1, burst: 2, steps: []step{
			allow(0, true, 0), allow(0, true, 0), update(1, 10), allow(0, false, time.Second), allow(3*time.Second, true, 0),
		}},
		{name: "the old rate applies until the update", rate: 1, burst: 5, steps: []step{
			allow(0, true, 0), allow(0, true, 0), allow(0, true, 0), allow(0, true, 0), allow(0, true, 0),
			{advance: 2 * time.Second, update: true, rate: 0.1, burst: 5}, // 2 tokens earned at 1/s
			allow(0, true, 0), allow(0, true, 0), allow(0, false, 10*time.Second),
		}},
		{name: "the new rate applies after the update", rate: 1, burst: 1, steps: []step{
			allow(0, true, 0), update(0.5, 1), allow(0, false, 2*time.Second), allow(2*time.Second, true, 0),
		}},
		{name: "disable then enable starts afresh", rate: 1, burst: 1, steps: []step{
			allow(0, true, 0), update(0, 1), allow(0, true, 0), allow(0, true, 0), update(1, 1), allow(0, true, 0), allow(0, false, time.Second),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clock := newTestLimiter(tt.rate, tt.burst, 100)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				if s.update {
					l.Update(s.rate, s.burst)
					continue
				}
				ok, retry := l.Allow("a")
				if ok != s.ok || retry < s.retry || retry > s.retry+time.Microsecond {
					t.Fatalf("step %d: Allow = %t, %v; want %t, %v", i, ok, retry, s.ok, s.retry)
				}
			}
		})
	}
}

func TestBoundedMemory(t *testing.T) {
	t.Run("least recently used key is evicted", func(t *testing.T) {
		l, clock := newTestLimiter(1, 1, 2)
		l.Allow("a")
		clock.Advance(100 * time.Millisecond)
		l.Allow("b")
		clock.Advance(100 * time.Millisecond)
		l.Allow("a") // a is now more recent than b
		l.Allow("c") // evicts b
		if l.Len() != 2 || l.Evicted() != 1 {
			t.Fatalf("Len = %d, Evicted = %d", l.Len(), l.Evicted())
		}
		if ok, _ := l.Allow("a"); ok {
			t.Fatal("a was evicted instead of b")
		}
		if ok, _ := l.Allow("b"); !ok {
			t.Fatal("b should start afresh after its eviction")
		}
	})
	t.Run("idle full buckets are swept", func(t *testing.T) {
		l, clock := newTestLimiter(1, 5, 1000)
		for i := range 100 {
			l.Allow(fmt.Sprint(i))
		}
		clock.Advance(4 * time.Second)
		l.Allow("fresh")
		if l.Len() != 101 {
			t.Fatalf("Len = %d before the buckets are full again", l.Len())
		}
		clock.Advance(time.Second) // the first 100 are full now
		l.Allow("fresher")
		if l.Len() != 2 || l.Evicted() != 0 {
			t.Fatalf("Len = %d, Evicted = %d after the sweep", l.Len(), l.Evicted())
		}
	})
	t.Run("a flood of keys stays within maxKeys", func(t *testing.T) {
		l, _ := newTestLimiter(1, 1, 50)
		for i := range 10000 {
			l.Allow(fmt.Sprint(i))
		}
		if l.Len() != 50 {
			t.Fatalf("Len = %d", l.Len())
		}
	})
}

func TestConcurrentBurst(t *testing.T) {
	l, _ := newTestLimiter(1, 50, 100)
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, _ := l.Allow("+14155550100"); ok {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 50 {
		t.Fatalf("%d allowed, want the burst of 50", allowed.Load())
	}
}

func TestTinyRateDoesNotOverflow(t *testing.T) {
	l, _ := newTestLimiter(1e-15, 1, 10)
	l.Allow("a")
	if ok, retry := l.Allow("a"); ok || retry <= 0 {
		t.Fatalf("Allow = %t, %v", ok, retry)
	}
}

func BenchmarkAllow(b *testing.B) {
	l := New(1e9, 1<<30, 1000)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(keys[i%len(keys)])
		i++
	}
}

package ratelimit

import (
	"fmt"
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

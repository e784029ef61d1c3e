package dedup

import (
	"bytes"
	"context"
	"errors"
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

func newTestCache(window time.Duration, max int) (*Cache, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	c := New(window, max)
	c.SetClock(clock.Now)
	return c, clock
}

func TestKeyOf(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		same bool
	}{
		{"deterministic", []string{"+14155550100", "code 493817"}, []string{"+14155550100", "code 493817"}, true},
		{"length prefix separates parts", []string{"ab", "c"}, []string{"a", "bc"}, false},
		{"empty part counts", []string{"a"}, []string{"a", ""}, false},
		{"order matters", []string{"a", "b"}, []string{"b", "a"}, false},
		{"different text", []string{"+14155550100", "code 493817"}, []string{"+14155550100", "code 493818"}, false},
		{"no parts", nil, []string{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KeyOf(tt.a...) == KeyOf(tt.b...); got != tt.same {
				t.Fatalf("KeyOf(%q) == KeyOf(%q) is %t, want %t", tt.a, tt.b, got, tt.same)
			}
		})
	}
	t.Run("no plaintext in the key", func(t *testing.T) {
		k := KeyOf("493817")
		if bytes.Contains(k[:], []byte("493817")) || k.String() == "" || len(k.String()) != 12 {
			t.Fatalf("key %x", k)
		}
	})
	t.Run("no allocation", func(t *testing.T) {
		if raceEnabled {
			t.Skip("sync.Pool drops items under the race detector")
		}
		KeyOf("warm", "up")
		if n := testing.AllocsPerRun(100, func() { _ = KeyOf("+14155550100", "Your code is 493817") }); n != 0 {
			t.Fatalf("KeyOf allocates %v times", n)
		}
	})
	t.Run("long parts", func(t *testing.T) {
		long := string(bytes.Repeat([]byte("x"), 100<<10))
		if KeyOf(long) != KeyOf(long) || KeyOf(long) == KeyOf(long+"x") {
			t.Fatal("long parts")
		}
	})
}

func TestDoOnceFor100Goroutines(t *testing.T) {
	c, _ := newTestCache(time.Minute, 100)
	k := KeyOf("+14155550100", "Your code is 493817")
	var runs atomic.Int32
	started := make(chan struct{})
	unblock := make(chan struct{})
	var firsts atomic.Int32
	var wg sync.WaitGroup
	results := make(chan any, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, shared := c.Do(context.Background(), k, func() any {
				if runs.Add(1) == 1 {
					close(started)
				}
				<-unblock
				return "SM123"
			})
			if !shared {
				firsts.Add(1)
			}
			results <- v
		}()
	}
	<-started
	time.Sleep(10 * time.Millisecond) // let the others pile up behind the first
	close(unblock)
	wg.Wait()
	close(results)
	if runs.Load() != 1 || firsts.Load() != 1 {
		t.Fatalf("fn ran %d times, %d callers not shared", runs.Load(), firsts.Load())
	}
	for v := range results {
		if v != "SM123" {
			t.Fatalf("got %v", v)
		}
	}
}

func TestDoWindow(t *testing.T) {
	tests := []struct {
		name       string
		window     time.Duration
		advance    time.Duration
		wantRuns   int
		wantShared bool
	}{
		{"repost within the window gets the first answer", time.Minute, 59 * time.Second, 1, true},
		{"repost after the window runs again", time.Minute, time.Minute, 2, false},
		{"no window: nothing remembered", 0, 0, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clock := newTestCache(tt.window, 10)
			k := KeyOf("a")
			runs := 0
			fn := func() any { runs++; return runs }
			if v, shared := c.Do(context.Background(), k, fn); v != 1 || shared {
				t.Fatalf("first Do = %v, %t", v, shared)
			}
			clock.Advance(tt.advance)
			v, shared := c.Do(context.Background(), k, fn)
			if runs != tt.wantRuns || shared != tt.wantShared || v != tt.wantRuns {
				t.Fatalf("second Do = %v, %t; runs %d, want %d runs and shared %t", v, shared, runs, tt.wantRuns, tt.wantShared)
			}
		})
	}
}

func TestDoWindowStartsWhenFnReturns(t *testing.T) {
	c, clock := newTestCache(time.Minute, 10)
	k := KeyOf("a")
	c.Do(context.Background(), k, func() any { clock.Advance(2 * time.Minute); return "slow" })
	clock.Advance(59 * time.Second)
	if v, shared := c.Do(context.Background(), k, func() any { return "again" }); v != "slow" || !shared {
		t.Fatalf("Do = %v, %t", v, shared)
	}
}

func TestDoWaiterContext(t *testing.T) {
	c, _ := newTestCache(time.Minute, 10)
	k := KeyOf("a")
	started, unblock := make(chan struct{}), make(chan struct{})
	firstDone := make(chan any)
	go func() {
		v, _ := c.Do(context.Background(), k, func() any { close(started); <-unblock; return "SM1" })
		firstDone <- v
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	v, shared := c.Do(ctx, k, func() any { ran = true; return "SM2" })
	if v != nil || !shared || ran {
		t.Fatalf("waiter got %v, %t (ran fn: %t); want nil, true without running fn", v, shared, ran)
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("the waiter returned before its deadline")
	}
	close(unblock)
	if v := <-firstDone; v != "SM1" {
		t.Fatalf("first caller got %v", v)
	}
	if v, shared := c.Do(context.Background(), k, func() any { return "SM3" }); v != "SM1" || !shared {
		t.Fatalf("after completion: %v, %t", v, shared)
	}
}

func TestDoPanic(t *testing.T) {
	c, _ := newTestCache(time.Minute, 10)
	k := KeyOf("a")
	started, unblock := make(chan struct{}), make(chan struct{})
	waiter := make(chan any)
	go func() {
		defer func() { _ = recover() }()
		c.Do(context.Background(), k, func() any { close(started); <-unblock; panic("boom") })
	}()
	<-started
	go func() {
		v, _ := c.Do(context.Background(), k, func() any { return "should not run" })
		waiter <- v
	}()
	time.Sleep(10 * time.Millisecond) // the waiter is (almost surely) waiting now
	close(unblock)
	got := <-waiter
	switch got {
	case nil: // waited, and the first caller panicked: no answer
		if v, shared := c.Do(context.Background(), k, func() any { return "retry" }); v != "retry" || shared {
			t.Fatalf("the key is not free after the panic: %v, %t", v, shared)
		}
	case "should not run": // arrived after the panic freed the key: ran fn itself
	default:
		t.Fatalf("waiter got %v", got)
	}
}

func TestEviction(t *testing.T) {
	c, clock := newTestCache(time.Minute, 2)
	one := func(v any) func() any { return func() any { return v } }
	for _, s := range []string{"a", "b", "c"} {
		c.Do(context.Background(), KeyOf(s), one(s))
		clock.Advance(time.Second)
	}
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
	tests := []struct {
		key        string
		wantShared bool
	}{
		{"c", true}, {"b", true}, {"a", false}, // a, the oldest, was evicted
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if _, shared := c.Do(context.Background(), KeyOf(tt.key), one("new")); shared != tt.wantShared {
				t.Fatalf("shared = %t, want %t", shared, tt.wantShared)
			}
		})
	}
	clock.Advance(2 * time.Minute)
	if c.Len() != 0 {
		t.Fatalf("Len = %d after the window, want 0", c.Len())
	}
}

func TestInFlightIsNeverEvicted(t *testing.T) {
	c, _ := newTestCache(time.Minute, 1)
	k := KeyOf("slow")
	started, unblock := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		c.Do(context.Background(), k, func() any { close(started); <-unblock; return 1 })
		close(done)
	}()
	<-started
	for _, s := range []string{"x", "y", "z"} {
		c.Do(context.Background(), KeyOf(s), func() any { return s })
	}
	ran := false
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, shared := c.Do(ctx, k, func() any { ran = true; return 2 }); !shared || ran {
		t.Fatal("an in-flight key was evicted and ran twice")
	}
	close(unblock)
	<-done
}

func TestForget(t *testing.T) {
	c, _ := newTestCache(time.Minute, 10)
	k := KeyOf("a")
	c.Do(context.Background(), k, func() any { return "not sent" })
	c.Forget(k)
	c.Forget(KeyOf("unknown"))
	if v, shared := c.Do(context.Background(), k, func() any { return "sent" }); v != "sent" || shared {
		t.Fatalf("after Forget: %v, %t", v, shared)
	}
}

func TestConcurrentKeys(t *testing.T) {
	c := New(time.Minute, 50)
	var runs [20]atomic.Int32
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := i % 20
			c.Do(context.Background(), KeyOf("k", string(rune('a'+n))), func() any { runs[n].Add(1); return n })
		}()
	}
	wg.Wait()
	for n := range runs {
		if runs[n].Load() != 1 {
			t.Fatalf("key %d ran %d times", n, runs[n].Load())
		}
	}
	if c.Len() != 20 {
		t.Fatalf("Len = %d", c.Len())
	}
}

func BenchmarkKeyOf(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = KeyOf("caller-1", "+14155550100", "Your login code is 493817")
	}
}

func BenchmarkDoHit(b *testing.B) {
	c := New(time.Hour, 100)
	k := KeyOf("a")
	c.Do(context.Background(), k, func() any { return 1 })
	b.ReportAllocs()
	for b.Loop() {
		c.Do(context.Background(), k, func() any { return 2 })
	}
}

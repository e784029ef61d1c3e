package dedup

import (
	"bytes"
	"context"
	"errors"
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

func newTestCache(max int) (*Cache, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	c := New(max)
	c.SetClock(clock.Now)
	return c, clock
}

// do is Do for tests that expect no error.
func do(t testing.TB, c *Cache, ctx context.Context, k Key, window time.Duration, fn func() any) (any, bool) {
	t.Helper()
	v, shared, err := c.Do(ctx, k, window, fn)
	if err != nil {
		t.Errorf("Do: %v", err)
	}
	return v, shared
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

const minute = time.Minute

func TestDoOnceFor100Goroutines(t *testing.T) {
	c, _ := newTestCache(100)
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
			v, shared := do(t, c, context.Background(), k, minute, func() any {
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
		register   []time.Duration // windows registered before the first Do
		first      time.Duration   // the first caller's window
		advance    time.Duration
		second     time.Duration // the second caller's window
		wantRuns   int
		wantShared bool
	}{
		{name: "repost within the window gets the first answer", first: minute, advance: 59 * time.Second, second: minute, wantRuns: 1, wantShared: true},
		{name: "repost after the window runs again", first: minute, advance: minute, second: minute, wantRuns: 2},
		{name: "no window: nothing remembered", first: 0, advance: 0, second: 0, wantRuns: 2},
		{name: "a shorter window of the second caller applies", register: []time.Duration{minute, 10 * time.Second},
			first: minute, advance: 10 * time.Second, second: 10 * time.Second, wantRuns: 2},
		{name: "a longer window of the second caller applies to a live answer", register: []time.Duration{10 * time.Second, minute},
			first: 10 * time.Second, advance: 30 * time.Second, second: minute, wantRuns: 1, wantShared: true},
		{name: "a window changed by a reload applies to a live answer", register: []time.Duration{time.Hour},
			first: 10 * time.Second, advance: 50 * time.Minute, second: time.Hour, wantRuns: 1, wantShared: true},
		{name: "the horizon bounds a longer window", register: []time.Duration{10 * time.Second},
			first: 10 * time.Second, advance: 30 * time.Second, second: minute, wantRuns: 2},
		{name: "nothing registered: kept for the largest window passed to Do", first: 0, advance: 30 * time.Second, second: minute, wantRuns: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clock := newTestCache(10)
			for _, w := range tt.register {
				c.Register(w)
			}
			k := KeyOf("a")
			runs := 0
			fn := func() any { runs++; return runs }
			if v, shared := do(t, c, context.Background(), k, tt.first, fn); v != 1 || shared {
				t.Fatalf("first Do = %v, %t", v, shared)
			}
			clock.Advance(tt.advance)
			v, shared := do(t, c, context.Background(), k, tt.second, fn)
			if runs != tt.wantRuns || shared != tt.wantShared || v != tt.wantRuns {
				t.Fatalf("second Do = %v, %t; runs %d, want %d runs and shared %t", v, shared, runs, tt.wantRuns, tt.wantShared)
			}
		})
	}
}

func TestDoWindowStartsWhenFnReturns(t *testing.T) {
	c, clock := newTestCache(10)
	k := KeyOf("a")
	do(t, c, context.Background(), k, minute, func() any { clock.Advance(2 * minute); return "slow" })
	clock.Advance(59 * time.Second)
	if v, shared := do(t, c, context.Background(), k, minute, func() any { return "again" }); v != "slow" || !shared {
		t.Fatalf("Do = %v, %t", v, shared)
	}
}

func TestDoWaiterContext(t *testing.T) {
	c, _ := newTestCache(10)
	k := KeyOf("a")
	started, unblock := make(chan struct{}), make(chan struct{})
	firstDone := make(chan any)
	go func() {
		v, _ := do(t, c, context.Background(), k, minute, func() any { close(started); <-unblock; return "SM1" })
		firstDone <- v
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	v, shared := do(t, c, ctx, k, minute, func() any { ran = true; return "SM2" })
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
	if v, shared := do(t, c, context.Background(), k, minute, func() any { return "SM3" }); v != "SM1" || !shared {
		t.Fatalf("after completion: %v, %t", v, shared)
	}
}

func TestDoPanic(t *testing.T) {
	c, _ := newTestCache(10)
	k := KeyOf("a")
	started, unblock := make(chan struct{}), make(chan struct{})
	waiter := make(chan any)
	go func() {
		defer func() { _ = recover() }()
		c.Do(context.Background(), k, minute, func() any { close(started); <-unblock; panic("boom") })
	}()
	<-started
	go func() {
		v, _ := do(t, c, context.Background(), k, minute, func() any { return "should not run" })
		waiter <- v
	}()
	time.Sleep(10 * time.Millisecond) // the waiter is (almost surely) waiting now
	close(unblock)
	got := <-waiter
	switch got {
	case nil: // waited, and the first caller panicked: no answer
		if v, shared := do(t, c, context.Background(), k, minute, func() any { return "retry" }); v != "retry" || shared {
			t.Fatalf("the key is not free after the panic: %v, %t", v, shared)
		}
	case "should not run": // arrived after the panic freed the key: ran fn itself
	default:
		t.Fatalf("waiter got %v", got)
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d", c.Len())
	}
}

// TestNeverEvictedEarly is the product's re-post: however many other messages
// go through, an answer is kept for its whole window, and a full cache refuses
// new keys instead.
func TestNeverEvictedEarly(t *testing.T) {
	type step struct {
		advance    time.Duration
		key        string
		wantRun    bool
		wantShared bool
		wantFull   time.Duration // RetryAfter of a *FullError, 0 for no error
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{name: "a re-post 4s later is suppressed after a flood", max: 3, steps: []step{
			{0, "a", true, false, 0}, {time.Second, "b", true, false, 0}, {time.Second, "c", true, false, 0},
			{0, "d", false, false, 58 * time.Second}, // full: d is not sent
			{0, "e", false, false, 58 * time.Second},
			{2 * time.Second, "a", false, true, 0}, // 4s after a: the first answer
		}},
		{name: "room again once the oldest is swept", max: 2, steps: []step{
			{0, "a", true, false, 0}, {10 * time.Second, "b", true, false, 0},
			{20 * time.Second, "c", false, false, 30 * time.Second},
			{30 * time.Second, "c", true, false, 0}, // a swept at 60s
			{0, "b", false, true, 0},
			{0, "d", false, false, 10 * time.Second},
		}},
		{name: "a full cache still answers known keys", max: 1, steps: []step{
			{0, "a", true, false, 0}, {0, "b", false, false, minute}, {30 * time.Second, "a", false, true, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clock := newTestCache(tt.max)
			defer c.Register(minute)()
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				ran := false
				_, shared, err := c.Do(context.Background(), KeyOf(s.key), minute, func() any { ran = true; return s.key })
				var fe *FullError
				switch {
				case s.wantFull == 0 && err != nil:
					t.Fatalf("step %d (%s): %v", i, s.key, err)
				case s.wantFull != 0 && (!errors.Is(err, ErrFull) || !errors.As(err, &fe) || fe.RetryAfter != s.wantFull):
					t.Fatalf("step %d (%s): err %v, want ErrFull with RetryAfter %v", i, s.key, err, s.wantFull)
				}
				if ran != s.wantRun || shared != s.wantShared {
					t.Fatalf("step %d (%s): ran %t shared %t, want %t and %t", i, s.key, ran, shared, s.wantRun, s.wantShared)
				}
				if c.Len() > tt.max {
					t.Fatalf("step %d: Len %d above the cap %d", i, c.Len(), tt.max)
				}
			}
		})
	}
}

func TestFullOfSendsInProgress(t *testing.T) {
	c, _ := newTestCache(1)
	started, unblock := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		do(t, c, context.Background(), KeyOf("slow"), minute, func() any { close(started); <-unblock; return 1 })
		close(done)
	}()
	<-started
	ran := false
	_, _, err := c.Do(context.Background(), KeyOf("other"), minute, func() any { ran = true; return 2 })
	var fe *FullError
	if ran || !errors.As(err, &fe) || fe.RetryAfter != FullRetryAfter {
		t.Fatalf("ran %t, err %v", ran, err)
	}
	close(unblock)
	<-done
}

func TestRegisterHorizon(t *testing.T) {
	type step struct {
		op      string // "register", "release", "send" or "wait"
		window  time.Duration
		horizon time.Duration // wanted after the step
		len     int           // wanted after the step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "swept at the largest registered window", steps: []step{
			{"register", 10 * time.Second, 10 * time.Second, 0}, {"register", minute, minute, 0},
			{"send", 10 * time.Second, minute, 1}, {"wait", 30 * time.Second, minute, 1}, {"wait", 30 * time.Second, minute, 0},
		}},
		{name: "a reload that shrinks the window", steps: []step{
			{"register", minute, minute, 0}, {"send", minute, minute, 1}, {"wait", 20 * time.Second, minute, 1},
			{"register", 10 * time.Second, minute, 1}, {"release", minute, 10 * time.Second, 0},
		}},
		{name: "nothing registered: the largest window ever", steps: []step{
			{"register", minute, minute, 0}, {"release", minute, minute, 0},
			{"send", 10 * time.Second, minute, 1}, {"wait", 59 * time.Second, minute, 1}, {"wait", time.Second, minute, 0},
		}},
		{name: "nothing ever registered: the largest window passed to Do", steps: []step{
			{"send", 0, 0, 0}, {"send", minute, minute, 1}, {"send", 10 * time.Second, minute, 2},
			{"wait", minute, minute, 0},
		}},
		{name: "only zero windows keep nothing", steps: []step{
			{"register", 0, 0, 0}, {"send", 0, 0, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clock := newTestCache(10)
			releases := map[time.Duration]func(){}
			for i, s := range tt.steps {
				switch s.op {
				case "register":
					releases[s.window] = c.Register(s.window)
				case "release":
					releases[s.window]()
					releases[s.window]() // a second call is a no-op
				case "send":
					do(t, c, context.Background(), KeyOf(fmt.Sprint(i)), s.window, func() any { return i })
				case "wait":
					clock.Advance(s.window)
				}
				if h, n := c.Horizon(), c.Len(); h != s.horizon || n != s.len {
					t.Fatalf("step %d (%s %v): horizon %v, Len %d; want %v and %d", i, s.op, s.window, h, n, s.horizon, s.len)
				}
			}
		})
	}
}

func TestInFlightIsNeverEvicted(t *testing.T) {
	c, _ := newTestCache(4)
	k := KeyOf("slow")
	started, unblock := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		do(t, c, context.Background(), k, 0, func() any { close(started); <-unblock; return 1 })
		close(done)
	}()
	<-started
	for _, s := range []string{"x", "y", "z"} {
		do(t, c, context.Background(), KeyOf(s), 0, func() any { return s })
	}
	ran := false
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, shared := do(t, c, ctx, k, 0, func() any { ran = true; return 2 }); !shared || ran {
		t.Fatal("an in-flight key was evicted and ran twice")
	}
	close(unblock)
	<-done
}

func TestForget(t *testing.T) {
	c, _ := newTestCache(10)
	k := KeyOf("a")
	do(t, c, context.Background(), k, minute, func() any { return "not sent" })
	c.Forget(k)
	c.Forget(KeyOf("unknown"))
	if v, shared := do(t, c, context.Background(), k, minute, func() any { return "sent" }); v != "sent" || shared {
		t.Fatalf("after Forget: %v, %t", v, shared)
	}
}

func TestConcurrentKeys(t *testing.T) {
	c := New(50)
	var runs [20]atomic.Int32
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := i % 20
			do(t, c, context.Background(), KeyOf("k", string(rune('a'+n))), minute, func() any { runs[n].Add(1); return n })
		}()
	}
	wg.Wait()
	for n := range runs {
		if runs[n].Load() != 1 {
			t.Fatalf("key %d ran %d times", n, runs[n].Load())
		}
	}
	if c.Len() != 20 || c.Max() != 50 || New(0).Max() != DefaultMaxEntries {
		t.Fatalf("Len = %d, Max = %d", c.Len(), c.Max())
	}
}

func BenchmarkKeyOf(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = KeyOf("caller-1", "+14155550100", "Your login code is 493817")
	}
}

func BenchmarkDoHit(b *testing.B) {
	c := New(100)
	k := KeyOf("a")
	c.Do(context.Background(), k, time.Hour, func() any { return 1 })
	b.ReportAllocs()
	for b.Loop() {
		c.Do(context.Background(), k, time.Hour, func() any { return 2 })
	}
}

// BenchmarkDoMiss also reports the memory held per remembered key.
func BenchmarkDoMiss(b *testing.B) {
	c := New(b.N + 1)
	keys := make([]Key, b.N)
	for i := range keys {
		keys[i] = KeyOf(fmt.Sprint(i))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := range keys {
		c.Do(context.Background(), keys[i], time.Hour, func() any { return nil })
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heapB/key")
	runtime.KeepAlive(c)
}

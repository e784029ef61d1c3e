package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the test times out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLimiterCapUnderLoad(t *testing.T) {
	const (
		goroutines = 500
		capacity   = 8
	)
	l := NewLimiter(capacity, goroutines)
	var cur, peak, done atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			release, err := l.Acquire(context.Background())
			if err != nil {
				t.Errorf("Acquire: %v", err)
				return
			}
			n := cur.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			if in := l.InFlight(); in > capacity {
				t.Errorf("InFlight = %d > %d", in, capacity)
			}
			time.Sleep(50 * time.Microsecond)
			cur.Add(-1)
			release()
			release() // a second call is a no-op
			done.Add(1)
		}()
	}
	close(start)
	wg.Wait()
	if p := peak.Load(); p > capacity || p < 1 {
		t.Fatalf("peak concurrency %d, want 1..%d", p, capacity)
	}
	if done.Load() != goroutines || l.InFlight() != 0 || l.Waiting() != 0 {
		t.Fatalf("done=%d inFlight=%d waiting=%d", done.Load(), l.InFlight(), l.Waiting())
	}
}

func TestLimiterShedsBeyondQueue(t *testing.T) {
	const goroutines = 500
	l := NewLimiter(4, 16)
	hold := make(chan struct{})
	var ok, shed atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := l.Acquire(context.Background())
			switch {
			case errors.Is(err, ErrQueueFull):
				shed.Add(1)
				return
			case err != nil:
				t.Errorf("Acquire: %v", err)
				return
			}
			ok.Add(1)
			<-hold
			release()
		}()
	}
	// Until hold is closed, exactly 4 run and 16 wait: everyone else is shed.
	waitFor(t, "shedding", func() bool { return shed.Load() == goroutines-4-16 })
	if l.InFlight() != 4 || l.Waiting() != 16 {
		t.Fatalf("inFlight=%d waiting=%d", l.InFlight(), l.Waiting())
	}
	close(hold)
	wg.Wait()
	if ok.Load() != 20 || shed.Load() != goroutines-20 {
		t.Fatalf("ok=%d shed=%d", ok.Load(), shed.Load())
	}
}

func TestLimiterWait(t *testing.T) {
	tests := []struct {
		name  string
		queue int
		ctx   func() (context.Context, context.CancelFunc)
		want  error
	}{
		{name: "no queue fails fast", queue: 0, ctx: func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }, want: ErrQueueFull},
		{name: "deadline while waiting", queue: 1, ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 20*time.Millisecond)
		}, want: context.DeadlineExceeded},
		{name: "cancel while waiting", queue: 1, ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(10*time.Millisecond, cancel)
			return ctx, cancel
		}, want: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter(1, tt.queue)
			release, err := l.Acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := tt.ctx()
			defer cancel()
			if _, err := l.Acquire(ctx); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if l.Waiting() != 0 || l.InFlight() != 1 {
				t.Fatalf("waiting=%d inFlight=%d after giving up", l.Waiting(), l.InFlight())
			}
			release()
			if l.InFlight() != 0 {
				t.Fatalf("inFlight=%d after release", l.InFlight())
			}
		})
	}
}

func TestLimiterFIFO(t *testing.T) {
	l := NewLimiter(1, 10)
	release, _ := l.Acquire(context.Background())
	order := make(chan int, 5)
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := l.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			order <- i
			r()
		}()
		waitFor(t, "waiter in line", func() bool { return l.Waiting() == i+1 })
	}
	release()
	wg.Wait()
	close(order)
	want := 0
	for got := range order {
		if got != want {
			t.Fatalf("granted %d, want %d", got, want)
		}
		want++
	}
}

func TestLimiterAIMD(t *testing.T) {
	type step struct {
		concurrent int
		got429     bool
		wantLimit  int
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{name: "halve and grow back", max: 16, steps: []step{
			{0, true, 8}, {0, true, 4}, {0, false, 5}, {0, false, 6}, {0, true, 3}, {0, true, 1}, {0, true, 1}, {0, false, 2},
		}},
		{name: "never above max", max: 2, steps: []step{{0, false, 2}, {0, false, 2}}},
		{name: "header below the cap", max: 100, steps: []step{{10, true, 5}, {0, false, 6}, {40, true, 3}}},
		{name: "header above the cap is ignored", max: 8, steps: []step{{100, true, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter(tt.max, 0)
			for i, s := range tt.steps {
				l.Observe(s.concurrent, s.got429)
				if got := l.Limit(); got != s.wantLimit {
					t.Fatalf("step %d: Limit = %d, want %d", i, got, s.wantLimit)
				}
			}
		})
	}
}

func TestLimiterShrinkThenGrowWakesWaiters(t *testing.T) {
	l := NewLimiter(2, 10)
	r1, _ := l.Acquire(context.Background())
	r2, _ := l.Acquire(context.Background())
	l.Observe(0, true) // cap 1 with 2 in flight
	got := make(chan struct{})
	go func() {
		r, err := l.Acquire(context.Background())
		if err == nil {
			r()
		}
		close(got)
	}()
	waitFor(t, "waiter", func() bool { return l.Waiting() == 1 })
	r1() // 1 in flight, cap 1: still waiting
	select {
	case <-got:
		t.Fatal("granted above the reduced cap")
	case <-time.After(20 * time.Millisecond):
	}
	l.Observe(0, false) // cap 2: the waiter goes
	<-got
	r2()
}

// enqueue starts a goroutine that waits for a slot as caller and, once
// granted, records its label in order and releases at once. It returns when
// the waiter is in line.
func enqueue(t *testing.T, l *Limiter, wg *sync.WaitGroup, caller, label string, order chan<- string, errs chan<- string) {
	t.Helper()
	before := l.Waiting()
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx := context.Background()
		if caller != "" {
			ctx = WithCaller(ctx, caller)
		}
		r, err := l.Acquire(ctx)
		if err != nil {
			errs <- label
			return
		}
		order <- label
		r()
	}()
	waitFor(t, "waiter "+label+" in line", func() bool { return l.Waiting() > before || len(errs) > 0 })
}

func TestLimiterFairness(t *testing.T) {
	type batch struct {
		caller string
		n      int
	}
	tests := []struct {
		name    string
		batches []batch
		// wantWithin: every waiter of caller is granted within the first
		// wantWithin grants.
		caller     string
		wantWithin int
		wantOrder  []string // when set, the exact grant order
	}{
		{name: "a flood of 50 does not starve 5 of another caller", batches: []batch{{"A", 50}, {"B", 5}}, caller: "B", wantWithin: 10},
		{name: "requests without a key share one lane", batches: []batch{{"", 50}, {"B", 5}}, caller: "B", wantWithin: 10},
		{name: "round-robin across three callers, FIFO within each", batches: []batch{{"A", 3}, {"B", 2}, {"C", 1}},
			wantOrder: []string{"A0", "B0", "C0", "A1", "B1", "A2"}},
		{name: "one caller is FIFO", batches: []batch{{"A", 4}}, wantOrder: []string{"A0", "A1", "A2", "A3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter(1, 100)
			release, _ := l.Acquire(context.Background())
			order, errs := make(chan string, 100), make(chan string, 100)
			var wg sync.WaitGroup
			for _, b := range tt.batches {
				for i := range b.n {
					enqueue(t, l, &wg, b.caller, fmt.Sprintf("%s%d", b.caller, i), order, errs)
				}
			}
			release()
			wg.Wait()
			close(order)
			close(errs)
			for e := range errs {
				t.Fatalf("waiter %s failed", e)
			}
			var got []string
			for s := range order {
				got = append(got, s)
			}
			if tt.wantOrder != nil && !slices.Equal(got, tt.wantOrder) {
				t.Fatalf("grant order %v, want %v", got, tt.wantOrder)
			}
			if tt.caller != "" {
				n := 0
				for i, s := range got {
					if strings.HasPrefix(s, tt.caller) {
						n++
						if i >= tt.wantWithin {
							t.Fatalf("%s granted %dth, want within the first %d: %v", s, i+1, tt.wantWithin, got)
						}
					}
				}
				if n == 0 {
					t.Fatal("the caller was never granted")
				}
			}
		})
	}
}

func TestLimiterQueuePushOut(t *testing.T) {
	type batch struct {
		caller string
		n      int
	}
	tests := []struct {
		name     string
		queue    int
		batches  []batch
		wantShed []string // labels that get ErrQueueFull, in order
		wantLen  map[string]int
	}{
		{name: "a flood cannot fill the queue against another caller", queue: 8,
			batches:  []batch{{"A", 8}, {"B", 5}},
			wantShed: []string{"A7", "A6", "A5", "A4", "B4"}, wantLen: map[string]int{"A": 4, "B": 4}},
		{name: "one caller alone is shed at the queue's end", queue: 4,
			batches: []batch{{"A", 6}}, wantShed: []string{"A4", "A5"}, wantLen: map[string]int{"A": 4}},
		{name: "the anonymous lane is a caller too", queue: 4,
			batches: []batch{{"", 4}, {"B", 1}}, wantShed: []string{"3"}, wantLen: map[string]int{"": 3, "B": 1}},
		{name: "the longest lane gives way", queue: 6,
			batches:  []batch{{"A", 2}, {"B", 4}, {"C", 2}},
			wantShed: []string{"B3", "B2"}, wantLen: map[string]int{"A": 2, "B": 2, "C": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter(1, tt.queue)
			release, _ := l.Acquire(context.Background())
			order, errs := make(chan string, 100), make(chan string, 100)
			var wg sync.WaitGroup
			var shed []string
			for _, b := range tt.batches {
				for i := range b.n {
					// enqueue returns once the waiter is in line (Waiting grew)
					// or someone was shed: the newcomer, or a waiter it pushed out.
					enqueue(t, l, &wg, b.caller, fmt.Sprintf("%s%d", b.caller, i), order, errs)
					select {
					case e := <-errs:
						shed = append(shed, e)
					default:
					}
				}
			}
			if !slices.Equal(shed, tt.wantShed) {
				t.Fatalf("shed %v, want %v", shed, tt.wantShed)
			}
			l.mu.Lock()
			for caller, n := range tt.wantLen {
				if ln := l.lanes[caller]; ln == nil || ln.waiters.Len() != n {
					t.Errorf("lane %q has %v waiters, want %d", caller, ln, n)
				}
			}
			l.mu.Unlock()
			if l.Waiting() > tt.queue {
				t.Fatalf("Waiting = %d above the queue of %d", l.Waiting(), tt.queue)
			}
			release()
			wg.Wait()
			if l.Waiting() != 0 || l.InFlight() != 0 || len(l.lanes) != 0 || l.ring.Len() != 0 {
				t.Fatalf("waiting=%d inFlight=%d lanes=%d ring=%d at the end", l.Waiting(), l.InFlight(), len(l.lanes), l.ring.Len())
			}
		})
	}
}

func TestLimiterCallerGivesUp(t *testing.T) {
	l := NewLimiter(1, 10)
	release, _ := l.Acquire(context.Background())
	order, errs := make(chan string, 10), make(chan string, 10)
	var wg sync.WaitGroup
	enqueue(t, l, &wg, "A", "A0", order, errs)
	ctx, cancel := context.WithCancel(WithCaller(context.Background(), "B"))
	gaveUp := make(chan error)
	go func() {
		_, err := l.Acquire(ctx)
		gaveUp <- err
	}()
	waitFor(t, "B in line", func() bool { return l.Waiting() == 2 })
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	l.mu.Lock()
	if l.waiting != 1 || len(l.lanes) != 1 || l.ring.Len() != 1 {
		t.Errorf("waiting=%d lanes=%d ring=%d after B gave up", l.waiting, len(l.lanes), l.ring.Len())
	}
	l.mu.Unlock()
	release()
	wg.Wait()
	if got := <-order; got != "A0" {
		t.Fatalf("granted %s", got)
	}
}

func TestLimiterUpdate(t *testing.T) {
	tests := []struct {
		name                  string
		max, queue            int
		shrink                bool // a 429 first
		newMax, newQueue      int
		wantLimit, wantMax    int
		wantGranted, wantShed int // of 6 waiters queued before the update (queue 6)
	}{
		{name: "a larger cap grants waiters at once", max: 1, queue: 6, newMax: 4, newQueue: 6, wantLimit: 4, wantMax: 4, wantGranted: 3},
		{name: "a smaller cap", max: 8, queue: 6, newMax: 2, newQueue: 6, wantLimit: 2, wantMax: 2},
		{name: "a lowered limit stays lowered", max: 8, queue: 6, shrink: true, newMax: 16, newQueue: 6, wantLimit: 4, wantMax: 16},
		{name: "a lowered limit is clamped", max: 8, queue: 6, shrink: true, newMax: 2, newQueue: 6, wantLimit: 2, wantMax: 2},
		{name: "a smaller queue keeps its waiters", max: 1, queue: 6, newMax: 1, newQueue: 2, wantLimit: 1, wantMax: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter(tt.max, tt.queue)
			if tt.shrink {
				l.Observe(0, true)
			}
			var releases []func()
			for l.InFlight() < l.Limit() {
				r, _ := l.Acquire(context.Background())
				releases = append(releases, r)
			}
			var granted atomic.Int32
			hold := make(chan struct{})
			var wg sync.WaitGroup
			for i := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := l.Acquire(context.Background())
					if err != nil {
						t.Errorf("waiter %d: %v", i, err)
						return
					}
					granted.Add(1)
					<-hold
					r()
				}()
				waitFor(t, "waiter in line", func() bool { return l.Waiting() == i+1 })
			}
			l.Update(tt.newMax, tt.newQueue)
			if l.Limit() != tt.wantLimit || l.Max() != tt.wantMax {
				t.Fatalf("Limit %d Max %d, want %d and %d", l.Limit(), l.Max(), tt.wantLimit, tt.wantMax)
			}
			waitFor(t, "grants", func() bool { return int(granted.Load()) == tt.wantGranted })
			if l.Waiting() != 6-tt.wantGranted {
				t.Fatalf("Waiting = %d", l.Waiting())
			}
			if tt.newQueue < 6 {
				if _, err := l.Acquire(context.Background()); !errors.Is(err, ErrQueueFull) {
					t.Fatalf("a newcomer beyond the smaller queue got %v", err)
				}
			}
			close(hold)
			for _, r := range releases {
				r()
			}
			wg.Wait()
			if l.InFlight() != 0 || l.Waiting() != 0 {
				t.Fatalf("inFlight=%d waiting=%d", l.InFlight(), l.Waiting())
			}
		})
	}
}

func TestWithCaller(t *testing.T) {
	type otherKey struct{}
	base, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "v"))
	defer cancel()
	ctx := WithCaller(base, "alice")
	if CallerOf(ctx) != "alice" || CallerOf(base) != "" || CallerOf(context.Background()) != "" {
		t.Errorf("CallerOf = %q, %q", CallerOf(ctx), CallerOf(base))
	}
	if ctx.Value(otherKey{}) != "v" {
		t.Error("the parent's values are lost")
	}
	inner := WithCaller(context.WithValue(ctx, otherKey{}, "w"), "bob")
	if CallerOf(inner) != "bob" {
		t.Errorf("the innermost caller is %q, want bob", CallerOf(inner))
	}
	if s := fmt.Sprint(ctx); strings.Contains(s, "alice") {
		t.Errorf("the context prints its caller key: %s", s)
	}
	child, stop := context.WithTimeout(ctx, time.Hour)
	defer stop()
	cancel()
	select {
	case <-child.Done():
	case <-time.After(time.Second):
		t.Fatal("a context derived from WithCaller is not canceled with its parent")
	}
	if ctx.Err() == nil || CallerOf(child) != "alice" {
		t.Errorf("err %v, caller %q", ctx.Err(), CallerOf(child))
	}
}

package dispatch

import (
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)} }

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

func TestBreakerTransitions(t *testing.T) {
	type op int
	const (
		fail op = iota
		succeed
		cancel
		denied  // Allow must say no
		advance // 10s
	)
	tests := []struct {
		name  string
		ops   []op
		state BreakerState
	}{
		{name: "closed below the threshold", ops: []op{fail, fail}, state: BreakerClosed},
		{name: "success resets the count", ops: []op{fail, fail, succeed, fail, fail}, state: BreakerClosed},
		{name: "opens on the third failure", ops: []op{fail, fail, fail, denied}, state: BreakerOpen},
		{name: "stays open during the cooldown", ops: []op{fail, fail, fail, advance, advance, denied}, state: BreakerOpen},
		{name: "half-open after the cooldown", ops: []op{fail, fail, fail, advance, advance, advance}, state: BreakerHalfOpen},
		{name: "probe success closes", ops: []op{fail, fail, fail, advance, advance, advance, succeed}, state: BreakerClosed},
		{name: "probe failure reopens", ops: []op{fail, fail, fail, advance, advance, advance, fail, denied}, state: BreakerOpen},
		{name: "reopened breaker waits a full cooldown", ops: []op{fail, fail, fail, advance, advance, advance, fail, advance, advance, denied}, state: BreakerOpen},
		{name: "cancelled probe lets another through", ops: []op{fail, fail, fail, advance, advance, advance, cancel, succeed}, state: BreakerClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			b := NewBreaker(3, 30*time.Second, clock.Now)
			for i, o := range tt.ops {
				switch o {
				case advance:
					clock.Advance(10 * time.Second)
					continue
				case denied:
					if _, ok := b.Allow(); ok {
						t.Fatalf("op %d: Allow = true, want false (state %s)", i, b.State())
					}
					continue
				}
				tk, ok := b.Allow()
				if !ok {
					t.Fatalf("op %d: Allow = false (state %s)", i, b.State())
				}
				switch o {
				case fail:
					tk.Failure()
				case succeed:
					tk.Success()
				case cancel:
					tk.Cancel()
				}
			}
			if got := b.State(); got != tt.state {
				t.Fatalf("State = %s, want %s", got, tt.state)
			}
		})
	}
}

func TestBreakerExactlyOneProbe(t *testing.T) {
	clock := newFakeClock()
	b := NewBreaker(1, time.Second, clock.Now)
	tk, _ := b.Allow()
	tk.Failure()
	clock.Advance(time.Second)
	var mu sync.Mutex
	allowed := 0
	var probe Ticket
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tk, ok := b.Allow(); ok {
				mu.Lock()
				allowed++
				probe = tk
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 1 {
		t.Fatalf("%d probes allowed, want exactly 1", allowed)
	}
	probe.Success()
	if b.State() != BreakerClosed {
		t.Fatalf("State = %s after the probe succeeded", b.State())
	}
}

func TestBreakerStaleTicketsIgnored(t *testing.T) {
	clock := newFakeClock()
	b := NewBreaker(2, time.Second, clock.Now)
	slow, _ := b.Allow() // starts while closed, ends much later
	for range 2 {
		tk, _ := b.Allow()
		tk.Failure()
	}
	if b.State() != BreakerOpen {
		t.Fatalf("State = %s, want open", b.State())
	}
	slow.Success() // from before the breaker opened: must not close it
	if b.State() != BreakerOpen {
		t.Fatalf("a stale ticket changed the state to %s", b.State())
	}
	clock.Advance(time.Second)
	probe, ok := b.Allow()
	if !ok {
		t.Fatal("no probe after the cooldown")
	}
	slow.Failure() // stale again: must not reopen
	if b.State() != BreakerHalfOpen {
		t.Fatalf("State = %s, want half_open", b.State())
	}
	probe.Success()
	if b.State() != BreakerClosed {
		t.Fatalf("State = %s, want closed", b.State())
	}
	var zero Ticket
	zero.Success() // no breaker: no-op
	zero.Failure()
	zero.Cancel()
}

func TestBreakerUpdate(t *testing.T) {
	tests := []struct {
		name      string
		failures  int // before the update, threshold 3, cooldown 30s
		threshold int
		cooldown  time.Duration
		then      func(t *testing.T, b *Breaker, clock *fakeClock)
	}{
		{name: "failures counted so far are kept", failures: 2, threshold: 5, cooldown: 30 * time.Second,
			then: func(t *testing.T, b *Breaker, clock *fakeClock) {
				for range 2 {
					tk, _ := b.Allow()
					tk.Failure()
				}
				if b.State() != BreakerClosed {
					t.Fatalf("opened at 4 failures with a threshold of 5")
				}
				tk, _ := b.Allow()
				tk.Failure()
				if b.State() != BreakerOpen {
					t.Fatalf("State = %s at 5 failures", b.State())
				}
			}},
		{name: "a lower threshold opens on the next failure", failures: 2, threshold: 1, cooldown: 30 * time.Second,
			then: func(t *testing.T, b *Breaker, clock *fakeClock) {
				if b.State() != BreakerClosed {
					t.Fatal("opened without a failure")
				}
				tk, _ := b.Allow()
				tk.Failure()
				if b.State() != BreakerOpen {
					t.Fatalf("State = %s", b.State())
				}
			}},
		{name: "an open breaker keeps its state with the new cooldown", failures: 3, threshold: 3, cooldown: 5 * time.Second,
			then: func(t *testing.T, b *Breaker, clock *fakeClock) {
				if _, ok := b.Allow(); ok {
					t.Fatal("the update closed an open breaker")
				}
				clock.Advance(5 * time.Second)
				if _, ok := b.Allow(); !ok || b.State() != BreakerHalfOpen {
					t.Fatalf("no probe after the new cooldown: %s", b.State())
				}
			}},
		{name: "defaults", failures: 0, threshold: 0, cooldown: 0,
			then: func(t *testing.T, b *Breaker, clock *fakeClock) {
				if b.threshold != 5 || b.cooldown != 30*time.Second {
					t.Fatalf("threshold %d cooldown %v", b.threshold, b.cooldown)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			b := NewBreaker(3, 30*time.Second, clock.Now)
			for range tt.failures {
				tk, _ := b.Allow()
				tk.Failure()
			}
			b.Update(tt.threshold, tt.cooldown)
			tt.then(t, b, clock)
		})
	}
}

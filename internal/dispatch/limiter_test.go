package dispatch

import (
	"context"
	"errors"
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

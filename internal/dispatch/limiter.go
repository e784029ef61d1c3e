package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrQueueFull is returned by Limiter.Acquire when the wait queue is full: the
// request is shed at once instead of piling up behind a slow account.
var ErrQueueFull = errors.New("too many requests waiting for this account")

// Limiter caps the requests in flight to one Twilio account and queues a
// bounded number of waiters in FIFO order.
//
// The cap adapts (AIMD): a 429 halves it, never below 1, and each other answer
// grows it back by one up to the configured maximum, so a burst turns into a
// steady flow that Twilio's per-account concurrency limit accepts. Requests
// already in flight are never interrupted when the cap shrinks; new ones wait.
//
// A Limiter is safe for concurrent use.
type Limiter struct {
	mu       sync.Mutex
	max      int // configured cap
	limit    int // effective cap, 1..max
	inFlight int
	queue    int       // maximum waiters
	waiters  []*waiter // FIFO
}

type waiter struct {
	ready   chan struct{} // closed when granted
	granted bool          // set under mu together with the close
}

// NewLimiter returns a limiter allowing max requests in flight (at least 1) and
// queue waiting ones (0 means none: fail fast when the cap is reached).
func NewLimiter(max, queue int) *Limiter {
	max = cmpMax(max, 1)
	return &Limiter{max: max, limit: max, queue: cmpMax(queue, 0)}
}

func cmpMax(a, b int) int {
	if a < b {
		return b
	}
	return a
}

// Acquire takes a slot, waiting in line if the cap is reached. It fails at once
// with ErrQueueFull when the queue is full, and with ctx's error if ctx ends
// first. On success release must be called exactly once; extra calls are no-ops.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	if err := l.acquire(ctx, time.Time{}); err != nil {
		return nil, err
	}
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			l.release()
		}
	}, nil
}

// acquire is Acquire without the release closure. A non-zero stopAt also ends
// the wait (with an error matching context.DeadlineExceeded) at that time.
func (l *Limiter) acquire(ctx context.Context, stopAt time.Time) error {
	l.mu.Lock()
	if l.inFlight < l.limit && len(l.waiters) == 0 {
		l.inFlight++
		l.mu.Unlock()
		return nil
	}
	if len(l.waiters) >= l.queue {
		l.mu.Unlock()
		return ErrQueueFull
	}
	if err := ctx.Err(); err != nil {
		l.mu.Unlock()
		return err
	}
	w := &waiter{ready: make(chan struct{})}
	l.waiters = append(l.waiters, w)
	l.mu.Unlock()

	var timeout <-chan time.Time
	if !stopAt.IsZero() {
		t := time.NewTimer(time.Until(stopAt))
		defer t.Stop()
		timeout = t.C
	}
	var err error
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-timeout:
		err = errWaitBudget
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.granted { // granted while we were giving up: pass the slot on
		l.inFlight--
		l.grantLocked()
		return err
	}
	for i, x := range l.waiters {
		if x == w {
			l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
			break
		}
	}
	return err
}

var errWaitBudget = fmt.Errorf("no slot before the time left for an attempt ran out: %w", ErrNoBudget)

func (l *Limiter) release() {
	l.mu.Lock()
	l.inFlight--
	l.grantLocked()
	l.mu.Unlock()
}

// grantLocked hands free slots to waiters in arrival order.
func (l *Limiter) grantLocked() {
	for l.inFlight < l.limit && len(l.waiters) > 0 {
		w := l.waiters[0]
		copy(l.waiters, l.waiters[1:])
		l.waiters[len(l.waiters)-1] = nil
		l.waiters = l.waiters[:len(l.waiters)-1]
		l.inFlight++
		w.granted = true
		close(w.ready)
	}
}

// Observe adapts the cap to one answer from Twilio. On a 429 the cap becomes
// half of the smaller of the current cap and Twilio-Concurrent-Requests (when
// the header was present), never below 1: the header is what the account was
// actually running when Twilio refused, which may be far below our cap when the
// account is shared. Any other answer grows the cap by one, up to the maximum.
func (l *Limiter) Observe(concurrentHeader int, got429 bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if got429 {
		base := l.limit
		if concurrentHeader > 0 && concurrentHeader < base {
			base = concurrentHeader
		}
		l.limit = cmpMax(base/2, 1)
		return
	}
	if l.limit < l.max {
		l.limit++
		l.grantLocked()
	}
}

// InFlight is the number of slots taken.
func (l *Limiter) InFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight
}

// Waiting is the number of requests in the queue.
func (l *Limiter) Waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.waiters)
}

// Limit is the current effective cap.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

// Max is the configured cap.
func (l *Limiter) Max() int { return l.max }

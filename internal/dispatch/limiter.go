package dispatch

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrQueueFull is returned by Limiter.Acquire when the wait queue is full: the
// request is shed at once instead of piling up behind a slow account (or later,
// when a waiter gives its place to another caller's). Nothing was sent.
var ErrQueueFull = errors.New("too many requests waiting for this account")

// WithCaller returns a copy of ctx carrying the identity of the calling
// product or client (for example its hashed Basic user name or address). A
// Limiter serves its waiters round-robin by this key. Requests without a key
// share one lane, as if they came from one caller.
func WithCaller(ctx context.Context, key string) context.Context {
	if ctx == nil {
		panic("cannot create context from nil parent")
	}
	return &callerCtx{Context: ctx, key: key}
}

// CallerOf returns the caller key set by WithCaller, "" if none.
func CallerOf(ctx context.Context) string {
	if c, ok := ctx.Value(callerCtxKey{}).(*callerCtx); ok {
		return c.key
	}
	return ""
}

type callerCtxKey struct{}

// callerCtx is context.WithValue(ctx, callerCtxKey{}, key) in one allocation
// instead of two (WithValue also boxes the string into an interface): its
// Value answers the key with the context itself.
type callerCtx struct {
	context.Context
	key string
}

func (c *callerCtx) Value(k any) any {
	if _, ok := k.(callerCtxKey); ok {
		return c
	}
	return c.Context.Value(k)
}

// String names the context without the caller key.
func (c *callerCtx) String() string { return "dispatch.WithCaller" }

// Limiter caps the requests in flight to one Twilio account and queues a
// bounded number of waiters.
//
// Waiters are grouped in lanes by caller (WithCaller) and served round-robin:
// one waiter of each waiting caller in turn, FIFO within one caller, so that a
// caller flooding the account cannot starve the others. When the queue is
// full, a caller with fewer waiters than the longest lane still gets in: the
// newest waiter of the longest lane is shed (it gets ErrQueueFull, and nothing
// was sent) to make room.
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
	queue    int // maximum waiters
	waiting  int
	lanes    map[string]*lane // by caller key, only lanes with waiters
	ring     list.List        // of *lane with waiters; the front is served next
}

// lane is the FIFO of one caller's waiters.
type lane struct {
	key     string
	waiters list.List // of *waiter, oldest first
	elem    *list.Element
}

type waiter struct {
	ready   chan struct{} // closed when granted or shed
	granted bool          // set under mu before the close
	shed    bool          // pushed out of a full queue, set under mu before the close
	lane    *lane
	elem    *list.Element
}

// NewLimiter returns a limiter allowing max requests in flight (at least 1) and
// queue waiting ones (0 means none: fail fast when the cap is reached).
func NewLimiter(max, queue int) *Limiter {
	max = cmpMax(max, 1)
	return &Limiter{max: max, limit: max, queue: cmpMax(queue, 0), lanes: make(map[string]*lane)}
}

func cmpMax(a, b int) int {
	if a < b {
		return b
	}
	return a
}

// Update changes the configured cap and the queue size in place, as a config
// reload does: requests in flight and waiters keep their places. An effective
// cap that AIMD has lowered stays lowered (within the new maximum); one at the
// old maximum moves to the new one. Waiters beyond a smaller queue keep
// waiting; newcomers are shed until the queue has room again.
func (l *Limiter) Update(max, queue int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	max, queue = cmpMax(max, 1), cmpMax(queue, 0)
	if l.limit == l.max || l.limit > max {
		l.limit = max
	}
	l.max, l.queue = max, queue
	l.grantLocked()
}

// Acquire takes a slot, waiting in line if the cap is reached. It fails at once
// with ErrQueueFull when the queue is full, later with ErrQueueFull if another
// caller's waiter takes its place in the queue, and with ctx's error if ctx
// ends first. On success release must be called exactly once; extra calls are
// no-ops.
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
	if l.inFlight < l.limit && l.waiting == 0 {
		l.inFlight++
		l.mu.Unlock()
		return nil
	}
	key := CallerOf(ctx)
	if l.waiting >= l.queue && (ctx.Err() != nil || !l.pushOutLocked(key)) {
		l.mu.Unlock()
		return ErrQueueFull
	}
	if err := ctx.Err(); err != nil {
		l.mu.Unlock()
		return err
	}
	w := &waiter{ready: make(chan struct{})}
	l.enqueueLocked(key, w)
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
		if w.shed {
			return ErrQueueFull
		}
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-timeout:
		err = errWaitBudget
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case w.granted: // granted while we were giving up: pass the slot on
		l.inFlight--
		l.grantLocked()
	case !w.shed:
		l.dequeueLocked(w)
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

// enqueueLocked appends w to its caller's lane, opening the lane at the back
// of the ring if the caller had no waiter.
func (l *Limiter) enqueueLocked(key string, w *waiter) {
	ln := l.lanes[key]
	if ln == nil {
		ln = &lane{key: key}
		ln.elem = l.ring.PushBack(ln)
		l.lanes[key] = ln
	}
	w.lane = ln
	w.elem = ln.waiters.PushBack(w)
	l.waiting++
}

// dequeueLocked removes w from its lane, closing the lane if it empties.
func (l *Limiter) dequeueLocked(w *waiter) {
	ln := w.lane
	ln.waiters.Remove(w.elem)
	w.lane, w.elem = nil, nil
	l.waiting--
	if ln.waiters.Len() == 0 {
		l.ring.Remove(ln.elem)
		delete(l.lanes, ln.key)
	}
}

// pushOutLocked makes room in a full queue for a waiter of key, by shedding
// the newest waiter of the longest lane, if key's lane would still be shorter
// than that lane was. It reports whether there is room now.
func (l *Limiter) pushOutLocked(key string) bool {
	if l.queue == 0 {
		return false
	}
	own := 0
	if ln := l.lanes[key]; ln != nil {
		own = ln.waiters.Len()
	}
	var longest *lane
	for e := l.ring.Front(); e != nil; e = e.Next() {
		if ln := e.Value.(*lane); longest == nil || ln.waiters.Len() > longest.waiters.Len() {
			longest = ln
		}
	}
	if longest == nil || own+1 >= longest.waiters.Len() {
		return false
	}
	w := longest.waiters.Back().Value.(*waiter)
	l.dequeueLocked(w)
	w.shed = true
	close(w.ready)
	return true
}

// grantLocked hands free slots to waiters: the oldest waiter of the lane at
// the front of the ring, whose lane then goes to the back.
func (l *Limiter) grantLocked() {
	for l.inFlight < l.limit && l.waiting > 0 {
		ln := l.ring.Front().Value.(*lane)
		w := ln.waiters.Front().Value.(*waiter)
		l.dequeueLocked(w)
		if ln.waiters.Len() > 0 {
			l.ring.MoveToBack(ln.elem)
		}
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
	return l.waiting
}

// Limit is the current effective cap.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

// Max is the configured cap.
func (l *Limiter) Max() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}

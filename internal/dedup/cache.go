package dedup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultMaxEntries is used when New is given maxEntries < 1.
const DefaultMaxEntries = 100000

// FullRetryAfter is the RetryAfter reported when the cache is full of sends
// still in progress, whose end is not known.
const FullRetryAfter = time.Second

// ErrFull is matched (errors.Is) by the error Do returns when the cache holds
// maxEntries keys and the key is not one of them: fn was not run. Nothing was
// sent, and nothing may be sent unprotected: answer "try again later" (HTTP
// 503 with a Retry-After of the *FullError's RetryAfter).
var ErrFull = errors.New("duplicate suppression cache is full")

// FullError is the error of a Do refused because the cache is full. It matches
// ErrFull.
type FullError struct {
	// RetryAfter is how long until the oldest remembered answer is swept and
	// frees a place, or FullRetryAfter when every place is held by a send in
	// progress. It is at least one nanosecond.
	RetryAfter time.Duration
}

func (e *FullError) Error() string {
	return fmt.Sprintf("%v: try again in %v", ErrFull, e.RetryAfter)
}

// Is makes errors.Is(err, ErrFull) true.
func (e *FullError) Is(target error) bool { return target == ErrFull }

// Cache runs a function once per key and remembers its answer for a window
// given by each caller. The zero Cache is not usable; call New. A Cache is safe
// for concurrent use.
//
// One Cache is meant to serve every route of a process and to outlive config
// reloads, so windows are per call, not per cache:
//
//   - An answer is live for a caller while now < completedAt + the caller's
//     window (the window passed to Do), so a changed window applies at once to
//     answers already remembered.
//   - Answers are kept until completedAt + the sweep horizon: the largest
//     window currently registered with Register or, while nothing is
//     registered, the largest window ever registered or passed to Do. Register
//     every window you pass to Do: an answer is never swept before the horizon
//     ends, but a caller's window larger than the horizon is honoured only up
//     to it.
//   - Nothing is forgotten before it is swept: at most maxEntries keys (answers
//     remembered plus sends in progress) are held, and at that cap Do refuses
//     new keys with a *FullError instead of forgetting an answer whose
//     duplicate could then be sent again.
//
// Memory is about 250 bytes per key plus the answers themselves, so the
// default cap of DefaultMaxEntries keys costs about 25 MB plus answers. Size
// maxEntries above the peak rate of distinct sends times the horizon.
type Cache struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	entries map[Key]*entry
	// Completed entries form a list in completion order, oldest first: the
	// sweep order.
	head, tail *entry

	windows map[time.Duration]int // registered windows and their counts
	horizon time.Duration         // sweep horizon, see the type's doc
	maxEver time.Duration         // largest window ever registered or passed to Do
}

type entry struct {
	key         Key
	done        chan struct{} // closed when v is final
	v           any
	completed   bool
	completedAt time.Time
	prev, next  *entry
}

// New returns a cache holding at most maxEntries keys (DefaultMaxEntries when
// < 1). Nothing is remembered until a window is registered or passed to Do.
func New(maxEntries int) *Cache {
	if maxEntries < 1 {
		maxEntries = DefaultMaxEntries
	}
	return &Cache{max: maxEntries, now: time.Now, entries: make(map[Key]*entry), windows: make(map[time.Duration]int)}
}

// SetClock replaces the clock (tests). Call it before the cache is used.
func (c *Cache) SetClock(now func() time.Time) { c.now = now }

// Register declares that callers will pass window to Do, typically once per
// route at provisioning, and returns the function that withdraws it (at
// cleanup; extra calls are no-ops). The sweep horizon is the largest window
// registered; registering the new windows of a reload before releasing the
// old ones keeps every answer for as long as either needs it.
func (c *Cache) Register(window time.Duration) (release func()) {
	c.mu.Lock()
	c.windows[window]++
	c.maxEver = max(c.maxEver, window)
	c.setHorizonLocked()
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			if c.windows[window]--; c.windows[window] <= 0 {
				delete(c.windows, window)
			}
			c.setHorizonLocked()
			c.mu.Unlock()
		})
	}
}

// Horizon is the current sweep horizon: how long after its completion an
// answer is kept (see the type's doc).
func (c *Cache) Horizon() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.horizon
}

func (c *Cache) setHorizonLocked() {
	if len(c.windows) == 0 {
		c.horizon = c.maxEver
		return
	}
	c.horizon = 0
	for w := range c.windows {
		c.horizon = max(c.horizon, w)
	}
}

// Do returns the answer for k, running fn only if no answer is live for this
// caller or being produced.
//
//   - The first caller for k runs fn itself, synchronously, and gets (v, false, nil).
//   - Callers that arrive while fn runs wait for it and get (v, true, nil); they
//     never run fn themselves, whatever their window.
//   - Callers within their window after fn returned get the remembered
//     (v, true, nil). After their window, they run fn again and their answer
//     replaces the old one.
//   - When the cache already holds its maximum of keys and k is not one of
//     them, Do returns (nil, false, *FullError) without running fn: the caller
//     must not send, and should answer "try again later".
//
// A waiter whose ctx ends first gets (nil, true, nil): "a send for this key is
// in progress and its answer is not known yet". shared stays true so that the
// caller knows it must not send; it should answer "try again later". A v of
// nil with shared true therefore always means "no answer for you", also when
// fn panicked (the panic propagates to the first caller, and the key is free
// again).
//
// The window starts when fn returns, not when it starts. A window <= 0
// remembers nothing for this caller but still coalesces concurrent calls.
func (c *Cache) Do(ctx context.Context, k Key, window time.Duration, fn func() any) (v any, shared bool, err error) {
	c.mu.Lock()
	now := c.now()
	if window > c.maxEver {
		c.maxEver = window
		c.setHorizonLocked()
	}
	c.sweepLocked(now)
	if e, ok := c.entries[k]; ok {
		if !e.completed {
			c.mu.Unlock()
			select {
			case <-e.done:
				return e.v, true, nil // written before done was closed
			case <-ctx.Done():
				return nil, true, nil
			}
		}
		if now.Before(e.completedAt.Add(window)) {
			v := e.v
			c.mu.Unlock()
			return v, true, nil
		}
		c.removeLocked(e) // this caller's window has passed: it sends again
	}
	if len(c.entries) >= c.max {
		wait := FullRetryAfter
		if c.head != nil {
			wait = max(c.head.completedAt.Add(c.horizon).Sub(now), time.Nanosecond)
		}
		c.mu.Unlock()
		return nil, false, &FullError{RetryAfter: wait}
	}
	e := &entry{key: k, done: make(chan struct{})}
	c.entries[k] = e
	c.mu.Unlock()

	finished := false
	defer func() {
		if finished {
			return
		}
		// fn panicked: release the waiters with nothing and free the key.
		c.mu.Lock()
		if c.entries[k] == e {
			delete(c.entries, k)
		}
		c.mu.Unlock()
		close(e.done)
	}()
	v = fn()
	finished = true

	c.mu.Lock()
	e.v = v
	e.completed = true
	e.completedAt = c.now()
	c.pushLocked(e)
	c.sweepLocked(e.completedAt) // a horizon <= 0 keeps nothing
	close(e.done)
	c.mu.Unlock()
	return v, false, nil
}

// Forget drops the remembered answer for k, so that the next caller runs fn
// again: for example when the answer says nothing was sent. A call in progress
// is not affected.
func (c *Cache) Forget(k Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok && e.completed {
		c.removeLocked(e)
	}
}

// Len is the number of keys remembered or in progress.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked(c.now())
	return len(c.entries)
}

// Max is the maximum number of keys, maxEntries of New.
func (c *Cache) Max() int { return c.max }

// sweepLocked drops the answers completed at least a horizon ago. The list is
// in completion order, so it stops at the first one still kept.
func (c *Cache) sweepLocked(now time.Time) {
	for c.head != nil && !now.Before(c.head.completedAt.Add(c.horizon)) {
		c.removeLocked(c.head)
	}
}

// pushLocked appends a completed entry to the list.
func (c *Cache) pushLocked(e *entry) {
	e.prev, e.next = c.tail, nil
	if c.tail != nil {
		c.tail.next = e
	} else {
		c.head = e
	}
	c.tail = e
}

// removeLocked drops a completed entry from the list and the map.
func (c *Cache) removeLocked(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		c.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		c.tail = e.prev
	}
	e.prev, e.next = nil, nil
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
}

package dedup

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxEntries is used when New is given maxEntries < 1.
const DefaultMaxEntries = 10000

// Cache runs a function once per key and remembers its answer for a window.
// The zero Cache is not usable; call New. A Cache is safe for concurrent use.
type Cache struct {
	mu      sync.Mutex
	window  time.Duration
	max     int
	now     func() time.Time
	entries map[Key]*entry
	// Completed entries form a list in completion order, oldest first: the
	// expiry order and the eviction order.
	head, tail *entry
	stored     int
}

type entry struct {
	key        Key
	done       chan struct{} // closed when v is final
	v          any
	completed  bool
	expires    time.Time
	prev, next *entry
}

// New returns a cache remembering answers for window after they are produced,
// and at most maxEntries of them (DefaultMaxEntries when < 1); beyond that the
// oldest answer is forgotten. A window <= 0 remembers nothing but still
// coalesces concurrent calls.
//
// Size maxEntries for the peak rate of sends times the window: an answer
// evicted early no longer suppresses its duplicate.
func New(window time.Duration, maxEntries int) *Cache {
	if maxEntries < 1 {
		maxEntries = DefaultMaxEntries
	}
	return &Cache{window: window, max: maxEntries, now: time.Now, entries: make(map[Key]*entry)}
}

// SetClock replaces the clock (tests). Call it before the cache is used.
func (c *Cache) SetClock(now func() time.Time) { c.now = now }

// Do returns the answer for k, running fn only if no answer is remembered or
// being produced.
//
//   - The first caller for k runs fn itself, synchronously, and gets (v, false).
//   - Callers that arrive while fn runs wait for it and get (v, true); they never
//     run fn themselves.
//   - Callers within the window after fn returned get the remembered (v, true).
//
// A waiter whose ctx ends first gets (nil, true): "a send for this key is in
// progress and its answer is not known yet". shared stays true so that the
// caller knows it must not send; it should answer "try again later". A v of
// nil with shared true therefore always means "no answer for you", also when
// fn panicked (the panic propagates to the first caller, and the key is free
// again).
//
// The window starts when fn returns, not when it starts.
func (c *Cache) Do(ctx context.Context, k Key, fn func() any) (v any, shared bool) {
	c.mu.Lock()
	now := c.now()
	c.expireLocked(now)
	if e, ok := c.entries[k]; ok {
		if e.completed && now.Before(e.expires) {
			v := e.v
			c.mu.Unlock()
			return v, true
		}
		if !e.completed {
			c.mu.Unlock()
			select {
			case <-e.done:
				return e.v, true // written before done was closed
			case <-ctx.Done():
				return nil, true
			}
		}
		c.removeLocked(e) // expired but not yet swept (the clock went back)
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
	if c.window > 0 {
		e.expires = c.now().Add(c.window)
		c.pushLocked(e)
		for c.stored > c.max {
			c.removeLocked(c.head)
		}
	} else {
		delete(c.entries, k)
	}
	close(e.done)
	c.mu.Unlock()
	return v, false
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
	c.expireLocked(c.now())
	return len(c.entries)
}

func (c *Cache) expireLocked(now time.Time) {
	for c.head != nil && !now.Before(c.head.expires) {
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
	c.stored++
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
	c.stored--
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
}

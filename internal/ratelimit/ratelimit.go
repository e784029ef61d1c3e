package ratelimit

import (
	"math"
	"sync"
	"time"
)

// DefaultMaxKeys is used when New is given maxKeys < 1.
const DefaultMaxKeys = 100000

// Limiter is a set of token buckets, one per key: each holds up to burst
// tokens, refills at rate tokens per second, and every allowed event takes one.
// Refund gives a token back when the event turned out not to happen (nothing
// was sent), so that only sends spend the limit. Update changes the rate and
// burst in place, keeping every bucket's state. It is safe for concurrent use.
//
// Memory is bounded: a bucket that has been idle long enough to be full again
// is equivalent to no bucket and is dropped; beyond maxKeys, the least recently
// used bucket is dropped even if not full (that key starts afresh with a full
// burst). Under a flood of distinct keys this favours availability over
// precision for the coldest keys; the hot keys an abuser hammers stay tracked.
type Limiter struct {
	mu       sync.Mutex
	rate     float64
	burst    float64
	max      int
	fullIn   time.Duration // time for an empty bucket to refill
	now      func() time.Time
	disabled bool

	buckets map[string]*bucket
	// Buckets in least-recently-used order, oldest first. An intrusive list:
	// container/list would cost an allocation per new key.
	head, tail *bucket
	evicted    uint64
}

type bucket struct {
	key        string
	tokens     float64
	last       time.Time
	prev, next *bucket
}

// New returns a limiter of rate tokens per second with bursts of burst, tracking
// at most maxKeys keys (DefaultMaxKeys when < 1). A rate <= 0 or a burst < 1
// gives a limiter that allows everything.
func New(rate float64, burst int, maxKeys int) *Limiter {
	if maxKeys < 1 {
		maxKeys = DefaultMaxKeys
	}
	l := &Limiter{max: maxKeys, now: time.Now, buckets: make(map[string]*bucket)}
	l.setLocked(rate, burst)
	return l
}

// setLocked applies a rate and a burst, see New.
func (l *Limiter) setLocked(rate float64, burst int) {
	l.rate, l.burst = rate, float64(burst)
	l.disabled = rate <= 0 || burst < 1 || math.IsNaN(rate) || math.IsInf(rate, 0)
	l.fullIn = 0
	if !l.disabled {
		l.fullIn = seconds(l.burst / rate)
	}
}

// SetClock replaces the clock (tests). Call it before the limiter is used.
func (l *Limiter) SetClock(now func() time.Time) { l.now = now }

// Update changes the rate and the burst in place, as a config reload does:
// each bucket keeps its tokens (refilled at the old rate up to now), clamped
// to the new burst, and refills at the new rate from now on. A rate <= 0 or a
// burst < 1 makes the limiter allow everything and drops its buckets; a later
// Update that enables it again starts every key with a full burst.
func (l *Limiter) Update(rate float64, burst int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	wasDisabled := l.disabled
	if !wasDisabled {
		for b := l.head; b != nil; b = b.next {
			l.refillLocked(b, now)
		}
	}
	l.setLocked(rate, burst)
	if l.disabled {
		clear(l.buckets)
		l.head, l.tail = nil, nil
		return
	}
	for b := l.head; b != nil; b = b.next {
		b.tokens = math.Min(b.tokens, l.burst)
	}
}

// Allow takes a token from key's bucket. When none is left it returns false and
// how long until one will be: a Retry-After for the caller (round it up to
// whole seconds for the HTTP header).
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.disabled {
		return true, 0
	}
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		l.sweepLocked(now)
		if len(l.buckets) >= l.max {
			l.removeLocked(l.head)
			l.evicted++
		}
		b = &bucket{key: key, tokens: l.burst, last: now}
		l.buckets[key] = b
	} else {
		l.refillLocked(b, now)
		l.unlinkLocked(b)
	}
	l.pushLocked(b)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, l.waitLocked(b)
}

// Peek reports what Allow would answer now, without taking a token or
// creating a bucket.
func (l *Limiter) Peek(key string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.disabled {
		return true, 0
	}
	b := l.buckets[key]
	if b == nil {
		return true, 0
	}
	l.refillLocked(b, l.now())
	if b.tokens >= 1 {
		return true, 0
	}
	return false, l.waitLocked(b)
}

// Refund gives back one token taken by Allow from key's bucket, never beyond
// the burst: call it when the event did not happen after all (a refusal that
// proves nothing was sent), so that it does not spend the limit. Call it at
// most once per allowed Allow. A bucket that was dropped meanwhile (swept or
// evicted) starts afresh with a full burst anyway, so there is nothing to give
// back.
func (l *Limiter) Refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.disabled {
		return
	}
	if b := l.buckets[key]; b != nil {
		l.refillLocked(b, l.now())
		b.tokens = math.Min(l.burst, b.tokens+1)
	}
}

// refillLocked adds the tokens earned since the bucket's last update.
func (l *Limiter) refillLocked(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.last); elapsed > 0 { // a clock that steps back refills nothing
		b.tokens = math.Min(l.burst, b.tokens+elapsed.Seconds()*l.rate)
		b.last = now
	}
}

// waitLocked is how long until the bucket holds a whole token.
func (l *Limiter) waitLocked(b *bucket) time.Duration {
	return max(seconds((1-b.tokens)/l.rate), time.Nanosecond)
}

// seconds converts to a Duration rounded up, saturating instead of overflowing.
func seconds(s float64) time.Duration {
	ns := math.Ceil(s * float64(time.Second))
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// Len is the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// Evicted counts buckets dropped before they were full again (maxKeys reached),
// for a metric: a growing count means maxKeys is too small or keys are sprayed.
func (l *Limiter) Evicted() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.evicted
}

// sweepLocked drops buckets idle long enough to be full: forgetting them
// changes nothing. The oldest are first, so it stops at the first busy one.
func (l *Limiter) sweepLocked(now time.Time) {
	for l.head != nil && now.Sub(l.head.last) >= l.fullIn {
		l.removeLocked(l.head)
	}
}

func (l *Limiter) pushLocked(b *bucket) {
	b.prev, b.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = b
	} else {
		l.head = b
	}
	l.tail = b
}

func (l *Limiter) unlinkLocked(b *bucket) {
	if b.prev != nil {
		b.prev.next = b.next
	} else {
		l.head = b.next
	}
	if b.next != nil {
		b.next.prev = b.prev
	} else {
		l.tail = b.prev
	}
	b.prev, b.next = nil, nil
}

func (l *Limiter) removeLocked(b *bucket) {
	l.unlinkLocked(b)
	delete(l.buckets, b.key)
}

package dispatch

import (
	"sync"
	"time"
)

// BreakerState is a breaker's state, as exported to metrics.
type BreakerState string

const (
	BreakerClosed   BreakerState = "closed"
	BreakerOpen     BreakerState = "open"
	BreakerHalfOpen BreakerState = "half_open"
)

// Breaker is a per-account circuit breaker. It is closed (requests flow) until
// Threshold consecutive failures, then open (the account is skipped, which lets
// the dispatcher fall back at once) for Cooldown; then half-open, where exactly
// one probe request is let through: its success closes the breaker, its failure
// opens it again for another Cooldown.
//
// Failures are what says the account is unhealthy: never-reached errors, 5xx,
// 429 still refused after the retries, timeouts and other transport failures.
// A Twilio 4xx answer (even 401) is a success here: Twilio is reachable.
//
// Each allowed request gets a Ticket, and only tickets of the current period
// change the state, so a slow request that started before the breaker opened
// cannot close it. A Breaker is safe for concurrent use.
type Breaker struct {
	mu        sync.Mutex
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	state    BreakerState
	failures int       // consecutive, while closed
	openedAt time.Time // while open
	gen      uint64    // changes on every transition; tickets carry it
	probing  bool      // half-open: the probe is out
}

// Ticket is one allowed request. Exactly one of Success, Failure or Cancel
// should be called; calls on a stale ticket are ignored.
type Ticket struct {
	b   *Breaker
	gen uint64
}

// NewBreaker returns a closed breaker. threshold < 1 means 5, cooldown <= 0
// means 30s, and a nil now means time.Now (tests inject a fake clock).
func NewBreaker(threshold int, cooldown time.Duration, now func() time.Time) *Breaker {
	if threshold < 1 {
		threshold = 5
	}
	if cooldown <= 0 {
		cooldown = 30 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &Breaker{threshold: threshold, cooldown: cooldown, now: now, state: BreakerClosed}
}

// Update changes the threshold and the cooldown in place (defaults as in
// NewBreaker), as a config reload does: the state and the failures counted so
// far are kept. A closed breaker that already counts the new threshold opens
// on its next failure; an open one uses the new cooldown from when it opened.
func (b *Breaker) Update(threshold int, cooldown time.Duration) {
	if threshold < 1 {
		threshold = 5
	}
	if cooldown <= 0 {
		cooldown = 30 * time.Second
	}
	b.mu.Lock()
	b.threshold, b.cooldown = threshold, cooldown
	b.mu.Unlock()
}

// Allow reports whether a request may go to the account now.
func (b *Breaker) Allow() (Ticket, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		return Ticket{b, b.gen}, true
	case BreakerOpen:
		if b.now().Sub(b.openedAt) < b.cooldown {
			return Ticket{}, false
		}
		b.state, b.gen, b.probing = BreakerHalfOpen, b.gen+1, true
		return Ticket{b, b.gen}, true
	default: // half-open
		if b.probing {
			return Ticket{}, false
		}
		b.probing = true // the previous probe was cancelled
		return Ticket{b, b.gen}, true
	}
}

// Success reports that the account answered.
func (t Ticket) Success() {
	b := t.b
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.gen != b.gen {
		return
	}
	switch b.state {
	case BreakerClosed:
		b.failures = 0
	case BreakerHalfOpen:
		b.state, b.failures, b.probing, b.gen = BreakerClosed, 0, false, b.gen+1
	}
}

// Failure reports that the account failed.
func (t Ticket) Failure() {
	b := t.b
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.gen != b.gen {
		return
	}
	switch b.state {
	case BreakerClosed:
		b.failures++
		if b.failures >= b.threshold {
			b.open()
		}
	case BreakerHalfOpen:
		b.open()
	}
}

// Cancel gives the ticket back without a verdict (nothing was sent, or the
// client went away): a half-open breaker lets another probe through.
func (t Ticket) Cancel() {
	b := t.b
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.gen == b.gen && b.state == BreakerHalfOpen {
		b.probing = false
	}
}

func (b *Breaker) open() {
	b.state, b.openedAt, b.failures, b.probing, b.gen = BreakerOpen, b.now(), 0, false, b.gen+1
}

// State is the current state; an open breaker whose cooldown has passed reports
// half_open, since the next request will be the probe.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerOpen && b.now().Sub(b.openedAt) >= b.cooldown {
		return BreakerHalfOpen
	}
	return b.state
}

package dispatch

import (
	"errors"
	"slices"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// Decision is what one answer (or failure) from Twilio allows.
//
// The zero Decision is Final, the safe default: whatever was not classified is
// never sent again.
type Decision uint8

const (
	// Final stops the request: Twilio refused it for a reason another attempt
	// would not fix, or it may have reached Twilio (nothing proves it was not
	// created), so sending it again could deliver the code twice.
	Final Decision = iota
	// Accepted: Twilio created the message, call or execution (any 2xx).
	Accepted
	// Retryable: nothing was created and the same account may be tried again
	// after a backoff (429/20429, or a connection that was never established).
	Retryable
	// FallbackOK: nothing was created and the next account may be tried
	// (authentication, 5xx, configured codes, an open breaker, a full queue).
	FallbackOK
)

func (d Decision) String() string {
	switch d {
	case Accepted:
		return "accepted"
	case Retryable:
		return "retryable"
	case FallbackOK:
		return "fallback"
	default:
		return "final"
	}
}

// MarshalText writes the String form, for JSON logs.
func (d Decision) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// ErrBreakerOpen is the error for an account skipped because its breaker is open.
var ErrBreakerOpen = errors.New("circuit breaker open")

// Policy says which failures allow what. Start from DefaultPolicy: the zero
// Policy never retries and treats a 5xx as Final, the most conservative choice.
//
// A request that may have reached Twilio is never retried or sent down a fallback.
type Policy struct {
	// Retries is the number of extra attempts on the SAME account, only for
	// 429/20429 and never-reached errors. DefaultPolicy sets 2; negative means 0.
	Retries int
	// BackoffBase and BackoffMax shape the full-jitter exponential backoff used
	// by twilio-node: the n-th retry (n from 0) waits random(0, min(max, base·2^n)).
	// Zero means the defaults, 100ms and 1s.
	BackoffBase, BackoffMax time.Duration
	// FallbackCodes are Twilio error codes that also allow the next account,
	// e.g. 21606 (From not valid for this account) and 21611 (From queue full).
	FallbackCodes []int
	// FallbackOn5xx lets a 5xx reply go to the next account: Twilio answering
	// 5xx is taken as a definite "not created". DefaultPolicy sets true; false
	// makes a 5xx Final.
	FallbackOn5xx bool
}

// DefaultPolicy is 2 retries, 100ms/1s backoff, no fallback codes, fallback on 5xx.
func DefaultPolicy() Policy {
	return Policy{Retries: 2, BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second, FallbackOn5xx: true}
}

// Classify turns one result of twilio.Client.Send into a Decision:
//
//	answer or error                                   decision
//	any 2xx, even with a malformed body               Accepted
//	429, or error code 20429                          Retryable
//	*twilio.SendError that never reached Twilio       Retryable  (refused, DNS, dial timeout, TLS)
//	401, or error code 20003                          FallbackOK
//	403                                               FallbackOK
//	5xx                                               FallbackOK if FallbackOn5xx, else Final
//	error code listed in FallbackCodes                FallbackOK
//	ErrBreakerOpen, ErrQueueFull                      FallbackOK (nothing was sent)
//	*twilio.SendError that may have reached Twilio    Final      (reset, timeout after connecting)
//	any other error                                   Final
//	any other status (4xx such as 21211/21610/21614)  Final
//
// A request that may have reached Twilio is never retried or sent down a fallback.
func (p *Policy) Classify(o *twilio.Outcome, err error) Decision {
	if o != nil && o.Accepted {
		return Accepted
	}
	if err != nil {
		var se *twilio.SendError
		switch {
		case errors.As(err, &se):
			if !se.MayHaveReached() {
				return Retryable
			}
			return Final
		case errors.Is(err, ErrBreakerOpen), errors.Is(err, ErrQueueFull):
			return FallbackOK
		}
		return Final
	}
	if o == nil {
		return Final
	}
	switch {
	case o.HTTPStatus == 429 || o.ErrorCode == 20429:
		return Retryable
	case o.HTTPStatus == 401 || o.ErrorCode == 20003 || o.HTTPStatus == 403:
		return FallbackOK
	case o.HTTPStatus >= 500 && o.HTTPStatus <= 599:
		if p.FallbackOn5xx {
			return FallbackOK
		}
		return Final
	case o.ErrorCode != 0 && slices.Contains(p.FallbackCodes, o.ErrorCode):
		return FallbackOK
	}
	return Final
}

// Classify is DefaultPolicy().Classify: no fallback codes, fallback on 5xx.
func Classify(o *twilio.Outcome, err error) Decision {
	p := DefaultPolicy()
	return p.Classify(o, err)
}

// retries is Retries, never negative.
func (p *Policy) retries() int { return max(0, p.Retries) }

// backoffCap is min(max, base·2^n), the upper bound of the n-th jittered wait.
func (p *Policy) backoffCap(n int) time.Duration {
	base, limit := p.BackoffBase, p.BackoffMax
	if base <= 0 {
		base = 100 * time.Millisecond
	}
	if limit <= 0 {
		limit = time.Second
	}
	if limit < base {
		limit = base
	}
	d := base
	for i := 0; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

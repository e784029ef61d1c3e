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
	// (authentication, Twilio's 503/20503, configured codes, an open breaker, a
	// full queue), or Policy.FallbackOn5xx opted in to falling back on a 5xx
	// that may have created it.
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
// Policy never retries, the most conservative choice.
//
// A request that may have reached Twilio is never retried or sent down a
// fallback, unless FallbackOn5xx says otherwise.
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
	// They apply only to a 4xx answer with Twilio's error body, which proves
	// that nothing was created; a 5xx code listed here has no effect.
	FallbackCodes []int
	// FallbackOn5xx lets every 5xx reply go to the next account, also those
	// that do not prove nothing was created (500/20500, 502, 504, a 5xx without
	// Twilio's error body): Twilio may have created the message before failing,
	// so falling back RISKS SENDING THE CODE TWICE. The Result then still
	// reports MayHaveSent. Default false: such a 5xx is Final. Twilio's own
	// 503/20503 ("not processed") falls back either way.
	FallbackOn5xx bool
}

// DefaultPolicy is 2 retries, 100ms/1s backoff, no fallback codes, no
// fallback on a 5xx that may have created the message.
func DefaultPolicy() Policy {
	return Policy{Retries: 2, BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second}
}

// Classify turns one result of twilio.Client.Send into a Decision. Once the
// request was written, only an answer that proves nothing was created allows
// another attempt; "Twilio's error body" is a JSON or XML reply carrying a
// Twilio error code, which an edge, proxy or load balancer in between does not
// write. The last column is what Result.MayHaveSent reports for the attempt:
//
//	answer or error                                       decision    may have sent
//	any 2xx, even with a malformed body                   Accepted    yes
//	429, or error code 20429                              Retryable   no
//	*twilio.SendError that never reached Twilio           Retryable   no   (refused, DNS, dial timeout, TLS)
//	401, or error code 20003                              FallbackOK  no
//	403                                                   FallbackOK  no
//	503 with Twilio's error body and code 20503           FallbackOK  no   (Twilio did not process it)
//	4xx with Twilio's error body, code in FallbackCodes   FallbackOK  no
//	other 4xx with Twilio's error body (21211, 21610 …)   Final       no
//	ErrBreakerOpen, ErrQueueFull                          FallbackOK  no   (nothing was sent)
//	any other 5xx (500/20500, 502, 504, 503 from an edge) Final       yes  (FallbackOK if FallbackOn5xx)
//	*twilio.SendError that may have reached Twilio        Final       yes  (reset, timeout after connecting)
//	any other status (a 4xx without Twilio's error body)  Final       yes
//	any other error                                       Final       yes
//
// A request that may have reached Twilio is never retried or sent down a
// fallback, unless FallbackOn5xx opts in for a 5xx.
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
	case is429(o):
		return Retryable
	case o.HTTPStatus == 401 || o.ErrorCode == 20003 || o.HTTPStatus == 403:
		return FallbackOK
	case twilioNotProcessed(o):
		return FallbackOK
	case twilioError(o) && is4xx(o) && slices.Contains(p.FallbackCodes, o.ErrorCode):
		return FallbackOK
	case o.HTTPStatus >= 500 && o.HTTPStatus <= 599 && p.FallbackOn5xx:
		return FallbackOK
	}
	return Final
}

// Classify is DefaultPolicy().Classify: no fallback codes, no fallback on a
// 5xx that may have created the message.
func Classify(o *twilio.Outcome, err error) Decision {
	p := DefaultPolicy()
	return p.Classify(o, err)
}

// mayHaveCreated reports whether Twilio created, or may have created, the
// message of one attempt: the last column of Classify's table.
func mayHaveCreated(o *twilio.Outcome, err error) bool {
	if o != nil && o.Accepted {
		return true
	}
	if err != nil {
		var se *twilio.SendError
		if errors.As(err, &se) {
			return se.MayHaveReached()
		}
		return !errors.Is(err, ErrBreakerOpen) && !errors.Is(err, ErrQueueFull)
	}
	if o == nil {
		return true
	}
	switch {
	case is429(o), o.HTTPStatus == 401, o.ErrorCode == 20003, o.HTTPStatus == 403:
		return false
	case twilioNotProcessed(o), twilioError(o) && is4xx(o):
		return false
	}
	return true
}

// twilioError reports whether the reply is Twilio's own error body: a JSON
// {"code", …} or an XML RestException with a code.
func twilioError(o *twilio.Outcome) bool { return o.ErrorCode != 0 && !o.Malformed }

// twilioNotProcessed is Twilio's 503/20503: the request was not processed.
func twilioNotProcessed(o *twilio.Outcome) bool {
	return o.HTTPStatus == 503 && o.ErrorCode == 20503 && twilioError(o)
}

func is4xx(o *twilio.Outcome) bool { return o.HTTPStatus >= 400 && o.HTTPStatus <= 499 }

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

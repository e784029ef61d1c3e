package gateway

import (
	"time"
)

// Observer receives what the metrics count. Every method must be cheap and
// safe for concurrent use; labels are route and account names and bounded
// sets, never a number or a text. A nil Observer in Gateway means NopObserver.
type Observer interface {
	// Upstream is one call to Twilio: its account, API, HTTP status (0 when
	// no answer was read) and duration.
	Upstream(account, api string, status int, d time.Duration)
	// Retry is one extra attempt on the same account.
	Retry(account string)
	// Fallback is one move from an account to the next.
	Fallback(from, to string)
	// AccountState is an account's breaker state and queue after it was tried.
	AccountState(account, breaker string, inFlight, waiting int)
	// Duplicate is a request answered from an earlier identical one.
	Duplicate(route string)
	// RateLimited is a request refused by a limit of kind destination or caller.
	RateLimited(route, kind string)
	// Blocked is a request refused for its destination: kind country or a
	// number type such as premium_rate.
	Blocked(route, kind string)
	// DedupFull is a request refused because the dedup cache was full.
	DedupFull(route string)
	// SharedStateFailed is a failed call to the shared store (op dedup,
	// rate_limit or refund); warn is true at most once a minute per store,
	// for a log line.
	SharedStateFailed(route, op string, warn bool)
}

// NopObserver observes nothing.
type NopObserver struct{}

func (NopObserver) Upstream(string, string, int, time.Duration) {}
func (NopObserver) Retry(string)                                {}
func (NopObserver) Fallback(string, string)                     {}
func (NopObserver) AccountState(string, string, int, int)       {}
func (NopObserver) Duplicate(string)                            {}
func (NopObserver) RateLimited(string, string)                  {}
func (NopObserver) Blocked(string, string)                      {}
func (NopObserver) DedupFull(string)                            {}
func (NopObserver) SharedStateFailed(string, string, bool)      {}

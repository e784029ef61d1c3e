package dispatch

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// Client sends one request to Twilio; *twilio.Client implements it. It must
// make at most one HTTP request per call and report transport failures as
// *twilio.SendError, or the dispatcher treats them as "may have been sent".
type Client interface {
	Send(ctx context.Context, r *twilio.Request) (*twilio.Outcome, error)
}

// DefaultMinAttempt is the default Dispatcher.MinAttempt.
const DefaultMinAttempt = 250 * time.Millisecond

// Dispatcher sends one message through a plan of accounts (Router.Plan), with
// the retries and fallbacks its Policy allows, under each account's limiter and
// breaker. A Dispatcher is safe for concurrent use once its fields are set.
type Dispatcher struct {
	// Client makes the requests.
	Client Client
	// Policy decides retries and fallbacks; start from DefaultPolicy.
	Policy Policy
	// State holds the per-account limiters and breakers; required, and shared
	// across config reloads.
	State *State
	// MinAttempt is the least time left before ctx's deadline that is worth
	// starting another request with: a retry (after its backoff) or a fallback
	// needs it, and waiting for a limiter slot stops that long before the
	// deadline. Starting a request that the deadline then cuts would turn a
	// definite "not sent" into an ambiguous one. Default DefaultMinAttempt.
	MinAttempt time.Duration
	// KeepReplyBody keeps Outcome.Body, Twilio's raw reply, in the Result. It
	// echoes the message text, so it is dropped unless a passthrough dialect
	// that relays Twilio's reply needs it.
	KeepReplyBody bool
	// Jitter returns a random duration in [0, max] and Sleep waits d or until
	// ctx ends. Nil means the real ones (math/rand/v2 and a timer); tests inject
	// their own. Budgets are always measured with the real clock, like ctx's
	// deadline.
	Jitter func(max time.Duration) time.Duration
	Sleep  func(ctx context.Context, d time.Duration) error
}

// Send delivers one message, trying the accounts of plan in order, and always
// returns a definite Result, never later than ctx's deadline plus the time the
// client takes to notice it.
//
// For each account: skip it if its breaker is open (a fallback); take a slot of
// its limiter (a full queue is a fallback; running out of time is the end);
// build the request; send; classify. Accepted and Final stop at once. Retryable
// tries the same account again after a jittered backoff, up to Policy.Retries
// times and only while ctx's deadline leaves the backoff plus MinAttempt; then
// it becomes a fallback, since nothing was sent. FallbackOK goes to the next
// account if MinAttempt is left. A build error (no sender for this account)
// falls back while accounts remain, since nothing was sent, and is Final on the
// last one. A request that may have reached Twilio is never retried or sent
// down a fallback, unless Policy.FallbackOn5xx opts in for a 5xx; a Result
// that may have sent and was not accepted is then Final.
//
// The account's limiter slot is held across its retries and their backoffs, so
// that a 429 storm slows the whole account down rather than letting waiters in.
// Waiters for a slot are served round-robin by the caller identity that ctx
// carries (WithCaller), so that one flooding caller does not starve the others.
//
// build is called at most once per account and must not put message text in
// its errors. plan is not modified.
func (d *Dispatcher) Send(ctx context.Context, plan []*Account, build func(a *Account) (*twilio.Request, error)) *Result {
	res := d.send(ctx, plan, build)
	if res.maybeSent && res.Decision != Accepted {
		// A fallback after a 5xx (Policy.FallbackOn5xx) that then ended
		// without an acceptance: the first account may have sent it, so the
		// caller must not try again.
		res.Decision = Final
	}
	return res
}

func (d *Dispatcher) send(ctx context.Context, plan []*Account, build func(a *Account) (*twilio.Request, error)) *Result {
	res := &Result{}
	res.Attempts = res.buf[:0]
	switch {
	case d.Client == nil || d.State == nil:
		res.Err = errors.New("dispatcher has no Client or State")
		return res
	case len(plan) == 0:
		res.Err = ErrEmptyPlan
		return res
	}
	if err := ctx.Err(); err != nil {
		res.Decision, res.Err = Retryable, err
		return res
	}
	for i, a := range plan {
		if i > 0 {
			if err := ctx.Err(); err != nil {
				res.Decision, res.Err = Retryable, err
				return res
			}
			if !d.affords(ctx, 0) {
				res.Decision, res.Err = Retryable, errors.Join(ErrNoBudget, res.Err)
				return res
			}
		}
		if !d.tryAccount(ctx, res, a, build, i == len(plan)-1) {
			return res
		}
		if i < len(plan)-1 {
			res.Fallbacks++
		}
	}
	return res
}

// tryAccount runs the attempts on one account and reports whether the next
// account may be tried.
func (d *Dispatcher) tryAccount(ctx context.Context, res *Result, a *Account, build func(*Account) (*twilio.Request, error), last bool) (next bool) {
	st := d.State.For(a)
	ticket, ok := st.Breaker.Allow()
	if !ok {
		res.add(a, nil, ErrBreakerOpen, FallbackOK, ReasonBreakerOpen, 0)
		return true
	}
	start := time.Now()
	var stopAt time.Time
	if dl, ok := ctx.Deadline(); ok {
		// With another account after this one, stop waiting early enough to
		// leave it a whole attempt: a full queue here must not starve a
		// healthy fallback.
		reserve := d.minAttempt()
		if !last {
			reserve *= 2
		}
		stopAt = dl.Add(-reserve)
	}
	if err := st.Limiter.acquire(ctx, stopAt); err != nil {
		ticket.Cancel()
		if errors.Is(err, ErrQueueFull) {
			res.add(a, nil, err, FallbackOK, ReasonQueueFull, time.Since(start))
			return true
		}
		if !last && ctx.Err() == nil {
			res.add(a, nil, err, FallbackOK, ReasonNoSlot, time.Since(start))
			return true
		}
		res.add(a, nil, err, Retryable, ReasonNoSlot, time.Since(start))
		return false
	}
	defer st.Limiter.release()

	req, err := build(a)
	if err == nil && req == nil {
		err = errors.New("build returned no request")
	}
	if err != nil {
		ticket.Cancel()
		if last {
			res.add(a, nil, err, Final, ReasonBuild, time.Since(start))
			return false
		}
		res.add(a, nil, err, FallbackOK, ReasonBuild, time.Since(start))
		return true
	}

	if err := ctx.Err(); err != nil { // ended while waiting or building: send nothing
		ticket.Cancel()
		res.add(a, nil, err, Retryable, ReasonNoBudget, time.Since(start))
		return false
	}

	var (
		o   *twilio.Outcome
		dec Decision
	)
	for n := 0; ; n++ {
		t0 := time.Now()
		o, err = d.Client.Send(ctx, req)
		if o != nil && !d.KeepReplyBody {
			o.Body = nil
		}
		dec = d.Policy.Classify(o, err)
		res.add(a, o, err, dec, reasonOf(err), time.Since(t0))
		if o != nil {
			st.Limiter.Observe(o.ConcurrentRequests, is429(o))
		}
		if mayHaveCreated(o, err) {
			res.maybeSent = true
		}
		if dec != Retryable || n >= d.Policy.retries() || ctx.Err() != nil {
			break
		}
		// With another account after this one, a retry here must still leave
		// that account a whole attempt: retrying a 429 storm to the last
		// moment would starve a healthy fallback.
		var reserve time.Duration
		if !last {
			reserve = d.minAttempt()
		}
		wait := d.jitter(d.Policy.backoffCap(n))
		if !d.affords(ctx, wait+reserve) {
			break
		}
		if d.sleep(ctx, wait) != nil {
			break
		}
		// A late wake-up (a loaded machine) may have eaten the budget: an
		// attempt cut by the deadline would turn "not sent" into "unknown".
		if !d.affords(ctx, reserve) {
			break
		}
		res.Retries++
	}
	breakerVerdict(ticket, o, err)
	return dec == FallbackOK || dec == Retryable
}

// affords reports whether ctx's deadline leaves wait plus MinAttempt.
func (d *Dispatcher) affords(ctx context.Context, wait time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || !time.Now().Add(wait+d.minAttempt()).After(dl)
}

// breakerVerdict reports the account's last answer to its breaker.
func breakerVerdict(t Ticket, o *twilio.Outcome, err error) {
	switch {
	case err != nil:
		if errors.Is(err, context.Canceled) {
			t.Cancel() // the caller went away: says nothing about Twilio
			return
		}
		t.Failure()
	case o == nil:
		t.Failure()
	case o.Accepted:
		t.Success()
	case is429(o), o.HTTPStatus >= 500:
		t.Failure()
	default:
		t.Success() // Twilio answered
	}
}

func is429(o *twilio.Outcome) bool { return o.HTTPStatus == 429 || o.ErrorCode == 20429 }

func reasonOf(err error) string {
	if err == nil {
		return ""
	}
	var se *twilio.SendError
	switch {
	case !errors.As(err, &se):
		return ReasonError
	case !se.MayHaveReached():
		return ReasonNotReached
	case se.Timeout:
		return ReasonTimeout
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	}
	return ReasonTransport
}

func (d *Dispatcher) minAttempt() time.Duration {
	if d.MinAttempt > 0 {
		return d.MinAttempt
	}
	return DefaultMinAttempt
}

func (d *Dispatcher) jitter(limit time.Duration) time.Duration {
	if d.Jitter != nil {
		return d.Jitter(limit)
	}
	if limit <= 0 {
		return 0
	}
	return rand.N(limit + 1)
}

func (d *Dispatcher) sleep(ctx context.Context, wait time.Duration) error {
	if d.Sleep != nil {
		return d.Sleep(ctx, wait)
	}
	if wait <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

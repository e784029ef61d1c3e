package gateway

import (
	"context"
	"encoding/hex"
	"errors"
	"math"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dedup"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/ratelimit"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// deliver applies the guards, then sends through the dispatcher (once per
// dedup key) and fills res. Refusals spend no rate-limit token; a send that
// provably sent nothing gives its tokens back.
func (g *Gateway) deliver(ctx context.Context, caller string, p *Prepared, res *mapping.Result, mode Mode, out *Outcome) {
	res.API = string(p.API)
	if kind, reason := g.Destinations.Check(p.Number); kind != "" {
		res.Outcome, res.Field, res.ErrorCode, res.Reason = mapping.OutcomeBlocked, "to", CodeGeoBlocked, reason
		g.observer().Blocked(g.Name, kind)
		res.Suggest()
		return
	}
	plan, err := g.Credentials.Plan(g.Router, p)
	if err != nil {
		var ie *mapping.InputError
		if !errors.As(err, &ie) {
			ie = &mapping.InputError{Field: "account_sid", Reason: "cannot be used", Problem: mapping.ProblemAuth}
		}
		invalid(res, ie)
		return
	}
	if g.Twilio != nil {
		if err := g.callerSender(plan, p); err != nil {
			var ie *mapping.InputError
			errors.As(err, &ie)
			invalid(res, ie)
			res.ErrorCode = 21606 // Twilio: "The From phone number is not a valid, SMS-capable inbound phone number or short code for your account"
			return
		}
	}
	if mode == DryRun {
		g.dryRun(p, plan, res, out)
		return
	}
	ctx = dispatch.WithCaller(ctx, caller)
	send := func() *mapping.Result {
		r := &mapping.Result{API: res.API}
		taken, kind, wait, err := g.take(ctx, caller, p.Number)
		if err != nil {
			sharedUnavailable(r)
			return r
		}
		if kind != "" {
			r.Outcome, r.ErrorCode, r.RetryAfter = mapping.OutcomeRateLimited, CodeRateLimited, retryAfterSeconds(wait)
			r.Reason = "too many messages for this " + kind + "; try again later"
			g.observer().RateLimited(g.Name, kind)
			r.Suggest()
			return r
		}
		dr := g.dispatch(ctx, plan, p)
		fillResult(r, dr)
		if !sentOrMaybe(r) {
			g.refund(ctx, taken) // provably nothing sent: the limit is not spent
		}
		g.trackSent(p, r)
		return r
	}
	if g.Dedup == nil {
		*res = *send()
		return
	}
	// The parameters' form encoding (what url.Values.Encode returns) keys
	// the cache; AppendForm builds it without Encode's intermediate strings.
	var form [512]byte
	parts := dedupParts(g.Credentials.Sender(p), string(p.API), string(twilio.AppendForm(form[:0], p.Params)))
	if g.Shared != nil {
		handled, err := g.sharedDedup(ctx, parts, p.Authorization, res, send)
		if err != nil {
			sharedUnavailable(res)
			return
		}
		if handled {
			return
		}
	}
	key := dedup.KeyOf(parts...)
	p.DedupTag = hex.EncodeToString(key[:])
	var first *mapping.Result
	v, shared, err := g.Dedup.Do(ctx, key, g.DedupWindow, func() any {
		first = send()
		kept := *first
		kept.TwilioBody = nil // it echoes the message text: never kept in the cache
		return &kept
	})
	switch {
	case errors.Is(err, dedup.ErrFull):
		res.Outcome, res.ErrorCode = mapping.OutcomeUnavailable, CodeUnavailable
		res.Reason = "too many messages are being remembered to suppress duplicates; nothing was sent, try again later"
		wait := dedup.FullRetryAfter
		var fe *dedup.FullError
		if errors.As(err, &fe) {
			wait = fe.RetryAfter
		}
		res.RetryAfter = retryAfterSeconds(wait)
		g.observer().DedupFull(g.Name)
		res.Suggest()
	case !shared:
		*res = *first
		if !sentOrMaybe(first) {
			g.Dedup.Forget(key) // nothing was sent: a retry may try again
		}
	case v == nil:
		res.Outcome, res.ErrorCode = mapping.OutcomeUnavailable, CodeUnavailable
		res.Reason = "an identical request is still being sent; try again later"
		res.Duplicate = true
		res.Suggest()
	default:
		*res = *v.(*mapping.Result)
		res.Duplicate = true
		g.observer().Duplicate(g.Name)
		g.fetchResource(ctx, p.Authorization, res)
	}
}

// sharedUnavailable answers a request that the route will not send while its
// shared state (Redis) is unavailable (redis_failure refuse).
func sharedUnavailable(r *mapping.Result) {
	r.Outcome, r.ErrorCode, r.RetryAfter = mapping.OutcomeUnavailable, CodeUnavailable, 1
	r.Reason = "the shared state store is unavailable; nothing was sent, try again later"
	r.Suggest()
}

// spent is what a send took from the rate limits, to give back when the send
// provably sent nothing: the bucket keys, and whether each was taken from
// the shared store.
type spent struct {
	destination, caller             string // the plain key (number, caller identity)
	destinationShared, callerShared bool
}

// take takes a token from the destination and caller buckets (shared ones
// when the route has Shared state and Redis answers). It returns the kind
// that refused and how long until a token is free; on a refusal nothing stays
// taken. err is errRefused when Redis failed and the route refuses without it.
func (g *Gateway) take(ctx context.Context, caller, to string) (s spent, kind string, wait time.Duration, err error) {
	if g.DestinationLimit != nil {
		ok, w, shared, err := g.allow(ctx, "destination", to, g.DestinationLimit, g.DestinationRate)
		if err != nil {
			return spent{}, "", 0, err
		}
		if !ok {
			return spent{}, "destination", w, nil
		}
		s.destination, s.destinationShared = to, shared
	}
	if g.CallerLimit != nil {
		ok, w, shared, err := g.allow(ctx, "caller", caller, g.CallerLimit, g.CallerRate)
		if err != nil || !ok {
			g.refund(ctx, s)
			if err != nil {
				return spent{}, "", 0, err
			}
			return spent{}, "caller", w, nil
		}
		s.caller, s.callerShared = caller, shared
	}
	return s, "", 0, nil
}

// localKey is an in-process bucket's key: a digest under the process's own
// secret, so the limiter's map holds no number or caller in clear.
func localKey(kind, key string) string { return keyString(dedup.KeyOf(kind, key)) }

// allow takes one token, from the shared store when there is one and it
// answers, else from the local limiter. The shared store is given the plain
// key, which it hashes under the secret every instance shares (a digest under
// this process's secret would give each instance, and each restart, its own
// bucket).
func (g *Gateway) allow(ctx context.Context, kind, key string, local *ratelimit.Limiter, rate Rate) (ok bool, wait time.Duration, shared bool, err error) {
	if g.Shared != nil && rate.Burst > 0 {
		ok, wait, useLocal, err := g.sharedTake(ctx, kind, key, rate.PerSecond, rate.Burst)
		if err != nil {
			return false, 0, false, err
		}
		if !useLocal {
			return ok, wait, true, nil
		}
	}
	ok, wait = local.Allow(localKey(kind, key))
	return ok, wait, false, nil
}

// refund gives back what take took, to the store it came from.
func (g *Gateway) refund(ctx context.Context, s spent) {
	if s.destination != "" {
		if s.destinationShared {
			g.sharedRefund(ctx, "destination", s.destination, g.DestinationRate.Burst)
		} else {
			g.DestinationLimit.Refund(localKey("destination", s.destination))
		}
	}
	if s.caller != "" {
		if s.callerShared {
			g.sharedRefund(ctx, "caller", s.caller, g.CallerRate.Burst)
		} else {
			g.CallerLimit.Refund(localKey("caller", s.caller))
		}
	}
}

// keyString is the whole digest as a map key.
func keyString(k dedup.Key) string { return string(k[:]) }

func retryAfterSeconds(d time.Duration) int {
	return int(math.Max(1, math.Ceil(d.Seconds())))
}

// sentOrMaybe reports whether a result means the message was, or may have been, sent.
func sentOrMaybe(r *mapping.Result) bool {
	return r.OK || r.Outcome == mapping.OutcomeUnknown
}

// dispatch sends through the plan. A request whose credentials the adapter
// does not know gets its own limiter and breaker state.
func (g *Gateway) dispatch(ctx context.Context, plan []*dispatch.Account, p *Prepared) *dispatch.Result {
	d := g.Dispatcher
	if !g.Credentials.SharedState() {
		own := *d
		own.State = dispatch.NewState(d.State.Config())
		d = &own
	}
	dr := d.Send(ctx, plan, func(a *dispatch.Account) (*twilio.Request, error) {
		return g.Build(a, p)
	})
	g.observe(d, plan, dr, p.API)
	return dr
}

// observe reports one dispatch: every upstream call (a timeout is status 0),
// every retry and fallback, and the state of the accounts that were tried.
func (g *Gateway) observe(d *dispatch.Dispatcher, plan []*dispatch.Account, dr *dispatch.Result, api twilio.API) {
	o := g.observer()
	prev := ""
	var retried []string
	for _, at := range dr.Attempts {
		// A call to Twilio is an attempt that reached it (an answer, or a
		// failure after connecting); skipped accounts and connections never
		// made are not calls.
		if at.Duration > 0 && (at.HTTPStatus > 0 || at.Reason == dispatch.ReasonTimeout || at.Reason == dispatch.ReasonTransport || at.Reason == dispatch.ReasonMalformed) {
			o.Upstream(at.Account, string(api), at.HTTPStatus, at.Duration)
		}
		switch {
		case prev != "" && at.Account != prev:
			o.Fallback(prev, at.Account)
		case prev != "" && countsAsCall(at):
			retried = append(retried, at.Account) // another attempt on the same account
		}
		prev = at.Account
	}
	for _, a := range retried {
		o.Retry(a)
	}
	if !g.Credentials.SharedState() {
		return // a per-request state: its gauges would mean nothing
	}
	for _, a := range plan {
		if !slices.ContainsFunc(dr.Attempts, func(at dispatch.Attempt) bool { return at.Account == a.Name }) {
			continue
		}
		st := d.State.For(a)
		o.AccountState(a.Name, string(st.Breaker.State()), st.Limiter.InFlight(), st.Limiter.Waiting())
	}
}

// countsAsCall reports whether an attempt tried Twilio (rather than being
// skipped for an open breaker, a full queue or no slot).
func countsAsCall(at dispatch.Attempt) bool {
	switch at.Reason {
	case dispatch.ReasonBreakerOpen, dispatch.ReasonQueueFull, dispatch.ReasonNoSlot, dispatch.ReasonBuild, dispatch.ReasonNoBudget:
		return false
	}
	return true
}

// Build is the Twilio request for one account: the mapping's parameters plus
// the sender chosen for this account and destination.
func (g *Gateway) Build(a *dispatch.Account, p *Prepared) (*twilio.Request, error) {
	channel := dispatch.Channel("sms")
	if p.API == twilio.Calls {
		channel = "voice" // Studio takes From like SMS
	}
	from, mss, own := "", "", false
	if g.Twilio != nil {
		from, mss, own = g.twilioSender(a, p)
	}
	if !own {
		var err error
		if from, mss, err = dispatch.SelectSender(a, channel, phone.Region(p.Number), p.Values.Field("from")); err != nil {
			return nil, err
		}
	}
	params := make(url.Values, len(p.Params)+1)
	for k, v := range p.Params {
		params[k] = v
	}
	switch {
	case p.API == twilio.Studio && mss != "":
		params.Set("From", mss) // Studio takes a Messaging Service SID as From
	case mss != "":
		params.Set("MessagingServiceSid", mss)
		if own && from != "" {
			params.Set("From", from) // the caller named both, as Twilio allows
		}
	case from != "":
		params.Set("From", from)
	}
	if cb := g.callbackParam(a, p); cb != "" {
		params.Set("StatusCallback", cb) // the adapter's own, carrying a signed token
	}
	req := a.NewRequest(p.API, params)
	req.UserAgent = p.UserAgent
	if p.API == twilio.Studio {
		req.FlowSID = g.StudioFlowSID
	}
	return req, nil
}

// fillResult turns the dispatcher's result into the mapping's view of it.
// noSender is dispatch's NoSenderError in err's chain, or nil. Its own
// function because errors.As moves the target to the heap: declared in
// fillResult, that would cost every send an allocation.
func noSender(err error) *dispatch.NoSenderError {
	var nse *dispatch.NoSenderError
	if errors.As(err, &nse) {
		return nse
	}
	return nil
}

func fillResult(res *mapping.Result, dr *dispatch.Result) {
	if dr.Account != nil {
		res.Account, res.AccountSID = dr.Account.Name, dr.Account.AccountSID
	}
	out := dr.Outcome
	switch {
	case out != nil && out.Accepted:
		res.OK, res.Outcome = true, mapping.OutcomeAccepted
		res.Sid, res.Status, res.HTTPStatus = out.Sid, out.Status, out.HTTPStatus
		res.TwilioBody, res.TwilioContentType, res.TwilioHeader = out.Body, out.ContentType, out.Header
	case dr.MayHaveSent():
		res.Outcome = mapping.OutcomeUnknown
		res.Reason = "Twilio did not answer in time; the message may have been sent, so it was not sent again"
		if out != nil {
			res.HTTPStatus = out.HTTPStatus
			res.Reason = "Twilio answered HTTP " + strconv.Itoa(out.HTTPStatus) + ", which does not prove that nothing was sent; it was not sent again"
		}
	case out != nil:
		res.Outcome = mapping.OutcomeRejected
		res.HTTPStatus, res.ErrorCode, res.ErrorMessage, res.MoreInfo = out.HTTPStatus, out.ErrorCode, out.ErrorMessage, out.MoreInfo
		res.TwilioBody, res.TwilioContentType, res.TwilioHeader = out.Body, out.ContentType, out.Header
		if res.ErrorMessage == "" {
			res.ErrorMessage = "Twilio answered HTTP " + strconv.Itoa(out.HTTPStatus)
		}
	case noSender(dr.Err) != nil:
		res.Invalid(NoSender(noSender(dr.Err)))
	case errors.Is(dr.Err, dispatch.ErrBreakerOpen), errors.Is(dr.Err, dispatch.ErrQueueFull), errors.Is(dr.Err, dispatch.ErrNoBudget):
		res.Outcome, res.ErrorCode = mapping.OutcomeUnavailable, CodeUnavailable
		res.Reason = "Twilio is unavailable or overloaded right now; nothing was sent"
	case dr.Err != nil:
		res.Outcome = mapping.OutcomeUnreachable
		res.Reason = "Twilio could not be reached; nothing was sent"
	}
	res.Suggest()
}

// NoSender is the invalid-input form of "no sender can send this": the one
// place that turns it into an answer, for sends and dry runs alike.
func NoSender(e *dispatch.NoSenderError) *mapping.InputError {
	return &mapping.InputError{Field: "from", Reason: "cannot be chosen: " + e.Error(), Problem: mapping.ProblemNoSender}
}

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dedup"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/redisstate"
)

// Redis failure policies.
const (
	// FailLocal falls back to the instance's own state while Redis fails.
	FailLocal = "local"
	// FailRefuse answers "unavailable" without sending while Redis fails.
	FailRefuse = "refuse"
)

// Shared is state kept in Redis, shared by every instance that names the
// same store: duplicate suppression and rate limits. Concurrency caps and
// breakers stay per instance (they protect this process). Nil in Gateway
// means in-process state only.
type Shared struct {
	Client  *redisstate.Client
	Dedup   *redisstate.Dedup
	Limiter *redisstate.Limiter
	// Failure is FailLocal (default) or FailRefuse.
	Failure string
	// Scope keys the rate-limit buckets (the sending account), as the
	// in-process limiters are kept per account.
	Scope string
}

// errRefused is "Redis failed and the route refuses to go on without it".
var errRefused = errors.New("shared state unavailable")

// sharedResult is what Redis keeps of an answer: every field of the Result
// except Twilio's body, which echoes the message text.
type sharedResult struct {
	OK           bool   `json:"ok,omitempty"`
	Outcome      string `json:"o"`
	Sid          string `json:"sid,omitempty"`
	Status       string `json:"st,omitempty"`
	ErrorCode    int    `json:"ec,omitempty"`
	ErrorMessage string `json:"em,omitempty"`
	MoreInfo     string `json:"mi,omitempty"`
	HTTPStatus   int    `json:"hs,omitempty"`
	Account      string `json:"a,omitempty"`
	AccountSID   string `json:"as,omitempty"`
	API          string `json:"api,omitempty"`
	Field        string `json:"f,omitempty"`
	Reason       string `json:"r,omitempty"`
	Suggested    int    `json:"ss,omitempty"`
	ContentType  string `json:"ct,omitempty"`
}

func encodeResult(r *mapping.Result) []byte {
	b, _ := json.Marshal(sharedResult{OK: r.OK, Outcome: r.Outcome, Sid: r.Sid, Status: r.Status, ErrorCode: r.ErrorCode,
		ErrorMessage: r.ErrorMessage, MoreInfo: r.MoreInfo, HTTPStatus: r.HTTPStatus, Account: r.Account, AccountSID: r.AccountSID,
		API: r.API, Field: r.Field, Reason: r.Reason, Suggested: r.SuggestedStatus, ContentType: r.TwilioContentType})
	return b
}

func decodeResult(b []byte) (*mapping.Result, error) {
	var s sharedResult
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return &mapping.Result{OK: s.OK, Outcome: s.Outcome, Sid: s.Sid, Status: s.Status, ErrorCode: s.ErrorCode,
		ErrorMessage: s.ErrorMessage, MoreInfo: s.MoreInfo, HTTPStatus: s.HTTPStatus, Account: s.Account, AccountSID: s.AccountSID,
		API: s.API, Field: s.Field, Reason: s.Reason, SuggestedStatus: s.Suggested, TwilioContentType: s.ContentType}, nil
}

// sharedFailed reports a Redis failure to the observer and says whether the
// route refuses to go on.
func (g *Gateway) sharedFailed(op string) (refuse bool) {
	sh := g.Shared
	g.observer().SharedStateFailed(g.Name, op, sh.Client.WarnDue(time.Minute))
	return sh.Failure == FailRefuse
}

// sharedDedup runs send once across instances. handled is false when Redis
// failed and the local policy applies: the caller then uses the in-process
// cache.
func (g *Gateway) sharedDedup(ctx context.Context, parts []string, auth string, res *mapping.Result, send func() *mapping.Result) (handled bool, err error) {
	sh := g.Shared
	key := sh.Dedup.KeyOf(parts...)
	var first *mapping.Result
	a, shared, err := sh.Dedup.Do(ctx, key, g.DedupWindow, func() redisstate.Answer {
		first = send()
		return redisstate.Answer{Data: encodeResult(first), Tag: first.Sid}
	})
	if err != nil {
		if g.sharedFailed("dedup") {
			return true, errRefused
		}
		return false, nil
	}
	switch {
	case !shared:
		*res = *first
		if !sentOrMaybe(first) {
			_ = sh.Dedup.Forget(context.WithoutCancel(ctx), key, a) // nothing was sent: a retry may try again
		}
	case a.Status == redisstate.Pending:
		res.Outcome, res.ErrorCode = mapping.OutcomeUnavailable, CodeUnavailable
		res.Reason = "an identical request is still being sent; try again later"
		res.Duplicate = true
		res.Suggest()
	case a.Status == redisstate.Lost:
		res.Outcome, res.Duplicate = mapping.OutcomeUnknown, true
		res.Reason = "an identical request was taken by an instance that did not finish it; it may have been sent, so it was not sent again"
		res.Suggest()
	default:
		r, derr := decodeResult(a.Data)
		if derr != nil {
			res.Outcome, res.Duplicate = mapping.OutcomeUnknown, true
			res.Reason = "an identical request was sent, and its answer could not be read"
			res.Suggest()
			return true, nil
		}
		*res = *r
		res.Duplicate = true
		g.observer().Duplicate(g.Name)
		g.fetchResource(ctx, auth, res)
	}
	return true, nil
}

// sharedTake takes a token from the shared bucket of kind for key. local is
// true when Redis failed and the local policy applies.
func (g *Gateway) sharedTake(ctx context.Context, kind, key string, rate float64, burst int) (ok bool, wait time.Duration, local bool, err error) {
	sh := g.Shared
	ok, wait, err = sh.Limiter.Allow(ctx, sh.Scope+"|"+kind+"|"+key, rate, burst)
	if err != nil {
		if g.sharedFailed("rate_limit") {
			return false, 0, false, errRefused
		}
		return false, 0, true, nil
	}
	return ok, wait, false, nil
}

func (g *Gateway) sharedRefund(ctx context.Context, kind, key string, burst int) {
	sh := g.Shared
	if err := sh.Limiter.Refund(context.WithoutCancel(ctx), sh.Scope+"|"+kind+"|"+key, burst); err != nil {
		g.sharedFailed("refund")
	}
}

// keyParts are the parts of a request's dedup key.
func dedupParts(sender, api, params string) []string { return []string{sender, api, params} }

var _ = dedup.KeyOf // the local cache keys the same parts with dedup.KeyOf

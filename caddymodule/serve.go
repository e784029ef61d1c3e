package caddymodule

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dedup"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// Adapter-side error codes, reusing Twilio's meaning so that dialect replies
// built for Twilio's errors read naturally.
const (
	codeGeoBlocked  = 21408 // "Permission to send an SMS has not been enabled for the region"
	codeRateLimited = 20429 // "Too Many Requests"
	codeUnavailable = 20503 // "Service unavailable"
	codeAuth        = 20003 // "Authenticate"
)

// prepared is a request that passed validation: what would be sent.
type prepared struct {
	values *mapping.Values
	api    twilio.API
	params url.Values
	to     string
	// user and password are the caller's Basic credentials (passthrough only).
	user, password string
}

// ServeHTTP answers one legacy SMS request: check the caller, read, map, guard,
// send, map back. It always writes the answer itself and returns nil: an
// error handed to Caddy would be logged with the request's URI and headers,
// which carry codes, numbers and keys. A panic anywhere below is recovered
// into the dialect's failure answer and one log line without request data.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) (err error) {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			h.logger.Error("twilio_sms: internal error answered as a failure", zap.String("route", h.Name), zap.String("panic", panicKind(v)))
			h.writeFailure(w, r)
		}
	}()
	// The budget runs from arrival. A caller that hangs up does not cancel a send
	// in flight: that would turn a message that is probably on its way into an
	// unknown outcome, and its cached answer is what a re-post gets.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Duration(h.Timeout))
	defer cancel()

	res := &mapping.Result{}
	var p *prepared
	caller, ok := h.caller(r)
	if !ok {
		res.Outcome, res.Field, res.ErrorCode = mapping.OutcomeInvalid, "authorization", codeAuth
		res.Reason, res.SuggestedStatus = `field "authorization" does not carry an accepted caller credential`, http.StatusUnauthorized
	} else if p, err = h.prepare(r, http.NewResponseController(w), start.Add(time.Duration(h.Timeout))); err != nil {
		var ie *mapping.InputError
		if !errors.As(err, &ie) {
			h.logger.Error("twilio_sms: mapping failed at run time", zap.String("route", h.Name), zap.String("mapping", h.mapping.Name()))
			h.writeFailure(w, r)
			return nil
		}
		res.Outcome, res.Field, res.Reason, res.SuggestedStatus = mapping.OutcomeInvalid, ie.Field, ie.Error(), ie.HTTPStatus()
	} else {
		h.deliver(ctx, caller, p, res)
	}
	var v *mapping.Values
	if p != nil {
		v = p.values
	} else {
		v = h.mapping.NewValues(h.route, requestInfo(r))
	}
	reply, err := h.mapping.Reply(v, res)
	if err != nil {
		h.logger.Error("twilio_sms: reply mapping failed at run time", zap.String("route", h.Name), zap.String("mapping", h.mapping.Name()), zap.String("outcome", res.Outcome))
		h.writeFailure(w, r)
		return nil
	}
	h.metrics.request(h.Name, h.mapping.Name(), res.API, res.Outcome, res.ErrorCode)
	h.setPlaceholders(r, res)
	h.logRequest(v, res, time.Since(start))
	hdr := w.Header()
	for k, vals := range reply.Header {
		hdr[k] = vals
	}
	hdr.Set("Content-Length", strconv.Itoa(len(reply.Body)))
	w.WriteHeader(reply.Status)
	_, _ = w.Write(reply.Body) // a caller that went away is not Caddy's error to log
	return nil
}

// writeFailure is the answer when the mapping itself cannot produce one (a
// bug or a panic): the dialect's failure answer when it can still be built
// from nothing of the request, else a bare 500. Nothing was sent, or the
// outcome is unknown; either way the caller must not take it for success.
func (h *Handler) writeFailure(w http.ResponseWriter, r *http.Request) {
	body, status, ctype := []byte("internal error\n"), http.StatusInternalServerError, "text/plain; charset=utf-8"
	func() {
		defer func() { _ = recover() }()
		res := &mapping.Result{Outcome: mapping.OutcomeUnknown, Reason: "the adapter failed to process the request"}
		res.Suggest()
		res.SuggestedStatus = http.StatusInternalServerError
		if rep, err := h.mapping.Reply(h.mapping.NewValues(h.route, requestInfo(r)), res); err == nil {
			body, status, ctype = rep.Body, rep.Status, rep.Header.Get("Content-Type")
		}
	}()
	hdr := w.Header()
	if ctype != "" {
		hdr.Set("Content-Type", ctype)
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	defer func() { _ = recover() }() // headers already written by a panicking writer
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// panicKind names a recovered value's type only: its text may hold request data.
func panicKind(v any) string {
	switch v.(type) {
	case error:
		return "error"
	case string:
		return "string"
	}
	return "value"
}

// prepare reads the body within the mapping's cap, extracts and validates the
// fields, and computes Twilio's parameters. Any *mapping.InputError means
// nothing will be sent.
func (h *Handler) prepare(r *http.Request, rc *http.ResponseController, deadline time.Time) (*prepared, error) {
	limit := h.mapping.MaxBodyBytes()
	// A caller that stalls its body must not hold the handler past the budget.
	if rc != nil {
		_ = rc.SetReadDeadline(deadline)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if rc != nil {
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, &mapping.InputError{Field: "body", Reason: "did not arrive within the time budget", Status: http.StatusRequestTimeout}
		}
		return nil, &mapping.InputError{Field: "body", Reason: "could not be read"}
	}
	if int64(len(body)) > limit {
		return nil, &mapping.InputError{Field: "body", Reason: "is larger than " + strconv.FormatInt(limit, 10) + " bytes", Status: http.StatusRequestEntityTooLarge}
	}
	in, err := h.mapping.ParseRequest(r, body)
	if err != nil {
		return nil, err
	}
	v, err := h.mapping.Extract(in, h.route)
	p := &prepared{values: v}
	if err != nil {
		return p, err
	}
	if p.api, err = h.mapping.API(v); err != nil {
		return p, err
	}
	if p.params, err = h.mapping.Params(v, p.api); err != nil {
		return p, err
	}
	p.to = p.params.Get("To")
	if err := h.checkParams(p); err != nil {
		return p, err
	}
	if h.Credentials == CredentialsPassthrough {
		user, pass, ok := r.BasicAuth()
		if !ok || user == "" || pass == "" {
			return p, &mapping.InputError{Field: "authorization", Reason: "must carry the Twilio Account SID (or API key) and its secret as HTTP Basic credentials", Status: http.StatusUnauthorized}
		}
		p.user, p.password = user, pass
	}
	return p, nil
}

// checkParams applies the route's rules on what a caller may ask Twilio for:
// a status callback URL only where the caller owns the account or the route
// allows it, and a call no longer than the route's time_limit.
func (h *Handler) checkParams(p *prepared) error {
	if p.params.Get("StatusCallback") != "" && h.Credentials != CredentialsPassthrough && !h.AllowCallerStatusCallback {
		return &mapping.InputError{Field: "status_callback", Reason: "is not accepted on this route: a caller-chosen URL would receive the operator's delivery data (allow_caller_status_callback opens it)"}
	}
	if p.api != twilio.Calls {
		return nil
	}
	limit := int(time.Duration(h.TimeLimit).Seconds())
	if v := p.params.Get("TimeLimit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return &mapping.InputError{Field: "time_limit", Reason: "must be a whole number of seconds"}
		}
		if n > limit {
			return &mapping.InputError{Field: "time_limit", Reason: "is longer than this route allows (" + strconv.Itoa(limit) + " s)"}
		}
		return nil
	}
	p.params.Set("TimeLimit", strconv.Itoa(limit))
	return nil
}

// deliver applies the guards, then sends through the dispatcher (once per
// dedup key) and fills res. Refusals spend no rate-limit token; a send that
// provably sent nothing gives its tokens back.
func (h *Handler) deliver(ctx context.Context, caller string, p *prepared, res *mapping.Result) {
	res.API = string(p.api)
	region := phone.Region(p.to)
	if !h.guards.countryAllowed(region) {
		res.Outcome, res.Field, res.ErrorCode = mapping.OutcomeBlocked, "to", codeGeoBlocked
		if region == "" {
			res.Reason = "the destination's country cannot be told, and this route allows only some countries"
		} else {
			res.Reason = "sending to region " + region + " is not allowed on this route"
		}
		h.metrics.blocked(h.Name, "country")
		res.Suggest()
		return
	}
	if kind, ok := h.guards.kindAllowed(p.to); !ok {
		res.Outcome, res.Field, res.ErrorCode = mapping.OutcomeBlocked, "to", codeGeoBlocked
		res.Reason = "sending to " + strings.ReplaceAll(kind, "_", " ") + " numbers is not allowed on this route (allow_number_types)"
		h.metrics.blocked(h.Name, kind)
		res.Suggest()
		return
	}
	plan, err := h.plan(p)
	if err != nil {
		var ie *mapping.InputError
		errors.As(err, &ie)
		res.Outcome, res.Field, res.Reason, res.SuggestedStatus = mapping.OutcomeInvalid, ie.Field, ie.Error(), ie.HTTPStatus()
		return
	}
	ctx = dispatch.WithCaller(ctx, caller)
	send := func() *mapping.Result {
		out := &mapping.Result{API: res.API}
		taken, kind, wait := h.guards.take(caller, p.to)
		if kind != "" {
			out.Outcome, out.ErrorCode, out.RetryAfter = mapping.OutcomeRateLimited, codeRateLimited, retryAfterSeconds(wait)
			out.Reason = "too many messages for this " + kind + "; try again later"
			h.metrics.rateLimited(h.Name, kind)
			out.Suggest()
			return out
		}
		dr := h.dispatch(ctx, plan, p)
		fillResult(out, dr)
		if !sentOrMaybe(out) {
			h.guards.refund(taken) // provably nothing sent: the limit is not spent
		}
		return out
	}
	if h.guards.dedup == nil {
		*res = *send()
		return
	}
	key := h.dedupKey(p)
	var first *mapping.Result
	v, shared, err := h.guards.dedup.Do(ctx, key, time.Duration(h.DedupWindow), func() any {
		first = send()
		kept := *first
		kept.TwilioBody = nil // it echoes the message text: never kept in the cache
		return &kept
	})
	switch {
	case errors.Is(err, dedup.ErrFull):
		res.Outcome, res.ErrorCode = mapping.OutcomeUnavailable, codeUnavailable
		res.Reason = "too many messages are being remembered to suppress duplicates; nothing was sent, try again later"
		var fe *dedup.FullError
		if errors.As(err, &fe) {
			res.RetryAfter = retryAfterSeconds(fe.RetryAfter)
		} else {
			res.RetryAfter = retryAfterSeconds(dedup.FullRetryAfter)
		}
		h.metrics.dedupFull(h.Name)
		h.warnDedupFull()
		res.Suggest()
	case !shared:
		*res = *first
		if !sentOrMaybe(first) {
			h.guards.dedup.Forget(key) // nothing was sent: a retry may try again
		}
	case v == nil:
		res.Outcome, res.ErrorCode = mapping.OutcomeUnavailable, codeUnavailable
		res.Reason = "an identical request is still being sent; try again later"
		res.Duplicate = true
		res.Suggest()
	default:
		*res = *v.(*mapping.Result)
		res.Duplicate = true
		h.metrics.duplicate(h.Name)
	}
}

// dedupKey identifies one logical send: the API, the sending account (the
// caller's own credentials in passthrough) and the exact parameters, which
// hold the destination and the text. Nothing else of the route goes in, so a
// reload that renames the route, rotates a token, edits a fallback or changes
// the window keeps recognising what was just sent.
func (h *Handler) dedupKey(p *prepared) dedup.Key {
	if h.Credentials == CredentialsPassthrough {
		return dedup.KeyOf("passthrough", string(p.api), p.user, p.password, p.params.Encode())
	}
	return dedup.KeyOf("account", string(p.api), h.AccountSID, h.StudioFlowSID, p.params.Encode())
}

// warnDedupFull logs at most one warning a minute while the dedup cache is full.
func (h *Handler) warnDedupFull() {
	now := time.Now().Unix()
	last := dedupFullWarned.Load()
	if now-last < 60 || !dedupFullWarned.CompareAndSwap(last, now) {
		return
	}
	h.logger.Warn("twilio_sms: the duplicate-suppression cache is full; new sends are refused with 503 until entries expire",
		zap.String("route", h.Name), zap.Int("max_entries", h.guards.dedup.Max()))
}

var dedupFullWarned atomic.Int64

// requestInfo is the request metadata for answering a request whose body
// could not be read.
func requestInfo(r *http.Request) mapping.Request {
	info := mapping.Request{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type")}
	switch {
	case strings.HasSuffix(r.URL.Path, ".json"):
		info.Ext = ".json"
	case strings.HasSuffix(r.URL.Path, ".xml"):
		info.Ext = ".xml"
	}
	return info
}

// noSender is the invalid-input form of "no sender can send this".
func noSender(e *dispatch.NoSenderError) *mapping.InputError {
	return &mapping.InputError{Field: "from", Reason: "cannot be chosen: " + e.Error()}
}

// sentOrMaybe reports whether a result means the message was, or may have been, sent.
func sentOrMaybe(r *mapping.Result) bool {
	return r.OK || r.Outcome == mapping.OutcomeUnknown
}

// plan lists the accounts to try: the router's plan, or for passthrough the
// caller's own account.
func (h *Handler) plan(p *prepared) ([]*dispatch.Account, error) {
	plan := h.router.Plan(p.to)
	if h.Credentials != CredentialsPassthrough {
		return plan, nil
	}
	acct := *plan[0]
	acct.Name = "caller"
	acct.Username, acct.Password = p.user, p.password
	acct.AccountSID = p.values.Field("account_sid")
	if acct.AccountSID == "" {
		acct.AccountSID = h.AccountSID
	}
	if acct.AccountSID == "" && accountSIDRE.MatchString(p.user) {
		acct.AccountSID = p.user
	}
	if !accountSIDRE.MatchString(acct.AccountSID) {
		return nil, &mapping.InputError{Field: "account_sid", Reason: "must be a Twilio Account SID (AC followed by 32 hex digits): give it as the Basic user name, in the path, or as account_sid in the Caddyfile", Status: http.StatusUnauthorized}
	}
	return []*dispatch.Account{&acct}, nil
}

// dispatch sends through the plan. A passthrough request gets its own limiter
// and breaker state, since the caller's account is not one the adapter knows.
func (h *Handler) dispatch(ctx context.Context, plan []*dispatch.Account, p *prepared) *dispatch.Result {
	d := h.dispatcher
	if h.Credentials == CredentialsPassthrough {
		own := *d
		own.State = dispatch.NewState(d.State.Config())
		d = &own
	}
	channel := h.requestChannel(p.api)
	region := phone.Region(p.to)
	callerFrom := p.values.Field("from")
	dr := d.Send(ctx, plan, func(a *dispatch.Account) (*twilio.Request, error) {
		return h.buildRequest(a, p, channel, region, callerFrom)
	})
	h.observe(d, plan, dr, p.api)
	return dr
}

// observe records one dispatch in the metrics: every upstream call (a timeout
// is status class "none"), every retry and fallback, and the state of the
// accounts that were tried.
func (h *Handler) observe(d *dispatch.Dispatcher, plan []*dispatch.Account, dr *dispatch.Result, api twilio.API) {
	if h.metrics == nil {
		return
	}
	prev := ""
	for _, at := range dr.Attempts {
		if at.Duration > 0 && at.Reason != dispatch.ReasonBreakerOpen && at.Reason != dispatch.ReasonQueueFull && at.Reason != dispatch.ReasonNoSlot {
			h.metrics.upstream(at.Account, string(api), at.HTTPStatus, at.Duration)
		}
		if prev != "" && at.Account != prev {
			h.metrics.fallback(prev, at.Account)
		}
		prev = at.Account
	}
	if dr.Account != nil {
		for range dr.Retries {
			h.metrics.retry(dr.Account.Name)
		}
	}
	if h.Credentials == CredentialsPassthrough {
		return // a per-request state: its gauges would mean nothing
	}
	for _, a := range plan {
		if !slices.ContainsFunc(dr.Attempts, func(at dispatch.Attempt) bool { return at.Account == a.Name }) {
			continue
		}
		st := d.State.For(a)
		h.metrics.breaker(a.Name, string(st.Breaker.State()))
		h.metrics.queue(a.Name, st.Limiter.InFlight(), st.Limiter.Waiting())
	}
}

// buildRequest is the Twilio request for one account: the mapping's parameters
// plus the sender chosen for this account.
func (h *Handler) buildRequest(a *dispatch.Account, p *prepared, channel dispatch.Channel, region, callerFrom string) (*twilio.Request, error) {
	from, mss, err := dispatch.SelectSender(a, channel, region, callerFrom)
	if err != nil {
		return nil, err
	}
	params := make(url.Values, len(p.params)+1)
	for k, v := range p.params {
		params[k] = v
	}
	switch {
	case p.api == twilio.Studio && mss != "":
		params.Set("From", mss) // Studio takes a Messaging Service SID as From
	case mss != "":
		params.Set("MessagingServiceSid", mss)
	case from != "":
		params.Set("From", from)
	}
	req := a.NewRequest(p.api, params)
	if p.api == twilio.Studio {
		req.FlowSID = h.StudioFlowSID
	}
	return req, nil
}

// requestChannel is the sender capability a request needs: voice for Calls,
// sms for Messages and Studio (which takes From like SMS).
func (h *Handler) requestChannel(api twilio.API) dispatch.Channel {
	if api == twilio.Calls {
		return "voice"
	}
	return "sms"
}

// fillResult turns the dispatcher's result into the mapping's view of it.
func fillResult(res *mapping.Result, dr *dispatch.Result) {
	if dr.Account != nil {
		res.Account, res.AccountSID = dr.Account.Name, dr.Account.AccountSID
	}
	out := dr.Outcome
	var se *twilio.SendError
	var nse *dispatch.NoSenderError
	switch {
	case out != nil && out.Accepted:
		res.OK, res.Outcome = true, mapping.OutcomeAccepted
		res.Sid, res.Status, res.HTTPStatus = out.Sid, out.Status, out.HTTPStatus
		res.TwilioBody, res.TwilioContentType = out.Body, out.ContentType
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
		res.TwilioBody, res.TwilioContentType = out.Body, out.ContentType
		if res.ErrorMessage == "" {
			res.ErrorMessage = "Twilio answered HTTP " + strconv.Itoa(out.HTTPStatus)
		}
	case errors.As(dr.Err, &nse):
		res.Outcome, res.Field = mapping.OutcomeInvalid, "from"
		res.Reason, res.SuggestedStatus = noSender(nse).Error(), http.StatusBadRequest
	case errors.Is(dr.Err, dispatch.ErrBreakerOpen), errors.Is(dr.Err, dispatch.ErrQueueFull), errors.Is(dr.Err, dispatch.ErrNoBudget):
		res.Outcome, res.ErrorCode = mapping.OutcomeUnavailable, codeUnavailable
		res.Reason = "Twilio is unavailable or overloaded right now; nothing was sent"
	case errors.As(dr.Err, &se) || dr.Err != nil:
		res.Outcome = mapping.OutcomeUnreachable
		res.Reason = "Twilio could not be reached; nothing was sent"
	}
	res.Suggest()
}

func (h *Handler) setPlaceholders(r *http.Request, res *mapping.Result) {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return
	}
	// One provider instead of seven Set calls: values are read on demand.
	name := h.mapping.Name()
	repl.Map(func(key string) (any, bool) {
		switch key {
		case "http.twilio_sms.outcome":
			return res.Outcome, true
		case "http.twilio_sms.sid":
			return res.Sid, true
		case "http.twilio_sms.status":
			return res.Status, true
		case "http.twilio_sms.error_code":
			return res.ErrorCode, true
		case "http.twilio_sms.account":
			return res.Account, true
		case "http.twilio_sms.api":
			return res.API, true
		case "http.twilio_sms.mapping":
			return name, true
		}
		return nil, false
	})
}

// logRequest writes one line per request: what happened, never the message,
// the code, a token or a whole phone number (the destination is masked).
func (h *Handler) logRequest(v *mapping.Values, res *mapping.Result, took time.Duration) {
	level := zap.InfoLevel
	if !res.OK {
		level = zap.WarnLevel
	}
	ce := h.logger.Check(level, "twilio_sms")
	if ce == nil {
		return
	}
	ce.Write(
		zap.String("route", h.Name),
		zap.String("mapping", h.mapping.Name()),
		zap.String("outcome", res.Outcome),
		zap.String("api", res.API),
		zap.String("to", phone.Mask(v.Field("to"))),
		zap.String("sid", res.Sid),
		zap.String("account", res.Account),
		zap.Int("twilio_status", res.HTTPStatus),
		zap.Int("error_code", res.ErrorCode),
		zap.String("field", res.Field),
		zap.Bool("duplicate", res.Duplicate),
		zap.Duration("duration", took),
	)
}

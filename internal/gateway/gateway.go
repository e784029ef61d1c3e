package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dedup"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/ratelimit"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// Adapter-side error codes, reusing Twilio's meaning so that dialect replies
// built for Twilio's errors read naturally.
const (
	CodeGeoBlocked  = 21408 // "Permission to send an SMS has not been enabled for the region"
	CodeRateLimited = 20429 // "Too Many Requests"
	CodeUnavailable = 20503 // "Service unavailable"
	CodeAuth        = 20003 // "Authenticate"
)

// Gateway is one route: everything a request needs, built once at
// provisioning and read-only afterwards (its limiters, breakers and caches
// are safe for concurrent use). See the package documentation for the path
// of a request.
type Gateway struct {
	// Name labels the route in metrics and logs.
	Name string
	// Mapping is the compiled dialect; Route is what its expressions see as route.
	Mapping *mapping.Mapping
	Route   mapping.Route
	// Credentials says whose accounts send: Stored or Passthrough.
	Credentials Credentials
	// Router plans the accounts; Dispatcher sends through them.
	Router     *dispatch.Router
	Dispatcher *dispatch.Dispatcher
	// StudioFlowSID is the flow Studio requests run.
	StudioFlowSID string

	// Callers are the accepted caller credentials (empty: any caller).
	Callers Callers
	// Destinations are the country and number-type rules.
	Destinations Destinations
	// DestinationLimit and CallerLimit are the rate limits (nil: none), and
	// DestinationRate and CallerRate their settings, which the shared store
	// (when there is one) applies instead, falling back to the local ones.
	DestinationLimit, CallerLimit *ratelimit.Limiter
	DestinationRate, CallerRate   Rate
	// Shared keeps dedup and limits in Redis across instances (nil: this
	// instance's own state only).
	Shared *Shared
	// Dedup suppresses identical requests within DedupWindow (nil: off).
	Dedup       *dedup.Cache
	DedupWindow time.Duration

	// Timeout is the whole budget of a request, from arrival to answer.
	Timeout time.Duration
	// TimeLimit caps every call (Twilio's TimeLimit).
	TimeLimit time.Duration
	// AllowCallerStatusCallback forwards a caller's StatusCallback with
	// stored credentials (passthrough always forwards it).
	AllowCallerStatusCallback bool

	// Twilio makes the route speak Twilio's own API (see TwilioAPI); nil
	// for every other dialect.
	Twilio *TwilioAPI
	// Delivery tracks what became of each message (nil: not tracked).
	Delivery *DeliveryTracking

	// Observer receives the metrics; nil observes nothing.
	Observer Observer
}

// Rate is a token bucket's setting: PerSecond refill, Burst tokens.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Inbound is one request as the server received it.
type Inbound struct {
	Request *http.Request
	// Control sets read deadlines on the connection (nil: none can be set).
	Control *http.ResponseController
	// ClientIP is the client address as the server determined it (behind
	// trusted proxies, the original client), the caller's identity when the
	// route has no caller credentials.
	ClientIP string
	// Start is when the request arrived; the budget runs from it. Zero: now.
	Start time.Time
}

// Outcome is what became of one request.
type Outcome struct {
	// Values are the mapping's fields (nil when the body was never read).
	Values *mapping.Values
	// Result is the outcome in the mapping's terms.
	Result *mapping.Result
	// Reply is the caller's answer; nil when Err is set.
	Reply *mapping.Reply
	// Err is a mapping failure at run time (a bug in a mapping): there is
	// no answer in the dialect and the server must answer on its own. It
	// never carries request data.
	Err error
	// Plan and Requests are the accounts and the Twilio requests that would
	// be sent, filled by a dry run.
	Plan     []string
	Requests []*twilio.Request
	// Forwarded is Twilio's answer to a forwarded request (TwilioAPI), to
	// relay verbatim; Reply is then nil.
	Forwarded *twilio.Forwarded
}

// Mode chooses whether Serve sends.
type Mode int

const (
	// Send is the real run.
	Send Mode = iota
	// DryRun runs every step up to the Twilio call, builds the request for
	// every account of the plan, spends no limit and touches no cache, and
	// answers as if Twilio had accepted (with a sample SID of the resource
	// the API returns: SM…, CA… or FN…).
	DryRun
)

// Serve runs one request from bytes to answer. It never panics on caller
// input and always returns an Outcome with a Reply unless a mapping failed
// at run time.
func (g *Gateway) Serve(in Inbound, mode Mode) *Outcome {
	start := in.Start
	if start.IsZero() {
		start = time.Now()
	}
	r := in.Request
	// The budget runs from arrival. A caller that hangs up does not cancel a
	// send in flight: that would turn a message that is probably on its way
	// into an unknown outcome, and its cached answer is what a re-post gets.
	ctx, cancel := context.WithDeadline(context.WithoutCancel(r.Context()), start.Add(g.Timeout))
	defer cancel()

	out := &Outcome{Result: &mapping.Result{}}
	res := out.Result
	var p *Prepared
	body, err := g.ReadBody(r, in.Control, start.Add(g.Timeout))
	caller, ok := "", false
	if err == nil {
		caller, ok = g.Callers.Verify(r, body, in.ClientIP, start)
		if !ok && mode == DryRun {
			caller, ok = "dry-run", true // an operator's preview carries no caller credential
		}
	}
	// ie is declared on the error paths only: errors.As makes it escape, and
	// a declaration here would cost every request an allocation.
	switch {
	case err != nil:
		var ie *mapping.InputError
		errors.As(err, &ie)
		invalid(res, ie)
	case !ok:
		invalid(res, &mapping.InputError{Field: "authorization", Reason: "does not carry an accepted caller credential", Status: http.StatusUnauthorized, Problem: mapping.ProblemAuth})
		res.ErrorCode = CodeAuth
	case g.forwards(r):
		if mode == DryRun {
			invalid(res, &mapping.InputError{Field: "path", Reason: "is forwarded to Twilio as it is; there is nothing to preview", Problem: mapping.ProblemInvalid})
			break
		}
		g.forward(ctx, in, body, out)
		if out.Forwarded != nil {
			return out
		}
	default:
		if p, err = g.Prepare(r, body); err != nil {
			var ie *mapping.InputError
			if !errors.As(err, &ie) {
				out.Err = g.runtimeError("request", err)
				return out
			}
			invalid(res, ie)
		} else {
			g.deliver(ctx, caller, p, res, mode, out)
		}
	}
	if p != nil && p.Values != nil {
		out.Values = p.Values
	} else {
		// A refused caller's fields are not read, not even for its answer.
		out.Values = g.Mapping.NewValues(g.Route, RequestInfo(r))
	}
	reply, err := g.Mapping.Reply(out.Values, res)
	if err != nil {
		out.Err = g.runtimeError("reply", err)
		return out
	}
	out.Reply = reply
	return out
}

// RuntimeError is a mapping that failed at run time. Its text names the
// mapping and the stage only: the expression's own error quotes the values
// it failed on, which are request data. Unwrap gives that error, for an
// operator's own tools, never for a log.
type RuntimeError struct {
	Mapping, Stage string
	err            error
}

func (e *RuntimeError) Error() string {
	return "mapping " + e.Mapping + " failed at run time while computing the " + e.Stage
}

func (e *RuntimeError) Unwrap() error { return e.err }

func (g *Gateway) runtimeError(stage string, err error) error {
	return &RuntimeError{Mapping: g.Mapping.Name(), Stage: stage, err: err}
}

// invalid fills res for bad input: nothing was sent.
func invalid(res *mapping.Result, ie *mapping.InputError) { res.Invalid(ie) }

// RequestInfo is the request metadata for answering a request whose body
// could not be read.
func RequestInfo(r *http.Request) mapping.Request {
	info := mapping.Request{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type")}
	switch {
	case strings.HasSuffix(r.URL.Path, ".json"):
		info.Ext = ".json"
	case strings.HasSuffix(r.URL.Path, ".xml"):
		info.Ext = ".xml"
	}
	return info
}

func (g *Gateway) observer() Observer {
	if g.Observer == nil {
		return NopObserver{}
	}
	return g.Observer
}

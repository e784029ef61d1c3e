package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilioapi"
)

// TwilioAPI makes a route speak Twilio's own REST API to callers built for
// Twilio (its SDKs, twilio-cli, Logto's and Symfony's connectors), so that
// they only change the host:
//
//   - A create of a Message or a Call goes through the whole pipeline
//     (caller checks, number rules, geo and number-type rules, limits, dedup,
//     concurrency, metrics, logs). Every create parameter the caller sends is
//     forwarded unless the mapping already set it or the adapter refuses it
//     (RiskCheck=disable; on stored credentials Url, ApplicationSid, a
//     caller's StatusCallback and TwiML beyond Say and Pause).
//   - Senders: with passthrough credentials the caller's From or
//     MessagingServiceSid wins and the route's senders are defaults for a
//     create that names none; with stored credentials a caller's sender must
//     be one of the route's, or the create is refused with 21606.
//   - With passthrough credentials, every other request under
//     /2010-04-01/Accounts/{AccountSid}/ (fetch, list, update, delete, any
//     resource) is forwarded verbatim to the account's API base with the
//     caller's credentials and relayed verbatim (Forward).
//   - A duplicate create is answered with the full resource of the first
//     message, fetched with the caller's credentials (which also gives its
//     current status), and the status code Twilio gave.
type TwilioAPI struct {
	// Client forwards requests and fetches resources (never following a
	// redirect); Base is the main account's API base URL, from config.
	Client *twilio.Client
	Base   string
}

// accountsPrefix starts every account-scoped path of Twilio's 2010 API.
const accountsPrefix = "/2010-04-01/Accounts/"

// createPath matches a create: POST …/Accounts/{AC…}/Messages or /Calls, with
// an optional .json or .xml.
var createPath = regexp.MustCompile(`^/2010-04-01/Accounts/[^/]+/(Messages|Calls)(\.json|\.xml)?$`)

// forwards reports whether r is a request the route relays verbatim.
func (g *Gateway) forwards(r *http.Request) bool {
	if g.Twilio == nil || !strings.HasPrefix(r.URL.Path, accountsPrefix) {
		return false
	}
	if _, passthrough := g.Credentials.(Passthrough); !passthrough {
		return false // the operator's account is not the caller's to read
	}
	return !(r.Method == http.MethodPost && createPath.MatchString(r.URL.Path))
}

// forward relays one request verbatim: Twilio's status, headers and body go
// back as they came. The caller's Basic credentials are required (they are
// Twilio's); the caller's own caller_auth still applies.
func (g *Gateway) forward(ctx context.Context, in Inbound, body []byte, out *Outcome) {
	r := in.Request
	res := out.Result
	if _, _, ok := r.BasicAuth(); !ok {
		invalid(res, &mapping.InputError{Field: "authorization", Reason: "must carry the Twilio Account SID (or API key) and its secret as HTTP Basic credentials", Status: http.StatusUnauthorized, Problem: mapping.ProblemAuth})
		res.ErrorCode = CodeAuth
		return
	}
	target := g.Twilio.Base + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	header := r.Header.Clone()
	header.Del("Cookie")
	start := time.Now()
	fw, err := g.Twilio.Client.Forward(ctx, r.Method, target, header, body)
	if err != nil {
		var se *twilio.SendError
		if errors.As(err, &se) && se.MayHaveReached() && r.Method != http.MethodGet {
			res.Outcome = mapping.OutcomeUnknown
			res.Reason = "Twilio did not answer; the request may have been applied"
		} else {
			res.Outcome = mapping.OutcomeUnreachable
			res.Reason = "Twilio could not be reached"
		}
		res.Suggest()
		return
	}
	g.observer().Upstream("caller", "forward", fw.Status, time.Since(start))
	res.API, res.HTTPStatus, res.OK = "forward", fw.Status, fw.Status >= 200 && fw.Status < 300
	res.Outcome = mapping.OutcomeAccepted
	if !res.OK {
		res.Outcome = mapping.OutcomeRejected
	}
	out.Forwarded = fw
}

// twilioParams adds to p.Params every create parameter the caller sent that
// the mapping did not set, and refuses the ones the adapter does not pass on.
func (g *Gateway) twilioParams(r *http.Request, body []byte, p *Prepared) error {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil // the mapping read the body already; nothing more to add
	}
	_, passthrough := g.Credentials.(Passthrough)
	documented := twilioapi.IsMessageCreateParam
	if p.API == twilio.Calls {
		documented = twilioapi.IsCallCreateParam
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range form {
			if !yield(k) {
				return
			}
		}
	}) {
		switch {
		case p.Params.Has(k), k == "From", k == "MessagingServiceSid", k == "To":
			continue // set by the mapping or by the sender rules
		case k == "RiskCheck" && strings.EqualFold(form.Get(k), "disable"):
			return &mapping.InputError{Field: "risk_check", Reason: "RiskCheck=disable is not accepted: it turns off Twilio's SMS pumping protection", Problem: mapping.ProblemInvalid}
		case !documented(k):
			return &mapping.InputError{Field: k, Reason: "is not a parameter of Twilio's " + string(p.API) + " create", Problem: mapping.ProblemInvalid}
		case !passthrough && (k == "Url" || k == "ApplicationSid" || k == "FallbackUrl" || k == "StatusCallback"):
			// "url" is the field name the Twilio dialect answers 21205 for.
			return &mapping.InputError{Field: "url", Reason: k + " is not accepted with the route's own credentials: the operator's account would run a caller-chosen URL", Problem: mapping.ProblemInvalid}
		}
		p.Params[k] = form[k]
	}
	return nil
}

// callerSender checks a Twilio-compatible caller's own From or
// MessagingServiceSid against the route's senders (stored credentials): it
// must be one of them, never replaced silently.
func (g *Gateway) callerSender(plan []*dispatch.Account, p *Prepared) error {
	if _, passthrough := g.Credentials.(Passthrough); passthrough {
		return nil
	}
	from, mss := p.Values.Field("from"), p.Values.Field("messaging_service_sid")
	if from == "" && mss == "" {
		return nil
	}
	for _, a := range plan {
		if mss != "" && a.MessagingServiceSID == mss {
			return nil
		}
		for _, s := range a.Senders {
			if from != "" && s.Number == from {
				return nil
			}
		}
		if from != "" && len(a.Senders) == 0 && a.MessagingServiceSID == "" {
			return nil // the route sets no sender: the caller's is used
		}
	}
	field := "from"
	if from == "" {
		field = "messaging_service_sid"
	}
	return &mapping.InputError{Field: field, Reason: "is not one of this route's senders", Problem: mapping.ProblemInvalid}
}

// twilioSender is the sender of a Twilio-compatible create: the caller's own
// (passthrough, or a stored route's sender the caller named), else ok=false
// and the route's choice applies.
func (g *Gateway) twilioSender(a *dispatch.Account, p *Prepared) (from, mss string, ok bool) {
	from, mss = p.Values.Field("from"), p.Values.Field("messaging_service_sid")
	if from == "" && mss == "" {
		return "", "", false
	}
	if _, passthrough := g.Credentials.(Passthrough); passthrough {
		return from, mss, true
	}
	if mss != "" && a.MessagingServiceSID == mss {
		return "", mss, true
	}
	for _, s := range a.Senders {
		if from != "" && s.Number == from {
			return from, "", true
		}
	}
	return "", "", false
}

// fetchResource answers a duplicate create with the first message's (or
// call's) full resource as Twilio has it now, fetched with the caller's
// credentials. On any failure the cached answer stands.
func (g *Gateway) fetchResource(ctx context.Context, auth string, res *mapping.Result) {
	if g.Twilio == nil || !res.OK || res.Sid == "" || res.AccountSID == "" {
		return
	}
	kind := "Messages"
	if res.API == string(twilio.Calls) {
		kind = "Calls"
	} else if res.API != string(twilio.Messages) {
		return
	}
	if auth == "" {
		return
	}
	header := http.Header{"Accept": {"application/json"}, "Authorization": {auth}}
	target := g.Twilio.Base + accountsPrefix + url.PathEscape(res.AccountSID) + "/" + kind + "/" + url.PathEscape(res.Sid) + ".json"
	fw, err := g.Twilio.Client.Forward(ctx, http.MethodGet, target, header, nil)
	if err != nil || fw.Status != http.StatusOK {
		return
	}
	res.TwilioBody, res.TwilioContentType = fw.Body, fw.Header.Get("Content-Type")
	res.TwilioHeader = http.Header{}
	for _, k := range twilio.RelayedHeaders {
		if v := fw.Header.Values(k); len(v) > 0 {
			res.TwilioHeader[k] = v
		}
	}
}

package caddymodule

import (
	"errors"
	"net/http"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// Explanation is what a request would do, without sending anything.
type Explanation struct {
	Mapping      string
	Invalid      *mapping.InputError // set when the request is bad input (nothing would be sent)
	Requests     []*twilio.Request   // the request per account in plan order (primary first, then fallbacks)
	Accounts     []string            // account labels, same order
	SuccessReply *mapping.Reply      // the caller's answer if Twilio accepts (sample sid SM000…)
	FailureReply *mapping.Reply      // the caller's answer if Twilio refuses with 21211
	InvalidReply *mapping.Reply      // the caller's answer when Invalid is set
}

// Explain runs a request through the same steps as ServeHTTP up to, but not
// including, the Twilio call, and renders the answers the caller would get.
// Caller authentication, rate limits and dedup are not applied.
func (h *Handler) Explain(r *http.Request) (*Explanation, error) {
	ex := &Explanation{Mapping: h.mapping.Name()}
	p, err := h.prepare(r, nil, time.Time{})
	var plan []*dispatch.Account
	if err == nil {
		plan, err = h.plan(p)
	}
	if err != nil {
		var ie *mapping.InputError
		if !errors.As(err, &ie) {
			return nil, err
		}
		ex.Invalid = ie
		v := h.mapping.NewValues(h.route, requestInfo(r))
		if p != nil && p.values != nil {
			v = p.values
		}
		res := &mapping.Result{Outcome: mapping.OutcomeInvalid, Field: ie.Field, Reason: ie.Error(), SuggestedStatus: ie.HTTPStatus()}
		ex.InvalidReply, err = h.mapping.Reply(v, res)
		return ex, err
	}
	for _, a := range plan {
		req, err := h.buildRequest(a, p, h.requestChannel(p.api), phone.Region(p.to), p.values.Field("from"))
		var nse *dispatch.NoSenderError
		if errors.As(err, &nse) && len(ex.Requests) == 0 {
			// ServeHTTP answers this as invalid too: nothing would be sent.
			ex.Invalid = noSender(nse)
			res := &mapping.Result{Outcome: mapping.OutcomeInvalid, Field: "from", Reason: ex.Invalid.Error(), SuggestedStatus: http.StatusBadRequest}
			ex.InvalidReply, err = h.mapping.Reply(p.values, res)
			return ex, err
		}
		if err != nil {
			return nil, err
		}
		ex.Requests = append(ex.Requests, req)
		ex.Accounts = append(ex.Accounts, a.Name)
	}
	ok := &mapping.Result{OK: true, Outcome: mapping.OutcomeAccepted, API: string(p.api), Sid: "SM00000000000000000000000000000000",
		Status: "queued", HTTPStatus: 201, Account: plan[0].Name, AccountSID: plan[0].AccountSID}
	if ex.SuccessReply, err = h.mapping.Reply(p.values, ok); err != nil {
		return nil, err
	}
	bad := &mapping.Result{Outcome: mapping.OutcomeRejected, API: string(p.api), HTTPStatus: 400, ErrorCode: 21211,
		ErrorMessage: "The 'To' number is not a valid phone number.", MoreInfo: "https://www.twilio.com/docs/errors/21211",
		Account: plan[0].Name, AccountSID: plan[0].AccountSID}
	if ex.FailureReply, err = h.mapping.Reply(p.values, bad); err != nil {
		return nil, err
	}
	return ex, nil
}

package gateway

import (
	"errors"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// SampleSID is the SID a dry run answers with: the resource the API returns
// (a Message, a Call or a Studio Execution).
func SampleSID(api twilio.API) (sid, status string) {
	switch api {
	case twilio.Calls:
		return "CA00000000000000000000000000000000", "queued"
	case twilio.Studio:
		return "FN00000000000000000000000000000000", "active"
	}
	return "SM00000000000000000000000000000000", "queued"
}

// dryRun builds the request for every account of the plan and answers as if
// the first account had accepted. A request no account can build (no sender)
// is answered as invalid, exactly as a real send would be.
func (g *Gateway) dryRun(p *Prepared, plan []*dispatch.Account, res *mapping.Result, out *Outcome) {
	var last error
	for _, a := range plan {
		req, err := g.Build(a, p)
		if err != nil {
			last = err // as a send does: the next account of the plan may still build
			continue
		}
		out.Requests = append(out.Requests, req)
		out.Plan = append(out.Plan, a.Name)
	}
	if len(out.Requests) == 0 {
		var nse *dispatch.NoSenderError
		if errors.As(last, &nse) {
			invalid(res, NoSender(nse))
		} else {
			invalid(res, &mapping.InputError{Field: "from", Reason: "cannot be sent by any account of this route", Problem: mapping.ProblemNoSender})
		}
		return
	}
	first := plan[0]
	for _, a := range plan {
		if a.Name == out.Plan[0] {
			first = a
			break
		}
	}
	sid, status := SampleSID(p.API)
	*res = mapping.Result{OK: true, Outcome: mapping.OutcomeAccepted, API: string(p.API), Sid: sid, Status: status,
		HTTPStatus: 201, Account: first.Name, AccountSID: first.AccountSID}
	res.Suggest()
}

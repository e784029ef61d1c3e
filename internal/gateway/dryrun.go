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
	for _, a := range plan {
		req, err := g.Build(a, p)
		var nse *dispatch.NoSenderError
		if errors.As(err, &nse) && len(out.Requests) == 0 {
			invalid(res, NoSender(nse))
			return
		}
		if err != nil {
			continue // a later account of the plan could still send
		}
		out.Requests = append(out.Requests, req)
		out.Plan = append(out.Plan, a.Name)
	}
	sid, status := SampleSID(p.API)
	*res = mapping.Result{OK: true, Outcome: mapping.OutcomeAccepted, API: string(p.API), Sid: sid, Status: status,
		HTTPStatus: 201, Account: plan[0].Name, AccountSID: plan[0].AccountSID}
	res.Suggest()
}

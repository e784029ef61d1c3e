package mapping

import "net/http"

// Outcomes of a request, as result.outcome.
const (
	// OutcomeAccepted: Twilio created the message, call or execution.
	OutcomeAccepted = "accepted"
	// OutcomeRejected: Twilio answered with an error (4xx/5xx with a Twilio code).
	OutcomeRejected = "rejected"
	// OutcomeUnreachable: no connection to Twilio could be made; nothing was sent.
	OutcomeUnreachable = "unreachable"
	// OutcomeUnknown: the request may have reached Twilio but no answer was read
	// (timeout or reset after sending). It is never retried.
	OutcomeUnknown = "unknown"
	// OutcomeInvalid: the caller's request was bad; nothing was sent.
	OutcomeInvalid = "invalid"
	// OutcomeRateLimited: the adapter's own abuse limits refused the request.
	OutcomeRateLimited = "rate_limited"
	// OutcomeBlocked: the destination country is not allowed.
	OutcomeBlocked = "blocked"
	// OutcomeUnavailable: every account's breaker is open or its queue is full.
	OutcomeUnavailable = "unavailable"
)

// Result is what happened, visible to reply expressions as result.*.
type Result struct {
	OK      bool   `expr:"ok"`
	Outcome string `expr:"outcome"`
	// Sid and Status of the created resource.
	Sid    string `expr:"sid"`
	Status string `expr:"status"`
	// ErrorCode, ErrorMessage and MoreInfo are Twilio's (or the adapter's own
	// codes for failures that never reached Twilio).
	ErrorCode    int    `expr:"error_code"`
	ErrorMessage string `expr:"error_message"`
	MoreInfo     string `expr:"more_info"`
	// HTTPStatus is Twilio's HTTP status, 0 when Twilio did not answer.
	HTTPStatus int `expr:"http_status"`
	// Account is the label of the account that answered; AccountSID its SID.
	Account    string `expr:"account"`
	AccountSID string `expr:"account_sid"`
	// API is messages, calls or studio.
	API string `expr:"api"`
	// Field and Reason explain an invalid request ("to", "is not a valid phone number").
	Field  string `expr:"field"`
	Reason string `expr:"reason"`
	// Problem classifies a failure in one word, one of the Problem*
	// constants, so that replies never read Reason's English: the gateway
	// sets it from the InputError (Invalid) and Reply derives the rest from
	// Outcome (Classify). "" when OK.
	Problem string `expr:"problem"`
	// TwilioCode is the Twilio error code that matches the failure: Twilio's
	// own (ErrorCode) when there is one, else the code Twilio would give for
	// the same problem with the same parameter (21604 for a missing To,
	// 21617 for a Body over the limit, 20429 when rate limited...). 0 when OK.
	// Reply computes it (Mapping.Classify).
	TwilioCode int `expr:"twilio_code"`
	// Duplicate is true when this answer is a repeat of an earlier identical request.
	Duplicate bool `expr:"duplicate"`
	// SuggestedStatus is a sensible HTTP status for the caller: 200 accepted,
	// 400 invalid or a destination Twilio refused, 403 blocked, 429 rate limited,
	// 502 Twilio refused our credentials or failed, 503 unavailable, 504 unknown.
	SuggestedStatus int `expr:"suggested_status"`
	// RetryAfter is the number of seconds a rate-limited caller should wait.
	RetryAfter int `expr:"retry_after"`

	// TwilioBody and TwilioContentType are Twilio's raw reply, for format twilio.
	TwilioBody        []byte `expr:"-"`
	TwilioContentType string `expr:"-"`
	// TwilioHeader holds Twilio's response headers that a Twilio-compatible
	// reply relays (request id, duration, concurrency).
	TwilioHeader http.Header `expr:"-"`
}

// Suggest fills SuggestedStatus from the other fields.
func (r *Result) Suggest() {
	switch {
	case r.OK:
		r.SuggestedStatus = http.StatusOK
	case r.Outcome == OutcomeInvalid:
		if r.SuggestedStatus == 0 {
			r.SuggestedStatus = http.StatusBadRequest
		}
	case r.Outcome == OutcomeBlocked:
		r.SuggestedStatus = http.StatusForbidden
	case r.Outcome == OutcomeRateLimited:
		r.SuggestedStatus = http.StatusTooManyRequests
	case r.Outcome == OutcomeUnavailable:
		r.SuggestedStatus = http.StatusServiceUnavailable
	case r.Outcome == OutcomeUnknown:
		r.SuggestedStatus = http.StatusGatewayTimeout
	case r.Outcome == OutcomeRejected && r.HTTPStatus >= 400 && r.HTTPStatus < 500 &&
		r.HTTPStatus != http.StatusUnauthorized && r.HTTPStatus != http.StatusForbidden &&
		r.HTTPStatus != http.StatusNotFound && r.HTTPStatus != http.StatusTooManyRequests:
		// Twilio refused this destination or content: the caller's request was at fault.
		r.SuggestedStatus = http.StatusBadRequest
	default:
		r.SuggestedStatus = http.StatusBadGateway
	}
}

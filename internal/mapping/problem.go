package mapping

import (
	"net/http"
	"slices"
	"strings"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// Problems: what went wrong, in one word, as result.problem. A reply
// chooses its words and codes by problem, field and outcome, never by
// reading Reason.
const (
	// ProblemMissing: a required value is empty (a required field, To).
	ProblemMissing = "missing"
	// ProblemInvalid: a value is malformed (a phone number, a pattern, a
	// type, TwiML, JSON), or the request itself is (method, path, body).
	ProblemInvalid = "invalid"
	// ProblemTooLong: a value is over its max_length or Twilio's limit, or
	// the body over max_body_bytes.
	ProblemTooLong = "too_long"
	// ProblemNoSender: no sender of the route can send to the destination.
	ProblemNoSender = "no_sender"
	// ProblemAuth: the caller's credentials are missing or not accepted.
	ProblemAuth = "auth"
	// ProblemBlocked: the destination is not allowed (OutcomeBlocked).
	ProblemBlocked = "blocked"
	// ProblemRateLimited: the adapter's limits refused (OutcomeRateLimited).
	ProblemRateLimited = "rate_limited"
	// ProblemUnavailable: every account is unavailable (OutcomeUnavailable).
	ProblemUnavailable = "unavailable"
	// ProblemUnreachable: Twilio could not be reached; nothing was sent
	// (OutcomeUnreachable).
	ProblemUnreachable = "unreachable"
	// ProblemUnknown: the message may have been sent (OutcomeUnknown).
	ProblemUnknown = "unknown"
	// ProblemRejected: Twilio refused the request (OutcomeRejected);
	// result.error_code is Twilio's code.
	ProblemRejected = "rejected"
)

// ProblemKinds lists every value of result.problem, in the order of the
// reference.
func ProblemKinds() []string {
	return []string{ProblemMissing, ProblemInvalid, ProblemTooLong, ProblemNoSender, ProblemAuth, ProblemBlocked,
		ProblemRateLimited, ProblemUnavailable, ProblemUnreachable, ProblemUnknown, ProblemRejected}
}

// Twilio error codes result.twilio_code takes for failures Twilio did not
// report itself.
const (
	CodeInvalidParameter   = 20001 // Invalid parameter: any other bad input
	CodeAuthenticate       = 20003 // Authenticate
	CodeMethodNotAllowed   = 20004 // Method not allowed
	CodeNotFound           = 20404 // The requested resource was not found
	CodeRateLimited        = 20429 // Too Many Requests
	CodeInternalError      = 20500 // Internal Server Error: the outcome is unknown
	CodeServiceUnavailable = 20503 // Service unavailable, or unreachable
	CodeToMissing          = 21604 // A 'To' phone number is required
	CodeToInvalid          = 21211 // The 'To' number is not a valid phone number
	CodeCallToMissing      = 21201 // No 'To' number is specified (Calls)
	CodeCallToInvalid      = 21217 // The 'To' phone number does not appear to be valid (Calls)
	CodeFromInvalid        = 21212 // The 'From' number is not a valid phone number, shortcode, or alphanumeric sender ID
	CodeNoSender           = 21603 // A 'From' or 'MessagingServiceSid' parameter is required
	CodeCallNoSender       = 21213 // No 'From' number is specified (Calls)
	CodeBodyMissing        = 21602 // Message body is required
	CodeBodyTooLong        = 21617 // The concatenated message body exceeds the 1600 character limit
	CodeBlocked            = 21408 // Permission to send an SMS has not been enabled for the region
	CodeTwiml              = 12100 // Document parse failure: TwiML refused
)

// Kind is the problem e describes: its Problem, or for an InputError made
// without one, auth for a 401 or 403 status, too_long for a 413, invalid
// otherwise.
func (e *InputError) Kind() string {
	switch {
	case e.Problem != "":
		return e.Problem
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return ProblemAuth
	case e.Status == http.StatusRequestEntityTooLarge:
		return ProblemTooLong
	}
	return ProblemInvalid
}

// Invalid fills r for bad input, where nothing was sent: Outcome invalid,
// Field, Reason (ie.Error()), SuggestedStatus (ie.HTTPStatus()) and Problem
// (ie.Kind()). It is how the gateway answers every *InputError.
func (r *Result) Invalid(ie *InputError) {
	r.OK = false
	r.Outcome, r.Field, r.Reason = OutcomeInvalid, ie.Field, ie.Error()
	r.SuggestedStatus, r.Problem = ie.HTTPStatus(), ie.Kind()
}

// Classify fills res.Problem (when it is not set) and res.TwilioCode from
// the rest of res; Reply calls it before choosing a case. v gives the
// fields that choose the Twilio API when res.API is not set (a request
// refused before its API was chosen); it may be nil.
//
// The problem follows from the Outcome, except for OutcomeInvalid, where
// it is the InputError's (Result.Invalid). A Result marked invalid without
// a Problem is classified by its Field and SuggestedStatus (401: auth; 413:
// too_long) and, failing that, by the words this package and the dispatcher
// put in Reason ("is required", "longer than", "no sender can send"): a
// fallback for results filled field by field, not the way to fill one.
//
// The Twilio code is ErrorCode when set; else by problem (auth 20003,
// blocked 21408, rate_limited 20429, unavailable and unreachable 20503,
// unknown 20500); else, for bad input, by the Twilio parameter the field
// feeds under the request's API: To 21604, or 21211 when invalid (Calls:
// 21201, 21217); From 21603 when no sender can send (Calls: 21213), else
// 21212; Body 21602 when missing, else 21617; Twiml 12100; the request's
// path 20404 and method 20004; 20001 for anything else.
func (m *Mapping) Classify(v *Values, res *Result) {
	if res.OK {
		res.Problem, res.TwilioCode = "", 0
		return
	}
	if res.Problem == "" {
		res.Problem = m.problemOf(res)
	}
	res.TwilioCode = m.twilioCode(v, res)
}

func (m *Mapping) problemOf(res *Result) string {
	switch res.Outcome {
	case OutcomeBlocked:
		return ProblemBlocked
	case OutcomeRateLimited:
		return ProblemRateLimited
	case OutcomeUnavailable:
		return ProblemUnavailable
	case OutcomeUnreachable:
		return ProblemUnreachable
	case OutcomeUnknown:
		return ProblemUnknown
	case OutcomeRejected:
		return ProblemRejected
	case OutcomeInvalid:
	default:
		return ""
	}
	switch {
	case res.Field == "authorization", res.Field == "account_sid" && !m.HasField("account_sid"),
		res.SuggestedStatus == http.StatusUnauthorized, res.SuggestedStatus == http.StatusForbidden:
		return ProblemAuth
	case res.SuggestedStatus == http.StatusRequestEntityTooLarge:
		return ProblemTooLong
	// A Result filled without a Problem: the words of this package's and
	// the dispatcher's reasons.
	case strings.HasSuffix(res.Reason, " is required"):
		return ProblemMissing
	case strings.Contains(res.Reason, "longer than"):
		return ProblemTooLong
	case res.Field == "from" && strings.Contains(res.Reason, "no sender can send"):
		return ProblemNoSender
	}
	return ProblemInvalid
}

func (m *Mapping) twilioCode(v *Values, res *Result) int {
	if res.ErrorCode != 0 {
		return res.ErrorCode
	}
	switch res.Problem {
	case ProblemAuth:
		return CodeAuthenticate
	case ProblemBlocked:
		return CodeBlocked
	case ProblemRateLimited:
		return CodeRateLimited
	case ProblemUnavailable, ProblemUnreachable:
		return CodeServiceUnavailable
	case ProblemUnknown:
		return CodeInternalError
	}
	if res.Outcome != OutcomeInvalid {
		return CodeInvalidParameter
	}
	switch res.Field {
	case "path":
		return CodeNotFound
	case "method":
		return CodeMethodNotAllowed
	}
	api := m.apiFor(v, res)
	calls := api == twilio.Calls
	switch m.paramOf(api, res.Field) {
	case "To":
		switch {
		case res.Problem == ProblemMissing && calls:
			return CodeCallToMissing
		case res.Problem == ProblemMissing:
			return CodeToMissing
		case calls:
			return CodeCallToInvalid
		}
		return CodeToInvalid
	case "From":
		switch {
		case res.Problem == ProblemNoSender && calls:
			return CodeCallNoSender
		case res.Problem == ProblemNoSender:
			return CodeNoSender
		}
		return CodeFromInvalid
	case "Body":
		if res.Problem == ProblemMissing {
			return CodeBodyMissing
		}
		return CodeBodyTooLong
	case "Twiml":
		return CodeTwiml
	}
	return CodeInvalidParameter
}

// apiFor is the request's Twilio API: res.API, or what API would choose
// with the fields read so far, or messages.
func (m *Mapping) apiFor(v *Values, res *Result) twilio.API {
	if api := twilio.API(res.API); api.Valid() {
		return api
	}
	if v != nil && v.route != nil {
		if api, err := m.API(v); err == nil {
			return api
		}
	}
	return twilio.Messages
}

// paramOf is the Twilio parameter a field feeds: To for "to" and From for
// "from" (their meaning for routing), else the first parameter of api
// whose expression reads the field (To, Body and Twiml first), else of the
// other APIs, else the field's own name when it is a parameter's.
func (m *Mapping) paramOf(api twilio.API, field string) string {
	switch field {
	case "to":
		return "To"
	case "from":
		return "From"
	}
	if p, ok := m.feeds[api][field]; ok {
		return p
	}
	for _, other := range []twilio.API{twilio.Messages, twilio.Calls, twilio.Studio} {
		if p, ok := m.feeds[other][field]; ok {
			return p
		}
	}
	for _, list := range m.params {
		if slices.ContainsFunc(list, func(p param) bool { return p.name == field }) {
			return field
		}
	}
	return ""
}

// feedsOf maps each field to the first parameter of list that reads it, To,
// Body and Twiml first.
func feedsOf(list []param) map[string]string {
	rank := func(name string) int {
		if i := slices.Index([]string{"To", "Body", "Twiml"}, name); i >= 0 {
			return i
		}
		return 3
	}
	ordered := slices.Clone(list)
	slices.SortStableFunc(ordered, func(a, b param) int { return rank(a.name) - rank(b.name) })
	out := map[string]string{}
	for _, p := range ordered {
		for _, f := range p.prog.fields {
			if _, ok := out[f]; !ok {
				out[f] = p.name
			}
		}
	}
	return out
}

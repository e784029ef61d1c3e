package twilio

import (
	"net/url"
	"strings"
)

// API names one of the Twilio operations the adapter calls.
type API string

const (
	// Messages is POST {api}/2010-04-01/Accounts/{AccountSid}/Messages.json.
	Messages API = "messages"
	// Calls is POST {api}/2010-04-01/Accounts/{AccountSid}/Calls.json.
	Calls API = "calls"
	// Studio is POST {studio}/v2/Flows/{FlowSid}/Executions.
	Studio API = "studio"
)

// Valid reports whether a is one of the known APIs.
func (a API) Valid() bool { return a == Messages || a == Calls || a == Studio }

// Request is one outbound call to Twilio. Params are form-encoded by url.Values,
// never concatenated.
type Request struct {
	API API
	// BaseURL is the scheme and host (and optional path prefix) of the API:
	// https://api.twilio.com for Messages and Calls, https://studio.twilio.com for Studio.
	BaseURL string
	// AccountSID goes into the 2010 API path. Not used for Studio.
	AccountSID string
	// FlowSID is the Studio flow (FW…). Only for Studio.
	FlowSID string
	// Username and Password are the HTTP Basic credentials: an Account SID and auth
	// token, or an API key SID (SK…) and secret.
	Username, Password string
	// Params is the form body.
	Params url.Values
	// UserAgent, when set, replaces the client's User-Agent: the caller's
	// own, for a caller that speaks Twilio's API itself.
	UserAgent string
	// Auth, when built for exactly Username and Password (BasicAuth.For),
	// supplies their Authorization header computed once; otherwise, or when
	// nil, the header is computed for this request.
	Auth *BasicAuth
}

// URL is the full request URL. Path segments are escaped even though SIDs are
// validated at provisioning, so that a passthrough SID can never change the path.
func (r *Request) URL() string {
	base := strings.TrimRight(r.BaseURL, "/")
	switch r.API {
	case Studio:
		return base + "/v2/Flows/" + url.PathEscape(r.FlowSID) + "/Executions"
	case Calls:
		return base + "/2010-04-01/Accounts/" + url.PathEscape(r.AccountSID) + "/Calls.json"
	default:
		return base + "/2010-04-01/Accounts/" + url.PathEscape(r.AccountSID) + "/Messages.json"
	}
}

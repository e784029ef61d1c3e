package gateway

import (
	"net/http"
	"regexp"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
)

// Credentials is where a request's Twilio credentials come from: the route's
// own accounts (Stored) or the caller's (Passthrough).
type Credentials interface {
	// Take reads what the request must carry for this kind of credentials
	// into p, or returns an *mapping.InputError.
	Take(r *http.Request, p *Prepared) error
	// Plan is the accounts to try for p, in order.
	Plan(router *dispatch.Router, p *Prepared) ([]*dispatch.Account, error)
	// Sender is what identifies the sending account in dedup keys: the
	// account, not its token, so rotating a token keeps what was sent.
	Sender(p *Prepared) string
	// SharedState reports whether the accounts' limiters and breakers are
	// kept across requests (false: the caller's account is not one the
	// adapter knows, so each request gets fresh state).
	SharedState() bool
}

// Stored credentials: the route's configured accounts send.
type Stored struct {
	// AccountSID is the main account; StudioFlowSID the flow, if any.
	AccountSID, StudioFlowSID string
}

func (Stored) Take(*http.Request, *Prepared) error { return nil }

func (Stored) Plan(router *dispatch.Router, p *Prepared) ([]*dispatch.Account, error) {
	return router.Plan(p.To), nil
}

func (s Stored) Sender(*Prepared) string {
	return "account\x00" + s.AccountSID + "\x00" + s.StudioFlowSID
}

func (Stored) SharedState() bool { return true }

// Passthrough credentials: the caller's HTTP Basic credentials are Twilio's
// (Account SID or API key, and its secret) and are forwarded unchanged; the
// adapter holds no secret.
type Passthrough struct {
	// AccountSID is used for the API path when neither the mapping's
	// account_sid field nor the Basic user name gives one.
	AccountSID string
}

var accountSIDRE = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)

func (Passthrough) Take(r *http.Request, p *Prepared) error {
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" || pass == "" {
		return &mapping.InputError{Field: "authorization", Reason: "must carry the Twilio Account SID (or API key) and its secret as HTTP Basic credentials", Status: http.StatusUnauthorized, Problem: mapping.ProblemAuth}
	}
	p.User, p.Password = user, pass
	return nil
}

func (c Passthrough) Plan(router *dispatch.Router, p *Prepared) ([]*dispatch.Account, error) {
	acct := router.Main
	acct.Name = "caller"
	acct.Username, acct.Password = p.User, p.Password
	acct.AccountSID = p.Values.Field("account_sid")
	if acct.AccountSID == "" {
		acct.AccountSID = c.AccountSID
	}
	if acct.AccountSID == "" && accountSIDRE.MatchString(p.User) {
		acct.AccountSID = p.User
	}
	if !accountSIDRE.MatchString(acct.AccountSID) {
		return nil, &mapping.InputError{Field: "account_sid", Reason: "must be a Twilio Account SID (AC followed by 32 hex digits): give it as the Basic user name, in the path, or as account_sid in the Caddyfile", Status: http.StatusUnauthorized, Problem: mapping.ProblemAuth}
	}
	return []*dispatch.Account{&acct}, nil
}

// Sender keys dedup by the caller's credentials: only the same caller gets a
// remembered answer.
func (Passthrough) Sender(p *Prepared) string {
	return "passthrough\x00" + p.User + "\x00" + p.Password
}

func (Passthrough) SharedState() bool { return false }

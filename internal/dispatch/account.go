package dispatch

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// Default base URLs, used when Account.APIBase or Account.StudioBase is empty.
const (
	DefaultAPIBase    = "https://api.twilio.com"
	DefaultStudioBase = "https://studio.twilio.com"
)

// SenderType is the kind of Twilio number, as PingOne's "Origination" list types it.
type SenderType string

const (
	// Standard is a long code in E.164 ("+14155550100"): SMS and voice.
	Standard SenderType = "standard"
	// TollFree is a toll-free number in E.164 (US/CA "+1 8xx"): SMS and voice.
	TollFree SenderType = "toll_free"
	// ShortCode is a 3 to 8 digit short code ("894546"): SMS only, the highest
	// throughput (about 100 MPS in the US), and it can never place a call.
	ShortCode SenderType = "short_code"
)

// Valid reports whether t is one of the known sender types.
func (t SenderType) Valid() bool { return t == Standard || t == TollFree || t == ShortCode }

// Account is one Twilio account (or subaccount) the adapter can send through.
//
// Credentials are either the account's SID and auth token, or an API key SID
// (SK…) and secret; with subaccounts, the main account's SID and token may also
// act on a subaccount's 2010 API resources (reference 6.7). Password never
// appears in String, GoString or MarshalJSON.
type Account struct {
	// Name is the label used in logs, metrics and answers: "main", "india", "backup".
	// Letters, digits, '_', '-' and '.', at most 64 characters.
	Name string
	// AccountSID is the account in the 2010 API path: AC followed by 32 hex digits.
	AccountSID string
	// Username and Password are the HTTP Basic credentials: an AC… SID and its
	// auth token, or an SK… API key and its secret.
	Username, Password string
	// APIBase is the scheme and host of the 2010 API (DefaultAPIBase when empty);
	// see BaseURLs for regional hosts. StudioBase is the same for Studio.
	APIBase, StudioBase string
	// MessagingServiceSID (MG…), when set, is sent instead of a From number for SMS.
	MessagingServiceSID string
	// Senders is the pool of From numbers; see Sender for how one is chosen.
	Senders []Sender

	// auth is the Authorization header of Username and Password, computed
	// once by NewRouter for the accounts it keeps. A copy of the account
	// with other credentials (a passthrough caller's) does not use it:
	// twilio.BasicAuth.For tells.
	auth *twilio.BasicAuth
}

// Sender is one From number of an account.
//
// SelectSender picks among an account's senders with this rule: for SMS, the
// account's MessagingServiceSID wins if set; otherwise among senders capable of
// the channel, those listing toRegion in Countries first, then those with no
// Countries; within each group by type preference short_code > toll_free >
// standard for SMS (throughput) and standard > toll_free for voice (short codes
// can't call), then by order of declaration; a sender whose Countries exclude
// toRegion is never used; if the account has no senders, callerFrom (already
// normalized by the caller) is used; otherwise an error "no sender can send
// <channel> to <region>".
type Sender struct {
	// Number is E.164 for standard and toll-free numbers, 3 to 8 digits for a short code.
	Number string
	// Type is standard, toll_free or short_code.
	Type SenderType
	// SMS and Voice are the channels this number may be used for; at least one.
	SMS, Voice bool
	// Countries lists the ISO regions ("IN", "GB") this number may send to; empty
	// means any. A number restricted to other regions is never used.
	Countries []string
}

// FieldError is a validation error that names the offending field with its Go
// path ("Senders[2].Number"), so that the Caddy glue can map it to its own
// config keys. Reason never contains a secret.
type FieldError struct {
	// Account is the account's Name, possibly empty.
	Account string
	// Field is the Go field path inside Account.
	Field string
	// Reason says what is wrong.
	Reason string
}

func (e *FieldError) Error() string {
	if e.Account == "" {
		return fmt.Sprintf("account: field %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("account %q: field %s: %s", e.Account, e.Field, e.Reason)
}

// Validate checks every field of a and returns the first problem as a *FieldError.
// It only reads a. Channel coverage (a voice route needs a voice-capable sender)
// is checked by ValidatePool.
func (a *Account) Validate() error {
	fail := func(field, format string, args ...any) error {
		return &FieldError{Account: a.Name, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if !validName(a.Name) {
		return fail("Name", "must be 1 to 64 letters, digits, '_', '-' or '.'")
	}
	if !isSID(a.AccountSID, "AC") {
		return fail("AccountSID", "must be AC followed by 32 hex digits")
	}
	if !isSID(a.Username, "AC") && !isSID(a.Username, "SK") {
		return fail("Username", "must be an account SID (AC…) or an API key SID (SK…)")
	}
	if a.Password == "" {
		return fail("Password", "is empty")
	}
	if err := checkBase(a.APIBase); err != nil {
		return fail("APIBase", "%v", err)
	}
	if err := checkBase(a.StudioBase); err != nil {
		return fail("StudioBase", "%v", err)
	}
	if a.MessagingServiceSID != "" && !isSID(a.MessagingServiceSID, "MG") {
		return fail("MessagingServiceSID", "must be MG followed by 32 hex digits")
	}
	seen := make(map[string]int, len(a.Senders))
	for i := range a.Senders {
		s := &a.Senders[i]
		if err := s.check(); err != nil {
			return fail(fmt.Sprintf("Senders[%d].%s", i, err.Field), "%s", err.Reason)
		}
		if j, dup := seen[s.Number]; dup {
			return fail(fmt.Sprintf("Senders[%d].Number", i), "same number as Senders[%d]", j)
		}
		seen[s.Number] = i
	}
	return nil
}

// APIURL is APIBase, or DefaultAPIBase when empty.
func (a *Account) APIURL() string {
	if a.APIBase == "" {
		return DefaultAPIBase
	}
	return a.APIBase
}

// StudioURL is StudioBase, or DefaultStudioBase when empty.
func (a *Account) StudioURL() string {
	if a.StudioBase == "" {
		return DefaultStudioBase
	}
	return a.StudioBase
}

// NewRequest starts a request to this account: API, base URL, account SID and
// credentials are filled in; the caller adds FlowSID for Studio.
func (a *Account) NewRequest(api twilio.API, params url.Values) *twilio.Request {
	base := a.APIURL()
	if api == twilio.Studio {
		base = a.StudioURL()
	}
	req := &twilio.Request{
		API:        api,
		BaseURL:    base,
		AccountSID: a.AccountSID,
		Username:   a.Username,
		Password:   a.Password,
		Params:     params,
	}
	if a.auth.For(a.Username, a.Password) {
		req.Auth = a.auth
	}
	return req
}

// prepare computes what every request of the account reuses. NewRouter
// calls it on its own copies, which are read-only afterwards.
func (a *Account) prepare() {
	a.auth = twilio.NewBasicAuth(a.Username, a.Password)
}

// String names the account without its credentials.
func (a *Account) String() string {
	if a == nil {
		return "<nil account>"
	}
	return "account " + a.Name
}

// GoString keeps %#v from printing the password.
func (a *Account) GoString() string { return a.String() }

// MarshalJSON writes the account with its password redacted.
func (a *Account) MarshalJSON() ([]byte, error) {
	type view struct {
		Name                string   `json:"name"`
		AccountSID          string   `json:"account_sid"`
		Username            string   `json:"username"`
		Password            string   `json:"password,omitempty"`
		APIBase             string   `json:"api_base,omitempty"`
		StudioBase          string   `json:"studio_base,omitempty"`
		MessagingServiceSID string   `json:"messaging_service_sid,omitempty"`
		Senders             []Sender `json:"senders,omitempty"`
	}
	v := view{Name: a.Name, AccountSID: a.AccountSID, Username: a.Username,
		APIBase: a.APIBase, StudioBase: a.StudioBase, MessagingServiceSID: a.MessagingServiceSID, Senders: a.Senders}
	if a.Password != "" {
		v.Password = "REDACTED"
	}
	return json.Marshal(v)
}

// key identifies the account for shared limiter and breaker state.
func (a *Account) key() stateKey { return stateKey{sid: a.AccountSID, api: a.APIURL()} }

// check validates one sender on its own. The returned error's Field is relative.
func (s *Sender) check() *FieldError {
	switch s.Type {
	case Standard, TollFree:
		if !isE164(s.Number) {
			return &FieldError{Field: "Number", Reason: fmt.Sprintf("a %s number must be E.164 (+ and 6 to 15 digits)", s.Type)}
		}
	case ShortCode:
		if !isDigits(s.Number, 3, 8) {
			return &FieldError{Field: "Number", Reason: "a short code must be 3 to 8 digits"}
		}
	default:
		return &FieldError{Field: "Type", Reason: `must be "standard", "toll_free" or "short_code"`}
	}
	if !s.SMS && !s.Voice {
		return &FieldError{Field: "SMS", Reason: "a sender must allow sms, voice or both"}
	}
	if s.Voice && s.Type == ShortCode {
		return &FieldError{Field: "Voice", Reason: "a short code cannot place voice calls"}
	}
	for i, c := range s.Countries {
		if !isRegion(c) {
			return &FieldError{Field: fmt.Sprintf("Countries[%d]", i), Reason: "must be a two-letter ISO region such as IN or GB"}
		}
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// isSID reports whether s is prefix followed by 32 hex digits.
func isSID(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := 2; i < 34; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func isDigits(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isE164(s string) bool {
	return len(s) > 1 && s[0] == '+' && s[1] != '0' && isDigits(s[1:], 6, 15)
}

func isRegion(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// checkBase accepts an empty base (the default) or an absolute URL with a host
// and nothing after it but an optional path prefix. Plain http is allowed only
// to loopback (tests and the offline simulator): credentials never cross a
// network in clear.
func checkBase(base string) error {
	if base == "" {
		return nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("must be scheme://host[:port][/prefix] without credentials, query or fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("plain http is only allowed to a loopback host")
		}
	default:
		return fmt.Errorf("scheme must be https")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

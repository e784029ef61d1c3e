// Package caddymodule is the thin Caddy glue of the adapter: the
// http.handlers.twilio_sms handler (module, Provision, ServeHTTP), its Caddyfile
// parser, the http.handlers.twilio_simulator handler, and metrics. The work
// itself (mapping, Twilio client, phone numbers, dispatch, simulator) lives in
// packages under internal/ that do not import Caddy.
package caddymodule

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler rewrites a legacy product's SMS request into a Twilio Messages, Calls
// or Studio request, and Twilio's reply into the answer the product checks.
//
// After the request it sets these placeholders (for logs and later handlers):
//
//	{http.twilio_sms.outcome}     accepted, rejected, unreachable, unknown, invalid, rate_limited, blocked, unavailable
//	{http.twilio_sms.sid}         the created message, call or execution SID
//	{http.twilio_sms.status}      Twilio's status for it (queued, accepted, active, ...)
//	{http.twilio_sms.error_code}  Twilio's error code, or the adapter's own
//	{http.twilio_sms.account}     the label of the account that answered
//	{http.twilio_sms.api}         messages, calls or studio
//	{http.twilio_sms.mapping}     the mapping's name
type Handler struct {
	// Mapping is a built-in mapping name (generic, adselfservice, pingone, netiq,
	// logto, twilio) or the path of a mapping file. Default "generic".
	Mapping string `json:"mapping,omitempty"`

	// Credentials selects where Twilio credentials come from: "stored" (default:
	// account_sid and auth_token below), "api_key" (api_key_sid and
	// api_key_secret, with account_sid for the path) or "passthrough" (the
	// caller's own HTTP Basic credentials are the Twilio SID and token and are
	// forwarded unchanged, so the adapter holds no secret).
	Credentials string `json:"credentials,omitempty"`
	// AccountSID is the Twilio account (AC…). Placeholders such as
	// {env.TWILIO_ACCOUNT_SID} are resolved at provisioning.
	AccountSID string `json:"account_sid,omitempty"`
	// AuthToken is the account's auth token; use {env.TWILIO_AUTH_TOKEN} or
	// {file./run/secrets/twilio_token}. Never logged.
	AuthToken string `json:"auth_token,omitempty"`
	// APIKeySID (SK…) and APIKeySecret authenticate with an API key instead of
	// the auth token (credentials api_key).
	APIKeySID    string `json:"api_key_sid,omitempty"`
	APIKeySecret string `json:"api_key_secret,omitempty"`

	// From is the sender: an E.164 number, a short code, an alphanumeric sender
	// ID, or NetIQ's "91\9191919191" form.
	From string `json:"from,omitempty"`
	// MessagingServiceSID (MG…) sends through a Messaging Service instead of a
	// single From (NetIQ's Copilot option, Logto's fromMessagingServiceSID).
	MessagingServiceSID string `json:"messaging_service_sid,omitempty"`
	// StudioFlowSID (FW…) sends to a Twilio Studio flow instead of Messages.
	StudioFlowSID string `json:"studio_flow_sid,omitempty"`
	// Channel is "sms" (default) or "voice"; voice uses the Calls API with TwiML
	// that speaks the message.
	Channel string `json:"channel,omitempty"`

	// APIURL is Twilio's REST API base. Default https://api.twilio.com. Plain
	// http is allowed only to a loopback host (the simulator).
	APIURL string `json:"api_url,omitempty"`
	// StudioURL is Twilio Studio's base. Default https://studio.twilio.com.
	StudioURL string `json:"studio_url,omitempty"`

	// Timeout is the whole time budget of one request, from arrival to answer,
	// including queueing, retries and fallbacks. Set it below the calling
	// product's own timeout (Okta and privacyIDEA wait 3 s). Default 5s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// DialTimeout bounds connecting to Twilio (TCP and TLS). Default 2s.
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`

	// DefaultRegion is the ISO 3166 region (US, GB, IN, ...) used to read phone
	// numbers written in national format, as Active Directory often stores them.
	DefaultRegion string `json:"default_region,omitempty"`
	// LenientNumbers accepts numbers that have a possible length for their
	// country but are not known to be assigned.
	LenientNumbers bool `json:"lenient_numbers,omitempty"`

	// Options override the mapping's declared options (e.g. success_marker).
	Options map[string]string `json:"options,omitempty"`
	// Templates override the mapping's message templates (e.g. Logto's per
	// usage type), with {{code}}-style placeholders.
	Templates map[string]string `json:"templates,omitempty"`
	// Fields override where the mapping reads a field, e.g.
	// {"to": ["form:mobileNumber"]} for a product whose admin chose that name.
	Fields map[string][]string `json:"fields,omitempty"`

	mapping  *mapping.Mapping
	client   *twilio.Client
	logger   *zap.Logger
	route    mapping.Route
	apiBase  string
	studio   string
	user     string
	password string
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.twilio_sms",
		New: func() caddy.Module { return new(Handler) },
	}
}

var (
	accountSIDRE = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	apiKeyRE     = regexp.MustCompile(`^SK[0-9a-fA-F]{32}$`)
	serviceRE    = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	flowRE       = regexp.MustCompile(`^FW[0-9a-fA-F]{32}$`)
)

// Credential modes.
const (
	CredentialsStored      = "stored"
	CredentialsAPIKey      = "api_key"
	CredentialsPassthrough = "passthrough"
)

// Provision resolves secrets, loads and compiles the mapping, and builds the
// Twilio client. Everything a request needs is ready afterwards.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	for _, s := range []*string{&h.AccountSID, &h.AuthToken, &h.APIKeySID, &h.APIKeySecret, &h.From,
		&h.MessagingServiceSID, &h.StudioFlowSID, &h.APIURL, &h.StudioURL} {
		*s = strings.TrimSpace(repl.ReplaceKnown(*s, ""))
	}
	if h.Mapping == "" {
		h.Mapping = "generic"
	}
	if h.Credentials == "" {
		h.Credentials = CredentialsStored
	}
	if h.Channel == "" {
		h.Channel = "sms"
	}
	if h.APIURL == "" {
		h.APIURL = "https://api.twilio.com"
	}
	if h.StudioURL == "" {
		h.StudioURL = "https://studio.twilio.com"
	}
	if h.Timeout == 0 {
		h.Timeout = caddy.Duration(5 * time.Second)
	}
	if h.DialTimeout == 0 {
		h.DialTimeout = caddy.Duration(2 * time.Second)
	}
	if err := h.checkSettings(); err != nil {
		return fmt.Errorf("twilio_sms: %w", err)
	}
	var err error
	if h.apiBase, err = upstreamBase("api_url", h.APIURL); err != nil {
		return fmt.Errorf("twilio_sms: %w", err)
	}
	if h.studio, err = upstreamBase("studio_url", h.StudioURL); err != nil {
		return fmt.Errorf("twilio_sms: %w", err)
	}

	norm := phone.Normalizer{DefaultRegion: h.DefaultRegion, Lenient: h.LenientNumbers}
	spec, file, err := mapping.Load(h.Mapping)
	if err != nil {
		return fmt.Errorf("twilio_sms: %w", err)
	}
	h.mapping, err = mapping.Compile(spec, file, mapping.Config{
		Options: h.Options, Templates: h.Templates, Fields: h.Fields, Phone: norm,
	})
	if err != nil {
		return fmt.Errorf("twilio_sms: %w", err)
	}
	if h.From != "" {
		if h.From, err = norm.NormalizeSender(h.From); err != nil {
			return fmt.Errorf("twilio_sms: from: %w", err)
		}
	}
	h.route = mapping.Route{Channel: h.Channel, StudioFlowSID: h.StudioFlowSID, AccountSID: h.AccountSID, Account: "main"}
	switch {
	case h.StudioFlowSID != "" && !h.mapping.Supports(twilio.Studio):
		return fmt.Errorf("twilio_sms: studio_flow_sid is set but mapping %s has no twilio.studio section", file)
	case h.StudioFlowSID == "" && h.Channel == "voice" && !h.mapping.Supports(twilio.Calls):
		return fmt.Errorf("twilio_sms: channel is voice but mapping %s has no twilio.calls section", file)
	}
	switch h.Credentials {
	case CredentialsStored:
		h.user, h.password = h.AccountSID, h.AuthToken
	case CredentialsAPIKey:
		h.user, h.password = h.APIKeySID, h.APIKeySecret
	}
	h.client = twilio.NewClient(twilio.ClientOptions{DialTimeout: time.Duration(h.DialTimeout)})
	return nil
}

// checkSettings validates what does not need the mapping. Errors name the setting.
func (h *Handler) checkSettings() error {
	switch h.Credentials {
	case CredentialsStored:
		if h.AccountSID == "" || h.AuthToken == "" {
			return errors.New("account_sid and auth_token are required with stored credentials " +
				"(use {env.TWILIO_ACCOUNT_SID} and {env.TWILIO_AUTH_TOKEN}, or `credentials passthrough`); " +
				"the adapter never falls back to the simulator")
		}
	case CredentialsAPIKey:
		if h.AccountSID == "" || h.APIKeySID == "" || h.APIKeySecret == "" {
			return errors.New("account_sid, api_key_sid and api_key_secret are required with credentials api_key")
		}
		if !apiKeyRE.MatchString(h.APIKeySID) {
			return errors.New("api_key_sid must look like SK followed by 32 hex digits")
		}
	case CredentialsPassthrough:
		if h.AuthToken != "" || h.APIKeySecret != "" {
			return errors.New("credentials passthrough takes the caller's credentials: remove auth_token and api_key_secret")
		}
	default:
		return fmt.Errorf("credentials must be stored, api_key or passthrough, not %q", h.Credentials)
	}
	if h.AccountSID != "" && !accountSIDRE.MatchString(h.AccountSID) {
		return errors.New("account_sid must look like AC followed by 32 hex digits")
	}
	if h.MessagingServiceSID != "" && !serviceRE.MatchString(h.MessagingServiceSID) {
		return errors.New("messaging_service_sid must look like MG followed by 32 hex digits")
	}
	if h.StudioFlowSID != "" && !flowRE.MatchString(h.StudioFlowSID) {
		return errors.New("studio_flow_sid must look like FW followed by 32 hex digits")
	}
	if h.Channel != "sms" && h.Channel != "voice" {
		return fmt.Errorf("channel must be sms or voice, not %q", h.Channel)
	}
	if h.DefaultRegion != "" && !phone.ValidRegion(h.DefaultRegion) {
		return fmt.Errorf("default_region %q is not an ISO 3166 region code known to libphonenumber", h.DefaultRegion)
	}
	if h.Timeout < 0 || h.DialTimeout < 0 {
		return errors.New("timeout and dial_timeout must be positive")
	}
	if time.Duration(h.DialTimeout) >= time.Duration(h.Timeout) {
		return errors.New("dial_timeout must be shorter than timeout")
	}
	return nil
}

// upstreamBase checks a configured Twilio base URL: https, or http to loopback only
// (the simulator), with no user info, query or fragment.
func upstreamBase(name, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%s %q is not an absolute URL", name, raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%s must not contain credentials, a query or a fragment", name)
	}
	switch u.Scheme {
	case "https":
	case "http":
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "", fmt.Errorf("%s: plain http is only allowed to a loopback host (the simulator); use https", name)
		}
	default:
		return "", fmt.Errorf("%s must be an https URL", name)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Cleanup releases pooled connections.
func (h *Handler) Cleanup() error {
	if h.client != nil {
		h.client.CloseIdleConnections()
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)

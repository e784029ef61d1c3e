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

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
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
	// AssumeNumbers says how the product writes numbers that carry no "+":
	// "international" (country code first, as Supabase and PingOne's
	// NUMBER_ONLY send them) or "national" (in default_region). Unset, a
	// number that reads as two different valid numbers is refused rather
	// than guessed; a mapping's phone field may also say it.
	AssumeNumbers string `json:"assume_numbers,omitempty"`

	// Options override the mapping's declared options (e.g. success_marker).
	Options map[string]string `json:"options,omitempty"`
	// Templates override the mapping's message templates (e.g. Logto's per
	// usage type), with {{code}}-style placeholders.
	Templates map[string]string `json:"templates,omitempty"`
	// Fields override where the mapping reads a field, e.g.
	// {"to": ["form:mobileNumber"]} for a product whose admin chose that name.
	Fields map[string][]string `json:"fields,omitempty"`

	// Name labels this route in logs and metrics. Default: the mapping's name.
	Name string `json:"name,omitempty"`

	// Edge and Region build Twilio's regional hostnames
	// (api.{edge}.{region}.twilio.com, e.g. edge dublin, region ie1) when
	// api_url and studio_url are not set. Credentials are per region.
	Edge   string `json:"edge,omitempty"`
	Region string `json:"region,omitempty"`
	// Senders is the main account's pool of From numbers, chosen per message by
	// country, capability and type (see README "Sender selection").
	Senders []SenderConfig `json:"senders,omitempty"`
	// Subaccounts send destinations whose country dialing code matches a prefix
	// through another (sub)account; the longest prefix wins.
	Subaccounts []SubaccountConfig `json:"subaccounts,omitempty"`
	// Fallback accounts are tried in order when the previous one failed in a way
	// that proves nothing was sent (unreachable, 401/20003, 429 after retries,
	// 5xx, or a code in fallback_codes). Never after Twilio accepted.
	Fallback []AccountConfig `json:"fallback,omitempty"`
	// FallbackCodes are Twilio error codes that also allow the next account,
	// e.g. 21606 (From not valid for this account) or 21611 (From queue full).
	FallbackCodes []int `json:"fallback_codes,omitempty"`
	// FallbackOn5xx lets a 5xx from Twilio (other than its own 503/20503
	// "not processed") go down the fallback chain. Off by default: a 5xx may
	// come after Twilio created the message (an edge 502 or 504 proves
	// nothing), so falling back can deliver the code twice. Turn it on only
	// where a second code is better than none.
	FallbackOn5xx bool `json:"fallback_on_5xx,omitempty"`

	// Retries is the number of extra attempts on the same account, only for
	// 429/20429 and connections that were never made. Default 2; 0 disables.
	Retries *int `json:"retries,omitempty"`
	// MaxConcurrent caps requests in flight per Twilio account (Twilio answers
	// 429/20429 beyond its own limit). Default 32.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// MaxQueue is how many requests may wait for a slot per account before
	// the adapter answers "unavailable". Default 256; 0 means no queue (shed
	// as soon as max_concurrent requests are in flight).
	MaxQueue *int `json:"max_queue,omitempty"`
	// BreakerFailures consecutive failures open an account's circuit breaker,
	// which then skips it (down the fallback chain) for BreakerCooldown before
	// one probe. Defaults 5 and 30s.
	BreakerFailures int            `json:"breaker_failures,omitempty"`
	BreakerCooldown caddy.Duration `json:"breaker_cooldown,omitempty"`
	// DedupWindow: a repeat of the same destination and text through the same
	// account within this window gets the first answer again instead of a
	// second SMS. Default 2m; keys are HMAC digests, never the code in clear.
	// Per Caddy instance; kept across reloads, and a changed window applies
	// to what is already remembered. An entry is never forgotten before its
	// window ends: at the cap (100,000 entries) new sends are refused with
	// 503 and Retry-After rather than sent unprotected.
	DedupWindow caddy.Duration `json:"dedup_window,omitempty"`
	// DisableDedup turns duplicate suppression off.
	DisableDedup bool `json:"disable_dedup,omitempty"`

	// CallerAuth, when set, requires every request to carry one of these
	// credentials (constant-time compared). Use Caddy's basic_auth or mTLS
	// where the product supports them; this is for products that can only send
	// a fixed header.
	CallerAuth []CallerCredential `json:"caller_auth,omitempty"`
	// AllowCountries and DenyCountries (ISO regions) are checked before any
	// Twilio call, like Twilio's geo permissions. Allow, when set, is exclusive.
	AllowCountries []string `json:"allow_countries,omitempty"`
	DenyCountries  []string `json:"deny_countries,omitempty"`
	// AllowNumberTypes opens number types that are refused by default because
	// they carry toll fraud: premium_rate, shared_cost, uan, personal_number
	// and non_geographic (+800, +808, +870, +878, +881, +882, +883, +888,
	// +979). Refusals answer with Twilio's 21408 meaning.
	AllowNumberTypes []string `json:"allow_number_types,omitempty"`
	// RateLimits cap sends per destination number and per verified caller.
	// Without a destination entry, a default of 5 per 10 minutes per
	// destination applies (`rate_limit destination off` removes it). Only
	// sends count. State is per Caddy instance (not shared across a cluster)
	// and kept across reloads.
	RateLimits []RateLimitConfig `json:"rate_limits,omitempty"`
	// TimeLimit caps every call's duration (Twilio's TimeLimit parameter),
	// so a call to an expensive number cannot be held open. Default 120s.
	TimeLimit caddy.Duration `json:"time_limit,omitempty"`
	// AllowCallerStatusCallback forwards a caller's StatusCallback URL on a
	// route with stored credentials. Off by default: the URL would receive
	// the operator's delivery data. Passthrough routes always forward it.
	AllowCallerStatusCallback bool `json:"allow_caller_status_callback,omitempty"`

	mapping    *mapping.Mapping
	client     *twilio.Client
	logger     *zap.Logger
	route      mapping.Route
	router     *dispatch.Router
	dispatcher *dispatch.Dispatcher
	guards     guards
	poolKeys   []string
	metrics    *metrics
	// releaseWindow unregisters this route's dedup window from the shared cache.
	releaseWindow func()
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

// Provision resolves secrets, loads and compiles the mapping (shared across
// reloads when unchanged), builds the accounts, router and dispatcher, and the
// guards. Everything a request needs is ready afterwards.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.warnLiteralSecrets()
	if err := h.resolveSecrets(); err != nil {
		return fmt.Errorf("twilio_sms: %w", err)
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
	if h.Timeout == 0 {
		h.Timeout = caddy.Duration(5 * time.Second)
	}
	if h.DialTimeout == 0 {
		h.DialTimeout = caddy.Duration(min(2*time.Second, time.Duration(h.Timeout)/2))
	}
	if h.DedupWindow == 0 {
		h.DedupWindow = caddy.Duration(2 * time.Minute)
	}
	if h.TimeLimit == 0 {
		h.TimeLimit = caddy.Duration(120 * time.Second)
	}
	if err := h.checkSettings(); err != nil {
		return fmt.Errorf("twilio_sms: %w", err)
	}

	norm := phone.Normalizer{DefaultRegion: h.DefaultRegion, Lenient: h.LenientNumbers, Assume: h.AssumeNumbers}
	phoneFor := func(assume string) mapping.PhoneNormalizer {
		n := norm
		n.Assume = assume
		return n
	}
	m, key, err := loadMapping(h.Mapping, mapping.Config{Options: h.Options, Templates: h.Templates, Fields: h.Fields,
		Phone: norm, PhoneFor: phoneFor, Assume: h.AssumeNumbers}, h.DefaultRegion, h.LenientNumbers)
	if err != nil {
		return fmt.Errorf("twilio_sms: %w", err)
	}
	h.mapping = m
	h.poolKeys = append(h.poolKeys, key)
	if h.Name == "" {
		h.Name = m.Name()
	}
	switch {
	case h.StudioFlowSID != "" && !m.Supports(twilio.Studio):
		return fmt.Errorf("twilio_sms: studio_flow_sid is set but mapping %s has no twilio.studio section", m.File())
	case h.StudioFlowSID == "" && h.Channel == "voice" && !m.Supports(twilio.Calls):
		return fmt.Errorf("twilio_sms: channel is voice but mapping %s has no twilio.calls section", m.File())
	case h.StudioFlowSID == "" && h.Channel == "sms" && !m.Supports(twilio.Messages):
		return fmt.Errorf("twilio_sms: mapping %s has no twilio.messages section (set studio_flow_sid or channel voice)", m.File())
	}

	if err := h.buildRouter(norm); err != nil {
		return fmt.Errorf("twilio_sms: %w", err)
	}
	// route.from and route.messaging_service_sid are the main account's
	// configured sender; the sender actually used may differ per account.
	h.route = mapping.Route{Channel: h.Channel, StudioFlowSID: h.StudioFlowSID, AccountSID: h.AccountSID, Account: h.mainName(),
		From: firstSender(&h.router.Main), MessagingServiceSID: h.MessagingServiceSID}

	stateCfg := dispatch.StateConfig{
		MaxConcurrent: h.MaxConcurrent, MaxQueue: queueSize(h.MaxQueue),
		BreakerFailures: h.BreakerFailures, BreakerCooldown: time.Duration(h.BreakerCooldown),
	}
	state, stateKey, err := loadState(h.limitScope(), stateCfg)
	if err != nil {
		return fmt.Errorf("twilio_sms: %w", err)
	}
	h.poolKeys = append(h.poolKeys, stateKey)
	policy := dispatch.DefaultPolicy()
	if h.Retries != nil {
		policy.Retries = *h.Retries
	}
	policy.FallbackCodes = h.FallbackCodes
	policy.FallbackOn5xx = h.FallbackOn5xx
	h.client = twilio.NewClient(twilio.ClientOptions{DialTimeout: time.Duration(h.DialTimeout)})
	// KeepReplyBody: the Twilio-compatible dialect relays Twilio's own reply;
	// it is stripped before anything is cached and never logged.
	h.dispatcher = &dispatch.Dispatcher{Client: h.client, Policy: policy, State: state, KeepReplyBody: true}

	if err := h.buildGuards(); err != nil {
		return fmt.Errorf("twilio_sms: %w", err)
	}
	if h.metrics, err = provisionMetrics(ctx); err != nil {
		return fmt.Errorf("twilio_sms: metrics: %w", err)
	}
	h.warnGracePeriod(ctx)
	if h.Credentials != CredentialsPassthrough && len(h.CallerAuth) == 0 {
		h.logger.Info("twilio_sms route has no caller_auth: make sure basic_auth, mTLS or a remote_ip matcher protects it (an open route is a free SMS cannon)",
			zap.String("route", h.Name))
	}
	return nil
}

func firstSender(a *dispatch.Account) string {
	if len(a.Senders) > 0 {
		return a.Senders[0].Number
	}
	return ""
}

// queueSize maps the config's queue length onto dispatch's: unset is the
// default (0 there), and 0 is "none" (negative there).
func queueSize(q *int) int {
	switch {
	case q == nil:
		return 0
	case *q == 0:
		return -1
	}
	return *q
}

// resolveSecrets replaces {env.*} and {file.*} placeholders in every setting
// that may hold a secret or an identifier.
func (h *Handler) resolveSecrets() error {
	repl := caddy.NewReplacer()
	res := func(s *string) { *s = strings.TrimSpace(repl.ReplaceKnown(*s, "")) }
	for _, s := range []*string{&h.AccountSID, &h.AuthToken, &h.APIKeySID, &h.APIKeySecret, &h.From,
		&h.MessagingServiceSID, &h.StudioFlowSID, &h.APIURL, &h.StudioURL} {
		res(s)
	}
	for i := range h.Subaccounts {
		h.Subaccounts[i].AccountConfig.resolve(res)
	}
	for i := range h.Fallback {
		h.Fallback[i].resolve(res)
	}
	for i := range h.CallerAuth {
		res(&h.CallerAuth[i].Value)
		res(&h.CallerAuth[i].Username)
		res(&h.CallerAuth[i].Password)
	}
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
	if h.AssumeNumbers != "" && !phone.ValidAssume(h.AssumeNumbers) {
		return fmt.Errorf("assume_numbers must be international or national, not %q", h.AssumeNumbers)
	}
	if h.AssumeNumbers == phone.AssumeNational && h.DefaultRegion == "" {
		return errors.New("assume_numbers national needs default_region")
	}
	if h.TimeLimit < caddy.Duration(time.Second) || h.TimeLimit > caddy.Duration(4*time.Hour) {
		return errors.New("time_limit must be between 1s and 4h")
	}
	if len(h.Subaccounts)+len(h.Fallback) > 0 && h.Credentials == CredentialsPassthrough {
		return errors.New("credentials passthrough forwards the caller's credentials to one account: subaccount and fallback need stored credentials")
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
	if h.releaseWindow != nil {
		h.releaseWindow()
		h.releaseWindow = nil
	}
	for _, k := range h.poolKeys {
		_, _ = pool.Delete(k)
	}
	h.poolKeys = nil // a second Cleanup must not release shared state again
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)

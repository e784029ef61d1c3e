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

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/delivery"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/gateway"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/redisstate"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler rewrites a legacy product's SMS request into a Twilio Messages, Calls
// or Studio request, and Twilio's reply into the answer the product checks.
// The work is done by a gateway.Gateway built at provisioning; the handler is
// the Caddy glue around it.
//
// The JSON config groups what belongs together; every key is the Caddyfile's
// word for it (a Caddyfile `account_sid` is account.account_sid, `option` is
// mapping.option, `timeout` is resilience.timeout, `rate_limit` is
// guard.rate_limit).
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
	// Name labels this route in logs, metrics and provisioning errors.
	// Default: set by the Caddyfile to the site address (and the directive's
	// path matcher), else the mapping's name.
	Name string `json:"name,omitempty"`
	// Mapping is the dialect the route speaks.
	Mapping MappingConfig `json:"mapping,omitzero"`
	// Credentials is "passthrough" to forward the caller's own HTTP Basic
	// credentials (the Twilio Account SID or API key and its secret)
	// unchanged, so the adapter holds no secret. Unset, the account's
	// auth_token or api_key sends.
	Credentials string `json:"credentials,omitempty"`
	// Account is the main Twilio account and its senders.
	Account AccountConfig `json:"account,omitzero"`
	// StudioFlowSID (FW…) sends to a Twilio Studio flow instead of Messages.
	StudioFlowSID string `json:"studio_flow_sid,omitempty"`
	// Channel is "sms" (default) or "voice"; voice uses the Calls API with
	// TwiML that speaks the message.
	Channel string `json:"channel,omitempty"`
	// Subaccount sends destinations whose country dialing code matches a
	// prefix through another (sub)account; the longest prefix wins.
	Subaccount []SubaccountConfig `json:"subaccount,omitempty"`
	// Fallback accounts are tried in order when the previous one failed in a
	// way that proves nothing was sent. Never after Twilio accepted or may
	// have accepted.
	Fallback []AccountConfig `json:"fallback,omitempty"`
	// Resilience is the budget, retries, concurrency caps and breakers.
	Resilience ResilienceConfig `json:"resilience,omitzero"`
	// Dedup is duplicate suppression; on by default.
	Dedup DedupConfig `json:"dedup,omitzero"`
	// Guard is what the route refuses before sending: callers, countries,
	// number types, rates, long calls, caller-chosen callbacks.
	Guard GuardConfig `json:"guard,omitzero"`
	// Shared keeps dedup and limits in Redis across instances; unset, they
	// are this instance's own (see the README's "HA deployment").
	Shared SharedConfig `json:"shared,omitzero"`
	// Delivery tracks what became of each message: status callbacks or
	// polling, delivery metrics, receipts to callers.
	Delivery DeliveryConfig `json:"delivery,omitzero"`

	gw            *gateway.Gateway
	mapping       *mapping.Mapping
	client        *twilio.Client
	logger        *zap.Logger
	router        *dispatch.Router
	poolKeys      []string
	metrics       *metrics
	releaseWindow func()             // unregisters this route's dedup window
	redis         *redisstate.Client // the shared store's client, released at Cleanup
	delivery      *gateway.DeliveryTracking
	nameDefaulted bool // Name is the mapping's, not the operator's
	callbacks     *delivery.CallbackHandler
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

// Provision resolves secrets, applies defaults, loads and compiles the mapping
// (shared across reloads when unchanged), builds the accounts, router and
// dispatcher, the guards and the gateway. Everything a request needs is ready
// afterwards. Errors name the route and the setting.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := h.provision(ctx); err != nil {
		return fmt.Errorf("twilio_sms route %q: %w", h.routeLabel(), err)
	}
	return nil
}

// routeLabel names the route in errors before Name has its default.
func (h *Handler) routeLabel() string {
	if h.Name != "" {
		return h.Name
	}
	if h.Mapping.Use != "" {
		return "mapping " + h.Mapping.Use
	}
	return "mapping " + defaultMapping
}

func (h *Handler) provision(ctx caddy.Context) error {
	h.warnLiteralSecrets()
	h.resolveSecrets()
	if h.Mapping.Use == "" {
		h.Mapping.Use = defaultMapping
	}
	spec, file, err := mapping.Load(h.Mapping.Use)
	if err != nil {
		return err
	}
	h.applyMappingDefaults(spec.Defaults())
	h.applyDefaults()
	if err := h.checkSettings(); err != nil {
		return err
	}
	mc := &h.Mapping
	norm := phone.Normalizer{DefaultRegion: mc.DefaultRegion, Lenient: mc.LenientNumbers, Assume: mc.AssumeNumbers}
	phoneFor := func(assume string) mapping.PhoneNormalizer {
		n := norm
		n.Assume = assume
		return n
	}
	m, key, err := loadMapping(spec, file, mapping.Config{Options: mc.Option, Templates: mc.Template, Fields: mc.Field,
		Phone: norm, PhoneFor: phoneFor, Assume: mc.AssumeNumbers}, mc.DefaultRegion, mc.LenientNumbers)
	if err != nil {
		return err
	}
	h.mapping = m
	h.poolKeys = append(h.poolKeys, key)
	if h.Name == "" {
		h.Name = m.Name()
		h.nameDefaulted = true
	}
	switch {
	case h.StudioFlowSID != "" && !m.Supports(twilio.Studio):
		return fmt.Errorf("studio_flow_sid is set but mapping %s has no twilio.studio section", m.File())
	case h.StudioFlowSID == "" && h.Channel == "voice" && !m.Supports(twilio.Calls):
		return fmt.Errorf("channel is voice but mapping %s has no twilio.calls section", m.File())
	case h.StudioFlowSID == "" && h.Channel == "sms" && !m.Supports(twilio.Messages):
		return fmt.Errorf("mapping %s has no twilio.messages section (set studio_flow_sid or channel voice)", m.File())
	}
	if err := h.buildRouter(norm); err != nil {
		return err
	}

	r := &h.Resilience
	stateCfg := dispatch.StateConfig{MaxConcurrent: r.MaxConcurrent, MaxQueue: queueSize(r.MaxQueue)}
	if r.Breaker != nil {
		stateCfg.BreakerFailures, stateCfg.BreakerCooldown = r.Breaker.Failures, time.Duration(r.Breaker.Cooldown)
	}
	state, stateKey, err := loadState(h.limitScope(), stateCfg)
	if err != nil {
		return err
	}
	h.poolKeys = append(h.poolKeys, stateKey)
	policy := dispatch.DefaultPolicy()
	if r.Retries != nil {
		policy.Retries = *r.Retries
	}
	policy.FallbackCodes = r.FallbackCodes
	policy.FallbackOn5xx = r.FallbackOn5xx
	h.client = twilio.NewClient(twilio.ClientOptions{DialTimeout: time.Duration(r.DialTimeout)})
	if h.metrics, err = provisionMetrics(ctx); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	gw := &gateway.Gateway{
		Name:    h.Name,
		Mapping: m,
		// route.from and route.messaging_service_sid are the main account's
		// configured sender; the sender actually used may differ per account.
		Route: mapping.Route{Channel: h.Channel, StudioFlowSID: h.StudioFlowSID, AccountSID: h.Account.AccountSID,
			Account: h.Account.Name, From: firstSender(&h.router.Main), MessagingServiceSID: h.Account.MessagingServiceSID,
			Passthrough: h.Credentials == CredentialsPassthrough},
		Router: h.router,
		// KeepReplyBody: the Twilio-compatible dialect relays Twilio's own
		// reply; it is stripped before anything is cached and never logged.
		Dispatcher:                &dispatch.Dispatcher{Client: h.client, Policy: policy, State: state, KeepReplyBody: true},
		StudioFlowSID:             h.StudioFlowSID,
		Timeout:                   time.Duration(r.Timeout),
		TimeLimit:                 time.Duration(h.Guard.TimeLimit),
		AllowCallerStatusCallback: h.Guard.AllowCallerStatusCallback,
		Observer:                  &observer{metrics: h.metrics, logger: h.logger},
	}
	if h.Credentials == CredentialsPassthrough {
		gw.Credentials = gateway.Passthrough{AccountSID: h.Account.AccountSID}
	} else {
		gw.Credentials = gateway.Stored{AccountSID: h.Account.AccountSID, StudioFlowSID: h.StudioFlowSID}
	}
	if strings.HasPrefix(spec.Request.Path, "/2010-04-01/Accounts/") {
		// A dialect that is Twilio's own API: its callers are Twilio clients.
		gw.Twilio = &gateway.TwilioAPI{Client: h.client, Base: h.router.Main.APIURL()}
	}
	if err := h.buildGuards(gw); err != nil {
		return err
	}
	if err := h.buildShared(gw); err != nil {
		return err
	}
	if err := h.buildDelivery(gw); err != nil {
		return err
	}
	h.gw = gw
	h.warnGracePeriod(ctx)
	if h.Credentials != CredentialsPassthrough && len(h.Guard.CallerAuth) == 0 {
		h.logger.Info("twilio_sms route has no caller_auth: make sure basic_auth, mTLS or a remote_ip matcher protects it (an open route is a free SMS cannon)",
			zap.String("route", h.Name))
	}
	return nil
}

// CredentialsPassthrough is the one value of credentials.
const CredentialsPassthrough = "passthrough"

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
func (h *Handler) resolveSecrets() {
	repl := caddy.NewReplacer()
	res := func(s *string) { *s = strings.TrimSpace(repl.ReplaceKnown(*s, "")) }
	res(&h.StudioFlowSID)
	h.Account.resolve(res)
	for i := range h.Subaccount {
		h.Subaccount[i].AccountConfig.resolve(res)
	}
	for i := range h.Fallback {
		h.Fallback[i].resolve(res)
	}
	res(&h.Delivery.StatusCallbackSecret)
	res(&h.Delivery.StatusCallback)
	res(&h.Shared.Redis)
	res(&h.Shared.RedisSecret)
	for i := range h.Guard.CallerAuth {
		c := &h.Guard.CallerAuth[i]
		for _, s := range []*string{&c.Value, &c.Username, &c.Password, &c.Secret} {
			res(s)
		}
		for k, v := range c.Params {
			res(&v)
			c.Params[k] = v
		}
	}
}

// checkSettings validates what does not need the mapping. Errors name the
// setting as the Caddyfile and JSON call it, and only what is missing.
func (h *Handler) checkSettings() error {
	a := &h.Account
	switch h.Credentials {
	case "":
		var missing, hints []string
		if a.AccountSID == "" {
			missing, hints = append(missing, "account_sid"), append(hints, "{env.TWILIO_ACCOUNT_SID}")
		}
		if a.AuthToken == "" && a.APIKey == nil {
			missing, hints = append(missing, "auth_token (or api_key)"), append(hints, "{env.TWILIO_AUTH_TOKEN}")
		}
		if len(missing) > 0 {
			verb := "are"
			if len(missing) == 1 {
				verb = "is"
			}
			return fmt.Errorf("%s %s required: use %s, or `credentials passthrough` (the adapter never falls back to the simulator)",
				strings.Join(missing, " and "), verb, strings.Join(hints, " and "))
		}
		if a.AuthToken != "" && a.APIKey != nil {
			return errors.New("auth_token and api_key are exclusive: give one")
		}
	case CredentialsPassthrough:
		if a.AuthToken != "" || a.APIKey != nil {
			return errors.New("credentials passthrough takes the caller's credentials: remove auth_token and api_key")
		}
		if len(h.Subaccount)+len(h.Fallback) > 0 {
			return errors.New("credentials passthrough forwards the caller's credentials to one account: subaccount and fallback need stored credentials")
		}
	default:
		return fmt.Errorf("credentials must be passthrough (or unset: the account's auth_token or api_key), not %q", h.Credentials)
	}
	if a.APIKey != nil {
		if a.APIKey.SID == "" || a.APIKey.Secret == "" {
			return errors.New("api_key needs a key SID and a secret")
		}
		if !apiKeyRE.MatchString(a.APIKey.SID) {
			return errors.New("api_key: the key SID must look like SK followed by 32 hex digits")
		}
	}
	if a.AccountSID != "" && !accountSIDRE.MatchString(a.AccountSID) {
		return errors.New("account_sid must look like AC followed by 32 hex digits")
	}
	if a.MessagingServiceSID != "" && !serviceRE.MatchString(a.MessagingServiceSID) {
		return errors.New("messaging_service_sid must look like MG followed by 32 hex digits")
	}
	if h.StudioFlowSID != "" && !flowRE.MatchString(h.StudioFlowSID) {
		return errors.New("studio_flow_sid must look like FW followed by 32 hex digits")
	}
	if h.Channel != "sms" && h.Channel != "voice" {
		return fmt.Errorf("channel must be sms or voice, not %q", h.Channel)
	}
	mc := &h.Mapping
	if mc.DefaultRegion != "" && !phone.ValidRegion(mc.DefaultRegion) {
		return fmt.Errorf("default_region %q is not an ISO 3166 region code known to libphonenumber", mc.DefaultRegion)
	}
	if mc.AssumeNumbers != "" && !phone.ValidAssume(mc.AssumeNumbers) {
		return fmt.Errorf("assume_numbers must be international or national, not %q", mc.AssumeNumbers)
	}
	if mc.AssumeNumbers == phone.AssumeNational && mc.DefaultRegion == "" {
		return errors.New("assume_numbers national needs default_region")
	}
	r := &h.Resilience
	if r.Timeout < 0 || r.DialTimeout < 0 {
		return errors.New("timeout and dial_timeout must be positive")
	}
	if time.Duration(r.DialTimeout) >= time.Duration(r.Timeout) {
		return errors.New("dial_timeout must be shorter than timeout")
	}
	if r.Breaker != nil && (r.Breaker.Failures < 1 || r.Breaker.Cooldown <= 0) {
		return errors.New("breaker needs a positive number of failures and a positive cooldown")
	}
	if r.MaxConcurrent < 0 {
		return errors.New("max_concurrent must be at least 1")
	}
	if h.Dedup.Window < 0 {
		return errors.New("dedup window must be positive (or dedup off)")
	}
	if h.Guard.TimeLimit < caddy.Duration(time.Second) || h.Guard.TimeLimit > caddy.Duration(4*time.Hour) {
		return errors.New("time_limit must be between 1s and 4h")
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
	h.stopDelivery()
	if h.redis != nil {
		unwatchRedis(h)
		_ = h.redis.Release()
		h.redis = nil
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

package caddymodule

import (
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
)

// MappingConfig is the dialect a route speaks and how it reads a product's
// request: the mapping, its options, templates and field sources, and how
// phone numbers are read. Caddyfile: `mapping`, `option`, `template`,
// `field`, `default_region`, `lenient_numbers`, `assume_numbers`.
type MappingConfig struct {
	// Use is a built-in mapping name (generic, adselfservice, pingone, netiq,
	// logto, twilio) or the path of a mapping file. A relative path in a
	// Caddyfile is resolved against the Caddyfile's folder at adapt time; in
	// JSON, against the working directory. Default generic.
	Use string `json:"use,omitempty"`
	// Option overrides the mapping's declared options (e.g. success_marker).
	Option map[string]string `json:"option,omitempty"`
	// Template overrides the mapping's message templates (e.g. Logto's per
	// usage type), with {{code}}-style placeholders.
	Template map[string]string `json:"template,omitempty"`
	// Field overrides where the mapping reads a field, e.g.
	// {"to": ["form:mobileNumber"]} for a product whose admin chose that name.
	Field map[string][]string `json:"field,omitempty"`
	// DefaultRegion is the ISO 3166 region (US, GB, IN, ...) used to read
	// phone numbers written in national format, as Active Directory often
	// stores them.
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
}

// AccountConfig is a Twilio account with its credentials, senders and hosts:
// the route's main account, a subaccount or a fallback. Caddyfile: the same
// words at the top of the twilio_sms block (main account) or inside a
// `subaccount` or `fallback` block.
type AccountConfig struct {
	// Name labels the account in logs, metrics and answers. The main
	// account is "main"; fallbacks are named in the Caddyfile's `fallback
	// <name>`; a subaccount needs one.
	Name string `json:"name,omitempty"`
	// AccountSID (AC…) of the account. Placeholders such as
	// {env.TWILIO_ACCOUNT_SID} are resolved at provisioning.
	AccountSID string `json:"account_sid,omitempty"`
	// AuthToken of the account; use {env.TWILIO_AUTH_TOKEN} or
	// {file./run/secrets/twilio_token}: a literal is readable at the admin
	// API's /config/ and in autosave.json. Never logged. A subaccount or
	// fallback without AuthToken or APIKey uses the main account's
	// credentials, which Twilio accepts for a subaccount's Messages and
	// Calls (not Studio).
	AuthToken string `json:"auth_token,omitempty"`
	// APIKey authenticates with an API key instead of the auth token.
	APIKey *APIKeyConfig `json:"api_key,omitempty"`
	// From is the sender: an E.164 number, a short code, an alphanumeric
	// sender ID, or NetIQ's "91\9191919191" form. Exclusive with Sender.
	From string `json:"from,omitempty"`
	// MessagingServiceSID (MG…) sends SMS through a Messaging Service.
	MessagingServiceSID string `json:"messaging_service_sid,omitempty"`
	// Sender is a pool of From numbers, chosen per message by country,
	// capability and type (see the README's "Sender selection").
	Sender []SenderConfig `json:"sender,omitempty"`
	// APIURL is Twilio's REST API base (default https://api.twilio.com;
	// plain http only to a loopback host: the simulator). StudioURL is
	// Studio's (default https://studio.twilio.com). Edge and Region build
	// Twilio's regional hosts (api.{edge}.{region}.twilio.com) when the URLs
	// are not set. A subaccount or fallback inherits the main account's.
	APIURL    string `json:"api_url,omitempty"`
	StudioURL string `json:"studio_url,omitempty"`
	Edge      string `json:"edge,omitempty"`
	Region    string `json:"region,omitempty"`
}

// APIKeyConfig is an API key (Caddyfile: `api_key <SK…> <secret>`).
type APIKeyConfig struct {
	// SID is the key's SID (SK…).
	SID string `json:"sid"`
	// Secret is the key's secret; use a placeholder. Never logged.
	Secret string `json:"secret"`
}

// SenderConfig is one From number of an account's pool (Caddyfile: `sender
// <number> [standard|toll_free|short_code] [sms] [voice] [countries <CC>...]`).
type SenderConfig struct {
	// Number is an E.164 number (or NetIQ's "91\9191919191"), or a short code.
	Number string `json:"number"`
	// Type is standard (default), toll_free or short_code.
	Type string `json:"type,omitempty"`
	// Channels lists sms and/or voice. Default: sms.
	Channels []string `json:"channels,omitempty"`
	// Countries (ISO regions) this number may send to; empty means any.
	Countries []string `json:"countries,omitempty"`
}

// SubaccountConfig routes destinations by country dialing code, like NetIQ's
// "Country Dialing Code Filter" (Caddyfile: `subaccount <+prefix> { … }`).
type SubaccountConfig struct {
	// Prefix is the country dialing code: "+91", "44", "1876". Longest match wins.
	Prefix string `json:"prefix"`
	AccountConfig
}

// ResilienceConfig is how a route copes with a slow or failing Twilio.
type ResilienceConfig struct {
	// Timeout is the whole budget of one request, from arrival to answer,
	// including queueing, retries and fallbacks. Set it below the calling
	// product's own timeout (Okta and privacyIDEA wait 3 s). Default 5s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// DialTimeout bounds connecting to Twilio (TCP and TLS). Default the
	// smaller of 2s and half the timeout.
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`
	// Retries is the number of extra attempts on the same account, only for
	// 429/20429 and connections that were never made. Default 2; 0 disables.
	Retries *int `json:"retries,omitempty"`
	// MaxConcurrent caps requests in flight per Twilio account (Twilio
	// answers 429/20429 beyond its own limit). Default 32.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// MaxQueue is how many requests may wait for a slot per account before
	// the adapter answers "unavailable"; waiting callers are served in turn.
	// Default 256; 0 means no queue.
	MaxQueue *int `json:"max_queue,omitempty"`
	// Breaker opens an account's circuit breaker after Failures consecutive
	// failures and skips it (down the fallback chain) for Cooldown before
	// one probe. Default 5 failures, 30s.
	Breaker *BreakerConfig `json:"breaker,omitempty"`
	// FallbackCodes are Twilio error codes (on a 4xx) that also allow the
	// next account, e.g. 21606 (From not valid for this account).
	FallbackCodes []int `json:"fallback_codes,omitempty"`
	// FallbackOn5xx lets a 5xx from Twilio (other than its own 503/20503
	// "not processed") go down the fallback chain. Off by default: a 5xx may
	// come after Twilio created the message (an edge 502 or 504 proves
	// nothing), so falling back can deliver the code twice. Turn it on only
	// where a second code is better than none.
	FallbackOn5xx bool `json:"fallback_on_5xx,omitempty"`
}

// BreakerConfig is a circuit breaker (Caddyfile: `breaker <failures> <cooldown>`).
type BreakerConfig struct {
	Failures int            `json:"failures"`
	Cooldown caddy.Duration `json:"cooldown"`
}

// DedupConfig is duplicate suppression (Caddyfile: `dedup <window>|off`): a
// repeat of the same destination and text through the same account within
// the window gets the first answer again instead of a second SMS. Keys are
// HMAC digests, never the code in clear; state is per Caddy instance, kept
// across reloads, and a changed window applies to what is already
// remembered. An entry is never forgotten before its window ends: at the
// cap (100,000 entries) new sends are refused with 503 and Retry-After
// rather than sent unprotected.
type DedupConfig struct {
	// Window is how long an answer is remembered. Default 2m.
	Window caddy.Duration `json:"window,omitempty"`
	// Off turns duplicate suppression off.
	Off bool `json:"off,omitempty"`
}

// SharedConfig keeps duplicate suppression and rate limits in Redis (or
// Valkey), shared by every instance that names the same store: a product
// that re-posts to another instance behind a load balancer gets the first
// answer, and a limit is not multiplied by the number of instances.
// Concurrency caps and breakers stay per instance. Caddyfile: `redis`,
// `redis_secret`, `redis_failure`.
type SharedConfig struct {
	// Redis is the store's URL: redis://[user:password@]host:port/db,
	// rediss:// (TLS), unix:///path, redis+sentinel://…?master_name=…,
	// redis+cluster://…; use placeholders for passwords. Routes naming the
	// same URL share one client, across reloads.
	Redis string `json:"redis,omitempty"`
	// RedisSecret derives the keys (HMAC) so that Redis never holds a number
	// or a code in clear; identical on every instance, at least 16 bytes
	// (32 random bytes recommended). Required with redis; use a placeholder.
	RedisSecret string `json:"redis_secret,omitempty"`
	// RedisFailure is what the route does while Redis fails: "local"
	// (default: use this instance's own state, with a metric and a warning)
	// or "refuse" (answer unavailable without sending). Every Redis call has
	// its own short deadline inside the route's budget; recovery is automatic.
	RedisFailure string `json:"redis_failure,omitempty"`
}

// GuardConfig is what a route refuses before anything is sent.
type GuardConfig struct {
	// CallerAuth, when set, requires every request to carry one of these
	// credentials (constant-time compared). Prefer Caddy's basic_auth or
	// mTLS where the product supports them; this is for products that can
	// only send a fixed header.
	CallerAuth []CallerCredential `json:"caller_auth,omitempty"`
	// AllowCountries and DenyCountries (ISO regions) are checked before any
	// Twilio call, like Twilio's geo permissions. Allow, when set, is
	// exclusive. A number whose country cannot be told is refused when
	// either is set.
	AllowCountries []string `json:"allow_countries,omitempty"`
	DenyCountries  []string `json:"deny_countries,omitempty"`
	// AllowNumberTypes opens number types that are refused by default because
	// they carry toll fraud: premium_rate, shared_cost, uan, personal_number
	// and non_geographic (+800, +808, +870, +878, +881, +882, +883, +888,
	// +979). Refusals answer with Twilio's 21408 meaning.
	AllowNumberTypes []string `json:"allow_number_types,omitempty"`
	// RateLimit caps sends per destination number and per verified caller.
	// Without a destination entry, 5 per 10 minutes per destination applies
	// (`rate_limit destination off` removes it). Only sends count. Limits
	// are kept per sending account across reloads (a changed limit applies
	// in place) and per Caddy instance.
	RateLimit []RateLimitConfig `json:"rate_limit,omitempty"`
	// TimeLimit caps every call's duration (Twilio's TimeLimit), so a call to
	// an expensive number cannot be held open. Default 120s.
	TimeLimit caddy.Duration `json:"time_limit,omitempty"`
	// AllowCallerStatusCallback forwards a caller's StatusCallback URL on a
	// route with stored credentials. Off by default: the URL would receive
	// the operator's delivery data. Passthrough routes always forward it.
	AllowCallerStatusCallback bool `json:"allow_caller_status_callback,omitempty"`
}

// CallerCredential is one accepted caller credential (Caddyfile:
// `caller_auth <type> <arguments…> [name <identity>]`):
//
//	caller_auth header <Name> <value>
//	caller_auth basic <user> <password>
//	caller_auth bearer <token>
//	caller_auth params <name> <value> [<name> <value>]…
//	caller_auth standard_webhooks <secret>      # v1,whsec_… or whsec_… (Supabase's hooks)
//	caller_auth zitadel_signature <signing key>
//
// Every comparison is constant time, a refusal is answered in the caller's
// dialect before anything is sent, and no secret reaches a log.
type CallerCredential struct {
	// Type is header, basic, bearer, params, standard_webhooks or
	// zitadel_signature.
	Type string `json:"type"`
	// Header is the header name (type header).
	Header string `json:"header,omitempty"`
	// Value is the expected header value (header) or token (bearer); use a
	// placeholder.
	Value string `json:"value,omitempty"`
	// Username and Password (type basic); use a placeholder for the password.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// Params are query or form parameters that must all carry these values
	// (type params: Kannel's username and password, Jasmin's, RSA's). A
	// parameter may not be called "name".
	Params map[string]string `json:"params,omitempty"`
	// Secret is the signing secret (standard_webhooks: "v1,whsec_<base64>"
	// or "whsec_<base64>"; zitadel_signature: the signing key). Signed
	// requests are accepted within 5 minutes of their timestamp, and the
	// body is verified exactly as received.
	Secret string `json:"secret,omitempty"`
	// Name is the caller identity this credential proves, the key of
	// `rate_limit caller`. Default: the user name (basic), or
	// "caller_auth[<index>]".
	Name string `json:"name,omitempty"`
}

// RateLimitConfig is one token bucket family (Caddyfile: `rate_limit
// destination|caller <events> <window> | off`).
type RateLimitConfig struct {
	// Key is "destination" (per destination number) or "caller" (per verified
	// caller: the caller_auth credential that matched, else the client IP as
	// Caddy sees it, trusted_proxies respected; never an unverified header or
	// Basic user name).
	Key string `json:"key"`
	// Events are allowed per Window, with bursts up to Events.
	Events int            `json:"events,omitempty"`
	Window caddy.Duration `json:"window,omitempty"`
	// Off turns this limit off (for the destination limit, which is on by
	// default).
	Off bool `json:"off,omitempty"`
}

// Defaults, applied in one place (Handler.applyDefaults).
const (
	defaultMapping           = "generic"
	defaultTimeout           = 5 * time.Second
	defaultMaxDialTimeout    = 2 * time.Second
	defaultDedupWindow       = 2 * time.Minute
	defaultTimeLimit         = 120 * time.Second
	defaultDestinationEvents = 5
	defaultDestinationWindow = 10 * time.Minute
	mainAccountName          = "main"
)

// applyMappingDefaults fills the settings the route leaves unset with the
// mapping's route_defaults (Okta's budget under its 3 s, Supabase's
// international numbers): the route's own setting wins, then the mapping's,
// then the adapter's (applyDefaults).
func (h *Handler) applyMappingDefaults(d mapping.RouteDefaults) {
	if h.Resilience.Timeout == 0 && d.Timeout > 0 {
		h.Resilience.Timeout = caddy.Duration(d.Timeout)
	}
	if h.Dedup.Window == 0 && !h.Dedup.Off {
		h.Dedup.Window, h.Dedup.Off = caddy.Duration(d.Dedup), d.DedupOff
	}
	if h.Mapping.DefaultRegion == "" {
		h.Mapping.DefaultRegion = d.DefaultRegion
	}
	if h.Mapping.AssumeNumbers == "" {
		h.Mapping.AssumeNumbers = d.AssumeNumbers
	}
}

// applyDefaults fills every unset setting with its default. It is the only
// place defaults live; Provision calls it after resolving placeholders.
func (h *Handler) applyDefaults() {
	if h.Mapping.Use == "" {
		h.Mapping.Use = defaultMapping
	}
	if h.Channel == "" {
		h.Channel = "sms"
	}
	if h.Account.Name == "" {
		h.Account.Name = mainAccountName
	}
	r := &h.Resilience
	if r.Timeout == 0 {
		r.Timeout = caddy.Duration(defaultTimeout)
	}
	if r.DialTimeout == 0 {
		r.DialTimeout = caddy.Duration(min(defaultMaxDialTimeout, time.Duration(r.Timeout)/2))
	}
	if h.Dedup.Window == 0 {
		h.Dedup.Window = caddy.Duration(defaultDedupWindow)
	}
	if h.Guard.TimeLimit == 0 {
		h.Guard.TimeLimit = caddy.Duration(defaultTimeLimit)
	}
	hasDestination := false
	for _, rl := range h.Guard.RateLimit {
		hasDestination = hasDestination || rl.Key == "destination"
	}
	if !hasDestination {
		h.Guard.RateLimit = append(h.Guard.RateLimit, RateLimitConfig{Key: "destination",
			Events: defaultDestinationEvents, Window: caddy.Duration(defaultDestinationWindow)})
	}
	// Retries, max_concurrent, max_queue and the breaker default in package
	// dispatch (DefaultPolicy, StateConfig), where their meaning is documented.
}

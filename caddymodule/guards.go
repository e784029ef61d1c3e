package caddymodule

import (
	"crypto/subtle"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dedup"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/ratelimit"
)

// CallerCredential is one accepted caller credential.
type CallerCredential struct {
	// Type is "header" (a fixed header value, e.g. X-Api-Key or a Bearer
	// Authorization) or "basic" (HTTP Basic user name and password).
	Type string `json:"type"`
	// Header is the header name (type header).
	Header string `json:"header,omitempty"`
	// Value is the expected header value (type header); {env.*} allowed.
	Value string `json:"value,omitempty"`
	// Username and Password (type basic); {env.*} allowed.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// Name is the caller identity this credential proves, the key of
	// `rate_limit caller`. Default: the user name (basic), or
	// "caller_auth[<index>]" (header).
	Name string `json:"name,omitempty"`
}

// identity is the verified caller name of credential i.
func (c *CallerCredential) identity(i int) string {
	switch {
	case c.Name != "":
		return c.Name
	case c.Type == "basic":
		return c.Username
	}
	return "caller_auth[" + strconv.Itoa(i) + "]"
}

// RateLimitConfig is one token bucket family.
type RateLimitConfig struct {
	// Key is "destination" (per destination number) or "caller" (per verified
	// caller: the caller_auth credential that matched, else the client IP as
	// Caddy sees it, trusted_proxies respected; never an unverified header or
	// Basic user name).
	Key string `json:"key"`
	// Events are allowed per Window, with bursts up to Events. Only sends
	// count: a request that provably sent nothing gives its token back.
	Events int            `json:"events"`
	Window caddy.Duration `json:"window"`
	// Off turns this limit off (for the destination limit, which is on by
	// default).
	Off bool `json:"off,omitempty"`
}

// Default limit per destination number: a pumping run cannot pass it at
// full speed, and a user asking for a code again and again is not hurt.
const (
	defaultDestinationEvents = 5
	defaultDestinationWindow = 10 * time.Minute
)

// guards are the checks made before anything is sent.
type guards struct {
	allow, deny map[string]bool
	allowKinds  map[string]bool
	// simulatorOnly: every account's upstream is a plain-http loopback host
	// (the simulator), where Twilio's magic test numbers may be used.
	simulatorOnly bool
	byDestination *ratelimit.Limiter
	byCaller      *ratelimit.Limiter
	dedup         *dedup.Cache
}

func (h *Handler) buildGuards() error {
	for i, c := range h.CallerAuth {
		switch c.Type {
		case "header":
			if c.Header == "" || c.Value == "" {
				return fmt.Errorf("caller_auth[%d]: header needs a name and a value", i)
			}
		case "basic":
			if c.Username == "" || c.Password == "" {
				return fmt.Errorf("caller_auth[%d]: basic needs a user name and a password", i)
			}
			if h.Credentials == CredentialsPassthrough {
				return fmt.Errorf("caller_auth[%d]: basic cannot be used with credentials passthrough, whose Basic credentials are Twilio's", i)
			}
		default:
			return fmt.Errorf("caller_auth[%d]: type must be header or basic, not %q", i, c.Type)
		}
	}
	countries := func(name string, list []string) (map[string]bool, error) {
		if len(list) == 0 {
			return nil, nil
		}
		m := map[string]bool{}
		for _, c := range list {
			if !phone.ValidRegion(c) {
				return nil, fmt.Errorf("%s: %q is not an ISO 3166 region code", name, c)
			}
			m[strings.ToUpper(c)] = true
		}
		return m, nil
	}
	var err error
	if h.guards.allow, err = countries("allow_countries", h.AllowCountries); err != nil {
		return err
	}
	if h.guards.deny, err = countries("deny_countries", h.DenyCountries); err != nil {
		return err
	}
	for c := range h.guards.deny {
		if h.guards.allow[c] {
			return fmt.Errorf("allow_countries and deny_countries both list %s: a country cannot be both allowed and denied", c)
		}
	}
	h.guards.simulatorOnly = h.simulatorOnly()
	h.guards.allowKinds = map[string]bool{}
	for _, k := range h.AllowNumberTypes {
		if !phone.ValidKind(k) {
			return fmt.Errorf("allow_number_types: %q is not one of %s", k, strings.Join(phone.RiskyKinds, ", "))
		}
		h.guards.allowKinds[k] = true
	}
	seen := map[string]bool{}
	limits := slices.Clone(h.RateLimits)
	for i, rl := range limits {
		if rl.Key != "destination" && rl.Key != "caller" {
			return fmt.Errorf("rate_limits[%d]: key must be destination or caller, not %q", i, rl.Key)
		}
		if seen[rl.Key] {
			return fmt.Errorf("rate_limits[%d]: a %s limit is already set", i, rl.Key)
		}
		seen[rl.Key] = true
		if !rl.Off && (rl.Events < 1 || rl.Window <= 0) {
			return fmt.Errorf("rate_limits[%d]: events and window must be positive", i)
		}
	}
	if !seen["destination"] {
		limits = append(limits, RateLimitConfig{Key: "destination", Events: defaultDestinationEvents, Window: caddy.Duration(defaultDestinationWindow)})
	}
	for _, rl := range limits {
		if rl.Off {
			continue
		}
		rate := float64(rl.Events) / time.Duration(rl.Window).Seconds()
		lim, key, err := loadLimiter(h.limitScope(), rl.Key, rate, rl.Events)
		if err != nil {
			return err
		}
		h.poolKeys = append(h.poolKeys, key)
		if rl.Key == "destination" {
			h.guards.byDestination = lim
		} else {
			h.guards.byCaller = lim
		}
	}
	if !h.DisableDedup {
		c, key, err := loadDedup()
		if err != nil {
			return err
		}
		h.poolKeys = append(h.poolKeys, key)
		h.guards.dedup = c
		h.releaseWindow = c.Register(time.Duration(h.DedupWindow))
	}
	return nil
}

// limitScope is the identity rate-limit buckets are kept under across reloads:
// the sending account, not the route's name or its other settings, so that a
// reload neither resets a pumping attacker's buckets nor merges two accounts'.
func (h *Handler) limitScope() string {
	return h.Credentials + "|" + h.AccountSID
}

// caller checks CallerAuth in constant time per credential and returns the
// verified identity of the caller: the matching credential's name, or the
// client IP when the route has no caller_auth. ok is false when the route
// requires a credential and none matched.
func (h *Handler) caller(r *http.Request) (identity string, ok bool) {
	if len(h.CallerAuth) == 0 {
		return "ip:" + clientIP(r), true
	}
	user, pass, hasBasic := r.BasicAuth()
	match := -1
	for i, c := range h.CallerAuth {
		switch c.Type {
		case "header":
			got := r.Header.Get(c.Header)
			if subtle.ConstantTimeCompare([]byte(got), []byte(c.Value)) == 1 && match < 0 {
				match = i
			}
		case "basic":
			u := subtle.ConstantTimeCompare([]byte(user), []byte(c.Username))
			p := subtle.ConstantTimeCompare([]byte(pass), []byte(c.Password))
			if hasBasic && u&p == 1 && match < 0 {
				match = i
			}
		}
	}
	if match < 0 {
		return "", false
	}
	return "auth:" + h.CallerAuth[match].identity(match), true
}

// clientIP is the client address as Caddy determined it (trusted_proxies
// respected), without a port.
func clientIP(r *http.Request) string {
	if ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ip != "" {
		return ip
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// countryAllowed applies allow_countries and deny_countries to the
// destination's region. A number whose region cannot be told is refused
// whenever a country list is configured: it could be in any of them.
func (g *guards) countryAllowed(region string) bool {
	if region == "" {
		return g.allow == nil && g.deny == nil
	}
	if g.allow != nil && !g.allow[region] {
		return false
	}
	return !g.deny[region]
}

// kindAllowed refuses the number kinds that carry toll fraud (premium rate,
// shared cost, UAN, personal and non-geographic numbers) unless the route
// opens them with allow_number_types. It returns the refused kind.
//
// Twilio's magic test numbers (+1 500 555 xxxx) are personal numbers to
// libphonenumber; they are let through only on routes whose every upstream is
// the loopback simulator, where nothing can be charged.
func (g *guards) kindAllowed(e164 string) (kind string, ok bool) {
	kind = phone.Kind(e164)
	if kind == phone.KindPersonalNumber && g.simulatorOnly && strings.HasPrefix(e164, magicTestPrefix) {
		return "", true
	}
	return kind, kind == "" || g.allowKinds[kind]
}

// magicTestPrefix starts Twilio's magic test numbers.
const magicTestPrefix = "+1500555"

// simulatorOnly reports whether every account of the route sends to a
// plain-http loopback upstream: the simulator, never Twilio.
func (h *Handler) simulatorOnly() bool {
	all := []*dispatch.Account{&h.router.Main}
	for i := range h.router.Countries {
		all = append(all, &h.router.Countries[i].Account)
	}
	for i := range h.router.Fallback {
		all = append(all, &h.router.Fallback[i])
	}
	var urls []string
	for _, a := range all {
		urls = append(urls, a.APIURL())
		if h.StudioFlowSID != "" {
			urls = append(urls, a.StudioURL())
		}
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, "http://") {
			return false
		}
	}
	return true
}

// spent is what a send took from the rate limits, to give back when the send
// provably sent nothing.
type spent struct {
	destination, caller string
}

// take takes a token from the destination and caller buckets. It returns the
// kind that refused and how long until a token is free; on a refusal nothing
// stays taken.
func (g *guards) take(caller, to string) (s spent, kind string, wait time.Duration) {
	if g.byDestination != nil {
		key := keyString(dedup.KeyOf("destination", to))
		ok, w := g.byDestination.Allow(key)
		if !ok {
			return spent{}, "destination", w
		}
		s.destination = key
	}
	if g.byCaller != nil {
		key := keyString(dedup.KeyOf("caller", caller))
		ok, w := g.byCaller.Allow(key)
		if !ok {
			g.refund(s)
			return spent{}, "caller", w
		}
		s.caller = key
	}
	return s, "", 0
}

// refund gives back what take took: the send it was for sent nothing.
func (g *guards) refund(s spent) {
	if s.destination != "" {
		g.byDestination.Refund(s.destination)
	}
	if s.caller != "" {
		g.byCaller.Refund(s.caller)
	}
}

// keyString is the whole digest as a map key (Key.String is a short prefix for logs).
func keyString(k dedup.Key) string { return string(k[:]) }

func retryAfterSeconds(d time.Duration) int {
	return int(math.Max(1, math.Ceil(d.Seconds())))
}

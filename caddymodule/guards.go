package caddymodule

import (
	"crypto/subtle"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dedup"
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
}

// RateLimitConfig is one token bucket family.
type RateLimitConfig struct {
	// Key is "destination" (per destination number) or "caller" (per caller:
	// its Basic user name if any, else its client IP).
	Key string `json:"key"`
	// Events are allowed per Window, with bursts up to Events.
	Events int            `json:"events"`
	Window caddy.Duration `json:"window"`
}

// guards are the checks made before anything is sent.
type guards struct {
	allow, deny   map[string]bool
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
	seen := map[string]bool{}
	for i, rl := range h.RateLimits {
		if rl.Key != "destination" && rl.Key != "caller" {
			return fmt.Errorf("rate_limits[%d]: key must be destination or caller, not %q", i, rl.Key)
		}
		if seen[rl.Key] {
			return fmt.Errorf("rate_limits[%d]: a %s limit is already set", i, rl.Key)
		}
		seen[rl.Key] = true
		if rl.Events < 1 || rl.Window <= 0 {
			return fmt.Errorf("rate_limits[%d]: events and window must be positive", i)
		}
		rate := float64(rl.Events) / time.Duration(rl.Window).Seconds()
		lim, key, err := loadLimiter(h.Name+"|"+h.AccountSID, rl.Key, rate, rl.Events)
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
		c, key, err := loadDedup(time.Duration(h.DedupWindow))
		if err != nil {
			return err
		}
		h.poolKeys = append(h.poolKeys, key)
		h.guards.dedup = c
	}
	return nil
}

// callerAllowed checks CallerAuth in constant time per credential.
func (h *Handler) callerAllowed(r *http.Request) bool {
	if len(h.CallerAuth) == 0 {
		return true
	}
	ok := false
	user, pass, hasBasic := r.BasicAuth()
	for _, c := range h.CallerAuth {
		switch c.Type {
		case "header":
			got := r.Header.Get(c.Header)
			if subtle.ConstantTimeCompare([]byte(got), []byte(c.Value)) == 1 {
				ok = true
			}
		case "basic":
			u := subtle.ConstantTimeCompare([]byte(user), []byte(c.Username))
			p := subtle.ConstantTimeCompare([]byte(pass), []byte(c.Password))
			if hasBasic && u&p == 1 {
				ok = true
			}
		}
	}
	return ok
}

// countryAllowed applies allow_countries and deny_countries to the destination's region.
func (g *guards) countryAllowed(region string) bool {
	if g.allow != nil && !g.allow[region] {
		return false
	}
	return !g.deny[region]
}

// rateLimited checks the destination and caller buckets. It returns the kind that
// refused and how long to wait.
func (g *guards) rateLimited(r *http.Request, to string) (string, time.Duration) {
	if g.byDestination != nil {
		if ok, wait := g.byDestination.Allow(keyString(dedup.KeyOf("destination", to))); !ok {
			return "destination", wait
		}
	}
	if g.byCaller != nil {
		caller, _, ok := r.BasicAuth()
		if !ok || caller == "" {
			caller, _ = caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
		}
		if caller == "" {
			caller = r.RemoteAddr
		}
		if ok, wait := g.byCaller.Allow(keyString(dedup.KeyOf("caller", caller))); !ok {
			return "caller", wait
		}
	}
	return "", 0
}

// keyString is the whole digest as a map key (Key.String is a short prefix for logs).
func keyString(k dedup.Key) string { return string(k[:]) }

func retryAfterSeconds(d time.Duration) int {
	return int(math.Max(1, math.Ceil(d.Seconds())))
}

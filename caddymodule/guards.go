package caddymodule

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/gateway"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
)

// buildGuards turns the guard and dedup settings into the gateway's callers,
// destination rules, rate limits and dedup cache. Limits and the cache come
// from the pool, so a reload keeps their state.
func (h *Handler) buildGuards(gw *gateway.Gateway) error {
	g := &h.Guard
	for i, c := range g.CallerAuth {
		cred, err := h.callerCredential(i, &c)
		if err != nil {
			return err
		}
		gw.Callers = append(gw.Callers, cred)
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
	d := &gw.Destinations
	var err error
	if d.Allow, err = countries("allow_countries", g.AllowCountries); err != nil {
		return err
	}
	if d.Deny, err = countries("deny_countries", g.DenyCountries); err != nil {
		return err
	}
	for c := range d.Deny {
		if d.Allow[c] {
			return fmt.Errorf("allow_countries and deny_countries both list %s: a country cannot be both allowed and denied", c)
		}
	}
	d.AllowKinds = map[string]bool{}
	for _, k := range g.AllowNumberTypes {
		if !phone.ValidKind(k) {
			return fmt.Errorf("allow_number_types: %q is not one of %s", k, strings.Join(phone.RiskyKinds, ", "))
		}
		d.AllowKinds[k] = true
	}
	d.SimulatorOnly = h.simulatorOnly()

	seen := map[string]bool{}
	for i, rl := range g.RateLimit {
		if rl.Key != "destination" && rl.Key != "caller" {
			return fmt.Errorf("rate_limit[%d]: key must be destination or caller, not %q", i, rl.Key)
		}
		if seen[rl.Key] {
			return fmt.Errorf("rate_limit[%d]: a %s limit is already set", i, rl.Key)
		}
		seen[rl.Key] = true
		if rl.Off {
			continue
		}
		if rl.Events < 1 || rl.Window <= 0 {
			return fmt.Errorf("rate_limit %s: events and window must be positive", rl.Key)
		}
		rate := float64(rl.Events) / time.Duration(rl.Window).Seconds()
		lim, key, err := loadLimiter(h.limitScope(), rl.Key, rate, rl.Events)
		if err != nil {
			return err
		}
		h.poolKeys = append(h.poolKeys, key)
		if rl.Key == "destination" {
			gw.DestinationLimit, gw.DestinationRate = lim, gateway.Rate{PerSecond: rate, Burst: rl.Events}
		} else {
			gw.CallerLimit, gw.CallerRate = lim, gateway.Rate{PerSecond: rate, Burst: rl.Events}
		}
	}

	if !h.Dedup.Off {
		c, key, err := loadDedup()
		if err != nil {
			return err
		}
		h.poolKeys = append(h.poolKeys, key)
		gw.Dedup, gw.DedupWindow = c, time.Duration(h.Dedup.Window)
		h.releaseWindow = c.Register(gw.DedupWindow)
	}
	return nil
}

// callerCredential checks one caller_auth entry and turns it into the
// gateway's form.
func (h *Handler) callerCredential(i int, c *CallerCredential) (gateway.Credential, error) {
	where := "caller_auth[" + strconv.Itoa(i) + "] " + c.Type
	cred := gateway.Credential{Kind: c.Type, Identity: c.Name}
	if cred.Identity == "" {
		cred.Identity = "caller_auth[" + strconv.Itoa(i) + "]"
	}
	switch c.Type {
	case gateway.KindHeader:
		if c.Header == "" || c.Value == "" {
			return cred, fmt.Errorf("%s: needs a header name and a value", where)
		}
		cred.Header, cred.Value = c.Header, c.Value
	case gateway.KindBasic:
		if c.Username == "" || c.Password == "" {
			return cred, fmt.Errorf("%s: needs a user name and a password", where)
		}
		if h.Credentials == CredentialsPassthrough {
			return cred, fmt.Errorf("%s: cannot be used with credentials passthrough, whose Basic credentials are Twilio's", where)
		}
		cred.Username, cred.Password = c.Username, c.Password
		if c.Name == "" {
			cred.Identity = c.Username
		}
	case gateway.KindBearer:
		if c.Value == "" {
			return cred, fmt.Errorf("%s: needs a token", where)
		}
		if h.Credentials == CredentialsPassthrough {
			return cred, fmt.Errorf("%s: cannot be used with credentials passthrough, whose Authorization header is Twilio's", where)
		}
		cred.Value = c.Value
	case gateway.KindParams:
		if len(c.Params) == 0 {
			return cred, fmt.Errorf("%s: needs at least one parameter name and value", where)
		}
		for _, k := range slices.Sorted(maps.Keys(c.Params)) {
			if k == "" || c.Params[k] == "" {
				return cred, fmt.Errorf("%s: parameter names and values must not be empty", where)
			}
			cred.Params = append(cred.Params, [2]string{k, c.Params[k]})
		}
	case gateway.KindStandardWebhooks:
		key, err := gateway.StandardWebhooksSecret(c.Secret)
		if err != nil || len(key) == 0 {
			return cred, fmt.Errorf("%s: the secret must be v1,whsec_<base64> or whsec_<base64>", where)
		}
		cred.Secret = key
	case gateway.KindZitadelSignature:
		if c.Secret == "" {
			return cred, fmt.Errorf("%s: needs the signing key", where)
		}
		cred.Secret = []byte(c.Secret)
	default:
		return cred, fmt.Errorf("caller_auth[%d]: type must be header, basic, bearer, params, standard_webhooks or zitadel_signature, not %q", i, c.Type)
	}
	return cred, nil
}

// limitScope is the identity a route's rate-limit buckets, breakers and
// queues are kept under across reloads: its name and its sending account,
// not its other settings. A reload that changes a limit updates it in place
// (as caddy-ratelimit keeps a zone by its name), so it neither resets a
// pumping attacker's buckets nor merges two accounts'; and two routes keep
// the limits each sets, so a caller cannot pick the laxer route's.
//
// An unnamed route is named after its mapping, which several routes may
// share: its scope then also carries its limit settings, so that two unnamed
// routes with different limits never share (and overwrite) one bucket. Name
// a route to keep its buckets across a reload that changes its limits.
func (h *Handler) limitScope() string {
	scope := h.Name + "|" + h.Credentials + "|" + h.Account.AccountSID
	if h.nameDefaulted {
		scope = poolKey(scope, h.Guard.RateLimit, h.Resilience.MaxConcurrent, h.Resilience.MaxQueue, h.Resilience.Breaker)
	}
	return scope
}

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
	for _, a := range all {
		urls := []string{a.APIURL()}
		if h.StudioFlowSID != "" {
			urls = append(urls, a.StudioURL())
		}
		for _, u := range urls {
			if !strings.HasPrefix(u, "http://") {
				return false
			}
		}
	}
	return true
}

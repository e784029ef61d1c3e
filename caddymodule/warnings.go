package caddymodule

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// secretSettings lists the settings that hold a secret, by their config name,
// with a pointer to each (the unresolved value, before placeholders are
// replaced).
func (h *Handler) secretSettings() map[string]*string {
	m := map[string]*string{}
	account := func(prefix string, a *AccountConfig) {
		m[prefix+"auth_token"] = &a.AuthToken
		if a.APIKey != nil {
			m[prefix+"api_key secret"] = &a.APIKey.Secret
		}
	}
	account("", &h.Account)
	for i := range h.Subaccount {
		account("subaccount "+h.Subaccount[i].Prefix+" ", &h.Subaccount[i].AccountConfig)
	}
	for i := range h.Fallback {
		account("fallback "+h.Fallback[i].Name+" ", &h.Fallback[i])
	}
	m["redis_secret"] = &h.Shared.RedisSecret
	m["status_callback_secret"] = &h.Delivery.StatusCallbackSecret
	if u, err := url.Parse(h.Shared.Redis); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && !isPlaceholder(pw) {
			m["redis password"] = &pw
		}
	}
	for i := range h.Guard.CallerAuth {
		c := &h.Guard.CallerAuth[i]
		where := fmt.Sprintf("caller_auth[%d] %s ", i, c.Type)
		switch c.Type {
		case "basic":
			m[where+"password"] = &c.Password
		case "header":
			m[where+c.Header+" value"] = &c.Value
		case "bearer":
			m[where+"token"] = &c.Value
		case "params":
			for k := range c.Params {
				if secretParam(k) {
					v := c.Params[k]
					m[where+k] = &v
				}
			}
		default:
			m[where+"secret"] = &c.Secret
		}
	}
	return m
}

// isPlaceholder reports whether a setting is entirely one {env.*} or {file.*}
// placeholder, whose value Caddy resolves at provisioning and never stores.
func isPlaceholder(s string) bool {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") || strings.Count(s, "{") != 1 {
		return false
	}
	return strings.HasPrefix(s, "{env.") || strings.HasPrefix(s, "{file.")
}

// literalSecrets names the secret settings written as literals.
func (h *Handler) literalSecrets() []string {
	var names []string
	for name, p := range h.secretSettings() {
		if *p != "" && !isPlaceholder(*p) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// warnLiteralSecrets warns, without the value, about every secret written
// into the config itself: Caddy serves the config at the admin API's /config/
// and saves it to autosave.json, so a literal there is readable by anyone who
// reaches the admin endpoint or the disk. {env.*} and {file.*} are resolved at
// provisioning and appear there only as the placeholder.
func (h *Handler) warnLiteralSecrets() {
	for _, name := range h.literalSecrets() {
		h.logger.Warn("twilio_sms: a secret is written as a literal in the config; it is readable at the admin API's /config/ and in autosave.json: use {env.NAME} or {file.PATH}",
			zap.String("route", h.routeLabel()), zap.String("setting", name))
	}
}

// warnGracePeriod warns when the HTTP server's grace_period is shorter than
// this route's budget: on a reload or stop, requests still being sent would
// be cut off after Twilio took them, and their callers would never learn it.
// (caddy twilio-sms check --config fails on the same condition.)
func (h *Handler) warnGracePeriod(ctx caddy.Context) {
	app, err := ctx.AppIfConfigured("http")
	if err != nil {
		return
	}
	timeout := time.Duration(h.Resilience.Timeout)
	if grace, short := graceTooShort(app, timeout); short {
		h.logger.Warn("twilio_sms: the server's grace_period is shorter than this route's timeout; requests in flight at a reload or stop may be sent but never answered",
			zap.String("route", h.Name), zap.Duration("grace_period", grace), zap.Duration("timeout", timeout))
	}
}

// graceTooShort reports the http app's grace period and whether it is set and
// shorter than timeout. Zero means Caddy waits for every request.
func graceTooShort(app any, timeout time.Duration) (time.Duration, bool) {
	a, ok := app.(*caddyhttp.App)
	if !ok {
		return 0, false
	}
	g := time.Duration(a.GracePeriod)
	return g, g > 0 && g < timeout
}

// secretParam reports whether a caller_auth params name holds a secret (a
// password, token or key) rather than a user name.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"pass", "pwd", "secret", "token", "key", "auth"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

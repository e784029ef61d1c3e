package caddymodule

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
)

func init() {
	httpcaddyfile.RegisterDirective("twilio_sms", parseDirective)
	httpcaddyfile.RegisterDirectiveOrder("twilio_sms", httpcaddyfile.Before, "reverse_proxy")
}

// parseDirective is RegisterHandlerDirective's wrapper with three additions:
// a mapping file given where Caddy reads a path matcher is refused with a
// hint, a relative mapping path is resolved against the Caddyfile's folder,
// and an unnamed route with its own matcher is named after it, so that
// provisioning errors and metrics say which route they mean.
func parseDirective(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	if !h.Next() {
		return nil, h.ArgErr()
	}
	matcherText := ""
	if h.NextArg() {
		tok := h.Val()
		if strings.HasPrefix(tok, "/") && isMappingFile(tok) {
			return nil, h.Errf("%s is read by Caddy as a path matcher, not a mapping file: write `mapping %s` inside the twilio_sms block", tok, tok)
		}
		if strings.HasPrefix(tok, "/") || strings.HasPrefix(tok, "@") {
			matcherText = tok
		}
	}
	h.Reset()
	h.Next()
	matcherSet, err := h.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}
	t := new(Handler)
	if err := t.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	if ref := t.Mapping.Use; ref != "" && !mapping.IsBuiltin(ref) && !filepath.IsAbs(ref) && h.File() != "" {
		t.Mapping.Use = filepath.Join(filepath.Dir(h.File()), ref)
	}
	if t.Name == "" && matcherText != "" {
		t.Name = matcherText // the directive's own path matcher tells routes apart
	}
	return h.NewRoute(matcherSet, t), nil
}

// isMappingFile reports whether a token names a mapping file by its extension.
func isMappingFile(s string) bool {
	s = strings.ToLower(s)
	return strings.HasSuffix(s, ".json") || strings.HasSuffix(s, ".jsonc") || strings.HasSuffix(s, ".hujson")
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	twilio_sms [<mapping>] {
//	    name                  <route label>
//
//	    # the mapping: the product's dialect and how it writes numbers
//	    mapping               <builtin name | path/to/mapping.json>
//	    option                <name> <value>
//	    template              <key> <text>
//	    field                 <name> <source>...
//	    default_region        <ISO region>
//	    lenient_numbers
//	    assume_numbers        international | national
//
//	    # the main account (the same words in subaccount and fallback blocks)
//	    credentials           passthrough
//	    account_sid           <AC…>
//	    auth_token            <token>
//	    api_key               <SK…> <secret>
//	    from                  <number | short code | sender id>
//	    messaging_service_sid <MG…>
//	    sender                <number> [standard|toll_free|short_code] [sms] [voice] [countries <CC>...]
//	    api_url               <url>
//	    studio_url            <url>
//	    edge                  <edge>
//	    region                <region>
//	    studio_flow_sid       <FW…>
//	    channel               sms | voice
//	    subaccount            <+prefix> { name …  account_sid …  [auth_token … | api_key … …]  [from … | messaging_service_sid … | sender …] … }
//	    fallback              <name> { account_sid …  [auth_token … | api_key … …]  [from … | …] … }
//
//	    # resilience
//	    timeout               <duration>
//	    dial_timeout          <duration>
//	    retries               <n>
//	    max_concurrent        <n>
//	    max_queue             <n>
//	    breaker               <failures> <cooldown>
//	    fallback_codes        <code>...
//	    fallback_on_5xx
//	    dedup                 <window> | off
//
//	    # delivery tracking
//	    status_callback       <public base URL>
//	    status_callback_secret <secret>
//	    status_poll           <after>
//	    receipt_hosts         <host>...
//
//	    # shared state across instances
//	    redis                 <url>
//	    redis_secret          <secret>
//	    redis_failure         local | refuse
//
//	    # guards
//	    caller_auth           header <Name> <value> | basic <user> <password> | bearer <token> |
//	                          params <name> <value>... | standard_webhooks <secret> | zitadel_signature <key>  [name <identity>]
//	    allow_countries       <CC>...
//	    deny_countries        <CC>...
//	    allow_number_types    premium_rate | shared_cost | uan | personal_number | non_geographic ...
//	    rate_limit            destination | caller  <events> <window> | off
//	    time_limit            <duration>
//	    allow_caller_status_callback
//	}
//
// A setting given twice is an error, as are unknown subdirectives.
func (t *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		t.Mapping.Use = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	once := func(name string) error {
		if seen[name] {
			return d.Errf("%s is set twice", name)
		}
		seen[name] = true
		return nil
	}
	if t.Mapping.Use != "" {
		seen["mapping"] = true
	}
	for d.NextBlock(0) {
		name := d.Val()
		if ok, err := parseAccountSetting(d, name, &t.Account, once); ok || err != nil {
			if err != nil {
				return err
			}
			continue
		}
		switch name {
		case "name", "mapping", "default_region", "assume_numbers", "credentials", "studio_flow_sid", "channel",
			"redis", "redis_secret", "redis_failure", "status_callback", "status_callback_secret":
			if err := once(name); err != nil {
				return err
			}
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			if err := t.setString(d, name, val); err != nil {
				return err
			}
		case "lenient_numbers", "fallback_on_5xx", "allow_caller_status_callback":
			if err := once(name); err != nil {
				return err
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			switch name {
			case "lenient_numbers":
				t.Mapping.LenientNumbers = true
			case "fallback_on_5xx":
				t.Resilience.FallbackOn5xx = true
			default:
				t.Guard.AllowCallerStatusCallback = true
			}
		case "timeout", "dial_timeout", "time_limit", "status_poll":
			if err := once(name); err != nil {
				return err
			}
			dur, err := durationArg(d, name)
			if err != nil {
				return err
			}
			switch name {
			case "timeout":
				t.Resilience.Timeout = dur
			case "dial_timeout":
				t.Resilience.DialTimeout = dur
			case "status_poll":
				t.Delivery.StatusPoll = dur
			default:
				t.Guard.TimeLimit = dur
			}
		case "option", "template":
			var key, val string
			if !d.AllArgs(&key, &val) {
				return d.ArgErr()
			}
			if err := once(name + " " + key); err != nil {
				return err
			}
			m := &t.Mapping.Option
			if name == "template" {
				m = &t.Mapping.Template
			}
			if *m == nil {
				*m = map[string]string{}
			}
			(*m)[key] = val
		case "field":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return d.ArgErr()
			}
			if err := once("field " + args[0]); err != nil {
				return err
			}
			for _, s := range args[1:] {
				if s != "body" && !strings.Contains(s, ":") {
					return d.Errf("field %s: source %q must be kind:arg (form:, query:, param:, json:, xml:, header:, path:, basic:, any:) or body", args[0], s)
				}
			}
			if t.Mapping.Field == nil {
				t.Mapping.Field = map[string][]string{}
			}
			t.Mapping.Field[args[0]] = args[1:]
		case "subaccount":
			var prefix string
			if !d.Args(&prefix) || d.NextArg() {
				return d.ArgErr()
			}
			if err := once("subaccount " + prefix); err != nil {
				return err
			}
			sc := SubaccountConfig{Prefix: prefix}
			if err := parseAccountBlock(d, &sc.AccountConfig); err != nil {
				return err
			}
			t.Subaccount = append(t.Subaccount, sc)
		case "fallback":
			var label string
			if !d.Args(&label) || d.NextArg() {
				return d.ArgErr()
			}
			if err := once("fallback " + label); err != nil {
				return err
			}
			ac := AccountConfig{Name: label}
			if err := parseAccountBlock(d, &ac); err != nil {
				return err
			}
			t.Fallback = append(t.Fallback, ac)
		case "fallback_codes":
			if err := once(name); err != nil {
				return err
			}
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, a := range args {
				code, err := strconv.Atoi(a)
				if err != nil || code < 10000 || code > 99999 {
					return d.Errf("fallback_codes: %q is not a Twilio error code", a)
				}
				t.Resilience.FallbackCodes = append(t.Resilience.FallbackCodes, code)
			}
		case "retries", "max_concurrent", "max_queue":
			if err := once(name); err != nil {
				return err
			}
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 || n > 100000 {
				return d.Errf("%s must be a non-negative integer", name)
			}
			switch name {
			case "retries":
				t.Resilience.Retries = &n
			case "max_concurrent":
				if n == 0 {
					return d.Errf("max_concurrent must be at least 1")
				}
				t.Resilience.MaxConcurrent = n
			default:
				t.Resilience.MaxQueue = &n
			}
		case "breaker":
			if err := once(name); err != nil {
				return err
			}
			var failures, cooldown string
			if !d.AllArgs(&failures, &cooldown) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(failures)
			if err != nil || n < 1 {
				return d.Errf("breaker: failures must be a positive integer")
			}
			dur, err := caddy.ParseDuration(cooldown)
			if err != nil || dur <= 0 {
				return d.Errf("breaker: cooldown must be a positive duration")
			}
			t.Resilience.Breaker = &BreakerConfig{Failures: n, Cooldown: caddy.Duration(dur)}
		case "dedup":
			if err := once(name); err != nil {
				return err
			}
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			if val == "off" {
				t.Dedup.Off = true
				continue
			}
			dur, err := caddy.ParseDuration(val)
			if err != nil || dur <= 0 {
				return d.Errf("dedup: want a positive window (e.g. 2m) or off")
			}
			t.Dedup.Window = caddy.Duration(dur)
		case "caller_auth":
			c, err := parseCallerAuth(d)
			if err != nil {
				return err
			}
			t.Guard.CallerAuth = append(t.Guard.CallerAuth, c)
		case "allow_countries", "deny_countries", "allow_number_types", "receipt_hosts":
			if err := once(name); err != nil {
				return err
			}
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			switch name {
			case "allow_countries":
				t.Guard.AllowCountries = args
			case "deny_countries":
				t.Guard.DenyCountries = args
			case "receipt_hosts":
				t.Delivery.ReceiptHosts = args
			default:
				t.Guard.AllowNumberTypes = args
			}
		case "rate_limit":
			args := d.RemainingArgs()
			if len(args) < 2 || len(args) > 3 {
				return d.ArgErr()
			}
			key := args[0]
			if err := once("rate_limit " + key); err != nil {
				return err
			}
			if key != "destination" && key != "caller" {
				return d.Errf("rate_limit: key must be destination or caller, not %q", key)
			}
			if len(args) == 2 {
				if args[1] != "off" {
					return d.Errf("rate_limit %s: want <events> <window>, or off", key)
				}
				t.Guard.RateLimit = append(t.Guard.RateLimit, RateLimitConfig{Key: key, Off: true})
				continue
			}
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 1 {
				return d.Errf("rate_limit: events must be a positive integer")
			}
			dur, err := caddy.ParseDuration(args[2])
			if err != nil || dur <= 0 {
				return d.Errf("rate_limit: window must be a positive duration")
			}
			t.Guard.RateLimit = append(t.Guard.RateLimit, RateLimitConfig{Key: key, Events: n, Window: caddy.Duration(dur)})
		default:
			return d.Errf("unrecognized twilio_sms subdirective %q", name)
		}
	}
	return nil
}

// parseCallerAuth reads `caller_auth <type> <arguments…> [name <identity>]`.
func parseCallerAuth(d *caddyfile.Dispenser) (CallerCredential, error) {
	args := d.RemainingArgs()
	var c CallerCredential
	if n := len(args); n >= 3 && args[n-2] == "name" {
		c.Name, args = args[n-1], args[:n-2]
	}
	if len(args) == 0 {
		return c, d.ArgErr()
	}
	c.Type = args[0]
	want := map[string]int{"header": 3, "basic": 3, "bearer": 2, "standard_webhooks": 2, "zitadel_signature": 2}
	switch n, ok := want[c.Type]; {
	case c.Type == "params":
		if len(args) < 3 || len(args)%2 == 0 {
			return c, d.Errf("caller_auth params: want <name> <value> pairs")
		}
		c.Params = map[string]string{}
		for i := 1; i < len(args); i += 2 {
			if _, dup := c.Params[args[i]]; dup {
				return c, d.Errf("caller_auth params: parameter %q is given twice", args[i])
			}
			c.Params[args[i]] = args[i+1]
		}
		return c, nil
	case !ok:
		return c, d.Errf("caller_auth: type must be header, basic, bearer, params, standard_webhooks or zitadel_signature, not %q", c.Type)
	case len(args) != n:
		return c, d.ArgErr()
	}
	switch c.Type {
	case "header":
		c.Header, c.Value = args[1], args[2]
	case "basic":
		c.Username, c.Password = args[1], args[2]
	case "bearer":
		c.Value = args[1]
	default:
		c.Secret = args[1]
	}
	return c, nil
}

// setString sets one single-argument top-level setting.
func (t *Handler) setString(d *caddyfile.Dispenser, name, val string) error {
	switch name {
	case "name":
		t.Name = val
	case "mapping":
		t.Mapping.Use = val
	case "default_region":
		t.Mapping.DefaultRegion = val
	case "assume_numbers":
		if val != "international" && val != "national" {
			return d.Errf("assume_numbers must be international or national, not %q", val)
		}
		t.Mapping.AssumeNumbers = val
	case "credentials":
		if val != CredentialsPassthrough {
			return d.Errf("credentials takes only passthrough (stored credentials are inferred from auth_token or api_key), not %q", val)
		}
		t.Credentials = val
	case "studio_flow_sid":
		t.StudioFlowSID = val
	case "status_callback":
		t.Delivery.StatusCallback = val
	case "status_callback_secret":
		t.Delivery.StatusCallbackSecret = val
	case "redis":
		t.Shared.Redis = val
	case "redis_secret":
		t.Shared.RedisSecret = val
	case "redis_failure":
		if val != "local" && val != "refuse" {
			return d.Errf("redis_failure must be local or refuse, not %q", val)
		}
		t.Shared.RedisFailure = val
	case "channel":
		t.Channel = val
	}
	return nil
}

func durationArg(d *caddyfile.Dispenser, name string) (caddy.Duration, error) {
	var val string
	if !d.AllArgs(&val) {
		return 0, d.ArgErr()
	}
	dur, err := caddy.ParseDuration(val)
	if err != nil {
		return 0, d.Errf("%s: %v", name, err)
	}
	if dur <= 0 {
		return 0, d.Errf("%s must be positive", name)
	}
	return caddy.Duration(dur), nil
}

// parseAccountSetting reads one account word (the same at the top of the
// block, for the main account, and inside subaccount and fallback blocks).
// It reports whether name was an account word.
func parseAccountSetting(d *caddyfile.Dispenser, name string, a *AccountConfig, once func(string) error) (bool, error) {
	switch name {
	case "account_sid", "auth_token", "from", "messaging_service_sid", "api_url", "studio_url", "edge", "region":
		if err := once(name); err != nil {
			return true, err
		}
		var val string
		if !d.AllArgs(&val) {
			return true, d.ArgErr()
		}
		*a.stringSetting(name) = val
	case "api_key":
		if err := once(name); err != nil {
			return true, err
		}
		k := &APIKeyConfig{}
		if !d.AllArgs(&k.SID, &k.Secret) {
			return true, d.ArgErr()
		}
		a.APIKey = k
	case "sender":
		s, err := parseSender(d)
		if err != nil {
			return true, err
		}
		a.Sender = append(a.Sender, s)
	default:
		return false, nil
	}
	return true, nil
}

// parseSender reads `sender <number> [standard|toll_free|short_code] [sms] [voice] [countries <CC>...]`.
func parseSender(d *caddyfile.Dispenser) (SenderConfig, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return SenderConfig{}, d.ArgErr()
	}
	s := SenderConfig{Number: args[0]}
	for i := 1; i < len(args); i++ {
		switch a := args[i]; a {
		case "standard", "toll_free", "short_code":
			if s.Type != "" {
				return s, d.Errf("sender %s: type given twice", s.Number)
			}
			s.Type = a
		case "sms", "voice":
			s.Channels = append(s.Channels, a)
		case "countries":
			if i == len(args)-1 {
				return s, d.Errf("sender %s: countries needs at least one region", s.Number)
			}
			s.Countries = args[i+1:]
			i = len(args)
		default:
			return s, d.Errf("sender %s: unexpected %q (type standard|toll_free|short_code, channels sms|voice, countries <CC>...)", s.Number, a)
		}
	}
	return s, nil
}

// parseAccountBlock reads the block of a subaccount or fallback account.
func parseAccountBlock(d *caddyfile.Dispenser, a *AccountConfig) error {
	seen := map[string]bool{}
	once := func(name string) error {
		if seen[name] {
			return d.Errf("%s is set twice", name)
		}
		seen[name] = true
		return nil
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if name == "name" {
			if err := once(name); err != nil {
				return err
			}
			if !d.AllArgs(&a.Name) {
				return d.ArgErr()
			}
			continue
		}
		ok, err := parseAccountSetting(d, name, a, once)
		if err != nil {
			return err
		}
		if !ok {
			return d.Errf("unrecognized account subdirective %q", name)
		}
	}
	if a.Name == "" {
		return d.Err("the account needs a name")
	}
	if a.AccountSID == "" {
		return d.Errf("account %s needs an account_sid", a.Name)
	}
	return nil
}

func (a *AccountConfig) stringSetting(name string) *string {
	switch name {
	case "account_sid":
		return &a.AccountSID
	case "auth_token":
		return &a.AuthToken
	case "from":
		return &a.From
	case "messaging_service_sid":
		return &a.MessagingServiceSID
	case "api_url":
		return &a.APIURL
	case "studio_url":
		return &a.StudioURL
	case "edge":
		return &a.Edge
	case "region":
		return &a.Region
	}
	panic("twilio_sms: no account setting " + name)
}

var _ caddyfile.Unmarshaler = (*Handler)(nil)

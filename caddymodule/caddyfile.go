package caddymodule

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("twilio_sms", parseHandler)
	httpcaddyfile.RegisterDirectiveOrder("twilio_sms", httpcaddyfile.Before, "reverse_proxy")
}

func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	t := new(Handler)
	err := t.UnmarshalCaddyfile(h.Dispenser)
	return t, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	twilio_sms [<mapping>] {
//	    mapping               <builtin name | path/to/mapping.json>
//	    credentials           stored | api_key | passthrough
//	    account_sid           <AC…>
//	    auth_token            <token>
//	    api_key               <SK…> <secret>
//	    from                  <number | short code | sender id>
//	    messaging_service_sid <MG…>
//	    studio_flow_sid       <FW…>
//	    channel               sms | voice
//	    api_url               <url>
//	    studio_url            <url>
//	    timeout               <duration>
//	    dial_timeout          <duration>
//	    default_region        <ISO region>
//	    lenient_numbers
//	    assume_numbers        international | national
//	    option                <name> <value>
//	    template              <key> <text>
//	    field                 <name> <source> [<source>...]
//	    name                  <route label>
//	    edge                  <edge>          # with region: api.{edge}.{region}.twilio.com
//	    region                <region>
//	    sender                <number> [standard|toll_free|short_code] [sms] [voice] [countries <CC>...]
//	    subaccount            <+prefix> { name, account_sid, auth_token | api_key, from | messaging_service_sid | sender..., api_url, studio_url, edge, region }
//	    fallback              <name> { account_sid, auth_token | api_key, from | messaging_service_sid | sender..., api_url, studio_url, edge, region }
//	    fallback_codes        <code>...
//	    fallback_on_5xx       # opt-in: a 5xx may come after Twilio created the message
//	    retries               <n>
//	    max_concurrent        <n>
//	    max_queue             <n>
//	    breaker               <failures> <cooldown>
//	    dedup_window          <duration>
//	    no_dedup
//	    caller_auth           header <Name> <value> | basic <user> <password>  [name <identity>]
//	    allow_countries       <CC>...
//	    deny_countries        <CC>...
//	    allow_number_types    premium_rate | shared_cost | uan | personal_number | non_geographic ...
//	    rate_limit            destination|caller <events> <window> | off
//	    time_limit            <duration>      # calls; default 120s
//	    allow_caller_status_callback
//	}
//
// A setting given twice is an error, as are unknown subdirectives.
func (t *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		t.Mapping = d.Val()
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
	if t.Mapping != "" {
		seen["mapping"] = true
	}
	for d.NextBlock(0) {
		name := d.Val()
		switch name {
		case "mapping", "credentials", "account_sid", "auth_token", "from", "messaging_service_sid",
			"studio_flow_sid", "channel", "api_url", "studio_url", "default_region":
			if err := once(name); err != nil {
				return err
			}
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			*t.stringSetting(name) = val
		case "api_key":
			if err := once(name); err != nil {
				return err
			}
			if !d.AllArgs(&t.APIKeySID, &t.APIKeySecret) {
				return d.ArgErr()
			}
			if t.Credentials == "" {
				t.Credentials = CredentialsAPIKey
			}
		case "timeout", "dial_timeout", "time_limit":
			if err := once(name); err != nil {
				return err
			}
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(val)
			if err != nil {
				return d.Errf("%s: %v", name, err)
			}
			if dur <= 0 {
				return d.Errf("%s must be positive", name)
			}
			switch name {
			case "timeout":
				t.Timeout = caddy.Duration(dur)
			case "time_limit":
				t.TimeLimit = caddy.Duration(dur)
			default:
				t.DialTimeout = caddy.Duration(dur)
			}
		case "option", "template":
			var key, val string
			if !d.AllArgs(&key, &val) {
				return d.ArgErr()
			}
			if err := once(name + " " + key); err != nil {
				return err
			}
			if name == "option" {
				if t.Options == nil {
					t.Options = map[string]string{}
				}
				t.Options[key] = val
			} else {
				if t.Templates == nil {
					t.Templates = map[string]string{}
				}
				t.Templates[key] = val
			}
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
			if t.Fields == nil {
				t.Fields = map[string][]string{}
			}
			t.Fields[args[0]] = args[1:]
		case "name", "edge", "region":
			if err := once(name); err != nil {
				return err
			}
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			switch name {
			case "name":
				t.Name = val
			case "edge":
				t.Edge = val
			default:
				t.Region = val
			}
		case "sender":
			s, err := parseSender(d)
			if err != nil {
				return err
			}
			t.Senders = append(t.Senders, s)
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
			t.Subaccounts = append(t.Subaccounts, sc)
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
				t.FallbackCodes = append(t.FallbackCodes, code)
			}
		case "fallback_on_5xx", "no_dedup", "allow_caller_status_callback", "lenient_numbers":
			if err := once(name); err != nil {
				return err
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			switch name {
			case "no_dedup":
				t.DisableDedup = true
			case "fallback_on_5xx":
				t.FallbackOn5xx = true
			case "lenient_numbers":
				t.LenientNumbers = true
			default:
				t.AllowCallerStatusCallback = true
			}
		case "assume_numbers":
			if err := once(name); err != nil {
				return err
			}
			if !d.AllArgs(&t.AssumeNumbers) {
				return d.ArgErr()
			}
			if t.AssumeNumbers != "international" && t.AssumeNumbers != "national" {
				return d.Errf("assume_numbers must be international or national, not %q", t.AssumeNumbers)
			}
		case "allow_number_types":
			if err := once(name); err != nil {
				return err
			}
			t.AllowNumberTypes = d.RemainingArgs()
			if len(t.AllowNumberTypes) == 0 {
				return d.ArgErr()
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
				t.Retries = &n
			case "max_concurrent":
				if n == 0 {
					return d.Errf("max_concurrent must be at least 1")
				}
				t.MaxConcurrent = n
			default:
				t.MaxQueue = &n
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
			t.BreakerFailures, t.BreakerCooldown = n, caddy.Duration(dur)
		case "dedup_window":
			if err := once(name); err != nil {
				return err
			}
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(val)
			if err != nil || dur <= 0 {
				return d.Errf("dedup_window must be a positive duration (use no_dedup to turn it off)")
			}
			t.DedupWindow = caddy.Duration(dur)
		case "caller_auth":
			args := d.RemainingArgs()
			var id string
			if n := len(args); n == 5 && args[3] == "name" {
				id, args = args[4], args[:3]
			}
			if len(args) != 3 {
				return d.ArgErr()
			}
			switch args[0] {
			case "header":
				t.CallerAuth = append(t.CallerAuth, CallerCredential{Type: "header", Header: args[1], Value: args[2], Name: id})
			case "basic":
				t.CallerAuth = append(t.CallerAuth, CallerCredential{Type: "basic", Username: args[1], Password: args[2], Name: id})
			default:
				return d.Errf("caller_auth: type must be header or basic, not %q", args[0])
			}
		case "allow_countries", "deny_countries":
			if err := once(name); err != nil {
				return err
			}
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			if name == "allow_countries" {
				t.AllowCountries = args
			} else {
				t.DenyCountries = args
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
				t.RateLimits = append(t.RateLimits, RateLimitConfig{Key: key, Off: true})
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
			t.RateLimits = append(t.RateLimits, RateLimitConfig{Key: key, Events: n, Window: caddy.Duration(dur)})
		default:
			return d.Errf("unrecognized twilio_sms subdirective %q", name)
		}
	}
	return nil
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
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if name != "sender" {
			if seen[name] {
				return d.Errf("%s is set twice", name)
			}
			seen[name] = true
		}
		switch name {
		case "name", "account_sid", "auth_token", "from", "messaging_service_sid", "api_url", "studio_url", "edge", "region":
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			*a.stringSetting(name) = val
		case "api_key":
			if !d.AllArgs(&a.APIKeySID, &a.APIKeySecret) {
				return d.ArgErr()
			}
		case "sender":
			s, err := parseSender(d)
			if err != nil {
				return err
			}
			a.Senders = append(a.Senders, s)
		default:
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
	case "name":
		return &a.Name
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

func (t *Handler) stringSetting(name string) *string {
	switch name {
	case "mapping":
		return &t.Mapping
	case "credentials":
		return &t.Credentials
	case "account_sid":
		return &t.AccountSID
	case "auth_token":
		return &t.AuthToken
	case "from":
		return &t.From
	case "messaging_service_sid":
		return &t.MessagingServiceSID
	case "studio_flow_sid":
		return &t.StudioFlowSID
	case "channel":
		return &t.Channel
	case "api_url":
		return &t.APIURL
	case "studio_url":
		return &t.StudioURL
	case "default_region":
		return &t.DefaultRegion
	}
	panic("twilio_sms: no string setting " + name)
}

var _ caddyfile.Unmarshaler = (*Handler)(nil)

package caddymodule

import (
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
//	    option                <name> <value>
//	    template              <key> <text>
//	    field                 <name> <source> [<source>...]
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
		case "timeout", "dial_timeout":
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
			if name == "timeout" {
				t.Timeout = caddy.Duration(dur)
			} else {
				t.DialTimeout = caddy.Duration(dur)
			}
		case "lenient_numbers":
			if err := once(name); err != nil {
				return err
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			t.LenientNumbers = true
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
		default:
			return d.Errf("unrecognized twilio_sms subdirective %q", name)
		}
	}
	return nil
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

package caddymodule

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

func init() {
	caddy.RegisterModule(Simulator{})
	httpcaddyfile.RegisterHandlerDirective("twilio_simulator", parseSimulator)
	httpcaddyfile.RegisterDirectiveOrder("twilio_simulator", httpcaddyfile.Before, "reverse_proxy")
}

// Simulator serves an offline Twilio (Messages, Calls, Studio Executions) for the
// quick start and the tests. It is a terminal handler and exists only where a
// config names it: the adapter never falls back to it. Its /_simulator/ control
// endpoints are unauthenticated, so bind it to loopback. Its settings use the
// twilio_sms handler's words, in the handler's order.
type Simulator struct {
	// Account lists the accounts the simulator knows; any other credentials
	// get 401 / 20003.
	Account []SimulatorAccount `json:"account,omitempty"`
	// MaxConcurrent caps in-flight requests per account (429 / 20429 beyond); 0 = no cap.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// Latency is added to every answer, for realistic load tests.
	Latency caddy.Duration `json:"latency,omitempty"`
	// MaxRecords bounds the in-memory request log (default 10000).
	MaxRecords int `json:"max_records,omitempty"`

	sim *simulator.Simulator
}

// SimulatorAccount is one simulated Twilio account or subaccount (Caddyfile:
// `account <AC…> [<auth_token>] [{ auth_token … api_key … sender … flow … parent … }]`).
type SimulatorAccount struct {
	// AccountSID (AC…) and AuthToken, as on the handler.
	AccountSID string `json:"account_sid"`
	AuthToken  string `json:"auth_token"`
	// APIKey lists the account's API keys (SK… and secret), as on the handler.
	APIKey []APIKeyConfig `json:"api_key,omitempty"`
	// Sender, when set, lists the only From values the account owns.
	Sender []string `json:"sender,omitempty"`
	// Flow, when set, lists the Studio flows (FW…) only this account may
	// execute (not even its parent, as on Twilio).
	Flow []string `json:"flow,omitempty"`
	// Parent is the parent account's SID for a subaccount.
	Parent string `json:"parent,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Simulator) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.twilio_simulator",
		New: func() caddy.Module { return new(Simulator) },
	}
}

// Provision builds the simulator.
func (s *Simulator) Provision(caddy.Context) error {
	cfg := simulator.Config{MaxConcurrent: s.MaxConcurrent, Latency: time.Duration(s.Latency), MaxRecords: s.MaxRecords}
	repl := caddy.NewReplacer()
	for i, a := range s.Account {
		if !accountSIDRE.MatchString(a.AccountSID) || a.AuthToken == "" {
			return fmt.Errorf("twilio_simulator: account[%d]: account_sid must be AC + 32 hex digits and auth_token must be set", i)
		}
		keys := make(map[string]string, len(a.APIKey))
		for _, k := range a.APIKey {
			keys[k.SID] = repl.ReplaceKnown(k.Secret, "")
		}
		cfg.Accounts = append(cfg.Accounts, simulator.Account{
			SID: a.AccountSID, AuthToken: repl.ReplaceKnown(a.AuthToken, ""), Parent: a.Parent, APIKeys: keys, Senders: a.Sender, Flows: a.Flow,
		})
	}
	s.sim = simulator.New(cfg)
	return nil
}

// Cleanup stops the simulator's pending status callbacks, so that none
// outlives a reload.
func (s *Simulator) Cleanup() error {
	if s.sim != nil {
		s.sim.Close()
	}
	return nil
}

// ServeHTTP answers as Twilio would.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	s.sim.ServeHTTP(w, r)
	return nil
}

func parseSimulator(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	s := new(Simulator)
	err := s.UnmarshalCaddyfile(h.Dispenser)
	return s, err
}

// UnmarshalCaddyfile sets up the simulator, in the twilio_sms handler's words:
//
//	twilio_simulator {
//	    account <AC…> [<auth_token>] [{
//	        auth_token <token>
//	        api_key    <SK…> <secret>
//	        sender     <number>...
//	        flow       <FW…>...
//	        parent     <AC…>
//	    }]
//	    max_concurrent <n>
//	    latency        <duration>
//	    max_records    <n>
//	}
func (s *Simulator) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		switch name {
		case "account":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.ArgErr()
			}
			if seen["account "+args[0]] {
				return d.Errf("account %s is declared twice", args[0])
			}
			seen["account "+args[0]] = true
			a := SimulatorAccount{AccountSID: args[0]}
			if len(args) == 2 {
				a.AuthToken = args[1]
			}
			if err := parseSimulatorAccount(d, &a); err != nil {
				return err
			}
			if a.AuthToken == "" {
				return d.Errf("account %s needs an auth_token", a.AccountSID)
			}
			s.Account = append(s.Account, a)
		case "max_concurrent", "max_records":
			if seen[name] {
				return d.Errf("%s is set twice", name)
			}
			seen[name] = true
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return d.Errf("%s must be a non-negative integer", name)
			}
			if name == "max_concurrent" {
				s.MaxConcurrent = n
			} else {
				s.MaxRecords = n
			}
		case "latency":
			if seen[name] {
				return d.Errf("%s is set twice", name)
			}
			seen[name] = true
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(val)
			if err != nil {
				return d.Errf("latency: %v", err)
			}
			s.Latency = caddy.Duration(dur)
		default:
			return d.Errf("unrecognized twilio_simulator subdirective %q", name)
		}
	}
	return nil
}

// parseSimulatorAccount reads an account's block.
func parseSimulatorAccount(d *caddyfile.Dispenser, a *SimulatorAccount) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch word := d.Val(); word {
		case "auth_token", "parent":
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			if word == "parent" {
				a.Parent = val
			} else {
				if a.AuthToken != "" {
					return d.Errf("account %s: auth_token is set twice", a.AccountSID)
				}
				a.AuthToken = val
			}
		case "api_key":
			var k APIKeyConfig
			if !d.AllArgs(&k.SID, &k.Secret) {
				return d.ArgErr()
			}
			a.APIKey = append(a.APIKey, k)
		case "sender", "flow":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			if word == "sender" {
				a.Sender = append(a.Sender, args...)
			} else {
				a.Flow = append(a.Flow, args...)
			}
		default:
			return d.Errf("unrecognized twilio_simulator account subdirective %q", word)
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Simulator)(nil)
	_ caddy.CleanerUpper          = (*Simulator)(nil)
	_ caddyhttp.MiddlewareHandler = (*Simulator)(nil)
	_ caddyfile.Unmarshaler       = (*Simulator)(nil)
)

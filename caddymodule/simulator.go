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
// endpoints are unauthenticated, so bind it to loopback.
type Simulator struct {
	// Accounts the simulator knows; any other credentials get 401 / 20003.
	Accounts []SimulatorAccount `json:"accounts,omitempty"`
	// MaxConcurrent caps in-flight requests per account (429 / 20429 beyond); 0 = no cap.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// Latency is added to every answer, for realistic load tests.
	Latency caddy.Duration `json:"latency,omitempty"`
	// MaxRecords bounds the in-memory request log (default 10000).
	MaxRecords int `json:"max_records,omitempty"`

	sim *simulator.Simulator
}

// SimulatorAccount is one simulated Twilio account or subaccount.
type SimulatorAccount struct {
	// SID (AC…) and AuthToken.
	SID       string `json:"sid"`
	AuthToken string `json:"auth_token"`
	// Parent is the parent account's SID for a subaccount.
	Parent string `json:"parent,omitempty"`
	// APIKeys maps SK… key SIDs to secrets.
	APIKeys map[string]string `json:"api_keys,omitempty"`
	// Senders, when set, are the only From values the account owns.
	Senders []string `json:"senders,omitempty"`
	// Flows, when set, are Studio flows (FW…) only this account may execute
	// (not even its parent, as on Twilio).
	Flows []string `json:"flows,omitempty"`
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
	for i, a := range s.Accounts {
		if !accountSIDRE.MatchString(a.SID) || a.AuthToken == "" {
			return fmt.Errorf("twilio_simulator: accounts[%d]: sid must be AC + 32 hex digits and auth_token must be set", i)
		}
		keys := make(map[string]string, len(a.APIKeys))
		for k, v := range a.APIKeys {
			keys[k] = repl.ReplaceKnown(v, "")
		}
		cfg.Accounts = append(cfg.Accounts, simulator.Account{
			SID: a.SID, AuthToken: repl.ReplaceKnown(a.AuthToken, ""), Parent: a.Parent, APIKeys: keys, Senders: a.Senders, Flows: a.Flows,
		})
	}
	s.sim = simulator.New(cfg)
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

// UnmarshalCaddyfile sets up the simulator:
//
//	twilio_simulator {
//	    account        <AC…> <token> [parent <AC…>]
//	    api_key        <AC…> <SK…> <secret>
//	    sender         <AC…> <number>...
//	    flow           <AC…> <FW…>...
//	    max_concurrent <n>
//	    latency        <duration>
//	    max_records    <n>
//	}
func (s *Simulator) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	find := func(sid string) *SimulatorAccount {
		for i := range s.Accounts {
			if s.Accounts[i].SID == sid {
				return &s.Accounts[i]
			}
		}
		return nil
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "account":
			args := d.RemainingArgs()
			if len(args) != 2 && !(len(args) == 4 && args[2] == "parent") {
				return d.ArgErr()
			}
			if find(args[0]) != nil {
				return d.Errf("account %s is declared twice", args[0])
			}
			a := SimulatorAccount{SID: args[0], AuthToken: args[1]}
			if len(args) == 4 {
				a.Parent = args[3]
			}
			s.Accounts = append(s.Accounts, a)
		case "api_key":
			var sid, key, secret string
			if !d.AllArgs(&sid, &key, &secret) {
				return d.ArgErr()
			}
			a := find(sid)
			if a == nil {
				return d.Errf("api_key: declare account %s first", sid)
			}
			if a.APIKeys == nil {
				a.APIKeys = map[string]string{}
			}
			a.APIKeys[key] = secret
		case "sender":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return d.ArgErr()
			}
			a := find(args[0])
			if a == nil {
				return d.Errf("sender: declare account %s first", args[0])
			}
			a.Senders = append(a.Senders, args[1:]...)
		case "flow":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return d.ArgErr()
			}
			a := find(args[0])
			if a == nil {
				return d.Errf("flow: declare account %s first", args[0])
			}
			a.Flows = append(a.Flows, args[1:]...)
		case "max_concurrent", "max_records":
			name := d.Val()
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
			return d.Errf("unrecognized twilio_simulator subdirective %q", d.Val())
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Simulator)(nil)
	_ caddyhttp.MiddlewareHandler = (*Simulator)(nil)
	_ caddyfile.Unmarshaler       = (*Simulator)(nil)
)

package gateway

// Test helpers: a simulated Twilio tenant, gateways built the way the Caddy
// glue builds them (caddymodule Provision and buildGuards), and a recording
// Observer. Everything runs in process: Gateway.Serve is called directly.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dedup"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/ratelimit"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twiliotest"
)

// Destinations used across the tests: valid numbers of known regions and
// kinds (see internal/phone's kind tests).
const (
	toUS       = "+14155552671"  // US, fixed line or mobile
	toUS2      = "+14155552672"  // US
	toGB       = "+447400123456" // GB mobile
	toIN       = "+919876543210" // IN mobile
	toPremium  = "+449098765432" // GB premium rate
	toFreeIntl = "+80012345678"  // international freephone: non-geographic, no region
	toMagic    = "+15005550006"  // Twilio's magic test number, a NANP personal number
	fromMain   = "+15005550006"  // the simulator's magic valid From
	fromBackup = "+14155550100"
	clientIP   = "192.0.2.10"
)

// sid returns prefix and n as 32 hex digits.
func sid(prefix string, n int) string { return fmt.Sprintf("%s%032x", prefix, n) }

// tenant is a simulated Twilio: a main account with an India subaccount and
// an unrelated backup account, behind Twilio's OpenAPI contract check when
// the specs are present.
type tenant struct {
	url                 string
	sim                 *simulator.Simulator
	main, india, backup dispatch.Account
}

func newTenant(t testing.TB, cfg simulator.Config) *tenant {
	t.Helper()
	main := dispatch.Account{Name: "main", AccountSID: sid("AC", 1), Username: sid("AC", 1), Password: "main-token-0123456789",
		Senders: []dispatch.Sender{{Number: fromMain, Type: dispatch.Standard, SMS: true, Voice: true}}}
	india := dispatch.Account{Name: "india", AccountSID: sid("AC", 2), Username: main.Username, Password: main.Password,
		Senders: []dispatch.Sender{{Number: fromMain, Type: dispatch.Standard, SMS: true, Voice: true}}}
	backup := dispatch.Account{Name: "backup", AccountSID: sid("AC", 3), Username: sid("AC", 3), Password: "backup-token-0123456789",
		Senders: []dispatch.Sender{{Number: fromBackup, Type: dispatch.Standard, SMS: true, Voice: true}}}
	cfg.Accounts = []simulator.Account{
		{SID: main.AccountSID, AuthToken: main.Password},
		{SID: india.AccountSID, AuthToken: "india-own-token-0123", Parent: main.AccountSID},
		{SID: backup.AccountSID, AuthToken: backup.Password},
	}
	srv, sim, _ := twiliotest.NewServer(t, cfg)
	for _, a := range []*dispatch.Account{&main, &india, &backup} {
		a.APIBase, a.StudioBase = srv.URL, srv.URL
	}
	return &tenant{url: srv.URL, sim: sim, main: main, india: india, backup: backup}
}

// settle waits until the simulator has answered every request it got.
func (tn *tenant) settle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		st := tn.sim.Stats()
		if st.Requests == st.Accepted+st.Rejected {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("the simulator did not settle")
}

// records are the Twilio API requests the simulator got, once settled.
func (tn *tenant) records(t testing.TB) []simulator.Record {
	t.Helper()
	tn.settle(t)
	var out []simulator.Record
	for _, r := range tn.sim.Records() {
		if r.API != "" {
			out = append(out, r)
		}
	}
	return out
}

// accepted counts the resources the simulator created.
func (tn *tenant) accepted(t testing.TB) int {
	n := 0
	for _, r := range tn.records(t) {
		if r.Accepted {
			n++
		}
	}
	return n
}

// compiled caches the compiled built-in mappings (compiling is slow under -race).
var compiled sync.Map // name -> *mapping.Mapping

// builtin loads and compiles a built-in mapping as a route with default
// settings does: strict phone numbers, no default region.
func builtin(t testing.TB, name string) *mapping.Mapping {
	t.Helper()
	if m, ok := compiled.Load(name); ok {
		return m.(*mapping.Mapping)
	}
	spec, file, err := mapping.Load(name)
	if err != nil {
		t.Fatalf("loading mapping %s: %v", name, err)
	}
	m, err := mapping.Compile(spec, file, mapping.Config{Phone: phone.Normalizer{}})
	if err != nil {
		t.Fatalf("compiling mapping %s: %v", name, err)
	}
	compiled.Store(name, m)
	return m
}

// custom compiles a mapping given as HuJSON text.
func custom(t testing.TB, text string) *mapping.Mapping {
	t.Helper()
	spec, err := mapping.Parse("test.json", []byte(text))
	if err != nil {
		t.Fatalf("parsing the test mapping: %v", err)
	}
	m, err := mapping.Compile(spec, "test.json", mapping.Config{Phone: phone.Normalizer{}})
	if err != nil {
		t.Fatalf("compiling the test mapping: %v", err)
	}
	return m
}

// newGateway is a route on tn's main account with the generic mapping, no
// caller credentials, no rate limits and no dedup, the default destination
// rules, a 5 s budget and a 120 s call limit. mods change it before use.
func newGateway(t testing.TB, tn *tenant, mods ...func(*Gateway)) (*Gateway, *recorder) {
	t.Helper()
	router, err := dispatch.NewRouter(tn.main, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	obs := &recorder{}
	g := &Gateway{
		Name:        "test-route",
		Mapping:     builtin(t, "generic"),
		Route:       mapping.Route{Channel: "sms", Account: "main", AccountSID: tn.main.AccountSID, From: fromMain},
		Credentials: Stored{AccountSID: tn.main.AccountSID},
		Router:      router,
		Dispatcher: &dispatch.Dispatcher{Client: twilio.NewClient(twilio.ClientOptions{}), Policy: dispatch.DefaultPolicy(),
			State: dispatch.NewState(dispatch.StateConfig{}), KeepReplyBody: true},
		Destinations: Destinations{AllowKinds: map[string]bool{}},
		Timeout:      5 * time.Second,
		TimeLimit:    120 * time.Second,
		Observer:     obs,
	}
	for _, m := range mods {
		m(g)
	}
	return g, obs
}

// withRouter sets the plan: main, the India subaccount for +91, then backup.
func withRouter(t testing.TB, tn *tenant) func(*Gateway) {
	return func(g *Gateway) {
		r, err := dispatch.NewRouter(tn.main, []dispatch.CountryRule{{Prefix: "+91", Account: tn.india}}, []dispatch.Account{tn.backup})
		if err != nil {
			t.Fatal(err)
		}
		g.Router = r
	}
}

// withDedup turns duplicate suppression on with a cache of max entries.
func withDedup(max int, window time.Duration) func(*Gateway) {
	return func(g *Gateway) {
		g.Dedup, g.DedupWindow = dedup.New(max), window
		g.Dedup.Register(window)
	}
}

// withLimits sets burst-1 limits that do not refill within a test (nil: none).
func withLimits(destination, caller bool) func(*Gateway) {
	return func(g *Gateway) {
		if destination {
			g.DestinationLimit = ratelimit.New(1.0/3600, 1, 0)
		}
		if caller {
			g.CallerLimit = ratelimit.New(1.0/3600, 1, 0)
		}
	}
}

// destinationSpent reports whether to's destination bucket has no token left.
func destinationSpent(g *Gateway, to string) bool {
	ok, _ := g.DestinationLimit.Peek(keyString(dedup.KeyOf("destination", to)))
	return !ok
}

// callerSpent reports whether identity's caller bucket has no token left.
func callerSpent(g *Gateway, identity string) bool {
	ok, _ := g.CallerLimit.Peek(keyString(dedup.KeyOf("caller", identity)))
	return !ok
}

// formRequest is a POST of form to path.
func formRequest(path string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// sms is the generic mapping's form.
func sms(to, message string) url.Values { return url.Values{"to": {to}, "message": {message}} }

// genericReply is the generic mapping's answer.
type genericReply struct {
	OK      bool   `json:"ok"`
	Sid     string `json:"sid"`
	Status  string `json:"status"`
	Account string `json:"account"`
	Error   *struct {
		Outcome string `json:"outcome"`
		Field   string `json:"field"`
		Code    *int   `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (g genericReply) outcome() string {
	if g.Error == nil {
		return "accepted"
	}
	return g.Error.Outcome
}

func (g genericReply) code() int {
	if g.Error == nil || g.Error.Code == nil {
		return 0
	}
	return *g.Error.Code
}

// answer is one Serve's outcome with the generic mapping's reply decoded.
type answer struct {
	*Outcome
	Body genericReply
}

func (a answer) String() string {
	if a.Reply == nil {
		return fmt.Sprintf("no reply (err %v)", a.Err)
	}
	return fmt.Sprintf("HTTP %d %s", a.Reply.Status, a.Reply.Body)
}

// serve runs r through g from clientIP and decodes the generic reply.
func serve(t testing.TB, g *Gateway, r *http.Request, mode Mode) answer {
	t.Helper()
	out := g.Serve(Inbound{Request: r, ClientIP: clientIP}, mode)
	return decode(t, out)
}

func decode(t testing.TB, out *Outcome) answer {
	t.Helper()
	if out.Err != nil {
		t.Fatalf("Serve: the mapping failed: %v", out.Err)
	}
	if out.Reply == nil || out.Result == nil {
		t.Fatalf("Serve gave no reply and no error")
	}
	a := answer{Outcome: out}
	if err := json.Unmarshal(out.Reply.Body, &a.Body); err != nil {
		t.Fatalf("the reply is not the generic mapping's JSON: %v: %s", err, out.Reply.Body)
	}
	return a
}

// recorder is an Observer that records every call as a string.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (o *recorder) add(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, fmt.Sprintf(format, args...))
}

func (o *recorder) Upstream(account, api string, status int, d time.Duration) {
	if d <= 0 {
		o.add("upstream %s %s %d nonpositive-duration", account, api, status)
		return
	}
	o.add("upstream %s %s %d", account, api, status)
}
func (o *recorder) Retry(account string)           { o.add("retry %s", account) }
func (o *recorder) Fallback(from, to string)       { o.add("fallback %s %s", from, to) }
func (o *recorder) Duplicate(route string)         { o.add("duplicate %s", route) }
func (o *recorder) RateLimited(route, kind string) { o.add("rate_limited %s %s", route, kind) }
func (o *recorder) Blocked(route, kind string)     { o.add("blocked %s %s", route, kind) }
func (o *recorder) SharedStateFailed(route, op string, warn bool) {
	o.add("shared_state_failed %s %s", route, op)
}
func (o *recorder) DedupFull(route string) { o.add("dedup_full %s", route) }
func (o *recorder) AccountState(account, breaker string, inFlight, waiting int) {
	o.add("state %s %s", account, breaker)
}

// list returns the events, without AccountState ones unless all.
func (o *recorder) list(all bool) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, e := range o.events {
		if all || !strings.HasPrefix(e, "state ") {
			out = append(out, e)
		}
	}
	return out
}

// count counts the events equal to e.
func (o *recorder) count(e string) int {
	n := 0
	for _, x := range o.list(true) {
		if x == e {
			n++
		}
	}
	return n
}

func (o *recorder) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = nil
}

// equalEvents compares event lists.
func equalEvents(got, want []string) bool { return slices.Equal(got, want) }

// simConfig is a simulator without latency or limits.
func simConfig() simulator.Config { return simulator.Config{} }

// keyOfDestination is the destination limit's key for to.
func keyOfDestination(to string) dedup.Key { return dedup.KeyOf("destination", to) }

// keyOfCaller is the caller limit's key for a verified identity.
func keyOfCaller(identity string) dedup.Key { return dedup.KeyOf("caller", identity) }

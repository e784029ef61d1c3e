package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// simAccount is one account of the simulator.
type simAccount struct {
	sid, token string
	// keys are API keys of the account: SK… SID and secret.
	keys [][2]string
}

// newSimAccount makes an account with a fresh SID and a registered token.
func newSimAccount(t testing.TB) simAccount {
	return simAccount{sid: newAccountSID(), token: newToken(t, "auth_token")}
}

type simOptions struct {
	maxConcurrent int
	latency       time.Duration
	maxRecords    int
}

// sim is a running simulator process.
type sim struct {
	*simControl
	proc *proc
	port int
}

// url is the simulator's base, for api_url.
func (s *sim) url() string { return fmt.Sprintf("http://127.0.0.1:%d", s.port) }

// startSim runs a twilio_simulator in a caddy of its own, so that reloading
// the adapter never resets the simulator's counters.
func startSim(t testing.TB, o simOptions, accounts ...simAccount) *sim {
	t.Helper()
	dir := t.TempDir()
	admin, port := freePort(t), freePort(t)
	var b strings.Builder
	b.WriteString(globalOptions(admin, dir))
	fmt.Fprintf(&b, "\nhttp://127.0.0.1:%d {\n\tbind 127.0.0.1\n\ttwilio_simulator {\n", port)
	for _, a := range accounts {
		fmt.Fprintf(&b, "\t\taccount %s %s {\n", a.sid, a.token)
		for _, k := range a.keys {
			fmt.Fprintf(&b, "\t\t\tapi_key %s %s\n", k[0], k[1])
		}
		b.WriteString("\t\t}\n")
	}
	if o.maxConcurrent > 0 {
		fmt.Fprintf(&b, "\t\tmax_concurrent %d\n", o.maxConcurrent)
	}
	if o.latency > 0 {
		fmt.Fprintf(&b, "\t\tlatency %s\n", o.latency)
	}
	if o.maxRecords > 0 {
		fmt.Fprintf(&b, "\t\tmax_records %d\n", o.maxRecords)
	}
	b.WriteString("\t}\n}\n")
	p := startCaddy(t, "simulator", dir, admin, b.String(), fmt.Sprintf("127.0.0.1:%d", port))
	return &sim{simControl: newSimControl(port), proc: p, port: port}
}

// route is one adapter route: a path and the lines of its twilio_sms block.
type route struct {
	path  string
	lines []string
	// outside are extra directives of the route, before twilio_sms.
	outside []string
	// mapping is the dialect (default generic).
	mapping string
}

// accountLines are the settings that send through account a of s.
func accountLines(s *sim, a simAccount) []string {
	return []string{
		"account_sid " + a.sid,
		"auth_token " + a.token,
		"from +15005550006",
		"api_url " + s.url(),
	}
}

// adapter is a running adapter process.
type adapter struct {
	proc  *proc
	port  int
	admin int
	dir   string
	// siteLog and routes are what the running config was rendered from.
	siteLog string
	routes  []route
	// global are extra global options (e.g. "grace_period 1s").
	global string
}

// base is the adapter's base URL.
func (a *adapter) base() string { return fmt.Sprintf("http://127.0.0.1:%d", a.port) }

// caddyfile renders the adapter's whole Caddyfile.
func (a *adapter) caddyfile(siteLog string, routes []route, extraSite string) string {
	var b strings.Builder
	b.WriteString(globalOptionsWith(a.admin, a.dir, a.global))
	fmt.Fprintf(&b, "\nhttp://127.0.0.1:%d {\n\tbind 127.0.0.1\n", a.port)
	if siteLog != "" {
		b.WriteString(siteLog)
		b.WriteString("\n")
	} else {
		b.WriteString("\tlog\n")
	}
	for _, r := range routes {
		fmt.Fprintf(&b, "\troute %s {\n", r.path)
		for _, o := range r.outside {
			fmt.Fprintf(&b, "\t\t%s\n", o)
		}
		m := r.mapping
		if m == "" {
			m = "generic"
		}
		fmt.Fprintf(&b, "\t\ttwilio_sms %s {\n", m)
		for _, l := range r.lines {
			fmt.Fprintf(&b, "\t\t\t%s\n", l)
		}
		b.WriteString("\t\t}\n\t}\n")
	}
	if extraSite != "" {
		b.WriteString(extraSite)
		b.WriteString("\n")
	}
	b.WriteString("\trespond \"no such route\" 404\n}\n")
	return b.String()
}

// startAdapter runs the adapter with routes, access log on (or siteLog, the
// site's own log block, when set).
func startAdapter(t testing.TB, siteLog string, routes ...route) *adapter {
	t.Helper()
	return startAdapterGlobal(t, "", siteLog, routes...)
}

// startAdapterGlobal is startAdapter with extra global options.
func startAdapterGlobal(t testing.TB, global, siteLog string, routes ...route) *adapter {
	t.Helper()
	a := &adapter{dir: t.TempDir(), admin: freePort(t), port: freePort(t), siteLog: siteLog, routes: routes, global: global}
	a.proc = startCaddy(t, "adapter", a.dir, a.admin, a.caddyfile(siteLog, routes, ""), fmt.Sprintf("127.0.0.1:%d", a.port))
	return a
}

// reload loads the same routes (as changed by edit, if not nil) plus
// extraSite through the admin API, as `caddy reload` would.
func (a *adapter) reload(extraSite string, edit func(routes []route) []route) error {
	routes := append([]route(nil), a.routes...)
	if edit != nil {
		routes = edit(routes)
	}
	return a.proc.load(a.caddyfile(a.siteLog, routes, extraSite))
}

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go"
	twclient "github.com/twilio/twilio-go/client"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// The "real clients" harness: Twilio's own SDKs talk to https://api.twilio.com
// as they always do, but their connections to api.twilio.com:443 are dialled
// to a loopback port where a caddy serves api.twilio.com with Caddy's local CA
// (tls internal). Two such caddies run in front of one simulator:
//
//   - the adapter: route /2010-04-01/* → twilio_sms twilio { credentials
//     passthrough }, debug logging and the access log with README's filter;
//   - the plain proxy: reverse_proxy to the same simulator (Host rewritten to
//     the upstream's, as any proxy to api.twilio.com must), nothing else (no
//     debug, no access log: it is the baseline, not the product).
//
// Every operation is done through both, and what the client got and what
// reached the simulator are compared.

// twilioHost is the host the SDKs believe they talk to.
const twilioHost = "api.twilio.com"

// sdkSide is one of the two ways to Twilio.
type sdkSide struct {
	name string // "adapter" or "proxy"
	port int    // loopback port serving api.twilio.com
	proc *proc
	// root is the PEM of the caddy's local CA root, read from its storage.
	root []byte
}

// sdkStack is a simulator with the adapter and the plain proxy in front of it.
type sdkStack struct {
	sim     *sim
	acc     simAccount
	adapter *sdkSide
	proxy   *sdkSide
	pool    *x509.CertPool
	// caFile holds both roots (PEM), for clients that read a file.
	caFile string
	// protos counts the Go clients' answers by side and protocol.
	protoMu sync.Mutex
	protos  map[string]map[string]int
}

// protoCounter counts the protocol of every answer a Go client gets.
type protoCounter struct {
	rt   http.RoundTripper
	side string
	st   *sdkStack
}

func (p *protoCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := p.rt.RoundTrip(r)
	if err == nil {
		p.st.protoMu.Lock()
		if p.st.protos == nil {
			p.st.protos = map[string]map[string]int{}
		}
		if p.st.protos[p.side] == nil {
			p.st.protos[p.side] = map[string]int{}
		}
		p.st.protos[p.side][resp.Proto]++
		p.st.protoMu.Unlock()
	}
	return resp, err
}

// sides returns the two sides, proxy first (the reference).
func (s *sdkStack) sides() []*sdkSide { return []*sdkSide{s.proxy, s.adapter} }

// sdkGlobal is the global options block of a TLS caddy: a private admin port
// and storage (where its local CA lives), the local CA for every site, no
// attempt to install the root anywhere, no HTTP redirect listener.
func sdkGlobal(t testing.TB, admin int, dir string, debug bool) string {
	d := ""
	if debug {
		d = "\tdebug\n"
	}
	return fmt.Sprintf(`{
%s	admin 127.0.0.1:%d
	persist_config off
	storage file_system %s
	local_certs
	skip_install_trust
	auto_https disable_redirects
	http_port %d
	https_port %d
}
`, d, admin, filepath.Join(dir, "data"), freePort(t), freePort(t))
}

// sdkAccessLog is README's access-log filter, with the names Twilio's list
// filters use: the SDKs put To and From in the query of a list.
const sdkAccessLog = `	log {
		format filter {
			request>uri query {
				delete To
				delete From
			}
		}
	}`

// startSDKStack starts the simulator (one account with an API key), the
// adapter and the plain proxy; adapterLines are extra lines of the twilio_sms
// block.
func startSDKStack(t *testing.T, adapterLines ...string) *sdkStack {
	t.Helper()
	caddyBin(t)
	acc := newSimAccount(t)
	keySID := fmt.Sprintf("SK%032x", 0x5d00000+acctSeq.Add(1))
	acc.keys = [][2]string{{keySID, newToken(t, "api_key_secret")}}
	s := startSim(t, simOptions{}, acc)
	st := &sdkStack{sim: s, acc: acc}

	// The adapter, as the README's twilio mapping is meant to be used.
	ad := &sdkSide{name: "adapter", port: freePort(t)}
	dir, admin := t.TempDir(), freePort(t)
	var b strings.Builder
	b.WriteString(sdkGlobal(t, admin, dir, true))
	fmt.Fprintf(&b, "\nhttps://%s:%d {\n\tbind 127.0.0.1\n\ttls internal\n%s\n", twilioHost, ad.port, sdkAccessLog)
	b.WriteString("\troute /2010-04-01/* {\n\t\ttwilio_sms twilio {\n\t\t\tname twilio-sdk\n\t\t\tcredentials passthrough\n")
	fmt.Fprintf(&b, "\t\t\tapi_url %s\n", s.url())
	for _, l := range adapterLines {
		fmt.Fprintf(&b, "\t\t\t%s\n", l)
	}
	b.WriteString("\t\t}\n\t}\n\trespond \"no such route\" 404\n}\n")
	ad.proc = startCaddy(t, "adapter", dir, admin, b.String(), fmt.Sprintf("127.0.0.1:%d", ad.port))
	ad.root = waitRoot(t, ad.proc, dir)
	st.adapter = ad

	// The plain reverse proxy in front of the same simulator.
	px := &sdkSide{name: "proxy", port: freePort(t)}
	dir, admin = t.TempDir(), freePort(t)
	cfg := sdkGlobal(t, admin, dir, false) + fmt.Sprintf("\nhttps://%s:%d {\n\tbind 127.0.0.1\n\ttls internal\n\treverse_proxy %s {\n\t\theader_up Host {upstream_hostport}\n\t}\n}\n",
		twilioHost, px.port, strings.TrimPrefix(s.url(), "http://"))
	px.proc = startCaddy(t, "proxy", dir, admin, cfg, fmt.Sprintf("127.0.0.1:%d", px.port))
	px.root = waitRoot(t, px.proc, dir)
	st.proxy = px

	st.pool = x509.NewCertPool()
	for _, sd := range st.sides() {
		if !st.pool.AppendCertsFromPEM(sd.root) {
			t.Fatalf("%s: local CA root is not PEM", sd.name)
		}
	}
	st.caFile = filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(st.caFile, append(append([]byte{}, ad.root...), px.root...), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, sd := range st.sides() {
		st.waitTLS(t, sd)
	}
	return st
}

// waitRoot waits (at most 15s) for the local CA's root certificate in the
// caddy's storage.
func waitRoot(t testing.TB, p *proc, dir string) []byte {
	t.Helper()
	path := filepath.Join(dir, "data", "pki", "authorities", "local", "root.crt")
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no local CA root at %s after 15s\n%s", p.role, path, tail(p.logs.String(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitTLS waits (at most 15s) until the side completes a verified TLS
// handshake for api.twilio.com (its certificate is issued at startup).
func (s *sdkStack) waitTLS(t testing.TB, sd *sdkSide) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		d := &net.Dialer{Timeout: time.Second}
		c, err := tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", sd.port), &tls.Config{ServerName: twilioHost, RootCAs: s.pool})
		if err == nil {
			c.Close()
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: no verified TLS handshake for %s after 15s: %v\n%s", sd.name, twilioHost, last, tail(sd.proc.logs.String(), 20))
}

// httpClient is what a program using the SDK would configure: Go's default
// transport settings (HTTP/2 when the server offers it), no redirects, but
// api.twilio.com:443 dialled to the side's loopback port and the local CA
// trusted. Any other address is refused: nothing leaves the machine.
func (s *sdkStack) httpClient(t testing.TB, sd *sdkSide) *http.Client {
	target := fmt.Sprintf("127.0.0.1:%d", sd.port)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != twilioHost+":443" {
				return nil, fmt.Errorf("sdk test: refusing to dial %s (only %s:443 is mapped)", addr, twilioHost)
			}
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, target)
		},
		TLSClientConfig:     &tls.Config{RootCAs: s.pool},
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        10,
		IdleConnTimeout:     30 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	c := &http.Client{
		Transport:     &protoCounter{rt: tr, side: sd.name, st: s},
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// rest is Twilio's Go SDK as its README sets it up with a custom HTTP client:
// user (account SID or API key SID) and secret, the account SID for the paths.
func (s *sdkStack) rest(t testing.TB, sd *sdkSide, user, secret string) *twilio.RestClient {
	c := &twclient.Client{Credentials: twclient.NewCredentials(user, secret), HTTPClient: s.httpClient(t, sd)}
	c.SetAccountSid(s.acc.sid)
	rc := twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
	rc.RequestHandler.Edge, rc.RequestHandler.Region = "", "" // whatever TWILIO_EDGE/REGION say
	return rc
}

// recordsFrom returns the simulator's records from index from on (every request
// has been answered before the SDK call returns).
func (s *sdkStack) recordsFrom(t testing.TB, from int) []simulator.Record {
	t.Helper()
	rs := s.sim.records(t)
	if from > len(rs) {
		return nil
	}
	return rs[from:]
}

func (s *sdkStack) mark(t testing.TB) int { return len(s.sim.records(t)) }

// sdkResult is what one side's operation gave: the SDK's decoded resource
// (marshalled back to JSON fields) or its error, the HTTP metadata, and what
// reached the simulator meanwhile.
type sdkResult struct {
	side   string
	fields map[string]any // the SDK's resource, as JSON fields
	status int            // HTTP status (from the *WithMetadata call)
	header http.Header
	err    error
	recs   []simulator.Record
	// subst are the values that legitimately differ between the sides (the
	// SIDs Twilio made, per-side numbers), replaced by their names before
	// comparing.
	subst map[string]string
}

// restError returns the SDK's Twilio error, or nil.
func (r sdkResult) restError() *twclient.TwilioRestError {
	var e *twclient.TwilioRestError
	if r.err != nil && asRestError(r.err, &e) {
		return e
	}
	return nil
}

func asRestError(err error, target **twclient.TwilioRestError) bool {
	if e, ok := err.(*twclient.TwilioRestError); ok {
		*target = e
		return true
	}
	return false
}

// toFields turns an SDK resource into its JSON fields.
func toFields(t testing.TB, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// volatileFields differ between any two resources: when they were made.
// (Node's library names them in camelCase.)
var volatileFields = map[string]bool{"date_created": true, "date_updated": true, "date_sent": true, "start_time": true, "end_time": true,
	"dateCreated": true, "dateUpdated": true, "dateSent": true}

// normalize replaces the per-side values in every string of v.
func normalize(v any, subst map[string]string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if volatileFields[k] {
				if e == nil {
					out[k] = nil
				} else {
					out[k] = "<date>"
				}
				continue
			}
			out[k] = normalize(e, subst)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e, subst)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = normalize(e, subst).(string)
		}
		return out
	case string:
		// Longest first, so that a SID is not half-replaced by a shorter value.
		keys := make([]string, 0, len(subst))
		for k := range subst {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
		for _, k := range keys {
			if k != "" {
				x = strings.ReplaceAll(x, k, subst[k])
			}
		}
		return x
	}
	return v
}

// diffMaps lists the keys where a and b differ ("key: a=… b=…").
func diffMaps(a, b map[string]any) []string {
	var out []string
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}) {
		va, oka := a[k]
		vb, okb := b[k]
		if oka != okb || !reflect.DeepEqual(va, vb) {
			out = append(out, fmt.Sprintf("%s: proxy=%s adapter=%s", k, show(va, oka), show(vb, okb)))
		}
	}
	return out
}

func show(v any, ok bool) string {
	if !ok {
		return "(absent)"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// recordView is the part of a simulator record that must be the same for the
// same client request, whichever way it came. (User-Agent has a test of its
// own: TestSDKGo/Twilio_sees_the_SDK's_User-Agent.)
func recordView(r simulator.Record, subst map[string]string) map[string]any {
	vals := func(v url.Values) map[string]any {
		m := map[string]any{}
		for k, vs := range v {
			m[k] = normalize(slices.Clone(vs), subst)
		}
		return m
	}
	return map[string]any{
		"method":       r.Method,
		"api":          r.API,
		"op":           r.Op,
		"path":         normalize(r.Path, subst),
		"account_sid":  r.AccountSID,
		"auth_user":    r.AuthUser,
		"form":         vals(r.Form),
		"query":        vals(r.Query),
		"content_type": strings.Join(r.Header.Values("Content-Type"), ","),
		"ignored":      strings.Join(r.Ignored, ","),
		"status":       r.Status,
		"code":         r.Code,
		"accepted":     r.Accepted,
	}
}

// sdkDiff is one difference between the proxy's and the adapter's result.
type sdkDiff struct {
	what   string // "client" (what the SDK returned) or "twilio" (what reached the simulator)
	detail string
}

// compare returns every difference between the proxy's result p and the
// adapter's result a, after replacing the values that legitimately differ.
func compareResults(p, a sdkResult) []sdkDiff {
	var out []sdkDiff
	// What the client got.
	switch {
	case (p.err == nil) != (a.err == nil):
		out = append(out, sdkDiff{"client", fmt.Sprintf("error: proxy=%v adapter=%v", p.err, a.err)})
	case p.err != nil:
		pe, ae := p.restError(), a.restError()
		switch {
		case pe == nil || ae == nil:
			if pe != nil || ae != nil || p.err.Error() != a.err.Error() {
				out = append(out, sdkDiff{"client", fmt.Sprintf("error: proxy=%v adapter=%v", p.err, a.err)})
			}
		default:
			pm := map[string]any{"code": pe.Code, "status": pe.Status, "message": pe.Message, "more_info": pe.MoreInfo, "details": pe.Details}
			am := map[string]any{"code": ae.Code, "status": ae.Status, "message": ae.Message, "more_info": ae.MoreInfo, "details": ae.Details}
			for _, d := range diffMaps(pm, am) {
				out = append(out, sdkDiff{"client", "RestError " + d})
			}
		}
	default:
		for _, d := range diffMaps(normalize(p.fields, p.subst).(map[string]any), normalize(a.fields, a.subst).(map[string]any)) {
			out = append(out, sdkDiff{"client", "resource " + d})
		}
	}
	if p.status != a.status {
		out = append(out, sdkDiff{"client", fmt.Sprintf("HTTP status: proxy=%d adapter=%d", p.status, a.status)})
	}
	if p.header != nil || a.header != nil {
		if pc, ac := p.header.Get("Content-Type"), a.header.Get("Content-Type"); pc != ac {
			out = append(out, sdkDiff{"client", fmt.Sprintf("Content-Type: proxy=%q adapter=%q", pc, ac)})
		}
		for _, h := range []string{"Twilio-Request-Id", "Twilio-Request-Duration", "Twilio-Concurrent-Requests"} {
			if (p.header.Get(h) == "") != (a.header.Get(h) == "") {
				out = append(out, sdkDiff{"client", fmt.Sprintf("header %s: proxy=%q adapter=%q", h, p.header.Get(h), a.header.Get(h))})
			}
		}
	}
	// What reached Twilio.
	if len(p.recs) != len(a.recs) {
		out = append(out, sdkDiff{"twilio", fmt.Sprintf("requests at Twilio: proxy=%d (%s) adapter=%d (%s)", len(p.recs), recSummary(p.recs), len(a.recs), recSummary(a.recs))})
	}
	for i := range min(len(p.recs), len(a.recs)) {
		for _, d := range diffMaps(recordView(p.recs[i], p.subst), recordView(a.recs[i], a.subst)) {
			out = append(out, sdkDiff{"twilio", fmt.Sprintf("request %d %s", i+1, d)})
		}
	}
	return out
}

func recSummary(rs []simulator.Record) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprintf("%s %s %d", r.Method, r.Op, r.Status))
	}
	return strings.Join(s, ", ")
}

// expectSame fails t for every difference between the proxy's and the
// adapter's result of operation op.
func expectSame(t *testing.T, op string, p, a sdkResult) {
	t.Helper()
	for _, d := range compareResults(p, a) {
		t.Errorf("%s: %s differs: %s", op, map[string]string{"client": "what the SDK returned", "twilio": "what reached Twilio"}[d.what], d.detail)
	}
}

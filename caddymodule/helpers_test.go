package caddymodule

// Test helpers shared by every _test.go file of this package.
//
// # Secrets and the leak check
//
// TestMain (main_test.go, Linux) captures everything the test process writes
// to its stdout and stderr file descriptors (Caddy's logs, which startCaddy
// turns to DEBUG, the development loggers of handlers provisioned without
// Caddy, the testing package's own output) while still passing it through.
// After every test has run it fails the run (exit status 1) if a value
// registered with noteSecret appears in that output, as is or URL- or
// JSON-escaped, and prints which test registered it, never the value.
//
// Call noteSecret, before using them, for every sensitive value a test uses:
//
//   - auth tokens and API key secrets (of the handler and of the simulator),
//   - caller_auth header values and Basic passwords,
//   - message bodies and the one-time codes in them,
//   - full destination numbers (logs may only show them masked).
//
// noteSecret is safe for concurrent use. Values shorter than minSecretLen are
// ignored: they would match by chance. Account SIDs, API key SIDs and sender
// numbers are identifiers, not secrets: do not register them.
//
// newToken, newCode, newMessage and newNumber make fresh values and register
// them; newSID makes unique SIDs (unique SIDs keep tests from sharing the pooled
// per-account breakers and limiters). provisionBlock and startCaddy register
// the auth_token, api_key secret, caller_auth value and simulator account token
// they find in the Caddyfile text they are given.
//
// # Running the handler
//
// provisionBlock(t, block) parses one `twilio_sms { ... }` block and provisions
// it without Caddy: fast, and safe in parallel tests. serveRequest runs a
// request through it and returns the answer and the placeholders.
//
// startCaddy(t, caddyfile) loads a Caddyfile into the single in-process Caddy
// (caddytest, admin localhost:2999) after adding the test global options
// (ports 9080/9443, auto_https off, persist_config off, debug). Tests that
// use it must not call t.Parallel: there is one Caddy per process.
//
// # Golden files
//
// TestMain registers the -update flag unless another file already did; read
// it with updateGoldens().

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/gateway"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twiliotest"
)

// minSecretLen is the shortest value noteSecret tracks.
const minSecretLen = 6

// notedSecret is one registered value and the test that registered it.
type notedSecret struct {
	value string
	by    string
}

var secretRegistry struct {
	mu   sync.Mutex
	list []notedSecret
	seen map[string]bool
}

// noteSecret registers values that must never appear in the test process's
// output. See the top of this file.
func noteSecret(values ...string) {
	by := registeringTest()
	secretRegistry.mu.Lock()
	defer secretRegistry.mu.Unlock()
	if secretRegistry.seen == nil {
		secretRegistry.seen = map[string]bool{}
	}
	for _, v := range values {
		if len(v) < minSecretLen || secretRegistry.seen[v] {
			continue
		}
		secretRegistry.seen[v] = true
		secretRegistry.list = append(secretRegistry.list, notedSecret{value: v, by: by})
	}
}

// notedSecrets returns a copy of the registry.
func notedSecrets() []notedSecret {
	secretRegistry.mu.Lock()
	defer secretRegistry.mu.Unlock()
	return append([]notedSecret(nil), secretRegistry.list...)
}

// registeringTest names the Test, Benchmark or Fuzz function on the caller's
// stack (subtests run in closures named after it), else the first caller
// outside this file.
func registeringTest() string {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	fallback := ""
	for {
		f, more := frames.Next()
		name := f.Function[strings.LastIndex(f.Function, "/")+1:]
		if parts := strings.Split(name, "."); len(parts) >= 2 {
			for _, p := range []string{"Test", "Benchmark", "Fuzz", "Example"} {
				if strings.HasPrefix(parts[1], p) {
					return parts[1]
				}
			}
		}
		if fallback == "" && !strings.HasSuffix(f.File, "helpers_test.go") && f.File != "" {
			fallback = fmt.Sprintf("%s:%d", f.File[strings.LastIndex(f.File, "/")+1:], f.Line)
		}
		if !more {
			break
		}
	}
	if fallback == "" {
		return "an unknown caller"
	}
	return fallback
}

// updateGoldens reports whether -update was given.
func updateGoldens() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return f.Value.String() == "true"
	}
	b, _ := g.Get().(bool)
	return b
}

var sidSeq atomic.Uint64

// newSID returns prefix ("AC", "SK", "MG", "FW") and 32 hex digits, unique in
// the process.
func newSID(prefix string) string {
	return fmt.Sprintf("%s7e57%028x", prefix, sidSeq.Add(1))
}

// newToken returns a random 32-hex-digit secret and registers it.
func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	s := hex.EncodeToString(b)
	noteSecret(s)
	return s
}

// codeAlphabet has no hex letters, so a code cannot turn up in a log by chance
// (SIDs, request IDs and durations are hex or decimal).
const codeAlphabet = "23456789GHJKMNPQRSTVWXYZ"

func randomFrom(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

// newCode returns a fresh one-time code and registers it.
func newCode() string {
	c := randomFrom(codeAlphabet, 8)
	noteSecret(c)
	return c
}

// newMessage returns a fresh one-time-code message and registers it and its code.
func newMessage() string {
	m := "Your verification code is " + newCode()
	noteSecret(m)
	return m
}

// numberPatterns give random numbers that libphonenumber takes as valid
// numbers of the region (checked by newNumber).
var numberPatterns = map[string]struct {
	prefix string
	digits int
}{
	"IN": {"+9198", 8},
	"GB": {"+447400", 6},
	"US": {"+1202", 7},
	"JM": {"+1876", 7},
	"FR": {"+336", 8},
	"DE": {"+49151", 8},
	"AU": {"+614", 8},
	"IE": {"+35387", 7},
}

// newNumber returns a fresh valid destination number of region in E.164 and
// registers it (with and without its "+").
func newNumber(t testing.TB, region string) string {
	t.Helper()
	p, ok := numberPatterns[region]
	if !ok {
		t.Fatalf("newNumber: no pattern for region %s", region)
	}
	for range 200 {
		n := p.prefix + randomFrom("0123456789", p.digits)
		norm, err := phone.Normalizer{}.Normalize(n)
		if err != nil || norm != n || phone.Region(n) != region {
			continue
		}
		noteSecret(n, n[1:])
		return n
	}
	t.Fatalf("newNumber: no valid %s number found", region)
	return ""
}

// caddyfileSecrets lists the secrets written in Caddyfile text: the argument
// of auth_token, the last argument of api_key (the twilio_sms and the
// simulator forms), the last argument of a four-token caller_auth line, and
// the token of a simulator `account` line. {env.NAME} values are resolved too.
func caddyfileSecrets(text string) []string {
	tokens, err := caddyfile.Tokenize([]byte(text), "Caddyfile")
	if err != nil {
		return nil
	}
	var out []string
	add := func(v string) {
		out = append(out, v)
		if strings.HasPrefix(v, "{env.") && strings.HasSuffix(v, "}") {
			if env := os.Getenv(v[len("{env.") : len(v)-1]); env != "" {
				out = append(out, env)
			}
		}
	}
	for i, tok := range tokens {
		var args []string
		for _, a := range tokens[i+1:] {
			if a.Line != tok.Line || a.File != tok.File || a.Text == "{" || a.Text == "}" {
				break
			}
			args = append(args, a.Text)
		}
		switch {
		case tok.Text == "auth_token" && len(args) >= 1:
			add(args[0])
		case tok.Text == "api_key_secret" && len(args) >= 1:
			add(args[0])
		case tok.Text == "api_key" && len(args) >= 2:
			add(args[len(args)-1])
		case tok.Text == "caller_auth" && len(args) >= 2:
			if n := len(args); n >= 3 && args[n-2] == "name" {
				args = args[:n-2]
			}
			switch {
			case (args[0] == "header" || args[0] == "basic") && len(args) == 3:
				add(args[2])
			case (args[0] == "bearer" || args[0] == "standard_webhooks" || args[0] == "zitadel_signature") && len(args) == 2:
				add(args[1])
			case args[0] == "params":
				for j := 2; j < len(args); j += 2 {
					if secretParam(args[j-1]) { // a password, not a user name
						add(args[j])
					}
				}
			}
		case tok.Text == "redis_secret" && len(args) >= 1:
			add(args[0])
		case tok.Text == "account" && len(args) >= 2 && strings.HasPrefix(args[0], "AC"):
			add(args[1])
		}
	}
	return out
}

// provisionBlock parses one `twilio_sms ...` block (the directive line and its
// block) and provisions the handler without Caddy. The handler is cleaned up
// when the test ends. A parse error is returned as is; so is a Provision error.
func provisionBlock(t testing.TB, block string) (*Handler, error) {
	t.Helper()
	noteSecret(caddyfileSecrets(block)...)
	h := new(Handler)
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(block)); err != nil {
		return nil, err
	}
	return h, provisionHandler(t, h)
}

// provisionHandler provisions h in a fresh caddy.Context and cleans it up when
// the test ends, like Caddy does after a failed or a replaced config.
func provisionHandler(t testing.TB, h *Handler) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	err := h.Provision(ctx)
	t.Cleanup(func() { _ = cleanupHandler(h) })
	return err
}

var cleanedUp sync.Map // *Handler -> true

// cleanupHandler runs h.Cleanup once however often it is called: Caddy calls
// it exactly once, and a second call would release pooled state (shared with
// other tests' handlers) a second time. Tests that clean up a handler
// themselves (a reload) must use it.
func cleanupHandler(h *Handler) error {
	if _, done := cleanedUp.LoadOrStore(h, true); done {
		return nil
	}
	return h.Cleanup()
}

// mustProvision is provisionBlock failing the test on error.
func mustProvision(t testing.TB, block string) *Handler {
	t.Helper()
	h, err := provisionBlock(t, block)
	if err != nil {
		t.Fatalf("provisioning: %v", err) // never the block: it holds secrets
	}
	return h
}

// genericReply is the answer of the generic mapping.
type genericReply struct {
	OK      bool   `json:"ok"`
	Sid     string `json:"sid"`
	Status  string `json:"status"`
	Account string `json:"account"`
	Error   *struct {
		Outcome  string `json:"outcome"`
		Field    string `json:"field"`
		Code     *int   `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
	} `json:"error"`
}

// outcome is the error's outcome, "" on success.
func (g genericReply) outcome() string {
	if g.Error == nil {
		return ""
	}
	return g.Error.Outcome
}

// code is the error's code, 0 when none.
func (g genericReply) code() int {
	if g.Error == nil || g.Error.Code == nil {
		return 0
	}
	return *g.Error.Code
}

// answer is what a caller got, and the placeholders the handler set.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
	Reply  genericReply
	// Vars are the {http.twilio_sms.*} placeholders, without the prefix
	// (set only when the request went through serveRequest).
	Vars map[string]string
}

func (a answer) String() string {
	return fmt.Sprintf("HTTP %d %s", a.Status, a.Body)
}

// placeholderNames are the placeholders ServeHTTP sets.
var placeholderNames = []string{"outcome", "sid", "status", "error_code", "account", "api", "mapping"}

// serveRequest runs r through h, with a Caddy replacer in its context as
// Caddy's server would put there.
func serveRequest(t testing.TB, h *Handler, r *http.Request) answer {
	t.Helper()
	repl := caddy.NewReplacer()
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, nil); err != nil {
		t.Fatalf("ServeHTTP returned an error: %v", err)
	}
	a := readAnswer(t, w.Result())
	a.Vars = map[string]string{}
	for _, n := range placeholderNames {
		if v, ok := repl.Get("http.twilio_sms." + n); ok {
			a.Vars[n] = fmt.Sprint(v)
		}
	}
	return a
}

// readAnswer reads a response of the generic mapping.
func readAnswer(t testing.TB, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	a := answer{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(body, &a.Reply); err != nil {
			t.Fatalf("answer is not the generic mapping's JSON: %v", err)
		}
	}
	return a
}

// formRequest is a POST of form to /sms.
func formRequest(form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/sms", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// sms is the generic mapping's form for to and message.
func sms(to, message string) url.Values {
	return url.Values{"to": {to}, "message": {message}}
}

// testSim is a simulator behind the OpenAPI contract check.
type testSim struct {
	URL string
	*simulator.Simulator
}

// newTestSim starts a simulator for accounts, registering their tokens and
// API key secrets. Accounts without an AuthToken get a fresh one.
func newTestSim(t testing.TB, accounts ...simulator.Account) *testSim {
	t.Helper()
	for i := range accounts {
		if accounts[i].AuthToken == "" {
			accounts[i].AuthToken = newToken()
		}
		noteSecret(accounts[i].AuthToken)
		for _, secret := range accounts[i].APIKeys {
			noteSecret(secret)
		}
	}
	srv, sim, _ := twiliotest.NewServer(t, simulator.Config{Accounts: accounts})
	return &testSim{URL: srv.URL, Simulator: sim}
}

// settle waits, at most a few seconds, until the simulator has answered every
// request it got: a request whose client went away (a timeout) is recorded
// only once the simulator notices.
func (s *testSim) settle() {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		st := s.Stats()
		if st.Requests == st.Accepted+st.Rejected {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// records lists the Twilio API requests the simulator got for accountSID
// (every account when ""), once every request has been answered.
func (s *testSim) records(accountSID string) []simulator.Record {
	s.settle()
	var out []simulator.Record
	for _, r := range s.Records() {
		if r.API != "" && (accountSID == "" || r.AccountSID == accountSID) {
			out = append(out, r)
		}
	}
	return out
}

// accepted counts the requests the simulator accepted (created a resource for).
func (s *testSim) accepted() int {
	n := 0
	for _, r := range s.records("") {
		if r.Accepted {
			n++
		}
	}
	return n
}

// closedURL is an http URL on loopback where nothing listens: connections are refused.
func closedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// caddyBase is where startCaddy's sites listen.
const caddyBase = "http://localhost:9080"

// testGlobals are the global options startCaddy adds when the Caddyfile has none.
const testGlobals = `	admin localhost:2999
	http_port 9080
	https_port 9443
	auto_https off
	grace_period 2s
`

var globalOptionRE = func(name string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `(\s|$)`)
}

// withTestGlobals returns caddyfile with the test global options: the
// defaults above when it has no global block, and always the test admin
// address, debug (every log line reaches the leak check) and persist_config
// off (no autosave.json with test tokens in the user's config directory).
func withTestGlobals(caddyfile string) string {
	// Skip leading blank and comment lines to find a global options block.
	s := caddyfile
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		if !strings.HasPrefix(s, "#") {
			break
		}
		_, s, _ = strings.Cut(s, "\n")
	}
	if !strings.HasPrefix(s, "{") {
		return "{\n" + testGlobals + "\tdebug\n\tpersist_config off\n}\n\n" + caddyfile
	}
	end := strings.Index(s, "}")
	if end < 0 {
		return caddyfile
	}
	global := s[:end]
	insert := ""
	if !globalOptionRE("admin").MatchString(global) {
		insert += "\tadmin localhost:2999\n" // else the admin endpoint, and caddytest with it, moves
	}
	if !globalOptionRE("debug").MatchString(global) {
		insert += "\tdebug\n"
	}
	if !globalOptionRE("persist_config").MatchString(global) {
		insert += "\tpersist_config off\n"
	}
	return "{\n" + insert + s[1:]
}

// startCaddy loads caddyfile into the in-process Caddy (see the top of this
// file) and stops the test if the config did not load. It registers the
// secrets the Caddyfile holds. Do not call t.Parallel in tests that use it.
func startCaddy(t *testing.T, caddyfile string) *caddytest.Tester {
	t.Helper()
	noteSecret(caddyfileSecrets(caddyfile)...)
	tester := caddytest.NewTester(t)
	tester.InitServer(withTestGlobals(caddyfile), "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	return tester
}

// postForm posts form to Caddy at path with the extra headers ("Name: value").
func postForm(t testing.TB, tester *caddytest.Tester, path string, form url.Values, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, caddyBase+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	resp, err := doRetryingStale(tester.Client, req, form.Encode())
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return readAnswer(t, resp)
}

// doRetryingStale sends req, and sends it again (at most twice) when the
// connection was closed before any answer: right after a config load, the
// old server, shutting down, can accept a new connection and close it. Such
// a request never reached a handler; a request that did would have an answer.
func doRetryingStale(c *http.Client, req *http.Request, body string) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := c.Do(req)
		if err == nil || attempt == 2 || !(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			return resp, err
		}
		time.Sleep(100 * time.Millisecond)
		req.Body = io.NopCloser(strings.NewReader(body))
	}
}

// dryRun runs r through hd's gateway with sending switched off.
func dryRun(t testing.TB, hd *Handler, r *http.Request) *gateway.Outcome {
	t.Helper()
	out := hd.gw.Serve(gateway.Inbound{Request: r, ClientIP: "127.0.0.1"}, gateway.DryRun)
	if out.Err != nil {
		t.Fatalf("dry run: %v", out.Err)
	}
	return out
}

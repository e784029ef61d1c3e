package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// pythonWithTwilio returns a python3 that can import Twilio's helper library
// (Debian: apt-get install python3-twilio), or skips the test saying so.
// E2E_PYTHON names one to use.
func pythonWithTwilio(t *testing.T) string {
	t.Helper()
	var candidates []string
	if p := os.Getenv("E2E_PYTHON"); p != "" {
		candidates = append(candidates, p)
	}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/usr/bin/python3")
	tried := []string{}
	for _, p := range candidates {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		tried = append(tried, p)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, p, "-c", "import twilio.rest, requests; print(twilio.__version__)").Output()
		cancel()
		if err == nil {
			t.Logf("python: %s, twilio %s", p, strings.TrimSpace(string(out)))
			return p
		}
	}
	if len(tried) == 0 {
		t.Skip("e2e: no python3; install python3 and python3-twilio (Debian) to run the Python SDK tests")
	}
	t.Skipf("e2e: none of %v can import twilio; apt-get install -y python3-twilio (or set E2E_PYTHON)", tried)
	return ""
}

// nodeWithTwilio returns node and the node_modules folder holding Twilio's
// Node helper library (npm install --prefix DIR twilio; E2E_NODE_MODULES=DIR/node_modules),
// or skips the test saying so.
func nodeWithTwilio(t *testing.T) (node, modules string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("e2e: no node; install Node.js and set E2E_NODE_MODULES to run the Node SDK test")
	}
	modules = os.Getenv("E2E_NODE_MODULES")
	if modules == "" {
		t.Skip("e2e: E2E_NODE_MODULES is not set; npm install --prefix /tmp/twilio-node twilio, then E2E_NODE_MODULES=/tmp/twilio-node/node_modules")
	}
	if _, err := os.Stat(filepath.Join(modules, "twilio", "package.json")); err != nil {
		t.Skipf("e2e: E2E_NODE_MODULES=%s has no twilio package", modules)
	}
	return node, modules
}

// sdkScript is one interpreter running one script of testdata.
type sdkScript struct {
	interpreter, script string
	env                 []string
}

// run runs the script with cfg on stdin and decodes what it prints.
func (sc sdkScript) run(t *testing.T, cfg map[string]any) map[string]any {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", sc.script))
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sc.interpreter, script)
	// No proxy, no edge or region, no credentials from the environment.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C.UTF-8"}, sc.env...)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s (%v): %v\n%s", sc.script, cfg["mode"], err, tail(stderr.String(), 30))
	}
	var out map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("%s printed no JSON: %v\n%s\n%s", sc.script, err, stdout.String(), tail(stderr.String(), 30))
	}
	return out
}

// scriptSide is one side's run of the script and what reached Twilio meanwhile.
type scriptSide struct {
	name  string
	to    string
	out   map[string]any
	recs  []simulator.Record
	subst map[string]string
}

// runScriptBoth runs the script (Python's or Node's) in mode through the proxy, then the adapter,
// each with a destination number of its own (the list filters on it).
func runScriptBoth(t *testing.T, st *sdkStack, sc sdkScript, mode, body string) [2]*scriptSide {
	t.Helper()
	var sides [2]*scriptSide
	for i, sd := range st.sides() {
		ps := &scriptSide{name: sd.name, to: newPhone(t)}
		from := st.mark(t)
		ps.out = sc.run(t, map[string]any{
			"mode": mode, "port": sd.port, "cafile": st.caFile,
			"account_sid": st.acc.sid, "token": st.acc.token,
			"to": ps.to, "from": sdkFrom, "body": body,
		})
		ps.recs = st.recordsFrom(t, from)
		ps.subst = map[string]string{ps.to: "<to>", url.QueryEscape(ps.to): "<to>"}
		for _, r := range ps.recs {
			if r.Sid != "" {
				ps.subst[r.Sid] = "<sid>"
			}
		}
		sides[i] = ps
	}
	return sides
}

// at walks a decoded JSON value: at(v, "create", "resource", "sid").
func at(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// presence replaces the values of Twilio's per-request headers by "<present>":
// they must be there both ways, their values are per request.
func presence(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			switch http.CanonicalHeaderKey(k) { // Node's library has them in lower case
			case "Twilio-Request-Id", "Twilio-Request-Duration", "Twilio-Concurrent-Requests":
				out[k] = "<present>"
			default:
				out[k] = presence(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = presence(e)
		}
		return out
	}
	return v
}

// compareSides fails t for each difference between the proxy's and the
// adapter's section of the script's output, after normalization.
func compareSides(t *testing.T, sides [2]*scriptSide, section string) {
	t.Helper()
	p := presence(normalize(at(sides[0].out, section), sides[0].subst))
	a := presence(normalize(at(sides[1].out, section), sides[1].subst))
	pm, _ := p.(map[string]any)
	am, _ := a.(map[string]any)
	if pm == nil || am == nil {
		t.Errorf("%s: missing from the output (proxy %v, adapter %v)", section, p, a)
		return
	}
	for _, d := range diffMaps(pm, am) {
		t.Errorf("%s: what the client got differs: %s", section, d)
	}
}

// compareRecords fails t for each difference between what reached Twilio
// through the proxy and through the adapter (only the records keep selects).
func compareRecords(t *testing.T, sides [2]*scriptSide, keep func(simulator.Record) bool) {
	t.Helper()
	var rs [2][]simulator.Record
	for i, s := range sides {
		for _, r := range s.recs {
			if keep == nil || keep(r) {
				rs[i] = append(rs[i], r)
			}
		}
	}
	if len(rs[0]) != len(rs[1]) {
		t.Errorf("requests at Twilio: proxy %d (%s), adapter %d (%s)", len(rs[0]), recSummary(rs[0]), len(rs[1]), recSummary(rs[1]))
	}
	for i := range min(len(rs[0]), len(rs[1])) {
		for _, d := range diffMaps(recordView(rs[0][i], sides[0].subst), recordView(rs[1][i], sides[1].subst)) {
			t.Errorf("request %d at Twilio (%s %s) differs: %s", i+1, rs[0][i].Method, rs[0][i].Op, d)
		}
	}
}

// TestSDKPython: Twilio's Python helper library (Debian's python3-twilio)
// creates, fetches and lists messages, and meets a Twilio error and a 404,
// through the adapter and through a plain reverse proxy: the client must get
// the same answers and Twilio the same requests.
func TestSDKPython(t *testing.T) {
	caddyBin(t)
	python := pythonWithTwilio(t)
	st := startSDKStack(t)
	body := sdkBody(t)
	sides := runScriptBoth(t, st, sdkScript{interpreter: python, script: "twilio_sdk.py"}, "sdk", body)
	for _, s := range sides {
		if v := at(s.out, "create", "status"); fmt.Sprint(v) != "201" {
			t.Errorf("%s: create answered %v", s.name, v)
		}
		res := at(s.out, "create", "resource")
		sid := fmt.Sprint(at(res, "sid"))
		if !strings.HasPrefix(sid, "SM") || at(res, "status") != "queued" || at(res, "to") != s.to || at(res, "from_") != sdkFrom || at(res, "body") != body {
			t.Errorf("%s: created %v", s.name, res)
		}
		if v := at(s.out, "fetch", "status"); fmt.Sprint(v) != "200" || at(s.out, "fetch", "resource", "sid") != sid {
			t.Errorf("%s: fetch gave %v %v", s.name, v, at(s.out, "fetch", "resource"))
		}
		list, _ := at(s.out, "list", "resources").([]any)
		if len(list) != 1 || at(list[0], "sid") != sid {
			t.Errorf("%s: list gave %v, want the one message to %s", s.name, list, s.to)
		}
		if e := at(s.out, "error"); at(e, "raised") != true || fmt.Sprint(at(e, "status")) != "400" || fmt.Sprint(at(e, "code")) != "21211" {
			t.Errorf("%s: the invalid To gave %v, want TwilioRestException 400/21211", s.name, e)
		}
		if e := at(s.out, "not_found"); at(e, "raised") != true || fmt.Sprint(at(e, "status")) != "404" || fmt.Sprint(at(e, "code")) != "20404" {
			t.Errorf("%s: the unknown SID gave %v, want TwilioRestException 404/20404", s.name, e)
		}
		creates := 0
		for _, r := range s.recs {
			if r.Op == "create" && r.Accepted {
				creates++
				if r.Form.Get("To") != s.to || r.Form.Get("Body") != body || r.Form.Get("From") != sdkFrom || len(r.Form) != 3 {
					t.Errorf("%s: Twilio got the create %v", s.name, r.Form)
				}
			}
		}
		if creates != 1 {
			t.Errorf("%s: %d messages created at Twilio, want 1 (%s)", s.name, creates, recSummary(s.recs))
		}
	}
	logUserAgents(t, sides)
	for _, section := range []string{"create", "fetch", "list", "error", "not_found"} {
		compareSides(t, sides, section)
	}
	compareRecords(t, sides, nil)
}

// TestSDKPythonChallenge: a client that sends its credentials only after
// Twilio's 401 challenge (Python's urllib HTTPBasicAuthHandler, as some
// products' HTTP libraries do) creates, fetches and lists through the adapter
// and through a plain proxy: each request is challenged once with
// WWW-Authenticate: Basic realm="Twilio API", the retry with credentials
// succeeds, one message is created, and the answers are the same both ways.
func TestSDKPythonChallenge(t *testing.T) {
	caddyBin(t)
	python := pythonWithTwilio(t)
	st := startSDKStack(t)
	body := sdkBody(t)
	sides := runScriptBoth(t, st, sdkScript{interpreter: python, script: "twilio_sdk.py"}, "challenge", body)
	for _, s := range sides {
		sid, _ := at(s.out, "create", "body", "sid").(string)
		for _, op := range []struct {
			name   string
			status string
		}{{"create", "201"}, {"fetch", "200"}, {"list", "200"}} {
			r := at(s.out, op.name)
			if fmt.Sprint(at(r, "status")) != op.status {
				t.Errorf("%s: %s answered %v: %v", s.name, op.name, at(r, "status"), at(r, "body"))
			}
			ch, _ := at(r, "challenges").([]any)
			if len(ch) != 1 {
				t.Errorf("%s: %s was challenged %d times, want once", s.name, op.name, len(ch))
				continue
			}
			c := ch[0]
			if fmt.Sprint(at(c, "status")) != "401" || at(c, "had_credentials") != false ||
				at(c, "headers", "WWW-Authenticate") != `Basic realm="Twilio API"` || fmt.Sprint(at(c, "body", "code")) != "20003" {
				t.Errorf("%s: %s challenge %v", s.name, op.name, c)
			}
		}
		if !strings.HasPrefix(sid, "SM") || at(s.out, "fetch", "body", "sid") != sid {
			t.Errorf("%s: created %q, fetched %v", s.name, sid, at(s.out, "fetch", "body", "sid"))
		}
		if msgs, _ := at(s.out, "list", "body", "messages").([]any); len(msgs) != 1 || at(msgs[0], "sid") != sid {
			t.Errorf("%s: list gave %v", s.name, at(s.out, "list", "body"))
		}
		creates, anonymous := 0, 0
		for _, r := range s.recs {
			if r.AuthUser == "" {
				anonymous++
			}
			if r.Op == "create" && r.Accepted {
				creates++
			}
		}
		if creates != 1 {
			t.Errorf("%s: %d messages created at Twilio, want 1 (%s)", s.name, creates, recSummary(s.recs))
		}
		t.Logf("%s: %d requests at Twilio, %d of them without credentials (%s)", s.name, len(s.recs), anonymous, recSummary(s.recs))
	}
	// The adapter answers the challenge itself when nothing reached Twilio
	// (no Twilio-Request-Id then, and its own JSON content type): the
	// headers of the 401 are compared by what a client reads, the media
	// type and WWW-Authenticate; the raw difference is logged.
	for _, op := range []string{"create", "fetch", "list"} {
		var hs [2]map[string]any
		for i, s := range sides {
			ch, _ := at(s.out, op, "challenges").([]any)
			if len(ch) == 1 {
				hs[i], _ = at(ch[0], "headers").(map[string]any)
			}
		}
		if hs[0] == nil || hs[1] == nil {
			continue
		}
		if d := diffMaps(presence(hs[0]).(map[string]any), presence(hs[1]).(map[string]any)); len(d) > 0 {
			t.Logf("%s: the 401 challenge's headers differ (answered without asking Twilio): %v", op, d)
		}
		for _, h := range hs {
			for _, k := range []string{"Twilio-Request-Id", "Twilio-Request-Duration", "Twilio-Concurrent-Requests"} {
				delete(h, k)
			}
			if ct, ok := h["Content-Type"].(string); ok {
				h["Content-Type"] = strings.TrimSpace(strings.Split(ct, ";")[0])
			}
		}
	}
	for _, section := range []string{"create", "fetch", "list"} {
		compareSides(t, sides, section)
	}
	// The challenges may be answered by the adapter itself; the requests
	// that carried credentials must be the same.
	compareRecords(t, sides, func(r simulator.Record) bool { return r.AuthUser != "" })
}

// TestSDKNode: Twilio's Node helper library (npm "twilio", outside the
// repository: E2E_NODE_MODULES) does what TestSDKPython does, through the
// adapter and through a plain reverse proxy; the same comparisons.
func TestSDKNode(t *testing.T) {
	caddyBin(t)
	node, modules := nodeWithTwilio(t)
	st := startSDKStack(t)
	body := sdkBody(t)
	sides := runScriptBoth(t, st, sdkScript{interpreter: node, script: "twilio_sdk.js", env: []string{"NODE_PATH=" + modules}}, "sdk", body)
	t.Logf("twilio (node) %v", at(sides[0].out, "library"))
	for _, s := range sides {
		if v := at(s.out, "create", "status"); fmt.Sprint(v) != "201" {
			t.Errorf("%s: create answered %v", s.name, v)
		}
		res := at(s.out, "create", "resource")
		sid := fmt.Sprint(at(res, "sid"))
		if !strings.HasPrefix(sid, "SM") || at(res, "status") != "queued" || at(res, "to") != s.to || at(res, "from") != sdkFrom || at(res, "body") != body {
			t.Errorf("%s: created %v", s.name, res)
		}
		if v := at(s.out, "fetch", "status"); fmt.Sprint(v) != "200" || at(s.out, "fetch", "resource", "sid") != sid {
			t.Errorf("%s: fetch gave %v %v", s.name, v, at(s.out, "fetch", "resource"))
		}
		list, _ := at(s.out, "list", "resources").([]any)
		if len(list) != 1 || at(list[0], "sid") != sid {
			t.Errorf("%s: list gave %v, want the one message to %s", s.name, list, s.to)
		}
		if e := at(s.out, "error"); at(e, "raised") != true || fmt.Sprint(at(e, "status")) != "400" || fmt.Sprint(at(e, "code")) != "21211" {
			t.Errorf("%s: the invalid To gave %v, want RestException 400/21211", s.name, e)
		}
		if e := at(s.out, "not_found"); at(e, "raised") != true || fmt.Sprint(at(e, "status")) != "404" || fmt.Sprint(at(e, "code")) != "20404" {
			t.Errorf("%s: the unknown SID gave %v, want RestException 404/20404", s.name, e)
		}
		creates := 0
		for _, r := range s.recs {
			if r.Op == "create" && r.Accepted {
				creates++
			}
		}
		if creates != 1 {
			t.Errorf("%s: %d messages created at Twilio, want 1 (%s)", s.name, creates, recSummary(s.recs))
		}
	}
	logUserAgents(t, sides)
	for _, section := range []string{"create", "fetch", "list", "error", "not_found"} {
		compareSides(t, sides, section)
	}
	compareRecords(t, sides, nil)
}

// logUserAgents logs the User-Agent Twilio saw on each side's create (the
// difference fails in TestSDKGo/Twilio_sees_the_SDK's_User-Agent).
func logUserAgents(t *testing.T, sides [2]*scriptSide) {
	t.Helper()
	var ua [2]string
	for i, s := range sides {
		for _, r := range s.recs {
			if r.Op == "create" && r.Accepted {
				ua[i] = r.Header.Get("User-Agent")
			}
		}
	}
	t.Logf("User-Agent of the create at Twilio: proxy %q, adapter %q", ua[0], ua[1])
}

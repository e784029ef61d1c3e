package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode"
)

// The registry remembers every secret, message, code and phone number the
// tests hand to a process, so that the logs can be scanned for them: by each
// test's cleanup for its own processes, and by TestMain at the end for every
// process against everything registered (a value registered by a later test
// is still looked for in an earlier test's logs).
//
// Two kinds of entries:
//   - substrings (tokens, API key secrets, caller secrets, the fixed part of
//     every message): any occurrence in a logged string fails;
//   - words (codes and phone numbers' digits): an alphanumeric run equal to
//     the value fails, so that a code is not found inside a timestamp or a
//     SID by chance. A masked number ("+1415••••123") has no such run.
type secret struct {
	kind  string // auth_token, api_key_secret, caller_secret, message, code, phone
	label string // where it was used; never the value
}

var registry = struct {
	sync.RWMutex
	substr map[string]secret
	words  map[string]secret
	procs  []*proc
}{substr: map[string]secret{}, words: map[string]secret{}}

// messageMarker is part of every message the tests send (and of nothing
// else), so that any message body in a log is found by one substring.
const messageMarker = "sign-in code is"

func registerSubstr(kind, label, value string) string {
	registry.Lock()
	defer registry.Unlock()
	registry.substr[value] = secret{kind, label}
	return value
}

func registerWord(kind, label, value string) string {
	registry.Lock()
	defer registry.Unlock()
	registry.words[value] = secret{kind, label}
	return value
}

func registerLogs(p *proc) {
	registry.Lock()
	defer registry.Unlock()
	registry.procs = append(registry.procs, p)
}

// newToken returns a fresh random secret of the given kind, registered.
func newToken(t testing.TB, kind string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return registerSubstr(kind, t.Name(), kind[:3]+hex.EncodeToString(b[:]))
}

var (
	codeSeq  atomic.Int64
	phoneSeq atomic.Int64
	loadSeq  atomic.Int64
	acctSeq  atomic.Int64
)

// newCode returns a distinctive 6-digit code, never the same twice in a run,
// registered. The first is 739184.
func newCode(t testing.TB) string {
	i := codeSeq.Add(1) - 1
	c := strconv.FormatInt(100000+(639184+i*7919)%900000, 10)
	return registerWord("code", t.Name(), c)
}

// newMessage is an OTP message with a fresh code; message and code are registered.
func newMessage(t testing.TB) (msg, code string) {
	code = newCode(t)
	return "Your Contoso " + messageMarker + " " + code + ". It expires in 10 minutes.", code
}

// newPhone returns a distinct valid US number (+1 415 555 xxxx), registered
// (its digits must never appear unmasked in a log).
func newPhone(t testing.TB) string {
	i := phoneSeq.Add(1)
	if i > 9999 {
		t.Fatal("newPhone: numbers exhausted")
	}
	n := fmt.Sprintf("+1415555%04d", i)
	registerWord("phone", t.Name(), n[1:])
	return n
}

// loadPhone is newPhone's range for the load test (+1 202 555 xxxx), which
// needs thousands; registered the same way.
func loadPhone(t testing.TB) string {
	i := loadSeq.Add(1)
	if i > 9999 {
		t.Fatal("loadPhone: numbers exhausted")
	}
	n := fmt.Sprintf("+1202555%04d", i)
	registerWord("phone", t.Name(), n[1:])
	return n
}

// newAccountSID returns a fresh simulated account SID (AC + 32 hex).
func newAccountSID() string {
	return fmt.Sprintf("AC%032x", 0xe2e00000+acctSeq.Add(1))
}

// violation is one registered value found in a log line.
type violation struct {
	test, role string
	line       int
	field      string
	secret     secret
}

func (v violation) String() string {
	return fmt.Sprintf("%s: %s log line %d, field %q, contains a registered %s (used by %s)",
		v.test, v.role, v.line, v.field, v.secret.kind, v.secret.label)
}

// scanLogs checks every line of one process's output. JSON lines are walked
// field by field (the field path is reported, never the value); other lines
// are checked whole as field "(raw)".
func scanLogs(p *proc) []violation {
	registry.RLock()
	defer registry.RUnlock()
	var out []violation
	seen := map[string]bool{}
	var check func(line int, field, s string)
	check = func(line int, field, s string) {
		for val, sec := range registry.substr {
			if strings.Contains(s, val) {
				key := fmt.Sprint(line, field, sec.kind)
				if !seen[key] {
					seen[key] = true
					out = append(out, violation{p.test, p.role, line, field, sec})
				}
			}
		}
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if sec, ok := registry.words[w]; ok {
				key := fmt.Sprint(line, field, sec.kind)
				if !seen[key] {
					seen[key] = true
					out = append(out, violation{p.test, p.role, line, field, sec})
				}
			}
		}
		// A query string or form body in a log is URL-encoded: look inside.
		if strings.ContainsAny(s, "%+") {
			if u, err := url.QueryUnescape(s); err == nil && u != s {
				check(line, field, u)
			}
		}
	}
	sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		var obj map[string]any
		if json.Unmarshal([]byte(text), &obj) != nil {
			check(n, "(raw)", text)
			continue
		}
		walk("", obj, func(field, s string) { check(n, field, s) })
	}
	return out
}

// walk calls fn for every string in a decoded JSON value (keys included, as
// header names could carry data), with a path such as request>headers>Accept[0].
func walk(path string, v any, fn func(field, s string)) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + ">" + k
			}
			fn(p+" (key)", k)
			walk(p, x[k], fn)
		}
	case []any:
		for i, e := range x {
			walk(fmt.Sprintf("%s[%d]", path, i), e, fn)
		}
	case string:
		fn(path, x)
	}
}

// checkProcLogs fails t for every registered value in p's logs so far.
func checkProcLogs(t testing.TB, p *proc) {
	vs := scanLogs(p)
	for i, v := range vs {
		if i == 20 {
			t.Errorf("log redaction: %d more lines not listed", len(vs)-i)
			break
		}
		t.Errorf("log redaction: %s", v)
	}
	reported.Lock()
	for _, v := range vs {
		reported.m[v.String()] = true
	}
	reported.Unlock()
}

var reported = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

// finalScan checks every process's logs against the complete registry and
// returns what the per-test checks have not already reported.
func finalScan() (fresh []violation, lines int, procs int) {
	registry.RLock()
	all := append([]*proc(nil), registry.procs...)
	registry.RUnlock()
	for _, p := range all {
		lines += strings.Count(p.logs.String(), "\n")
		for _, v := range scanLogs(p) {
			reported.Lock()
			done := reported.m[v.String()]
			reported.m[v.String()] = true
			reported.Unlock()
			if !done {
				fresh = append(fresh, v)
			}
		}
	}
	return fresh, lines, len(all)
}

// TestScanFindsLeaks checks the scanner itself on made-up log lines: it must
// find a registered value in a JSON field, a nested header, a URL-encoded
// query and a non-JSON line, and must not be fooled by digits inside
// timestamps, SIDs or a masked number.
func TestScanFindsLeaks(t *testing.T) {
	token := newToken(t, "auth_token")
	registerWord("code", t.Name(), "930571846") // longer than real codes: no clash with other tests
	registerWord("phone", t.Name(), "12025559876")
	p := &proc{role: "fake", test: t.Name(), logs: &logBuffer{}}
	lines := []string{
		`{"level":"info","ts":1795311855.930571846,"msg":"ok","sid":"SMab930571846cd","to":"+1202••••876"}`, // clean
		`{"level":"info","msg":"twilio_sms","error":"body was: code 930571846"}`,
		`{"level":"info","request":{"headers":{"X-Api-Key":["` + token + `"]}}}`,
		`{"level":"info","request":{"uri":"/sms?to=%2B12025559876&message=Your+code+is+930571846"}}`,
		`panic: token ` + token,
	}
	for _, l := range lines {
		fmt.Fprintln(p.logs, l)
	}
	got := map[string]bool{}
	for _, v := range scanLogs(p) {
		got[fmt.Sprintf("%d %s %s", v.line, v.field, v.secret.kind)] = true
	}
	want := []string{
		"2 error code",
		"3 request>headers>X-Api-Key[0] auth_token",
		"4 request>uri code",
		"4 request>uri phone",
		"5 (raw) auth_token",
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("scanner missed %q", w)
		}
		delete(got, w)
	}
	for g := range got {
		t.Errorf("scanner false positive %q", g)
	}
}

package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// Helpers of the attack tests (attack_*_test.go): an outside attacker's
// requests, sent exactly as written, and what reached the simulator for them.

// getRaw sends GET path?rawQuery with the query exactly as given (a "+" stays
// a "+", which a form decoder reads as a space), with header pairs hdr.
func getRaw(c *http.Client, base, path, rawQuery string, hdr ...string) answer {
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		return answer{Err: err}
	}
	req.URL.RawQuery = rawQuery
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(c, req)
}

// postRaw posts body, exactly as given, as a form.
func postRaw(c *http.Client, u, body string, hdr ...string) answer {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return answer{Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(c, req)
}

// recordsWhere returns the simulator's records that match, once the
// simulator is idle.
func recordsWhere(t testing.TB, s *sim, match func(r simulator.Record) bool) []simulator.Record {
	t.Helper()
	s.idle(t)
	var out []simulator.Record
	for _, r := range s.records(t) {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

// byBody matches the records of one message text.
func byBody(msg string) func(simulator.Record) bool {
	return func(r simulator.Record) bool { return r.Form.Get("Body") == msg }
}

// acceptedCount counts the accepted records among rs.
func acceptedCount(rs []simulator.Record) int {
	n := 0
	for _, r := range rs {
		if r.Accepted {
			n++
		}
	}
	return n
}

// registerPhone registers the digits of an E.164 number that a test sends or
// could cause to be sent: they must never appear unmasked in a log.
func registerPhone(t testing.TB, e164 string) string {
	registerWord("phone", t.Name(), strings.TrimPrefix(e164, "+"))
	return e164
}

// randomName is a fresh random identifier (not a secret).
func randomName(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// retryAfter checks a 429 answer's Retry-After header: present, a whole
// number of seconds, at least 1. It returns the value (0 when bad).
func retryAfter(t testing.TB, a answer) int {
	t.Helper()
	v := a.Header.Get("Retry-After")
	n, err := strconv.Atoi(v)
	if v == "" || err != nil || n < 1 {
		t.Errorf("%s: Retry-After %q, want a whole number of seconds ≥ 1", a, v)
		return 0
	}
	return n
}

// logLine is the part of a caddy JSON log line the attack tests read.
type logLine struct {
	Level   string `json:"level"`
	Logger  string `json:"logger"`
	Msg     string `json:"msg"`
	Route   string `json:"route"`
	Setting string `json:"setting"`
	Panic   string `json:"panic"`
}

// logLines decodes every JSON line of p's output so far.
func logLines(p *proc) []logLine {
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// waitLog waits (at most limit) for a line of p's log that matches.
func waitLog(p *proc, limit time.Duration, match func(logLine) bool) (logLine, bool) {
	deadline := time.Now().Add(limit)
	for {
		for _, l := range logLines(p) {
			if match(l) {
				return l, true
			}
		}
		if time.Now().After(deadline) {
			return logLine{}, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive fails t if the process has exited.
func alive(t testing.TB, p *proc) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("the %s process exited: %v\n%s", p.role, p.err, tail(p.logs.String(), 20))
	default:
	}
}

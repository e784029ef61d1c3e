package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// answer is what a caller got from the generic mapping.
type answer struct {
	Status  int
	OK      bool
	Sid     string
	Account string
	Outcome string // "accepted" for ok answers
	Field   string
	Code    int
	Message string
	Elapsed time.Duration
	Err     error  // transport error or unreadable answer
	Body    string // the raw answer
	Header  http.Header
}

// outcomes are the generic mapping's documented outcomes.
var outcomes = map[string]bool{
	"accepted": true, "rejected": true, "unreachable": true, "unknown": true, "invalid": true,
	"rate_limited": true, "blocked": true, "unavailable": true,
}

// definite reports why a is not a definite answer, or nil.
func (a answer) definite() error {
	switch {
	case a.Err != nil:
		return a.Err
	case a.OK && a.Status != http.StatusOK:
		return fmt.Errorf("ok answer with HTTP %d", a.Status)
	case !a.OK && a.Status < 400:
		return fmt.Errorf("failure answer with HTTP %d", a.Status)
	case !outcomes[a.Outcome]:
		return fmt.Errorf("unknown outcome %q", a.Outcome)
	}
	return nil
}

func (a answer) String() string {
	if a.Err != nil {
		return "error: " + a.Err.Error()
	}
	s := fmt.Sprintf("%d %s", a.Status, a.Outcome)
	if a.Code != 0 {
		s += fmt.Sprintf(" %d", a.Code)
	}
	return s
}

// callerClient is a client that behaves like a legacy product with many
// parallel logins: plenty of connections to one host, a hard timeout. Its
// idle connections are closed when the test ends, before the caddy processes
// are stopped (make it after starting them): Go's transport may have dialled
// a connection it never used, and a server shutting down waits up to 5s for
// such a connection's first request.
func callerClient(t testing.TB, conns int, timeout time.Duration) *http.Client {
	c := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// post sends a form to the adapter and reads the generic answer.
func post(c *http.Client, u string, form url.Values, hdr ...string) answer {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return answer{Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(c, req)
}

// do sends req and reads the generic answer.
func do(c *http.Client, req *http.Request) answer {
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return answer{Err: err, Elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := answer{Status: resp.StatusCode, Elapsed: time.Since(start), Body: string(body), Header: resp.Header}
	if err != nil {
		a.Err = fmt.Errorf("reading the answer: %w", err)
		return a
	}
	var g struct {
		OK      bool   `json:"ok"`
		Sid     string `json:"sid"`
		Account string `json:"account"`
		Error   *struct {
			Outcome string `json:"outcome"`
			Field   string `json:"field"`
			Code    *int   `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &g); err != nil {
		a.Err = fmt.Errorf("answer is not the generic JSON (HTTP %d, %d bytes)", resp.StatusCode, len(body))
		return a
	}
	a.OK, a.Sid, a.Account = g.OK, g.Sid, g.Account
	switch {
	case g.OK:
		a.Outcome = "accepted"
	case g.Error != nil:
		a.Outcome, a.Field, a.Message = g.Error.Outcome, g.Error.Field, g.Error.Message
		if g.Error.Code != nil {
			a.Code = *g.Error.Code
		}
	default:
		a.Err = fmt.Errorf("answer has ok=false and no error object (HTTP %d)", resp.StatusCode)
	}
	return a
}

// smsForm is the generic mapping's form for one message.
func smsForm(to, msg string) url.Values {
	return url.Values{"to": {to}, "message": {msg}}
}

// simControl drives a simulator through its control endpoints.
type simControl struct {
	base string // http://127.0.0.1:port
	c    *http.Client
}

func newSimControl(port int) *simControl {
	return &simControl{base: fmt.Sprintf("http://127.0.0.1:%d", port), c: &http.Client{Timeout: 10 * time.Second}}
}

// fault sets a fault for account: mode and the other form fields in kv pairs.
func (s *simControl) fault(t testing.TB, account, mode string, kv ...string) {
	t.Helper()
	form := url.Values{"account": {account}, "mode": {mode}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	resp, err := s.c.PostForm(s.base+"/_simulator/fault", form)
	if err != nil {
		t.Fatalf("setting fault %s: %v", mode, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("setting fault %s: HTTP %d", mode, resp.StatusCode)
	}
}

func (s *simControl) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	resp, err := s.c.Get(s.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func (s *simControl) stats(t testing.TB) simulator.Stats {
	var st simulator.Stats
	s.getJSON(t, "/_simulator/stats", &st)
	return st
}

func (s *simControl) records(t testing.TB) []simulator.Record {
	var rs []simulator.Record
	s.getJSON(t, "/_simulator/records", &rs)
	return rs
}

// idle waits (at most 10s) until no request is in flight at the simulator,
// so that requests the adapter abandoned are recorded before counting.
func (s *simControl) idle(t testing.TB) simulator.Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.stats(t)
		busy := int64(0)
		for _, a := range st.PerAccount {
			busy += a.InFlight
		}
		if busy == 0 && st.Requests == st.Accepted+st.Rejected {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("simulator still has %d requests in flight after 10s", busy)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// getBody GETs u and returns its body (at most 64 KiB), failing t on errors.
func getBody(t testing.TB, u string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return string(b)
}

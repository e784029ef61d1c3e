package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestBadInput sends malformed, incomplete, oversized and unauthorized
// requests and checks that each gets a clear 4xx naming the field at fault,
// never echoes the submitted values, and sends nothing: the simulator sees no
// request at all.
func TestBadInput(t *testing.T) {
	caddyBin(t)
	acc := newSimAccount(t)
	s := startSim(t, simOptions{}, acc)
	callerSecret := newToken(t, "caller_secret")
	ad := startAdapter(t, "",
		route{path: "/sms", lines: append(accountLines(s, acc), "name bad-input", "timeout 3s", "dial_timeout 500ms")},
		route{path: "/guarded", lines: append(accountLines(s, acc), "name bad-input-guarded", "timeout 3s", "dial_timeout 500ms",
			"caller_auth header Authorization \"Bearer "+callerSecret+"\"",
			"deny_countries GB",
			"rate_limit destination 1 1m")},
	)
	client := callerClient(t, 4, 10*time.Second)
	bearer := "Bearer " + callerSecret

	type tc struct {
		name        string
		path        string
		method      string
		contentType string
		body        string
		header      []string
		// before runs first (and may send); its simulator requests are not counted.
		before func(t *testing.T)

		status  int
		outcome string
		field   string
	}
	to := newPhone(t)
	msg, code := newMessage(t)
	form := func(v url.Values) string { return v.Encode() }
	limited := newPhone(t)
	cases := []tc{
		{name: "JSON cut off", contentType: "application/json",
			body:   fmt.Sprintf(`{"to":%q,"message":%q`, to, msg),
			status: 400, outcome: "invalid", field: "body"},
		{name: "form with a bad escape", contentType: "application/x-www-form-urlencoded",
			body:   "to=%zz&message=" + url.QueryEscape(msg),
			status: 400, outcome: "invalid", field: "body"},
		{name: "XML not well-formed", contentType: "application/xml",
			body:   "<sms><to>" + to + "</to><message>" + msg + "</sms>",
			status: 400, outcome: "invalid", field: "body"},
		{name: "empty body", contentType: "application/x-www-form-urlencoded",
			status: 400, outcome: "invalid", field: "to"},
		{name: "missing to", body: form(url.Values{"message": {msg}}),
			status: 400, outcome: "invalid", field: "to"},
		{name: "missing message", body: form(url.Values{"to": {to}}),
			status: 400, outcome: "invalid", field: "message"},
		{name: "to is not a number", body: form(url.Values{"to": {"call me " + code}, "message": {msg}}),
			status: 400, outcome: "invalid", field: "to"},
		{name: "to too short", body: form(url.Values{"to": {"+1415"}, "message": {msg}}),
			status: 400, outcome: "invalid", field: "to"},
		{name: "JSON to is empty", contentType: "application/json",
			body:   fmt.Sprintf(`{"to":"","message":%q}`, msg),
			status: 400, outcome: "invalid", field: "to"},
		{name: "message over 1600 characters", body: form(url.Values{"to": {to}, "message": {msg + strings.Repeat("x", 1600)}}),
			status: 400, outcome: "invalid", field: "message"},
		{name: "message not UTF-8", body: "to=" + url.QueryEscape(to) + "&message=" + url.QueryEscape(code) + "%FF%FE",
			status: 400, outcome: "invalid", field: "message"},
		{name: "body over 64 KiB", body: form(url.Values{"to": {to}, "message": {msg}, "pad": {strings.Repeat("p", 70<<10)}}),
			status: 413, outcome: "invalid", field: "body"},
		{name: "too many form fields", body: strings.Repeat("k=v&", 3000) + form(url.Values{"to": {to}, "message": {msg}}),
			status: 400, outcome: "invalid", field: "body"},
		{name: "method PUT", method: http.MethodPut, body: form(url.Values{"to": {to}, "message": {msg}}),
			status: 405, outcome: "invalid", field: "method"},
		{name: "no caller credential", path: "/guarded", body: form(url.Values{"to": {to}, "message": {msg}}),
			status: 401, outcome: "invalid", field: "authorization"},
		{name: "wrong caller credential", path: "/guarded", body: form(url.Values{"to": {to}, "message": {msg}}),
			header: []string{"Authorization", "Bearer not-" + callerSecret[:8]},
			status: 401, outcome: "invalid", field: "authorization"},
		{name: "denied country", path: "/guarded", body: form(url.Values{"to": {"+447400123456"}, "message": {msg}}),
			header: []string{"Authorization", bearer},
			status: 403, outcome: "blocked", field: "to"},
		{name: "destination over its rate limit", path: "/guarded",
			body:   form(url.Values{"to": {limited}, "message": {msg + " (again)"}}),
			header: []string{"Authorization", bearer},
			before: func(t *testing.T) {
				other, _ := newMessage(t)
				a := post(client, ad.base()+"/guarded", smsForm(limited, other), "Authorization", bearer)
				if !a.OK {
					t.Fatalf("first message to the number: %s, want 200 accepted", a)
				}
			},
			status: 429, outcome: "rate_limited"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.before != nil {
				c.before(t)
			}
			before := s.idle(t).Requests
			path, method, ct := c.path, c.method, c.contentType
			if path == "" {
				path = "/sms"
			}
			if method == "" {
				method = http.MethodPost
			}
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			req, err := http.NewRequest(method, ad.base()+path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", ct)
			for i := 0; i+1 < len(c.header); i += 2 {
				req.Header.Set(c.header[i], c.header[i+1])
			}
			a := do(client, req)
			if err := a.definite(); err != nil {
				t.Fatalf("no definite answer: %v", err)
			}
			if a.Status != c.status || a.Outcome != c.outcome || a.Field != c.field {
				t.Errorf("got %s field %q (%s), want %d %s field %q", a, a.Field, a.Message, c.status, c.outcome, c.field)
			}
			if c.outcome == "invalid" && !strings.Contains(a.Message, `"`+c.field+`"`) {
				t.Errorf("message %q does not name the field %q", a.Message, c.field)
			}
			for _, v := range []string{code, to[1:], limited[1:], callerSecret} {
				if strings.Contains(a.Body, v) {
					t.Errorf("the answer echoes a submitted value")
				}
			}
			if n := s.idle(t).Requests - before; n != 0 {
				t.Errorf("the simulator got %d requests, want none", n)
			}
		})
	}
}

// TestSlowBodyAnsweredWithinBudget: a caller sends its headers and part of
// the body, then stalls. The route's timeout is "the whole time budget of one
// request, from arrival to answer", so the caller must get a definite 4xx
// naming the body within it, and nothing may be sent. Caddy sets no read
// timeout by default, so the adapter has to bound its own body read.
func TestSlowBodyAnsweredWithinBudget(t *testing.T) {
	caddyBin(t)
	acc := newSimAccount(t)
	s := startSim(t, simOptions{}, acc)
	ad := startAdapter(t, "", route{path: "/sms", lines: append(accountLines(s, acc), "name slow-body", "timeout 1s", "dial_timeout 250ms")})
	msg, _ := newMessage(t)
	body := url.Values{"to": {newPhone(t)}, "message": {msg}}.Encode()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ad.port), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /sms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	_ = conn.SetReadDeadline(time.Now().Add(4 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("no answer %s after the caller stalled its body (route timeout 1s): %v", took.Round(time.Millisecond), err)
	}
	resp.Body.Close()
	if took > time.Second+matrixSlack || resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("HTTP %d after %s, want a 4xx within 1s + %s", resp.StatusCode, took.Round(time.Millisecond), matrixSlack)
	}
	if n := s.idle(t).Requests; n != 0 {
		t.Errorf("the simulator got %d requests, want none", n)
	}
}

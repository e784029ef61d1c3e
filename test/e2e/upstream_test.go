package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawUpstream is a fake Twilio that misbehaves below HTTP, in ways the
// simulator cannot: it reads each request in full, counts it, then acts out
// its mode.
type rawUpstream struct {
	ln       net.Listener
	mode     string
	requests atomic.Int64
	mu       sync.Mutex
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
}

// Modes of rawUpstream.
const (
	rawDrop     = "drop"      // close the connection without a byte of answer
	rawGarbage  = "garbage"   // answer bytes that are not HTTP, then close
	rawHangHead = "hang-head" // never answer (the connection stays open)
	rawHangBody = "hang-body" // answer 201 and headers, one byte of body, then nothing
)

func startRawUpstream(t testing.TB, mode string) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln, mode: mode, conns: map[net.Conn]bool{}}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.mu.Lock()
			u.conns[c] = true
			u.mu.Unlock()
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				u.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		u.mu.Lock()
		for c := range u.conns {
			c.Close()
		}
		u.mu.Unlock()
		u.wg.Wait()
	})
	return u
}

func (u *rawUpstream) url() string { return "http://" + u.ln.Addr().String() }

func (u *rawUpstream) serve(c net.Conn) {
	defer func() {
		c.Close()
		u.mu.Lock()
		delete(u.conns, c)
		u.mu.Unlock()
	}()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // bounded whatever happens
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, req.Body)
	u.requests.Add(1)
	switch u.mode {
	case rawDrop:
		return
	case rawGarbage:
		_, _ = io.WriteString(c, "this is not HTTP\r\n\r\n")
		return
	case rawHangBody:
		_, _ = io.WriteString(c, "HTTP/1.1 201 Created\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 200\r\n\r\n{")
	}
	// Wait until the adapter gives up and closes the connection.
	_, _ = io.Copy(io.Discard, br)
}

// TestUpstreamMisbehaviour points the main account at a fake Twilio that
// fails after the request was written (connection dropped, garbage, no
// answer, a body that never ends), with a healthy fallback account behind
// it. Each request may have reached Twilio, so the adapter must answer within
// its budget, send it exactly once and never fall back; a 201 status line
// means accepted even if the body never arrives.
func TestUpstreamMisbehaviour(t *testing.T) {
	caddyBin(t)
	const n = 6
	cases := []struct {
		mode string
		want want
	}{
		{rawDrop, unknownAnswer},
		{rawGarbage, unknownAnswer},
		{rawHangHead, unknownAnswer},
		{rawHangBody, okAnswer},
	}
	backup := newSimAccount(t)
	s := startSim(t, simOptions{}, backup)
	var routes []route
	ups := map[string]*rawUpstream{}
	for _, c := range cases {
		u := startRawUpstream(t, c.mode)
		ups[c.mode] = u
		routes = append(routes, route{path: "/" + c.mode, lines: []string{
			"name raw-" + c.mode,
			"account_sid " + newAccountSID(),
			"auth_token " + newToken(t, "auth_token"),
			"from +15005550006",
			"api_url " + u.url(),
			"timeout " + matrixTimeout.String(),
			"dial_timeout 250ms",
			"breaker 1000 1s",
			"fallback backup {",
			"\taccount_sid " + backup.sid,
			"\tauth_token " + backup.token,
			"\tfrom +15005550006",
			"\tapi_url " + s.url(),
			"}",
		}})
	}
	ad := startAdapter(t, "", routes...)
	client := callerClient(t, n, 10*time.Second)
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			before := s.idle(t).Requests
			answers := make([]answer, n)
			var wg sync.WaitGroup
			for i := range answers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					msg, _ := newMessage(t)
					answers[i] = post(client, ad.base()+"/"+c.mode, smsForm(newPhone(t), msg))
				}()
			}
			wg.Wait()
			for i, a := range answers {
				if err := a.definite(); err != nil {
					t.Errorf("request %d: no definite answer: %v", i, err)
					continue
				}
				if !matches(a, []want{c.want}) {
					t.Errorf("request %d: %s (%s), want %s", i, a, a.Message, c.want)
				}
				if a.Elapsed > matrixTimeout+matrixSlack {
					t.Errorf("request %d: answered after %s, budget %s", i, a.Elapsed, matrixTimeout+matrixSlack)
				}
			}
			if got := ups[c.mode].requests.Load(); got != n {
				t.Errorf("the fake Twilio got %d requests for %d callers, want exactly one each (never retried)", got, n)
			}
			if got := s.idle(t).Requests - before; got != 0 {
				t.Errorf("the fallback account got %d requests, want none: the main account may have sent them", got)
			}
		})
	}
}

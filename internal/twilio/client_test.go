package twilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRequestURL(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"messages", Request{API: Messages, BaseURL: "https://api.twilio.com/", AccountSID: "AC1"}, "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"},
		{"calls", Request{API: Calls, BaseURL: "https://api.twilio.com", AccountSID: "AC1"}, "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json"},
		{"studio", Request{API: Studio, BaseURL: "https://studio.twilio.com", FlowSID: "FW1"}, "https://studio.twilio.com/v2/Flows/FW1/Executions"},
		{"escaped sid", Request{API: Messages, BaseURL: "https://api.twilio.com", AccountSID: "../x?y"}, "https://api.twilio.com/2010-04-01/Accounts/..%2Fx%3Fy/Messages.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.req.URL(); got != tt.want {
				t.Errorf("URL() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseOutcome(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        Outcome
	}{
		{"json message", 201, "application/json; charset=utf-8",
			`{"sid":"SM0123","status":"queued","error_code":null}`,
			Outcome{HTTPStatus: 201, Accepted: true, Sid: "SM0123", Status: "queued"}},
		{"json error", 400, "application/json",
			`{"code":21211,"message":"The 'To' number 123 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`,
			Outcome{HTTPStatus: 400, ErrorCode: 21211, ErrorMessage: "The 'To' number 123 is not a valid phone number.", MoreInfo: "https://www.twilio.com/docs/errors/21211"}},
		{"xml message", 201, "application/xml",
			`<?xml version='1.0' encoding='UTF-8'?>` + "\n" + `<TwilioResponse><Message><Sid>SMabc</Sid><Status>queued</Status><ErrorCode/></Message></TwilioResponse>`,
			Outcome{HTTPStatus: 201, Accepted: true, Sid: "SMabc", Status: "queued"}},
		{"xml call", 201, "text/xml", `<TwilioResponse><Call><Sid>CAabc</Sid><Status>queued</Status></Call></TwilioResponse>`,
			Outcome{HTTPStatus: 201, Accepted: true, Sid: "CAabc", Status: "queued"}},
		{"xml error", 401, "application/xml",
			`<TwilioResponse><RestException><Code>20003</Code><Detail>Your AccountSid or AuthToken was incorrect.</Detail><Message>Authenticate</Message><MoreInfo>https://www.twilio.com/docs/errors/20003</MoreInfo><Status>401</Status></RestException></TwilioResponse>`,
			Outcome{HTTPStatus: 401, ErrorCode: 20003, ErrorMessage: "Authenticate", MoreInfo: "https://www.twilio.com/docs/errors/20003"}},
		{"xml sniffed without content type", 400, "", `<TwilioResponse><RestException><Code>21604</Code><Message>m</Message></RestException></TwilioResponse>`,
			Outcome{HTTPStatus: 400, ErrorCode: 21604, ErrorMessage: "m"}},
		{"malformed 2xx stays accepted", 201, "application/json", `{"sid":"SM`,
			Outcome{HTTPStatus: 201, Accepted: true, Malformed: true}},
		{"2xx without sid", 201, "application/json", `{}`,
			Outcome{HTTPStatus: 201, Accepted: true, Malformed: true}},
		{"error without code", 502, "text/html", `<html>bad gateway</html>`,
			Outcome{HTTPStatus: 502, Malformed: true}},
		{"empty error", 503, "application/json", ``,
			Outcome{HTTPStatus: 503, Malformed: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseOutcome(tt.status, tt.contentType, []byte(tt.body))
			got.Body, got.ContentType = nil, ""
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("parseOutcome = %+v\nwant          %+v", *got, tt.want)
			}
		})
	}
}

func TestSendRequestShape(t *testing.T) {
	var got *http.Request
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Twilio-Concurrent-Requests", "7")
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `{"sid":"SM1","status":"queued"}`)
	}))
	defer srv.Close()
	c := NewClient(ClientOptions{})
	params := url.Values{"To": {"+15005550006"}, "Body": {"a&b=c +1 \"ü\"\n"}}
	o, err := c.Send(context.Background(), &Request{API: Messages, BaseURL: srv.URL, AccountSID: "AC1", Username: "AC1", Password: "tok", Params: params})
	if err != nil {
		t.Fatal(err)
	}
	if !o.Accepted || o.Sid != "SM1" || o.ConcurrentRequests != 7 {
		t.Errorf("outcome %+v", o)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/2010-04-01/Accounts/AC1/Messages.json" {
		t.Errorf("request %s %s", got.Method, got.URL.Path)
	}
	if u, p, ok := got.BasicAuth(); !ok || u != "AC1" || p != "tok" {
		t.Errorf("basic auth %q %q %v", u, p, ok)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("content type %q", ct)
	}
	for _, h := range []string{"Idempotency-Key", "X-Idempotency-Key"} {
		if got.Header.Get(h) != "" {
			t.Errorf("request carries %s: Go's transport could replay it", h)
		}
	}
	back, _ := url.ParseQuery(body)
	if back.Get("Body") != params.Get("Body") || back.Get("To") != "+15005550006" {
		t.Errorf("form round trip: %q", body)
	}
}

func TestSendNeverFollowsRedirects(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed.Add(1) }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	o, err := NewClient(ClientOptions{}).Send(context.Background(), &Request{API: Messages, BaseURL: srv.URL, AccountSID: "AC1", Params: url.Values{}})
	if err != nil {
		t.Fatal(err)
	}
	if o.Accepted || o.HTTPStatus != http.StatusTemporaryRedirect || followed.Load() != 0 {
		t.Errorf("redirect: outcome %+v, followed %d", o, followed.Load())
	}
}

func TestSendErrorsTellWhetherTwilioMayHaveIt(t *testing.T) {
	// A closed port: nothing can have been sent.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	// A server that reads the request, then drops the connection.
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer reset.Close()

	// A server slower than the deadline.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer slow.Close()

	tests := []struct {
		name        string
		base        string
		timeout     time.Duration
		wantReached bool
		wantTimeout bool
	}{
		{"refused", closed, time.Second, false, false},
		{"reset after sending", reset.URL, time.Second, true, false},
		{"timeout after sending", slow.URL, 100 * time.Millisecond, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			_, err := NewClient(ClientOptions{}).Send(ctx, &Request{API: Messages, BaseURL: tt.base, AccountSID: "AC1", Params: url.Values{"To": {"+1"}}})
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *SendError", err)
			}
			if se.MayHaveReached() != tt.wantReached || se.Timeout != tt.wantTimeout {
				t.Errorf("reached=%v timeout=%v, want %v %v (%v)", se.MayHaveReached(), se.Timeout, tt.wantReached, tt.wantTimeout, err)
			}
			if strings.Contains(err.Error(), "AC1") {
				t.Errorf("error text carries the request URL: %v", err)
			}
		})
	}
}

func FuzzParseOutcome(f *testing.F) {
	f.Add(201, "application/json", []byte(`{"sid":"SM1","status":"queued"}`))
	f.Add(400, "application/xml", []byte(`<TwilioResponse><RestException><Code>1</Code></RestException></TwilioResponse>`))
	f.Add(500, "", []byte(`<`))
	f.Fuzz(func(t *testing.T, status int, ct string, body []byte) {
		o := parseOutcome(status, ct, body)
		if o.Accepted != (status >= 200 && status < 300) {
			t.Fatalf("accepted %v for status %d", o.Accepted, status)
		}
	})
}

func TestAppendFormIsValuesEncode(t *testing.T) {
	many := url.Values{}
	for i := range 40 { // more keys than the stack buffer sorts
		many.Set(string(rune('A'+i%26))+strings.Repeat("k", i), "v")
	}
	for _, v := range []url.Values{
		nil,
		{},
		{"To": {"+15005550006"}},
		{"To": {"+15005550006"}, "Body": {"a&b=c +1 \"ü\"\n%~._-*"}, "From": {"whatsapp:+1"}},
		{"K": {"1", "", "3"}, "E": {}, "": {"x"}, "a b": {"ü"}},
		many,
	} {
		want := v.Encode()
		if n := formLen(v); n != len(want) {
			t.Errorf("formLen(%v) = %d, want %d", v, n, len(want))
		}
		if got := string(appendForm([]byte("pre"), v)); got != "pre"+want {
			t.Errorf("appendForm(%v) = %q, want %q", v, got, "pre"+want)
		}
	}
}

func FuzzAppendForm(f *testing.F) {
	f.Add("To", "+15005550006", "Body", "Your code is 123456")
	f.Add("a b", "\x00\xff&=+%", "", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		v := url.Values{k1: {v1, v2}, k2: {v2}}
		want := v.Encode()
		if got := string(appendForm(nil, v)); got != want || formLen(v) != len(want) {
			t.Fatalf("appendForm = %q (len %d), want %q", got, formLen(v), want)
		}
	})
}

func TestBasicAuthFor(t *testing.T) {
	user, pass := "AC1", strings.Repeat("t", 32)
	a := NewBasicAuth(user, pass)
	if !a.For(user, pass) {
		t.Error("For the strings it was built from = false")
	}
	// Equal text in other memory (a caller's credentials) is not the account's.
	if a.For(strings.Clone(user), strings.Clone(pass)) || a.For(user, strings.Clone(pass)) || a.For(user, pass[:31]) {
		t.Error("For other strings = true")
	}
	if (*BasicAuth)(nil).For(user, pass) {
		t.Error("nil BasicAuth For = true")
	}
	for _, s := range []string{a.String(), fmt.Sprintf("%v %+v %#v", a, a, a)} {
		if strings.Contains(s, pass) || strings.Contains(s, "dDEx") {
			t.Errorf("BasicAuth prints its secret: %s", s)
		}
	}
}

// recordingTransport answers 201 and keeps every request it was given.
type recordingTransport struct {
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	rt.mu.Lock()
	rt.reqs, rt.body = append(rt.reqs, r), append(rt.body, string(b))
	rt.mu.Unlock()
	const reply = `{"sid":"SM1","status":"queued"}`
	return &http.Response{StatusCode: 201, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(reply)), ContentLength: int64(len(reply)), Request: r}, nil
}

func TestSendUsesBasicAuthOnlyForItsCredentials(t *testing.T) {
	user, pass := "AC00000000000000000000000000000001", "main-token"
	auth := NewBasicAuth(user, pass)
	rt := &recordingTransport{}
	c := NewClient(ClientOptions{Transport: rt})
	params := url.Values{"To": {"+15005550006"}, "Body": {"code 1"}}
	send := func(u, p string) *http.Request {
		t.Helper()
		req := &Request{API: Messages, BaseURL: "https://api.twilio.com", AccountSID: user, Username: u, Password: p, Params: params, Auth: auth}
		if _, err := c.Send(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		return rt.reqs[len(rt.reqs)-1]
	}
	for _, tt := range []struct{ name, user, pass string }{
		{"the account's own", user, pass},
		{"again, shared header", user, pass},
		{"a caller's on a copy of the account", "AC00000000000000000000000000000002", "caller-token"},
		{"equal text, other memory", strings.Clone(user), strings.Clone(pass)},
		{"the account's user, another secret", user, "other"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := send(tt.user, tt.pass)
			if u, p, ok := r.BasicAuth(); !ok || u != tt.user || p != tt.pass {
				t.Errorf("basic auth %q %q %v, want %q %q", u, p, ok, tt.user, tt.pass)
			}
			if len(r.Header) != 4 || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
				r.Header.Get("Accept") != "application/json" || r.Header.Get("User-Agent") != "caddy-twilio-sms" {
				t.Errorf("header %v", r.Header)
			}
			if r.URL.String() != "https://api.twilio.com/2010-04-01/Accounts/"+user+"/Messages.json" || r.Host != "api.twilio.com" {
				t.Errorf("URL %s host %s", r.URL, r.Host)
			}
		})
	}
	if got, want := rt.body[0], params.Encode(); got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	if rt.reqs[0].ContentLength != int64(len(rt.body[0])) {
		t.Errorf("ContentLength %d, body %d bytes", rt.reqs[0].ContentLength, len(rt.body[0]))
	}
	// Only the configured account's URL is kept.
	if len(c.urls) != 1 {
		t.Errorf("%d URLs kept, want 1", len(c.urls))
	}
}

func TestSendRequestMatchesNewRequest(t *testing.T) {
	// The request Send builds is the one http.NewRequestWithContext would
	// build, header and URL aside: same method, protocol, length, host, and a
	// GetBody that gives the body again.
	for _, params := range []url.Values{{"To": {"+1"}, "Body": {strings.Repeat("long ü ", 100)}}, {"To": {"+1"}}, {}} {
		rt := &recordingTransport{}
		c := NewClient(ClientOptions{Transport: rt})
		req := &Request{API: Calls, BaseURL: "http://127.0.0.1:/", AccountSID: "AC1", Username: "u", Password: "p", Params: params}
		if _, err := c.Send(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		body := params.Encode()
		want, err := http.NewRequestWithContext(context.Background(), http.MethodPost, req.URL(), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got := rt.reqs[0]
		if got.Method != want.Method || got.Proto != want.Proto || got.ProtoMajor != 1 || got.ProtoMinor != 1 ||
			got.ContentLength != want.ContentLength || got.Host != want.Host || got.URL.String() != want.URL.String() ||
			(got.Body == http.NoBody) != (want.Body == http.NoBody) {
			t.Errorf("request %+v\nwant    %+v", got, want)
		}
		if rt.body[0] != body {
			t.Errorf("body %q, want %q", rt.body[0], body)
		}
		for range 2 {
			rc, err := got.GetBody()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			if string(b) != body {
				t.Errorf("GetBody gave %q, want %q", b, body)
			}
		}
	}
}

// replyTransport answers with a fixed status, body and announced length.
type replyTransport struct {
	body   string
	length int64
	err    error // returned by the body after its bytes
}

type errAfter struct {
	r   io.Reader
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF && e.err != nil {
		return n, e.err
	}
	return n, err
}

func (rt replyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 400, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(&errAfter{strings.NewReader(rt.body), rt.err}), ContentLength: rt.length, Request: r}, nil
}

func TestSendReadsTheReplyAsReadAll(t *testing.T) {
	const reply = `{"code":21211,"message":"The 'To' number is not valid.","more_info":"https://www.twilio.com/docs/errors/21211"}`
	big := `{"code":1,"message":"` + strings.Repeat("x", MaxReplyBytes) + `"}`
	tests := []struct {
		name    string
		rt      replyTransport
		want    string
		wantErr bool
	}{
		{"announced", replyTransport{body: reply, length: int64(len(reply))}, reply, false},
		{"unknown length", replyTransport{body: reply, length: -1}, reply, false},
		{"longer than announced", replyTransport{body: reply, length: 10}, reply, false},
		{"one byte more than announced", replyTransport{body: reply, length: int64(len(reply) - 1)}, reply, false},
		{"shorter than announced", replyTransport{body: reply, length: 4096}, reply, false},
		{"cut by the cap", replyTransport{body: big, length: int64(len(big))}, big[:MaxReplyBytes], false},
		{"announced at the cap, more sent", replyTransport{body: big, length: MaxReplyBytes}, big[:MaxReplyBytes], false},
		{"longer than announced, past the cap", replyTransport{body: big, length: 10}, big[:MaxReplyBytes], false},
		{"broken off", replyTransport{body: reply[:20], length: int64(len(reply)), err: io.ErrUnexpectedEOF}, "", true},
		{"broken off after the announced length", replyTransport{body: reply, length: 10, err: io.ErrUnexpectedEOF}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClient(ClientOptions{Transport: tt.rt})
			o, err := c.Send(context.Background(), &Request{API: Messages, BaseURL: "https://api.twilio.com", AccountSID: "AC1", Params: url.Values{"To": {"+1"}}})
			if tt.wantErr {
				var se *SendError
				if !errors.As(err, &se) || !se.Reached {
					t.Errorf("err = %v, want a SendError after reaching Twilio", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(o.Body) != tt.want {
				t.Errorf("body %d bytes, want %d", len(o.Body), len(tt.want))
			}
		})
	}
}

func TestSendKeepsTheConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `{"sid":"SM1","status":"queued"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := NewClient(ClientOptions{})
	defer c.CloseIdleConnections()
	auth := NewBasicAuth("AC1", "tok")
	for range 5 {
		o, err := c.Send(context.Background(), &Request{API: Messages, BaseURL: srv.URL, AccountSID: "AC1", Username: "AC1", Password: "tok", Auth: auth, Params: url.Values{"To": {"+1"}}})
		if err != nil || !o.Accepted || o.Sid != "SM1" || o.Status != "queued" {
			t.Fatalf("outcome %+v, %v", o, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 5 sequential requests, want 1", n)
	}
}

func TestParseOutcomeKeepsNoView(t *testing.T) {
	// Values read from the reply are copies: the reply (which echoes the
	// message text) is not kept alive by the SID, and changing it later
	// changes nothing read from it.
	body := []byte(`{"sid":"SMabc","status":"weird","code":1}`)
	o := parseOutcome(201, "application/json", body)
	e := parseOutcome(400, "application/json", []byte(`{"code":21211,"message":"bad","more_info":"https://x"}`))
	for i := range body {
		body[i] = 'x'
	}
	if o.Sid != "SMabc" || o.Status != "weird" || e.ErrorMessage != "bad" || e.MoreInfo != "https://x" {
		t.Errorf("outcomes changed with the reply: %+v %+v", o, e)
	}
}

func TestAppendFormAllocatesNothing(t *testing.T) {
	v := url.Values{"To": {"+15005550006"}, "Body": {"Your code is 123456"}, "From": {"+15005550006"}}
	buf := make([]byte, 0, 256)
	if got := string(AppendForm(buf, v)); got != v.Encode() {
		t.Fatalf("AppendForm = %q, want %q", got, v.Encode())
	}
	if n := testing.AllocsPerRun(100, func() { buf = AppendForm(buf[:0], v) }); n != 0 {
		t.Errorf("AppendForm allocates %v times, want 0", n)
	}
}

package twilio

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
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

package twilio

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"time"
)

// MaxReplyBytes caps how much of Twilio's reply is read. A Message resource is
// about 1 KiB; anything far larger is not Twilio.
const MaxReplyBytes = 256 << 10

// ClientOptions shape the HTTP client. Zero values get the documented defaults.
type ClientOptions struct {
	// DialTimeout bounds TCP connect plus TLS handshake. Default 2s.
	DialTimeout time.Duration
	// MaxIdleConnsPerHost keeps warm connections to Twilio. Default 64.
	MaxIdleConnsPerHost int
	// UserAgent is sent on every request. Default "caddy-twilio-sms".
	UserAgent string
	// Transport replaces the default transport (tests).
	Transport http.RoundTripper
}

// Client sends one request to Twilio per Send call and never replays it.
type Client struct {
	rt        http.RoundTripper
	userAgent []string
}

var (
	formContentType = []string{"application/x-www-form-urlencoded"}
	acceptJSON      = []string{"application/json"}
)

// NewClient builds a Client. Redirects are never followed: the upstream host
// comes only from configuration (OWASP API7 SSRF guidance; twilio-go does the same).
func NewClient(o ClientOptions) *Client {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 64
	}
	if o.UserAgent == "" {
		o.UserAgent = "caddy-twilio-sms"
	}
	rt := o.Transport
	if rt == nil {
		dialer := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
		rt = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         dialer.DialContext,
			TLSHandshakeTimeout: o.DialTimeout,
			MaxIdleConns:        4 * o.MaxIdleConnsPerHost,
			MaxIdleConnsPerHost: o.MaxIdleConnsPerHost,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}
	}
	// The transport is called directly, not through http.Client: a redirect
	// is then just a non-2xx answer, never followed.
	return &Client{rt: rt, userAgent: []string{o.UserAgent}}
}

// CloseIdleConnections releases pooled connections (on Caddy config unload).
func (c *Client) CloseIdleConnections() {
	if ci, ok := c.rt.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// SendError is a transport failure: no HTTP reply was read from Twilio.
type SendError struct {
	// Reached is false only when no connection to Twilio was ever obtained, so no
	// byte of the request can have reached it (refused, DNS failure, dial timeout,
	// TLS failure). Anything later must be treated as "may have been sent".
	Reached bool
	// Timeout is set when the context deadline or a network timeout ended the call.
	Timeout bool
	Err     error
}

func (e *SendError) Error() string {
	stage := "before connecting"
	if e.Reached {
		stage = "after the request may have reached Twilio"
	}
	return fmt.Sprintf("twilio request failed %s: %v", stage, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// MayHaveReached reports whether Twilio may have received (and acted on) the request.
func (e *SendError) MayHaveReached() bool { return e.Reached }

// Send makes exactly one HTTP request. A non-2xx reply is not an error: it comes
// back as an Outcome with Twilio's code. The returned error is always a *SendError.
//
// The request never carries an Idempotency-Key header: Go's transport treats a
// POST with that header as replayable and may silently resend it, and Twilio does
// not deduplicate Messages by it.
func (c *Client) Send(ctx context.Context, r *Request) (*Outcome, error) {
	body := r.Params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL(), strings.NewReader(body))
	if err != nil {
		return nil, &SendError{Err: err}
	}
	// One literal header map; the constant values are shared, read-only slices.
	req.Header = http.Header{
		"Content-Type":  formContentType,
		"Accept":        acceptJSON,
		"User-Agent":    c.userAgent,
		"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(r.Username+":"+r.Password))},
	}

	var gotConn bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { gotConn = true }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))

	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return nil, &SendError{Reached: gotConn, Timeout: isTimeout(ctx, err), Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxReplyBytes))
	if err != nil {
		// The status line arrived: a 2xx means Twilio accepted even if the body broke off.
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			o := parseOutcome(resp.StatusCode, resp.Header.Get("Content-Type"), nil)
			o.Malformed = true
			return o, nil
		}
		return nil, &SendError{Reached: true, Timeout: isTimeout(ctx, err), Err: err}
	}
	o := parseOutcome(resp.StatusCode, resp.Header.Get("Content-Type"), data)
	if v := resp.Header.Get("Twilio-Concurrent-Requests"); v != "" {
		o.ConcurrentRequests, _ = strconv.Atoi(v)
	}
	o.Header = relayed(resp.Header)
	return o, nil
}

// Forwarded is Twilio's answer to a forwarded request, relayed as it came.
type Forwarded struct {
	Status int
	Header http.Header
	Body   []byte
}

// hopHeaders are not relayed in either direction (RFC 9110 connection
// handling, and lengths the server sets itself).
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Content-Length": true,
}

// Forward makes exactly one request to Twilio for a caller that speaks
// Twilio's API itself (fetch, list, update or delete a resource), with the
// caller's own method, path, query, credentials and body, and returns
// Twilio's answer unchanged. Like Send it never follows a redirect and never
// replays the request. url must come from configuration (the account's API
// base) plus the caller's path; header is the caller's, less hop-by-hop
// headers.
func (c *Client) Forward(ctx context.Context, method, url string, header http.Header, body []byte) (*Forwarded, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, &SendError{Err: err}
	}
	for k, v := range header {
		if !hopHeaders[http.CanonicalHeaderKey(k)] {
			req.Header[k] = v
		}
	}
	if len(body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	var gotConn bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { gotConn = true }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return nil, &SendError{Reached: gotConn, Timeout: isTimeout(ctx, err), Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxForwardBytes))
	if err != nil {
		return nil, &SendError{Reached: true, Timeout: isTimeout(ctx, err), Err: err}
	}
	out := &Forwarded{Status: resp.StatusCode, Header: make(http.Header, len(resp.Header)), Body: data}
	for k, v := range resp.Header {
		if !hopHeaders[k] {
			out.Header[k] = v
		}
	}
	return out, nil
}

// MaxForwardBytes bounds a forwarded answer (a page of a list is well under it).
const MaxForwardBytes = 8 << 20

func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

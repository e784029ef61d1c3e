package twilio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
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

	// urls are the parsed request URLs of configured accounts (requests
	// with their own BasicAuth), shared read-only by their requests.
	mu   sync.RWMutex
	urls map[endpointKey]*url.URL
}

// endpointKey is what Request.URL depends on.
type endpointKey struct {
	api                 API
	base, account, flow string
}

// maxEndpoints bounds the URL cache: a few per configured account.
const maxEndpoints = 256

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

// endpoint is r's URL, parsed as http.NewRequest does. The parsed URL of a
// configured account is kept and shared by its requests (a RoundTripper
// must not modify a request); any other (a passthrough caller's account) is
// parsed for its request alone.
func (c *Client) endpoint(r *Request, configured bool) (*url.URL, error) {
	k := endpointKey{api: r.API, base: r.BaseURL, account: r.AccountSID, flow: r.FlowSID}
	if configured {
		c.mu.RLock()
		u := c.urls[k]
		c.mu.RUnlock()
		if u != nil {
			return u, nil
		}
	}
	u, err := url.Parse(r.URL())
	if err != nil {
		return nil, err
	}
	// The host's colon:port is normalized as http.NewRequest does.
	if strings.LastIndex(u.Host, ":") > strings.LastIndex(u.Host, "]") {
		u.Host = strings.TrimSuffix(u.Host, ":")
	}
	if configured {
		c.mu.Lock()
		if c.urls == nil {
			c.urls = make(map[endpointKey]*url.URL)
		}
		if len(c.urls) < maxEndpoints {
			c.urls[k] = u
		}
		c.mu.Unlock()
	}
	return u, nil
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
	if ctx == nil {
		return nil, &SendError{Err: errors.New("net/http: nil Context")}
	}
	auth := r.Auth
	if !auth.For(r.Username, r.Password) {
		auth = nil // built for other credentials: never used for these
	}
	u, err := c.endpoint(r, auth != nil)
	if err != nil {
		return nil, &SendError{Err: err}
	}
	// One allocation for the per-request state: the body reader, its bytes
	// (when they fit), the trace and what it saw.
	st := new(sendState)
	body := st.form[:0]
	if n := formLen(r.Params); n > len(st.form) {
		body = make([]byte, 0, n)
	}
	body = appendForm(body, r.Params)
	st.body.Reset(body)
	st.trace.GotConn = func(httptrace.GotConnInfo) { st.gotConn = true }
	ctx = httptrace.WithClientTrace(ctx, &st.trace)

	var header http.Header
	switch {
	case r.UserAgent != "":
		// A Twilio-speaking caller's own client name goes to Twilio as it
		// would without the adapter.
		header = requestHeader([]string{r.UserAgent}, []string{basicValue(r.Username, r.Password)})
	case auth != nil:
		header = auth.header(c.userAgent) // shared and read-only, built once per account
	default:
		header = requestHeader(c.userAgent, []string{basicValue(r.Username, r.Password)})
	}
	// What http.NewRequestWithContext builds for a *bytes.Reader body, with
	// the parsed URL and the header made once: Go's transport sees an
	// in-memory body (headers and body go out in one write) that it can
	// rewind only for a request it never wrote (GetBody), and no
	// Idempotency-Key, so it never replays a request that it wrote.
	req := (&http.Request{
		Method:        http.MethodPost,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          io.NopCloser(&st.body),
		GetBody:       st.getBody,
		ContentLength: int64(len(body)),
		Host:          u.Host,
	}).WithContext(ctx)
	if len(body) == 0 {
		req.Body, req.GetBody = http.NoBody, noBody
	}

	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return nil, &SendError{Reached: st.gotConn, Timeout: isTimeout(ctx, err), Err: err}
	}
	defer resp.Body.Close()
	data, err := readReply(resp, &st.probe)
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

// sendState is what one Send keeps for the transport. It is not pooled: the
// transport may still hold the body after RoundTrip returns.
type sendState struct {
	body    bytes.Reader
	trace   httptrace.ClientTrace
	gotConn bool
	probe   [1]byte
	// form holds the encoded parameters when they fit (an OTP message
	// does), so that they need no allocation of their own.
	form [384]byte
}

// getBody rewinds the body for Go's transport, which asks only when it wrote
// nothing of the request (a pooled connection that was already closed).
func (st *sendState) getBody() (io.ReadCloser, error) {
	r := st.body
	_, _ = r.Seek(0, io.SeekStart)
	return io.NopCloser(&r), nil
}

func noBody() (io.ReadCloser, error) { return http.NoBody, nil }

// readReply reads Twilio's reply, at most MaxReplyBytes: into one buffer of
// the announced length when there is one (Twilio sends Content-Length), else
// as io.ReadAll does. The result is what io.ReadAll(io.LimitReader(resp.Body,
// MaxReplyBytes)) gives.
func readReply(resp *http.Response, probe *[1]byte) ([]byte, error) {
	n := resp.ContentLength
	if n < 0 || n > MaxReplyBytes {
		return io.ReadAll(io.LimitReader(resp.Body, MaxReplyBytes))
	}
	data := make([]byte, n)
	for off := 0; off < len(data); {
		m, err := resp.Body.Read(data[off:])
		off += m
		if err == io.EOF {
			return data[:off], nil // shorter than announced: what arrived
		}
		if err != nil {
			return nil, err
		}
	}
	if n == MaxReplyBytes {
		return data, nil
	}
	// The announced length is read; Go's transport reports EOF with the last
	// bytes already, so this costs nothing. A transport that does not enforce
	// Content-Length gets the rest read on.
	for {
		m, err := resp.Body.Read(probe[:])
		if m > 0 {
			rest, err := io.ReadAll(io.LimitReader(resp.Body, MaxReplyBytes-n-1))
			if err != nil {
				return nil, err
			}
			out := make([]byte, 0, len(data)+1+len(rest))
			return append(append(append(out, data...), probe[0]), rest...), nil
		}
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
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

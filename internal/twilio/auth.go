package twilio

import (
	"encoding/base64"
	"net/http"
	"sync/atomic"
	"unsafe"
)

// BasicAuth is an account's HTTP Basic credentials with the Authorization
// header computed once, when the account is set up, instead of per request.
// It is immutable except for the header set it caches; it holds the secret, like
// the account itself, and never prints it.
type BasicAuth struct {
	user, pass string
	value      []string // {"Basic base64(user:pass)"}: shared, read-only
	headers    atomic.Pointer[headerSet]
}

// headerSet is the whole request header of one client for one account:
// shared by every request, read-only (a RoundTripper must not modify the
// request it is given).
type headerSet struct {
	userAgent string
	header    http.Header
}

// NewBasicAuth computes the Authorization header for user and pass.
func NewBasicAuth(user, pass string) *BasicAuth {
	return &BasicAuth{user: user, pass: pass, value: []string{basicValue(user, pass)}}
}

// basicValue is what http.Request.SetBasicAuth puts in the header.
func basicValue(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// For reports whether a was built for exactly these strings: the same
// bytes in the same memory, not merely equal text. The test takes constant
// time and never compares a secret byte by byte, so a request carrying
// someone else's credentials (a passthrough caller's, on a copy of an
// account) can neither use a's header nor learn anything about a's secret.
func (a *BasicAuth) For(user, pass string) bool {
	return a != nil && sameString(a.user, user) && sameString(a.pass, pass)
}

func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// String never shows the credentials.
func (a *BasicAuth) String() string { return "BasicAuth(REDACTED)" }

// GoString keeps %#v from printing the secret.
func (a *BasicAuth) GoString() string { return a.String() }

// header is the shared request header for a client with userAgent.
func (a *BasicAuth) header(userAgent []string) http.Header {
	if hs := a.headers.Load(); hs != nil && hs.userAgent == userAgent[0] {
		return hs.header
	}
	h := requestHeader(userAgent, a.value)
	a.headers.Store(&headerSet{userAgent: userAgent[0], header: h})
	return h
}

// requestHeader is the header of every request to Twilio. The values are
// shared, read-only slices.
func requestHeader(userAgent, authorization []string) http.Header {
	return http.Header{
		"Content-Type":  formContentType,
		"Accept":        acceptJSON,
		"User-Agent":    userAgent,
		"Authorization": authorization,
	}
}

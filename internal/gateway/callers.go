package gateway

import (
	"crypto/subtle"
	"net/http"
)

// Credential is one accepted caller credential: a fixed header value, or an
// HTTP Basic user name and password.
type Credential struct {
	// Header and Value: the header must carry exactly Value.
	Header, Value string
	// Username and Password: HTTP Basic credentials (when Header is empty).
	Username, Password string
	// Identity is the caller this credential proves, the key of per-caller limits.
	Identity string
}

// Callers are a route's accepted caller credentials; empty means any caller.
type Callers []Credential

// Verify checks r against every credential in constant time and returns the
// verified identity of the caller: "auth:" and the matching credential's
// identity, or "ip:" and clientIP when the route accepts any caller. ok is
// false when credentials are required and none matched. Nothing the caller
// merely claims (a Basic user name that no credential checks) becomes an
// identity, so spraying names buys no fresh limit.
func (c Callers) Verify(r *http.Request, clientIP string) (identity string, ok bool) {
	if len(c) == 0 {
		return "ip:" + clientIP, true
	}
	user, pass, hasBasic := r.BasicAuth()
	match := -1
	for i := range c {
		cr := &c[i]
		var eq int
		if cr.Header != "" {
			eq = subtle.ConstantTimeCompare([]byte(r.Header.Get(cr.Header)), []byte(cr.Value))
		} else {
			u := subtle.ConstantTimeCompare([]byte(user), []byte(cr.Username))
			p := subtle.ConstantTimeCompare([]byte(pass), []byte(cr.Password))
			if hasBasic {
				eq = u & p
			}
		}
		if eq == 1 && match < 0 {
			match = i
		}
	}
	if match < 0 {
		return "", false
	}
	return "auth:" + c[match].Identity, true
}

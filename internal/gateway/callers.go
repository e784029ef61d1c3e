package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Credential kinds.
const (
	// KindHeader: a header must carry exactly Value.
	KindHeader = "header"
	// KindBasic: HTTP Basic Username and Password.
	KindBasic = "basic"
	// KindBearer: "Authorization: Bearer <Value>".
	KindBearer = "bearer"
	// KindParams: every Params pair must be present as a query or form
	// parameter (Kannel's username/password, Jasmin's, RSA's).
	KindParams = "params"
	// KindStandardWebhooks: a Standard Webhooks signature (Supabase's hooks):
	// webhook-signature holds "v1,<base64 HMAC-SHA256 of id.timestamp.body>"
	// entries, keyed by Secret.
	KindStandardWebhooks = "standard_webhooks"
	// KindZitadelSignature: "ZITADEL-Signature: t=<unix>,v1=<hex
	// HMAC-SHA256 of t.body>", keyed by Secret.
	KindZitadelSignature = "zitadel_signature"
)

// SignatureTolerance is how far a signed request's timestamp may be from now,
// either way: older ones are replays, newer ones come from a wrong clock.
const SignatureTolerance = 5 * time.Minute

// Credential is one accepted caller credential. Every comparison is constant
// time; no secret is ever part of an error or a log line.
type Credential struct {
	// Kind is one of the Kind constants.
	Kind string
	// Header and Value (KindHeader), Value alone (KindBearer).
	Header, Value string
	// Username and Password (KindBasic).
	Username, Password string
	// Params are name/value pairs (KindParams).
	Params [][2]string
	// Secret is the HMAC key of a signature kind (already decoded).
	Secret []byte
	// Identity is the caller this credential proves, the key of per-caller limits.
	Identity string
}

// Callers are a route's accepted caller credentials; empty means any caller.
type Callers []Credential

// NeedsBody reports whether verifying needs the request body (signatures,
// form parameters), so that the body is read before the caller is checked.
func (c Callers) NeedsBody() bool {
	for i := range c {
		switch c[i].Kind {
		case KindParams, KindStandardWebhooks, KindZitadelSignature:
			return true
		}
	}
	return false
}

// Verify checks r (with its body, exactly as received) against every
// credential and returns the verified identity of the caller: "auth:" and the
// matching credential's identity, or "ip:" and clientIP when the route accepts
// any caller. ok is false when credentials are required and none matched.
// Nothing the caller merely claims (a Basic user name that no credential
// checks) becomes an identity, so spraying names buys no fresh limit.
func (c Callers) Verify(r *http.Request, body []byte, clientIP string, now time.Time) (identity string, ok bool) {
	if len(c) == 0 {
		return "ip:" + clientIP, true
	}
	var form url.Values // parsed once, for params
	match := -1
	for i := range c {
		cr := &c[i]
		var good bool
		switch cr.Kind {
		case KindHeader:
			good = equal(r.Header.Get(cr.Header), cr.Value)
		case KindBasic:
			user, pass, has := r.BasicAuth()
			u, p := equal(user, cr.Username), equal(pass, cr.Password)
			good = has && u && p
		case KindBearer:
			auth := r.Header.Get("Authorization")
			token, found := strings.CutPrefix(auth, "Bearer ")
			good = equal(token, cr.Value) && found
		case KindParams:
			if form == nil {
				form = requestParams(r, body)
			}
			good = len(cr.Params) > 0
			for _, p := range cr.Params {
				if !equal(form.Get(p[0]), p[1]) {
					good = false
				}
			}
		case KindStandardWebhooks:
			good = verifyStandardWebhooks(r.Header, body, cr.Secret, now)
		case KindZitadelSignature:
			good = verifyZitadel(r.Header.Get("ZITADEL-Signature"), body, cr.Secret, now)
		}
		if good && match < 0 {
			match = i
		}
	}
	if match < 0 {
		return "", false
	}
	return "auth:" + c[match].Identity, true
}

// equal compares in constant time (for equal lengths; a length differs in
// no secret-dependent way that helps an attacker more than the value does).
func equal(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// requestParams are the query parameters and, for a form body, the form's.
func requestParams(r *http.Request, body []byte) url.Values {
	v := r.URL.Query()
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		if f, err := url.ParseQuery(string(body)); err == nil {
			for k, vs := range f {
				v[k] = append(v[k], vs...)
			}
		}
	}
	return v
}

// withinTolerance checks a Unix timestamp against now.
func withinTolerance(ts string, now time.Time) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	d := now.Sub(time.Unix(sec, 0))
	return d <= SignatureTolerance && d >= -SignatureTolerance
}

func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// verifyStandardWebhooks implements the Standard Webhooks scheme: the signed
// content is "<webhook-id>.<webhook-timestamp>.<body>"; webhook-signature is
// a space-separated list of "v1,<base64>" entries, any of which may match.
func verifyStandardWebhooks(h http.Header, body, key []byte, now time.Time) bool {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || sigs == "" || len(key) == 0 || !withinTolerance(ts, now) {
		return false
	}
	want := hmacSHA256(key, []byte(id), []byte("."), []byte(ts), []byte("."), body)
	ok := false
	// Entries are separated by spaces (the spec) or ", " (Supabase).
	for _, s := range strings.Fields(sigs) {
		s = strings.TrimSuffix(s, ",")
		version, b64, found := strings.Cut(s, ",")
		if !found || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	return ok
}

// verifyZitadel checks "t=<unix>,v1=<hex>" (several v1 entries allowed).
func verifyZitadel(header string, body, key []byte, now time.Time) bool {
	if header == "" || len(key) == 0 {
		return false
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if !withinTolerance(ts, now) {
		return false
	}
	want := hmacSHA256(key, []byte(ts), []byte("."), body)
	ok := false
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	return ok
}

// StandardWebhooksSecret decodes a Standard Webhooks secret written as
// "v1,whsec_<base64>", "whsec_<base64>" or bare base64.
func StandardWebhooksSecret(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v1,")
	s = strings.TrimPrefix(s, "whsec_")
	return base64.StdEncoding.DecodeString(s)
}

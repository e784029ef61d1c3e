package twilioapi

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
)

// SignatureHeader is the header Twilio signs its webhook requests with.
const SignatureHeader = "X-Twilio-Signature"

// Signature computes X-Twilio-Signature the way Twilio does: the base64 HMAC-SHA1, keyed
// with the account's auth token, of the full URL exactly as requested (scheme, host, port
// if any, path and query) followed by every POST parameter sorted by name, each name
// immediately followed by its value, with no separators. A name sent several times
// contributes each of its values, sorted. For a GET webhook (parameters in the query)
// params is empty: the query is already part of url.
func Signature(authToken, url string, params url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(url))
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		values := append([]string(nil), params[name]...)
		sort.Strings(values)
		for _, v := range values {
			mac.Write([]byte(name))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidSignature reports whether signature is Twilio's signature of a request to url
// with the POST parameters params. Like Twilio's own validators (twilio-go's
// RequestValidator, "since sig generation on back-end is inconsistent") it accepts the
// signature of the URL as given, with the scheme's default port added (https 443, http 80)
// when it has none, and without its port. Every comparison is constant time. An empty
// token or signature is never valid.
func ValidSignature(authToken, url string, params url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	valid := 0
	for _, candidate := range urlVariants(url) {
		valid |= subtle.ConstantTimeCompare([]byte(Signature(authToken, candidate, params)), []byte(signature))
	}
	return valid == 1
}

// ValidBodySignature validates a webhook Twilio sent with a JSON body: the URL carries
// bodySHA256=<hex SHA-256 of the body>, the signature covers the URL alone (no
// parameters), and the body must hash to bodySHA256.
func ValidBodySignature(authToken, rawURL string, body []byte, signature string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	want := u.Query().Get("bodySHA256")
	if want == "" {
		return false
	}
	sum := sha256.Sum256(body)
	bodyOK := subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(want)))
	sigOK := ValidSignature(authToken, rawURL, nil, signature)
	return bodyOK == 1 && sigOK
}

// urlVariants returns raw, raw with the scheme's default port (when it has no port) and
// raw without its port (when it has one). Only the authority is touched, so the path and
// query keep their exact spelling, which the signature covers byte for byte.
func urlVariants(raw string) []string {
	out := []string{raw}
	schemeEnd := strings.Index(raw, "://")
	if schemeEnd < 0 {
		return out
	}
	scheme := strings.ToLower(raw[:schemeEnd])
	authStart := schemeEnd + 3
	authEnd := len(raw)
	if i := strings.IndexAny(raw[authStart:], "/?#"); i >= 0 {
		authEnd = authStart + i
	}
	authority := raw[authStart:authEnd]
	userinfo, hostport := "", authority
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo, hostport = authority[:at+1], authority[at+1:]
	}
	host, port := splitPort(hostport)
	rebuild := func(hp string) string { return raw[:authStart] + userinfo + hp + raw[authEnd:] }
	if port != "" {
		return append(out, rebuild(host))
	}
	switch scheme {
	case "https":
		out = append(out, rebuild(host+":443"))
	case "http":
		out = append(out, rebuild(host+":80"))
	}
	return out
}

// splitPort splits "host:port", "[v6]:port", "host" or "[v6]" into host and port ("" when
// none).
func splitPort(hostport string) (host, port string) {
	colon := strings.LastIndexByte(hostport, ':')
	if colon < 0 || strings.LastIndexByte(hostport, ']') > colon {
		return hostport, ""
	}
	if strings.HasPrefix(hostport, "[") || strings.Count(hostport, ":") == 1 {
		return hostport[:colon], hostport[colon+1:]
	}
	return hostport, "" // a bare IPv6 address without brackets has no port
}

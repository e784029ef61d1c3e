package twilioapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilioapi"
)

// Twilio's documented example (twilio.com/docs/usage/security): auth token 12345.
var (
	docToken  = "12345"
	docURL    = "https://mycompany.com/myapp.php?foo=1&bar=2"
	docParams = url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+14158675309"},
		"Digits":  {"1234"},
		"From":    {"+14158675309"},
		"To":      {"+18005551212"},
	}
	docSignature = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
)

func TestSignatureMatchesTwilioDocs(t *testing.T) {
	t.Parallel()
	if got := twilioapi.Signature(docToken, docURL, docParams); got != docSignature {
		t.Errorf("Signature = %q, want Twilio's %q", got, docSignature)
	}
}

func TestSignatureRules(t *testing.T) {
	t.Parallel()
	base := twilioapi.Signature("tok", "https://x.test/cb", url.Values{"A": {"1"}, "B": {"2"}})
	tests := []struct {
		name   string
		token  string
		url    string
		params url.Values
		same   bool // same signature as base
	}{
		{"same input", "tok", "https://x.test/cb", url.Values{"B": {"2"}, "A": {"1"}}, true},
		{"other token", "tok2", "https://x.test/cb", url.Values{"A": {"1"}, "B": {"2"}}, false},
		{"other url", "tok", "https://x.test/cb2", url.Values{"A": {"1"}, "B": {"2"}}, false},
		{"trailing slash", "tok", "https://x.test/cb/", url.Values{"A": {"1"}, "B": {"2"}}, false},
		{"other value", "tok", "https://x.test/cb", url.Values{"A": {"1"}, "B": {"3"}}, false},
		{"extra parameter", "tok", "https://x.test/cb", url.Values{"A": {"1"}, "B": {"2"}, "C": {""}}, false},
		// No separators: name and value are simply concatenated.
		{"concatenation", "tok", "https://x.test/cb", url.Values{"A1B": {"2"}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := twilioapi.Signature(tc.token, tc.url, tc.params)
			if (got == base) != tc.same {
				t.Errorf("Signature = %q, base %q, same = %v, want %v", got, base, got == base, tc.same)
			}
		})
	}
	// Repeated names: each value, sorted.
	a := twilioapi.Signature("tok", "https://x.test/cb", url.Values{"M": {"b", "a"}})
	b := twilioapi.Signature("tok", "https://x.test/cb", url.Values{"M": {"a", "b"}})
	c := twilioapi.Signature("tok", "https://x.test/cbMaMb", nil)
	if a != b || a != c {
		t.Errorf("repeated values: %q %q %q, want equal", a, b, c)
	}
}

func TestValidSignature(t *testing.T) {
	t.Parallel()
	sign := func(u string) string { return twilioapi.Signature(docToken, u, docParams) }
	tests := []struct {
		name      string
		signedURL string // what Twilio signed
		gotURL    string // what the receiver reconstructs
		token     string
		sig       string // default: sign(signedURL)
		params    url.Values
		want      bool
	}{
		{name: "exact", signedURL: docURL, gotURL: docURL, want: true},
		{name: "docs signature", signedURL: docURL, gotURL: docURL, sig: docSignature, want: true},
		{name: "receiver sees the default port", signedURL: docURL, gotURL: "https://mycompany.com:443/myapp.php?foo=1&bar=2", want: true},
		{name: "Twilio signed with the default port", signedURL: "https://mycompany.com:443/myapp.php?foo=1&bar=2", gotURL: docURL, want: true},
		{name: "http default port", signedURL: "http://a.test/cb", gotURL: "http://a.test:80/cb", want: true},
		{name: "other port stripped", signedURL: "http://127.0.0.1/cb?x=1", gotURL: "http://127.0.0.1:8080/cb?x=1", want: true},
		{name: "ipv6 with port", signedURL: "http://[::1]/cb", gotURL: "http://[::1]:9000/cb", want: true},
		{name: "userinfo kept", signedURL: "https://u:p@a.test/cb", gotURL: "https://u:p@a.test:443/cb", want: true},
		{name: "other path", signedURL: docURL, gotURL: "https://mycompany.com/other.php?foo=1&bar=2", want: false},
		{name: "other query", signedURL: docURL, gotURL: "https://mycompany.com/myapp.php?bar=2&foo=1", want: false},
		{name: "other scheme", signedURL: docURL, gotURL: "http://mycompany.com/myapp.php?foo=1&bar=2", want: false},
		{name: "wrong token", signedURL: docURL, gotURL: docURL, token: "54321", want: false},
		{name: "empty token", signedURL: docURL, gotURL: docURL, token: "-", want: false},
		{name: "empty signature", signedURL: docURL, gotURL: docURL, sig: "-", want: false},
		{name: "tampered parameter", signedURL: docURL, gotURL: docURL, params: url.Values{"To": {"+18005551213"}}, want: false},
		{name: "relative url", signedURL: "/cb", gotURL: "/cb", want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token, sig, params := docToken, sign(tc.signedURL), docParams
			switch tc.token {
			case "":
			case "-":
				token = ""
			default:
				token = tc.token
			}
			switch tc.sig {
			case "":
			case "-":
				sig = ""
			default:
				sig = tc.sig
			}
			if tc.params != nil {
				params = url.Values{}
				for k, v := range docParams {
					params[k] = v
				}
				for k, v := range tc.params {
					params[k] = v
				}
			}
			if got := twilioapi.ValidSignature(token, tc.gotURL, params, sig); got != tc.want {
				t.Errorf("ValidSignature = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidBodySignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"CallSid":"CA1234567890ABCDE","Caller":"+12349013030"}`)
	sum := sha256.Sum256(body)
	u := "https://example.com/myapp?bodySHA256=" + hex.EncodeToString(sum[:])
	sig := twilioapi.Signature(docToken, u, nil)
	if !twilioapi.ValidBodySignature(docToken, u, body, sig) {
		t.Error("valid JSON webhook refused")
	}
	if twilioapi.ValidBodySignature(docToken, u, append(body, ' '), sig) {
		t.Error("tampered body accepted")
	}
	if twilioapi.ValidBodySignature(docToken, "https://example.com/myapp", body, twilioapi.Signature(docToken, "https://example.com/myapp", nil)) {
		t.Error("URL without bodySHA256 accepted")
	}
	if twilioapi.ValidBodySignature(docToken, "%zz", body, sig) {
		t.Error("unparsable URL accepted")
	}
}

func FuzzValidSignature(f *testing.F) {
	f.Add("https://a.test:443/x?y=1", "K", "v")
	f.Add("http://[::1", "", "")
	f.Add("://", "a", "b")
	f.Fuzz(func(t *testing.T, u, k, v string) {
		p := url.Values{k: {v}}
		if !twilioapi.ValidSignature("tok", u, p, twilioapi.Signature("tok", u, p)) {
			t.Fatalf("own signature of %q refused", u)
		}
	})
}
